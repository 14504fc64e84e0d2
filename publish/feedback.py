"""The 审核反馈表: what a county clerk gets back from `shangluo validate --xlsx` (and the portal).

A cover sheet (period, county, counts per return and severity, what to do next, in Chinese with
English beside) and the sheet `说明`: one row per violation with 表号, 规则编号 and 业务键 first,
where it is (file, sheet, row, column), the value as written (ID numbers masked), the messages,
and an empty column 说明 for the clerk.  The sheet's headers are those the pipeline reads as a
county's explanations (`intake.explanations.EXPLANATIONS`), so the workbook, put back in the county
folder (or its `说明` sheet saved as 说明.csv), explains the soft warnings it answers.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path

from schemas.catalogue import RETURNS
from schemas.core import AREAS, HARD
from schemas.template import CITY_OFFICE
from schemas.xlsx import append, save

SHEET = "说明"            # the name the landing scan reads as explanations (schemas.read.EXPLANATION_NAMES)
# (header, English, width, key of the row); 表号, 规则编号, 业务键 and 说明 are the explanation columns
COLUMNS = (("表号", "return", 8, "table"), ("规则编号", "rule id", 34, "rule_id"),
           ("业务键", "business key: 户编号 / 村代码 / 安置点名称 / 帮扶类型", 22, "business_key"),
           ("类别", "severity: 强制性 hard / 核实性 soft", 9, "kind"), ("文件", "file", 24, "file"),
           ("工作表", "sheet", 14, "sheet"), ("行号", "row", 7, "source_row"), ("列名", "column", 18, "column_header"),
           ("填报值", "value as written (ID numbers masked)", 20, "value"), ("问题说明", "message", 46, "message_zh"),
           ("Message", "message in English", 46, "message_en"),
           ("说明", "your explanation of a soft warning (fill in)", 40, "explanation"))
SEVERITY_ZH = {HARD: "强制性", "soft": "核实性"}
NEXT_STEPS = (
    ("强制性错误：请在原报表中改正后重新报送。改正前该报表不被采用，此前采用的版本继续有效。",
     "Hard errors: correct them in the return and send it again. Until then the return is not accepted; "
     "the version accepted before stays in force."),
    ("核实性警告：如数据确实无误，请在“说明”工作表最后一列“说明”中写明原因；"
     "表号、规则编号、业务键三列请勿改动。",
     "Soft warnings: if the figure is right, write why in the last column (说明) of the sheet 说明; "
     "leave 表号, 规则编号 and 业务键 as they are."),
    ("把本工作簿（或将“说明”工作表另存为“说明.csv”）与报表一起放入本县区的报送文件夹，"
     "重新报送后对应警告即标为“已说明”。",
     "Put this workbook (or the sheet 说明 saved as 说明.csv) into the county's folder with the returns; "
     "once received, the warnings it answers are marked explained."),
    (f"有疑问请联系{CITY_OFFICE}。", "Questions: the city statistics bureau, rural-revitalisation section."),
)


def _table_label(return_id: str | None) -> str:
    return RETURNS[return_id].table_label if return_id in RETURNS else ""


def feedback_rows(rows: list[dict]) -> list[dict]:
    """The violations as the sheet 说明 shows them, in file, sheet and row order."""
    out = []
    for r in sorted(rows, key=lambda r: (str(r.get("source") or ""), str(r.get("sheet") or ""),
                                         r.get("source_row") or 0, str(r.get("rule_id") or ""))):
        out.append(dict(r, table=_table_label(r.get("return_id")), kind=SEVERITY_ZH.get(r.get("severity"), ""),
                        file=Path(str(r.get("source") or "")).name, business_key=r.get("business_key") or "",
                        explanation=r.get("explanation") or ""))
    return out


def write_feedback(rows: list[dict], path: Path, period: str | None, county: str | None) -> Path:
    """Write the 审核反馈表 for `rows` (dicts with the columns of quality.violations) to `path`."""
    import openpyxl
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    lines = feedback_rows(rows)
    wb = openpyxl.Workbook()
    cover = wb.active
    cover.title = "封面 cover"
    bold = Font(bold=True)
    append(cover, ["审核反馈表 Validation feedback"])
    cover["A1"].font = Font(bold=True, size=14)
    county_name = f"{AREAS.get(county, '')} {county}".strip() if county else "—"
    for label, value in (("报告期 period", period or "—"), ("县区 county", county_name),
                         ("生成时间 generated", datetime.now().strftime("%Y-%m-%d %H:%M:%S")),
                         ("强制性错误 hard errors", sum(1 for r in lines if r.get("severity") == HARD)),
                         ("核实性警告 soft warnings", sum(1 for r in lines if r.get("severity") != HARD))):
        row = append(cover, [label, value])
        cover.cell(row, 1).font = bold
    append(cover, [])
    row = append(cover, ["表号 return", "报表 title", "强制性错误 hard", "核实性警告 soft"])
    for cell in cover[row]:
        cell.font = bold
    counts = Counter((r["table"], r.get("return_id"), r.get("severity")) for r in lines)
    for table, return_id in sorted({(t, i) for t, i, _ in counts}, key=lambda k: (len(k[0]), k[0])):
        title = RETURNS[return_id].title if return_id in RETURNS else "无法读取的文件 unusable file"
        append(cover, [table or "—", title, counts[(table, return_id, HARD)], counts[(table, return_id, "soft")]])
    if not lines:
        append(cover, ["未发现问题 / no problems found"])
    append(cover, [])
    row = append(cover, ["下一步 what to do next"])
    cover.cell(row, 1).font = bold
    for i, (zh, en) in enumerate(NEXT_STEPS, start=1):
        append(cover, [f"{i}. {zh}", en])
    append(cover, [])
    row = append(cover, ["“说明”工作表各列 the columns of the sheet 说明"])
    cover.cell(row, 1).font = bold
    for header, en, *_ in COLUMNS:
        append(cover, [header, en])
    for col, width in (("A", 62), ("B", 62), ("C", 16), ("D", 16)):
        cover.column_dimensions[col].width = width
    for line in cover.iter_rows(min_row=2):
        for cell in line:
            cell.alignment = Alignment(wrap_text=True, vertical="top")

    ws = wb.create_sheet(SHEET)
    append(ws, [c[0] for c in COLUMNS])
    for cell in ws[1]:
        cell.font = bold
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
    ws.cell(1, len(COLUMNS)).fill = PatternFill("solid", fgColor="FFF2CC")
    wrap = Alignment(wrap_text=True, vertical="top")
    for r in lines:
        row = append(ws, [r.get(key) for *_, key in COLUMNS])
        for column in range(1, len(COLUMNS) + 1):     # ws[row] would read every cell of the sheet: quadratic
            cell = ws.cell(row, column)
            cell.alignment = wrap
            if isinstance(cell.value, str):
                cell.number_format = "@"
    for i, (_, _, width, _) in enumerate(COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.column_dimensions[get_column_letter(len(COLUMNS))].number_format = "@"
    ws.freeze_panes = "D2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{max(ws.max_row, 2)}"
    return save(wb, path)
