"""ID numbers in clear never leave landing through the portal (SPEC section 7).

The portal keeps uploads in progress, the archive of the files it replaced and its temporary files
in `<landing>/.portal/`, inside the landing root; the landing scan, the Dagster sensor and
`shangluo run` never look there.  After a clerk's uploads, submission and replacement, no file
outside landing -- the portal database's folder, the warehouse's, the Dagster state, the temporary
folders the portal used -- holds one of the ID numbers of the files, and the portal database holds
anything shaped like an ID number masked.  Real parts: the Starlette application, a real SQLite
database, real GB18030 files, a real `shangluo run` in a subprocess."""
from __future__ import annotations

import os
import re
import tempfile
import time
from pathlib import Path

from tests.conftest import SAMPLE, cli_env, query, shangluo
from tests.test_portal import (COUNTY, OTHER, PERIOD, csrf_of, portal, portal_db, signed_in,  # noqa: F401
                               upload)

T1 = "表1 防返贫监测对象台账.csv"
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def check_char(first17: str) -> str:
    return "10X98765432"[sum(int(c) * w for c, w in zip(first17, WEIGHTS)) % 11]


def t1_files() -> tuple[bytes, bytes, bytes, str]:
    """(the sample's 表1, a version with two hard errors and a warning, the fixed version, the
    ID number outside Shaanxi): row 1 a wrong check digit, row 2 an ID number typed into 家庭人口数
    (a count: the validator shows it as written), row 3 a valid ID number from Beijing (soft)."""
    original = (SAMPLE / PERIOD / COUNTY / T1).read_bytes()
    lines = original.decode("gb18030").split("\r\n" if b"\r\n" in original else "\n")
    eol = "\r\n" if b"\r\n" in original else "\n"
    rows = [line.split(",") for line in lines]
    beijing = "11010119900307123"
    beijing += check_char(beijing)
    rows[3][1] = beijing
    fixed = eol.join(",".join(r) for r in rows).encode("gb18030")
    rows[1][1] = rows[1][1][:17] + ("0" if rows[1][1][17] != "0" else "1")
    rows[2][5] = rows[2][1]
    bad = eol.join(",".join(r) for r in rows).encode("gb18030")
    return original, bad, fixed, beijing


ID_SHAPED = re.compile(rb"(?=([0-9]{17}[0-9X]))")


def clear_ids_in(folders: list[Path], ids: set[bytes]) -> dict[str, int]:
    """file -> how many of `ids` its bytes hold in clear, for every file under `folders`."""
    found = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")) if folder.is_dir() else ():
            if path.is_file() and not path.is_symlink():
                hits = {m.group(1) for m in ID_SHAPED.finditer(path.read_bytes())} & ids
                if hits:
                    found[str(path)] = len(hits)
    return found


def test_no_clear_id_outside_landing_and_the_pipeline_never_reads_the_portals_folder(portal, monkeypatch):
    from intake.landing import changed_returns, periods, scan_period
    from intake.plan import evaluate, observe
    landing, tmp = portal["landing"], portal["tmp"]
    system_temp = tmp / "system-temp"                          # the system's temporary folder, for this test alone
    system_temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_temp))
    original, bad, fixed, beijing = t1_files()
    ids = {m.group(1) for data in (original, bad, fixed) for m in ID_SHAPED.finditer(data)}
    assert len(ids) > 1000 and beijing.encode() in ids

    lin, csrf = signed_in(portal, "lin")
    first = upload(lin, csrf, bad, name=f"表1 {beijing}.csv", return_id="monitoring_households")
    page = lin.get(first.headers["location"]).text
    assert "2 个强制性错误" in page and beijing not in page and beijing[:4] + "**********" + beijing[-4:] in page
    assert lin.get(first.headers["location"] + "/feedback").status_code == 200        # a download: its scratch goes
    second = upload(lin, csrf, fixed, name=T1)
    page = lin.get(second.headers["location"]).text
    assert "无强制性错误；1 个核实性警告" in page
    assert lin.post(second.headers["location"] + "/submit",
                    data={"csrf": csrf, "e0": "户主户籍迁入本县，经入户核实"}).status_code == 303
    assert (landing / PERIOD / COUNTY / T1).read_bytes() == fixed                  # replaced in place
    portal_files = landing / ".portal"
    archived = list((portal_files / "archive" / PERIOD / COUNTY).iterdir())
    assert [p.read_bytes() for p in archived if p.name.endswith(T1)] == [original]
    assert [p.name for p in (portal_files / "uploads").iterdir()] == [first.headers["location"].split("/")[-1]]
    assert (portal_files.stat().st_mode & 0o077) == 0

    wang, wcsrf = signed_in(portal, "wang")                     # the city's comment may quote an ID number
    assert wang.post(f"/county/{COUNTY}/return/monitoring_households/review?period={PERIOD}",
                     data={"csrf": wcsrf, "action": "returned", "comment": f"请核实户主{beijing}的户籍"}).status_code == 303
    stranger = portal["client"]()                               # and so may a user name typed at sign-in
    stranger.post("/login", data={"name": beijing, "password": "x" * 12, "csrf": csrf_of(stranger.get("/login").text)})

    # (1) the landing scan and the sensor never look into <landing>/.portal/
    assert periods(landing) == [PERIOD]
    pipeline_files = {f"{PERIOD}/{c}/{p.name}" for c in (COUNTY, OTHER) for p in (landing / PERIOD / c).iterdir()}
    entries = scan_period(landing, PERIOD, 2**30)
    assert {e.source for e in entries} == pipeline_files
    assert set(observe(landing)) == pipeline_files
    known: dict = {}
    for e in entries:
        known.setdefault(e.source, []).append(e)
    runs, cursor = evaluate(landing, None, now=time.time() + 3600, settle=0)
    runs, cursor = evaluate(landing, cursor, now=time.time() + 3600, settle=0)
    assert set(runs) == {PERIOD}                                # all of landing taken once
    third = upload(lin, csrf, bad, name=T1)                     # the portal's folder changes ...
    (portal_files / "archive" / PERIOD / COUNTY / f"late-{T1}").write_bytes(bad)
    (portal_files / PERIOD / COUNTY).mkdir(parents=True)
    (portal_files / PERIOD / COUNTY / T1).write_bytes(bad)
    assert third.status_code == 303 and (portal_files / "uploads" / third.headers["location"].split("/")[-1]).is_dir()
    assert changed_returns(landing, PERIOD, known) == set()     # ... and nothing changed for the pipeline
    assert evaluate(landing, cursor, now=time.time() + 3600, settle=0)[0] == {}
    assert periods(landing) == [PERIOD] and {e.source for e in scan_period(landing, PERIOD, 2**30)} == pipeline_files

    env = cli_env(tmp / "run", landing, SHANGLUO_WAREHOUSE=str(tmp / "wh" / "warehouse.duckdb"))
    ran = shangluo("run", "--period", PERIOD, env=env, check=False)
    assert ran.returncode in (0, 1), ran.stdout + ran.stderr     # 1: hard errors somewhere in the sample
    warehouse = tmp / "wh" / "warehouse.duckdb"
    assert {s for (s,) in query(warehouse, "select distinct source from landing.inventory")} == pipeline_files
    recorded = {s for (s,) in query(warehouse, "select distinct source from landing.submissions")}
    assert recorded and all(not s.startswith(".") and s in pipeline_files for s in recorded)
    assert query(warehouse, "select status from landing.submissions where source = ?",
                 [f"{PERIOD}/{COUNTY}/{T1}"]) == [("accepted",)]

    # (2) no file outside landing holds one of the ID numbers in clear
    outside = [tmp / "portal", tmp / "wh", tmp / "run", system_temp]
    assert clear_ids_in(outside, ids) == {}
    assert [p for p in system_temp.iterdir() if p.name.startswith("shangluo-portal-")] == []   # scratch removed once sent
    from portal import store
    with store.connect() as con:
        text = " ".join(str(v) for table in ("uploads", "audit", "reviews")
                        for row in con.execute(f"select * from {table}") for v in dict(row).values())
    masked = beijing[:4] + "**********" + beijing[-4:]
    assert beijing not in text and text.count(masked) >= 4      # file name, findings, comment, sign-in name
    assert not {m.group(1) for m in ID_SHAPED.finditer(text.encode())} & ids


def test_uploads_in_progress_expire(portal):
    from portal import files
    from portal.app import create_app
    _, bad, fixed, _ = t1_files()
    lin, csrf = signed_in(portal, "lin")
    uploads = portal["landing"] / ".portal" / "uploads"
    old = upload(lin, csrf, fixed, name=T1).headers["location"]
    kept = upload(lin, csrf, bad, name=T1).headers["location"]
    assert {p.name for p in uploads.iterdir()} == {old.split("/")[-1], kept.split("/")[-1]}
    two_days_ago = time.time() - 2 * 86400
    os.utime(uploads / old.split("/")[-1], (two_days_ago, two_days_ago))
    create_app()                                                # at start: what is over a day old goes
    assert {p.name for p in uploads.iterdir()} == {kept.split("/")[-1]}
    refused = lin.post(old + "/submit", data={"csrf": csrf})
    assert refused.status_code == 410 and "上传已过期" in refused.text
    assert (portal["landing"] / PERIOD / COUNTY / T1).read_bytes() != fixed
    os.utime(uploads / kept.split("/")[-1], (two_days_ago, two_days_ago))
    third = upload(lin, csrf, bad, name=T1).headers["location"]  # and with every new upload
    assert {p.name for p in uploads.iterdir()} == {third.split("/")[-1]}
    assert files.expire_uploads(now=time.time() + 2 * 86400) == [f"uploads/{third.split('/')[-1]}"]
    assert list(uploads.iterdir()) == []


def test_the_serving_process_keeps_its_temporary_files_inside_landing(portal, monkeypatch):
    """`shangluo portal` points the process's temporary folder into landing: a large upload is
    spooled to disk by the form parser, and a large check spills DuckDB, both with clear IDs."""
    from portal import files
    from schemas import engine
    monkeypatch.setattr(tempfile, "tempdir", None)              # restored after the test
    folder = files.contain_temporary_files()
    assert folder == portal["landing"] / ".portal" / "tmp" and tempfile.gettempdir() == str(folder)
    with tempfile.SpooledTemporaryFile(max_size=10) as spooled:
        spooled.write(b"x" * 100)                               # rolled over to disk: in landing's tmp
        assert Path(os.readlink(f"/proc/self/fd/{spooled.fileno()}")).parent == folder
    con = engine.connect()
    try:
        (spill,) = con.execute("select current_setting('temp_directory')").fetchone()
    finally:
        con.close()
    assert Path(spill).parent == folder


def test_an_unexpected_error_is_logged_masked(portal, monkeypatch, caplog):
    """A reader's message may quote a cell: the server's log gets it masked, the browser a plain 500."""
    import cli.validate
    _, _, fixed, beijing = t1_files()

    def failing(*args, **kwargs):
        raise ValueError(f"Could not convert string '{beijing}' to INT64")
    monkeypatch.setattr(cli.validate, "check_file", failing)
    lin, csrf = signed_in(portal, "lin")
    r = upload(lin, csrf, fixed, name=T1)
    assert r.status_code == 500 and beijing not in r.text and r.headers["x-frame-options"] == "DENY"
    logged = "\n".join(rec.getMessage() for rec in caplog.records)
    assert "ValueError" in logged and beijing not in logged and beijing[:4] + "**********" + beijing[-4:] in logged


def test_the_served_portal_logs_an_address_with_an_id_number_masked(portal):
    """`shangluo portal` itself: uvicorn's access log quotes what anyone typed into the address."""
    import socket
    import subprocess
    import sys
    import urllib.request
    from tests.conftest import ROOT
    _, _, _, beijing = t1_files()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k.startswith("SHANGLUO_") or k in ("PATH", "HOME")}
    log = portal["tmp"] / "served.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "cli.main", "portal", "--port", str(port)], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
        try:
            for _ in range(100):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/login?name={beijing}", timeout=2)
                    break
                except OSError:
                    time.sleep(0.2)
            else:
                raise AssertionError(log.read_text())
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    served = log.read_text()
    assert f"/login?name={beijing[:4]}**********{beijing[-4:]}" in served and beijing not in served
    assert (portal["landing"] / ".portal" / "tmp").is_dir()
