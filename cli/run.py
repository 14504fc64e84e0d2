"""`shangluo run`: materialise every asset in-process, one Dagster run per period, and print a summary."""
from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from schemas import engine
from shangluo.config import ROOT, ConfigError, Settings

from .common import EXIT_BUSY, EXIT_HARD, EXIT_OK, EXIT_USAGE, say as _say

QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}   # the summary says what matters


def dagster_env() -> dict[str, str]:
    """DAGSTER_HOME is the repository root (dagster.yaml); state goes to .dagster/ unless set."""
    state = Path(os.environ.get("SHANGLUO_DAGSTER_STATE") or ROOT / ".dagster")
    env = {"DAGSTER_HOME": os.environ.get("DAGSTER_HOME") or str(ROOT),
           "SHANGLUO_DAGSTER_STATE": str(state),
           "SHANGLUO_DAGSTER_COMPUTE_LOGS": os.environ.get("SHANGLUO_DAGSTER_COMPUTE_LOGS") or str(state / "compute_logs"),
           "DAGSTER_DISABLE_TELEMETRY": "true"}   # else `dagster dev` makes $DAGSTER_HOME/logs for its uploader
    os.environ.update(env)
    return env


def cmd_run(args) -> int:
    settings = Settings.from_env()
    try:
        settings.pii_key()
    except ConfigError as exc:
        _say(str(exc))
        return EXIT_USAGE
    from shangluo.landing import periods as landing_periods
    periods = [args.period] if args.period else landing_periods(settings.landing)
    if not periods:
        _say(f"接收目录中没有报告期 / no period folder in {settings.landing}")
        return EXIT_USAGE
    from warehouse.db import WarehouseBusy, connect
    try:   # hold the warehouse for the whole command: a second writer waits, then gives up
        guard = connect(settings.warehouse, wait_seconds=settings.lock_wait_seconds)
    except WarehouseBusy as exc:
        _say(str(exc))
        return EXIT_BUSY
    try:
        return _run_periods(settings, periods, args, guard)
    finally:
        guard.close()


def _run_periods(settings: Settings, periods: list[str], args, con) -> int:
    dagster_env()
    import dagster as dg

    from pipelines.assets import ALL_ASSETS, period_partitions, selection
    from pipelines.resources import WarehouseResource
    from warehouse.ledger import returns_to_read

    from shangluo.config import rules_version

    instance = dg.DagsterInstance.get()
    _free_stale_slots(instance)
    tags = {"shangluo/county": args.county or "", "shangluo/force": "true" if args.force else "false",
            "shangluo/trigger": "cli", "shangluo/pid": str(os.getpid()), "shangluo/host": socket.gethostname()}
    started = time.monotonic()
    for period in periods:
        if not instance.has_dynamic_partition(period_partitions.name, period):
            instance.add_dynamic_partitions(period_partitions.name, [period])
        # the returns whose landing files changed since the warehouse last took them; the rest of
        # staging stays as it is (staging never reads P-1, so P-1's run just before changes nothing here)
        read = returns_to_read(con, settings.landing, period, rules_version(), args.county, args.force)
        _say(f"{period}: 重新读取 / reading again: " + ("全部报表 / every return" if read is None else
                                                     ", ".join(sorted(read)) or "无 / none (nothing changed)"))
        result = dg.materialize(ALL_ASSETS, selection=selection(read), partition_key=period, instance=instance, tags=tags,
                                resources={"warehouse": WarehouseResource(landing=str(settings.landing),
                                                                          warehouse=str(settings.warehouse))},
                                run_config=QUIET, raise_on_error=False)
        if not result.success:
            failures = [e for e in result.all_events if e.is_step_failure]
            for e in failures:
                error = e.step_failure_data.error
                while error.cause is not None:
                    error = error.cause
                _say(f"步骤失败 / step failed: {e.step_key}: {error.message.strip()}")
            _say(f"{period}: 运行失败，数据仓库未改变 / the run failed; the warehouse is unchanged")
            return EXIT_HARD
    _summary(settings, periods, time.monotonic() - started)
    from shangluo.timing import dump
    dump()
    return EXIT_OK


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _free_stale_slots(instance):
    """A `shangluo run` killed mid-way leaves its Dagster run STARTED and its pool slot claimed, and
    the next run would wait for that slot forever: free the slots of runs whose process is gone."""
    import dagster as dg
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED,
                                                                  dg.DagsterRunStatus.STARTING])):
        pid, host = run.tags.get("shangluo/pid"), run.tags.get("shangluo/host")
        if pid and host == socket.gethostname() and not _alive(int(pid)):
            storage.free_concurrency_slots_for_run(run.run_id)
            instance.report_run_failed(run, "the process of this run was killed (found by the next run)")


def _per_county(con, period: str):
    """Per county, each return still missing and each rejected (no version in force), and files that
    could not be used."""
    from schemas.catalogue import RETURNS
    from schemas.core import AREAS
    lines: dict[str, dict[str, list[str]]] = {}
    found = con.execute("select county_code, return_id, state from landing.status where period = ? "
                        "and state in ('missing', 'rejected')", [period]).fetchall()
    for c, r, state in sorted(found, key=lambda x: (x[0], RETURNS[x[1]].number)):
        lines.setdefault(c, {}).setdefault(state, []).append(f"{RETURNS[r].table_label}{RETURNS[r].title}")
    for c, source in con.execute("select distinct county_code, source from landing.inventory where period = ? "
                                 "and kind = 'unusable' and return_id is null order by all", [period]).fetchall():
        lines.setdefault(c, {}).setdefault("unusable", []).append(source.rsplit("/", 1)[-1])
    for c, message in con.execute("select distinct county_code, message_zh from landing.inventory where period = ? "
                                  "and kind = 'skipped' and county_code not in (select unnest(?::varchar[])) order by all",
                                  [period, list(AREAS)]).fetchall():
        lines.setdefault(c, {}).setdefault("folder", []).append(message)
    words = {"missing": "未报送 missing", "rejected": "退回无采用版本 rejected", "unusable": "无法使用的文件 unusable",
             "folder": "目录 folder"}
    for c, states in sorted(lines.items()):
        parts = [f"{words[k]}: {'、'.join(v)}" for k, v in states.items()]
        _say(f"  {c} {AREAS.get(c, c)}: " + "; ".join(parts))


def _summary(settings: Settings, periods: list[str], seconds: float):
    con = engine.connect(str(settings.warehouse))
    try:
        for period in periods:
            status = dict(con.execute("select state, count(*) from landing.status where period = ? group by state",
                                      [period]).fetchall())
            figs = con.execute("select count(*), count(*) filter (where complete) from report.figures "
                               "where period = ? and area_code = '611000'", [period]).fetchall()[0]
            _say(f"{period}: 报表 accepted {status.get('accepted', 0)} / rejected {status.get('rejected', 0)} / "
                 f"missing {status.get('missing', 0)}; 全市指标 {figs[1]}/{figs[0]} complete")
            # what needs a clerk now: the newest rejected version where it is the newest one received
            # (not a version that a later accepted correction already replaced)
            for c, r, source, hard, older in con.execute(
                    "select s.county_code, s.return_id, arg_max(s.source, s.first_seen_at), "
                    "arg_max(s.hard_count, s.first_seen_at), any_value(t.newer_rejected) "
                    "from landing.submissions s join landing.status t using (period, county_code, return_id) "
                    "where s.period = ? and s.status = 'rejected' and (t.state = 'rejected' or t.newer_rejected) "
                    "group by all order by all", [period]).fetchall():
                kept = "；此前采用的版本继续有效 / the version accepted before stays in force" if older else ""
                _say(f"  退回 rejected: {c} {r} {source} ({hard} hard){kept}")
            _per_county(con, period)
    finally:
        con.close()
    _say(f"数据仓库 / warehouse: {settings.warehouse}  ({seconds:.1f} s)")
