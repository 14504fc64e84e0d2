"""The counties' explanations (说明) as landing holds them: `说明.csv` or a sheet `说明` in the county
folder, with columns 表号, 规则编号, 业务键, 说明.  Read here, from the files the landing scan listed
in `landing.inventory`; `intake.cross` applies the plain rows to the open warnings."""
from __future__ import annotations

from pathlib import Path

from schemas.core import Context, Field, Return
from schemas.read import Part, locate
from schemas.validate import check
from shangluo.config import cutoff

EXPLANATIONS = Return(
    return_id="explanations", number=0, title="说明", grain="rows",
    fields=(Field("table", "表号", headers=("return_id",)), Field("rule_id", "规则编号"),
            Field("business_key", "业务键", required=False), Field("explanation", "说明")),
)


def read_explanations(landing: Path, period: str, county: str, source: str, sheet: str | None) -> list[dict]:
    part = Part(Path(landing) / source, None, sheet)
    loc = locate(part.grid(), EXPLANATIONS)
    checked = check(loc, Context(period, county, cutoff(period)), b"")
    return checked.typed.select(["table", "rule_id", "business_key", "explanation"]).to_pylist()


def period_explanations(store, landing: Path, period: str) -> list[dict]:
    """Every explanation of `period`, from each file or sheet the last scan listed as explanations
    (`store`: the warehouse's `LedgerStore`): rows with county_code, table, rule_id, business_key and
    explanation."""
    out = []
    for e in store.inventory(period, kinds=["explanations"]) or []:
        out += [{"county_code": e["county_code"], **x}
                for x in read_explanations(landing, period, e["county_code"], e["source"], e["sheet"])]
    return out
