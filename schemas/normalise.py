"""Typing raw strings, vectorised: one DuckDB SELECT per return, generated from its declaration.

Per field `f` the query yields the typed value `f`, `f__missing` (nothing written) and
`f__bad` (something written that is not a value of the field's kind).  An ID number also yields
`f__hash`, its HMAC-SHA256 pseudonym (SPEC section 7), computed inside DuckDB with the key passed
as a parameter, and the facts its rules read (`checks.ID_FACTS`); the clear value lives only in
memory, for the checks, and is never stored.
"""
from __future__ import annotations

import hashlib
from decimal import Decimal

import pyarrow as pa

from . import engine
from .checks import ID_FACTS
from .core import Field, Return
from .messages import holds_id_sql, masked_text_sql

FULL_WIDTH = "０１２３４５６７８９．，－＋　"
HALF_WIDTH = "0123456789.,-+ "
TRUE_WORDS = ("是", "y", "yes", "true", "1", "√", "有")
FALSE_WORDS = ("否", "n", "no", "false", "0", "×", "无")

MACROS = f"""
create or replace temp macro sl_clean(x) as nullif(trim(
    case when contains(x, '\u3000') or contains(x, '\u00a0') or contains(x, chr(9))
         then translate(x, '\u3000\u00a0\t', '   ') else x end), '');
create or replace temp macro sl_half_width(x) as
    case when strlen(x) = length(x) then x            -- plain ASCII: nothing to translate
         else translate(x, '{FULL_WIDTH}\u00a0\t', '{HALF_WIDTH}  ') end;
create or replace temp macro sl_compact(x) as nullif(replace(replace(sl_half_width(x), ',', ''), ' ', ''), '');
-- thousands separators only where they group thousands: 1,234,567.5, never 2,3 (read as 23) or 12,34
create or replace temp macro sl_grouped(x) as
    case when contains(x, ',') or contains(x, '，')
         then regexp_full_match(replace(sl_half_width(x), ' ', ''), '[+-]?[0-9]{{1,3}}(,[0-9]{{3}})+([.][0-9]*)?')
         else true end;
-- a number of more than 24 characters is no value (so that no product or cast below can overflow)
create or replace temp macro sl_number(x) as
    case when length(sl_compact(x)) <= 24 and sl_grouped(x) then try_cast(sl_compact(x) as decimal(38, 6)) end;
-- a date written with digits that Python can hold (years 1-9999): DuckDB also reads 'infinity',
-- 'epoch' and year 99999, which no clerk means (and 'infinity' broke every county's check)
create or replace temp macro sl_date_any(c) as case when left(c, 1) between '0' and '9' then coalesce(
    try_cast(c as date),
    case when c like '%年%' then cast(try_strptime(c, '%Y年%m月%d日') as date)
         when c like '%/%' then cast(try_strptime(c, '%Y/%m/%d') as date)
         when c like '%.%' then cast(try_strptime(c, '%Y.%m.%d') as date)
         when length(c) = 8 then cast(try_strptime(c, '%Y%m%d') as date)
         else cast(try_cast(c as timestamp) as date) end) end;
create or replace temp macro sl_date_in_range(d) as case when d between date '0001-01-01' and date '9999-12-31' then d end;
create or replace temp macro sl_date(c) as sl_date_in_range(sl_date_any(c));
"""


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _case(value: str, pairs: dict[str, str], otherwise: str = "null") -> str:
    """A lookup as CASE (a map literal costs several times more per row in DuckDB)."""
    by_result: dict[str, list[str]] = {}
    for k, v in pairs.items():
        by_result.setdefault(v, []).append(_sql_str(k))
    whens = " ".join(f"when {value} in ({', '.join(ks)}) then {v}" for v, ks in by_result.items())
    return f"case {whens} else {otherwise} end"


def _known(x: str, words, otherwise: str) -> str:
    """`x` itself when it is one of `words` as written (the common case, cheap), else `otherwise`
    (a CASE, not coalesce: DuckDB evaluates every argument of coalesce)."""
    return f"case when {x} in ({', '.join(_sql_str(w) for w in words)}) then {x} else {otherwise} end"


def _number(x: str, scale: Decimal | None) -> str:
    """A number as written, times the factor from the unit written to the declared one (exact, in DECIMAL)."""
    if scale is None or scale == 1:
        return f"sl_number({x})"
    digits = max(-scale.as_tuple().exponent, 0)
    return f"(sl_number({x}) * cast('{scale:f}' as decimal(38, {digits})))"


def _typed(f: Field, x: str, scale: Decimal | None = None) -> tuple[str, str, bool]:
    """For the raw column `x`: a prepared string (computed once), the typed value over the prepared
    column `@p`, and whether a written value can fail to type."""
    if f.kind == "count":    # a whole number only: 3.5 is not a count
        return _number(x, scale), "case when @p = trunc(@p) then try_cast(@p as bigint) end", True
    if f.kind == "amount":
        return _number(x, scale), "try_cast(@p as decimal(18, 6))", True      # 13 digits or more: not a value
    if f.kind == "date":
        return f"sl_compact({x})", "sl_date(@p)", True
    if f.kind == "bool":
        words = {**{w: "true" for w in TRUE_WORDS}, **{w: "false" for w in FALSE_WORDS}}
        return _known(x, words, f"lower(sl_compact({x}))"), _case("@p", words), True
    if f.kind in ("code", "county"):
        return f"sl_compact({x})", "case when @p like '%.0' then regexp_replace(@p, '\\.0+$', '') else @p end", False
    if f.kind == "id_number":
        return f"upper(sl_compact({x}))", "@p", False
    if f.kind == "category":
        squashed = f"replace(replace(replace(sl_clean({x}), ' ', ''), '（', '('), '）', ')')"
        prep = _known(x, (*f.values, *f.value_aliases), squashed)
        if not f.value_aliases:
            return prep, "@p", False
        return prep, _case("@p", {a: _sql_str(v) for a, v in f.value_aliases.items()}, "@p"), False
    return masked_text_sql(x, f"sl_clean({x})"), "@p", False     # free text: an ID number typed into it is masked


def select_sql(ret: Return, present: set[str], source: str = "raw", order: bool = True, carry: tuple = (),
               scale: dict[str, Decimal] | None = None) -> str:
    """Three levels: each value is prepared once, typed from the prepared string, and the flags are
    read off the typed values.  `source` has the raw strings under the field names and `__i`, the
    row's position; the columns in `carry` pass through unchanged.  A raw value is NULL or holds
    more than white space (the readers see to that), so `missing` is `x is null`.  `scale`: per field,
    the factor from the unit written in the file to the declared one."""
    prepared, typed, outer = ["__i", *carry], ["__i", *carry], ["__i", *carry]
    for f in ret.fields:
        stype = f.sql_type if f.kind != "id_number" else "varchar"
        q, missing, bad = f'"{f.name}"', f'"{f.name}__missing"', f'"{f.name}__bad"'
        if f.name not in present:
            prepared.append(f"true as {missing}")
            typed += [f"cast(null as {stype}) as {q}", missing]
            outer += [q, missing, f"false as {bad}"]
            if f.kind == "id_number":
                outer.append(f'cast(null as varchar) as "{f.name}__hash"')
                outer += [f'cast(null as {t}) as "{f.name}__{n}"' for n, (t, _) in ID_FACTS.items()]
            if f.kind == "text":
                outer.append(f'false as "{f.name}__id"')
            continue
        x = f"raw.{q}"
        prep, value, can_fail = _typed(f, x, (scale or {}).get(f.name))
        prepared += [f"{prep} as {q}", f"{x} is null as {missing}"]
        typed += [f"{value.replace('@p', q)} as {q}", missing]
        outer += [q, missing, f"(not {missing} and {q} is null) as {bad}" if can_fail else f"false as {bad}"]
        if f.kind == "text":      # an ID number typed into free text: masked, and a soft warning on the row
            prepared.append(f'{holds_id_sql(x)} as "{f.name}__id"')
            typed.append(f'"{f.name}__id"')
            outer.append(f'"{f.name}__id"')
        if f.kind == "id_number":
            outer.append(f'sha256($opad || unhex(sha256($ipad || encode({q})))) as "{f.name}__hash"')
            outer += [f'{e.replace("@x", q)} as "{f.name}__{n}"' for n, (_, e) in ID_FACTS.items()]
    sql = (f"select {', '.join(outer)} from (select {', '.join(typed)} from (select {', '.join(prepared)} "
           f"from {source} as raw))")
    return sql + (" order by __i" if order else "")


def hmac_pads(key: bytes) -> dict[str, bytes]:
    """The inner and outer HMAC-SHA256 pads, so DuckDB can compute HMAC as two SHA-256 calls."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    return {"ipad": bytes(b ^ 0x36 for b in key), "opad": bytes(b ^ 0x5C for b in key)}


def normalise(ret: Return, columns: dict[str, list], key: bytes, scale: dict[str, Decimal] | None = None) -> pa.Table:
    """Raw strings (field -> list, all of one length) -> the typed Arrow table with flags."""
    return normalise_many(ret, [columns], key, scale)[0]


# Below this many rows the optimiser's own time (10 to 25 ms for the wide projections of a return)
# is more than it saves; above, it saves some 15% (measured at 200 thousand rows).  The result is
# the same either way.
PLAN_ONLY_ROWS = 10_000


def normalise_many(ret: Return, parts: list[dict[str, list]], key: bytes, scale: dict[str, Decimal] | None = None
                   ) -> list[pa.Table]:
    """Several submissions of one return in the same units, typed in one statement (a statement
    costs 20 to 60 ms to plan whatever its size, and a county's return has a few rows): one typed
    table per part, as `normalise` gives it.  A column that some parts have and others not is
    empty (NULL) in the others, which types exactly as a column that is not there: missing, not
    bad, no value."""
    names = list(dict.fromkeys(name for p in parts for name in p))
    sizes = [len(next(iter(p.values()))) if p else 0 for p in parts]
    raw = pa.table({"__f": pa.array([f for f, n in enumerate(sizes) for _ in range(n)], pa.int32()),
                    "__i": pa.array([i for n in sizes for i in range(n)], pa.int64()),
                    **{name: pa.chunked_array([_strings(p[name]) if name in p else pa.nulls(n, pa.string())
                                               for p, n in zip(parts, sizes)], pa.string()) for name in names}})
    small = raw.num_rows < PLAN_ONLY_ROWS
    with engine.scratch(MACROS) as con:
        con.register("raw", raw)
        try:
            if small:
                con.execute("pragma disable_optimizer")
            params = hmac_pads(key) if any(f.kind == "id_number" and f.name in names for f in ret.fields) else {}
            sql = select_sql(ret, set(names), order=False, carry=("__f",), scale=scale) + " order by __f, __i"
            typed = con.sql(sql, params=params or None).to_arrow_table()
        finally:
            if small:
                con.execute("pragma enable_optimizer")
            con.unregister("raw")
    typed = typed.drop_columns(["__f"])
    out, start = [], 0
    for n in sizes:
        out.append(typed.slice(start, n))
        start += n
    return out


def _strings(values) -> pa.Array | pa.ChunkedArray:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    return values.cast(pa.string()) if isinstance(values, pa.Array) else pa.array(values, pa.string())
