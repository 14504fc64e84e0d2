"""The cross-return and cross-period rules (`schemas.cross`) run, and the counties' explanations
(说明) applied: both again for the whole period on every run, over what is in force, so a change on
either side of a rule is always reflected.  Cross-return findings live in `quality.violations`
only: they never change a submission's ledger row, its acceptance or completeness.
"""
from __future__ import annotations

import json

import duckdb

from schemas.catalogue import RETURNS, match_return
from schemas.core import SOFT, Field
from schemas.cross import CROSS_RULES


def refresh_cross_rules(con: duckdb.DuckDBPyConnection, period: str) -> dict[str, int]:
    con.execute("delete from quality.violations where period = ? and rule_id like 'cross.%'", [period])
    counts = {}
    for rule in CROSS_RULES:
        found = f"""
            with found(county_code, return_id, field, source_row, business_key, value, other) as ({rule.sql})
            select f.*, s.submission_id, s.source, s.sheet, s.layout from found f
            join landing.submissions s on s.period = $period and s.county_code = f.county_code
                 and s.return_id = f.return_id and s.status = 'accepted'"""
        params = {"period": period, "previous": str(int(period) - 1)}
        rows = con.execute(found, {k: v for k, v in params.items() if f"${k}" in found}).fetchall()
        for county, return_id, field, row, bkey, value, other, sid, source, sheet, layout in rows:
            f = RETURNS[return_id].field(field) if field in RETURNS[return_id].names else None
            header, cell_row = _located(layout, field, f)
            con.execute(
                "insert into quality.violations (period, county_code, return_id, submission_id, source, sheet, "
                "source_row, column_header, value, rule_id, severity, message_zh, message_en, status, business_key) "
                "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?)",
                [period, county, return_id, sid, source, sheet, cell_row or row, header, value, rule.rule_id, SOFT,
                 rule.zh.format(value=value, other=other), rule.en.format(value=value, other=other), bkey])
        counts[rule.rule_id] = len(rows)
    return counts


def _located(layout, field: str, f: Field | None) -> tuple[str, int | None]:
    spec = (json.loads(layout) if isinstance(layout, str) else layout or {}).get(field)
    if spec:
        return spec[0], spec[1]
    return (f.label if f else field), None


# ------------------------------------------------------------------ explanations (read in intake.explanations)

def apply_explanations(con: duckdb.DuckDBPyConnection, period: str, explanations: list[dict]) -> dict[str, int]:
    """Mark the soft warnings a county has explained; hard errors cannot be explained away.
    `explanations`: plain rows (county_code, table, rule_id, business_key, explanation), as intake
    read them from landing (`intake.explanations.period_explanations`)."""
    # open: the violations of the versions that need a clerk or are in force; a version superseded or
    # withdrawn (its file replaced or removed) leaves its violations closed
    con.execute("update quality.violations v set status = case when s.status in ('accepted', 'rejected') "
                "then 'open' else 'closed' end, explanation = null from landing.submissions s "
                "where v.period = ? and s.submission_id = v.submission_id", [period])
    explained = unmatched = 0
    for e in explanations:
        if not (e["explanation"] or "").strip():
            continue        # a row left unanswered (the 审核反馈表 lists every warning) explains nothing
        ret = match_return(e["table"] or "")
        if ret is None or not e["rule_id"]:
            unmatched += 1
            continue
        n = con.execute(
            "update quality.violations set status = 'explained', explanation = ? where period = ? and "
            "county_code = ? and return_id = ? and rule_id = ? and coalesce(business_key, '') = ? and "
            "severity = 'soft' and submission_id in (select submission_id from landing.submissions "
            "where status = 'accepted') returning 1",
            [e["explanation"], period, e["county_code"], ret.return_id, e["rule_id"], e["business_key"] or ""]
        ).fetchall()
        explained += len(n)
        unmatched += 0 if n else 1
    return {"explained": explained, "explanations_matching_nothing": unmatched}
