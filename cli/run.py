"""`shangluo run`: materialise every asset in-process, one Dagster run per period, and print a summary."""
from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from schemas import engine
from shangluo.config import ROOT, ConfigError, Settings
from shangluo.timing import phase

from .common import EXIT_BUSY, EXIT_HARD, EXIT_OK, EXIT_UNUSABLE, EXIT_USAGE, say as _say

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
        key = settings.pii_key()
    except ConfigError as exc:
        _say(str(exc))
        return EXIT_USAGE
    from shangluo.landing import periods as landing_periods
    periods = [args.period] if args.period and not args.rekey else landing_periods(settings.landing)
    if not periods:
        _say(f"接收目录中没有报告期 / no period folder in {settings.landing}")
        return EXIT_USAGE
    from warehouse.db import WarehouseBusy, WarehouseUnusable, connect
    try:   # the one writing connection of the command: a second writer waits, then gives up
        con = connect(settings.warehouse, wait_seconds=settings.lock_wait_seconds)
    except WarehouseBusy as exc:
        _say(str(exc))
        return EXIT_BUSY
    except WarehouseUnusable as exc:
        _say(str(exc))
        return EXIT_UNUSABLE
    try:
        return _run_in_one_transaction(settings, periods, args, con, key)
    finally:
        con.close()


def _run_in_one_transaction(settings: Settings, periods: list[str], args, con, key: bytes) -> int:
    """Every period in one transaction, committed after the last: all of them change or none."""
    import duckdb

    from pipelines.resources import held_transaction
    from warehouse.db import ensure_schema, key_fingerprint, record_fingerprint, recorded_fingerprint

    started = time.monotonic()
    try:
        con.execute("begin transaction")
        ensure_schema(con)
        fingerprint, recorded = key_fingerprint(key), recorded_fingerprint(con)
    except duckdb.Error as exc:
        _say(f"无法写入数据仓库 / cannot write the warehouse {settings.warehouse}: {str(exc).splitlines()[0]}")
        return EXIT_HARD
    if recorded not in (None, fingerprint) and not args.rekey:
        con.execute("rollback")
        _say("SHANGLUO_PII_KEY与建立数据仓库时的假名密钥不同：用它运行会混用两套假名。若确要更换密钥，请运行 "
             "`shangluo run --rekey`（用新密钥重新读取全部版本） / SHANGLUO_PII_KEY is not the pseudonym key the "
             "warehouse was built with: a run would mix two sets of pseudonyms. To change the key, run "
             "`shangluo run --rekey` (every version is read again with the new key)")
        return EXIT_USAGE
    rekey = recorded not in (None, fingerprint)
    try:
        with held_transaction(con) as held:
            code = _run_periods(settings, periods, args, con, force=args.force or rekey)
            failed = code != EXIT_OK or held.failed or (rekey and _not_rekeyed(con))
            if not failed:
                record_fingerprint(con, fingerprint, held.started)
    except BaseException:
        _rollback(con)
        raise
    if failed:
        _rollback(con)
        _say("运行失败：本次运行所有报告期的改动均已撤销，数据仓库未改变 / the run failed: the changes of every "
             "period of this run were rolled back; the warehouse is unchanged")
        return EXIT_HARD
    try:
        with phase("write"):
            con.execute("commit")
    except duckdb.Error as exc:
        _rollback(con)
        _say(f"提交失败：本次运行的改动均未保存，数据仓库未改变 / the commit failed: nothing of this run was stored; "
             f"the warehouse is unchanged ({str(exc).splitlines()[0]})")
        return EXIT_HARD
    if rekey:
        _say("已用新的假名密钥重新读取全部版本 / every version was read again with the new pseudonym key")
    _summary(settings, periods, time.monotonic() - started)
    from shangluo.timing import dump
    dump()
    return EXIT_OK


def _not_rekeyed(con) -> bool:
    """Versions in force whose files are no longer in landing cannot be read with the new key: say
    which (the re-keying run is then rolled back rather than mix two sets of pseudonyms)."""
    from schemas.catalogue import RETURNS
    with_ids = sorted(r.return_id for r in RETURNS.values() if any(f.kind == "id_number" for f in r.fields))
    stale = con.execute(
        "select period, county_code, return_id, source from landing.submissions where status = 'accepted' "
        "and return_id in (select unnest(?)) and submission_id not in (select submission_id from landing.files) "
        "order by all", [with_ids]).fetchall()
    for period, county, return_id, source in stale:
        _say(f"无法用新密钥重新读取 / cannot be read again with the new key: {period} {county} {return_id} {source} "
             "（采用中的版本已不在接收目录中 / the version in force is no longer in landing）")
    return bool(stale)


def _rollback(con):
    import duckdb
    try:
        con.execute("rollback")
    except duckdb.Error:      # a failed commit or statement has already ended the transaction
        pass


def _run_periods(settings: Settings, periods: list[str], args, con, force: bool) -> int:
    """One Dagster run (partition) per period, all writing into `con`'s open transaction."""
    dagster_env()
    import dagster as dg

    from pipelines.assets import ALL_ASSETS, period_partitions, selection
    from pipelines.resources import WarehouseResource
    from warehouse.ledger import returns_to_read

    from shangluo.config import rules_version

    instance = dg.DagsterInstance.get()
    _free_stale_slots(instance)
    tags = {"shangluo/county": args.county or "", "shangluo/force": "true" if force else "false",
            "shangluo/trigger": "cli", "shangluo/pid": str(os.getpid()), "shangluo/host": socket.gethostname()}
    for period in periods:
        if not instance.has_dynamic_partition(period_partitions.name, period):
            instance.add_dynamic_partitions(period_partitions.name, [period])
        # the returns whose landing files changed since the warehouse last took them; the rest of
        # staging stays as it is (staging never reads P-1, so P-1's run just before changes nothing here)
        read = returns_to_read(con, settings.landing, period, rules_version(), args.county, force)
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
            _say(f"{period}: 运行失败 / the run of {period} failed")
            return EXIT_HARD
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
