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
    """The Dagster instance of every command: the one DAGSTER_HOME names (deploy/postgres, say), else
    the project's own (`project_home`), the one plain `dagster` commands use from the root."""
    env = {"DAGSTER_HOME": os.environ.get("DAGSTER_HOME") or project_home()}
    os.environ.update(env)
    return env


def project_home() -> str:
    """.dagster/ at the root (git-ignored), or $SHANGLUO_DAGSTER_STATE.  The root dagster.yaml names its
    storage relative to the root, in .dagster/, where Dagster puts it by default under this home:
    the home gets the rest of that file (pool, telemetry), so it is the same instance."""
    import yaml
    home = Path(os.environ.get("SHANGLUO_DAGSTER_STATE") or ROOT / ".dagster").resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((ROOT / "dagster.yaml").read_text(encoding="utf-8"))
    for key in ("storage", "local_artifact_storage", "compute_logs"):
        config.pop(key, None)
    text = "# from the repository's dagster.yaml (written by shangluo; storage: the defaults here)\n" + \
        yaml.safe_dump(config, sort_keys=True)
    target = home / "dagster.yaml"
    if not target.exists() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")
    return str(home)


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

    from pipelines.assets import selection
    from pipelines.definitions import defs
    from pipelines.options import run_config
    from warehouse.ledger import returns_to_read

    from shangluo.config import rules_version

    instance = dg.DagsterInstance.get()
    _free_stale_slots(instance)
    job = defs.resolve_job_def("build_period")     # the job the sensor and the schedule start
    tags = {"shangluo/trigger": "cli", "shangluo/pid": str(os.getpid()), "shangluo/host": socket.gethostname(),
            **({"shangluo/county": args.county} if args.county else {}), **({"shangluo/force": "true"} if args.force else {})}
    started = time.monotonic()
    for period in periods:
        # the returns whose landing files changed since the warehouse last took them; the rest of
        # staging stays as it is (staging never reads P-1, so P-1's run just before changes nothing here)
        read = returns_to_read(con, settings.landing, period, rules_version(), args.county, args.force)
        _say(f"{period}: 重新读取 / reading again: " + ("全部报表 / every return" if read is None else
                                                     ", ".join(sorted(read)) or "无 / none (nothing changed)"))
        config = {**QUIET, **run_config(args.county, args.force)}
        config["resources"]["warehouse"] = {"config": {"landing": str(settings.landing),
                                                       "warehouse": str(settings.warehouse)}}
        result = job.execute_in_process(run_config=config, partition_key=period, asset_selection=selection(read),
                                        instance=instance, tags=tags, raise_on_error=False)
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
    finally:
        con.close()
    _say(f"数据仓库 / warehouse: {settings.warehouse}  ({seconds:.1f} s)")
