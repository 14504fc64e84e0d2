"""Blank Excel returns for the clerks, derived from the declarations: the official headers,
code and ID columns formatted as text (so Excel never turns them into numbers), drop-down lists
for categories and 是/否, whole-number and date checks, and a sheet of instructions."""
from __future__ import annotations

from pathlib import Path

from .core import Field, Return
from .xlsx import append, save

LAST_ROW = 1_048_576      # Excel's last row: formats and drop-downs cover whole columns
TEXT_KINDS = ("code", "county", "id_number", "text", "category")
WIDE_KINDS = {"id_number": 22, "code": 20, "county": 12}    # 18 digits and a margin
CITY_OFFICE = "商洛市统计局乡村振兴统计科"
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
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    fields = [f for f in ret.fields if f.required or f.name != "county_code"]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = f"{ret.table_label} {ret.title}"
    append(ws, [f"（县区名称）（年份）年{ret.title}"])
    append(ws, [f.label for f in fields])
    for cell in ws[2]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    last = 3 if ret.one_row else LAST_ROW
    for i, f in enumerate(fields, start=1):
        col = get_column_letter(i)
        dim = ws.column_dimensions[col]
        dim.width = max(12, len(f.label) * 2 + 2, WIDE_KINDS.get(f.kind, 0))
        area = f"{col}3:{col}{last}"
        if f.kind in TEXT_KINDS:           # the whole column: Excel applies a column's format to every new cell
            dim.number_format = "@"
        elif f.kind == "date":
            dim.number_format = "yyyy-mm-dd"
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
        if dv is not None:
            dv.error, dv.errorTitle = f"{f.label}：{KIND_ZH[f.kind]}", "填报值不符合要求"
            dv.showErrorMessage = True
            ws.add_data_validation(dv)
            dv.add(area)
    ws.freeze_panes = "A3"

    notes = wb.create_sheet("填表说明")
    append(notes, [f"{ret.table_label} {ret.title}（{ret.return_id}）填表说明"])
    notes["A1"].font = Font(bold=True, size=13)
    for line in (
            "一行一条记录；本县区只填本县区的数据。" if not ret.one_row else "本表每县区只填一行。",
            "代码、身份证号列已设为文本格式：请勿改为数字格式，否则18位号码的末几位会变成0。"
            "从其他文件粘贴时请用“选择性粘贴—数值”，以免带入数字格式。",
            "类别和是/否列请从下拉列表选择；日期写成2022-03-01。",
            "可在数据下方加“合计”行（会与各列之和核对）；“小计”行会被忽略。",
            "文件保存为本表名称（如“" + template_name(ret) + "”），与其他报表一起放入本县区本期的报送文件夹，"
            "按市统计局的通知报送。",
            "报送后市统计局将返回“审核反馈表”：强制性错误须改正后重新报送；核实性警告如数据无误，"
            "在反馈表“说明”工作表的“说明”列写明原因，连同报表一起报送。",
            f"有疑问请联系{CITY_OFFICE}。"):
        append(notes, [line])
    append(notes, [])
    append(notes, ["列名", "字段名", "类型", "单位", "要求"])
    for cell in notes[notes.max_row]:
        cell.font = Font(bold=True)
    for f in fields:
        append(notes, [f.label, f.name, KIND_ZH[f.kind], f.unit, _rules(f)])
    for col, width in zip("ABCDE", (28, 30, 30, 10, 70)):
        notes.column_dimensions[col].width = width
    return save(wb, path)


def template_name(ret: Return) -> str:
    return f"{ret.table_label} {ret.title}.xlsx"

