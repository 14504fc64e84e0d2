"""An independent oracle for tests: each figure's definition (published_figures.csv) computed in
plain Python over the generator's canonical rows, with exact fractions.  It shares no code with
the section SQL, so a test comparing the two catches a wrong query, reader or normalisation.
"""
from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from schemas.core import CITY_CODE, COUNTIES

PAIRED = ("科技特派团", "组团式帮扶", "定点帮扶", "对口帮扶")
ENTERPRISE_SOCIAL = ("万企兴万村", "社会组织帮扶")


def _rows(data: dict, return_id: str, area: str) -> list[dict]:
    units = [*COUNTIES, CITY_CODE] if area == CITY_CODE else [area]
    return [r for u in units for r in data.get(return_id, {}).get(u, [])]


def expected(data: dict, previous: dict | None, area: str) -> dict[str, Fraction | None]:
    R = lambda rid: _rows(data, rid, area)  # noqa: E731
    S = lambda rows, col, cond=lambda r: True: sum((Fraction(str(r[col])) for r in rows if cond(r)), Fraction(0))  # noqa: E731
    C = lambda rows, cond=lambda r: True: Fraction(sum(1 for r in rows if cond(r)))  # noqa: E731
    pct = lambda n, d: None if d == 0 else 100 * n / d  # noqa: E731
    w = Fraction(1, 10000)
    mh, g, sa, ind = R("monitoring_households"), R("guarantees"), R("social_assistance"), R("industry")
    vr, emp, rel, inf = R("village_register"), R("employment"), R("relocation_sites"), R("infrastructure")
    con, ast = R("construction"), R("assistance")
    villages = [r for r in vr if r["village_kind"] == "行政村"]
    prev = [r for r in _rows(previous, "village_register", area) if r["village_kind"] == "行政村"] if previous else None
    weak = lambda rows: C(rows, lambda r: 0 < r["collective_income_10k_yuan"] < 5)  # noqa: E731
    prog = lambda *names: (lambda r: r["programme"] in names)  # noqa: E731
    persons = S(mh, "household_size")
    elim = S(mh, "household_size", lambda r: r["risk_eliminated"])
    return {
        "monitored_households": C(mh), "monitored_persons": persons,
        "risk_eliminated_households": C(mh, lambda r: r["risk_eliminated"]), "risk_eliminated_persons": elim,
        "risk_elimination_rate": pct(elim, persons),
        "returned_to_poverty_households": C(mh, lambda r: r["returned_to_poverty"]),
        "student_aid_person_times": S(g, "student_aid_person_times") * w,
        "compulsory_dropouts": S(g, "compulsory_dropouts"),
        "uninsured_persons": S(g, "insurance_base_persons") - S(g, "insured_persons"),
        "inpatient_reimbursement_rate": pct(S(g, "inpatient_reimbursed_10k_yuan"), S(g, "inpatient_cost_10k_yuan")),
        "dilapidated_house_renovations": S(g, "dilapidated_house_renovations"), "model_houses": S(g, "model_houses"),
        "seismic_retrofits": S(g, "seismic_retrofits"),
        "dibao_tekun_persons": S(sa, "dibao_tekun_persons") * w, "dibao_tekun_funds": S(sa, "dibao_tekun_funds_10k_yuan") * w,
        "temporary_aid_person_times": S(sa, "temporary_aid_person_times") * w,
        "temporary_aid_funds": S(sa, "temporary_aid_funds_10k_yuan") * w,
        "fungus_bags": S(ind, "fungus_bags_10k") * w, "agri_parks": S(ind, "agri_parks"),
        "leading_enterprises": S(ind, "leading_enterprises"), "industry_beneficiaries": S(ind, "industry_beneficiaries") * w,
        "counties_without_ecommerce_demo": C(ind, lambda r: not r["ecommerce_demo_county"]),
        "shell_villages_previous": None if prev is None else C(prev, lambda r: r["collective_income_10k_yuan"] <= 0),
        "shell_villages": C(villages, lambda r: r["collective_income_10k_yuan"] <= 0),
        "weak_villages_reduced": None if prev is None else weak(prev) - weak(villages),
        "villages_income_5w_plus": C(villages, lambda r: r["collective_income_10k_yuan"] >= 5),
        "employed_persons": S(emp, "employed_persons") * w, "employment_target": S(emp, "employment_target") * w,
        "employment_target_completion": pct(S(emp, "employed_persons"), S(emp, "employment_target")),
        "labor_households": S(emp, "labor_households") * w,
        "labor_households_without_employment": S(emp, "labor_households") - S(emp, "labor_households_employed"),
        "relocated_households": S(rel, "households") * w, "relocated_persons": S(rel, "persons") * w,
        "clinics_built": S(inf, "clinics_built"),
        "villages_without_public_clinic": C(villages, lambda r: not r["has_public_clinic"]),
        "water_cellars_eliminated": S(inf, "water_cellars_eliminated"),
        "tap_water_coverage": pct(S(inf, "tap_water_population"), S(inf, "rural_population")),
        "group_roads_km": S(inf, "group_roads_km"), "hardened_roads": S(inf, "hardened_roads"),
        "hardened_roads_km": S(inf, "hardened_roads_km"),
        "national_four_good_roads_counties": C(inf, lambda r: r["four_good_roads_level"] == "国家级"),
        "provincial_four_good_roads_counties": C(inf, lambda r: r["four_good_roads_level"] == "省级"),
        "toilets_renovated": S(inf, "toilets_renovated") * w,
        "sewage_controlled_village_share": pct(C(villages, lambda r: r["sewage_controlled"]), C(villages)),
        "national_key_towns": S(inf, "national_key_towns"), "leisure_villages": S(inf, "leisure_villages"),
        "provincial_model_villages": S(inf, "provincial_model_villages"),
        "demo_counties": C(con, lambda r: r["demo_county"]), "demo_towns": S(con, "demo_towns"),
        "demo_villages": S(con, "demo_villages"), "wellness_villages": S(con, "wellness_villages"),
        "tourism_villages": S(con, "tourism_villages"), "livable_villages": S(con, "livable_villages"),
        "consolidation_projects": S(con, "consolidation_projects"),
        "paired_assistance_funds": S(ast, "funds_invested_10k_yuan", prog(*PAIRED)) * w,
        "paired_assistance_projects": S(ast, "projects", prog(*PAIRED)),
        "nanjing_enterprises": S(ast, "enterprises", prog("宁商协作")),
        "nanjing_funds": S(ast, "funds_invested_10k_yuan", prog("宁商协作")) * w,
        "nanjing_exchange_batches": S(ast, "exchange_batches", prog("宁商协作")),
        "nanjing_exchange_persons": S(ast, "exchange_persons", prog("宁商协作")),
        "enterprise_social_funds_attracted": S(ast, "funds_attracted_10k_yuan", prog(*ENTERPRISE_SOCIAL)),
        "charity_donations": S(ast, "donations_10k_yuan", prog(*ENTERPRISE_SOCIAL)),
        "enterprise_social_projects": S(ast, "projects", prog(*ENTERPRISE_SOCIAL)),
        "five_type_villages_with_first_secretary": C(vr, lambda r: r["assistance_category"] == "五类村"
                                                      and r["resident_team"] == "第一书记和驻村工作队"),
        "other_villages_with_team": C(vr, lambda r: r["assistance_category"] == "其他类型村(社区)"
                                       and r["resident_team"] == "帮扶工作队"),
        "task_villages_without_team": C(vr, lambda r: r["assistance_category"] != "无巩固衔接任务"
                                         and r["resident_team"] == "无"),
        "resident_team_projects": S(ast, "projects", prog("驻村帮扶")),
        "resident_team_funds_direct": S(ast, "funds_invested_10k_yuan", prog("驻村帮扶")) * w,
        "resident_team_funds_attracted": S(ast, "funds_attracted_10k_yuan", prog("驻村帮扶")) * w,
    }


def as_fraction(value) -> Fraction | None:
    return None if value is None else Fraction(str(Decimal(value)))
