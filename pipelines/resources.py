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

from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import dagster as dg
from pydantic import PrivateAttr

from shangluo.config import Settings, rules_version
from shangluo.timing import phase
from warehouse.db import connect, ensure_schema


@dataclass
class HeldTransaction:
    """The open transaction of a `shangluo run`, shared by the Dagster runs of its periods."""
    con: object
    started: datetime = field(default_factory=datetime.now)
    failed: bool = False


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


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse and the landing folder of the run (defaults from the environment)."""

    warehouse: str = ""
    landing: str = ""
    lock_wait_seconds: float = -1

    _con = PrivateAttr(default=None)
    _failed = PrivateAttr(default=False)
    _started = PrivateAttr(default=None)

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
            self._con, self._failed, self._started = held.con, False, held.started
            try:
                yield self
            finally:
                held.failed = held.failed or self._failed
                self._con = None
            return
        settings = self.settings
        con = connect(settings.warehouse, wait_seconds=settings.lock_wait_seconds)
        try:
            con.execute("begin transaction")
            ensure_schema(con)
            self._con, self._failed, self._started = con, False, datetime.now()
            yield self
            with phase("write"):
                con.execute("rollback" if self._failed else "commit")
        except BaseException:
            con.execute("rollback")
            raise
        finally:
            self._con = None
            con.close()

    @contextmanager
    def writing(self):
        """The run's connection; a failure here rolls back the whole run at its end."""
        try:
            yield self._con
        except BaseException:
            self._failed = True
            raise

    def fail(self):
        """Roll the whole run back at its end (a blocking check found a defect)."""
        self._failed = True

    @property
    def run_started(self) -> datetime:
        return self._started

    @property
    def rules_version(self) -> str:
        return rules_version()
