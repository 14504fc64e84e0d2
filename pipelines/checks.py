"""Asset check results, from the rule catalogue's SQL path (no Dagster definitions here)."""
import dagster as dg

from schemas.core import HARD, Context, Return
from schemas.sqlrules import counts_sql, duplicate_count_sql
from schemas.rules import unique_info
from shangluo.config import cutoff

SAMPLE_ROWS = 10


def md_table(header, rows) -> dg.MetadataValue:
    """A small table for the Dagster UI."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join("" if v is None else str(v).replace("|", "/") for v in r) + " |" for r in rows]
    return dg.MetadataValue.md("\n".join(lines) if rows else "无 / none")


def staging_hard_rules(con, ret: Return, period: str, counties: set[str] | None = None,
                       asset_key: dg.AssetKey | None = None) -> dg.AssetCheckResult:
    """Every hard rule with a SQL form holds over staging; only accepted versions are there, one a county.

    `counties`: check the rows of these counties only, whose versions entered staging in this run
    (None: all of staging).  The rows of the other counties were checked, by the same rules, in the
    run that staged them: rows in staging change only by being staged, and a change of the rules
    stages every version again.
    """
    ctx = Context(period, "", cutoff(period))
    table, everywhere = f"staging.{ret.return_id}", f"period = '{int(period)}'"
    where = everywhere
    if counties is not None:
        where += f" and county_code in ({', '.join(repr(str(int(c))) for c in sorted(counties)) or 'null'})"
    failing = con.execute(counts_sql(ret, ctx, table, where, county_sql="county_code", staged=True, severity=HARD)
                          ).fetchall()
    if ret.key:
        by_county = ret.key_within_county
        n = con.execute(duplicate_count_sql(ret, table, "county_code" if by_county else "",
                                            where if by_county else everywhere)).fetchall()[0][0]
        if n:
            failing.append((unique_info(ret).rule_id, n))
    stray = con.execute(f"""
        select count(*) from (select distinct county_code, submission_id from {table} where {everywhere}) t
        left join landing.submissions s using (submission_id)
        where s.status is distinct from 'accepted' or s.hard_count <> 0""").fetchall()[0][0]
    if stray:
        failing.append(("staging.only_accepted_versions", stray))
    rows = con.execute(f"select count(*) from {table} where {where}").fetchall()[0][0]
    return dg.AssetCheckResult(asset_key=asset_key, check_name="hard_rules_hold", passed=not failing,
                               severity=dg.AssetCheckSeverity.ERROR,
                               metadata={"failing_rules": md_table(["规则 rule", "行数 rows"], failing),
                                         "failing_rule_count": len(failing), "rows_checked": rows,
                                         "scope": "all of staging" if counties is None else
                                                  "versions staged in this run: " + (", ".join(sorted(counties)) or "none")})


def submissions_clean(con, ret: Return, period: str, asset_key: dg.AssetKey | None = None) -> dg.AssetCheckResult:
    """Rejected versions and open soft warnings of this return, with masked samples."""
    rejected = con.execute("select county_code, source, sheet, hard_count from landing.submissions where period = ? "
                           "and return_id = ? and status = 'rejected' order by county_code", [period, ret.return_id]).fetchall()
    counts = con.execute("select v.severity, v.status, count(*) from quality.violations v join landing.submissions s "
                         "using (submission_id) where v.period = ? and v.return_id = ? and s.status in ('accepted', "
                         "'rejected') group by all", [period, ret.return_id]).fetchall()
    samples = con.execute(
        "select v.county_code, v.source, v.source_row, v.column_header, v.value, v.rule_id, v.severity, v.message_zh "
        "from quality.violations v join landing.submissions s using (submission_id) where v.period = ? and "
        "v.return_id = ? and s.status in ('accepted', 'rejected') and v.status = 'open' "
        "order by v.severity, v.county_code, v.source_row limit ?", [period, ret.return_id, SAMPLE_ROWS]).fetchall()
    open_soft = sum(n for sev, st, n in counts if sev == "soft" and st == "open")
    return dg.AssetCheckResult(
        asset_key=asset_key, check_name="submissions_clean", passed=not rejected and not open_soft,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"rejected_versions": len(rejected), "open_soft_warnings": open_soft,
                  "hard_violations": sum(n for sev, _, n in counts if sev == "hard"),
                  "rejected": md_table(["县区", "文件", "工作表", "强制性错误"], rejected),
                  "samples": md_table(["县区", "文件", "行", "列", "值", "规则", "类别", "说明"], samples)})
