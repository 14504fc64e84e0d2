"""Cross-return and cross-period rules (表间, all soft) and the counties' explanations (说明) applied.

Both are evaluated again for the whole period on every run, over what is in force, so a change on
either side of a rule is always reflected.  Cross-return findings live in `quality.violations`
only: they never change a submission's ledger row, its acceptance or completeness.
"""
from __future__ import annotations

from dataclasses import dataclass

import duckdb

from schemas.catalogue import RETURNS, match_return
from schemas.core import NUMERIC_KINDS, SOFT, Field


@dataclass(frozen=True)
class CrossRule:
    rule_id: str
    zh: str          # may use {value} and {other}
    en: str
    sql: str         # yields county_code, return_id, field, source_row, business_key, value, other


def _moved_sql() -> str:
    """Every count and amount of the one-row returns, and of 表10 per programme, against P-1."""
    parts = []
    for ret in RETURNS.values():
        if not (ret.one_row or ret.return_id == "assistance"):
            continue
        key = ret.key[0] if ret.key else None
        join = f" and p.{key} = c.{key}" if key else ""
        bkey = f"c.{key}" if key else "''"
        for f in ret.fields:
            if f.kind in NUMERIC_KINDS:
                parts.append(
                    f"select c.county_code, '{ret.return_id}', '{f.name}', c.source_row, {bkey}, "
                    f"cast(c.{f.name} as varchar), cast(p.{f.name} as varchar) "
                    f"from staging.{ret.return_id} c join staging.{ret.return_id} p "
                    f"on p.county_code = c.county_code and p.period = $previous{join} "
                    f"where c.period = $period and p.{f.name} > 0 and abs(c.{f.name} - p.{f.name}) > p.{f.name} / 2")
    return "\nunion all\n".join(parts)


CROSS_RULES = (
    CrossRule("cross.insurance_base_below_monitored",
              "应参保人数{value}少于本县区表1监测对象人数{other}，请核实",
              "persons who should be insured ({value}) are fewer than the persons in the county's 表1 ({other}): please verify",
              """select g.county_code, 'guarantees', 'insurance_base_persons', g.source_row, '',
                        cast(g.insurance_base_persons as varchar), cast(m.persons as varchar)
                 from staging.guarantees g
                 join (select county_code, sum(household_size) as persons from staging.monitoring_households
                       where period = $period group by county_code) m using (county_code)
                 where g.period = $period and g.insurance_base_persons < m.persons"""),
    CrossRule("cross.village_not_in_register",
              "乡镇和行政村“{value}”不在本县区表5中，请核实",
              "the township and village '{value}' are not in the county's 表5: please verify",
              """select h.county_code, 'monitoring_households', 'village', h.source_row, h.household_id,
                        h.township || ' ' || h.village, null
                 from staging.monitoring_households h
                 where h.period = $period
                   and h.county_code in (select county_code from staging.village_register where period = $period)
                   and not exists (select 1 from staging.village_register v where v.period = $period
                                   and v.county_code = h.county_code and v.township = h.township
                                   and v.village_name = h.village)"""),
    CrossRule("cross.moved_over_half",
              "本期{value}与上期{other}相比变动超过一半，请核实单位（元/万元）",
              "{value} moved by more than half against the previous period's {other}: check the unit (yuan / 10k yuan)",
              _moved_sql()),
    CrossRule("cross.demo_county_more_than_one",
              "全市有{other}个县区填报为乡村振兴示范县，全市至多一个，请核实",
              "{other} counties report being the rural-revitalisation demonstration county; the city has at most one",
              """select county_code, 'construction', 'demo_county', source_row, '', '是', cast(n as varchar)
                 from staging.construction, (select count(*) as n from staging.construction
                                             where period = $period and demo_county)
                 where period = $period and demo_county and n > 1"""),
)


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
    import json
    spec = (json.loads(layout) if isinstance(layout, str) else layout or {}).get(field)
    if spec:
        return spec[0], spec[1]
    return (f.label if f else field), None


# ------------------------------------------------------------------ explanations (read by intake)

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
