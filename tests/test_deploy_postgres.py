"""The production set-up of deploy/, for real: a PostgreSQL 15 server (Debian's, `initdb` in a
temporary folder as the unprivileged user postgres, on a loopback port), the instance of
deploy/postgres/dagster.yaml in it, the gRPC code server and `dagster-daemon run` as separate
processes loading deploy/postgres/workspace.yaml.  `shangluo run` builds 2022 first; the sensor
then does not do the same work again; a file changed in landing makes the sensor launch a run that
updates the warehouse; the nightly schedule, given by configuration a time two minutes ahead,
launches its run (the sensor's part happens while the schedule's time comes).  The test launches none of those runs: it reads them from PostgreSQL's run storage."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo
from pathlib import Path

import pytest

from sample.generate import build, csv_bytes

from .conftest import ROOT, SAMPLE, TEST_KEY, query, shangluo

PG_BIN = Path("/usr/lib/postgresql/15/bin")
CITY_EMPLOYED = "select employed_persons from report.employment where period = '2022' and area_code = '611000'"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(*cmd: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["runuser", "-u", "postgres", "--", *cmd], check=True, capture_output=True, text=True,
                          timeout=120, **kw)


@pytest.fixture
def postgres():
    """A throw-away PostgreSQL server on 127.0.0.1 with an empty database `dagster`; its URL."""
    assert (PG_BIN / "initdb").exists(), "PostgreSQL 15 is needed (apt-get install postgresql; .ci/run does)"
    import psycopg2
    folder = Path(tempfile.mkdtemp(prefix="shangluo-pg-"))   # not under pytest's 0700 root folders
    shutil.chown(folder, "postgres", "postgres")
    data, port = folder / "data", _free_port()
    _as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "-U", "shangluo", "-A", "trust", "-E", "UTF8", "--no-sync")
    _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-w", "-o",
                 f"-p {port} -h 127.0.0.1 -k {folder} -c fsync=off -c synchronous_commit=off", "start")
    try:
        con = psycopg2.connect(host="127.0.0.1", port=port, user="shangluo", dbname="postgres")
        con.autocommit = True
        con.cursor().execute("create database dagster")
        con.close()
        yield f"postgresql://shangluo@127.0.0.1:{port}/dagster"
    finally:
        _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)


def _runs(url: str) -> list[dict]:
    """Every run in PostgreSQL's run storage, oldest first, with its tags."""
    import psycopg2
    con = psycopg2.connect(url)
    try:
        cur = con.cursor()
        cur.execute("select run_id, status, pipeline_name from runs order by id")
        runs = [{"run_id": r, "status": s, "job": j} for r, s, j in cur.fetchall()]
        cur.execute("select run_id, key, value from run_tags")
        tags: dict[str, dict[str, str]] = {}
        for run_id, key, value in cur.fetchall():
            tags.setdefault(run_id, {})[key] = value
        return [{**r, "tags": tags.get(r["run_id"], {})} for r in runs]
    finally:
        con.close()


def _sensor_ticks(url: str) -> int:
    import psycopg2
    con = psycopg2.connect(url)
    try:
        cur = con.cursor()
        cur.execute("select count(*) from job_ticks where type = 'SENSOR' and status in ('SKIPPED', 'SUCCESS')")
        return cur.fetchone()[0]
    finally:
        con.close()


def _wait(what: str, condition, timeout: float, logs: list[Path]):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(1)
    tails = "\n".join(f"--- {p.name}\n" + p.read_text(errors="replace")[-3000:] for p in logs if p.exists())
    raise AssertionError(f"timed out waiting for {what}\n{tails}")


def _start(cmd: list[str], env: dict, log: Path) -> subprocess.Popen:
    out = log.open("w")
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _stop(proc: subprocess.Popen):
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


def _soon() -> str:
    """A daily cron a little ahead (the schedule's timezone): it fires once during the test.  At
    least a minute ahead: the scheduler starts a schedule on a minute's boundary and takes only the
    ticks after its start."""
    at = datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(seconds=150)
    return f"{at.minute} {at.hour} * * *"


def test_daemon_on_postgres_launches_the_sensor_and_schedule_runs(tmp_path, postgres):
    home = tmp_path / "home"                 # deploy/postgres's files, verbatim, with the instance's local files
    home.mkdir()
    for name in ("dagster.yaml", "workspace.yaml"):
        shutil.copy(ROOT / "deploy" / "postgres" / name, home / name)
    landing = tmp_path / "landing"
    shutil.copytree(SAMPLE / "2022", landing / "2022")
    wh = tmp_path / "warehouse.duckdb"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHANGLUO_", "DAGSTER_"))}
    env.update(DAGSTER_HOME=str(home), SHANGLUO_DAGSTER_PG_URL=postgres,
               SHANGLUO_CODE_SERVER_HOST="127.0.0.1", SHANGLUO_CODE_SERVER_PORT=str(_free_port()),
               SHANGLUO_LANDING=str(landing), SHANGLUO_WAREHOUSE=str(wh), SHANGLUO_PII_KEY=TEST_KEY,
               SHANGLUO_REPORTS=str(tmp_path / "reports"), SHANGLUO_SETTLE_SECONDS="1",
               SHANGLUO_SENSOR_INTERVAL_SECONDS="2")

    shangluo("run", env=env)                 # the CLI's run, in the same PostgreSQL instance
    (cli_run,) = _runs(postgres)
    assert cli_run["status"] == "SUCCESS" and cli_run["tags"]["shangluo/trigger"] == "cli"
    assert cli_run["tags"]["dagster/partition"] == "2022" and cli_run["job"] == "build_period"
    city_before = query(wh, CITY_EMPLOYED)[0][0]

    logs = [tmp_path / "code-server.log", tmp_path / "daemon.log"]
    env["SHANGLUO_NIGHTLY_CRON"] = _soon()
    code_server = _start([sys.executable, "-m", "dagster", "code-server", "start", "-h", "127.0.0.1",
                          "-p", env["SHANGLUO_CODE_SERVER_PORT"], "-m", "pipelines.definitions",
                          "--location-name", "shangluo"], env, logs[0])
    daemon = None
    try:
        daemon = _start([str(Path(sys.executable).with_name("dagster-daemon")), "run",
                         "-w", str(home / "workspace.yaml")], env, logs[1])
        def done(trigger):
            def find():
                runs = [r for r in _runs(postgres) if r["tags"].get("shangluo/trigger") == trigger]
                assert all(r["status"] not in ("FAILURE", "CANCELED") for r in runs), runs
                return [r for r in runs if r["status"] == "SUCCESS"]
            return find

        # the sensor sees the files and takes them, but `shangluo run` had built that state: no run
        _wait("three sensor ticks", lambda: _sensor_ticks(postgres) >= 3, 120, logs)
        assert [r for r in _runs(postgres) if r["tags"].get("shangluo/trigger") == "sensor"] == []
        assert query(wh, CITY_EMPLOYED)[0][0] == city_before

        row = dict(build("2022")["employment"]["611024"][0])
        row["employed_persons"] += 1000
        (landing / "2022" / "611024" / "employment.csv").write_bytes(csv_bytes("employment", [row], "utf-8-sig", "en"))
        (sensor_run,) = _wait("the sensor's run", done("sensor"), 300, logs)
        assert sensor_run["tags"]["dagster/partition"] == "2022" and sensor_run["job"] == "build_period"
        assert sensor_run["tags"]["dagster/sensor_name"] == "landing_sensor"
        city_after = query(wh, CITY_EMPLOYED)[0][0]
        assert city_after - city_before == Decimal("0.1")   # 1000 persons are 0.1 万人
        assert query(wh, "select count(*) from landing.submissions where status = 'superseded'")[0][0] == 1
        ticks = _sensor_ticks(postgres)
        _wait("two more sensor ticks", lambda: _sensor_ticks(postgres) >= ticks + 2, 60, logs)
        assert len([r for r in _runs(postgres) if r["tags"].get("shangluo/trigger") == "sensor"]) == 1   # once

        # meanwhile the nightly schedule's time came (the sensor's work overlaps the wait for it)
        (nightly,) = _wait("the nightly schedule's run", done("schedule"), 300, logs)
        assert nightly["tags"]["dagster/schedule_name"] == "nightly" and nightly["tags"]["dagster/partition"] == "2022"
        assert query(wh, CITY_EMPLOYED)[0][0] == city_after            # nothing changed since: the same figures
        assert (tmp_path / "reports" / "report-2022.html").exists()
    finally:
        if daemon is not None:
            _stop(daemon)
        _stop(code_server)
