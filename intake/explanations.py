"""The counties' explanations (说明) as landing holds them: `说明.csv` or a sheet `说明` in the county
folder, with columns 表号, 规则编号, 业务键, 说明.  Read here, from the files the landing scan listed
in `landing.inventory` (or those `validate` is given); which warning an explanation answers is
decided here only (`match`): the pipeline (`intake.cross`) and `validate` both apply it."""
from __future__ import annotations

from pathlib import Path

from schemas.catalogue import match_return
from schemas.core import Context, Field, Return
from schemas.messages import Unusable
from schemas.read import Part, locate
from schemas.validate import check
from shangluo.config import cutoff

EXPLANATIONS = Return(
    return_id="explanations", number=0, title="说明", grain="rows",
    fields=(Field("table", "表号", headers=("return_id",)), Field("rule_id", "规则编号"),
            Field("business_key", "业务键", required=False), Field("explanation", "说明")),
)


def read_explanations(landing: Path, period: str, county: str, source: str, sheet: str | None) -> list[dict]:
    return explanations_in(Part(Path(landing) / source, None, sheet), period, county)


def explanations_in(part: Part, period: str, county: str) -> list[dict]:
    """The rows of one 说明 file or sheet: table, rule_id, business_key, explanation."""
    loc = locate(part.grid(), EXPLANATIONS)
    checked = check(loc, Context(period, county, cutoff(period)), b"")
    return checked.typed.select(["table", "rule_id", "business_key", "explanation"]).to_pylist()


def period_explanations(store, landing: Path, period: str) -> list[dict]:
    """Every explanation of `period`, from each file or sheet the last scan listed as explanations
    (`store`: the warehouse's `LedgerStore`): rows with county_code, table, rule_id, business_key and
    explanation."""
    out = []
    for e in store.inventory(period, kinds=["explanations"]) or []:
        try:       # the scan read it; it may have changed since: its explanations then answer nothing
            rows = read_explanations(landing, period, e["county_code"], e["source"], e["sheet"])
        except (Unusable, OSError):
            continue
        out += [{"county_code": e["county_code"], **x} for x in rows]
    return out


def match(explanations: list[dict], warnings: list[dict]) -> tuple[dict[int, str], list[dict]]:
    """Which warnings the explanations answer: an explanation (county_code, table, rule_id,
    business_key, explanation) answers the soft warnings of its county, of the return its 表号 names,
    with its rule id and business key (none: those without one); hard errors are never explained away,
    an unanswered row (blank 说明: the 审核反馈表 lists every warning) answers nothing.  `warnings`:
    dicts with county_code, return_id, rule_id, business_key, severity.  Returns the index of each
    warning answered -> its explanation, and the explanations that answer none."""
    by_key: dict[tuple, list[int]] = {}
    for i, w in enumerate(warnings):
        if w["severity"] == "soft":
            by_key.setdefault((w["county_code"], w["return_id"], w["rule_id"], w["business_key"] or ""), []).append(i)
    answered: dict[int, str] = {}
    unmatched = []
    for e in explanations:
        if not (e["explanation"] or "").strip():
            continue
        ret = match_return(e["table"] or "")
        hits = by_key.get((e["county_code"], ret.return_id if ret else None, e["rule_id"], e["business_key"] or ""), [])
        for i in hits:
            answered[i] = e["explanation"]
        if not hits:
            unmatched.append(e)
    return answered, unmatched
