"""The yearly cycle: the landing sensor, the nightly schedule, partitions, incremental rebuilds,
and two runs started together."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import dagster as dg

from sample.generate import build, csv_bytes

from .conftest import ROOT, SAMPLE, cli_env, query, shangluo


def _write(path: Path, text: str, mtime: float):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    os.utime(path, (mtime, mtime))


def test_sensor_takes_files_once_they_stop_changing(tmp_path):
    from intake.plan import evaluate
    root, t0 = tmp_path / "landing", 1_700_000_000.0
    f = root / "2022" / "611002" / "表6.csv"
    tick = lambda cursor, now: evaluate(root, cursor, now=now, settle=30)  # noqa: E731

    keys, cursor = tick(None, t0)
    assert keys == {}                                                   # empty landing
    _write(f, "a", t0)                                                  # new folder, new file
    keys, cursor = tick(cursor, t0 + 5)
    assert keys == {}                                                   # first seen: not yet taken
    keys, cursor = tick(cursor, t0 + 40)
    assert list(keys) == ["2022"]                                       # unchanged and settled: taken
    assert keys["2022"].reads == {"employment"}                         # 表6 is all it reads again
    first_key = keys["2022"]
    keys, cursor = tick(cursor, t0 + 80)
    assert keys == {}                                                   # unchanged file: nothing to do

    _write(f, "ab", t0 + 100)                                           # still being written
    keys, cursor = tick(cursor, t0 + 101)
    _write(f, "abc", t0 + 110)
    keys2, cursor = tick(cursor, t0 + 111)
    assert keys == {} and keys2 == {}
    keys, cursor = tick(cursor, t0 + 120)                               # unchanged, but younger than 30 s
    assert keys == {}
    keys, cursor = tick(cursor, t0 + 150)                               # changed file: taken once settled
    assert list(keys) == ["2022"] and keys["2022"] != first_key

    _write(root / "2023" / "611002" / "表6.csv", "x", t0)               # a new period folder
    tick(cursor, t0 + 200)
    keys, cursor = tick(tick(cursor, t0 + 200)[1], t0 + 240)
    assert list(keys) == ["2023"]
    f.unlink()                                                          # removed: taken once settled, and P+1 too
    keys, cursor = tick(cursor, t0 + 300)
    assert keys == {}
    keys, cursor = tick(cursor, t0 + 340)
    assert sorted(keys) == ["2022", "2023"]
    assert keys["2022"].reads == {"employment"} and keys["2023"].reads == set()   # 2023 rebuilds its report only
    assert len(cursor) < 300                                            # compact: digests, not every file
    assert set(json.loads(cursor)["taken"]["2023"]["groups"]) == {"employment"}
    _write(root / "2023" / "611002" / "汇总.xlsx", "x", t0)             # a workbook may hold any return
    keys, cursor = tick(tick(cursor, t0 + 400)[1], t0 + 440)
    assert keys["2023"].reads is None


def test_sensor_requests_runs_with_keys(tmp_path, instance, monkeypatch):
    from pipelines.sensors import landing_sensor
    landing = tmp_path / "landing"
    shutil.copytree(SAMPLE / "2022", landing / "2022")
    old = time.time() - 3600
    for p in landing.rglob("*"):
        os.utime(p, (old, old))
    monkeypatch.setenv("SHANGLUO_LANDING", str(landing))
    monkeypatch.setenv("SHANGLUO_SETTLE_SECONDS", "0")
    result = landing_sensor(dg.build_sensor_context(instance=instance))
    assert result.run_requests == []                                    # files seen once: not yet taken
    result = landing_sensor(dg.build_sensor_context(instance=instance, cursor=result.cursor))
    (run,) = result.run_requests
    assert run.partition_key == "2022" and run.run_key.startswith("2022:")
    assert run.run_config["resources"]["options"]["config"] == {"county": "", "force": False, "check_all": False}
    again = landing_sensor(dg.build_sensor_context(instance=instance, cursor=result.cursor))
    assert again.run_requests == []


def test_nightly_schedule_rebuilds_the_current_period(tmp_path, monkeypatch):
    from pipelines.sensors import nightly
    monkeypatch.setenv("SHANGLUO_LANDING", str(tmp_path / "landing"))
    ctx = dg.build_schedule_context(scheduled_execution_time=datetime(2023, 3, 1, 2))
    assert isinstance(nightly(ctx), dg.SkipReason)
    for period in ("2021", "2022"):
        (tmp_path / "landing" / period / "611002").mkdir(parents=True)
    request = nightly(dg.build_schedule_context(scheduled_execution_time=datetime(2023, 3, 1, 2)))
    assert request.partition_key == "2022" and request.run_key == "nightly:2022:2023-03-01T02:00"
    assert request.run_config["resources"]["options"]["config"]["check_all"] is True


def test_definitions_hold_the_job_sensor_and_schedule():
    from pipelines.definitions import defs
    assert defs.get_sensor_def("landing_sensor") and defs.get_schedule_def("nightly")
    assert {"2021", "2022"} <= set(defs.resolve_job_def("build_period").partitions_def.get_partition_keys())


def _ledger(wh: Path):
    return {sid: (status, seen) for sid, status, seen in query(
        wh, "select submission_id, status, first_seen_at from landing.submissions")}


def test_one_corrected_return_is_the_only_thing_processed_again(tmp_path, landing_copy):
    env, wh = cli_env(tmp_path, landing_copy), tmp_path / "warehouse.duckdb"
    shangluo("run", env=env)
    before = _ledger(wh)
    parsed_before = dict(query(wh, "select source, seen_at from landing.files"))
    city_sql = "select employed_persons from report.employment where period = '2022' and area_code = '611000'"
    city_before = query(wh, city_sql)[0][0]

    row = dict(build("2022")["employment"]["611024"][0])
    delta = 1000
    row["employed_persons"] += delta
    (landing_copy / "2022" / "611024" / "employment.csv").write_bytes(csv_bytes("employment", [row], "utf-8-sig", "en"))
    shangluo("run", env=env)
    after = _ledger(wh)
    new = set(after) - set(before)
    assert len(new) == 1 and after[new.pop()][0] == "accepted"
    changed = {sid for sid in before if after[sid] != before[sid]}
    assert len(changed) == 1 and after[changed.pop()][0] == "superseded"
    parsed = dict(query(wh, "select source, seen_at from landing.files"))
    assert {s for s in parsed if parsed[s] != parsed_before.get(s)} == {"2022/611024/employment.csv"}
    assert query(wh, city_sql)[0][0] - city_before == Decimal("0.1")   # 1000 persons are 0.1 万人

    out = shangluo("run", env=env).stdout                              # nothing changed: nothing processed
    assert _ledger(wh) == after and dict(query(wh, "select source, seen_at from landing.files")) == parsed
    assert "nothing changed since the last run" in out and "重新读取" not in out      # no Dagster run at all
    assert "2022: 报表 accepted 71 / rejected 0 / missing 0; 全市指标 69/69 complete" in out

    # what a run is built from besides the returns: an explanation file, a report file taken away
    (landing_copy / "2022" / "611024" / "说明.csv").write_text("表号,规则编号,业务键,说明\n", encoding="utf-8")
    assert "2022: 重新读取 / reading again: 无 / none" in shangluo("run", env=env).stdout
    assert "nothing changed since the last run" in shangluo("run", env=env).stdout
    fifo = landing_copy / "2022" / "611024" / "表9 副本.csv"          # not a regular file: refused, never opened
    os.mkfifo(fifo)
    out = shangluo("run", env=env).stdout
    assert "nothing changed since" not in out and "表9 副本.csv" in out
    fifo.unlink()
    assert "nothing changed since" not in shangluo("run", env=env).stdout
    (tmp_path / "reports" / "report-2021.md").unlink()
    assert "2021: 重新读取" in shangluo("run", env=env).stdout
    assert (tmp_path / "reports" / "report-2021.md").exists()

    # a run that did not take every file (--county) forgets the stamps: landing back as stamped is
    # then no reason to skip (the file restored with its old time, as a copy made by Explorer keeps it)
    path = landing_copy / "2022" / "611024" / "employment.csv"
    kept, stat = path.read_bytes(), path.stat()
    path.write_bytes(csv_bytes("employment", [dict(row, employed_persons=row["employed_persons"] + 7)], "utf-8-sig", "en"))
    shangluo("run", "--county", "611024", env=env)
    assert query(wh, city_sql)[0][0] - city_before == Decimal("0.1007")
    path.write_bytes(kept)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    out = shangluo("run", env=env).stdout
    assert "nothing changed since" not in out and "2022: 重新读取 / reading again: employment" in out
    assert query(wh, city_sql)[0][0] - city_before == Decimal("0.1")
    # a run of P-1 alone: P is run again next time (its figures read P-1)
    shangluo("run", "--period", "2021", "--force", env=env)
    assert "2022: 重新读取" in shangluo("run", env=env).stdout


def _figures(wh):
    return sorted(query(wh, "select period, area_code, figure_id, value, text, complete from report.figures"))


def test_two_runs_started_together_both_end_cleanly(tmp_path, landing_copy):
    single = tmp_path / "single"
    shangluo("run", env=cli_env(single, landing_copy))
    for wait, codes in (("120", {0}), ("0", {0, 3})):
        tmp = tmp_path / f"wait{wait}"
        env = cli_env(tmp, landing_copy, SHANGLUO_LOCK_WAIT_SECONDS=wait)
        procs = [subprocess.Popen([sys.executable, "-m", "cli.main", "run"], cwd=ROOT, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        outs = [p.communicate(timeout=600) for p in procs]
        got = sorted(p.returncode for p in procs)
        assert set(got) <= codes and 0 in got, outs
        for proc, (stdout, _) in zip(procs, outs):
            if proc.returncode == 3:
                assert "另一个进程" in stdout and "another process" in stdout
        assert _figures(tmp / "warehouse.duckdb") == _figures(single / "warehouse.duckdb")
