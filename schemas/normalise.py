"""Typing raw strings, vectorised: one DuckDB SELECT per return, generated from its declaration.

Per field `f` the query yields the typed value `f`, `f__missing` (nothing written) and
`f__bad` (something written that is not a value of the field's kind).  An ID number also yields
`f__hash`, its HMAC-SHA256 pseudonym (SPEC section 7), computed inside DuckDB with the key passed
as a parameter; the clear value lives only in memory, for the checks, and is never stored.
"""
from __future__ import annotations

import hashlib
import hmac

import duckdb
import pyarrow as pa

from .core import Field, Return

FULL_WIDTH = "０１２３４５６７８９．，－＋　"
HALF_WIDTH = "0123456789.,-+ "
TRUE_WORDS = ("是", "y", "yes", "true", "1", "√", "有")
FALSE_WORDS = ("否", "n", "no", "false", "0", "×", "无")
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日", "%Y%m%d", "%Y.%m.%d", "%Y-%m-%d %H:%M:%S")

MACROS = f"""
create or replace macro sl_clean(x) as nullif(trim(regexp_replace(x, '[\\s\\x{{3000}}\\x{{00A0}}]+', ' ', 'g')), '');
create or replace macro sl_compact(x) as
    nullif(regexp_replace(translate(x, '{FULL_WIDTH}', '{HALF_WIDTH}'), '[\\s,\\x{{00A0}}]', '', 'g'), '');
create or replace macro sl_number(x) as try_cast(sl_compact(x) as decimal(38, 6));
create or replace macro sl_code(x) as regexp_replace(sl_compact(x), '\\.0+$', '');
"""


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _typed(f: Field, x: str) -> tuple[str, str]:
    """(typed expression, expression true when a written value is not of the kind)."""
    if f.kind == "count":
        n = f"sl_number({x})"
        typed = f"case when {n} = trunc({n}) then cast({n} as bigint) end"
        return typed, f"{typed} is null"
    if f.kind == "amount":
        typed = f"cast(sl_number({x}) as decimal(18, 6))"
        return typed, f"{typed} is null"
    if f.kind == "date":
        c = f"sl_compact({x})"
        typed = "cast(coalesce(" + ", ".join(f"try_strptime({c}, '{fmt}')" for fmt in DATE_FORMATS) + ") as date)"
        return typed, f"{typed} is null"
    if f.kind == "bool":
        c = f"lower(sl_compact({x}))"
        yes, no = ", ".join(map(_sql_str, TRUE_WORDS)), ", ".join(map(_sql_str, FALSE_WORDS))
        typed = f"case when {c} in ({yes}) then true when {c} in ({no}) then false end"
        return typed, f"{typed} is null"
    if f.kind in ("code", "county"):
        return f"sl_code({x})", "false"
    if f.kind == "id_number":
        return f"upper(sl_compact({x}))", "false"
    if f.kind == "category":
        c = f"replace(replace(regexp_replace(sl_clean({x}), '\\s', '', 'g'), '（', '('), '）', ')')"
        aliases = {**{v: v for v in f.values}, **f.value_aliases}
        whens = " ".join(f"when {_sql_str(a)} then {_sql_str(v)}" for a, v in aliases.items())
        return f"case {c} {whens} else {c} end", "false"
    return f"sl_clean({x})", "false"


def select_sql(ret: Return, present: set[str]) -> str:
    cols = ["__i"]
    for f in ret.fields:
        if f.name not in present:
            cols += [f"cast(null as {f.sql_type if f.kind != 'id_number' else 'varchar'}) as {f.name}",
                     f"true as {f.name}__missing", f"false as {f.name}__bad"]
            if f.kind == "id_number":
                cols.append(f"cast(null as varchar) as {f.name}__hash")
            continue
        x = f'raw."{f.name}"'
        typed, bad = _typed(f, x)
        cols += [f"{typed} as {f.name}", f"sl_clean({x}) is null as {f.name}__missing",
                 f"(sl_clean({x}) is not null and {bad}) as {f.name}__bad"]
        if f.kind == "id_number":
            cols.append(f"sha256($opad || unhex(sha256($ipad || encode(upper(sl_compact({x})))))) as {f.name}__hash")
    return "select " + ",\n       ".join(cols) + "\nfrom raw order by __i"


def hmac_pads(key: bytes) -> dict[str, bytes]:
    """The inner and outer HMAC-SHA256 pads, so DuckDB can compute HMAC as two SHA-256 calls."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    return {"ipad": bytes(b ^ 0x36 for b in key), "opad": bytes(b ^ 0x5C for b in key)}


def pseudonym(value: str, key: bytes) -> str:
    """The same pseudonym in Python (for tests and single values)."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def normalise(ret: Return, columns: dict[str, list], key: bytes, con: duckdb.DuckDBPyConnection | None = None) -> pa.Table:
    """Raw strings (field -> list, all of one length) -> the typed Arrow table with flags."""
    n = len(next(iter(columns.values()))) if columns else 0
    raw = pa.table({"__i": pa.array(range(n), pa.int64()),
                    **{name: pa.array(values, pa.string()) for name, values in columns.items()}})
    own = con is None
    con = con or duckdb.connect()
    try:
        con.execute(MACROS)
        con.register("raw", raw)
        params = hmac_pads(key) if any(f.kind == "id_number" and f.name in columns for f in ret.fields) else {}
        sql = select_sql(ret, set(columns))
        return con.sql(sql, params=params or None).to_arrow_table()
    finally:
        con.unregister("raw")
        if own:
            con.close()
