"""The cross-return and cross-period rules (表间, all soft), declared once: id, messages, and the
SQL over staging that finds them (`intake.cross` runs them on every run).  A rule's query yields
county_code, return_id, field, source_row, business_key, value and other, for its message."""
from __future__ import annotations

from dataclasses import dataclass

from .catalogue import RETURNS
from .core import NUMERIC_KINDS


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
