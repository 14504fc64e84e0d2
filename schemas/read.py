"""Reading what clerks send: CSV (UTF-8, GB18030), .xlsx and .xls, into located raw tables.

A *grid* is the cells of one CSV file or one sheet as strings, with the row number the clerk
sees (the Excel row; for a CSV the line in the file, the first line being 1).  `locate` finds
the header row (or the vertical 指标名称 / 计量单位 / 数值 form), maps headers to the return's
fields, and sets apart title, footer, blank, `合计` and `小计` rows.  Typing the values is the
job of `normalise` (vectorised, in DuckDB); nothing here interprets a value.
"""
from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

from .catalogue import RETURNS, match_return
from .core import Return
from .messages import Finding, Unusable

SKIPPED_NAMES = {"desktop.ini", ".ds_store", "thumbs.db"}
FOOTER_PREFIXES = ("填表人", "填报人", "审核人", "负责人", "单位负责人", "制表人", "统计负责人", "填表日期", "填报日期",
                   "联系电话", "报出日期", "注：", "注:", "说明：", "说明:")
TOTAL_WORDS = ("合计", "总计", "全县合计", "全区合计", "全市合计")
SUBTOTAL_WORDS = ("小计",)
EXPLANATION_NAMES = ("说明",)
HEADER_SCAN_ROWS = 30


def squash(text) -> str:
    """A header or name for matching: no white space, half-width brackets, lower case."""
    return re.sub(r"[\s\u3000]+", "", str(text)).replace("（", "(").replace("）", ")").lower()


@dataclass
class Grid:
    cells: list[list[str | None]]
    rows: list[int]                                          # the row number the clerk sees
    uncached_formulas: set[tuple[int, int]] = field(default_factory=set)   # (row number, column index)


# ---------------------------------------------------------------- cells to strings

def _excel_number(v: float) -> str:
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    if abs(v) >= 1e15:          # Excel keeps 15 significant digits: show what it kept
        return f"{v:.14E}".replace(".00000000000000E", "E").rstrip("0").replace(".E", "E")
    return format(v, ".15g")


def cell_text(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "是" if v else "否"
    if isinstance(v, int):
        return str(v) if abs(v) < 10 ** 15 else _excel_number(float(v))
    if isinstance(v, float):
        return _excel_number(v)
    if isinstance(v, datetime):
        return v.date().isoformat() if v.time() == time(0) else v.isoformat(sep=" ")
    if isinstance(v, date):
        return v.isoformat()
    s = str(v)
    return s if s.strip() else None


# ---------------------------------------------------------------- file formats

def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030 (a superset of GBK)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise Unusable("文件既不是UTF-8也不是GB18030编码的文本", "the file is neither UTF-8 nor GB18030 text") from exc


def read_csv(path: Path) -> Grid:
    data = path.read_bytes()
    if b"\x00" in data[:4096]:
        raise Unusable("文件不是CSV文本文件", "the file is not a CSV text file")
    text = decode_text(data)
    reader = csv.reader(io.StringIO(text, newline=""))
    cells, rows, line = [], [], 1
    for record in reader:
        cells.append([c if c.strip() else None for c in record])
        rows.append(line)
        line = reader.line_num + 1
    return Grid(cells, rows)


def _check_zip(path: Path):
    if not zipfile.is_zipfile(path):
        raise Unusable("文件扩展名为.xlsx，但不是Excel工作簿", "the file is named .xlsx but is not an Excel workbook")


def xlsx_sheet_names(path: Path) -> list[str]:
    import openpyxl
    _check_zip(path)
    try:
        wb = openpyxl.load_workbook(path, read_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure here means the workbook is unusable
        raise Unusable(f"无法打开Excel工作簿：{exc}", f"cannot open the Excel workbook: {exc}") from exc
    try:
        return list(wb.sheetnames)
    finally:
        wb.close()


def _has_formulas(path: Path) -> bool:
    with zipfile.ZipFile(path) as z:
        return any(n.startswith("xl/worksheets/") and re.search(rb"<f[ >/]", z.read(n)) for n in z.namelist())


def read_xlsx_sheet(path: Path, sheet: str) -> Grid:
    """Cached values only (formulas and macros are never evaluated)."""
    import openpyxl
    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        ws = wb[sheet]
        cells = [[cell_text(v) for v in row] for row in ws.iter_rows(min_row=1, values_only=True)]
    finally:
        wb.close()
    grid = Grid(cells, list(range(1, len(cells) + 1)))
    if _has_formulas(path):
        wb = openpyxl.load_workbook(path, read_only=True, data_only=False)
        try:
            for r, row in enumerate(wb[sheet].iter_rows(min_row=1, values_only=True), start=1):
                for c, v in enumerate(row):
                    if isinstance(v, str) and v.startswith("=") and (c >= len(cells[r - 1]) or cells[r - 1][c] is None):
                        grid.uncached_formulas.add((r, c))
        finally:
            wb.close()
    return grid


def xls_sheet_names(path: Path) -> list[str]:
    import xlrd
    try:
        book = xlrd.open_workbook(path, on_demand=True)
    except Exception as exc:  # noqa: BLE001
        raise Unusable("文件扩展名为.xls，但不是Excel 97-2003工作簿", "the file is named .xls but is not an Excel 97-2003 workbook") from exc
    return book.sheet_names()


def read_xls_sheet(path: Path, sheet: str) -> Grid:
    import xlrd
    book = xlrd.open_workbook(path)
    ws = book.sheet_by_name(sheet)
    cells = []
    for r in range(ws.nrows):
        row = []
        for c in range(ws.ncols):
            cell = ws.cell(r, c)
            if cell.ctype == xlrd.XL_CELL_DATE:
                row.append(cell_text(xlrd.xldate.xldate_as_datetime(cell.value, book.datemode)))
            elif cell.ctype == xlrd.XL_CELL_BOOLEAN:
                row.append(cell_text(bool(cell.value)))
            elif cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK, xlrd.XL_CELL_ERROR):
                row.append(None)
            else:
                row.append(cell_text(cell.value))
        cells.append(row)
    return Grid(cells, list(range(1, len(cells) + 1)))


# ---------------------------------------------------------------- what a landing file holds

@dataclass(frozen=True)
class Part:
    """One submission inside a file: the whole CSV, or one sheet of a workbook."""
    path: Path
    ret: Return | None          # None: an explanations (说明) sheet or file
    sheet: str | None

    def grid(self) -> Grid:
        suffix = self.path.suffix.lower()
        if suffix == ".csv":
            return read_csv(self.path)
        if suffix == ".xlsx":
            return read_xlsx_sheet(self.path, self.sheet)
        return read_xls_sheet(self.path, self.sheet)


def is_system_file(name: str) -> bool:
    return name.startswith("~$") or name.lower() in SKIPPED_NAMES or name.startswith(".")


def parts_of(path: Path) -> tuple[list[Part], list[str]]:
    """The submissions in one file, and notes on what was skipped. Raises Unusable."""
    suffix = path.suffix.lower()
    if path.stat().st_size == 0:
        raise Unusable("文件为空（0字节）", "the file is empty (0 bytes)")
    if suffix == ".csv":
        ret = match_return(path.stem)
        if ret is None and path.stem.strip() not in EXPLANATION_NAMES:
            return [], [f"文件名不对应任何报表，已跳过 / file name matches no return, skipped: {path.name}"]
        return [Part(path, ret, None)], []
    if suffix in (".xlsx", ".xls"):
        names = xlsx_sheet_names(path) if suffix == ".xlsx" else xls_sheet_names(path)
        by_stem = match_return(path.stem)
        matched = {name: match_return(name) for name in names}
        if by_stem is not None and not any(matched.values()):
            matched[names[0]] = by_stem          # 表1.xlsx with a sheet called Sheet1
        parts, notes = [], []
        for name, ret in matched.items():
            if ret is not None or name.strip() in EXPLANATION_NAMES:
                parts.append(Part(path, ret, name))
            else:
                notes.append(f"工作表不对应任何报表，已跳过 / sheet matches no return, skipped: {path.name}!{name}")
        return parts, notes
    return [], [f"不是CSV或Excel文件，已跳过 / not a CSV or Excel file, skipped: {path.name}"]


# ---------------------------------------------------------------- locating the data in a grid

@dataclass
class Located:
    ret: Return
    columns: dict[str, list[str | None]]      # field name -> raw strings of the data rows
    source_rows: list[int]
    headers: dict[str, str]                   # field name -> header as written in the file
    cell_rows: dict[str, int] = field(default_factory=dict)   # vertical form: field -> its row
    total: dict[str, str | None] | None = None
    total_row: int | None = None
    uncached: list[tuple[int, str]] = field(default_factory=list)   # (row, field) formula without value
    notes: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)     # structural problems (hard)

    def row_of(self, name: str, i: int) -> int:
        return self.cell_rows.get(name, self.source_rows[i] if i < len(self.source_rows) else 0)

    @property
    def n(self) -> int:
        return len(self.source_rows)


def header_keys(ret: Return) -> dict[str, str]:
    keys = {}
    for f in ret.fields:
        for alias in (f.label, f.bare_label, f.name, *f.headers):
            keys.setdefault(squash(alias), f.name)
    return keys


def _first_text(row: list[str | None], upto: int = 3) -> list[str]:
    return [squash(c) for c in row if c is not None][:upto]


def _kind_of_row(row: list[str | None]) -> str:
    first = _first_text(row)
    if not first:
        return "blank"
    if any(first[0].startswith(p) for p in FOOTER_PREFIXES):
        return "footer"
    if any(t in TOTAL_WORDS for t in first):
        return "total"
    if any(t in SUBTOTAL_WORDS for t in first):
        return "subtotal"
    return "data"


def locate(grid: Grid, ret: Return) -> Located:
    keys = header_keys(ret)
    best, best_at = 0, None
    for i, row in enumerate(grid.cells[:HEADER_SCAN_ROWS]):
        squashed = [squash(c) for c in row if c is not None]
        if ret.one_row and "指标名称" in squashed and ({"数值", "数量", "指标值", "值"} & set(squashed)):
            return _locate_vertical(grid, ret, i)
        hits = sum(1 for c in squashed if c in keys)
        if hits > best:
            best, best_at = hits, i
    if best_at is None or best < min(2, len(ret.fields)):
        loc = Located(ret, {}, [], {})
        loc.findings.append(Finding(grid.rows[0] if grid.rows else 1, "", "", f"{ret.return_id}.header", "hard",
                                    "找不到表头行：没有一行包含本表的列名",
                                    "no header row found: no row holds this return's column names"))
        return loc
    return _locate_rows(grid, ret, best_at, keys)


def _locate_rows(grid: Grid, ret: Return, at: int, keys: dict[str, str]) -> Located:
    header = grid.cells[at]
    col_of: dict[str, int] = {}
    headers: dict[str, str] = {}
    loc = Located(ret, {}, [], headers)
    for c, text in enumerate(header):
        if text is None:
            continue
        name = keys.get(squash(text))
        if name is None:
            loc.notes.append(f"第{grid.rows[at]}行列“{text.strip()}”不属于本表，已忽略 / column '{text.strip()}' is not part of the return, ignored")
        elif name in col_of:
            loc.findings.append(Finding(grid.rows[at], text.strip(), "", f"{ret.return_id}.{name}.duplicate_column", "hard",
                                        f"列“{text.strip()}”重复出现", f"column '{text.strip()}' appears twice"))
        else:
            col_of[name], headers[name] = c, text.strip()
    for f in ret.fields:
        if f.name not in col_of and f.required:
            loc.findings.append(Finding(grid.rows[at], f.label, "", f"{ret.return_id}.{f.name}.missing_column", "hard",
                                        f"缺少必填列“{f.label}”", f"required column '{f.label}' ({f.name}) is missing"))
    data_idx = []
    for i in range(at + 1, len(grid.cells)):
        row = grid.cells[i]
        kind = _kind_of_row(row)
        if kind == "data":
            data_idx.append(i)
        elif kind == "total":
            if loc.total is not None:
                loc.notes.append(f"第{grid.rows[i]}行为第二个合计行，已忽略 / a second total row at row {grid.rows[i]} ignored")
                continue
            loc.total = {n: (row[c] if c < len(row) else None) for n, c in col_of.items()}
            loc.total_row = grid.rows[i]
        elif kind in ("subtotal", "footer"):
            what = "小计行" if kind == "subtotal" else "表尾行"
            loc.notes.append(f"第{grid.rows[i]}行为{what}，已跳过 / row {grid.rows[i]} is a {kind} row, skipped")
    loc.source_rows = [grid.rows[i] for i in data_idx]
    for name, c in col_of.items():
        loc.columns[name] = [grid.cells[i][c] if c < len(grid.cells[i]) else None for i in data_idx]
    if grid.uncached_formulas:
        name_of = {c: n for n, c in col_of.items()}
        loc.uncached = sorted((r, name_of[c]) for r, c in grid.uncached_formulas if c in name_of)
    return loc


def _locate_vertical(grid: Grid, ret: Return, at: int) -> Located:
    header = [squash(c) if c is not None else "" for c in grid.cells[at]]
    name_c = header.index("指标名称")
    unit_c = header.index("计量单位") if "计量单位" in header else None
    value_c = next(header.index(h) for h in ("数值", "数量", "指标值", "值") if h in header)
    value_header = grid.cells[at][value_c].strip()
    keys = header_keys(ret)
    loc = Located(ret, {}, [], {})
    col_of_rows = {}
    for i in range(at + 1, len(grid.cells)):
        row = grid.cells[i] + [None] * (max(name_c, value_c, unit_c or 0) + 1 - len(grid.cells[i]))
        kind = _kind_of_row(row)
        if kind in ("blank", "footer"):
            continue
        label, unit = row[name_c], (row[unit_c] if unit_c is not None else None)
        name = None
        if label is not None:
            name = keys.get(squash(f"{label}({unit})")) if unit else None
            name = name or keys.get(squash(label))
        if name is None:
            loc.notes.append(f"第{grid.rows[i]}行指标“{label}”不属于本表，已忽略 / indicator '{label}' is not part of the return, ignored")
            continue
        if name in col_of_rows:
            loc.findings.append(Finding(grid.rows[i], value_header, "", f"{ret.return_id}.{name}.duplicate_column", "hard",
                                        f"指标“{label}”重复出现", f"indicator '{label}' appears twice"))
            continue
        col_of_rows[name] = i
        loc.columns[name] = [row[value_c]]
        loc.headers[name] = value_header
        loc.cell_rows[name] = grid.rows[i]
        if (grid.rows[i], value_c) in grid.uncached_formulas:
            loc.uncached.append((grid.rows[i], name))
    for f in ret.fields:
        if f.name not in col_of_rows and f.required:
            loc.findings.append(Finding(grid.rows[at], "指标名称", "", f"{ret.return_id}.{f.name}.missing_column", "hard",
                                        f"缺少必填指标“{f.label}”", f"required indicator '{f.label}' ({f.name}) is missing"))
    loc.source_rows = [grid.rows[at] + 1] if col_of_rows else []
    return loc


__all__ = ["Grid", "Located", "Part", "parts_of", "locate", "read_csv", "squash", "RETURNS", "is_system_file"]
