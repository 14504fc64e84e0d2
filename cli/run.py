"""`shangluo run`: materialise every asset in-process, one Dagster run per period, and print a summary."""
from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

from schemas import engine
from shangluo.config import ROOT, ConfigError, Settings
from shangluo.timing import phase

from . import interrupts
from .common import EXIT_BUSY, EXIT_HARD, EXIT_OK, EXIT_UNUSABLE, EXIT_USAGE, say as _say

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
    for key in ("local_artifact_storage", "compute_logs"):
        config.pop(key, None)
    config["storage"]["custom"]["config"]["base_dir"] = str(home)
    text = "# from the repository's dagster.yaml (written by shangluo; storage, artifacts and logs: here)\n" + \
        yaml.safe_dump(config, sort_keys=True)
    target = home / "dagster.yaml"
    if not target.exists() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")
    return str(home)


def cmd_run(args) -> int:
    settings = Settings.from_env()
    try:
        key = settings.pii_key()
    except ConfigError as exc:
        _say(str(exc))
        return EXIT_USAGE
    from intake.landing import periods as landing_periods
    periods = [args.period] if args.period and not args.rekey else landing_periods(settings.landing)
    if not periods:
        _say(f"接收目录中没有报告期 / no period folder in {settings.landing}")
        return EXIT_USAGE
    from intake.plan import period_range
    known = set(period_range(settings.landing))        # Dagster's partitions, without importing Dagster
    if args.period and args.period not in known:
        _say(f"报告期{args.period}不在{min(known)}–{max(known)}之内 / the period {args.period} is outside "
             f"{min(known)}–{max(known)} (periods.toml and the landing folders set the first period; the last is this year)")
        return EXIT_USAGE
    for period in [p for p in periods if p not in known]:
        _say(f"跳过目录{period}：不是{min(known)}–{max(known)}之间的报告期 / skipped the folder {period}: not a period "
             f"between {min(known)} and {max(known)}")
    periods = [p for p in periods if p in known]
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

    from warehouse.db import ensure_schema, key_fingerprint, record_fingerprint, record_stamps, recorded_fingerprint

    started = time.monotonic()
    try:
        con.execute("begin transaction")
        ensure_schema(con)
        from publish.report import drop_stale_pending
        drop_stale_pending(settings.reports)      # this command is the one writer now
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
    chain = build_stamps(settings, periods)           # landing as it is before anything is read
    stamps = {p: chain[p] for p in periods}
    current = set() if (args.force or rekey or args.county) else _built_from_these(con, settings, stamps)
    if current == set(periods):
        con.execute("rollback")
        _say("自上次运行以来接收目录、规则和程序均未改变：无需运行 / nothing changed since the last run "
             "(landing, rules, code): nothing to do")
        _summary(settings, periods, time.monotonic() - started)
        return EXIT_OK
    for period in sorted(current):
        _say(f"{period}: 未改变，沿用上次运行的结果 / unchanged since the last run: kept as built (no Dagster run)")
    held = None
    try:
        from pipelines.resources import held_transaction
        with held_transaction(con) as held:
            runs: list = []
            code = _interruptible(held, lambda: _run_periods(settings, [p for p in periods if p not in current], args,
                                                            con, force=args.force or rekey, runs=runs, held=held))
            failed = code != EXIT_OK or held.failed or (rekey and _not_rekeyed(con))
            if not failed:
                record_fingerprint(con, fingerprint, held.started)
                if not args.county:          # every file of these periods taken
                    record_stamps(con, _recordable(con, settings, chain, periods), held.started)
    except BaseException:
        _rollback(con, held)
        raise
    if failed:
        _rollback(con, held)
        _say("运行失败：本次运行所有报告期的改动均已撤销，数据仓库未改变 / the run failed: the changes of every "
             "period of this run were rolled back; the warehouse is unchanged")
        return EXIT_HARD
    # Ctrl-C from here until the report files are in place waits for them (then KeyboardInterrupt):
    # cut in two, the commit stored the figures while their report files stayed in .pending folders,
    # the old ones in place, and the next run, finding the stamps recorded, kept them as built
    stored = False
    try:
        with interrupts.deferred():
            try:
                with phase("write"):
                    con.execute("commit")
            except duckdb.Error as exc:
                _rollback(con, held)
                _say(f"提交失败：本次运行的改动均未保存，数据仓库未改变 / the commit failed: nothing of this run was "
                     f"stored; the warehouse is unchanged ({str(exc).splitlines()[0]})")
                return EXIT_HARD
            held.settle(committed=True)      # the report files in place, now that their figures are stored
            stored = True
            from pipelines.sensors import COMMITTED_TAG
            for instance, run_id in runs:      # the sensor counts a CLI run as built only once it is committed
                instance.add_run_tags(run_id, {COMMITTED_TAG: "true"})
        if rekey:
            _say("已用新的假名密钥重新读取全部版本 / every version was read again with the new pseudonym key")
        _summary(settings, periods, time.monotonic() - started)
        from shangluo.timing import dump
        dump()
    except BaseException:
        if stored and interrupts.RECEIVED:       # not "nothing was stored" alone: this run was
            _say("本次运行已提交，报告文件已放置；摘要未打印完 / the run was committed and its report files are in "
                 "place; the summary was cut short")
        raise
    return EXIT_OK


def build_stamps(settings: Settings, periods: list[str]) -> dict[str, str]:
    """period -> a digest of everything a run of it is built from: its landing files and those of
    every period before (sizes and modification times, as the sensor sees them), the code and rules,
    periods.toml and the settings that change what is stored; for `periods` and every period folder
    in landing."""
    import hashlib
    import json

    from intake.plan import digest, observe
    from shangluo.config import PERIODS_FILE, code_digest
    code = [code_digest(ROOT / folder, (".py", ".sql", ".csv", ".txt", ".html", ".css", ".toml"))
            for folder in ("cli", "intake", "pipelines", "publish", "schemas", "shangluo", "warehouse")]
    periods_file = Path(os.environ.get("SHANGLUO_PERIODS_FILE") or PERIODS_FILE)
    config = periods_file.read_text(encoding="utf-8") if periods_file.exists() else ""
    files = observe(settings.landing)
    fixed = [code, config, str(settings.landing), str(settings.reports), settings.max_file_bytes]
    # P's figures read P-1's (the `_previous` columns), and some of P-1's read P-2's staging (a
    # change over the year): each stamp holds the one of the period before, down to the first
    chain, before = {}, ""
    for p in sorted({k.split("/")[0] for k in files} | set(periods), key=lambda x: (len(x), x)):
        before = chain[p] = hashlib.sha256(json.dumps([*fixed, p, digest(files, p), before]).encode()).hexdigest()[:16]
    return chain


def _recordable(con, settings: Settings, chain: dict[str, str], periods: list[str]) -> dict[str, str]:
    """The stamps of `periods`, just built, that say what they were built from: P's only when the
    period before it is itself recorded as built from what landing holds now (P's figures read its
    figures and staging: P run alone after a correction of P-1 read P-1 as it was, and must not look
    built from the correction).  Asked after the runs, which forgot the stamps of what they wrote."""
    from intake.plan import period_range
    from warehouse.db import recorded_stamps
    known = set(period_range(settings.landing))
    ordered = sorted((p for p in chain if p in known), key=lambda x: (len(x), x))
    recorded = recorded_stamps(con, ordered)
    out: dict[str, str] = {}
    for i, period in enumerate(ordered):
        before = ordered[i - 1] if i else None
        if period in periods and (before is None or out.get(before, recorded.get(before)) == chain[before]):
            out[period] = chain[period]
    return out


def _built_from_these(con, settings: Settings, stamps: dict[str, str]) -> set[str]:
    """The periods that the last run taking every file built from exactly this (their report files
    there): running them again would change nothing.  P's stamp holds P-1's files, so a period whose
    P-1 changed is never among them; one that is keeps what it was built from P-1 as it still is."""
    from publish.report import report_files
    from warehouse.db import recorded_stamps
    recorded = recorded_stamps(con, list(stamps))
    return {period for period, stamp in stamps.items() if recorded.get(period) == stamp
            and all(p.exists() for p in report_files(settings.reports, period))}


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


def _rollback(con, held=None):
    import duckdb
    with interrupts.deferred():       # a Ctrl-C here would leave the report files in their .pending folder
        try:
            con.execute("rollback")
        except duckdb.Error:      # a failed commit or statement has already ended the transaction
            pass
        if held is not None:
            held.settle(committed=False)      # the report files of figures that were not stored


def _interruptible(held, work):
    """`work()` (the Dagster runs) in a thread of its own while the main thread waits, so that a
    Ctrl-C (or SIGTERM) always ends the same way: the running DuckDB statement stops, the run fails
    before its next asset, and KeyboardInterrupt comes here once it has ended (the caller rolls back).
    On the main thread, Dagster's own SIGINT handling depends on the moment: a failed step, an error
    raised in a garbage collector's callback and lost (the run then went on and committed), or a
    traceback from the middle of SQLAlchemy.  The signal only calls `held.interrupt()` while the main
    thread waits (`interrupts.waiting_for`): an exception raised there, as Python's own Ctrl-C does,
    lets a second Ctrl-C land before the first is handled, and the command rolled back under the
    feet of a run still writing."""
    import threading
    outcome: dict = {}
    done = threading.Event()     # not Thread.join: one interrupted by Ctrl-C returns at once thereafter

    def target():
        try:
            outcome["value"] = work()
        except BaseException as exc:       # handed to the main thread
            outcome["error"] = exc
        finally:
            done.set()

    worker = threading.Thread(target=target, name="shangluo-run")
    with interrupts.waiting_for(held.interrupt):
        worker.start()
        done.wait()
        # wholly ended, its objects freed, before the command goes on: a daemon thread still freeing
        # DuckDB's objects as the interpreter exits was killed inside C++ and aborted the process
        # ("FATAL: exception not rethrown", exit -6, seen once after a refused --rekey)
        worker.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _run_periods(settings: Settings, periods: list[str], args, con, force: bool, runs: list, held) -> int:
    """One Dagster run (partition) per period, all writing into `con`'s open transaction."""
    dagster_env()
    import dagster as dg

    from pipelines.assets import selection
    from pipelines.definitions import defs
    from pipelines.options import run_config
    from intake.plan import returns_to_read
    from warehouse.ledger import LedgerStore

    from shangluo.config import rules_version

    instance = dg.DagsterInstance.get()
    _free_stale_slots(instance)
    job = defs.resolve_job_def("build_period")     # the job the sensor and the schedule start
    tags = {"shangluo/trigger": "cli", "shangluo/pid": str(os.getpid()), "shangluo/host": socket.gethostname(),
            **({"shangluo/county": args.county} if args.county else {}), **({"shangluo/force": "true"} if force else {})}
    for period in periods:
        if held.interrupted.is_set():
            return EXIT_HARD
        # the returns whose landing files changed since the warehouse last took them; the rest of
        # staging stays as it is (staging never reads P-1, so P-1's run just before changes nothing here)
        read = returns_to_read(LedgerStore(con), settings.landing, period, rules_version(), args.county, force)
        _say(f"{period}: 重新读取 / reading again: " + ("全部报表 / every return" if read is None else
                                                     ", ".join(sorted(read)) or "无 / none (nothing changed)"))
        config = {**QUIET, **run_config(args.county, force)}
        config["resources"]["warehouse"] = {"config": {"landing": str(settings.landing),
                                                       "warehouse": str(settings.warehouse)}}
        progress = Progress(instance, period).start()     # a line that follows the steps, on a terminal only
        try:
            result = job.execute_in_process(run_config=config, partition_key=period, asset_selection=selection(read),
                                            instance=instance, tags=tags, raise_on_error=False)
        except dg.DagsterError as exc:
            _say(f"{period}: 运行未能开始 / the run of {period} could not start: {str(exc).splitlines()[0]}")
            return EXIT_HARD
        finally:
            progress.stop()
        runs.append((instance, result.run_id))
        if not result.success and held.interrupted.is_set():
            return EXIT_HARD          # Ctrl-C: the main thread says so
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


def _per_county(con, period: str):
    """Per county, each return still missing and each rejected (no version in force), and files that
    could not be used."""
    from schemas.catalogue import RETURNS
    from schemas.core import AREAS
    lines: dict[str, dict[str, list[str]]] = {}
    found = con.execute("select county_code, return_id, case when state = 'accepted' then 'newer_rejected' "
                        "else state end from landing.status where period = ? "
                        "and (state in ('missing', 'rejected') or newer_rejected)", [period]).fetchall()
    for c, r, state in sorted(found, key=lambda x: (x[0], RETURNS[x[1]].number)):
        lines.setdefault(c, {}).setdefault(state, []).append(f"{RETURNS[r].table_label}{RETURNS[r].title}")
    for c, source in con.execute("select distinct county_code, source from landing.inventory where period = ? "
                                 "and kind = 'unusable' and return_id is null order by all", [period]).fetchall():
        lines.setdefault(c, {}).setdefault("unusable", []).append(source.rsplit("/", 1)[-1])
    from intake.landing import OUTSIDE_COUNTY, SUBFOLDER
    for c, source, message in con.execute(   # folders that are no county, files beside them, subfolders
            "select distinct county_code, source, message_zh from landing.inventory where period = ? and kind = 'skipped' "
            "and (county_code not in (select unnest(?::varchar[])) or message_zh in (?, ?)) order by all",
            [period, list(AREAS), OUTSIDE_COUNTY[0], SUBFOLDER[0]]).fetchall():
        named = message if c and c not in AREAS else f"{source.split('/', 1)[-1]}（{message}）"   # the folder's message names it
        lines.setdefault(c, {}).setdefault("folder", []).append(named)
    words = {"missing": "未报送 missing", "rejected": "退回无采用版本 rejected",
             "newer_rejected": "新版本退回、原版本继续有效 newer version rejected, the one before in force",
             "unusable": "无法使用的文件 unusable", "folder": "目录 folder"}
    for c, states in sorted(lines.items()):
        parts = [f"{words[k]}: {'、'.join(v)}" for k, v in states.items()]
        where = f"{c} {AREAS.get(c, c)}" if c else f"{period}/"        # "": beside the county folders
        _say(f"  {where}: " + "; ".join(parts))


STEP_LABELS = {"landing__inventory": "清点接收目录 scanning landing", "staging": "读取和检查报表 reading and checking returns",
               "report": "表间核对、汇总和报告 cross-checks, figures and the report"}


class Progress:
    """While a period's Dagster run works: one line on the terminal, rewritten as its steps start
    and end (`2022 ▸ 读取和检查报表 … step 2/3, 14 s`). Nothing when stdout is not a terminal."""

    def __init__(self, instance, period: str, every: float = 0.5):
        import threading
        self.instance, self.period, self.every = instance, period, every
        from datetime import datetime, timedelta, timezone
        self.started, self.done = time.monotonic(), threading.Event()
        self.since = datetime.now(timezone.utc) - timedelta(seconds=1)
        self.thread = threading.Thread(target=self._follow, daemon=True)
        self.enabled = sys.stdout.isatty()

    def start(self) -> "Progress":
        if self.enabled:
            self.thread.start()
        return self

    def stop(self):
        if self.enabled:
            self.done.set()
            self.thread.join(timeout=5)
            sys.stdout.write("\r\033[K")
            sys.stdout.flush()

    def _run_id(self):
        import dagster as dg
        runs = self.instance.get_runs(filters=dg.RunsFilter(
            tags={"shangluo/pid": str(os.getpid()), "dagster/partition": self.period}, created_after=self.since), limit=1)
        return runs[0].run_id if runs else None

    def _follow(self):
        import dagster as dg
        run_id, line = None, f"{self.period} ▸ 启动 starting"
        while not self.done.wait(self.every):
            try:
                run_id = run_id or self._run_id()
                if run_id:
                    events = self.instance.get_records_for_run(
                        run_id, of_type={dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS}).records
                    steps = [r.event_log_entry.dagster_event for r in events]
                    started = [e.step_key for e in steps if e.event_type == dg.DagsterEventType.STEP_START]
                    finished = sum(1 for e in steps if e.event_type == dg.DagsterEventType.STEP_SUCCESS)
                    if started:
                        key = started[-1]
                        line = (f"{self.period} ▸ {STEP_LABELS.get(key, key)} … 步骤 step {len(started)}, "
                                f"完成 done {finished}")
            except Exception as exc:      # the display must never disturb the run
                line = f"{self.period} ▸ {exc!r}"
            sys.stdout.write(f"\r\033[K{line}, {time.monotonic() - self.started:.0f} s")
            sys.stdout.flush()


def _incomplete(con, period: str) -> list[tuple[str, str]]:
    """The city's incomplete figures and why (the missing counties and returns), in Chinese."""
    return [(label, (reason or "").split(" / ")[0]) for label, reason in con.execute(
        "select label_zh, reason from report.figures where period = ? and area_code = '611000' and not complete "
        "order by figure_id", [period]).fetchall()]


def _summary(settings: Settings, periods: list[str], seconds: float):
    from publish.report import report_files
    from schemas.core import CITY_CODE, COUNTIES
    con = engine.connect(str(settings.warehouse))
    try:
        for period in periods:
            status = dict(con.execute("select state, count(*) from landing.status where period = ? group by state",
                                      [period]).fetchall())
            city_level = con.execute("select count(*) from landing.status where period = ? and county_code = ? "
                                     "and state = 'accepted'", [period, CITY_CODE]).fetchall()[0][0]
            figs = con.execute("select count(*), count(*) filter (where complete) from report.figures "
                               "where period = ? and area_code = '611000'", [period]).fetchall()[0]
            _say(f"{period}: 报表 accepted {status.get('accepted', 0)} / rejected {status.get('rejected', 0)} / "
                 f"missing {status.get('missing', 0)}; 全市指标 {figs[1]}/{figs[0]} complete")
            if city_level:
                _say(f"  采用的报表含市本级（{CITY_CODE}）{city_level} 份，{len(COUNTIES)}个县区之外 / accepted includes "
                     f"{city_level} from the city level ({CITY_CODE}) besides the {len(COUNTIES)} counties")
            for label, reason in _incomplete(con, period):
                _say(f"  不完整 incomplete: {label}：{reason}")
            # what needs a clerk now: the newest rejected version where it is the newest one received
            # (not a version that a later accepted correction already replaced)
            for c, r, source, hard, older in con.execute(
                    "select s.county_code, s.return_id, arg_max(s.source, s.first_seen_at), "
                    "arg_max(s.hard_count, s.first_seen_at), any_value(t.newer_rejected) "
                    "from landing.submissions s join landing.status t using (period, county_code, return_id) "
                    "where s.period = ? and s.status = 'rejected' and (t.state = 'rejected' or t.newer_rejected) "
                    "group by all order by all", [period]).fetchall():
                kept = "；此前采用的版本继续有效 / the version accepted before stays in force" if older else ""
                why = f"{hard} hard" if hard else "重复报送 duplicate submission"
                _say(f"  退回 rejected: {c} {r} {source} ({why}){kept}")
            _per_county(con, period)
            written = [p for p in report_files(settings.reports, period) if p.exists()]
            if written:
                _say("  报告 report: " + ", ".join(str(p) for p in written))
    finally:
        con.close()
    _say(f"数据仓库 / warehouse: {settings.warehouse}  ({seconds:.1f} s)")
