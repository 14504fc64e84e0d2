"""The returns portal at the HTTP level: a clerk's journey, and attacks on the access rules.

Real parts: the Starlette application in process (TestClient speaks HTTP to it), a real SQLite
portal database, real argon2 hashes, a temporary landing folder copied from the sample."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.conftest import ROOT, SAMPLE, TEST_KEY

PERIOD, COUNTY, OTHER = "2022", "611021", "611022"
PASSWORD = "correct horse battery"
HEADER = "农村低保和特困供养人数,低保和特困供养资金(万元),临时救助人次,临时救助资金(万元)\n"
BAD = (HEADER + "29361,1.00,-5,1290.71\n").encode("gb18030")          # hard: 临时救助人次 below 0
FIXED = (HEADER + "29361,1.00,12849,1290.71\n").encode("gb18030")     # soft: 低保资金 per person
T3 = "表3 兜底保障.csv"


PG_BIN = Path("/usr/lib/postgresql/15/bin")


@pytest.fixture(scope="module")
def postgres():
    """A real PostgreSQL server, as an unprivileged user, in a temporary folder, on a loopback port."""
    import socket
    import tempfile
    if not (PG_BIN / "initdb").exists():
        pytest.skip("needs Debian's postgresql-15")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    folder = Path(tempfile.mkdtemp(prefix="shangluo-portal-pg-"))
    as_postgres = []
    if os.geteuid() == 0:                       # initdb and the server refuse root
        shutil.chown(folder, "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    subprocess.run(as_postgres + [str(PG_BIN / "initdb"), "-D", str(folder / "data"), "-A", "trust", "-U", "postgres"],
                   check=True, capture_output=True, timeout=120)
    subprocess.run(as_postgres + [str(PG_BIN / "pg_ctl"), "-D", str(folder / "data"), "-l", str(folder / "log"), "-w",
                                  "-o", f"-p {port} -h 127.0.0.1 -k {folder}", "start"],
                   check=True, capture_output=True, timeout=120)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(as_postgres + [str(PG_BIN / "pg_ctl"), "-D", str(folder / "data"), "-m", "fast", "stop"],
                       capture_output=True, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def portal_db(request, tmp_path):
    """SHANGLUO_PORTAL_DB: a SQLite file, or (parametrised "postgresql") a fresh PostgreSQL database."""
    if getattr(request, "param", "sqlite") == "sqlite":
        return str(tmp_path / "portal" / "portal.sqlite")
    import psycopg2
    server = request.getfixturevalue("postgres")
    name = f"portal_{tmp_path.name.lower().replace('-', '_')}"[:60]
    con = psycopg2.connect(server + "/postgres")
    con.autocommit = True
    con.cursor().execute(f'create database "{name}"')
    con.close()
    return f"{server}/{name}"


@pytest.fixture
def portal(tmp_path, monkeypatch, portal_db):
    landing = tmp_path / "landing"
    for county in (COUNTY, OTHER):
        shutil.copytree(SAMPLE / PERIOD / county, landing / PERIOD / county)
    monkeypatch.setenv("SHANGLUO_LANDING", str(landing))
    monkeypatch.setenv("SHANGLUO_WAREHOUSE", str(tmp_path / "wh" / "warehouse.duckdb"))
    monkeypatch.setenv("SHANGLUO_PII_KEY", TEST_KEY)
    monkeypatch.setenv("SHANGLUO_PORTAL_DB", portal_db)
    from portal import auth
    from portal.app import create_app
    auth.add_user("lin", COUNTY, "clerk", PASSWORD)
    auth.add_user("zhao", OTHER, "clerk", PASSWORD)
    auth.add_user("wang", "city", "analyst", PASSWORD)
    app = create_app()

    def client():
        return TestClient(app, base_url="http://127.0.0.1", follow_redirects=False)
    return {"client": client, "landing": landing, "tmp": tmp_path, "db": tmp_path / "portal" / "portal.sqlite"}


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def sign_in(client: TestClient, name: str, password: str = PASSWORD):
    page = client.get("/login")
    return client.post("/login", data={"name": name, "password": password, "csrf": csrf_of(page.text)})


def signed_in(portal, name: str) -> tuple[TestClient, str]:
    c = portal["client"]()
    assert sign_in(c, name).status_code == 303
    home = c.get("/", follow_redirects=True)
    assert home.status_code == 200
    return c, csrf_of(home.text)


def upload(c: TestClient, csrf: str, data: bytes, name: str = T3, to: str = COUNTY, **fields):
    return c.post(f"/county/{to}/upload", data={"csrf": csrf, **fields}, files={"file": (name, data, "text/csv")})


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def landing_digest(landing: Path) -> dict[str, str]:
    """What the pipeline reads: every file but the portal's own folder `<landing>/.portal/`."""
    return {p.relative_to(landing).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(landing.rglob("*")) if p.is_file() and p.relative_to(landing).parts[0] != ".portal"}


@pytest.mark.parametrize("portal_db", ["sqlite", "postgresql"], indirect=True)
def test_clerk_checks_then_submits_and_the_audit_log_records_it(portal):
    c, csrf = signed_in(portal, "lin")
    landing = portal["landing"]
    before = landing_digest(landing)

    bad = upload(c, csrf, BAD)
    assert bad.status_code == 303 and bad.headers["location"].startswith("/upload/")
    page = c.get(bad.headers["location"]).text
    assert "1 个强制性错误" in page and "临时救助人次不能小于0" in page and 'id="submit"' not in page
    assert landing_digest(landing) == before                      # checking never touches landing
    refused = c.post(bad.headers["location"] + "/submit", data={"csrf": csrf})
    assert refused.status_code == 400 and landing_digest(landing) == before

    fixed = upload(c, csrf, FIXED)
    page = c.get(fixed.headers["location"]).text
    assert "无强制性错误；1 个核实性警告" in page and "低保和特困供养资金人均不在500–20000元之间" in page
    done = c.post(fixed.headers["location"] + "/submit",
                  data={"csrf": csrf, "e0": "=2022年统一调整发放口径，单位为万元，数据无误"})
    assert done.status_code == 303
    after = landing_digest(landing)
    assert after[f"{PERIOD}/{COUNTY}/{T3}"] == hashlib.sha256(FIXED).hexdigest()     # replaced in place
    assert {k for k in after if k not in before} == {f"{PERIOD}/{COUNTY}/说明.csv"}
    explanations = (landing / PERIOD / COUNTY / "说明.csv").read_bytes().decode("utf-8-sig").splitlines()
    assert explanations == ["表号,规则编号,业务键,说明",
                            "表3,social_assistance.dibao_tekun_funds.per_person,,=2022年统一调整发放口径，单位为万元，数据无误"]
    assert not list((landing / PERIOD / COUNTY).glob(".portal-*"))                   # nothing left aside
    uploads = portal["landing"] / ".portal" / "uploads"
    assert [p.name for p in uploads.iterdir()] == [bad.headers["location"].split("/")[-1]]   # the submitted copy is gone
    assert (uploads.parent.stat().st_mode & 0o077) == 0
    archive = portal["landing"] / ".portal" / "archive" / PERIOD / COUNTY
    kept = [p for p in archive.iterdir() if p.name.endswith(T3)]
    assert [p.read_bytes() for p in kept] == [(SAMPLE / PERIOD / COUNTY / T3).read_bytes()]

    from portal import store
    with store.connect() as con:
        rows = [tuple(dict(r).values()) for r in con.execute(
            "select user_name, county, ip, action, target, sha256, decision from audit "
            "where action in ('upload', 'submit', 'explain') order by id")]
        logged = con.execute("select count(*) as n from audit").fetchone()["n"]
        con.execute("insert into reviews (period, county, return_id, action, user_name, at) "
                    "values ('2022', ?, 'guarantees', 'reviewed', 'wang', 'now')", [COUNTY])
        for attempt in ("update audit set decision = 'accepted'", "delete from audit",
                        "update reviews set comment = ''", "delete from reviews"):
            with pytest.raises(Exception, match="is append-only"):
                con.execute(attempt)
        if store.is_postgres(store.db_url()):
            with pytest.raises(Exception, match="is append-only"):
                con.execute("truncate audit")
        assert con.execute("select count(*) as n from audit").fetchone()["n"] == logged == 9
    assert [(r[3], r[6]) for r in rows] == [("upload", "hard=1 soft=2"), ("submit", "refused"),
                                            ("upload", "hard=0 soft=1"), ("submit", "submitted; soft=1"),
                                            ("explain", "1 explanations")]
    assert rows[3][:6] == ("lin", COUNTY, "testclient", "submit", f"{PERIOD}/{COUNTY}/{T3}", hashlib.sha256(FIXED).hexdigest())
    county = text_of(c.get(f"/county/{COUNTY}").text)
    assert "数据仓库尚未建立" in county and f"{PERIOD}/{COUNTY}/{T3}" in county and "等待流水线处理" in county


def test_upload_shows_exactly_what_validate_finds(portal, tmp_path):
    c, csrf = signed_in(portal, "lin")
    page = c.get(upload(c, csrf, BAD).headers["location"]).text
    folder = tmp_path / "v" / PERIOD / COUNTY
    folder.mkdir(parents=True)
    (folder / T3).write_bytes(BAD)
    proc = subprocess.run([sys.executable, "-m", "cli.main", "validate", str(folder / T3), "--json"], cwd=ROOT,
                          capture_output=True, text=True, env={"SHANGLUO_PII_KEY": TEST_KEY, "PATH": "/usr/bin"})
    found = json.loads(proc.stdout)
    assert len(found) == 3
    rows = re.findall(r'<tr class="(hard|soft)">(.*?)</tr>', page, re.S)
    shown = [[re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td>(.*?)</td>", body, re.S)] for _, body in rows]
    assert [(s[3], s[4], s[5], s[7]) for s in shown] == \
        [(str(f["source_row"]), f["column_header"], f["value"], f["rule_id"]) for f in found]
    assert [sev for sev, _ in rows] == [f["severity"] for f in found]


@pytest.mark.parametrize("portal_db", ["sqlite", "postgresql"], indirect=True)
def test_a_clerk_reaches_nothing_of_another_county(portal):
    lin, csrf = signed_in(portal, "lin")
    zhao, zcsrf = signed_in(portal, "zhao")
    theirs = upload(zhao, zcsrf, FIXED, to=OTHER).headers["location"]
    before = landing_digest(portal["landing"])
    for path in (f"/county/{OTHER}", f"/county/{OTHER}/feedback", f"/county/{OTHER}/return/social_assistance",
                 f"/county/{OTHER}/return/social_assistance?submission=x", theirs, theirs + "/feedback",
                 f"/county/%2e%2e/{OTHER}", f"/county/{COUNTY}/..%2f{OTHER}", "/county/611099", "/upload/..%2f..%2fetc",
                 "/template/..%2f..%2fetc%2fpasswd"):
        r = lin.get(path)
        assert r.status_code == 404, path
        assert OTHER not in r.text.replace(path, "") or "丹凤县" not in r.text, path
    for path in ("/city", "/city/report.xlsx", "/city/report.html"):
        assert lin.get(path).status_code == 403, path
    assert upload(lin, csrf, BAD, to=OTHER).status_code == 404
    assert lin.post(theirs + "/submit", data={"csrf": csrf}).status_code == 404
    assert lin.post(f"/county/{OTHER}/explain", data={"csrf": csrf, "count": "1", "t0": "social_assistance",
                                                    "r0": "x", "k0": "", "e0": "y"}).status_code == 404
    assert lin.post(f"/county/{COUNTY}/return/social_assistance/review",
                    data={"csrf": csrf, "action": "reviewed", "comment": ""}).status_code == 403
    # a form field or a file name naming another county or a path changes nothing: the server decides
    r = upload(lin, csrf, FIXED, name=f"../../{OTHER}/{T3}", county_code=OTHER, county=OTHER, period="2021")
    page = lin.get(r.headers["location"]).text
    assert "保存为 <code>social_assistance.csv</code>" in page
    assert lin.post(r.headers["location"] + "/submit", data={"csrf": csrf, "county": OTHER}).status_code == 303
    after = landing_digest(portal["landing"])
    changed = {k for k in after if before.get(k) != after[k]} | {k for k in before if k not in after}
    assert changed == {f"{PERIOD}/{COUNTY}/{T3}"}
    assert not (portal["tmp"] / OTHER).exists() and not (portal["landing"].parent / T3).exists()


@pytest.mark.parametrize("portal_db", ["sqlite", "postgresql"], indirect=True)
def test_csrf_cookies_expiry_and_rate_limit(portal, monkeypatch):
    c = portal["client"]()
    page = c.get("/login")
    assert c.post("/login", data={"name": "lin", "password": PASSWORD}).status_code == 403           # no token
    assert c.post("/login", data={"name": "lin", "password": PASSWORD, "csrf": "forged"}).status_code == 403
    ok = c.post("/login", data={"name": "lin", "password": PASSWORD, "csrf": csrf_of(page.text)})
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "shangluo_session=" in cookie
    csrf = csrf_of(c.get(f"/county/{COUNTY}").text)
    other, other_csrf = signed_in(portal, "zhao")
    assert upload(c, "", FIXED).status_code == 403
    assert upload(c, other_csrf, FIXED).status_code == 403               # another session's token
    assert upload(c, csrf, FIXED).status_code == 303
    r = c.get(f"/county/{COUNTY}")
    assert "default-src 'none'" in r.headers["content-security-policy"] and r.headers["x-frame-options"] == "DENY"

    monkeypatch.setenv("SHANGLUO_PORTAL_SESSION_IDLE_MINUTES", "0.005")      # 0.3 s
    time.sleep(0.5)
    assert c.get(f"/county/{COUNTY}").headers["location"] == "/login"
    assert upload(c, csrf, FIXED).status_code == 403
    monkeypatch.delenv("SHANGLUO_PORTAL_SESSION_IDLE_MINUTES")

    attacker = portal["client"]()
    for _ in range(5):
        assert sign_in(attacker, "wang", "wrong password!").status_code == 401
    assert sign_in(attacker, "wang").status_code == 429                       # even the right password now
    assert sign_in(portal["client"](), "wang").status_code == 429

    from portal import auth
    assert auth.disable_user("zhao")
    assert other.get(f"/county/{OTHER}").status_code == 303                  # a disabled user's sessions end


def test_upload_size_and_type_are_checked_before_reading(portal, monkeypatch):
    c, csrf = signed_in(portal, "lin")
    monkeypatch.setenv("SHANGLUO_PORTAL_MAX_UPLOAD_MB", "0.01")                # 10 KB
    big = upload(c, csrf, HEADER.encode() + b"1,2,3,4\n" * 15000)     # 120 KB: refused from Content-Length
    assert big.status_code == 413 and "文件太大" in big.text
    small = upload(c, csrf, HEADER.encode() + b"1,2,3,4\n" * 2000)   # 16 KB: under the form slack, refused by size
    assert small.status_code == 400 and "文件太大" in small.text
    monkeypatch.delenv("SHANGLUO_PORTAL_MAX_UPLOAD_MB")
    for name, data, said in (("表3.exe", FIXED, "只接受CSV或Excel"), ("表3.xlsx", FIXED, "不是.xlsx格式"),
                             ("表3.csv", b"PK\x03\x04" + b"\x00" * 100, "不是CSV文本"),
                             ("随便.csv", FIXED, "无法从文件名识别报表")):
        r = upload(c, csrf, data, name=name)
        assert r.status_code == 400 and said in r.text, name
    uploads = portal["landing"] / ".portal" / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())
    import io
    import zipfile
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/worksheets/sheet1.xml", b"<" + b"a" * (5 * 2**20))
    monkeypatch.setenv("SHANGLUO_PORTAL_MAX_UNPACKED_MB", "1")
    r = upload(c, csrf, buf.getvalue(), name="表3.xlsx")                    # a zip bomb is refused unread
    assert r.status_code == 400 and "解压后超过1 MB" in r.text
    monkeypatch.delenv("SHANGLUO_PORTAL_MAX_UNPACKED_MB")
    assert not uploads.exists() or not any(uploads.iterdir())
    r = upload(c, csrf, buf.getvalue(), name="表3.xlsx")                    # the same hardened reader as landing
    page = c.get(r.headers["location"]).text
    assert "文件无法读取" in page and 'id="submit"' not in page


def test_pages_need_a_session(portal):
    c = portal["client"]()
    for path in ("/", f"/county/{COUNTY}", "/city", "/template/guarantees"):
        assert c.get(path).headers["location"] == "/login", path
    assert c.post(f"/county/{COUNTY}/upload", data={"csrf": "x"}).status_code == 403


def test_a_county_workbook_replaces_the_workbook_and_a_single_return_does_not_split_it(portal):
    zhao, csrf = signed_in(portal, "zhao")
    folder = portal["landing"] / PERIOD / OTHER
    (workbook,) = [p for p in folder.iterdir() if p.suffix == ".xlsx"]
    original = workbook.read_bytes()
    r = zhao.post(f"/county/{OTHER}/upload", data={"csrf": csrf},
                  files={"file": ("报表.xlsx", original, "application/octet-stream")})
    page = zhao.get(r.headers["location"]).text
    assert "保存为 <code>workbook.xlsx</code>" in page and "表10 帮扶协作" in page and "表1 防返贫监测对象台账" in page
    assert zhao.post(r.headers["location"] + "/submit", data={"csrf": csrf}).status_code == 303
    assert sorted(p.name for p in folder.iterdir()) == [workbook.name]             # replaced in place
    alone = upload(zhao, csrf, FIXED, to=OTHER)
    refused = zhao.post(alone.headers["location"] + "/submit", data={"csrf": csrf})
    assert refused.status_code == 409 and "请上传完整的工作簿" in refused.text and workbook.name in refused.text
    assert sorted(p.name for p in folder.iterdir()) == [workbook.name]


def test_the_analyst_follows_sends_back_and_downloads(portal):
    import openpyxl
    from tests.conftest import cli_env, shangluo
    env = cli_env(portal["tmp"] / "wh", portal["landing"])
    lin, csrf = signed_in(portal, "lin")
    (portal["landing"] / PERIOD / COUNTY / T3).write_bytes(BAD)        # a file put there by hand still counts
    shangluo("run", "--period", PERIOD, env=env)

    wang, wcsrf = signed_in(portal, "wang")
    matrix = wang.get("/city")
    assert matrix.status_code == 200
    cell = re.search(rf'<td class="(\w+)" id="cell-{COUNTY}-social_assistance">(.*?)</td>', matrix.text, re.S)
    assert cell.group(1) == "rejected" and "未通过" in cell.group(2)
    assert re.search(rf'<td class="accepted" id="cell-{OTHER}-guarantees">', matrix.text)
    assert re.search(r'<td class="missing" id="cell-611023-guarantees">', matrix.text)
    detail = wang.get(f"/county/{COUNTY}/return/social_assistance").text
    assert "临时救助人次不能小于0" in detail and "未通过" in detail
    assert wang.post(f"/county/{COUNTY}/return/social_assistance/review",
                     data={"csrf": wcsrf, "action": "returned", "comment": ""}).status_code == 400
    assert wang.post(f"/county/{COUNTY}/return/social_assistance/review",
                     data={"csrf": wcsrf, "action": "returned", "comment": "临时救助人次为负数"}).status_code == 303
    assert "临时救助人次为负数" in lin.get(f"/county/{COUNTY}").text
    assert "临时救助人次为负数" not in wang.get(f"/county/{OTHER}").text
    assert wang.post(f"/county/{COUNTY}/return/social_assistance/review",
                     data={"csrf": wcsrf, "action": "reviewed", "comment": "已电话核实"}).status_code == 303
    assert 'id="returned"' not in lin.get(f"/county/{COUNTY}").text                   # no longer outstanding
    history = wang.get(f"/county/{COUNTY}/return/social_assistance").text
    assert history.index("已电话核实") < history.index("临时救助人次为负数")           # newest first

    feedback = wang.get(f"/county/{COUNTY}/feedback")
    assert feedback.status_code == 200 and "attachment" in feedback.headers["content-disposition"]
    path = portal["tmp"] / "feedback.xlsx"
    path.write_bytes(feedback.content)
    ws = openpyxl.load_workbook(path)["说明"]          # the sheet a clerk answers and sends back
    header, *rows = [list(r) for r in ws.iter_rows(values_only=True)]
    at = {name: header.index(name) for name in ("表号", "规则编号", "行号", "列名", "填报值")}
    assert [[r[at[n]] for n in at] for r in rows if r[at["规则编号"]] == "social_assistance.temporary_aid_person_times.min"
            ] == [["表3", "social_assistance.temporary_aid_person_times.min", 2, "临时救助人次", "-5"]]
    tables = wang.get("/city/report.xlsx")
    assert tables.status_code == 200 and tables.content[:2] == b"PK"
    assert "商洛市" in wang.get("/city/report.html").text
    assert lin.get(f"/county/{COUNTY}/feedback").status_code == 200
    assert lin.get(f"/county/{OTHER}/feedback").status_code == 404

    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); "
                               "print('held', flush=True); time.sleep(30)", str(env["SHANGLUO_WAREHOUSE"])],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        busy = wang.get("/city")
        assert busy.status_code == 200 and "流水线正在运行" in busy.text
        assert "流水线正在运行" in lin.get(f"/county/{COUNTY}").text
    finally:
        holder.kill()
        holder.wait()


def test_explanations_of_the_pipelines_warnings_merge_into_the_countys_file(portal):
    lin, csrf = signed_in(portal, "lin")
    target = portal["landing"] / PERIOD / COUNTY / "说明.csv"
    target.write_bytes("表号,规则编号,业务键,说明\n表8,cross.moved_over_half,,旧说明\n表2,cross.x,,保留\n".encode("gb18030"))

    def explain(*answers):
        data = {"csrf": csrf, "count": str(len(answers))}
        for i, (t, r, k, e) in enumerate(answers):
            data.update({f"t{i}": t, f"r{i}": r, f"k{i}": k, f"e{i}": e})
        return lin.post(f"/county/{COUNTY}/explain", data=data)

    assert explain(("infrastructure", "cross.moved_over_half", "", "新增1个最美休闲乡村"),
                   ("no_such_return", "x", "", "ignored"), ("village_register", "v.kind", "611021001200", "")).status_code == 303
    assert explain(("monitoring_households", "m.size", "6110210001", "家庭人口 14 人，\n经入户核实")).status_code == 303
    assert target.read_bytes().decode("utf-8-sig").splitlines() == [
        "表号,规则编号,业务键,说明", "表2,cross.x,,保留", "表8,cross.moved_over_half,,新增1个最美休闲乡村",
        "表1,m.size,6110210001,家庭人口 14 人， 经入户核实"]
    archive = portal["landing"] / ".portal" / "archive" / PERIOD / COUNTY
    assert len([p for p in archive.iterdir() if p.name.endswith("说明.csv")]) == 2
    wang, wcsrf = signed_in(portal, "wang")
    assert wang.post(f"/county/{COUNTY}/explain", data={"csrf": wcsrf, "count": "0"}).status_code == 403


def test_the_feedback_workbook_stores_a_clerks_formula_as_text(portal):
    import openpyxl
    lin, csrf = signed_in(portal, "lin")
    r = upload(lin, csrf, (HEADER + '29361,12880.17,"=HYPERLINK(""http://x"",""y"")",1290.71\n').encode("utf-8"))
    page = lin.get(r.headers["location"]).text
    assert "=HYPERLINK(&#34;http://x&#34;,&#34;y&#34;)" in page or '=HYPERLINK(&quot;' in page
    xlsx = lin.get(r.headers["location"] + "/feedback")
    path = portal["tmp"] / "f.xlsx"
    path.write_bytes(xlsx.content)
    cells = [c for ws in openpyxl.load_workbook(path).worksheets for row in ws.iter_rows() for c in row
             if str(c.value).startswith("=")]
    assert [(c.value, c.data_type) for c in cells] == [('=HYPERLINK("http://x","y")', "s")]
    refused = lin.post(r.headers["location"] + "/submit", data={"csrf": csrf})
    assert refused.status_code == 400
    con = sqlite3.connect(portal["db"])
    assert con.execute("select decision from audit where action = 'submit'").fetchall() == [("refused",)]
    con.close()


def test_user_commands_read_the_password_from_standard_input(tmp_path):
    env = {"PATH": "/usr/bin", "SHANGLUO_PORTAL_DB": str(tmp_path / "p.sqlite")}

    def user(*args, stdin=""):
        return subprocess.run([sys.executable, "-m", "cli.main", "user", *args], cwd=ROOT, env=env, input=stdin,
                              capture_output=True, text=True, timeout=60)
    assert user("add", "lin", "--county", COUNTY, "--role", "clerk", stdin=PASSWORD + "\n").returncode == 0
    assert user("add", "wang", "--county", "city", "--role", "analyst", stdin=PASSWORD + "\n").returncode == 0
    assert user("add", "x", "--county", "city", "--role", "clerk", stdin=PASSWORD + "\n").returncode == 2
    assert user("add", "y", "--county", COUNTY, "--role", "analyst", stdin=PASSWORD + "\n").returncode == 2
    assert user("add", "z", "--county", COUNTY, "--role", "clerk", stdin="short\n").returncode == 2
    assert user("add", "lin", "--county", COUNTY, "--role", "clerk", stdin=PASSWORD + "\n").returncode == 2
    assert user("add", "p", "--county", COUNTY, "--role", "clerk", "--password", "x" * 12).returncode == 2
    assert user("disable", "lin").returncode == 0
    listed = [line.split("\t")[:4] for line in user("list").stdout.splitlines()]
    assert listed == [["lin", COUNTY, "clerk", "disabled"], ["wang", "611000", "analyst", "active"]]
    con = sqlite3.connect(tmp_path / "p.sqlite")
    (hashed,) = con.execute("select password_hash from users where name = 'wang'").fetchone()
    assert hashed.startswith("$argon2id$") and PASSWORD not in hashed
    con.close()
