"""The portal end to end in a real headless Chromium (Debian's chromium and chromedriver, driven
by Selenium), against `shangluo portal` served by uvicorn on 127.0.0.1, with a real pipeline run
(`shangluo run` in a subprocess) deciding on what the clerk submitted."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLE, cli_env, query, shangluo
from tests.test_portal import BAD, COUNTY, FIXED, PASSWORD, PERIOD, T3

CHROMIUM, DRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM.exists() and DRIVER.exists()),
                                reason="needs Debian's chromium and chromium-driver (.ci/run installs them)")
SHOTS = Path(os.environ.get("SHANGLUO_PORTAL_SCREENSHOTS") or "/tmp/shangluo-portal-screenshots")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("portal")
    landing = tmp / "landing"
    shutil.copytree(SAMPLE / PERIOD / COUNTY, landing / PERIOD / COUNTY)
    env = cli_env(tmp, landing, SHANGLUO_PORTAL_DB=str(tmp / "portal.sqlite"))
    for name, county, role in (("lin", COUNTY, "clerk"), ("wang", "city", "analyst")):
        proc = subprocess.run([sys.executable, "-m", "cli.main", "user", "add", name, "--county", county, "--role", role],
                              input=PASSWORD + "\n", env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "cli.main", "portal", "--port", str(port)], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            assert server.poll() is None and time.monotonic() < deadline, server.stdout.read()
            time.sleep(0.2)
    files = tmp / "files"
    files.mkdir()
    (files / "bad").mkdir()
    (files / "bad" / T3).write_bytes(BAD)
    (files / "fixed").mkdir()
    (files / "fixed" / T3).write_bytes(FIXED)
    yield {"url": f"http://127.0.0.1:{port}", "env": env, "tmp": tmp, "landing": landing, "files": files}
    server.terminate()
    server.wait(10)


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000",
                "--lang=zh-CN"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(DRIVER)), options=options)
    driver.implicitly_wait(5)
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


def click_through(driver, element):
    """Click an element that loads a new page, and return once that page has replaced the old one:
    without the wait, a lookup right after the click can find the old page's element (the login
    page has an h1 too) and read it after it is gone (StaleElementReferenceException)."""
    from selenium.webdriver.common.by import By
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait
    old = driver.find_element(By.TAG_NAME, "html")
    element.click()
    wait = WebDriverWait(driver, 30, ignored_exceptions=(WebDriverException,))   # asked again while it loads
    wait.until(lambda d: _gone(old))
    wait.until(lambda d: d.execute_script("return document.readyState") == "complete")


def _gone(element) -> bool:
    """Whether the page holding `element` has been replaced.  Mid-navigation Chromium may answer a
    lookup of the old node with "Node with given id does not belong to the document" (a plain
    WebDriverException) instead of a stale reference: gone as well."""
    from selenium.common.exceptions import WebDriverException
    try:
        element.is_enabled()
        return False
    except WebDriverException:      # StaleElementReferenceException is one
        return True


def sign_in(driver, url: str, name: str):
    from selenium.webdriver.common.by import By
    driver.delete_all_cookies()
    driver.get(url + "/login")
    driver.find_element(By.NAME, "name").send_keys(name)
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    click_through(driver, driver.find_element(By.ID, "sign-in"))


def test_the_clerks_journey_and_the_analysts(served, browser):
    from selenium.webdriver.common.by import By
    url, d = served["url"], browser
    sign_in(d, url, "lin")
    assert "洛南县（611021）2022年报表" in d.find_element(By.TAG_NAME, "h1").text

    d.find_element(By.ID, "file").send_keys(str(served["files"] / "bad" / T3))
    click_through(d, d.find_element(By.ID, "upload"))
    assert "1 个强制性错误" in d.find_element(By.ID, "summary").text
    hard = d.find_element(By.CSS_SELECTOR, "table.violations tr.hard").text
    assert "强制性" in hard and "临时救助人次" in hard and "-5" in hard and "临时救助人次不能小于0" in hard
    assert d.find_elements(By.ID, "submit") == []
    d.save_screenshot(str(SHOTS / "1-clerk-hard-error.png"))

    d.get(url + "/")
    d.find_element(By.ID, "file").send_keys(str(served["files"] / "fixed" / T3))
    click_through(d, d.find_element(By.ID, "upload"))
    assert "1 个核实性警告" in d.find_element(By.ID, "summary").text
    d.find_element(By.NAME, "e0").send_keys("2022年低保资金按万元填报，经核实无误")
    d.save_screenshot(str(SHOTS / "2-clerk-warning-explained.png"))
    click_through(d, d.find_element(By.ID, "submit"))
    assert "等待流水线处理" in d.find_element(By.CSS_SELECTOR, "tr.sent-row .decision").text
    assert (served["landing"] / PERIOD / COUNTY / T3).read_bytes() == FIXED

    shangluo("run", "--period", PERIOD, env=served["env"])          # the pipeline judges
    d.refresh()
    decision = d.find_element(By.CSS_SELECTOR, "tr.sent-row .decision").text
    assert "表3：已采用 accepted" in decision and "0 强制性 / 1 核实性" in decision
    assert "已采用" in d.find_element(By.ID, "status-social_assistance").text
    d.save_screenshot(str(SHOTS / "3-clerk-accepted.png"))
    warehouse = served["tmp"] / "warehouse.duckdb"
    assert query(warehouse, "select status, explanation from quality.violations where county_code = ? and rule_id = ?",
                 [COUNTY, "social_assistance.dibao_tekun_funds.per_person"]) == \
        [("explained", "2022年低保资金按万元填报，经核实无误")]

    sign_in(d, url, "wang")
    cell = d.find_element(By.ID, f"cell-{COUNTY}-social_assistance")
    assert cell.text.startswith("已采用")
    assert d.find_element(By.ID, "cell-611022-social_assistance").get_attribute("class") == "missing"
    d.save_screenshot(str(SHOTS / "4-analyst-matrix.png"))
    click_through(d, cell.find_element(By.TAG_NAME, "a"))
    assert "洛南县 2022年 表3 兜底保障" in d.find_element(By.TAG_NAME, "h1").text
    assert "已采用" in d.find_element(By.ID, "state").text
    assert T3 in d.find_element(By.CSS_SELECTOR, "table.history").text
    d.find_element(By.ID, "comment").send_keys("临时救助资金每人次偏高，请核实后重报")
    click_through(d, d.find_element(By.ID, "send-back"))
    assert "退回 临时救助资金每人次偏高，请核实后重报" in d.find_element(By.CSS_SELECTOR, "ul.reviews").text
    d.save_screenshot(str(SHOTS / "5-analyst-sent-back.png"))

    sign_in(d, url, "lin")
    returned = d.find_element(By.ID, "returned").text
    assert "表3 兜底保障：临时救助资金每人次偏高，请核实后重报" in returned and "wang" in returned
    d.save_screenshot(str(SHOTS / "6-clerk-sees-comment.png"))
