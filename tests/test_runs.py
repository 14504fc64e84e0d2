"""What is in force across runs, unusable input and the PII key.  A run killed at any moment: test_faults."""
from __future__ import annotations

import shutil
from pathlib import Path


from sample.generate import build, csv_bytes

from .conftest import SAMPLE, cli_env, query, shangluo


def _employment(landing: Path, county: str = "611026", **changes) -> Path:
    row = dict(build("2022")["employment"][county][0], **changes)
    path = landing / "2022" / county / "表6.csv"
    path.write_bytes(csv_bytes("employment", [row], "utf-8", "zh"))
    return path


def _figures(wh: Path, period: str = "2022") -> dict:
    return {(a, f): (v, t, c) for a, f, v, t, c in query(
        wh, "select area_code, figure_id, value, text, complete from report.figures where period = ?", [period])}


def test_rejected_version_keeps_the_last_accepted_then_correction_then_withdrawal(tmp_path, landing_copy):
    env, wh = cli_env(tmp_path, landing_copy), tmp_path / "warehouse.duckdb"
    shangluo("run", env=env)
    baseline = _figures(wh)
    first = query(wh, "select submission_id from landing.status where period = '2022' and county_code = '611026' "
                      "and return_id = 'employment'")[0][0]

    _employment(landing_copy, labor_households_employed=10**9)            # breaks a hard rule
    shangluo("run", env=env)
    state = query(wh, "select state, submission_id, newer_rejected from landing.status where period = '2022' "
                      "and county_code = '611026' and return_id = 'employment'")[0]
    assert state == ("accepted", first, True)
    assert _figures(wh) == baseline
    assert query(wh, "select count(*) from landing.submissions where status = 'rejected'")[0][0] == 1

    _employment(landing_copy, employed_persons=40000)                     # the correction
    out = shangluo("run", env=env).stdout
    statuses = dict(query(wh, "select submission_id, status from landing.submissions where period = '2022' and "
                              "county_code = '611026' and return_id = 'employment'"))
    assert statuses[first] == "superseded" and sorted(statuses.values()) == ["accepted", "superseded", "superseded"]
    changed = _figures(wh)
    assert changed[("611026", "employed_persons")][0] == 4 and changed != baseline
    assert "2022" in out

    (landing_copy / "2022" / "611026" / "表6.csv").unlink()                # withdrawn
    shangluo("run", "--period", "2022", env=env)
    assert query(wh, "select state from landing.status where period = '2022' and county_code = '611026' "
                     "and return_id = 'employment'")[0][0] == "missing"
    value, text, complete = _figures(wh)[("611000", "employed_persons")]
    assert value is not None and not complete
    assert query(wh, "select count(*) from staging.employment where period = '2022' and county_code = '611026'")[0][0] == 0


def test_unusable_input_is_refused_clearly_and_the_rest_is_processed(tmp_path, landing_copy):
    d = landing_copy / "2022" / "611026"
    (d / "表3.csv").write_bytes(b"")                                       # zero bytes
    (d / "表4.csv").unlink()
    (d / "表4.xlsx").write_text("this is not a workbook", encoding="utf-8")  # not what its extension says
    (d / "表9.csv").unlink()
    outside = tmp_path / "outside.csv"
    outside.write_text("secret", encoding="utf-8")
    (d / "表9.csv").symlink_to(outside)                                    # a link out of landing
    (d / "notes.txt").write_text("skipped", encoding="utf-8")
    env, wh = cli_env(tmp_path, landing_copy), tmp_path / "warehouse.duckdb"
    shangluo("run", "--period", "2022", env=env)
    found = {r: (zh, en) for r, zh, en in query(
        wh, "select return_id, message_zh, message_en from quality.violations where rule_id = 'file.unusable'")}
    assert set(found) == {"social_assistance", "industry", "construction"}
    assert "0字节" in found["social_assistance"][0] and "not an Excel" in found["industry"][1]
    assert "landing" in found["construction"][1]
    states = dict(query(wh, "select county_code || ' ' || return_id, state from landing.status where period = '2022'"))
    assert states["611026 industry"] == "rejected" and states["611026 employment"] == "accepted"
    assert sum(s == "accepted" for s in states.values()) == 71 - 3
    skipped = query(wh, "select source from landing.inventory where kind = 'skipped'")
    assert ("2022/611026/notes.txt",) in skipped


def test_a_file_over_the_size_limit_is_refused(tmp_path):
    landing = tmp_path / "landing"
    shutil.copytree(SAMPLE / "2022" / "611024", landing / "2022" / "611024")
    env = cli_env(tmp_path, landing, SHANGLUO_MAX_FILE_MB="0.01")
    shangluo("run", env=env)
    rows = query(tmp_path / "warehouse.duckdb",
                 "select return_id, message_en from quality.violations where rule_id = 'file.unusable'")
    assert {r for r, _ in rows} == {"monitoring_households", "village_register"}
    assert all("over the limit" in m for _, m in rows)


def test_another_landing_needs_its_own_pii_key(tmp_path, landing_copy):
    env = cli_env(tmp_path, landing_copy)
    del env["SHANGLUO_PII_KEY"]
    proc = shangluo("run", env=env, check=False)
    assert proc.returncode == 2 and "SHANGLUO_PII_KEY" in proc.stdout
    assert not (tmp_path / "warehouse.duckdb").exists()
