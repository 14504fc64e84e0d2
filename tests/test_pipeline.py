"""End to end: `shangluo run` on the bundled sample and on generated messy returns."""
from __future__ import annotations

import csv
import subprocess
import sys
from decimal import Decimal

import pytest

from sample.generate import CODES, FORMS, generate
from schemas.core import CITY_CODE, COUNTIES
from warehouse.figures import figures

from .conftest import ROOT, SAMPLE, cli_env, query, shangluo, tree_digest
from .oracle import as_fraction, expected

PUBLISHED = {r["figure_id"]: r for r in csv.DictReader((ROOT / "warehouse" / "published_figures.csv").open(encoding="utf-8"))}


def test_2022_city_texts_equal_the_published_ones(sample_build):
    rows = query(sample_build["warehouse"], "select figure_id, text, value, complete from report.figures "
                                            "where period = '2022' and area_code = '611000'")
    assert len(rows) == 69
    for figure_id, text, value, complete in rows:
        assert text == PUBLISHED[figure_id]["published_text"], figure_id
        assert value == Decimal(PUBLISHED[figure_id]["value"]), figure_id
        assert complete, figure_id


def test_sample_build_passes_the_contract_check(sample_build):
    check = ROOT.parent / "shared" / "contract_check.py"
    if not check.exists():
        pytest.skip("../shared/contract_check.py is not beside this checkout")
    proc = subprocess.run([sys.executable, str(check), str(sample_build["warehouse"])], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


def test_every_sample_return_is_accepted_and_landing_is_untouched(sample_build):
    states = query(sample_build["warehouse"], "select period, state, count(*) from landing.status group by all order by 1, 2")
    assert states == [("2021", "accepted", 71), ("2022", "accepted", 71)]
    assert tree_digest(SAMPLE) == sample_build["before"]
    assert "2022: 报表 accepted 71" in sample_build["stdout"]


def test_section_tables_hold_unrounded_values_with_comments(sample_build):
    wh = sample_build["warehouse"]
    rate, = query(wh, "select risk_elimination_rate from report.monitoring where period = '2022' and area_code = '611000'")[0]
    assert abs(rate - Decimal(21466 * 100) / 32446) < Decimal("1e-10")
    comment = query(wh, "select comment from duckdb_columns() where schema_name = 'staging' "
                        "and table_name = 'guarantees' and column_name = 'inpatient_cost_10k_yuan'")[0][0]
    assert "住院总费用" in comment and "万元" in comment
    areas = query(wh, "select area_code, area_name from report.employment where period = '2022' order by 1")
    assert [a for a, _ in areas] == sorted([CITY_CODE, *COUNTIES])


def test_unchanged_landing_is_not_parsed_again(sample_build):
    wh = sample_build["warehouse"]
    before = query(wh, "select submission_id, status from landing.submissions order by 1")
    shangluo("run", env=sample_build["env"])
    assert query(wh, "select submission_id, status from landing.submissions order by 1") == before


ROTATED = dict(zip(CODES, [FORMS[c] for c in CODES[3:] + CODES[:3]]), **{CITY_CODE: "csv_messy"})


@pytest.fixture(scope="module")
def messy_build(tmp_path_factory):
    """Other periods, other county splits, every form rotated to other counties, extra messiness."""
    tmp = tmp_path_factory.mktemp("messy")
    landing = tmp / "landing"
    data = generate(landing, periods=("2022", "2023"), seed="acceptance", forms=ROTATED, messy=True)
    env = cli_env(tmp, landing)
    proc = shangluo("run", env=env)
    return {"warehouse": tmp / "warehouse.duckdb", "data": data, "stdout": proc.stdout, "landing": landing}


def test_messy_returns_give_the_values_the_definitions_give(messy_build):
    data = messy_build["data"]
    rows = query(messy_build["warehouse"], "select area_code, figure_id, value, complete from report.figures "
                                            "where period = '2023'")
    got = {(a, f): (v, c) for a, f, v, c in rows}
    figs = {f.figure_id: f for f in figures()}
    assert len(got) == 69 * 8
    for area in [CITY_CODE, *COUNTIES]:
        want = expected(data["2023"], data["2022"], area)
        for figure_id, value in want.items():
            fig = figs[figure_id]
            exact = None if value is None else Decimal(value.numerator) / Decimal(value.denominator)
            assert got[(area, figure_id)] == (fig.rounded(exact), True), (area, figure_id, value)


def test_messy_returns_unrounded_section_values_match_exactly(messy_build):
    data = messy_build["data"]
    (rate, share), = query(messy_build["warehouse"],
                           "select m.risk_elimination_rate, i.sewage_controlled_village_share from report.monitoring m "
                           "join report.infrastructure i using (period, area_code) where period = '2023' and area_code = '611000'")
    want = expected(data["2023"], data["2022"], CITY_CODE)
    for got, key in ((rate, "risk_elimination_rate"), (share, "sewage_controlled_village_share")):
        assert abs(as_fraction(got) - want[key]) < Decimal("1e-12")


def test_messy_returns_are_all_accepted(messy_build):
    states = query(messy_build["warehouse"], "select period, state, count(*) from landing.status group by all order by 1, 2")
    assert states == [("2022", "accepted", 71), ("2023", "accepted", 71)]
    notes = "\n".join(r[0] for r in query(messy_build["warehouse"], "select notes from landing.submissions where notes <> ''"))
    assert "小计" in notes and "序号" in notes


def test_missing_inputs_give_incomplete_figures_with_reasons(tmp_path, landing_copy):
    for f in (landing_copy / "2022" / "611021").glob("表5*"):
        f.unlink()                                             # 洛南县 sends no 表5
    for county in CODES:                                       # nobody sends 表6
        for f in (landing_copy / "2022" / county).glob("*"):
            if any(k in f.name for k in ("表6", "employment", "脱贫人口就业")):
                f.unlink()
    wb = (landing_copy / "2022" / "611022").glob("*.xlsx")     # 丹凤县's workbook: drop its 表6 sheet
    import openpyxl
    for path in wb:
        book = openpyxl.load_workbook(path)
        del book["表6 脱贫人口就业"]
        book.save(path)
    env = cli_env(tmp_path, landing_copy)
    shangluo("run", "--period", "2022", env=env)
    wh = tmp_path / "warehouse.duckdb"
    fig = {f: (v, t, c, r) for f, v, t, c, r in query(
        wh, "select figure_id, value, text, complete, reason from report.figures where period = '2022' and area_code = '611000'")}
    value, text, complete, reason = fig["five_type_villages_with_first_secretary"]
    assert value is not None and value < 819 and not complete       # the aggregate of what is in force, never silently
    assert "洛南县表5（2022）" in reason and "611021 village_register 2022" in reason
    value, text, complete, reason = fig["employed_persons"]
    assert value is None and text is None and not complete
    assert all(name in reason for name in COUNTIES.values())
    assert fig["monitored_households"][2] is True                   # other sections unaffected
    status = dict(query(wh, "select county_code || ' ' || return_id, state from landing.status where period = '2022'"))
    assert status["611021 village_register"] == "missing" and status["611002 employment"] == "missing"
