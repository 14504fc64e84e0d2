"""`shangluo`: the command line for what is not Dagster's.

    shangluo run [--period P] [--county C] [--force]     materialise everything in-process
    shangluo validate PATH... [--period P] [--county C] [--json]
    shangluo sql "select ..."                            read-only query of the warehouse
    shangluo report --period P --out DIR                 the report, its tables, reconciliation and revisions
    shangluo publish --period P                          freeze the figures as a published vintage
    shangluo template [RETURN_ID...] --out DIR           blank Excel returns for the clerks
    shangluo dev                                         the Dagster UI on 127.0.0.1

Exit codes: 0 done (rejected submissions are data, not failure); 1 hard errors (validate) or a
failed run; 2 bad usage or unusable input; 3 the warehouse is busy.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
from pathlib import Path

from schemas import engine

from .config import ROOT, ConfigError, Settings

EXIT_OK, EXIT_HARD, EXIT_USAGE, EXIT_BUSY = 0, 1, 2, 3
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


def _say(text: str = ""):
    print(text, flush=True)


# ------------------------------------------------------------------ run

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

    from .config import rules_version

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
    from .timing import dump
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


# ------------------------------------------------------------------ validate

def cmd_validate(args) -> int:
    from .validate_files import validate_paths
    return validate_paths(args)


# ------------------------------------------------------------------ sql

def cmd_sql(args) -> int:
    settings = Settings.from_env()
    import duckdb
    if not settings.warehouse.exists():
        _say(f"数据仓库不存在 / no warehouse at {settings.warehouse}: run `shangluo run` first")
        return EXIT_USAGE
    try:
        con = engine.connect(str(settings.warehouse), read_only=True)
    except duckdb.IOException as exc:
        _say(f"数据仓库正被写入 / the warehouse is being written: {exc}")
        return EXIT_BUSY
    try:
        rel = con.sql(args.query)
        if rel is None:
            return EXIT_OK
        cols, rows = rel.columns, rel.fetchall()
    except duckdb.Error as exc:
        _say(str(exc))
        return EXIT_HARD
    finally:
        con.close()
    if args.json:
        print(json.dumps([dict(zip(cols, r)) for r in rows], ensure_ascii=False, default=str, indent=1))
    else:
        w = csv_writer()
        w.writerow(cols)
        w.writerows(rows)
    return EXIT_OK


def csv_writer():
    import csv
    return csv.writer(sys.stdout, lineterminator="\n")


# ------------------------------------------------------------------ report, publish, template

def _open(settings: Settings, read_only: bool):
    from warehouse.db import WarehouseBusy, connect
    if not settings.warehouse.exists():
        _say(f"数据仓库不存在 / no warehouse at {settings.warehouse}: run `shangluo run` first")
        return None, EXIT_USAGE
    try:
        return connect(settings.warehouse, read_only=read_only, wait_seconds=settings.lock_wait_seconds), EXIT_OK
    except WarehouseBusy as exc:
        _say(str(exc))
        return None, EXIT_BUSY


def cmd_report(args) -> int:
    from publish.report import write
    con, code = _open(Settings.from_env(), read_only=True)
    if con is None:
        return code
    try:
        rep, paths = write(con, args.period, args.out)
    except LookupError as exc:
        _say(str(exc))
        return EXIT_USAGE
    finally:
        con.close()
    for p in paths:
        _say(str(p))
    if rep.reconciliation:
        _say(f"与公开发布数字核对 / reconciliation: {rep.reconciled}/{len(rep.reconciliation)} equal")
    if rep.vintage:
        _say(f"与已发布版本 {rep.vintage[0]} 相比修订 / revisions against the published vintage: {len(rep.revisions)}")
    return EXIT_OK


def cmd_publish(args) -> int:
    from publish.vintage import publish
    from warehouse.db import transaction
    con, code = _open(Settings.from_env(), read_only=False)
    if con is None:
        return code
    try:
        with transaction(con):
            vintage, n = publish(con, args.period, args.note or "")
    except LookupError as exc:
        _say(str(exc))
        return EXIT_USAGE
    finally:
        con.close()
    _say(f"已发布版本 / published vintage {vintage}: {n} figures")
    return EXIT_OK


def cmd_template(args) -> int:
    from schemas.catalogue import RETURNS, match_return
    from schemas.template import template_name, write_template
    wanted = [match_return(r) for r in args.returns] if args.returns else list(RETURNS.values())
    if None in wanted:
        _say(f"未知报表 / unknown return: {[r for r, w in zip(args.returns, wanted) if w is None]}")
        return EXIT_USAGE
    for ret in wanted:
        _say(str(write_template(ret, args.out / template_name(ret))))
    return EXIT_OK


# ------------------------------------------------------------------ dev

def cmd_dev(args) -> int:
    env = {**os.environ, **dagster_env()}
    cmd = [sys.executable, "-m", "dagster", "dev", "-h", "127.0.0.1", "-p", str(args.port), "-m", "pipelines.definitions"]
    os.chdir(ROOT)
    os.execvpe(cmd[0], cmd, env)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="shangluo", description="商洛市乡村振兴统计报表 / Shangluo rural-revitalisation returns")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="materialise everything in-process (bundled sample unless SHANGLUO_LANDING is set)")
    p.add_argument("--period")
    p.add_argument("--county")
    p.add_argument("--force", action="store_true", help="parse and check again even what has not changed")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("validate", help="check return files before sending them; no warehouse needed")
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("--period")
    p.add_argument("--county")
    p.add_argument("--json", action="store_true")
    p.add_argument("--xlsx", type=Path, help="write a 审核反馈表 workbook for the clerk")
    p.set_defaults(func=cmd_validate)
    p = sub.add_parser("sql", help="a read-only query of the warehouse")
    p.add_argument("query")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_sql)
    p = sub.add_parser("report", help="the report of a period: report-P.md, report-P.html, tables-P.xlsx")
    p.add_argument("--period", required=True)
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("publish", help="freeze the figures of a period as a published vintage")
    p.add_argument("--period", required=True)
    p.add_argument("--note")
    p.set_defaults(func=cmd_publish)
    p = sub.add_parser("template", help="blank Excel returns with drop-downs and instructions")
    p.add_argument("returns", nargs="*", metavar="RETURN_ID")
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=cmd_template)
    p = sub.add_parser("dev", help="the Dagster UI on 127.0.0.1")
    p.add_argument("--port", type=int, default=3000)
    p.set_defaults(func=cmd_dev)
    args = ap.parse_args(argv)
    if args.command == "run" and args.period and not (args.period.isdigit() and len(args.period) == 4):
        ap.error("--period is a year such as 2022")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
