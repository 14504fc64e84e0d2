"""What every workbook we write shares (审核反馈表, templates, tables-P.xlsx): text from a return
stays text. openpyxl stores a str that starts with `=` as a formula, so a value such as
`=HYPERLINK(...)` or `=cmd|' /C calc'!A0` copied from a return would run in the office that opens
the workbook; characters XML cannot hold would make openpyxl refuse the whole file. Every writer
appends its rows with `append` and saves with `save`: no cell of ours is ever a formula."""
from __future__ import annotations

from pathlib import Path

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE


def clean(value):
    """A value as a cell can hold it: control characters removed from text, the rest unchanged."""
    return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value


def as_text(cell):
    """The cell keeps its value as a string, whatever it starts with (=, +, -, @)."""
    if cell.data_type == "f":
        cell.data_type = "s"
    return cell


def put(ws, row: int, column: int, value):
    """Write one value at (row, column) as data, never as a formula."""
    return as_text(ws.cell(row, column, clean(value)))


def append(ws, values) -> int:
    """ws.append for values that may come from a return; returns the row written."""
    values = [clean(v) for v in values]
    ws.append(values)
    row = ws._current_row
    for column in range(1, len(values) + 1):    # not ws[row]: that looks at every cell of the sheet (quadratic)
        as_text(ws.cell(row, column))
    return row


def save(wb, path: Path) -> Path:
    """Save after a last pass that turns any formula cell into text (no writer may leave one)."""
    for ws in wb.worksheets:
        for line in ws.iter_rows():
            for cell in line:
                as_text(cell)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def formula_cells(path: Path) -> list[str]:
    """Every cell of a saved workbook that Excel would evaluate (for tests and checks)."""
    import openpyxl
    wb = openpyxl.load_workbook(path)
    return [f"{ws.title}!{c.coordinate}" for ws in wb.worksheets for line in ws.iter_rows() for c in line
            if c.data_type == "f"]
