"""The bulk path: a large CSV county file checked in DuckDB instead of pandas.

A province's or the country's 表1 holds millions of rows a county.  A regular CSV file of a
many-row return above SHANGLUO_BULK_BYTES (default 8 MB, some 50 thousand households) is
streamed by pyarrow, batch by batch, into one DuckDB statement that sets apart the plain data rows
(`read.plain_data_sql`; the few others are told total, subtotal or footer by `read.row_kinds`), types the values (`normalise.select_sql`), turns ID numbers into
pseudonyms and evaluates every rule of the catalogue in its SQL form: the same catalogue Pandera
runs on every other file, and tests/test_rules.py shows that both paths give the same findings.
The rows wait in a temporary table of the checking connection, ID numbers only as pseudonyms,
until the ledger stages them; a clear ID number is never materialised, and the only values kept
as written are those of failing rows (ID numbers masked).  A file that is not regular
(`read.CsvStream`) goes the general way.
"""
from __future__ import annotations

import os
import uuid
from decimal import Decimal

import duckdb
import numpy as np
import pyarrow as pa

from .core import NUMERIC_KINDS, Context, Field
from .findings import Checked, layout_of, shape_digest, total_findings, version_hash
from .messages import Finding
from .normalise import MACROS, hmac_pads, select_sql
from .read import (CsvStream, Grid, Located, Part, csv_head, locate, map_header, plain_data_sql, row_kinds,
                   set_apart)
from .rules import KIND_WORDS, RuleInfo, id_in_text_info, required_info, rule_catalogue, type_info, unique_info
from .sqlrules import predicates

MASK = ("create or replace temp macro sl_mask(v) as case when length(v) > 8 "
        "then left(v, 4) || repeat('*', length(v) - 8) || right(v, 4) else repeat('*', length(v)) end;")


def threshold() -> int:
    return int(os.environ.get("SHANGLUO_BULK_BYTES", 8 << 20))


def eligible(part: Part) -> bool:
    return (part.ret is not None and not part.ret.one_row and part.path.suffix.lower() == ".csv"
            and part.path.stat().st_size >= threshold())


def _flag_rules(ret, present: set[str]) -> list[tuple[RuleInfo, str]]:
    """The `required` and `type` rules as conditions on the parse flags (true where a row fails)."""
    out = [(required_info(ret, f), f'"{f.name}__missing"') for f in ret.fields if f.required and f.name in present]
    out += [(type_info(ret, f), f'"{f.name}__bad"') for f in ret.fields if f.kind in KIND_WORDS and f.name in present]
    out += [(id_in_text_info(ret, f), f'"{f.name}__id"') for f in ret.fields if f.kind == "text" and f.name in present]
    return out


def _statement(ret, ctx: Context, loc: Located, width: int, lines: str, table: str) -> tuple[str, list[RuleInfo]]:
    """One CREATE TEMP TABLE over the streamed lines; and the rules it evaluates."""
    present = set(loc.col_of)
    key = ret.key[0] if ret.key else None
    failing = [(info, f"not coalesce(({pred}), true)") for info, pred in predicates(ret, ctx)] + _flag_rules(ret, present)
    any_fails = " or ".join(f"({cond})" for _, cond in failing) or "false"
    each = ", ".join(f"case when {cond} then '{info.rule_id}' end" for info, cond in failing)

    def shown(f: Field) -> str:      # the value as written; an ID number masked
        if f.name not in present:
            return "null"
        return f'sl_mask("{f.name}__raw")' if f.kind == "id_number" else f'"{f.name}__raw"'

    stored = [f'"{f.name}__hash" as "{f.stored_name}"' if f.kind == "id_number" else f'"{f.name}"'
              for f in ret.stored_fields]
    if key in present:     # the key as written where typing changed it, for the uniqueness findings
        stored.append(f'case when "{key}__raw" is distinct from "{key}" then "{key}__raw" end as __key_raw')
    raw = ", ".join(f'c{c} as "{n}", c{c} as "{n}__raw"' for n, c in loc.col_of.items())
    ids = {c for n, c in loc.col_of.items() if ret.field(n).kind == "id_number"}
    # the cells of a row left for classification; an ID number in them masked (temporary tables can spill to disk)
    cells = ", ".join(f"case when regexp_matches(c{j}, '\\d{{15}}') then sl_mask(c{j}) else c{j} end" if j in ids
                      else f"c{j}" for j in range(width))
    carry = ("__kind", "__cells", *(f'"{n}__raw"' for n in loc.col_of))
    typed = select_sql(ret, present, source="raw", order=False, carry=carry, scale=loc.scale)
    # a plain data row is known at once; the few others keep their cells and are classified after
    sql = f"""
        create temp table {table} as
        with raw as (
            select __row as __i, case when {plain_data_sql(width)} then 'data' end as __kind,
                   case when not {plain_data_sql(width)} then [{cells}] end as __cells, {raw}
            from {lines}),
        typed as ({typed}),
        judged as (select *, {any_fails} as __any from typed)
        select __i as source_row, __kind, __cells, {', '.join(stored)},
               case when __kind is null or __any then [{', '.join(shown(f) for f in ret.fields)}] end as __shown,
               case when __any then list_filter([{each}], lambda x: x is not null) end as __fails
        from judged"""
    return sql, [info for info, _ in failing]


def check_bulk(part: Part, ctx: Context, key: bytes, con: duckdb.DuckDBPyConnection) -> Checked | None:
    """Check a large CSV file in `con`; None when it is not regular (read it the general way)."""
    ret = part.ret
    if any(rule.sql is None for rule in rule_catalogue(ret, ctx)):
        return None
    head = csv_head(part.path)
    if head is None:
        return None
    grid, encoding = head
    found = locate(grid, ret)
    if found.header_row is None:
        return None                                   # no header row, or the vertical form
    cells, numbers = grid.head()
    at = numbers.index(found.header_row)
    loc = Located(ret, {}, np.array([], dtype=np.int32), {})
    map_header(loc, found.header_cells, numbers[at])
    width = grid.width
    first = (list(cells[at + 1]) + [None] * width)[:width] if at + 1 < len(cells) else None
    stream = CsvStream(part.path, encoding, skip=numbers[at], width=width, first=first)

    table = f"__bulk_{uuid.uuid4().hex[:12]}"
    lines = f"{table}_lines"
    sql, infos = _statement(ret, ctx, loc, width, lines, table)
    con.execute(MACROS + MASK)
    con.register(lines, stream.reader())
    try:
        has_id = any(f.kind == "id_number" and f.name in loc.col_of for f in ret.fields)
        con.execute(sql, hmac_pads(key) if has_id else None)
    finally:
        con.unregister(lines)
    trailer = _trailer(stream, loc, width) if not stream.finish() else None
    if trailer is None:
        con.execute(f"drop table if exists {table}")
        return None
    _classify(con, table)
    return _checked(ret, loc, table, infos, con, trailer)


def _trailer(stream: CsvStream, loc: Located, width: int) -> list[tuple[int, str, dict]] | None:
    """The ragged lines at the end (footers, blank lines), classified; None if one is a total or data
    row (the general way reads those)."""
    if not stream.trailer:
        return []
    rows = [(row, cells + [None] * width) for row, cells in stream.trailer]
    kinds = row_kinds(Grid.from_rows([cells for _, cells in rows], [row for row, _ in rows]).table)
    if any(k in ("data", "total") for k in kinds):
        return None
    return [(row, kind, {n: cells[c] for n, c in loc.col_of.items()}) for (row, cells), kind in zip(rows, kinds)
            if kind != "blank"]


def _classify(con, table: str):
    """The kind (blank, footer, total, subtotal or data) of the rows the plain test left open."""
    rest = con.execute(f"select source_row, __cells from {table} where __kind is null order by source_row").fetchall()
    if not rest:
        return
    body = Grid.from_rows([cells for _, cells in rest], [row for row, _ in rest]).table
    kinds = pa.table({"source_row": body.column("__row"), "kind": pa.array(row_kinds(body), pa.string())})
    con.register(f"{table}_kinds", kinds)
    try:
        con.execute(f"update {table} set __kind = k.kind from {table}_kinds k where {table}.source_row = k.source_row")
    finally:
        con.unregister(f"{table}_kinds")


def _checked(ret, loc: Located, table: str, infos: list[RuleInfo], con, trailer: list) -> Checked:
    index = {f.name: i for i, f in enumerate(ret.fields)}
    by_id = {info.rule_id: info for info in infos}
    findings = list(loc.findings)

    def finding(row: int, shown: list, name: str, info: RuleInfo, value: str | None = None) -> Finding:
        key = shown[index[ret.key[0]]] if ret.key else None
        written = shown[index[name]] if value is None else value
        return Finding(row, loc.headers.get(name, ret.field(name).label), written or "", info.rule_id, info.severity,
                       info.zh, info.en, (key or "").strip())

    for row, kind, shown in con.execute(f"select source_row, __kind, __shown from {table} where __kind not in "
                                        f"('data', 'blank') order by source_row").fetchall():
        set_apart(loc, kind, row, {n: shown[index[n]] for n in loc.col_of})
    for row, kind, cells in trailer:
        set_apart(loc, kind, row, cells)
    for row, shown, fails in con.execute(f"select source_row, __shown, __fails from {table} "
                                         f"where __kind = 'data' and __fails is not null order by source_row").fetchall():
        for rule_id in fails:
            info = by_id[rule_id]
            findings += [finding(row, shown, name, info) for name in info.columns]
    if ret.key and ret.key[0] in loc.col_of:
        k = ret.key[0]
        info = unique_info(ret)
        dups = con.execute(f"""select source_row, coalesce(__key_raw, "{k}") from (
            select source_row, __key_raw, "{k}", row_number() over (partition by "{k}" order by source_row) as n
            from {table} where __kind = 'data' and "{k}" is not null) where n > 1 order by source_row""").fetchall()
        findings += [Finding(row, loc.headers[k], value, info.rule_id, info.severity, info.zh, info.en, value.strip())
                     for row, value in dups]
    if loc.total is not None:
        numeric = [f.name for f in ret.fields if f.kind in NUMERIC_KINDS and f.name in loc.col_of]
        if numeric:
            written = dict(zip(numeric, con.execute(f"select {', '.join(numeric)} from {table} where source_row = ?",
                                                    [loc.total_row]).fetchall()[0]))
            sums = dict(zip(numeric, con.execute(f"select {', '.join(f'sum({n})' for n in numeric)} from {table} "
                                                 f"where __kind = 'data'").fetchall()[0]))
            findings += total_findings(loc, ret, written, {n: Decimal(str(v or 0)) for n, v in sums.items()})
    rows = con.execute(f"select count(*) from {table} where __kind = 'data'").fetchall()[0][0]
    checked = Checked(ret, findings, rows, table=table, notes=list(loc.notes), layout=layout_of(loc))
    checked.content_sha256 = version_hash(con, checked.relation(con), ret, shape_digest(loc))
    return checked
