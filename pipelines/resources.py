"""The warehouse as a Dagster resource: one connection and one transaction.

`shangluo run` holds the one writing connection and its transaction over every period
(`held_transaction`): each period's Dagster run (in-process) writes into it without committing,
and the command commits after the last period, reporting a failed commit as a failed run.  So a
command's changes become visible all at once or not at all (a killed process leaves an
uncommitted transaction, which DuckDB discards).

Started otherwise (a sensor, the UI), the resource is opened once per run: every asset of the
run writes into the same DuckDB transaction, committed when the run ends with no failed step and
rolled back otherwise.  The connection is opened only when a run starts: never at import time or
in a sensor.
"""

import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import dagster as dg
from pydantic import PrivateAttr

from publish.report import drop_stale_pending
from shangluo.config import Settings, rules_version
from shangluo.timing import phase
from warehouse.db import (connect, ensure_schema, forget_stamps, key_fingerprint, record_fingerprint,
                          recorded_fingerprint)


class CommitFailed(Exception):
    """The warehouse refused the run's commit (a full disk, a read-only folder, …)."""


class Interrupted(Exception):
    """Ctrl-C during `shangluo run`: the run stops before its next asset (`HeldTransaction.interrupt`)."""


class AnotherKey(Exception):
    """The run's pseudonym key is not the one the warehouse was built with."""


def _same_key(con, settings: Settings, now: datetime):
    """A run that Dagster starts (sensor, schedule, UI) refuses another pseudonym key, as `shangluo
    run` does: it would mix two sets of pseudonyms.  Changing the key is `shangluo run --rekey`."""
    fingerprint, recorded = key_fingerprint(settings.pii_key()), recorded_fingerprint(con)
    if recorded is None:
        record_fingerprint(con, fingerprint, now)
    elif recorded != fingerprint:
        raise AnotherKey("SHANGLUO_PII_KEY与建立数据仓库时的假名密钥不同：本次运行未改动数据仓库；若确要更换密钥，请运行 "
                         "`shangluo run --rekey` / SHANGLUO_PII_KEY is not the pseudonym key the warehouse was built "
                         "with: this run changed nothing; to change the key, run `shangluo run --rekey`")


@dataclass
class HeldTransaction:
    """The open transaction of a `shangluo run`, shared by the Dagster runs of its periods."""
    con: object
    started: datetime = field(default_factory=datetime.now)
    failed: bool = False
    pending: list = field(default_factory=list)      # (publish, discard) of files, settled after the commit
    interrupted: threading.Event = field(default_factory=threading.Event)

    def settle(self, committed: bool):
        settle(self.pending, committed)

    def interrupt(self):
        """Ctrl-C, from the command's main thread while a run works in another: the running DuckDB
        statement stops, and so does the run at its next asset (`WarehouseResource.writing`)."""
        self.interrupted.set()
        self.con.interrupt()


def settle(pending: list, committed: bool):
    """Files written beside the warehouse during a run (the report) are put in place once its
    changes are committed, and dropped when they are not: they never show uncommitted figures."""
    for publish, discard in pending:
        try:
            (publish if committed else discard)()
        except OSError as exc:       # the warehouse is committed either way: say so, do not undo it
            print(f"报告文件未能放置 / a report file could not be put in place: {exc}", file=sys.stderr)
    pending.clear()


_HELD: list[HeldTransaction] = []


@contextmanager
def held_transaction(con):
    """Every run of the warehouse resource in this process writes into `con`'s open transaction and
    leaves committing to the caller; `.failed` says whether a run asked for a rollback."""
    held = HeldTransaction(con)
    _HELD.append(held)
    try:
        yield held
    finally:
        _HELD.remove(held)


def _forget_stamps(context: dg.InitResourceContext, con):
    """A run may change its period and, through the figures that read it, every later one: their
    stamps no longer say what they were built from (`shangluo run` records them again after a run
    that took every file), so a later `shangluo run` does not skip them.  No partition known: every
    stamp."""
    run = getattr(context, "dagster_run", None)
    period = run.tags.get("dagster/partition") if run is not None else None
    if period and period.isdigit():
        forget_stamps(con, since=period)
    else:
        forget_stamps(con)


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse and the landing folder of the run (defaults from the environment)."""

    warehouse: str = ""
    landing: str = ""
    lock_wait_seconds: float = -1

    _con = PrivateAttr(default=None)
    _failed = PrivateAttr(default=False)
    _owned = PrivateAttr(default=False)      # this run's own transaction (not a `shangluo run`'s)
    _open = PrivateAttr(default=False)       # its transaction is open
    _pending = PrivateAttr(default=None)     # (publish, discard) of files written by the run
    _started = PrivateAttr(default=None)
    _held = PrivateAttr(default=None)        # the `shangluo run` whose transaction this run writes into

    @property
    def settings(self) -> Settings:
        base = Settings.from_env()
        return Settings(landing=Path(self.landing).resolve() if self.landing else base.landing,
                        warehouse=Path(self.warehouse) if self.warehouse else base.warehouse,
                        lock_wait_seconds=self.lock_wait_seconds if self.lock_wait_seconds >= 0 else base.lock_wait_seconds,
                        max_file_bytes=base.max_file_bytes, reports=base.reports)

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext):
        if _HELD:
            held = _HELD[-1]
            self._con, self._failed, self._started, self._owned = held.con, False, held.started, False
            self._pending, self._held = held.pending, held
            _forget_stamps(context, held.con)
            try:
                yield self
            finally:
                held.failed = held.failed or self._failed
                self._con, self._held = None, None
            return
        settings = self.settings
        con = connect(settings.warehouse, wait_seconds=settings.lock_wait_seconds)
        try:
            con.execute("begin transaction")
            self._con, self._failed, self._started, self._owned, self._open = con, False, datetime.now(), True, True
            self._pending = []
            ensure_schema(con)
            drop_stale_pending(settings.reports)      # this run is the one writer now
            _same_key(con, settings, self._started)
            _forget_stamps(context, con)
            yield self
            if self._open:      # the last step commits (`commit`); what is left here is a failure's
                con.execute("rollback")
        except BaseException:
            if self._open:
                con.execute("rollback")
            raise
        finally:
            settle(self._pending, committed=False)      # what was committed has been settled already
            self._con, self._open = None, False
            con.close()

    @contextmanager
    def writing(self):
        """The run's connection; a failure here rolls back the whole run at its end."""
        try:
            if self._held is not None and self._held.interrupted.is_set():
                raise Interrupted("已中断 / interrupted")
            yield self._con
        except BaseException:
            self._failed = True
            raise

    def commit(self):
        """Commit the run's own transaction, in its last step: a failed commit then fails that step
        and so the run.  (A commit in the resource's teardown would fail unseen: Dagster only logs
        a teardown's error and counts the run a success.)  Under `shangluo run` the command commits
        after its last period; after a failure, the teardown rolls back."""
        if not (self._owned and self._open):
            return
        if self._failed:
            raise CommitFailed("运行已撤销：一项阻断性检查未通过，本次运行的改动均未保存 / the run was rolled back: a "
                               "blocking check failed; nothing of this run was stored")
        self._open = False
        try:
            with phase("write"):
                self._con.execute("commit")
            settle(self._pending, committed=True)
        except Exception as exc:
            self._failed = True
            raise CommitFailed(f"提交失败：本次运行的改动均未保存，数据仓库未改变 / the commit failed: nothing of this run "
                               f"was stored; the warehouse is unchanged ({str(exc).splitlines()[0]})") from exc

    def after_commit(self, publish, discard):
        """`publish()` once the run's changes are committed (by the run, or by `shangluo run` after
        its last period), `discard()` if they are not."""
        self._pending.append((publish, discard))

    def fail(self):
        """Roll the whole run back at its end (a blocking check found a defect)."""
        self._failed = True

    @property
    def run_started(self) -> datetime:
        return self._started

    @property
    def rules_version(self) -> str:
        return rules_version()
