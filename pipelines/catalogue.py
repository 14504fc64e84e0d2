"""What the Dagster catalogue shows of each asset, derived from the declarations: the table it is
in the warehouse, its columns with their Chinese labels and units (the same words as the column
comments of the warehouse), owners, and the county × return matrix of the submission status."""
from __future__ import annotations

from pathlib import Path

import dagster as dg

from schemas.catalogue import RETURNS
from schemas.core import AREAS, COUNTIES
from warehouse.db import LEDGER, section_columns, staging_columns

OWNERS = ["team:shangluo-statistics"]   # 商洛市统计局 / the statistics office of Shangluo


def _schema(columns: dict[str, tuple[str | None, str]]) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(name, type or "DECIMAL", description=text)
                                   for name, (type, text) in columns.items()])


def column_schema(ret) -> dg.TableSchema:
    """staging.<return>: the system columns and one column per declared field."""
    return _schema(staging_columns(ret))


def table(name: str, schema: dg.TableSchema | None = None) -> dict:
    """dagster/table_name and dagster/column_schema of a warehouse table (from its declaration)."""
    if schema is None:
        if name in LEDGER:
            schema = _schema(LEDGER[name][1])
        elif name.startswith("report.") and name != "report.figures":
            schema = _schema(section_columns(name.split(".", 1)[1]))
    return {"dagster/table_name": name, **({"dagster/column_schema": schema} if schema else {})}


ROOT = Path(__file__).resolve().parents[1]


def code_refs(*paths: str) -> dict:
    """dagster/code_references to the declarations an asset is built from (Dagster adds the
    function that builds it): a return's module, a section's SQL, the figures' table."""
    return {"dagster/code_references": dg.CodeReferencesMetadataValue(code_references=[
        dg.LocalFileCodeReference(file_path=str(ROOT / p), line_number=1, label=p) for p in paths])}


def row_count(n: int) -> dict:
    return {"dagster/row_count": dg.MetadataValue.int(n)}


MARK = {"accepted": "✓", "rejected": "退回 ✗", "missing": "—"}


def matrix(rows: list[tuple]) -> dg.MetadataValue:
    """County × return: ✓ in force, 退回 ✗ rejected, — missing; (迟) late, (新版退回) a newer version
    rejected while an older one stays in force."""
    cell = {(c, r): MARK.get(s, s) + (" 迟" if late else "") + (" 新版退回" if nr else "")
            for c, r, s, late, nr in rows}
    returns = sorted({r for _, r, *_ in rows}, key=lambda r: RETURNS[r].number if r in RETURNS else 99)
    counties = [c for c in COUNTIES if any(k[0] == c for k in cell)] + sorted({c for c, _ in cell} - set(COUNTIES))
    head = ["县区 county", *(RETURNS[r].table_label if r in RETURNS else r for r in returns)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join([f"{c} {AREAS.get(c, '')}", *(cell.get((c, r), "") for r in returns)]) + " |"
              for c in counties]
    legend = "\n\n✓ 已采用 in force · 退回 ✗ rejected · — 未报送 missing · 迟 late · 新版退回 newer version rejected"
    return dg.MetadataValue.md("\n".join(lines) + legend)
