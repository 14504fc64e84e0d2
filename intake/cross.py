"""The cross-return and cross-period rules (`schemas.cross`) run, and the counties' explanations
(说明) applied: both again for the whole period on every run, over what is in force, so a change on
either side of a rule is always reflected.  Cross-return findings live in `quality.violations`
only: they never change a submission's ledger row, its acceptance or completeness.
"""
from __future__ import annotations

import json
from decimal import Decimal

from intake.explanations import match
from schemas.catalogue import RETURNS
from schemas.core import SOFT, Field
from schemas.cross import CROSS_RULES


def refresh_cross_rules(store, period: str) -> dict[str, int]:
    """Every cross rule's findings over what is in force replace the period's earlier ones
    (`store`: the warehouse's `LedgerStore`); the count per rule."""
    counts, rows = {}, []
    for rule in CROSS_RULES:
        found = store.cross_found(rule.sql, period)
        for county, return_id, field, row, bkey, value, other, sid, source, sheet, layout in found:
            value, other = _plain(value), _plain(other)
            f = RETURNS[return_id].field(field) if field in RETURNS[return_id].names else None
            header, cell_row = _located(layout, field, f)
            rows.append({"period": period, "county_code": county, "return_id": return_id, "submission_id": sid,
                         "source": source, "sheet": sheet, "source_row": cell_row or row, "column_header": header,
                         "value": value, "rule_id": rule.rule_id, "severity": SOFT,
                         "message_zh": rule.zh.format(value=value, other=other),
                         "message_en": rule.en.format(value=value, other=other), "status": "open",
                         "explanation": None, "business_key": bkey})
        counts[rule.rule_id] = len(found)
    store.replace_cross_violations(period, rows)
    return counts


def _plain(v):
    """A number as a clerk writes it (129071, 1234.98), not as DECIMAL(18,6) prints it."""
    return format(v.normalize(), "f") if isinstance(v, Decimal) else v


def _located(layout, field: str, f: Field | None) -> tuple[str, int | None]:
    spec = (json.loads(layout) if isinstance(layout, str) else layout or {}).get(field)
    if spec:
        return spec[0], spec[1]
    return (f.label if f else field), None


# ------------------------------------------------------------------ explanations (read in intake.explanations)

def apply_explanations(store, period: str, explanations: list[dict]) -> dict[str, int]:
    """Mark the soft warnings a county has explained (`intake.explanations.match` decides which).
    `explanations`: plain rows (county_code, table, rule_id, business_key, explanation), as intake
    read them from landing (`intake.explanations.period_explanations`).  Open are the violations of
    the versions that need a clerk or are in force; those of a version superseded or withdrawn (its
    file replaced or removed) are closed."""
    store.reopen_violations(period)
    warnings = store.explainable(period)
    answered, unmatched = match(explanations, warnings)
    store.explain([(warnings[i]["violation_id"], text) for i, text in answered.items()])
    return {"explained": len(answered), "explanations_matching_nothing": len(unmatched)}
