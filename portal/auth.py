"""Accounts, passwords (argon2), sessions, CSRF tokens and the sign-in rate limit."""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from schemas.core import AREAS, CITY_CODE

from . import store

HASHER = PasswordHasher()
_DUMMY_HASH = HASHER.hash(secrets.token_hex(16))     # verified when the name is unknown: same cost either way
MIN_PASSWORD = 10
ROLES = ("clerk", "analyst")


def idle_seconds() -> float:
    return float(os.environ.get("SHANGLUO_PORTAL_SESSION_IDLE_MINUTES", "30")) * 60


def max_session_seconds() -> float:
    return float(os.environ.get("SHANGLUO_PORTAL_SESSION_HOURS", "8")) * 3600


def attempts_allowed() -> tuple[int, float]:
    """Failed sign-ins allowed per user name or address within the window (seconds)."""
    return int(os.environ.get("SHANGLUO_PORTAL_LOGIN_ATTEMPTS", "5")), 15 * 60


class AccountError(Exception):
    pass


def add_user(name: str, county: str, role: str, password: str) -> None:
    if not name or len(name) > 64 or not name.replace("_", "").replace("-", "").replace(".", "").isalnum():
        raise AccountError("用户名只能包含字母、数字、_-. / a user name is letters, digits and _-. only")
    if store.masked(name) != name:
        raise AccountError("用户名不能是身份证号 / a user name cannot be an ID number")
    if role not in ROLES:
        raise AccountError(f"角色必须是clerk或analyst / role must be clerk or analyst, not {role!r}")
    county = CITY_CODE if county == "city" and role == "analyst" else county
    if role == "analyst" and county != CITY_CODE:
        raise AccountError("分析员账号属于市局：--county city / an analyst belongs to the city: --county city")
    if role == "clerk" and county not in AREAS:
        raise AccountError(f"县区代码无效 / unknown county code {county!r}: one of {', '.join(AREAS)}")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"密码至少{MIN_PASSWORD}个字符 / the password needs at least {MIN_PASSWORD} characters")
    with store.connect() as con:
        if con.execute("select 1 from users where name = ?", [name]).fetchone():
            raise AccountError(f"用户已存在 / the user {name} exists")
        con.execute("insert into users (name, password_hash, county, role, created_at) values (?, ?, ?, ?, ?)",
                    [name, HASHER.hash(password), county, role, store.now()])
        store.audit(con, "user.add", county=county, target=name, decision=role)


def disable_user(name: str) -> bool:
    with store.connect() as con:
        row = con.execute("select id, county from users where name = ?", [name]).fetchone()
        if row is None:
            return False
        con.execute("update users set disabled = 1 where id = ?", [row["id"]])
        con.execute("delete from sessions where user_id = ?", [row["id"]])
        store.audit(con, "user.disable", county=row["county"], target=name)
    return True


def list_users() -> list[dict]:
    with store.connect() as con:
        return [dict(r) for r in con.execute("select name, county, role, disabled, created_at from users order by name")]


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def rate_limited(con, name: str, ip: str) -> bool:
    allowed, window = attempts_allowed()
    since = time.time() - window
    con.execute("delete from login_attempts where at < ?", [since - window])
    row = con.execute(
        "select count(*) filter (where name = ?) as by_name, count(*) filter (where ip = ?) as by_ip "
        "from login_attempts where ok = 0 and at >= ?", [store.masked(name), ip, since]).fetchone()
    return row["by_name"] >= allowed or row["by_ip"] >= allowed * 4


def sign_in(con, name: str, password: str, ip: str) -> str | None:
    """A new session token, or None.  The caller checks the rate limit first."""
    user = con.execute("select * from users where name = ?", [name]).fetchone()
    try:
        ok = HASHER.verify(user["password_hash"] if user else _DUMMY_HASH, password) and user is not None
    except (VerificationError, InvalidHashError):
        ok = False
    ok = ok and not user["disabled"]
    con.execute("insert into login_attempts (name, ip, at, ok) values (?, ?, ?, ?)",
                [store.masked(name), ip, time.time(), int(ok)])        # a name typed may be an ID number
    store.audit(con, "login", user=user if ok else None, ip=ip, target=name, decision="ok" if ok else "refused")
    if not ok:
        return None
    if HASHER.check_needs_rehash(user["password_hash"]):
        con.execute("update users set password_hash = ? where id = ?", [HASHER.hash(password), user["id"]])
    token = secrets.token_urlsafe(32)
    t = time.time()
    con.execute("insert into sessions (token_hash, user_id, csrf, created_at, last_seen, ip) values (?, ?, ?, ?, ?, ?)",
                [_token_hash(token), user["id"], secrets.token_urlsafe(32), t, t, ip])
    return token


def session_user(con, token: str | None) -> dict | None:
    """The signed-in user of a session cookie (with its CSRF token), or None if absent or expired."""
    if not token:
        return None
    row = con.execute("select s.token_hash, s.csrf, s.created_at as signed_in_at, s.last_seen, u.id, u.name, "
                      "u.county, u.role, u.disabled from sessions s join users u on u.id = s.user_id "
                      "where s.token_hash = ?", [_token_hash(token)]).fetchone()
    if row is None:
        return None
    t = time.time()
    if row["disabled"] or t - row["last_seen"] > idle_seconds() or t - row["signed_in_at"] > max_session_seconds():
        con.execute("delete from sessions where token_hash = ?", [row["token_hash"]])
        return None
    con.execute("update sessions set last_seen = ? where token_hash = ?", [t, row["token_hash"]])
    return dict(row)


def sign_out(con, token: str | None):
    if token:
        con.execute("delete from sessions where token_hash = ?", [_token_hash(token)])


def same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(a, b)
