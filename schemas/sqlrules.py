"""The SQL path of the rule catalogue: the same rules as DuckDB predicates.

Used where whole tables are checked at once: a large county file (`schemas.bulk`), the blocking
asset check over staging, and the set rules (uniqueness) across a county or the whole city.  Rules
that read the clear ID number run only while a version is checked, never over staging.
"""
from __future__ import annotations

from .core import Context, Return
from .rules import RuleInfo, required_sql, rule_catalogue


def predicates(ret: Return, ctx: Context, county_sql: str | None = None, staged: bool = False
               ) -> list[tuple[RuleInfo, str]]:
    """(rule, predicate true-or-NULL where a row passes) for every rule with a SQL form.

    `county_sql` replaces `$county` (default: the context's county code as a literal; over staging
    pass the `county_code` column).  `staged` adds the `required` rules and leaves out the
    county-code rule (staging carries the submitting county itself).
    """
    county = county_sql or f"'{ctx.county_code}'"
    cutoff = f"DATE '{ctx.cutoff.isoformat()}'"
    out = []
    for rule in rule_catalogue(ret, ctx):
        if rule.sql is None or (staged and (rule.clear or rule.info.rule_id.endswith(".county_code.county"))):
            continue
        out.append((rule.info, rule.sql.replace("$county", county).replace("$cutoff", cutoff)))
    if staged:
        out += required_sql(ret)
    return out


def violations_sql(ret: Return, ctx: Context, table: str, row_column: str, where: str = "true",
                   county_sql: str | None = None, staged: bool = False, severity: str | None = None) -> str:
    """One query listing (row, rule_id) for every failing row of every rule with a SQL form."""
    parts = [f"select {row_column} as row, '{info.rule_id}' as rule_id from {table} "
             f"where ({where}) and not coalesce(({pred}), true)"
             for info, pred in predicates(ret, ctx, county_sql, staged) if severity in (None, info.severity)]
    return "\nunion all\n".join(parts) if parts else "select null::bigint as row, null::varchar as rule_id where false"


def counts_sql(ret: Return, ctx: Context, table: str, where: str = "true", county_sql: str | None = None,
               staged: bool = False, severity: str | None = None) -> str:
    """One scan of `table`: (rule_id, failing rows) for every rule that fails somewhere.  The rows
    are filtered by all rules at once (a filter stops at the first failing rule), then labelled."""
    preds = [(info, f"not coalesce(({pred}), true)") for info, pred in predicates(ret, ctx, county_sql, staged)
             if severity in (None, info.severity)]
    if not preds:
        return "select null::varchar as rule_id, 0::bigint as n where false"
    labels = ", ".join(f"case when {cond} then '{info.rule_id}' end" for info, cond in preds)
    return (f"select rule_id, count(*) as n from (select unnest(list_filter([{labels}], lambda x: x is not null)) "
            f"as rule_id from {table} where ({where}) and ({' or '.join(cond for _, cond in preds)})) group by rule_id")


def duplicates_sql(ret: Return, table: str, row_column: str, scope: str, where: str = "true") -> str:
    """Rows whose business key appeared before in `scope` ('county_code' or '' for the whole table)."""
    keys = ", ".join(f'"{k}"' for k in ret.key)
    partition = ", ".join(x for x in (scope, keys) if x)
    not_null = " and ".join(f'"{k}" is not null' for k in ret.key)
    return (f"select {row_column} as row from (select *, row_number() over (partition by {partition} "
            f"order by {row_column}) as n from {table} where ({where}) and {not_null}) where n > 1")



def duplicate_count_sql(ret: Return, table: str, scope: str, where: str = "true") -> str:
    """The number of rows `duplicates_sql` lists, by one aggregate instead of a window (the blocking
    asset check needs the count only)."""
    group = ", ".join(x for x in (scope, *(f'"{k}"' for k in ret.key)) if x)
    not_null = " and ".join(f'"{k}" is not null' for k in ret.key)
    return (f"select coalesce(sum(n - 1), 0)::bigint from (select count(*) as n from {table} "
            f"where ({where}) and {not_null} group by {group} having count(*) > 1)")
