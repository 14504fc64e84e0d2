"""What a run reads again: the returns whose landing files were added, changed or removed since the
last run took them (judged by size and modification time, as the scan is), and nothing else."""
from __future__ import annotations

import os
import shutil
from decimal import Decimal

import dagster as dg
import duckdb

from sample.generate import build, csv_bytes, sheet_rows, write_xlsx
from intake.landing import changed_returns, scan_period

from .conftest import ROOT, SAMPLE, TEST_KEY, cli_env, query, shangluo

T0 = 1_700_000_000_000_000_000        # a fixed modification time (ns), so that only our edits change it


def _known(landing):
    known = {}
    for e in scan_period(landing, "2022", 1 << 30):
        known.setdefault(e.source, []).append(e)
    return known


def _put(path, data: bytes, mtime_ns: int = T0):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, ns=(mtime_ns, mtime_ns))


def _workbook(path, rids, county="611002", mtime_ns=T0):
    data = build("2022")
    write_xlsx(path, {f"表{n}": sheet_rows(rid, data[rid][county], county, "2022", title_rows=True, total=False)
                      for n, rid in rids})
    os.utime(path, ns=(mtime_ns, mtime_ns))


def test_changed_returns_follow_the_files(tmp_path):
    landing = tmp_path / "landing"
    county = landing / "2022" / "611002"
    employment = build("2022")["employment"]["611002"]
    _put(county / "表6.csv", csv_bytes("employment", employment, "gb18030", "zh"))
    _put(county / "说明.csv", "表号,规则编号,业务键,说明\n".encode("utf-8"))
    _workbook(county / "商州区报表.xlsx", [(2, "guarantees"), (3, "social_assistance")])
    _put(landing / "2022" / "611021" / "表6.csv", csv_bytes("employment", employment, "utf-8", "zh"))
    known = _known(landing)
    assert changed_returns(landing, "2022", known) == set()                      # nothing changed

    _put(county / "表6.csv", csv_bytes("employment", employment, "utf-8", "zh"), T0 + 1)
    assert changed_returns(landing, "2022", known) == {"employment"}
    assert changed_returns(landing, "2022", known, county="611021") == set()      # out of scope

    _put(county / "说明.csv", "表号,规则编号,业务键,说明\n表6,x,,y\n".encode("utf-8"), T0 + 1)
    assert changed_returns(landing, "2022", known) == {"employment"}              # explanations: no return

    # a workbook that gains a sheet: the returns it held and holds now
    _workbook(county / "商州区报表.xlsx", [(2, "guarantees"), (4, "industry")], mtime_ns=T0 + 1)
    assert changed_returns(landing, "2022", known) == {"employment", "guarantees", "social_assistance", "industry"}

    known = _known(landing)
    (landing / "2022" / "611021" / "表6.csv").unlink()                           # removed: withdrawn
    (county / "~$商州区报表.xlsx").write_bytes(b"lock")                           # Excel's lock file: nothing
    assert changed_returns(landing, "2022", known) == {"employment"}
    shutil.rmtree(county)                                                        # a whole county folder gone
    assert changed_returns(landing, "2022", known, county="611002") == {"employment", "guarantees", "industry"}


def test_a_change_the_run_did_not_read_is_still_a_change_for_the_next(tmp_path, instance, monkeypatch):
    """A run that reads one return (the sensor's guess, say) keeps the other returns' landing entries
    as last taken, so the next run still finds their changes."""
    from pipelines.assets import selection
    from pipelines.definitions import defs
    from shangluo.config import rules_version
    from warehouse.figures import figures
    from intake.plan import returns_to_read
    from warehouse.ledger import LedgerStore

    landing = tmp_path / "landing"
    shutil.copytree(SAMPLE / "2022", landing / "2022")
    wh = tmp_path / "wh.duckdb"
    for name, value in (("PII_KEY", TEST_KEY), ("REPORTS", tmp_path / "reports"), ("LANDING", landing), ("WAREHOUSE", wh)):
        monkeypatch.setenv(f"SHANGLUO_{name}", str(value))      # the job's resource reads the environment

    def run(read):      # as the sensor starts it: the job, with an asset selection
        result = defs.resolve_job_def("build_period").execute_in_process(
            partition_key="2022", instance=instance, asset_selection=selection(read))
        assert result.success
        return result

    def to_read():
        con = duckdb.connect(str(wh), read_only=True)
        try:
            return returns_to_read(LedgerStore(con), landing, "2022", rules_version())
        finally:
            con.close()

    run(None)
    assert to_read() == set()
    data = build("2022")
    for rid in ("employment", "industry"):
        row = dict(data[rid]["611024"][0])
        row[next(f for f in row if isinstance(row[f], int))] += 1
        (landing / "2022" / "611024" / f"{rid}.csv").write_bytes(csv_bytes(rid, [row], "utf-8-sig", "en"))
    assert to_read() == {"employment", "industry"}

    result = run({"employment"})
    done = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {k for k in done if k.startswith("staging/")} == {"staging/employment"}
    # of the sections, those that read 表6 (in P or P-1) are built again, the others are current
    sections = {k.split("/")[1].removesuffix("_section") for k in done if k.startswith("report/")} - {"figures", "publication"}
    assert sections == {f.section for f in figures() if any(r == "employment" for r, _ in f.reads)} == {"employment"}
    checks = {e.asset_key.path[1]: e for e in result.get_asset_check_evaluations() if e.check_name == "hard_rules_hold"}
    assert list(checks) == ["employment"] and checks["employment"].metadata["rows_checked"].value == 1
    assert to_read() == {"industry"}                                            # not read yet: still a change
    run(to_read())
    assert to_read() == set()
    # a run that stages nothing does not leave a vacuous check result ("0 rows checked") as the latest:
    # the check then covers all of the return's staging
    again = run({"employment"})
    (check,) = [e for e in again.get_asset_check_evaluations() if e.check_name == "hard_rules_hold"]
    in_staging = query(wh, "select count(*) from staging.employment where period = '2022'")[0][0]
    assert check.metadata["scope"].value == "all of staging" and check.metadata["rows_checked"].value == in_staging > 1
    assert check.passed and check.partition == "2022"


def test_the_cli_reads_again_only_what_changed(tmp_path, landing_copy, monkeypatch):
    env = cli_env(tmp_path, landing_copy)
    first = shangluo("run", env=env).stdout
    assert "2022: 重新读取 / reading again: 全部报表 / every return" in first       # a new warehouse
    path = landing_copy / "2022" / "611024" / "employment.csv"
    path.write_bytes(path.read_bytes() + b"\n")                                 # re-saved: same content
    again = shangluo("run", env=env).stdout
    assert "2021: 未改变，沿用上次运行的结果 / unchanged since the last run: kept as built" in again   # no run of 2021
    assert "2021: 重新读取" not in again
    assert "2022: 重新读取 / reading again: employment" in again
    forced = shangluo("run", "--period", "2022", "--force", env=env).stdout
    assert "2022: 重新读取 / reading again: 全部报表 / every return" in forced

    from cli.run import project_home
    monkeypatch.setenv("SHANGLUO_DAGSTER_STATE", env["SHANGLUO_DAGSTER_STATE"])
    monkeypatch.setenv("DAGSTER_HOME", project_home())
    with dg.DagsterInstance.get() as inst:      # the CLI's own instance
        runs = inst.get_runs(limit=2)           # newest first: --force, then 2022 after the re-saved file
        done = [{r.event_log_entry.dagster_event.asset_key.to_user_string() for r in inst.get_records_for_run(
            run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION, limit=100).records} for run in runs]
    assert len(done[0]) == 23                                                    # every asset
    assert {k for k in done[1] if k.startswith("staging/")} == {"staging/employment"}
    assert {"landing/inventory", "landing/status", "report/figures", "report/publication"} <= done[1]
    assert not {k for k in done[1] if k.startswith("report/")} - {"report/figures", "report/publication"}  # same version


def test_a_correction_in_p_minus_1_reaches_the_sections_of_p(tmp_path, landing_copy):
    """Sections are built again only when what they read changed, P-1 included: a corrected 2021
    return rebuilds 2021's section and, through it, the `_previous` column of 2022's."""
    env = cli_env(tmp_path, landing_copy)
    shangluo("run", env=env)
    wh = tmp_path / "warehouse.duckdb"
    sql = ("select period, employed_persons, employed_persons_previous, inputs_digest from report.employment "
           "where area_code = '611000' order by period")
    (p21, v21, _, d21), (p22, v22, prev22, d22) = query(wh, sql)
    assert prev22 == v21
    row = dict(build("2021")["employment"]["611024"][0])
    row["employed_persons"] += 1000
    (landing_copy / "2021" / "611024" / "employment.csv").write_bytes(csv_bytes("employment", [row], "utf-8-sig", "en"))
    out = shangluo("run", env=env).stdout
    assert "2021: 重新读取 / reading again: employment" in out and "2022: 重新读取 / reading again: 无" in out
    (_, w21, _, e21), (_, w22, prev, e22) = query(wh, sql)
    assert w21 - v21 == Decimal("0.1") and prev == w21 and w22 == v22       # 1000 persons are 0.1 万人
    assert e21 != d21 and e22 != d22
    industry = "select period, inputs_digest from report.industry order by period"
    before = query(wh, industry)
    shangluo("run", "--period", "2022", env=env)                            # nothing changed: nothing rebuilt
    assert query(wh, industry) == before and query(wh, sql)[1][3] == e22


def test_p_run_alone_after_a_correction_of_p_minus_1_does_not_look_built(tmp_path, landing_copy):
    """2021 corrected, then `--period 2022` alone (its figures read 2021 as it was): the next run reads
    2021 again and builds 2022 again too, whose `_previous` figures then equal a forced run's."""
    env, wh = cli_env(tmp_path, landing_copy), tmp_path / "warehouse.duckdb"
    figure = ("select value from report.figures where period = '2022' and area_code = '611024' "
              "and figure_id like '%shell_villages_previous%'")
    shangluo("run", env=env)
    before = query(wh, figure)[0][0]
    path = landing_copy / "2021" / "611024" / "village_register.csv"     # 东1村 becomes a shell village in 2021
    text = path.read_text(encoding="utf-8-sig")
    assert "611024001200,五类村,东1村,否,是,27.45" in text
    path.write_text(text.replace("611024001200,五类村,东1村,否,是,27.45", "611024001200,五类村,东1村,否,是,0"),
                    encoding="utf-8-sig")
    shangluo("run", "--period", "2022", env=env)           # 2022 alone: 2021's staging is still the old one
    out = shangluo("run", env=env).stdout
    assert "2021: 重新读取 / reading again: village_register" in out and "2022: 重新读取" in out
    assert query(wh, figure)[0][0] == before + 1
    assert "nothing changed since the last run" in shangluo("run", env=env).stdout
    shangluo("run", "--force", env=env)
    assert query(wh, figure)[0][0] == before + 1


def test_landing_as_the_sensor_sees_it_never_lists_a_folder_outside(tmp_path):
    """A county or period folder that is a link out of landing is one entry (the link itself): what
    lies outside is never listed, yet the link's coming and going is seen."""
    from intake.plan import digest, observe
    landing, outside = tmp_path / "landing", tmp_path / "outside"
    (landing / "2022" / "611002").mkdir(parents=True)
    (landing / "2022" / "611002" / "表9.csv").write_text("x", encoding="utf-8")
    outside.mkdir()
    (outside / "secret.csv").write_text("y", encoding="utf-8")
    before = digest(observe(landing))
    (landing / "2022" / "611021").symlink_to(outside)
    (landing / "2021").symlink_to(outside)
    os.mkfifo(landing / "2022" / "611002" / "表9 副本.csv")          # a FIFO is seen (the scan refuses it), never opened
    seen = observe(landing)
    assert set(seen) == {"2022/611002/表9.csv", "2022/611002/表9 副本.csv", "2022/611021", "2021"}
    assert digest(seen) != before
