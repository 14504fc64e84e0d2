"""Blank Excel returns for the clerks, derived from the declarations: the official headers,
code and ID columns formatted as text (so Excel never turns them into numbers), drop-down lists
for categories and 是/否, whole-number and date checks, and a sheet of instructions."""
from __future__ import annotations

from pathlib import Path

from .core import Field, Return

DATA_ROWS = 2000          # rows prepared with formats and drop-downs
KIND_ZH = {"text": "文本", "code": "代码（文本格式，不要输入为数字）", "county": "县区代码（6位，文本格式）",
           "id_number": "身份证号（18位，文本格式）", "count": "非负整数", "amount": "数值，可带小数",
           "category": "从下拉列表选择", "bool": "是 / 否", "date": "日期，如2022-03-01"}


def _rules(f: Field) -> str:
    parts = ["必填" if f.required else "可空"]
    if f.min is not None:
        parts.append(f"不小于{f.min}")
    if f.max is not None:
        parts.append(f"不大于{f.max}")
    if f.soft_max is not None:
        parts.append(f"大于{f.soft_max}需核实")
    if f.soft_min is not None:
        parts.append(f"小于{f.soft_min}需核实")
    if f.values:
        parts.append("可选值：" + "、".join(f.values))
    if f.length:
        parts.append(f"{f.length}位数字")
    if f.county_prefix:
        parts.append("以本县区代码开头")
    return "；".join(parts)


def write_template(ret: Return, path: Path) -> Path:
    import openpyxl
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    fields = [f for f in ret.fields if f.required or f.name != "county_code"]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = f"{ret.table_label} {ret.title}"
    ws.append([f"（县区名称）（年份）年{ret.title}"])
    ws.append([f.label for f in fields])
    for cell in ws[2]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
    last = 3 + (0 if ret.one_row else DATA_ROWS - 1)
    for i, f in enumerate(fields, start=1):
        col = get_column_letter(i)
        ws.column_dimensions[col].width = max(12, len(f.label) * 2 + 2)
        area = f"{col}3:{col}{last}"
        if f.kind in ("code", "county", "id_number", "text", "category"):
            for row in range(3, last + 1):
                ws[f"{col}{row}"].number_format = "@"
        dv = None
        if f.kind in ("category", "bool"):
            values = f.values if f.kind == "category" else ("是", "否")
            dv = DataValidation(type="list", formula1='"' + ",".join(values) + '"', allow_blank=not f.required)
        elif f.kind == "count":
            dv = DataValidation(type="whole", operator="greaterThanOrEqual", formula1=str(f.min or 0))
        elif f.kind == "amount" and f.min is not None:
            dv = DataValidation(type="decimal", operator="greaterThanOrEqual", formula1=str(f.min))
        elif f.kind == "date":
            dv = DataValidation(type="date", operator="greaterThan", formula1="1")
            for row in range(3, last + 1):
                ws[f"{col}{row}"].number_format = "yyyy-mm-dd"
        if dv is not None:
            dv.error, dv.errorTitle = f"{f.label}：{KIND_ZH[f.kind]}", "填报值不符合要求"
            dv.showErrorMessage = True
            ws.add_data_validation(dv)
            dv.add(area)
    ws.freeze_panes = "A3"

    notes = wb.create_sheet("填表说明")
    notes.append([f"{ret.table_label} {ret.title}（{ret.return_id}）填表说明"])
    notes["A1"].font = Font(bold=True, size=13)
    for line in (
            "一行一条记录；本县区只填本县区的数据。" if not ret.one_row else "本表每县区只填一行。",
            "代码、身份证号列已设为文本格式：请勿改为数字格式，否则长号码会丢失末几位。",
            "可在数据下方加“合计”行（会与各列之和核对）；“小计”行会被忽略。",
            "核实性警告如数据无误，可在“说明”工作表或说明.csv中填写表号、规则编号、业务键和说明。",
            "报送前可用 `shangluo validate 文件` 自行检查。"):
        notes.append([line])
    notes.append([])
    notes.append(["列名", "字段名", "类型", "单位", "要求"])
    for cell in notes[notes.max_row]:
        cell.font = Font(bold=True)
    for f in fields:
        notes.append([f.label, f.name, KIND_ZH[f.kind], f.unit, _rules(f)])
    for col, width in zip("ABCDE", (28, 30, 30, 10, 70)):
        notes.column_dimensions[col].width = width
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def template_name(ret: Return) -> str:
    return f"{ret.table_label} {ret.title}.xlsx"

