"""The landing sensor, the nightly schedule and the job they start.

The sensor only looks at the file system (never the warehouse: SPEC section 6).  Its cursor is
compact: per period, a digest of its files as last seen and, as last taken, a digest of its files
and one of each group of files that name the same returns.  A period is taken once its files have
stopped changing: the same as at the previous tick and none younger than SHANGLUO_SETTLE_SECONDS.
A period whose taken files changed gets a run (and so does P+1, whose figures read P-1), reading
again only the returns of the groups that changed (a workbook may hold any return: all).  The
run key is the period and the digests of P's and P-1's files, so the same state never runs twice;
and a state that a run has already built -- `shangluo run`, say -- is not run again: every run
records the digests it took in the `landing/inventory` materialisation, which the sensor reads
from the instance.  The nightly run materialises every asset and checks all of staging.
"""
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from shangluo.config import Settings
from intake.landing import periods as landing_periods
from intake.landing import returns_named

from .assets import ALL_ASSETS, INVENTORY_KEY, selection
from .landing_state import DIGEST_KEY, PREVIOUS_DIGEST_KEY, digest, observe
from .options import period_partitions, run_config

EMPTY = digest({})

build_period = dg.define_asset_job(
    "build_period", selection=ALL_ASSETS, partitions_def=period_partitions,
    description="从接收目录到发布数字，一个报告期 / landing to published figures, for one period")


def settle_seconds() -> float:
    return float(os.environ.get("SHANGLUO_SETTLE_SECONDS", "30"))


@dataclass(frozen=True)
class PeriodRun:
    key: str                       # the run key: the period and the digests of its files and of P-1's
    reads: frozenset[str] | None   # the returns to read again (None: all of them)
    files: str = EMPTY             # the digest of P's files as taken
    previous: str = EMPTY          # ... and of P-1's


def _group(path: str) -> str:
    """The returns a file can hold, judged by its name ("*": any)."""
    named = returns_named(path)
    return "*" if named is None else ",".join(sorted(named))


def _groups(files: dict[str, list[int]]) -> dict[str, str]:
    by: dict[str, dict[str, list[int]]] = {}
    for path, meta in files.items():
        by.setdefault(_group(path), {})[path] = meta
    return {g: digest(f)[:8] for g, f in sorted(by.items())}


def _reads(before: dict[str, str], after: dict[str, str]) -> frozenset[str] | None:
    changed = {g for g in set(before) | set(after) if before.get(g) != after.get(g)}
    if "*" in changed:
        return None
    return frozenset(r for g in changed for r in g.split(",") if r)


def evaluate(root: Path, cursor: str | None, now: float | None = None, settle: float | None = None
             ) -> tuple[dict[str, PeriodRun], str]:
    """(the run of each period to run, new cursor): pure, for the sensor and its tests."""
    now = time.time() if now is None else now
    settle = settle_seconds() if settle is None else settle
    state = json.loads(cursor) if cursor else {}
    seen_before, taken_before = state.get("seen", {}), state.get("taken", {})
    files = observe(root)
    present = landing_periods(root)
    seen, taken = {}, {}
    for p in present:
        mine = {k: v for k, v in files.items() if k.startswith(p + "/")}
        seen[p] = digest(mine)
        newest = max((v[1] for v in mine.values()), default=0) / 1e9
        if seen_before.get(p) == seen[p] and now - newest >= settle:      # stopped changing: taken
            taken[p] = {"files": seen[p], "groups": _groups(mine)}
        elif p in taken_before:
            taken[p] = taken_before[p]
    changed = {p for p in set(taken) | set(taken_before) if taken.get(p) != taken_before.get(p)}
    to_run = {p for p in changed if p in present} | {str(int(p) + 1) for p in changed if str(int(p) + 1) in present}
    runs = {}
    for p in sorted(to_run):
        files_p = taken.get(p, {}).get("files", EMPTY)
        previous = taken.get(str(int(p) - 1), {}).get("files", EMPTY)
        reads = (_reads(taken_before.get(p, {}).get("groups", {}), taken.get(p, {}).get("groups", {}))
                 if p in changed else frozenset())
        runs[p] = PeriodRun(f"{p}:{files_p}:{previous}", reads, files_p, previous)
    return runs, json.dumps({"seen": seen, "taken": taken}, separators=(",", ":"), sort_keys=True)


def already_built(instance: dg.DagsterInstance, period: str, run: PeriodRun) -> bool:
    """A successful run already took exactly these files of P and P-1 (from the instance's own
    records: the digests in the latest `landing/inventory` materialisation of the period)."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=INVENTORY_KEY, asset_partitions=[period]), limit=1).records
    if not records:
        return False
    meta = records[0].asset_materialization.metadata
    took = (getattr(meta.get(DIGEST_KEY), "value", None), getattr(meta.get(PREVIOUS_DIGEST_KEY), "value", None))
    if took != (run.files, run.previous):
        return False
    done = instance.get_run_by_id(records[0].run_id)
    return done is not None and done.status == dg.DagsterRunStatus.SUCCESS


def sensor_interval() -> int:
    return int(os.environ.get("SHANGLUO_SENSOR_INTERVAL_SECONDS", "30"))


@dg.sensor(job=build_period, minimum_interval_seconds=sensor_interval(), default_status=dg.DefaultSensorStatus.RUNNING,
           description="接收目录有新增、修改或删除的文件时，重建该报告期及下一期 / rebuild a period (and the next) "
                       "when its landing files are added, changed or removed")
def landing_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    root = Settings.from_env().landing
    planned, cursor = evaluate(root, context.cursor)
    valid = set(period_partitions.get_partition_keys())
    runs = []
    for p, run in planned.items():
        if p not in valid:
            context.log.warning(f"{p}: 不是报告期分区 / not a period partition (periods.toml, the first period)")
        elif already_built(context.instance, p, run):
            context.log.info(f"{p}: 这些文件已经处理过 / a run already took these files")
        else:
            runs.append(dg.RunRequest(run_key=run.key, partition_key=p, asset_selection=selection(run.reads),
                                      run_config=run_config(), tags={"shangluo/trigger": "sensor"}))
    return dg.SensorResult(run_requests=runs, cursor=cursor)


def nightly_cron() -> str:
    return os.environ.get("SHANGLUO_NIGHTLY_CRON", "0 2 * * *")


@dg.schedule(job=build_period, cron_schedule=nightly_cron(), execution_timezone="Asia/Shanghai",
             default_status=dg.DefaultScheduleStatus.RUNNING,
             description="每晚重建当前报告期，检查全部暂存数据 / nightly rebuild of the current period, checking all "
                         "of staging (cron: SHANGLUO_NIGHTLY_CRON)")
def nightly(context: dg.ScheduleEvaluationContext):
    valid = set(period_partitions.get_partition_keys())
    present = [p for p in landing_periods(Settings.from_env().landing) if p in valid]
    if not present:
        return dg.SkipReason("接收目录中还没有报告期 / no period folder in landing yet")
    current = present[-1]
    when = context.scheduled_execution_time
    stamp = when.strftime("%Y-%m-%dT%H:%M") if when else "now"
    return dg.RunRequest(run_key=f"nightly:{current}:{stamp}", partition_key=current,
                         run_config=run_config(check_all=True), tags={"shangluo/trigger": "schedule"})
