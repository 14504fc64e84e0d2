"""Figure formatting from published_figures.csv, and exact arithmetic in the section SQL."""
from __future__ import annotations

from decimal import Decimal

import duckdb
import pytest

from warehouse.db import SQL_DIR
from warehouse.figures import figures

FIG = {f.figure_id: f for f in figures()}


def test_the_catalogue_is_the_published_csv():
    assert len(FIG) == 69
    assert {f.section for f in FIG.values()} == {"monitoring", "guarantees", "industry", "employment", "relocation",
                                                 "infrastructure", "construction", "assistance"}
    for f in FIG.values():   # every published value prints as its published text
        assert f.text(f.published_value) == f.published_text, f.figure_id


@pytest.mark.parametrize("figure_id, value, text", [
    ("student_aid_person_times", "19.725", "19.73万人次"),        # half-up at the .5 boundary, never binary float
    ("student_aid_person_times", "19.7249999999", "19.72万人次"),
    ("student_aid_person_times", "0.125", "0.13万人次"),
    ("risk_elimination_rate", "66.25", "66.3%"),
    ("employment_target_completion", "102.5", "103%"),
    ("fungus_bags", "4.5", "4.5亿袋"),                             # exactly `decimals` digits
    ("fungus_bags", "4", "4.0亿袋"),
    ("tap_water_coverage", "94.99", "94%以上"),                     # floor: a lower bound
    ("tap_water_coverage", "93.9999", "93%以上"),
    ("compulsory_dropouts", "0", "无一人失学辍学"),                 # zero_text
    ("compulsory_dropouts", "2", "2人失学辍学"),
    ("shell_villages", "0", "全部清零"),
    ("shell_villages", "3", "尚余3个"),
    ("uninsured_persons", "0.4", "全部参保"),                       # rounds to 0, so zero_text
])
def test_text(figure_id, value, text):
    assert FIG[figure_id].text(Decimal(value)) == text


def test_null_value_has_null_text():
    assert FIG["monitored_households"].text(None) is None and FIG["monitored_households"].rounded(None) is None


def test_rounded_values():
    assert FIG["student_aid_person_times"].rounded(Decimal("19.725")) == Decimal("19.73")
    assert FIG["tap_water_coverage"].rounded(Decimal("94.999")) == Decimal("94")


def test_what_a_figure_reads_comes_from_its_definition():
    assert FIG["monitored_persons"].reads == (("monitoring_households", 0),)
    assert FIG["risk_elimination_rate"].reads == (("monitoring_households", 0),)
    assert FIG["shell_villages_previous"].reads == (("village_register", -1),)
    assert set(FIG["weak_villages_reduced"].reads) == {("village_register", 0), ("village_register", -1)}
    assert FIG["paired_assistance_funds"].reads == (("assistance", 0),)


def test_sql_ratio_is_exact_and_null_without_denominator():
    con = duckdb.connect()
    con.execute((SQL_DIR / "macros.sql").read_text(encoding="utf-8"))
    (a, b, c, d), = con.sql("select sl_pct(1, 8), sl_pct(21466, 32446), sl_ratio(1, 0), sl_per_10k(197201)").fetchall()
    assert a == Decimal("12.5") and d == Decimal("19.7201") and c is None
    assert b == Decimal("66.159156752758")        # truncated at 12 decimals, never rounded up
    assert FIG["risk_elimination_rate"].text(b) == "66.2%"
