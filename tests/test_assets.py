"""Assets through dg.materialize on a temporary DuckDB, with a real instance from dagster.yaml."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import dagster as dg

from sample.generate import build

from .conftest import ROOT, SAMPLE, TEST_KEY, query

ID_RE = re.compile(rb"\d{17}[\dX]")


def test_definitions_load_with_lineage():
    from pipelines.definitions import defs
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {"landing/inventory", "staging/monitoring_households", "landing/status", "report/industry_section",
            "report/figures"} <= keys
    parents = {k.to_user_string() for k in graph.get(dg.AssetKey(["report", "industry_section"])).parent_keys}
    assert {"staging/industry", "staging/village_register", "landing/status"} <= parents


def test_materialize_one_period_and_no_clear_id_anywhere(tmp_path, instance, monkeypatch):
    from pipelines.assets import ALL_ASSETS
    from pipelines.options import RunOptions
    from pipelines.resources import WarehouseResource

    landing = tmp_path / "landing"
    shutil.copytree(SAMPLE / "2022", landing / "2022")
    monkeypatch.setenv("SHANGLUO_PII_KEY", TEST_KEY)
    monkeypatch.setenv("SHANGLUO_REPORTS", str(tmp_path / "reports"))
    wh = tmp_path / "wh.duckdb"
    stale = tmp_path / "reports" / ".pending-0123abcd"          # as a run killed before its commit leaves it
    stale.mkdir(parents=True)
    (stale / "report-2022.md").write_text("报告（旧）", encoding="utf-8")
    result = dg.materialize(ALL_ASSETS, partition_key="2022", instance=instance,
                            resources={"warehouse": WarehouseResource(landing=str(landing), warehouse=str(wh)),
                                       "options": RunOptions()})
    assert result.success
    (meta,) = [m.metadata for m in result.asset_materializations_for_node("staging")
               if m.asset_key == dg.AssetKey(["staging", "monitoring_households"])]
    assert meta["counties_in_force"].value == 7 and meta["rows_in_force"].value == 9888
    assert query(wh, "select count(*) from staging.monitoring_households")[0][0] == 9888
    assert query(wh, "select count(*) from report.figures where period = '2022' and not complete")[0][0] == 16  # P-1
    checks = result.get_asset_check_evaluations()
    assert {c.check_name for c in checks} == {"hard_rules_hold", "submissions_clean", "every_county_has_every_return",
                                              "reconciles_with_published"}
    assert all(c.passed for c in checks if c.check_name in ("hard_rules_hold", "every_county_has_every_return"))
    reconcile, = [c for c in checks if c.check_name == "reconciles_with_published"]
    assert not reconcile.passed and reconcile.metadata["equal"].value == 67     # 2021 is not there: two figures NULL
    assert (tmp_path / "reports" / "report-2022.html").exists()
    assert list((tmp_path / "reports").glob(".pending-*")) == []                # the dead run's files are gone

    clear = {r["head_id_number"].encode() for rows in build("2022")["monitoring_households"].values() for r in rows}
    assert len(clear) > 9000
    for path in [wh, *(tmp_path / "dagster").rglob("*")]:
        if path.is_file():
            assert not (set(ID_RE.findall(path.read_bytes())) & clear), f"clear ID number in {path}"

    # the catalogue: table name, columns with their labels, row count, kinds, owners, groups
    spec = {s.key: s for a in ALL_ASSETS for s in a.specs}[dg.AssetKey(["staging", "monitoring_households"])]
    assert spec.metadata["dagster/table_name"] == "staging.monitoring_households"
    assert spec.kinds == {"pandera", "duckdb"} and spec.owners and spec.group_name == "staging"
    columns = {c.name: c.description for c in spec.metadata["dagster/column_schema"].columns}
    assert columns["household_size"].startswith("家庭人口")
    assert meta["dagster/row_count"].value == 9888
    status, = [m.metadata for m in result.asset_materializations_for_node("report")
               if m.asset_key == dg.AssetKey(["landing", "status"])]
    assert "every return of every county is in force" in status["summary"].value
    assert status["matrix"].value.split("\n\n")[0].count("✓") == 71     # 7 counties × 10 returns, the city's 表10

    # each check executed alone evaluates it over what the warehouse holds, building nothing
    # (as the UI's "Execute" of a check: the job, its selection that check only)
    from pipelines.definitions import defs
    config = {"resources": {"warehouse": {"config": {"landing": str(landing), "warehouse": str(wh)}}}}
    for asset, name in ((["staging", "monitoring_households"], "hard_rules_hold"),
                        (["report", "publication"], "reconciles_with_published")):
        job = defs.resolve_job_def("build_period").get_subset(
            asset_selection=set(), asset_check_selection={dg.AssetCheckKey(dg.AssetKey(asset), name)})
        alone = job.execute_in_process(run_config=config, partition_key="2022", instance=instance)
        assert alone.success and not alone.get_asset_materialization_events()
        (evaluation,) = alone.get_asset_check_evaluations()
        assert evaluation.check_name == name and evaluation.partition == "2022"
    assert evaluation.metadata["equal"].value == 67
    hard = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [dg.AssetCheckKey(dg.AssetKey(["staging", "monitoring_households"]), "hard_rules_hold")])
    assert hard, "the check's result is recorded"

    # the blocking check does fail when staging breaks a hard rule (here by hand: the pipeline never does)
    import duckdb
    from pipelines.checks import staging_hard_rules
    from schemas.catalogue import RETURNS
    con = duckdb.connect(str(wh))
    con.execute("update staging.monitoring_households set household_size = 0 where source_row in (2, 3)")
    con.execute("insert into staging.monitoring_households select * from staging.monitoring_households limit 1")
    result = staging_hard_rules(con, RETURNS["monitoring_households"], "2022")
    failing = dict(re.findall(r"\| (monitoring_households\.[a-z_.]+) \| (\d+) \|", result.metadata["failing_rules"].value))
    broken = con.execute("select count(*) from staging.monitoring_households where household_size = 0").fetchall()[0][0]
    assert not result.passed and broken > 1 and failing["monitoring_households.household_size.min"] == str(broken)
    assert failing["monitoring_households.household_id.unique"] == "1"
    # in an incremental run it checks the counties whose versions were staged in that run
    one = staging_hard_rules(con, RETURNS["monitoring_households"], "2022", {"611021"})
    in_one = con.execute("select count(*) from staging.monitoring_households where household_size = 0 "
                         "and county_code = '611021'").fetchall()[0][0]
    failing = dict(re.findall(r"\| (monitoring_households\.[a-z_.]+) \| (\d+) \|", one.metadata["failing_rules"].value))
    assert not one.passed and 0 < in_one < broken and failing["monitoring_households.household_size.min"] == str(in_one)
    none = staging_hard_rules(con, RETURNS["monitoring_households"], "2022", set())
    assert none.passed and none.metadata["rows_checked"].value == 0


def test_dagster_definitions_validate_from_the_command_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGSTER_")}     # a clean shell
    proc = subprocess.run([sys.executable, "-m", "dagster", "definitions", "validate"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
