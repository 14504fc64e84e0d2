"""The landing sensor, the nightly schedule and the job they start.

The sensor only looks at the file system (never the warehouse).  Its cursor carries the full
state of landing as last taken -- every file's size and modification time -- plus what it saw
at the previous tick.  A file is taken once it has stopped changing: unchanged since the previous
tick and older than SHANGLUO_SETTLE_SECONDS.  A period whose taken files were added, changed or
removed gets a run (and so does P+1, whose figures read P-1); the run key is the period and a
digest of its files, so the same state never runs twice.  A run reads again only the returns its
changed files can hold (by their names; a changed workbook: all).  New period folders become
partitions.  The nightly run materialises every asset and checks all of staging, whatever the
sensor did.
"""
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from shangluo.config import Settings
from intake.landing import periods as landing_periods
from intake.landing import returns_named

from .assets import ALL_ASSETS, period_partitions, selection

build_period = dg.define_asset_job(
    "build_period", selection=ALL_ASSETS, partitions_def=period_partitions,
    description="从接收目录到发布数字，一个报告期 / landing to published figures, for one period")


def settle_seconds() -> float:
    return float(os.environ.get("SHANGLUO_SETTLE_SECONDS", "30"))


def observe(root: Path) -> dict[str, list[int]]:
    """relative path -> [size, mtime_ns] of every file under <period>/<county>/ (links not followed)."""
    out = {}
    for period in landing_periods(root):
        for county in sorted((root / period).iterdir()):
            if not county.is_dir():
                continue
            for f in sorted(county.iterdir()):
                if f.is_file() or f.is_symlink():
                    st = f.lstat()
                    out[f.relative_to(root).as_posix()] = [st.st_size, st.st_mtime_ns]
    return out


def _digest(files: dict[str, list[int]], period: str) -> str:
    mine = sorted((k, v) for k, v in files.items() if k.startswith(period + "/"))
    return hashlib.sha256(json.dumps(mine).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class PeriodRun:
    key: str                       # the run key: the period and a digest of its files and of P-1's
    reads: frozenset[str] | None   # the returns to read again (None: all of them)


def _reads(paths: set[str]) -> frozenset[str] | None:
    """The returns the changed files can hold, judged by their names (the sensor never opens the
    warehouse, so a changed workbook reads every return again)."""
    out: set[str] = set()
    for path in paths:
        named = returns_named(path)
        if named is None:
            return None
        out |= named
    return frozenset(out)


def evaluate(root: Path, cursor: str | None, now: float | None = None, settle: float | None = None
             ) -> tuple[dict[str, PeriodRun], str]:
    """(the run of each period to run, new cursor): pure, for the sensor and its tests."""
    now = time.time() if now is None else now
    settle = settle_seconds() if settle is None else settle
    state = json.loads(cursor) if cursor else {"taken": {}, "seen": {}}
    seen_now = observe(root)
    taken = {path: meta for path, meta in state["taken"].items() if path in seen_now}   # removed: at once
    for path, meta in seen_now.items():
        if state["seen"].get(path) == meta and now - meta[1] / 1e9 >= settle:          # stopped changing
            taken[path] = meta
    changed_files = {path for path in set(taken) | set(state["taken"]) if taken.get(path) != state["taken"].get(path)}
    changed = {path.split("/")[0] for path in changed_files}
    present = set(landing_periods(root))
    to_run = changed | {str(int(p) + 1) for p in changed if str(int(p) + 1) in present}   # P+1 reads P
    runs = {p: PeriodRun(f"{p}:{_digest(taken, p)}:{_digest(taken, str(int(p) - 1))}",
                         _reads({f for f in changed_files if f.split("/")[0] == p})) for p in sorted(to_run)}
    return runs, json.dumps({"taken": taken, "seen": seen_now}, sort_keys=True)


@dg.sensor(job=build_period, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
           description="接收目录有新增、修改或删除的文件时，重建该报告期及下一期 / rebuild a period (and the next) "
                       "when its landing files are added, changed or removed")
def landing_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    root = Settings.from_env().landing
    planned, cursor = evaluate(root, context.cursor)
    known = set(context.instance.get_dynamic_partitions(period_partitions.name))
    add = [p for p in landing_periods(root) if p not in known]
    runs = [dg.RunRequest(run_key=run.key, partition_key=p, asset_selection=selection(run.reads),
                          tags={"shangluo/trigger": "sensor"})
            for p, run in planned.items() if p in known or p in add]
    return dg.SensorResult(
        run_requests=runs, cursor=cursor,
        dynamic_partitions_requests=[period_partitions.build_add_request(add)] if add else [])


@dg.schedule(job=build_period, cron_schedule="0 2 * * *", execution_timezone="Asia/Shanghai",
             default_status=dg.DefaultScheduleStatus.RUNNING,
             description="每晚重建当前报告期 / nightly rebuild of the current period")
def nightly(context: dg.ScheduleEvaluationContext):
    known = context.instance.get_dynamic_partitions(period_partitions.name)
    if not known:
        return dg.SkipReason("还没有报告期 / no period yet: the landing sensor adds them")
    current = max(known)
    stamp = context.scheduled_execution_time.strftime("%Y-%m-%d") if context.scheduled_execution_time else "now"
    return dg.RunRequest(run_key=f"nightly:{current}:{stamp}", partition_key=current,
                         tags={"shangluo/trigger": "schedule", "shangluo/force": "false", "shangluo/check": "all"})
