"""Typing raw strings, vectorised: one DuckDB SELECT per return, generated from its declaration.

Per field `f` the query yields the typed value `f`, `f__missing` (nothing written) and
`f__bad` (something written that is not a value of the field's kind).  An ID number also yields
`f__hash`, its HMAC-SHA256 pseudonym (SPEC section 7), computed inside DuckDB with the key passed
as a parameter; the clear value lives only in memory, for the checks, and is never stored.
"""
from __future__ import annotations

import hashlib

import duckdb
import pyarrow as pa

from . import engine
from .core import Field, Return

FULL_WIDTH = "０１２３４５６７８９．，－＋　"
HALF_WIDTH = "0123456789.,-+ "
TRUE_WORDS = ("是", "y", "yes", "true", "1", "√", "有")
FALSE_WORDS = ("否", "n", "no", "false", "0", "×", "无")

MACROS = f"""
create or replace macro sl_clean(x) as nullif(trim(translate(x, '\u3000\u00a0\t', '   ')), '');
create or replace macro sl_compact(x) as nullif(replace(replace(
    case when strlen(x) = length(x) then x            -- plain ASCII: nothing to translate
         else translate(x, '{FULL_WIDTH}\u00a0\t', '{HALF_WIDTH}  ') end, ',', ''), ' ', ''), '');
create or replace macro sl_number(x) as try_cast(sl_compact(x) as decimal(38, 6));
create or replace macro sl_code(x) as
    case when sl_compact(x) like '%.0' then regexp_replace(sl_compact(x), '\\.0+$', '') else sl_compact(x) end;
create or replace macro sl_date(c) as coalesce(
    try_cast(c as date),
    case when c like '%年%' then cast(try_strptime(c, '%Y年%m月%d日') as date)
         when c like '%/%' then cast(try_strptime(c, '%Y/%m/%d') as date)
         when c like '%.%' then cast(try_strptime(c, '%Y.%m.%d') as date)
         when length(c) = 8 then cast(try_strptime(c, '%Y%m%d') as date)
         else cast(try_cast(c as timestamp) as date) end);
"""


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _map(pairs: dict[str, str]) -> str:
    return "map {" + ", ".join(f"{_sql_str(k)}: {v}" for k, v in pairs.items()) + "}"


def _typed(f: Field, x: str) -> tuple[str, bool]:
    """(typed expression over the raw column `x`, whether a written value can fail to type)."""
    if f.kind == "count":
        return f"sl_number({x})", True          # made a whole number in select_sql
    if f.kind == "amount":
        return f"cast(sl_number({x}) as decimal(18, 6))", True
    if f.kind == "date":
        return f"sl_date(sl_compact({x}))", True
    if f.kind == "bool":
        words = {**{w: "true" for w in TRUE_WORDS}, **{w: "false" for w in FALSE_WORDS}}
        return f"map_extract_value({_map(words)}, lower(sl_compact({x})))", True
    if f.kind in ("code", "county"):
        return f"sl_code({x})", False
    if f.kind == "id_number":
        return f"upper(sl_compact({x}))", False
    if f.kind == "category":
        c = f"replace(replace(replace(sl_clean({x}), ' ', ''), '（', '('), '）', ')')"
        if not f.value_aliases:
            return c, False
        return f"coalesce(map_extract_value({_map({a: _sql_str(v) for a, v in f.value_aliases.items()})}, {c}), {c})", False
    return f"sl_clean({x})", False


def select_sql(ret: Return, present: set[str]) -> str:
    """Two levels: each value is typed once; the flags are read off the typed values."""
    inner, outer = ["__i"], ["__i"]
    for f in ret.fields:
        stype = f.sql_type if f.kind != "id_number" else "varchar"
        q, missing, bad = f'"{f.name}"', f'"{f.name}__missing"', f'"{f.name}__bad"'
        if f.name not in present:
            inner += [f"cast(null as {stype}) as {q}", f"true as {missing}"]
            outer += [q, missing, f"false as {bad}"]
            if f.kind == "id_number":
                outer.append(f'cast(null as varchar) as "{f.name}__hash"')
            continue
        x = f"raw.{q}"
        typed, can_fail = _typed(f, x)
        if f.kind == "count":    # a whole number only: 3.5 is not a count
            n = f"sl_number({x})"
            typed = f"case when {n} = trunc({n}) then cast({n} as bigint) end"
        inner += [f"{typed} as {q}", f"sl_clean({x}) is null as {missing}"]
        outer += [q, missing, f"(not {missing} and {q} is null) as {bad}" if can_fail else f"false as {bad}"]
        if f.kind == "id_number":
            outer.append(f'sha256($opad || unhex(sha256($ipad || encode({q})))) as "{f.name}__hash"')
    return ("select " + ",\n       ".join(outer) + "\nfrom (select " + ",\n       ".join(inner) +
            "\n      from raw) order by __i")


def hmac_pads(key: bytes) -> dict[str, bytes]:
    """The inner and outer HMAC-SHA256 pads, so DuckDB can compute HMAC as two SHA-256 calls."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    return {"ipad": bytes(b ^ 0x36 for b in key), "opad": bytes(b ^ 0x5C for b in key)}


def normalise(ret: Return, columns: dict[str, list], key: bytes, con: duckdb.DuckDBPyConnection | None = None) -> pa.Table:
    """Raw strings (field -> list, all of one length) -> the typed Arrow table with flags."""
    n = len(next(iter(columns.values()))) if columns else 0
    raw = pa.table({"__i": pa.array(range(n), pa.int64()),
                    **{name: values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(values, pa.string())
                       for name, values in columns.items()}})
    own = con is None
    con = con or engine.connect()
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
