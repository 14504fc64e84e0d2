"""Assets, one per concept, all partitioned by period: the landing inventory, staging per return,
the cross-return rules, the submission status, one table per report section, the figures and the
report.  Three steps build them: `landing/inventory`, the multi-asset `staging` (the returns of
the run's selection) and the multi-asset `report` (everything after staging, in order), since a
Dagster step costs more in bookkeeping than a small return or a section costs to build.

Each asset writes the warehouse itself through the run's transaction and returns a
`MaterializeResult` with metadata: nothing is pickled into DAGSTER_HOME, so no clear ID number
reaches Dagster's storage.
"""

from dataclasses import asdict

import dagster as dg
import pyarrow as pa

from publish.report import write as write_report
from schemas.catalogue import RETURNS
from schemas.core import AREAS, COUNTIES
from intake.landing import Entry, scan_period
from shangluo.timing import phase
from warehouse.db import insert_arrow
from warehouse.figures import SECTION_LABELS, SECTIONS, section_reads
from intake.ledger import Ledger, known_files
from warehouse.quality import apply_explanations, refresh_cross_rules
from warehouse.report import (refresh_figures, refresh_section, refresh_status, section_inputs,
                              section_is_current)

from . import checks
from .checks import md_table
from .resources import WarehouseResource

period_partitions = dg.DynamicPartitionsDefinition(name="period")
POOL = "warehouse"          # a pool of one (dagster.yaml): one step writes the warehouse at a time
GROUP_LANDING, GROUP_STAGING, GROUP_REPORT = "landing", "staging", "report"


def _scope(context: dg.AssetExecutionContext) -> tuple[str | None, bool]:
    tags = context.run.tags
    return tags.get("shangluo/county") or None, tags.get("shangluo/force") == "true"


def _full_check(context: dg.AssetExecutionContext) -> bool:
    """Check all of staging, not only the versions staged in this run (`--force`, the nightly run)."""
    return _scope(context)[1] or context.run.tags.get("shangluo/check") == "all"


def _returns_read(context: dg.AssetExecutionContext) -> set[str] | None:
    """The returns whose staging this run materialises (None: all of them)."""
    selected = context.job_def.asset_layer.selected_asset_keys    # the run's assets, however it was started
    read = {key.path[1] for key in selected if key.path[0] == GROUP_STAGING}
    return None if read >= set(RETURNS) else read


def selection(returns: set[str] | None) -> list[dg.AssetKey] | None:
    """The assets of a run that reads `returns` again (None: every asset).  Staging of the other
    returns is left as it is; everything after staging is in the run (it reads the previous period
    too; `report` itself leaves a section whose inputs are unchanged)."""
    if returns is None or set(returns) >= set(RETURNS):
        return None
    skipped = {STAGING_KEYS[r] for r in RETURNS if r not in returns}
    return [key for a in ALL_ASSETS for key in a.keys if key not in skipped]


@dg.asset(key=["landing", "inventory"], partitions_def=period_partitions, group_name=GROUP_LANDING, pool=POOL,
          description="接收目录扫描：每个报表文件或工作表一行（只读，不改动接收目录） / scan of the landing folder (read-only)")
def landing_inventory(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    period = context.partition_key
    county, force = _scope(context)
    settings = warehouse.settings
    read = _returns_read(context)
    with warehouse.writing() as con:
        known = {} if force else known_files(con, period, warehouse.rules_version)
        with phase("scan"):
            entries = scan_period(settings.landing, period, settings.max_file_bytes, county, known)
        # what landing holds now; the entries of returns this run does not read stay as last taken,
        # so a change to them is still a change for the next run
        where, params = "period = ?", [period]
        if county:
            where, params = where + " and county_code = ?", [*params, county]
        if read is not None:
            where, params = where + " and (return_id is null or return_id in (select unnest(?)))", [*params, sorted(read)]
            entries = [e for e in entries if e.return_id is None or e.return_id in read]
        con.execute(f"delete from landing.inventory where {where}", params)
        if entries:
            cols = list(asdict(entries[0]))
            table = pa.table({c: [getattr(e, c) for e in entries] for c in cols})
            insert_arrow(con, "landing.inventory", table)
    kinds = {k: sum(1 for e in entries if e.kind == k) for k in ("part", "explanations", "unusable", "skipped")}
    notes = [[e.county_code, e.source, e.sheet, e.kind, e.message_zh] for e in entries if e.kind in ("unusable", "skipped")]
    return dg.MaterializeResult(metadata={**{f"{k}_count": v for k, v in kinds.items()},
                                          "unusable_or_skipped": md_table(["县区", "文件", "工作表", "类别", "说明"], notes)})


STAGING_KEYS = {rid: dg.AssetKey([GROUP_STAGING, rid]) for rid in RETURNS}


def _staging_spec(ret) -> dg.AssetSpec:
    return dg.AssetSpec(STAGING_KEYS[ret.return_id], group_name=GROUP_STAGING, deps=[landing_inventory],
                        description=f"{ret.table_label} {ret.title}：采用中的版本 / {ret.return_id}: rows of the versions "
                                    "in force")


def _staging_checks(ret) -> list[dg.AssetCheckSpec]:
    key = STAGING_KEYS[ret.return_id]
    return [dg.AssetCheckSpec("hard_rules_hold", asset=key, blocking=True,
                              description="采用中的数据满足全部强制性规则（只有程序缺陷才会失败） / what is in staging "
                                          "satisfies every hard rule (fails only through a defect of ours)"),
            dg.AssetCheckSpec("submissions_clean", asset=key,
                              description="被退回的版本和待核实的警告 / rejected versions and open soft warnings")]


@dg.multi_asset(name=GROUP_STAGING, specs=[_staging_spec(r) for r in RETURNS.values()],
                check_specs=[c for r in RETURNS.values() for c in _staging_checks(r)],
                partitions_def=period_partitions, pool=POOL, can_subset=True)
def staging(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """Staging of each return of the run's selection in turn: one asset per return, in one step (a
    step costs more in Dagster's bookkeeping than a small return costs to check)."""
    for return_id, key in STAGING_KEYS.items():
        if key in context.selected_asset_keys:
            yield _stage_return(context, warehouse, RETURNS[return_id], key)


def _stage_return(context: dg.AssetExecutionContext, warehouse: WarehouseResource, ret, key: dg.AssetKey
                  ) -> dg.MaterializeResult:
    period = context.partition_key
    county, force = _scope(context)
    counties = {county} if county else set(COUNTIES)
    with warehouse.writing() as con:
        entries = [e for e in _inventory(con, period, ret.return_id) if not county or e.county_code == county]
        ledger = Ledger(con, warehouse.settings.landing, warehouse.settings.pii_key(), warehouse.rules_version,
                        warehouse.run_started)
        outcomes = ledger.process(ret, period, entries, counties, force)
        staged = None if _full_check(context) else {c for c, o in outcomes.items() if o.staged}
        hard_check = checks.staging_hard_rules(con, ret, period, staged, asset_key=key)
        soft_check = checks.submissions_clean(con, ret, period, asset_key=key)
    if not hard_check.passed:
        warehouse.fail()          # a defect of ours: nothing of this run is committed
    rows = [[c, AREAS.get(c, c), o.state, o.rows, o.hard, o.soft, len(o.processed)] for c, o in outcomes.items()]
    processed = sum(len(o.processed) for o in outcomes.values())
    context.log.info(f"{ret.return_id} {period}: {processed} version(s) parsed and checked, "
                     f"{sum(o.state == 'accepted' for o in outcomes.values())} county(ies) in force")
    return dg.MaterializeResult(
        asset_key=key,
        metadata={
            "counties_in_force": sum(o.state == "accepted" for o in outcomes.values()),
            "rows_in_force": sum(o.rows for o in outcomes.values()),
            "versions_processed": processed,
            "by_county": md_table(["县区代码", "县区", "状态", "行数", "强制性错误", "核实性警告", "本次处理版本"], rows),
        },
        check_results=[hard_check, soft_check])


def _inventory(con, period: str, return_id: str) -> list[Entry]:
    rel = con.sql("select * from landing.inventory where period = ? and return_id = ? and kind in ('part', 'unusable')",
                  params=[period, return_id])
    cols = rel.columns
    return [Entry(**dict(zip(cols, r))) for r in rel.fetchall()]


# ------------------------------------------------------------------ after staging: one step
# Cross-return rules, status, the eight sections, the figures and the report are quick SQL over the
# warehouse; each is its own asset, built in dependency order in one step, since a Dagster step
# costs more in bookkeeping than any of them costs to build.

CROSS_KEY = dg.AssetKey(["quality", "cross_return"])
STATUS_KEY = dg.AssetKey(["landing", "status"])
FIGURES_KEY = dg.AssetKey(["report", "figures"])
PUBLICATION_KEY = dg.AssetKey(["report", "publication"])
SECTION_KEYS = {s: dg.AssetKey(["report", s]) for s in SECTIONS}


def _cross_return(period: str, con, warehouse: WarehouseResource, force: bool) -> dg.MaterializeResult:
    with phase("validate"):
        found = refresh_cross_rules(con, period)
        explained = apply_explanations(con, warehouse.settings.landing, period)
    open_soft = con.execute("select count(*) from quality.violations where period = ? and severity = 'soft' "
                            "and status = 'open'", [period]).fetchall()[0][0]
    return dg.MaterializeResult(asset_key=CROSS_KEY, metadata={**found, **explained, "open_soft_warnings": open_soft})


def _status(period: str, con, warehouse: WarehouseResource, force: bool) -> dg.MaterializeResult:
    refresh_status(con, period)
    rows = con.execute("select county_code, return_id, state, late, newer_rejected from landing.status "
                       "where period = ? order by county_code, return_id", [period]).fetchall()
    states = {s: sum(1 for r in rows if r[2] == s) for s in ("accepted", "rejected", "missing")}
    pending = [[c, AREAS.get(c, c), RETURNS[r].table_label, s, late, nr] for c, r, s, late, nr in rows
               if s != "accepted" or late or nr]
    table = md_table(["县区代码", "县区", "报表", "状态", "迟报", "最新版本被退回"], pending)
    missing = [r for r in rows if r[2] != "accepted" and r[0] in COUNTIES]
    return dg.MaterializeResult(
        asset_key=STATUS_KEY, metadata={**states, "needs_attention": table},
        check_results=[dg.AssetCheckResult(
            asset_key=STATUS_KEY, check_name="every_county_has_every_return", passed=not missing,
            severity=dg.AssetCheckSeverity.WARN, metadata={"not_in_force": len(missing), "needs_attention": table})])


def _section(section: str):
    def build(period: str, con, warehouse: WarehouseResource, force: bool) -> dg.MaterializeResult | None:
        with phase("aggregate"):
            inputs = section_inputs(con, period, section)
            if not force and section_is_current(con, period, section, inputs):
                return None        # built from these very inputs: not materialised again
            complete = refresh_section(con, period, section, inputs)
        return dg.MaterializeResult(asset_key=SECTION_KEYS[section],
                                    metadata={"areas": len(complete), "areas_complete": sum(complete.values())})
    return build


def _figures(period: str, con, warehouse: WarehouseResource, force: bool) -> dg.MaterializeResult:
    with phase("aggregate"):
        refresh_figures(con, period)
    rows = con.execute("select figure_id, text, complete, reason from report.figures "
                       "where period = ? and area_code = '611000' order by figure_id", [period]).fetchall()
    return dg.MaterializeResult(asset_key=FIGURES_KEY, metadata={
        "city_figures": len(rows), "city_complete": sum(1 for r in rows if r[2]),
        "city": md_table(["指标", "文字", "完整", "原因"], [list(r) for r in rows]),
    })


def _publication(period: str, con, warehouse: WarehouseResource, force: bool) -> dg.MaterializeResult:
    with phase("report"):
        rep, paths = write_report(con, period, warehouse.settings.reports)
    differ = [[f.figure_id, computed, published] for f, computed, published, equal in rep.reconciliation if not equal]
    check = dg.AssetCheckResult(
        asset_key=PUBLICATION_KEY, check_name="reconciles_with_published", passed=not differ,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"equal": rep.reconciled, "compared": len(rep.reconciliation),
                  "differences": md_table(["指标", "本次计算", "已发布"], differ)})
    return dg.MaterializeResult(asset_key=PUBLICATION_KEY,
                                metadata={"files": dg.MetadataValue.json([str(p) for p in paths]),
                                          "revisions_against_vintage": len(rep.revisions)},
                                check_results=[check])


# (spec, builder) in the order they are built
BUILT_AFTER_STAGING = [
    (dg.AssetSpec(CROSS_KEY, group_name=GROUP_STAGING, deps=list(STAGING_KEYS.values()),
                  description="表间和跨期核实规则，以及县区说明 / cross-return and cross-period soft rules, and "
                              "explanations"), _cross_return),
    (dg.AssetSpec(STATUS_KEY, group_name=GROUP_LANDING, deps=[*STAGING_KEYS.values(), CROSS_KEY],
                  description="报送状态：谁已报送、谁被退回、谁未报送 / who has submitted what, period × county × return"),
     _status),
    *((dg.AssetSpec(SECTION_KEYS[s], group_name=GROUP_REPORT, skippable=True,
                    deps=[STATUS_KEY, *(STAGING_KEYS[r] for r in section_reads(s))],
                    description=f"{SECTION_LABELS[s]}：期别×地区，未修约 / section {s}, period × area, unrounded"),
       _section(s)) for s in SECTIONS),
    (dg.AssetSpec(FIGURES_KEY, group_name=GROUP_REPORT, deps=list(SECTION_KEYS.values()),
                  description="发布数字：按发布口径修约，附文字 / the published figures, rounded and as text"), _figures),
    (dg.AssetSpec(PUBLICATION_KEY, group_name=GROUP_REPORT, deps=[FIGURES_KEY],
                  description="报告：文章、图表、口径与来源、分部表格 / the report: article, charts, provenance, tables "
                              "(report-P.md, report-P.html, tables-P.xlsx in SHANGLUO_REPORTS)"), _publication),
]


@dg.multi_asset(
    name="report", specs=[spec for spec, _ in BUILT_AFTER_STAGING], partitions_def=period_partitions, pool=POOL,
    can_subset=True,
    check_specs=[dg.AssetCheckSpec("every_county_has_every_return", asset=STATUS_KEY,
                                   description="每个县区的每张报表都有采用中的版本 / every county has every return in "
                                               "force"),
                 dg.AssetCheckSpec("reconciles_with_published", asset=PUBLICATION_KEY,
                                   description="与公开发布的数字一致 / equals the published figures")])
def report(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """Everything after staging, each asset in turn (those of the run's selection); a section whose
    inputs have not changed since it was built is left as it is (not with `--force`)."""
    _, force = _scope(context)
    for spec, build in BUILT_AFTER_STAGING:
        if spec.key in context.selected_asset_keys:
            with warehouse.writing() as con:
                result = build(context.partition_key, con, warehouse, force)
            if result is not None:
                yield result


ALL_ASSETS = [landing_inventory, staging, report]
