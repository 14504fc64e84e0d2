"""Submission status, the section tables and the figures, for one period.

A figure is `complete` when every county has a version in force of each return its definition
reads (P-1 included); its value is the aggregate of what is in force, NULL only when nothing (or
no denominator) is in force, and `reason` names the missing counties and returns.
"""
from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from functools import cache
from pathlib import Path

import duckdb
import pyarrow as pa

from schemas.catalogue import RETURN_IDS, RETURNS
from schemas.core import AREAS, CITY_CODE, COUNTIES
from shangluo.config import code_digest, deadline

from .db import ensure_section_table, insert_arrow, insert_values, section_sql
from .figures import SECTIONS, VALUE_SCALE, Figure, section_figures, section_reads


def refresh_status(con: duckdb.DuckDBPyConnection, period: str):
    con.execute("delete from landing.status where period = ?", [period])
    con.execute("""
        insert into landing.status
        with units as (    -- the 7 counties for every return; 市本级 only for what it submitted (a rejected
                           -- file it took back again counts as never sent)
            select c.county_code, r.return_id
            from (select unnest($counties) as county_code) c cross join (select unnest($returns) as return_id) r
            union
            select distinct county_code, return_id from landing.submissions where period = $period and county_code = $city
              and (status <> 'withdrawn' or hard_count = 0)
        ), kept as (
            select * from landing.submissions where period = $period and status <> 'withdrawn'
        ), in_force as (
            select * from kept where status = 'accepted'
        ), newest as (
            select county_code, return_id, arg_max(status, first_seen_at) as newest_status,
                   bool_or(status = 'rejected') as any_rejected
            from kept group by county_code, return_id
        )
        select $period, u.county_code, u.return_id,
               case when f.submission_id is not null then 'accepted'
                    when n.any_rejected then 'rejected' else 'missing' end,
               f.submission_id, f.first_seen_at,
               coalesce(f.first_seen_at > $deadline, false),
               f.submission_id is not null and n.newest_status = 'rejected'
        from units u
        left join in_force f on f.county_code = u.county_code and f.return_id = u.return_id
        left join newest n on n.county_code = u.county_code and n.return_id = u.return_id
    """, {"period": period, "city": CITY_CODE, "counties": list(COUNTIES), "returns": list(RETURN_IDS),
          "deadline": deadline(period)})   # NULL: no deadline configured, nothing is late


def status_rows(con: duckdb.DuckDBPyConnection, period: str) -> list[tuple]:
    """landing.status of `period`: county_code, return_id, state, late, newer_rejected."""
    return con.execute("select county_code, return_id, state, late, newer_rejected from landing.status "
                       "where period = ? order by county_code, return_id", [period]).fetchall()


def city_figures(con: duckdb.DuckDBPyConnection, period: str) -> tuple[list[tuple], int]:
    """The city's figures of `period` (figure_id, text, complete, reason) and how many rows of all areas."""
    rows = con.execute("select figure_id, text, complete, reason from report.figures "
                       "where period = ? and area_code = '611000' order by figure_id", [period]).fetchall()
    return rows, con.execute("select count(*) from report.figures where period = ?", [period]).fetchall()[0][0]


def _in_force(con, periods: list[str]) -> set[tuple[str, str, str]]:
    return set(con.execute(
        "select period, county_code, return_id from landing.status where state = 'accepted' and period in "
        "(select unnest(?))", [periods]).fetchall())


def completeness(fig: Figure, period: str, area: str, in_force: set[tuple[str, str, str]]
                 ) -> tuple[bool, bool, str | None]:
    """(complete, anything in force for every input, reason)."""
    required = list(COUNTIES) if area == CITY_CODE else [area]
    members = [*required, CITY_CODE] if area == CITY_CODE else required
    missing, some_input_empty = [], False
    for return_id, offset in fig.reads:
        q = str(int(period) + offset)
        missing += [(c, return_id, q) for c in required if (q, c, return_id) not in in_force]
        if not any((q, c, return_id) in in_force for c in members):
            some_input_empty = True
    if not missing:
        return True, True, None
    zh = "、".join(f"{AREAS[c]}{RETURNS[r].table_label}（{q}）" for c, r, q in missing)
    en = ", ".join(f"{c} {r} {q}" for c, r, q in missing)
    return False, not some_input_empty, f"未采用：{zh} / not in force: {en}"


def _set_period(con, period: str):
    con.execute(f"set variable period = '{int(period)}'")
    con.execute(f"set variable previous_period = '{int(period) - 1}'")


@cache
def code_version() -> str:
    """A digest of this package's code, SQL and figure definitions."""
    return code_digest(Path(__file__).parent, (".py", ".sql", ".csv"))


def _built_from(con, period: str, section: str) -> str | None:
    """The inputs digest report.<section> of `period` was built from (None: not built, or built
    before the table had the column)."""
    has = con.execute("select count(*) from duckdb_columns() where schema_name = 'report' and table_name = ? "
                      "and column_name = 'inputs_digest'", [section]).fetchall()[0][0]
    if not has:
        return None
    lo, hi = con.execute(f"select min(inputs_digest), max(inputs_digest) from report.{section} where period = ?",
                         [period]).fetchall()[0]
    return lo if lo == hi else None


def section_inputs(con: duckdb.DuckDBPyConnection, period: str, section: str) -> str:
    """A digest of all report.<section> of `period` is built from: the versions in force of the
    returns its figures read, in P and P-1 (staging holds exactly their rows, and `complete` follows
    from them), the digest P-1's rows were built from (their values are the `_previous` columns),
    and the code."""
    previous = str(int(period) - 1)
    reads = section_reads(section)
    in_force = con.execute("select period, county_code, return_id, submission_id from landing.status "
                           "where period in (?, ?) and return_id in (select unnest(?)) and state = 'accepted' "
                           "order by all", [period, previous, reads]).fetchall()
    payload = [code_version(), section, period, in_force, _built_from(con, previous, section)]
    return hashlib.sha256(json.dumps(payload).encode()).hexdigest()[:16]


def section_is_current(con: duckdb.DuckDBPyConnection, period: str, section: str, inputs: str) -> bool:
    """report.<section> of `period` was built from these very inputs: building it again changes nothing."""
    return _built_from(con, period, section) == inputs


def refresh_section(con: duckdb.DuckDBPyConnection, period: str, section: str, inputs: str | None = None
                    ) -> dict[str, bool]:
    """Rebuild report.<section> for `period`: one row per area; returns area -> complete.
    `inputs`: the digest of what it is built from (`section_inputs`), kept on every row."""
    _set_period(con, period)
    in_force = _in_force(con, [period, str(int(period) - 1)])
    rel = con.sql(section_sql(section))
    columns, types = rel.columns, [str(t) for t in rel.types]
    rows = [dict(zip(columns, r)) for r in rel.fetchall()]
    table_types = ensure_section_table(con, section, dict(zip(columns, types)))
    figs = section_figures(section)
    previous = {r[0]: dict(zip((f.figure_id for f in figs), r[1:])) for r in con.execute(
        f"select area_code, {', '.join(f.figure_id for f in figs)} from report.{section} where period = ?",
        [str(int(period) - 1)]).fetchall()}
    for row in rows:
        area, complete = row["area_code"], True
        for fig in figs:
            fig_complete, usable, _ = completeness(fig, period, area, in_force)
            if not usable:
                row[fig.figure_id] = None
            complete &= fig_complete
            before = previous.get(area, {}).get(fig.figure_id)
            row[f"{fig.figure_id}_previous"] = before
            row[f"{fig.figure_id}_change"] = None if before is None or row[fig.figure_id] is None \
                else row[fig.figure_id] - before
        row.update(period=period, area_name=AREAS[area], complete=complete,
                   inputs_digest=inputs or section_inputs(con, period, section))
    con.execute(f"delete from report.{section} where period = ?", [period])
    if rows:
        cols = list(rows[0])
        insert_values(con, f"report.{section}", {c: table_types[c] for c in cols}, [[r[c] for c in cols] for r in rows])
    return {r["area_code"]: r["complete"] for r in rows}


FIGURE_COLUMNS = ("period", "area_code", "figure_id", "section", "label_zh", "value", "unit", "text", "complete", "reason")


def refresh_figures(con: duckdb.DuckDBPyConnection, period: str) -> int:
    """Rebuild report.figures for `period` from the section tables: rounded values and texts."""
    in_force = _in_force(con, [period, str(int(period) - 1)])
    rows = []
    for section in SECTIONS:
        figs = section_figures(section)
        cols = ", ".join(f.figure_id for f in figs)
        for area, *values in con.execute(f"select area_code, {cols} from report.{section} where period = ? "
                                         "order by area_code", [period]).fetchall():
            for fig, value in zip(figs, values):
                complete, _, reason = completeness(fig, period, area, in_force)
                value = None if value is None else Decimal(value)
                rows.append((period, area, fig.figure_id, section, fig.label_zh, fig.rounded(value), fig.unit,
                             fig.text(value), complete, reason))
    con.execute("delete from report.figures where period = ?", [period])
    types = {"value": pa.decimal128(18, VALUE_SCALE), "complete": pa.bool_()}
    table = pa.table({n: pa.array([r[i] for r in rows], types.get(n, pa.string())) for i, n in enumerate(FIGURE_COLUMNS)})
    insert_arrow(con, "report.figures", table)
    return len(rows)
