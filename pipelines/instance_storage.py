"""The project's Dagster instance storage: Dagster's own SQLite storage (the same files, in the same
folders), keeping one SQLAlchemy engine and connection per database file instead of creating them
for every statement.  Dagster's SQLite storages build an engine and open a connection each time they
connect, and a run of `shangluo run` stores some 160 events: about 2 s of a 20 s sample run, half
of it saved here.  Each statement still commits at once, so processes that share the files
(webserver, daemon, CLI) see each other's writes as before; an idle connection holds no lock.

Named in the instance's dagster.yaml (`storage: custom:`, see `cli.run.project_home`)."""
from __future__ import annotations

import threading
from collections import OrderedDict
from contextlib import contextmanager

from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage
from dagster._core.storage.schedules.sqlite.sqlite_schedule_storage import SqliteScheduleStorage
from dagster._core.storage.sqlite_storage import (DagsterSqliteStorage, _event_logs_directory, _runs_directory,
                                                  _schedule_directory)
from sqlalchemy import create_engine, event
from sqlalchemy.pool import QueuePool

KEEP = 16      # engines kept at most: a webserver looks at many runs' files, each its own database
_engines: OrderedDict[str, object] = OrderedDict()
_lock = threading.Lock()


def _engine(conn_string: str, **connect_args):
    """The engine of one database file, one connection kept between statements (an idle SQLite
    connection holds no lock; those of threads at the same time are opened and closed as Dagster's
    are); the least recently used engine beyond KEEP is closed."""
    with _lock:
        engine = _engines.pop(conn_string, None)
        if engine is None:
            engine = create_engine(conn_string, poolclass=QueuePool, pool_size=1, max_overflow=-1,
                                   connect_args=connect_args)
            event.listen(engine, "connect", _relaxed_sync)
        _engines[conn_string] = engine
        while len(_engines) > KEEP:
            _engines.popitem(last=False)[1].dispose()
        return engine


def _forget(prefix: str):
    """Close the kept engines of the database files under `prefix` (a storage's folder): before its
    files are deleted (wipe), so that no kept connection writes into a file that is gone, and when the
    storage is disposed of."""
    with _lock:
        for conn_string in [c for c in _engines if c.startswith(prefix)]:
            _engines.pop(conn_string).dispose()


def _relaxed_sync(dbapi_connection, _record):
    """In WAL mode (Dagster's SQLite files), a commit waits for the disk only at checkpoints: the
    file is never corrupted, though the last events may be lost to a power cut (not to a crash of
    the process); Dagster's default waits for the disk at every event, some 5 ms each."""
    if dbapi_connection.execute("pragma journal_mode").fetchone()[0] == "wal":
        dbapi_connection.execute("pragma synchronous = normal")


@contextmanager
def _begin(engine):
    with engine.connect() as conn, conn.begin():
        yield conn


class _EventLog(SqliteEventLogStorage):
    @contextmanager
    def _connect(self, shard: str):
        from dagster._core.storage.event_log.sqlite.sqlite_event_log import SQLITE_BUSY_TIMEOUT_SECONDS
        with self._db_lock:
            engine = _engine(self.conn_string_for_shard(shard), timeout=SQLITE_BUSY_TIMEOUT_SECONDS)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
                engine.dispose()     # a new file is in WAL mode only now: its kept connection opens again
            with _begin(engine) as conn:
                yield conn

    def _prefix(self) -> str:
        return self.conn_string_for_shard("x")[: -len("x.db")]

    def wipe(self) -> None:
        _forget(self._prefix())
        super().wipe()

    def dispose(self) -> None:
        _forget(self._prefix())
        super().dispose()


class _Runs(SqliteRunStorage):
    @contextmanager
    def connect(self):
        with _begin(_engine(self._conn_string)) as conn:
            yield conn


    def dispose(self) -> None:
        _forget(self._conn_string)
        super().dispose()


class _Schedules(SqliteScheduleStorage):
    @contextmanager
    def connect(self):
        with _begin(_engine(self._conn_string)) as conn:
            yield conn

    def dispose(self) -> None:
        _forget(self._conn_string)
        super().dispose()


class ProjectSqliteStorage(DagsterSqliteStorage):
    """`storage: sqlite:` with engines kept (config: base_dir, as Dagster's)."""

    def __init__(self, base_dir: str, inst_data=None):
        self.base_dir = base_dir
        self._run_storage = _Runs.from_local(_runs_directory(base_dir))
        self._event_log_storage = _EventLog(_event_logs_directory(base_dir))
        self._schedule_storage = _Schedules.from_local(_schedule_directory(base_dir))
        self._inst_data = inst_data
        super(DagsterSqliteStorage, self).__init__()

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls.from_local(inst_data=inst_data, **config_value)
