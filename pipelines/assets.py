"""Assets, one per concept, all partitioned by period: the landing inventory, staging per return,
the cross-return rules, the submission status, one table per report section, the figures and the
report.  Three steps build them: `landing/inventory`, the multi-asset `staging` (the returns of
the run's selection) and the multi-asset `report` (everything after staging, in order), since a
Dagster step costs more in bookkeeping than a small return or a section costs to build.

Each asset writes the warehouse itself through the run's transaction and returns a
`MaterializeResult` with metadata: nothing is pickled into DAGSTER_HOME, so no clear ID number
reaches Dagster's storage.  Groups follow the flow: landing → staging → quality → report.  The
checks are partitioned by period like their assets; each can be executed alone (it reads the
warehouse, builds nothing).  The run's options come from the resource `options` (pipelines/options.py).
"""

import os
import shutil
from dataclasses import asdict
from pathlib import Path

import dagster as dg

from publish.report import build as build_report
from publish.report import pending_folder
from publish.report import report_files
from publish.report import write as write_report
from schemas.catalogue import RETURNS
from schemas.core import AREAS, COUNTIES
from intake.explanations import period_explanations
from intake.landing import Entry, scan_period
from shangluo.timing import phase
from warehouse.figures import SECTION_LABELS, SECTIONS, section_reads
from warehouse.ledger import LedgerStore
from intake.ledger import Ledger, known_files
from intake.cross import apply_explanations, refresh_cross_rules
from warehouse.report import (city_figures, refresh_figures, refresh_section, refresh_status, section_inputs,
                              section_is_current, status_rows)

from . import checks
from .catalogue import OWNERS, code_refs, column_schema, matrix, row_count, table
from .checks import md_table
from .landing_state import period_digests
from .options import RunOptions, period_partitions
from .resources import WarehouseResource

POOL = "warehouse"          # a pool of one (dagster.yaml): one step writes the warehouse at a time
GROUP_LANDING, GROUP_STAGING, GROUP_QUALITY, GROUP_REPORT = "landing", "staging", "quality", "report"
INVENTORY_KEY = dg.AssetKey(["landing", "inventory"])


def _scope(options: RunOptions) -> tuple[str | None, bool]:
    return options.county or None, options.force


def _full_check(options: RunOptions) -> bool:
    """Check all of staging, not only the versions staged in this run (`force`, the nightly run)."""
    return options.force or options.check_all


def _checks_selected(context: dg.AssetExecutionContext, key: dg.AssetKey) -> set[str]:
    return {c.name for c in context.selected_asset_check_keys if c.asset_key == key}


def _only_selected(context: dg.AssetExecutionContext, results: list[dg.AssetCheckResult]) -> list[dg.AssetCheckResult]:
    return [r for r in results if r.check_name in _checks_selected(context, r.asset_key)]


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


@dg.asset(key=INVENTORY_KEY, partitions_def=period_partitions, group_name=GROUP_LANDING, pool=POOL,
          kinds={"csv", "xlsx", "duckdb"}, owners=OWNERS,
          metadata={**table("landing.inventory")},
          description="接收目录扫描：每个报表文件或工作表一行（只读，不改动接收目录） / scan of the landing folder (read-only)")
def landing_inventory(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                      options: RunOptions) -> dg.MaterializeResult:
    period = context.partition_key
    county, force = _scope(options)
    settings = warehouse.settings
    taken = {} if county else period_digests(settings.landing, period)   # what the sensor compares with
    read = _returns_read(context)
    with warehouse.writing() as con:
        store = LedgerStore(con)
        known = {} if force else known_files(store, period, warehouse.rules_version)
        with phase("scan"):
            entries = scan_period(settings.landing, period, settings.max_file_bytes, county, known)
        # what landing holds now; the entries of returns this run does not read stay as last taken,
        # so a change to them is still a change for the next run
        if read is not None:
            entries = [e for e in entries if e.return_id is None or e.return_id in read]
        store.replace_inventory(period, [asdict(e) for e in entries], county, None if read is None else sorted(read))
    _commit_if_last(context, warehouse)
    kinds = {k: sum(1 for e in entries if e.kind == k) for k in ("part", "explanations", "unusable", "skipped")}
    notes = [[e.county_code, e.source, e.sheet, e.kind, e.message_zh] for e in entries if e.kind in ("unusable", "skipped")]
    return dg.MaterializeResult(metadata={**{f"{k}_count": v for k, v in kinds.items()},
                                          **row_count(len(entries)),
                                          "unusable_or_skipped": md_table(["县区", "文件", "工作表", "类别", "说明"], notes),
                                          **taken})


STAGING_KEYS = {rid: dg.AssetKey([GROUP_STAGING, rid]) for rid in RETURNS}


def _staging_spec(ret) -> dg.AssetSpec:
    return dg.AssetSpec(STAGING_KEYS[ret.return_id], group_name=GROUP_STAGING, deps=[landing_inventory],
                        kinds={"pandera", "duckdb"}, owners=OWNERS,
                        metadata={**table(f"staging.{ret.return_id}", column_schema(ret)),
                                  **code_refs(f"schemas/returns/{ret.return_id}.py", "schemas/rules.py")},
                        description=f"{ret.table_label} {ret.title}：采用中的版本 / {ret.return_id}: rows of the versions "
                                    "in force")


def _staging_checks(ret) -> list[dg.AssetCheckSpec]:
    key = STAGING_KEYS[ret.return_id]
    return [dg.AssetCheckSpec("hard_rules_hold", asset=key, blocking=True, partitions_def=period_partitions,
                              description="采用中的数据满足全部强制性规则（只有程序缺陷才会失败） / what is in staging "
                                          "satisfies every hard rule (fails only through a defect of ours)"),
            dg.AssetCheckSpec("submissions_clean", asset=key, partitions_def=period_partitions,
                              description="被退回的版本和待核实的警告 / rejected versions and open soft warnings")]


@dg.multi_asset(name=GROUP_STAGING, specs=[_staging_spec(r) for r in RETURNS.values()],
                check_specs=[c for r in RETURNS.values() for c in _staging_checks(r)],
                partitions_def=period_partitions, pool=POOL, can_subset=True)
def staging(context: dg.AssetExecutionContext, warehouse: WarehouseResource, options: RunOptions):
    """Staging of each return of the run's selection in turn: one asset per return, in one step (a
    step costs more in Dagster's bookkeeping than a small return costs to check).  A check selected
    without its asset is evaluated over what staging holds."""
    for return_id, key in STAGING_KEYS.items():
        if key in context.selected_asset_keys:
            yield _stage_return(context, warehouse, options, RETURNS[return_id], key)
        elif _checks_selected(context, key):
            with warehouse.writing() as con:
                results = [checks.staging_hard_rules(con, RETURNS[return_id], context.partition_key, None, asset_key=key),
                           checks.submissions_clean(con, RETURNS[return_id], context.partition_key, asset_key=key)]
            yield from _only_selected(context, results)
    _commit_if_last(context, warehouse)


def _stage_return(context: dg.AssetExecutionContext, warehouse: WarehouseResource, options: RunOptions, ret,
                  key: dg.AssetKey) -> dg.MaterializeResult:
    period = context.partition_key
    county, force = _scope(options)
    counties = {county} if county else None         # None: every area, the city's own returns too
    with warehouse.writing() as con:
        store = LedgerStore(con)
        entries = [Entry(**e) for e in store.inventory(period, ret.return_id, ["part", "unusable"])
                   if not county or e["county_code"] == county]
        ledger = Ledger(store, warehouse.settings.landing, warehouse.settings.pii_key(), warehouse.rules_version,
                        warehouse.run_started)
        outcomes = ledger.process(ret, period, entries, counties, force)
        staged = {c for c, o in outcomes.items() if o.staged}
        # nothing staged in this run: the check covers all of staging (never a vacuous "0 rows checked")
        hard_check = checks.staging_hard_rules(con, ret, period, None if _full_check(options) or not staged else staged,
                                               asset_key=key)
        soft_check = checks.submissions_clean(con, ret, period, asset_key=key)
        in_force = store.staged_rows(ret.return_id, period)
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
            **row_count(in_force),
            "versions_processed": processed,
            "by_county": md_table(["县区代码", "县区", "状态", "行数", "强制性错误", "核实性警告", "本次处理版本"], rows),
        },
        check_results=_only_selected(context, [hard_check, soft_check]))


# ------------------------------------------------------------------ after staging: one step
# Cross-return rules, status, the eight sections, the figures and the report are quick SQL over the
# warehouse; each is its own asset, built in dependency order in one step, since a Dagster step
# costs more in bookkeeping than any of them costs to build.

CROSS_KEY = dg.AssetKey(["quality", "cross_return"])
STATUS_KEY = dg.AssetKey(["landing", "status"])
FIGURES_KEY = dg.AssetKey(["report", "figures"])
PUBLICATION_KEY = dg.AssetKey(["report", "publication"])
# "<section>_section": a label of its own in the graph (staging/industry is the return)
SECTION_KEYS = {s: dg.AssetKey(["report", f"{s}_section"]) for s in SECTIONS}


def _cross_return(period: str, con, warehouse: WarehouseResource, force: bool) -> dg.MaterializeResult:
    with phase("validate"):
        store = LedgerStore(con)
        found = refresh_cross_rules(store, period)
        explained = apply_explanations(store, period, period_explanations(store, warehouse.settings.landing, period))
    open_soft = store.open_soft(period)
    return dg.MaterializeResult(asset_key=CROSS_KEY, metadata={**found, **explained, "open_soft_warnings": open_soft})


def _status_check(period: str, con) -> tuple[dict, dg.AssetCheckResult]:
    """The state counts and matrix of landing.status, and the check that every return is in."""
    rows = status_rows(con, period)
    states = {s: sum(1 for r in rows if r[2] == s) for s in ("accepted", "rejected", "missing")}
    missing = [r for r in rows if r[2] != "accepted" and r[0] in COUNTIES]
    summary = (f"全部报表均已采用 / every return of every county is in force ({len(rows)})" if not missing else
               f"{len(missing)} 张报表未采用 / returns not in force: " + "、".join(
                   f"{AREAS.get(c, c)}{RETURNS[r].table_label}{RETURNS[r].title}（{c} {r}）" for c, r, *_ in missing))
    meta = {**states, "summary": dg.MetadataValue.text(summary), "matrix": matrix(rows)}
    return meta, dg.AssetCheckResult(
        asset_key=STATUS_KEY, check_name="every_county_has_every_return", passed=not missing,
        severity=dg.AssetCheckSeverity.WARN, metadata={"not_in_force": len(missing), **meta})


def _status(period: str, con, warehouse: WarehouseResource, force: bool) -> dg.MaterializeResult:
    refresh_status(con, period)
    meta, check = _status_check(period, con)
    return dg.MaterializeResult(asset_key=STATUS_KEY, check_results=[check],
                                metadata={**meta, **row_count(meta["accepted"] + meta["rejected"] + meta["missing"])})


def _section(section: str):
    def build(period: str, con, warehouse: WarehouseResource, force: bool) -> dg.MaterializeResult | None:
        with phase("aggregate"):
            inputs = section_inputs(con, period, section)
            if not force and section_is_current(con, period, section, inputs):
                return None        # built from these very inputs: not materialised again
            complete = refresh_section(con, period, section, inputs)
        return dg.MaterializeResult(asset_key=SECTION_KEYS[section],
                                    metadata={"areas": len(complete), "areas_complete": sum(complete.values()),
                                              **row_count(len(complete))})
    return build


def _figures(period: str, con, warehouse: WarehouseResource, force: bool) -> dg.MaterializeResult:
    with phase("aggregate"):
        refresh_figures(con, period)
    rows, stored = city_figures(con, period)
    return dg.MaterializeResult(asset_key=FIGURES_KEY, metadata={
        "city_figures": len(rows), "city_complete": sum(1 for r in rows if r[2]),
        **row_count(stored),
        "city": md_table(["指标", "文字", "完整", "原因"], [list(r) for r in rows]),
    })


def _reconciliation(rep) -> dg.AssetCheckResult:
    differ = [[f.figure_id, computed, published] for f, computed, published, equal in rep.reconciliation if not equal]
    return dg.AssetCheckResult(
        asset_key=PUBLICATION_KEY, check_name="reconciles_with_published", passed=not differ,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"equal": rep.reconciled, "compared": len(rep.reconciliation),
                  "differences": md_table(["指标", "本次计算", "已发布"], differ)})


def _publication(period: str, con, warehouse: WarehouseResource, force: bool) -> dg.MaterializeResult:
    reports = Path(warehouse.settings.reports)
    paths = report_files(reports, period)
    for target in paths:
        if target.exists() and not target.is_file():
            raise IsADirectoryError(f"报告文件无法放置 / the report file cannot be put in place: {target} is not a file")
    pending = pending_folder(reports)       # in place once the run's changes are committed
    warehouse.after_commit(lambda: _put_in_place(written, paths), lambda: shutil.rmtree(pending, ignore_errors=True))
    with phase("report"):
        rep, written = write_report(con, period, pending)
    return dg.MaterializeResult(asset_key=PUBLICATION_KEY,
                                metadata={"files": md_table(["文件 file"], [[p.name] for p in paths]),
                                          "folder": dg.MetadataValue.path(str(paths[0].parent)),
                                          "revisions_against_vintage": len(rep.revisions)},
                                check_results=[_reconciliation(rep)])


def _put_in_place(written: list[Path], paths: list[Path]):
    for source, target in zip(written, paths):
        os.replace(source, target)
    written[0].parent.rmdir()


# a check executed alone: what it reads, without building its asset
CHECK_ALONE = {
    "every_county_has_every_return": lambda period, con: _status_check(period, con)[1],
    "reconciles_with_published": lambda period, con: _reconciliation(build_report(con, period)),
}


# (spec, builder) in the order they are built
BUILT_AFTER_STAGING = [
    (dg.AssetSpec(CROSS_KEY, group_name=GROUP_QUALITY, deps=list(STAGING_KEYS.values()), kinds={"duckdb"},
                  owners=OWNERS, metadata={**table("quality.violations"), **code_refs("schemas/cross.py")},
                  description="表间和跨期核实规则，以及县区说明 / cross-return and cross-period soft rules, and "
                              "explanations"), _cross_return),
    (dg.AssetSpec(STATUS_KEY, group_name=GROUP_QUALITY, deps=[*STAGING_KEYS.values(), CROSS_KEY], kinds={"duckdb"},
                  owners=OWNERS, metadata=table("landing.status"),
                  description="报送状态：谁已报送、谁被退回、谁未报送 / who has submitted what, period × county × return"),
     _status),
    *((dg.AssetSpec(SECTION_KEYS[s], group_name=GROUP_REPORT, skippable=True, kinds={"duckdb"}, owners=OWNERS,
                    metadata={**table(f"report.{s}"), **code_refs(f"warehouse/sql/sections/{s}.sql")},
                    deps=[STATUS_KEY, *(STAGING_KEYS[r] for r in section_reads(s))],
                    description=f"{SECTION_LABELS[s]}：期别×地区，未修约 / section {s}, period × area, unrounded"),
       _section(s)) for s in SECTIONS),
    (dg.AssetSpec(FIGURES_KEY, group_name=GROUP_REPORT, deps=list(SECTION_KEYS.values()), kinds={"duckdb"},
                  owners=OWNERS, metadata={**table("report.figures"), **code_refs("warehouse/published_figures.csv")},
                  description="发布数字：按发布口径修约，附文字 / the published figures, rounded and as text"), _figures),
    (dg.AssetSpec(PUBLICATION_KEY, group_name=GROUP_REPORT, deps=[FIGURES_KEY], kinds={"html", "xlsx"},
                  owners=OWNERS,
                  description="报告：文章、图表、口径与来源、分部表格 / the report: article, charts, provenance, tables "
                              "(report-P.md, report-P.html, tables-P.xlsx in SHANGLUO_REPORTS)"), _publication),
]


@dg.multi_asset(
    name="report", specs=[spec for spec, _ in BUILT_AFTER_STAGING], partitions_def=period_partitions, pool=POOL,
    can_subset=True,
    check_specs=[dg.AssetCheckSpec("every_county_has_every_return", asset=STATUS_KEY, partitions_def=period_partitions,
                                   description="每个县区的每张报表都有采用中的版本 / every county has every return in "
                                               "force"),
                 dg.AssetCheckSpec("reconciles_with_published", asset=PUBLICATION_KEY, partitions_def=period_partitions,
                                   description="与公开发布的数字一致 / equals the published figures")])
def report(context: dg.AssetExecutionContext, warehouse: WarehouseResource, options: RunOptions):
    """Everything after staging, each asset in turn (those of the run's selection); a section whose
    inputs have not changed since it was built is left as it is (not with `force`).  A check
    selected without its asset is evaluated over what the warehouse holds."""
    _, force = _scope(options)
    for spec, build in BUILT_AFTER_STAGING:
        if spec.key in context.selected_asset_keys:
            with warehouse.writing() as con:
                result = build(context.partition_key, con, warehouse, force)
            if result is not None:
                yield result._replace(check_results=_only_selected(context, list(result.check_results or [])))
        else:
            for name in sorted(_checks_selected(context, spec.key)):
                with warehouse.writing() as con:
                    yield CHECK_ALONE[name](context.partition_key, con)
    _commit_if_last(context, warehouse)


ALL_ASSETS = [landing_inventory, staging, report]
STEPS = [a.op.name for a in ALL_ASSETS]      # in the order a run executes them


def _commit_if_last(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """The run's last step commits its transaction, so that a failed commit fails the run."""
    steps = context.run.step_keys_to_execute          # a re-execution of some steps: only those
    in_run = {node.name for node in context.job_def.nodes if steps is None or node.name in steps}
    if not any(step in in_run for step in STEPS[STEPS.index(context.op_def.name) + 1:]):
        warehouse.commit()
