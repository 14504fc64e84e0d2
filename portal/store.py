"""The portal's own state: accounts, sessions, sign-in attempts, uploads in progress, the city's
reviews (退回 / 已审) and the append-only audit log.  SQLite at `SHANGLUO_PORTAL_DB` (default:
`portal.sqlite` beside the warehouse), never the warehouse.  Uploads in progress and the archive of
replaced landing files live in a folder beside it (`<db stem>-files/`), never in landing."""
from __future__ import annotations

import os
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

from shangluo.config import Settings

SCHEMA = """
create table if not exists users (
    id integer primary key, name text not null unique, password_hash text not null,
    county text not null, role text not null check (role in ('clerk', 'analyst')),
    disabled integer not null default 0, created_at text not null);
create table if not exists sessions (
    token_hash text primary key, user_id integer not null references users(id), csrf text not null,
    created_at real not null, last_seen real not null, ip text);
create table if not exists login_attempts (name text, ip text, at real not null, ok integer not null);
create index if not exists login_attempts_at on login_attempts(at);
create table if not exists uploads (
    id text primary key, user_id integer not null, county text not null, period text not null,
    stored_name text not null, original_name text, sha256 text not null, size integer not null,
    created_at text not null, findings text not null, returns text not null, notes text not null,
    unusable integer not null, submitted_at text, landing_source text);
create table if not exists reviews (
    id integer primary key, period text not null, county text not null, return_id text not null,
    submission_id text, action text not null check (action in ('returned', 'reviewed')),
    comment text, user_name text not null, at text not null);
create table if not exists audit (
    id integer primary key autoincrement, at text not null, user_name text, county text, ip text,
    action text not null, period text, target text, sha256 text, decision text, detail text);
create trigger if not exists audit_no_update before update on audit
    begin select raise(abort, 'audit log is append-only'); end;
create trigger if not exists audit_no_delete before delete on audit
    begin select raise(abort, 'audit log is append-only'); end;
create trigger if not exists reviews_no_update before update on reviews
    begin select raise(abort, 'reviews are append-only'); end;
create trigger if not exists reviews_no_delete before delete on reviews
    begin select raise(abort, 'reviews are append-only'); end;
"""


def db_path() -> Path:
    named = os.environ.get("SHANGLUO_PORTAL_DB")
    return Path(named) if named else Settings.from_env().warehouse.parent / "portal.sqlite"


def files_dir(kind: str) -> Path:
    """`uploads` (in progress) or `archive` (landing files replaced through the portal)."""
    db = db_path()
    path = db.parent / f"{db.stem}-files" / kind
    if not path.is_dir():                   # files as sent: ID numbers in clear, like landing
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(path.parent, 0o700)
    return path


def now() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


def since(seconds: float) -> str:
    return (datetime.now(timezone.utc) - timedelta(seconds=seconds)).astimezone().isoformat(timespec="seconds")


@contextmanager
def connect():
    path = db_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
    con.row_factory = sqlite3.Row
    try:
        con.execute("pragma journal_mode=wal")
        con.execute("pragma foreign_keys=on")
        con.executescript(SCHEMA)
        yield con
    finally:
        con.close()


def audit(con, action: str, *, user=None, ip=None, period=None, target=None, sha256=None, decision=None,
          detail=None, county=None):
    con.execute("insert into audit (at, user_name, county, ip, action, period, target, sha256, decision, detail) "
                "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [now(), user["name"] if user else None, county or (user["county"] if user else None), ip, action,
                 period, target, sha256, decision, detail])
