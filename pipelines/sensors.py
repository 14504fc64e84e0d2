"""The landing sensor, the nightly schedule and the job they start: wiring only.

What a tick runs and what each run reads again is decided in `intake.plan.evaluate` (the sensor
only looks at the file system, never the warehouse: SPEC section 6).  A state that a run has
already built -- `shangluo run`, say -- is not run again: every run records the digests it took in
the `landing/inventory` materialisation, which the sensor reads from the instance.  The nightly
run materialises every asset and checks all of staging.
"""
import os

import dagster as dg

from intake.landing import periods as landing_periods
from intake.plan import PeriodRun, evaluate, settle_seconds
from shangluo.config import Settings

from .assets import ALL_ASSETS, INVENTORY_KEY, selection
from .landing_state import DIGEST_KEY, PREVIOUS_DIGEST_KEY
from .options import period_partitions, run_config

COMMITTED_TAG = "shangluo/committed"     # set by `shangluo run` on its periods' runs once it has committed them

build_period = dg.define_asset_job(
    "build_period", selection=ALL_ASSETS, partitions_def=period_partitions,
    description="从接收目录到发布数字，一个报告期 / landing to published figures, for one period")


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
    if done is None or done.status != dg.DagsterRunStatus.SUCCESS:
        return False
    # a `shangluo run` commits after its last period: its runs count once the command has committed
    return done.tags.get("shangluo/trigger") != "cli" or done.tags.get(COMMITTED_TAG) == "true"


def sensor_interval() -> int:
    return int(os.environ.get("SHANGLUO_SENSOR_INTERVAL_SECONDS", "30"))


@dg.sensor(job=build_period, minimum_interval_seconds=sensor_interval(), default_status=dg.DefaultSensorStatus.RUNNING,
           description="接收目录有新增、修改或删除的文件时，重建该报告期及下一期 / rebuild a period (and the next) "
                       "when its landing files are added, changed or removed")
def landing_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    root = Settings.from_env().landing
    planned, cursor = evaluate(root, context.cursor)
    valid = set(period_partitions.get_partition_keys())
    runs, skipped = [], []
    for p, run in planned.items():
        if p not in valid:
            skipped.append(f"{p}: 不是报告期分区 / not a period partition (periods.toml, the first period)")
            context.log.warning(skipped[-1])
        elif already_built(context.instance, p, run):
            skipped.append(f"{p}: 这些文件已经处理过 / a run already took these files")
            context.log.info(skipped[-1])
        else:
            runs.append(dg.RunRequest(run_key=run.key, partition_key=p, asset_selection=selection(run.reads),
                                      run_config=run_config(), tags={"shangluo/trigger": "sensor"}))
    reason = None if runs else "; ".join(skipped) or (
        f"接收目录没有已稳定的变化（文件{settle_seconds():.0f}秒内未再改动才处理） / no settled change in landing "
        f"(a file is taken once unchanged for {settle_seconds():.0f} s)")
    return dg.SensorResult(run_requests=runs, cursor=cursor, skip_reason=reason)


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
