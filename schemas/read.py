"""Reading what clerks send: CSV (UTF-8, GB18030), .xlsx and .xls, into located raw tables.

A *grid* is the cells of one CSV file or one sheet as strings, with the row number the clerk
sees (the Excel row; for a CSV the line in the file, the first line being 1).  `locate` finds
the header row (or the vertical 指标名称 / 计量单位 / 数值 form), maps headers to the return's
fields, and sets apart title, footer, blank, `合计` and `小计` rows.  Typing the values is the
job of `normalise` (vectorised, in DuckDB); nothing here interprets a value.
"""
from __future__ import annotations

import csv
import difflib
import functools
import io
import math
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from . import engine
from .catalogue import RETURNS, match_return, name_problem
from . import units
from .core import NUMERIC_KINDS, Return
from .messages import Finding, Unusable

SKIPPED_NAMES = {"desktop.ini", ".ds_store", "thumbs.db"}
FOOTER_PREFIXES = ("填表人", "填报人", "审核人", "负责人", "单位负责人", "制表人", "统计负责人", "填表日期", "填报日期",
                   "联系电话", "报出日期", "注：", "注:", "说明：", "说明:")
TOTAL_WORDS = ("合计", "总计", "全县合计", "全区合计", "全市合计")
SUBTOTAL_WORDS = ("小计",)
EXPLANATION_NAMES = ("说明",)
HEADER_SCAN_ROWS = 30
FAST_CSV_CHARS = 1 << 20      # remainders above 1 MB are tried with pyarrow first


def squash(text) -> str:
    """A header or name for matching: no white space, half-width brackets, lower case."""
    return re.sub(r"[\s\u3000]+", "", str(text)).replace("（", "(").replace("）", ")").lower()


@dataclass
class Grid:
    """The cells of a CSV file or a sheet as an Arrow table of strings `c0..cN`, and `__row`,
    the row number the clerk sees."""
    table: pa.Table
    uncached_formulas: set[tuple[int, int]] = field(default_factory=set)   # (row number, column index)
    filled: dict[int, list[int]] = field(default_factory=dict)   # column index -> rows filled from a merged cell

    @classmethod
    def from_rows(cls, cells: list[list[str | None]], rows: list[int], uncached=None) -> "Grid":
        width = max((len(r) for r in cells), default=0)
        cols = {f"c{j}": pa.array([r[j] if j < len(r) else None for r in cells], pa.string()) for j in range(width)}
        return cls(pa.table({**cols, "__row": pa.array(rows, pa.int32())}), set(uncached or ()))

    @property
    def width(self) -> int:
        return self.table.num_columns - 1

    def head(self, n: int | None = None) -> tuple[list[list[str | None]], list[int]]:
        t = self.table if n is None else self.table.slice(0, n)
        cols = [t.column(f"c{j}").to_pylist() for j in range(self.width)]
        return [list(r) for r in zip(*cols)] if cols else [[] for _ in range(t.num_rows)], t.column("__row").to_pylist()


# ---------------------------------------------------------------- cells to strings

def _excel_number(v: float) -> str:
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    if abs(v) >= 1e15:          # Excel keeps 15 significant digits: show what it kept
        mantissa, exponent = f"{v:.14E}".split("E")      # the zeros of the mantissa only: 1E+20, never 1E+2
        return f"{mantissa.rstrip('0').rstrip('.')}E{exponent}"
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


MAX_COLUMNS = 16384         # Excel's last column, XFD: no return comes near it


def _bounded_lines(text: str, first_line: int):
    """The lines of `text`, refusing one of more than MAX_COLUMNS cells before the csv module makes a
    list of them (50 million commas on a line: 10 GB as cells)."""
    for n, physical in enumerate(io.StringIO(text, newline=""), start=first_line):
        if len(physical) > MAX_COLUMNS and physical.count(",") >= MAX_COLUMNS:
            raise Unusable(f"第{n}行有{physical.count(',') + 1}列，超过上限{MAX_COLUMNS}列：不是一张报表",
                           f"line {n} has {physical.count(',') + 1} columns, over the limit of {MAX_COLUMNS}: "
                           f"not a return")
        yield physical


def _csv_rows(text: str, first_line: int) -> tuple[list[list[str | None]], list[int]]:
    reader = csv.reader(_bounded_lines(text, first_line))
    cells, rows, line = [], [], first_line
    try:
        for record in reader:
            cells.append([c if c.strip() else None for c in record])
            rows.append(line)
            line = first_line + reader.line_num
    except csv.Error as exc:      # a cell longer than the csv module's limit (131,072 characters)
        raise Unusable(f"第{line}行起的单元格无法读取（{exc}），可能是引号未闭合或单元格过长",
                       f"the cell from line {line} on cannot be read ({exc}): an unclosed quote or a cell too long") from exc
    return cells, rows


def _as_strings(names: list[str]) -> pacsv.ConvertOptions:
    """pyarrow reads every cell as a string; an empty cell is NULL."""
    return pacsv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=True, null_values=[""])


def _blank_to_null(values):
    """White space only is empty, as in the csv path (checked first: it is rare)."""
    blank = pc.utf8_is_space(values)
    return pc.if_else(blank, None, values) if pc.any(blank).as_py() else values


def _regular_tail(tail: str, first_line: int) -> pa.Table | None:
    """A large regular remainder (no quotes, no blank or ragged lines) read by pyarrow, vectorised;
    None when it is not regular (the csv module then reads it, line by line)."""
    if '"' in tail or "\n\n" in tail or "\n\r\n" in tail:
        return None
    body = tail if tail.endswith("\n") else tail + "\n"
    lines = body.count("\n")
    width = body[:body.index("\n")].count(",") + 1
    if width > MAX_COLUMNS:
        return None
    names = [f"c{j}" for j in range(width)]
    ragged = []
    try:
        t = pacsv.read_csv(io.BytesIO(body.encode("utf-8")),
                           read_options=pacsv.ReadOptions(column_names=names, block_size=64 << 20),
                           parse_options=pacsv.ParseOptions(invalid_row_handler=lambda row: ragged.append(1) or "skip"),
                           convert_options=_as_strings(names))
    except pa.ArrowInvalid:
        return None
    if ragged or t.num_rows != lines:
        return None
    t = pa.table({n: _blank_to_null(t.column(n)) for n in names})
    return t.append_column("__row", pa.array(range(first_line, first_line + lines), pa.int32()))


def read_csv(path: Path) -> Grid:
    data = path.read_bytes()
    if b"\x00" in data[:4096]:
        raise Unusable("文件不是CSV文本文件", "the file is not a CSV text file")
    text = decode_text(data)
    del data
    parts = text.split("\n", HEADER_SCAN_ROWS)
    head, tail = "\n".join(parts[:HEADER_SCAN_ROWS]), (parts[HEADER_SCAN_ROWS] if len(parts) > HEADER_SCAN_ROWS else "")
    del text, parts
    cells, rows = _csv_rows(head, 1)
    grid = Grid.from_rows(cells, rows)
    if not tail.strip():
        return grid
    first = HEADER_SCAN_ROWS + 1
    fast = _regular_tail(tail, first) if len(tail) > FAST_CSV_CHARS else None
    if fast is None:
        more = Grid.from_rows(*_csv_rows(tail, first)).table
    else:
        more = fast
    width = max(grid.width, more.num_columns - 1)
    return Grid(pa.concat_tables([_widen(grid.table, width), _widen(more, width)]))


HEAD_BYTES = 1 << 20



def csv_head(path: Path) -> tuple[Grid, str] | None:
    """The first lines of a CSV file as a grid and the file's encoding ('utf8' or 'gb18030'), for
    streaming the rest; None when they are not text."""
    with path.open("rb") as fh:
        data = fh.read(HEAD_BYTES)
    lines = data.split(b"\n")
    if len(data) == HEAD_BYTES:
        lines = lines[:-1]                  # the last line may be cut short
    head = b"\n".join(lines[:HEADER_SCAN_ROWS])
    if b"\x00" in head:
        return None
    for encoding, codec in (("utf8", "utf-8-sig"), ("gb18030", "gb18030")):
        try:
            text = head.decode(codec)
        except UnicodeDecodeError:
            continue
        return Grid.from_rows(*_csv_rows(text, 1)), encoding
    return None


class CsvStream:
    """The lines of a CSV file after its first `skip`, streamed by pyarrow as batches of strings
    c0..c{width-1} with `__row`, the line number.  Line numbers are exact only for a regular file:
    ragged or blank lines are allowed only at the very end (`trailer`: footers such as 填表人, with
    their line numbers, for the caller to classify); anything else (a ragged line inside, a line
    break inside quotes, which joins two lines into one row, an encoding error, a first line other
    than `first`) sets `problem`, and the caller reads the file the general way."""

    TRAILER_BYTES = 1 << 16

    def __init__(self, path: Path, encoding: str, skip: int, width: int, first: list | None):
        self.path, self.encoding, self.skip, self.width, self.first = path, encoding, skip, width, first
        self.problem: str | None = None
        self.rows = 0
        self.invalid: list[str] = []
        self.lines, self.trailer = self._lines_and_trailer()

    def _lines_and_trailer(self) -> tuple[int, list[tuple[int, list]]]:
        lines, last = 0, b"\n"
        with self.path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 24), b""):
                lines, last = lines + chunk.count(b"\n"), chunk[-1:]
            lines += last != b"\n"                  # a last line without a line break
            fh.seek(max(0, fh.tell() - self.TRAILER_BYTES))
            tail = fh.read().decode("utf-8" if self.encoding == "utf8" else self.encoding, errors="replace")
        texts = tail.split("\n")
        if texts and texts[-1] == "":
            texts.pop()
        trailer = []
        for k, text in enumerate(reversed(texts[1:][-HEADER_SCAN_ROWS:])):    # texts[0] may be cut short
            text = text.rstrip("\r")
            cells = next(csv.reader([text]), [])
            if text.strip() and len(cells) == self.width:
                break
            trailer.append((lines - k, [c if c.strip() else None for c in cells]))
        return lines, trailer[::-1]

    def finish(self) -> str | None:
        """The problem, if any, once the stream has been read."""
        if self.problem is None:
            if len(self.invalid) != len(self.trailer):      # pyarrow skipped a ragged line inside
                self.problem = f"{len(self.invalid)} ragged lines, {len(self.trailer)} of them at the end"
            elif self.rows + len(self.trailer) != self.lines - self.skip:
                self.problem = f"{self.rows} rows in {self.lines - self.skip} lines: a line break inside quotes"
        return self.problem

    def _invalid(self, row) -> str:
        self.invalid.append(row.text)
        return "skip"

    def reader(self) -> pa.RecordBatchReader:
        names = [f"c{j}" for j in range(self.width)]
        schema = pa.schema([(n, pa.string()) for n in names] + [("__row", pa.int32())])
        return pa.RecordBatchReader.from_batches(schema, self._batches(names, schema))

    def _batches(self, names: list[str], schema: pa.Schema):
        line = self.skip + 1
        try:
            batches = pacsv.open_csv(
                self.path,
                read_options=pacsv.ReadOptions(column_names=names, skip_rows=self.skip, block_size=16 << 20,
                                               encoding=self.encoding),
                parse_options=pacsv.ParseOptions(invalid_row_handler=self._invalid, ignore_empty_lines=False),
                convert_options=_as_strings(names))
            for b in batches:
                cols = [_blank_to_null(c) for c in b.columns]
                if line == self.skip + 1 and self.first is not None and b.num_rows and \
                        [c[0].as_py() for c in cols] != self.first:
                    self.problem = "the first streamed line is not the line after the header"
                    return
                yield pa.RecordBatch.from_arrays(cols + [pa.array(np.arange(line, line + b.num_rows, dtype=np.int32))],
                                                 schema=schema)
                line += b.num_rows
                self.rows += b.num_rows
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            self.problem = str(exc)[:200]


def _widen(t: pa.Table, width: int) -> pa.Table:
    cols = {f"c{j}": t.column(f"c{j}") if f"c{j}" in t.column_names else pa.nulls(t.num_rows, pa.string())
            for j in range(width)}
    return pa.table({**cols, "__row": t.column("__row")})


MAX_RATIO = 100                 # a sheet of real returns compresses some 10 times
RATIO_FROM_BYTES = 1 << 20      # small members (styles, themes) may compress better: bounded by size alone


def max_unpacked_bytes() -> int:
    """The largest unpacked member of a workbook (SHANGLUO_MAX_UNPACKED_MB, default 128, some
    300,000 rows of a return): with the sheet streamed, what keeps the reading of any workbook
    under 1 GB of memory."""
    import os
    return int(float(os.environ.get("SHANGLUO_MAX_UNPACKED_MB") or 128) * 2**20)


def _check_zip(path: Path):
    """A workbook is a zip archive: refuse it, before openpyxl or calamine reads a byte of it, when a
    member would unpack to more than the limit or is compressed suspiciously well (a zip bomb)."""
    if not zipfile.is_zipfile(path):
        raise Unusable("文件扩展名为.xlsx，但不是Excel工作簿", "the file is named .xlsx but is not an Excel workbook")
    limit = max_unpacked_bytes()
    try:
        with zipfile.ZipFile(path) as z:
            members = z.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise Unusable(f"无法打开Excel工作簿：{exc}", f"cannot open the Excel workbook: {exc}") from exc
    total = 0
    for m in members:
        total += m.file_size
        ratio = m.file_size / max(m.compress_size, 1)
        if m.file_size > limit or total > 4 * limit or (m.file_size > RATIO_FROM_BYTES and ratio > MAX_RATIO):
            raise Unusable(
                f"工作簿解压后过大（{m.filename}解压为{m.file_size / 2**20:.0f} MB，压缩比{ratio:.0f}倍；上限"
                f"{limit / 2**20:.0f} MB、{MAX_RATIO}倍），拒绝读取",
                f"the workbook is too big when unpacked ({m.filename} unpacks to {m.file_size / 2**20:.0f} MB, "
                f"{ratio:.0f} times its compressed size; the limits are {limit / 2**20:.0f} MB and {MAX_RATIO} "
                f"times): refused")


def xlsx_sheet_names(path: Path) -> list[str]:
    """The names of the workbook's sheets, in order, as openpyxl lists them (worksheets and chart
    sheets, hidden ones too): by python-calamine, which reads only the workbook's part (openpyxl
    also parses its styles: some 10 ms a workbook); openpyxl where calamine cannot, to say why."""
    import openpyxl
    from python_calamine import CalamineWorkbook
    _check_zip(path)
    try:
        with CalamineWorkbook.from_path(str(path)) as wb:
            return list(wb.sheet_names)
    except Exception:  # noqa: BLE001 - openpyxl opens it, or says why not
        pass
    try:
        wb = openpyxl.load_workbook(path, read_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure here means the workbook is unusable
        raise Unusable(f"无法打开Excel工作簿：{exc}", f"cannot open the Excel workbook: {exc}") from exc
    try:
        return list(wb.sheetnames)
    finally:
        wb.close()


def _has_formulas(path: Path) -> bool:
    """Whether any sheet holds a formula, each sheet streamed (never unpacked whole); only for a sheet
    that `scan_sheet` cannot settle alone."""
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/"):
                with z.open(name) as fh:
                    tail = b""
                    for block in iter(lambda: fh.read(1 << 20), b""):
                        if _FORMULA.search(tail + block):
                            return True
                        tail = block[-3:]
    return False


_FORMULA = re.compile(rb"<f[ >/]")
_CELL_REF = re.compile(r"([A-Z]{1,3})([0-9]{1,7})")


def _cell_ref(ref: str) -> tuple[int, int]:
    """A1 -> (row 1, column index 0)."""
    letters, digits = _CELL_REF.fullmatch(ref).groups()
    col = 0
    for ch in letters:
        col = col * 26 + ord(ch) - 64
    return int(digits), col - 1


def _sheet_member(z: zipfile.ZipFile, sheet: str) -> tuple[str | None, bool, list[str]]:
    """The zip member holding a sheet (None when not found this simple way), whether the workbook
    counts its dates from 1904, and the members its shared-strings relationships name."""
    names = set(z.namelist())
    book = z.read("xl/workbook.xml").decode("utf-8", "replace")
    rels = z.read("xl/_rels/workbook.xml.rels").decode("utf-8", "replace") if "xl/_rels/workbook.xml.rels" in names else ""
    date1904 = re.search(r'\bdate1904="(?!0"|false")', book) is not None
    rid = None
    for m in re.finditer(r"<(?:\w+:)?sheet\b[^>]*>", book):
        tag = m.group(0)
        name = re.search(r'\bname="([^"]*)"', tag)
        if name and _xml_text(name.group(1)) == sheet:
            rid = re.search(r'\br:id="([^"]*)"|\bid="([^"]*)"', tag)
            rid = rid and (rid.group(1) or rid.group(2))
            break
    target, shared = None, []
    for m in re.finditer(r"<Relationship\b[^>]*>", rels):
        if rid and re.search(rf'\bId="{re.escape(rid)}"', m.group(0)):
            target = re.search(r'\bTarget="([^"]*)"', m.group(0)).group(1)
        if re.search(r'\bType="[^"]*/sharedStrings"', m.group(0)):
            found = re.search(r'\bTarget="([^"]*)"', m.group(0))
            shared.append(found.group(1) if found else "")
    shared = [t.lstrip("/") if t.startswith("/") else f"xl/{t}" for t in shared]
    if target is None:
        return None, date1904, shared
    member = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
    return (member if member in names else None), date1904, shared


@dataclass
class SheetXml:
    """What one streamed pass over a sheet's XML tells: its merged cells, whether it holds formulas,
    its `<dimension>` and last row (the shape openpyxl gives it), and why, if so, calamine cannot be
    trusted to read its cells as openpyxl does (`unlike`: None when it can)."""
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)
    formulas: bool = False          # an element <f as `_has_formulas` finds it
    unsure_formulas: bool = False   # <x:f or <f followed by a tab or line break: `_has_formulas` decides
    dimension: tuple[int, int] | None = None    # (last row, last column) of <dimension ref>
    last_row: int = 0               # the r of the last <row>
    unlike: str | None = None
    max_col: int = 0                # the last column a cell's reference names (1 = A); 0: none past Z
    dated: dict[tuple[int, int], str | None] = field(default_factory=dict)   # (row, column index) -> text


_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\b[^>]*\bref="([A-Z]{1,3}[0-9]{1,7}):([A-Z]{1,3}[0-9]{1,7})"')
_ANY_FORMULA = re.compile(rb"<(?:[\w.-]+:)?f[\s>/]")
_ROW_TAG = re.compile(rb"<row[\s/>]")
_ROW_R = re.compile(rb'<row\s[^>]*?\br="([0-9]+)"')
_DIMENSION = re.compile(rb'<dimension\b[^>]*\bref="([^"]*)"')
# cells calamine would read otherwise than openpyxl (or where the two might differ)
_PREFIXED = re.compile(rb"<[\w.-]+:worksheet\b")
_NO_REF = re.compile(rb'<c(?=[\s/>])(?![^>]*\br=")')
_OTHER_TYPE = re.compile(rb'<c\s[^>]*\bt="(?!(?:s|n|b|inlineStr)")')
_SINGLE_QUOTED = re.compile(rb"<(?:c|row)\s[^>]*='")
_WS = (b" ", b"\t", b"\n", b"\r", b"\x0b", b"\x0c")          # what \s matches in bytes
_TRIMMED_T = rb'<t(?:\s(?![^>]*\bxml:space="preserve")[^>]*)?>'     # a <t> whose edge spaces calamine trims
_TEXT_UNLIKE = re.compile(   # strings calamine may read otherwise: escapes, phonetics, CR, and spaces at an edge
    rb"_x[0-9A-Fa-f]{4}_|x005F_|<rPh\b|\r|"         # of a text or a run without xml:space="preserve" (a text
    + _TRIMMED_T + rb"\s+[^\s<]|" + _TRIMMED_T + rb"[^<]*[^\s<]\s+</t>|"      # of spaces only is empty either way)
    + _TRIMMED_T + rb"\s+</t>\s*</r>")
_TEXT_LITERALS = (b"_x", b"x005F_", b"<rPh", b"\r", b"\x0b", b"\x0c") + tuple(b"<t>" + w for w in _WS[:3]) + tuple(
    w + b"</t>" for w in _WS[:3])
_LAST_START = re.compile(rb"<[A-Za-z][^<]*\Z")


def scan_sheet(z: zipfile.ZipFile, member: str, styles: tuple[set[int], set[int]] = (set(), set())) -> SheetXml:
    """One streamed pass over a sheet's XML, in blocks cut before a cell (or at least before a `<`: no
    tag is ever split).  `styles`: the cell styles openpyxl reads as dates, and as durations
    (`date_styles`); a number in such a cell is turned into text here, as openpyxl turns it."""
    out = SheetXml()
    dates, durations = styles
    ids = b"|".join(str(i).encode() for i in sorted(dates))
    styled = (re.compile(rb'<c\s([^>]*\bs="0*(' + ids + rb')"[^>]*)>'),     # any cell of a date style,
              re.compile(rb'<c r="([A-Z]{1,3}[0-9]{1,7})" s="0*(' + ids + rb')"(?: t="n")?>(?:<v>([^<&]*)</v>)?</c>'),
              [b's="0'] + [b's="%d"' % i for i in sorted(dates)]) \
        if dates else None      # one as openpyxl and Excel write it, and what a cell of one holds
    rows, before_data, carry = [], True, b""
    with z.open(member) as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            text = carry + chunk
            cut = text.rfind(b"<c ")          # before a cell, else before a start tag: a <t>…</t> is never cut
            if cut <= 0:
                last = _LAST_START.search(text)
                cut = last.start() if last else 0
            if cut <= 0:
                carry = text
                continue
            text, carry = text[:cut], text[cut:]
            _scan_block(out, text, styled, durations, rows, before_data)
            before_data = before_data and b"<sheetData" not in text
        _scan_block(out, carry, styled, durations, rows, before_data)
    if out.unlike is None and out.dimension is None:
        out.unlike = "no <dimension>"    # (no <sheetData> either)
    if rows:
        r = np.array(rows, dtype=np.int64)
        out.last_row = int(r[-1])
        if out.unlike is None and len(r) > 1 and not (np.diff(r) > 0).all():
            out.unlike = "rows out of order"
    return out


def _scan_block(out: SheetXml, text: bytes, styled, durations: set[int], rows: list, before_data: bool):
    """One block: each regular expression only where a plain search of its literal part finds one
    (a regular expression over every cell costs some 40 ms a MB, the searches a few)."""
    if b"mergeCell" in text:
        for m in _MERGE.finditer(text):
            out.merges.append((*_cell_ref(m.group(1).decode()), *_cell_ref(m.group(2).decode())))
    if not out.formulas and (b"<f>" in text or b"<f " in text or b"<f/" in text):
        out.formulas = True
    elif not out.formulas and not out.unsure_formulas and (b":f" in text or b"<f" in text) and _ANY_FORMULA.search(text):
        out.unsure_formulas = True
    found = _ROW_R.findall(text)
    if out.unlike is None and len(found) != len(_ROW_TAG.findall(text)):
        out.unlike = "a row without a number"
    rows.extend(int(r) for r in found)
    out.max_col = max(out.max_col, _wide_column(text))
    if before_data and out.dimension is None:
        head, data = (text.split(b"<sheetData", 1) + [None])[:2]
        m = _DIMENSION.search(head)
        if m:
            from openpyxl.utils.cell import range_boundaries
            try:
                _, _, max_col, max_row = range_boundaries(m.group(1).decode("utf-8", "replace"))
            except ValueError:
                max_col = max_row = None
            if max_col and max_row:
                out.dimension = (max_row, max_col)
            else:
                out.unlike = out.unlike or "a <dimension> of whole rows or columns"
        elif data is not None:
            out.unlike = out.unlike or "no <dimension>"
    if out.unlike is not None:
        return
    if before_data and _PREFIXED.search(text):
        out.unlike = "prefixed element names"
        return
    if text.count(b"<c") != text.count(b'<c r="') and _NO_REF.search(text):     # (<col, <cfRule… as well)
        out.unlike = "a cell without a reference"
        return
    if text.count(b' t="') != sum(text.count(b' t="' + t + b'"') for t in (b"s", b"n", b"b", b"inlineStr")) \
            and _OTHER_TYPE.search(text):
        out.unlike = "an error, date or formula string cell"
        return
    if b"='" in text and _SINGLE_QUOTED.search(text):
        out.unlike = "attributes in single quotes"
        return
    if styled is not None and any(lit in text for lit in styled[2]):
        plain = styled[1].findall(text)
        if len(plain) == len(styled[0].findall(text)):
            for ref, style, raw in plain:
                if not _dated_value(out, ref, int(style), raw, durations):
                    out.unlike = "a date cell whose number is no number"
                    return
        else:
            for m in styled[0].finditer(text):
                if not _dated(out, m, text, durations):
                    out.unlike = "a cell styled as a date or time, not as openpyxl writes it"
                    return
    if _text_unlike(text):
        out.unlike = "an inline string calamine may read otherwise"


def _text_unlike(text: bytes) -> bool:
    """Whether XML holds a string calamine may read otherwise than openpyxl (`_TEXT_UNLIKE`)."""
    return (any(lit in text for lit in _TEXT_LITERALS) or text.count(b"<t ") != text.count(b'<t xml:space="preserve"')) \
        and _TEXT_UNLIKE.search(text) is not None


_WIDE_REF = re.compile(rb' r="([A-Z]{2,3})[0-9]')
_NARROW_REFS = [(b' r="' + bytes([64 + n]), n) for n in range(26, 0, -1)]


def _wide_column(text: bytes) -> int:
    """The last column (1 = A) of the cell references of two or three letters in `text` (column AA on;
    rare, so found in about 1 ms a MB), 0 when there is none."""
    wide = set(_WIDE_REF.findall(text))
    return max(_cell_ref(letters.decode() + "1")[1] + 1 for letters in wide) if wide else 0


def _narrow_column(z: zipfile.ZipFile, member: str) -> int:
    """The last of the columns A-Z a cell reference of the sheet names: a second streamed pass, a plain
    search per letter (some 9 ms a MB), made only for a sheet of more rows than MAX_CELLS / 26."""
    best, carry = 0, b""
    with z.open(member) as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            text, carry = carry + chunk, chunk[-8:]
            best = max(best, next((n for literal, n in _NARROW_REFS if n > best and literal in text), 0))
            if best == 26:
                break
    return best


MAX_CELLS = 1 << 23     # some 8 million cells (a sheet of 300,000 rows of 表1 holds 3.6 million): under 1 GB


def _check_area(xml: "SheetXml", sheet: str):
    """Refuse a sheet whose cells reach so far (a stray cell at XFD1048576, as Excel lets a clerk type
    one) that reading it would take the memory of every row and column up to there: calamine makes
    room for the whole area at once (a process abort when it cannot), openpyxl pads each row to the
    <dimension>'s width."""
    rows, cols = xml.last_row, xml.max_col
    dim_rows, dim_cols = xml.dimension or (0, 0)
    area = max(rows * cols, min(rows, dim_rows) * dim_cols)
    if area > MAX_CELLS:
        last = max(cols, dim_cols if dim_rows else 0)
        from openpyxl.utils.cell import get_column_letter
        ref = f"{get_column_letter(min(max(last, 1), 18278))}{rows}"
        raise Unusable(
            f"工作表“{sheet}”的单元格延伸到第{rows}行、第{last}列（{ref}），约{area / 1e6:.0f}百万格，超过上限"
            f"{MAX_CELLS / 1e6:.1f}百万格：请删除数据区以外的单元格（在Excel中按Ctrl+End可找到最后一格）后保存，再重新报送",
            f"the cells of the sheet '{sheet}' reach row {rows} and column {last} ({ref}), some {area / 1e6:.0f} million "
            f"cells, over the limit of {MAX_CELLS / 1e6:.1f} million: delete the cells beyond the data (Ctrl+End in "
            f"Excel finds the last one), save, and send the file again")


_DATED_VALUE = re.compile(rb"\s*(?:<v>([^<&]*)</v>|<v\s*/>)?\s*</c>")
_ATTR_R = re.compile(rb'\br="([A-Z]{1,3}[0-9]{1,7})"')
_ATTR_T = re.compile(rb'\bt="([^"]*)"')


def _dated(out: SheetXml, m: re.Match, text: bytes, durations: set[int]) -> bool:
    """A cell styled as a date, written any way; False when not written the plain way."""
    attrs, style = m.group(1), int(m.group(2))
    ref, kind = _ATTR_R.search(attrs), _ATTR_T.search(attrs)
    if ref is None or (kind is not None and kind.group(1) != b"n"):
        return ref is not None          # text or a boolean: openpyxl does not take it for a date
    if attrs.endswith(b"/"):
        return _dated_value(out, ref.group(1), style, b"", durations)
    v = _DATED_VALUE.match(text, m.end())
    return v is not None and _dated_value(out, ref.group(1), style, v.group(1) or b"", durations)


def _dated_value(out: SheetXml, ref: bytes, style: int, raw: bytes, durations: set[int]) -> bool:
    """The number of a cell styled as a date as the text openpyxl gives it (its reader: `_cast_number`,
    `from_excel` from 1900, #VALUE! when out of range); False when it is no number (openpyxl fails)."""
    row, col = _cell_ref(ref.decode())
    key = (raw, style in durations)
    text = _DATED_TEXT.get(key, False)
    if text is False:
        from openpyxl.utils.datetime import from_excel
        from openpyxl.worksheet._reader import _cast_number
        if not raw:
            text = None
        else:
            try:
                value = _cast_number(raw.decode("ascii"))
            except (ValueError, UnicodeDecodeError):
                return False
            try:
                text = cell_text(from_excel(value, timedelta=key[1]))
            except (OverflowError, ValueError):
                text = "#VALUE!"
        if len(_DATED_TEXT) > 100_000:
            _DATED_TEXT.clear()
        _DATED_TEXT[key] = text
    out.dated[row, col] = text
    return True


_DATED_TEXT: dict[tuple[bytes, bool], str | None] = {}


def date_styles(z: zipfile.ZipFile) -> tuple[set[int], set[int]]:
    """The cell styles openpyxl reads as dates or times, and as durations (its own test, on the
    workbook's styles; the last few workbooks' remembered, by their styles' bytes)."""
    from openpyxl.styles.stylesheet import Stylesheet
    from openpyxl.xml.functions import fromstring
    try:
        src = z.read("xl/styles.xml")
    except KeyError:
        return set(), set()
    if src not in _DATE_STYLES:
        sheet = Stylesheet.from_tree(fromstring(src))
        if len(_DATE_STYLES) > 16:
            _DATE_STYLES.clear()
        _DATE_STYLES[src] = ((set(sheet.date_formats), set(sheet.timedelta_formats)) if sheet.cell_styles
                             else (set(), set()))
    return _DATE_STYLES[src]


_DATE_STYLES: dict[bytes, tuple[set[int], set[int]]] = {}


def _xml_text(s: str) -> str:
    return s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&apos;", "'").replace("&amp;", "&")


def fill_merged(cells: list[list[str | None]], ranges) -> dict[int, list[int]]:
    """Every cell of a merged range takes the value of its first cell, as the clerk sees it; only
    within the cells read (a range cannot make the sheet larger).  The cells filled, per column."""
    filled: dict[int, list[int]] = {}
    budget = sum(len(r) for r in cells)      # overlapping ranges (Excel makes none) cannot cost more
    for r1, c1, r2, c2 in ranges:
        budget -= max(min(r2, len(cells)) - r1 + 1, 0) * max(c2 - c1 + 1, 0)
        if budget < 0:
            break
        if r1 > len(cells) or c1 >= len(cells[r1 - 1]):
            continue
        value = cells[r1 - 1][c1]
        if value is None:
            continue
        for r in range(r1, min(r2, len(cells)) + 1):
            row = cells[r - 1]
            for c in range(c1, min(c2 + 1, max(len(row), c1 + 1))):
                if (r, c) == (r1, c1):
                    continue
                while len(row) <= c:
                    row.append(None)
                if row[c] is None:
                    row[c] = value
                    filled.setdefault(c, []).append(r)
    return filled


def read_xlsx_sheet(path: Path, sheet: str) -> Grid:
    """Cached values only (formulas and macros are never evaluated); the sheet streamed; merged cells filled."""
    _check_zip(path)
    try:
        return _read_xlsx_sheet(path, sheet)
    except (zipfile.BadZipFile, KeyError, IndexError, ValueError, TypeError, EOFError, SyntaxError) as exc:
        # (IndexError: a shared string's number beyond the table of shared strings)
        raise Unusable(f"无法读取工作表“{sheet}”：{exc}", f"cannot read the sheet '{sheet}': {exc}") from exc


def _read_xlsx_sheet(path: Path, sheet: str) -> Grid:
    """The cells by python-calamine (fast) when nothing in the workbook makes it read them otherwise than
    openpyxl, else by openpyxl (as always); merged ranges and formulas from one pass over the sheet's XML."""
    xml, member, why = _plan(path, sheet)
    if xml is not None:
        _check_area(xml, sheet)
    cells = _calamine_cells(path, sheet, xml) if why is None else None
    if cells is None:
        cells = _openpyxl_cells(path, sheet)
    filled = fill_merged(cells, xml.merges if xml else [])
    uncached = set()
    # formulas anywhere in the workbook's sheets, as always: only this sheet's can leave a cell of it
    # without a value, so its own settle it when it lies where `_has_formulas` looks
    sure = xml is not None and not xml.unsure_formulas and member.startswith("xl/worksheets/")
    if (xml.formulas if sure else _has_formulas(path)):
        import openpyxl
        wb = openpyxl.load_workbook(path, read_only=True, data_only=False)
        try:
            for r, row in enumerate(wb[sheet].iter_rows(min_row=1, values_only=True), start=1):
                for c, v in enumerate(row):
                    if isinstance(v, str) and v.startswith("=") and (c >= len(cells[r - 1]) or cells[r - 1][c] is None):
                        uncached.add((r, c))
        finally:
            wb.close()
    grid = Grid.from_rows(cells, list(range(1, len(cells) + 1)), uncached)
    grid.filled = filled
    return grid


def _plan(path: Path, sheet: str) -> tuple[SheetXml | None, str | None, str | None]:
    """The sheet's XML scanned, its zip member, and why openpyxl (not calamine) reads its cells (None:
    calamine may, cell by cell still checked by `_calamine_cells`)."""
    with zipfile.ZipFile(path) as z:
        member, date1904, shared = _sheet_member(z, sheet)
        if member is None:
            return None, None, "the sheet is not where the workbook's relationships say"
        xml = scan_sheet(z, member, date_styles(z))
        if xml.max_col == 0 and xml.last_row * 26 > MAX_CELLS:     # only then can columns A-Z be too many
            xml.max_col = _narrow_column(z, member)
        why = xml.unlike or ("formulas" if xml.formulas else None) or ("dates from 1904" if date1904 else None)
        for m in shared:
            if why is None and (m not in z.namelist() or _text_unlike(z.read(m))):
                why = "shared strings calamine may read otherwise"
    return xml, member, why


def _openpyxl_cells(path: Path, sheet: str) -> list[list[str | None]]:
    import openpyxl
    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        return [[cell_text(v) for v in row] for row in wb[sheet].iter_rows(min_row=1, values_only=True)]
    finally:
        wb.close()


def _calamine_cells(path: Path, sheet: str, xml: SheetXml) -> list[list[str | None]] | None:
    """The cells as `_openpyxl_cells` gives them (texts by `cell_text`, the shape of openpyxl's read-only
    rows: the <dimension>'s width, and rows up to the last, or to the dimension's when rows go beyond
    it), read by python-calamine; None when a cell is one calamine may read otherwise (a date or time,
    text with spaces at an edge or a carriage return, a number that is no finite float)."""
    from python_calamine import CalamineWorkbook
    last_row, width = xml.dimension
    n_rows = last_row if xml.last_row > last_row else xml.last_row
    try:
        with CalamineWorkbook.from_path(str(path)) as wb:
            values = wb.get_sheet_by_name(sheet).to_python(skip_empty_area=False, nrows=n_rows) if n_rows else []
    except Exception:  # noqa: BLE001 - openpyxl reads it, or says why not
        return None
    cells = []
    dated = xml.dated
    for r in range(n_rows):
        row = [None] * width
        for c, v in enumerate(values[r][:width] if r < len(values) else ()):
            if dated and (r + 1, c) in dated:
                continue
            t = type(v)
            if t is str:
                if not v or v.isspace():
                    continue
                if v[0].isspace() or v[-1].isspace() or "\r" in v:
                    return None
                row[c] = v
            elif t is float:
                if not math.isfinite(v):
                    return None
                row[c] = _excel_number(v)
            elif t is bool or t is int:
                row[c] = cell_text(v)
            else:
                return None
        cells.append(row)
    for (r, c), text in dated.items():
        if r <= n_rows and c < width:
            cells[r - 1][c] = text
    return cells


def xls_sheet_names(path: Path) -> list[str]:
    import xlrd
    try:
        book = xlrd.open_workbook(path, on_demand=True)
    except Exception as exc:  # noqa: BLE001
        raise Unusable("文件扩展名为.xls，但不是Excel 97-2003工作簿", "the file is named .xls but is not an Excel 97-2003 workbook") from exc
    return book.sheet_names()


def read_xls_sheet(path: Path, sheet: str) -> Grid:
    try:
        return _read_xls_sheet(path, sheet)
    except Exception as exc:  # noqa: BLE001 - xlrd fails on a damaged file in many ways (struct.error, XLRDError...)
        raise Unusable(f"无法读取工作表“{sheet}”（Excel 97-2003工作簿已损坏）：{exc}",
                       f"cannot read the sheet '{sheet}' (the Excel 97-2003 workbook is damaged): {exc}") from exc


def _read_xls_sheet(path: Path, sheet: str) -> Grid:
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
    return Grid.from_rows(cells, list(range(1, len(cells) + 1)))


# ---------------------------------------------------------------- what a landing file holds

@dataclass(frozen=True)
class Part:
    """One submission inside a file: the whole CSV, or one sheet of a workbook."""
    path: Path
    ret: Return | None          # None: an explanations (说明) sheet or file
    sheet: str | None

    def grid(self) -> Grid:
        regular_file(self.path)
        suffix = self.path.suffix.lower()
        if suffix == ".csv":
            return read_csv(self.path)
        if suffix == ".xlsx":
            return read_xlsx_sheet(self.path, self.sheet)
        return read_xls_sheet(self.path, self.sheet)


NOT_REGULAR = ("不是普通文件（管道、设备或套接字），拒绝读取", "not a regular file (a FIFO, a device or a socket): refused")


def regular_file(path: Path):
    """Refuse, without opening it, what is not a regular file: a FIFO would block the reader for ever."""
    import os
    import stat
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise Unusable(*NOT_REGULAR)


def is_system_file(name: str) -> bool:
    return name.startswith("~$") or name.lower() in SKIPPED_NAMES or name.startswith(".")


def parts_of(path: Path) -> tuple[list[Part], list[str]]:
    """The submissions in one file, and notes on what was skipped. Raises Unusable."""
    suffix = path.suffix.lower()
    regular_file(path)
    if path.stat().st_size == 0:
        raise Unusable("文件为空（0字节）", "the file is empty (0 bytes)")
    if suffix == ".csv":
        if path.stem.strip() in EXPLANATION_NAMES:
            return [Part(path, None, None)], []
        ret = match_return(path.stem)
        if ret is None:
            raise Unusable(*name_problem(path.stem))
        return [Part(path, ret, None)], []
    if suffix in (".xlsx", ".xls"):
        names = xlsx_sheet_names(path) if suffix == ".xlsx" else xls_sheet_names(path)
        if not names:        # a zip archive without a workbook part, or a workbook listing no sheet
            raise Unusable("工作簿中没有任何工作表（文件可能已损坏）", "the workbook holds no sheet (the file may be damaged)")
        by_stem = match_return(path.stem)
        matched = {name: match_return(name) for name in names}
        if by_stem is not None and not any(matched.values()):
            matched[names[0]] = by_stem          # 表1.xlsx with a sheet called Sheet1
        parts, notes = [], []
        for name, ret in matched.items():
            if ret is not None or name.strip() in EXPLANATION_NAMES:
                parts.append(Part(path, ret, name))
            else:
                zh, en = name_problem(name)
                notes.append(f"工作表已跳过：{zh} / sheet skipped: {en}")
        if not parts:
            zh, en = name_problem(path.stem)
            raise Unusable(f"工作簿的文件名和各工作表名（{'、'.join(names)}）都不对应任何一张报表。{zh.split('。', 1)[-1]}",
                           f"neither the workbook's name nor its sheets ({', '.join(names)}) name a return. "
                           f"{en.split('. ', 1)[-1]}")
        return parts, notes
    return [], [f"不是CSV或Excel文件，已跳过 / not a CSV or Excel file, skipped: {path.name}"]


# ---------------------------------------------------------------- locating the data in a grid

@dataclass
class Located:
    ret: Return
    columns: dict[str, pa.ChunkedArray]       # field name -> raw strings of the data rows
    source_rows: np.ndarray                   # the row number the clerk sees, per data row
    headers: dict[str, str]                   # field name -> header as written in the file
    scale: dict[str, Decimal] = field(default_factory=dict)   # field -> factor from the unit written to the declared
    cell_rows: dict[str, int] = field(default_factory=dict)   # vertical form: field -> its row
    total: dict[str, str | None] | None = None
    total_row: int | None = None
    uncached: list[tuple[int, str]] = field(default_factory=list)   # (row, field) formula without value
    notes: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)     # structural problems (hard)
    col_of: dict[str, int] = field(default_factory=dict)      # field name -> column index (row form)
    header_row: int | None = None                             # row form: the header's row number
    header_cells: list = field(default_factory=list)          # row form: the header as matched (two levels joined)
    subtotals: list[dict] = field(default_factory=list)       # the 小计 rows' cells, for the version

    def row_of(self, name: str, i: int) -> int:
        return int(self.cell_rows.get(name, self.source_rows[i] if i < len(self.source_rows) else 0))

    @property
    def n(self) -> int:
        return len(self.source_rows)


_KEYS: dict[int, tuple[Return, dict, dict]] = {}


def _keys(ret: Return) -> tuple[dict[str, str], dict[str, list[str]]]:
    if id(ret) not in _KEYS:
        exact: dict[str, str] = {}
        bare: dict[str, list[str]] = {}     # without anything in brackets -> the fields (硬化乡村道路: 条 and 公里)
        for f in ret.fields:
            for alias in (f.label, f.bare_label, f.name, *f.headers):
                exact.setdefault(squash(alias), f.name)
                exact.setdefault(_BRACKETS.sub("", squash(alias)), f.name)    # 交流互访批次 for 交流互访(批次)
                names = bare.setdefault(_BRACKETED.sub("", squash(alias)), [])
                if f.name not in names:
                    names.append(f.name)
        _KEYS[id(ret)] = (ret, exact, bare)    # ret kept so that its id is not reused
    return _KEYS[id(ret)][1], _KEYS[id(ret)][2]


def header_keys(ret: Return) -> dict[str, str]:
    return _keys(ret)[0]


_BRACKETED = re.compile(r"[(\[【]([^()\[\]【】]*)[)\]】]")
_BRACKETS = re.compile(r"[()\[\]【】]")




def resolve_header(ret: Return, text) -> tuple[str | None, str | None]:
    """The field a header names and the unit it gives (None: the declared one, or none written).

    Exactly an accepted header, or one with a note or a unit in brackets: `户主身份证号（18位）`,
    `住院总费用（元）`, `家庭人口数(人)`; line breaks and spaces inside do not count.  For a count or an
    amount the bracket is its unit (converted or refused later, `apply_unit`), for any other field a note."""
    if text is None:
        return None, None
    s = squash(text)
    exact, bare = _keys(ret)
    name = exact.get(s)
    if name is not None or not s:
        return name, None
    inside = _BRACKETED.findall(s)
    candidates = bare.get(_BRACKETED.sub("", s), [])
    if not candidates or not inside:
        return None, None
    numeric = [n for n in candidates if ret.field(n).kind in NUMERIC_KINDS]
    for n in numeric:               # the field whose unit the bracket converts to (条 or 公里)
        if any(units.factor(u, ret.field(n).unit) is not None for u in inside):
            return n, next(u for u in inside if units.factor(u, ret.field(n).unit) is not None)
    if numeric:
        written = [u for u in inside if units.known(u) or len(u) <= 3]
        return numeric[0], (written[-1] if written else None)
    return candidates[0], None


def apply_unit(loc: "Located", name: str, unit: str | None, row: int, header: str):
    """A unit written for a count or an amount: converted when it is a known multiple of the declared
    one (noted), else a hard error naming both."""
    f = loc.ret.field(name)
    written = units.clean(unit)
    if f.kind not in NUMERIC_KINDS or not written or written == f.unit:
        return
    k = units.factor(written, f.unit)
    if k is None:
        loc.findings.append(Finding(
            row, header, str(unit).strip(), f"{loc.ret.return_id}.{name}.unit", "hard",
            f"{f.bare_label}的计量单位为“{written}”，应为“{f.unit}”或可换算为{f.unit}的单位",
            f"{name}: the unit is '{written}', expected '{f.unit}' or a unit convertible to it"))
        return
    loc.scale[name] = k
    loc.notes.append(f"“{header}”的计量单位为{written}，已换算为{f.unit}（×{k:f}） / "
                     f"{name}: {written} converted to {f.unit} (x {k:f})")


def _two_level(parent: list, child: list, ret: Return) -> list:
    """A two-level header (a merged parent cell over its columns) as one: per column the child, or
    the parent and the child together, or the parent where the child is empty (merged down)."""
    out = []
    for c in range(max(len(parent), len(child))):
        p = parent[c] if c < len(parent) else None
        ch = child[c] if c < len(child) else None
        both = p and ch and squash(p) != squash(ch)
        tries = [t for t in (ch, (p.strip() + ch.strip()) if both else None,      # 户主 + 姓名
                             f"{p.strip()}（{ch.strip()}）" if both else None,     # 交流互访 over 批次 and 人次
                             p if ch is None else None) if t is not None]
        out.append(next((t for t in tries if resolve_header(ret, t)[0] is not None), ch))
    return out


def _hits(ret: Return, row: list) -> int:
    return len({resolve_header(ret, c)[0] for c in row if c is not None} - {None})


def _sq(x: str) -> str:
    return f"lower(replace(replace(replace(replace(replace({x}, ' ', ''), '\u3000', ''), '\t', ''), '（', '('), '）', ')'))"


# every total and subtotal word has this character: a row without it near its start is no total
_TOTAL_MARK = sorted(set.intersection(*(set(w) for w in TOTAL_WORDS + SUBTOTAL_WORDS)))[0]


def plain_data_sql(width: int) -> str:
    """True for a plain data row: a digit first and no total word near (most rows of any return)."""
    no_mark = " and ".join(f"not contains(coalesce(c{j}, ''), '{_TOTAL_MARK}')" for j in range(min(3, width)))
    return f"coalesce(left(c0, 1) between '0' and '9' and {no_mark}, false)"


# what DuckDB's trim() removes, as `row_kinds` has always trimmed: the Unicode space separators (Zs)
_TRIMMED = " \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"


def _near_squash(values):
    """A cell squashed for the total and footer words: no space, ideographic space or tab, half-width
    brackets (no lower case: no total or footer word has a letter, and no letter lowers into one)."""
    for ch in (" ", "\u3000", "\t"):
        values = pc.replace_substring(values, ch, "")
    return pc.replace_substring(pc.replace_substring(values, "（", "("), "）", ")")


def _digit_first(values):
    """True when the first character is 0-9; NULL for a NULL cell."""
    return pc.match_substring_regex(values, "^[0-9]")


def row_kinds(body: pa.Table) -> np.ndarray:
    """The kind of every row below the header, vectorised (pyarrow): `blank` (no cell but space),
    `data` for a plain data row (`plain_data_sql`: a digit first and no total word near), else, from
    the first non-empty cell and the first three cells, squashed: `data` for a digit first and no
    total or subtotal word in the first three cells, `footer` (填表人…), `total` (合计…),
    `subtotal` (小计) or `data`.  In the order of `__row`."""
    n = body.num_rows
    if n == 0:
        return np.array([], dtype=object)
    width = body.num_columns - 1
    if width == 0:
        return np.full(n, "blank", dtype=object)
    cols = [body.column(f"c{j}") for j in range(width)]
    first = pc.coalesce(*[pc.if_else(pc.equal(t := pc.utf8_trim(c, _TRIMMED), ""), None, t) for c in cols])
    near = [_near_squash(first)] + [_near_squash(c) for c in cols[:3]]   # the first cell, the first 3 columns
    marked = [pc.match_substring(pc.fill_null(c, ""), _TOTAL_MARK) for c in cols[:3]]
    plain = pc.fill_null(pc.and_kleene(_digit_first(cols[0]), pc.invert(functools.reduce(pc.or_kleene, marked))), False)

    def any_in(arrays, words, kleene=False):
        """Whether any of the cells is one of the words; with `kleene`, NULL (not false) when none is
        and a cell is NULL, as SQL's `x in (...) or ...`."""
        hits = []
        for a in arrays:
            hit = pc.is_in(a, value_set=pa.array(list(words), pa.string()))
            hits.append(pc.if_else(pc.is_null(a), pa.scalar(None, pa.bool_()), hit) if kleene else hit)
        return functools.reduce(pc.or_kleene, hits)

    s0 = near[0]
    digit_data = pc.and_kleene(_digit_first(s0), pc.invert(any_in(near[1:], TOTAL_WORDS + SUBTOTAL_WORDS, kleene=True)))
    footers = sorted({squash(p) for p in FOOTER_PREFIXES})
    footer = functools.reduce(pc.or_kleene, [pc.starts_with(s0, f) for f in footers])
    true = lambda x: pc.fill_null(x, False).to_numpy(zero_copy_only=False)  # noqa: E731 - a CASE WHEN takes a NULL as false
    kinds = np.full(n, "data", dtype=object)
    undecided = ~true(plain)
    for kind, cond in (("blank", pc.is_null(s0)), ("data", digit_data), ("footer", footer),
                       ("total", any_in(near, TOTAL_WORDS)), ("subtotal", any_in(near, SUBTOTAL_WORDS))):
        hit = undecided & true(cond)
        kinds[hit] = kind
        undecided &= ~hit
    rows = body.column("__row").to_numpy()
    if n > 1 and not (np.diff(rows) > 0).all():
        kinds = kinds[np.argsort(rows, kind="stable")]
    return kinds


def locate(grid: Grid, ret: Return) -> Located:
    head, head_rows = grid.head(HEADER_SCAN_ROWS)
    best, best_at, best_header = 0, None, None
    for i, row in enumerate(head):
        squashed = [squash(c) for c in row if c is not None]
        if ret.one_row and "指标名称" in squashed and ({"数值", "数量", "指标值", "值"} & set(squashed)):
            return _locate_vertical(grid, ret, i)
        hits = _hits(ret, row)
        if hits > best:
            best, best_at, best_header = hits, i, row
        if i > 0 and hits:
            joined = _two_level(head[i - 1], row, ret)
            if _hits(ret, joined) > max(best, hits):
                best, best_at, best_header = _hits(ret, joined), i, joined
    if best_at is None or best < min(2, len(ret.fields)):
        loc = Located(ret, {}, np.array([], dtype=np.int32), {})
        loc.findings.append(Finding(head_rows[0] if head_rows else 1, "", "", f"{ret.return_id}.header", "hard",
                                    "找不到表头行：没有一行包含本表的列名",
                                    "no header row found: no row holds this return's column names"))
        return loc
    return _locate_rows(grid, ret, best_at, best_header, (head, head_rows))


def _missing_column(loc: Located, f, header: list, header_row: int):
    """A required column not found: the headers that were, and the closest one."""
    found = [str(t).strip() for t in header if t is not None and str(t).strip()]
    close = difflib.get_close_matches(squash(f.label), [squash(t) for t in found], n=1, cutoff=0.3)
    nearest = next((t for t in found if close and squash(t) == close[0]), None)
    listed = "、".join(found) or "（无）"
    zh = f"缺少必填列“{f.label}”。表头（第{header_row}行）的列为：{listed}"
    en = f"required column '{f.label}' ({f.name}) is missing. The header (row {header_row}) has: {', '.join(found) or '(none)'}"
    if nearest:
        zh += f"；最接近的是“{nearest}”"
        en += f"; the closest is '{nearest}'"
    loc.findings.append(Finding(header_row, f.label, "", f"{loc.ret.return_id}.{f.name}.missing_column", "hard", zh, en))


def map_header(loc: Located, header: list, header_row: int):
    """Fields to the columns of the header row, with notes on foreign columns, units converted or
    refused, and findings for repeated or missing columns."""
    ret = loc.ret
    loc.header_row = header_row
    loc.header_cells = list(header)
    for c, text in enumerate(header):
        if text is None:
            continue
        name, unit = resolve_header(ret, text)
        shown = " ".join(str(text).split())
        if name is None:
            loc.notes.append(f"第{header_row}行列“{shown}”不属于本表，已忽略 / column '{shown}' is not part of the return, ignored")
        elif name in loc.col_of:
            loc.findings.append(Finding(header_row, shown, "", f"{ret.return_id}.{name}.duplicate_column", "hard",
                                        f"列“{shown}”重复出现", f"column '{shown}' appears twice"))
        else:
            loc.col_of[name], loc.headers[name] = c, shown
            apply_unit(loc, name, unit, header_row, shown)
    for f in ret.fields:
        if f.name not in loc.col_of and f.required:
            _missing_column(loc, f, header, header_row)


def set_apart(loc: Located, kind: str, row_no: int, cells: dict[str, str | None]):
    """A total, subtotal or footer row: the first total is kept for the 合计 check, the rest noted."""
    if kind == "total" and loc.total is None:
        loc.total, loc.total_row = cells, row_no
    elif kind == "total":
        loc.notes.append(f"第{row_no}行为第二个合计行，已忽略 / a second total row at row {row_no} ignored")
    else:
        if kind == "subtotal":
            loc.subtotals.append(cells)
        what = "小计行" if kind == "subtotal" else "表尾行"
        loc.notes.append(f"第{row_no}行为{what}，已跳过 / row {row_no} is a {kind} row, skipped")


def _locate_rows(grid: Grid, ret: Return, at: int, header: list, head: tuple[list, list[int]]) -> Located:
    """The rows below the header at `at` of `head` (the first rows, as `Grid.head` gives them)."""
    header_row = head[1][at]
    loc = Located(ret, {}, np.array([], dtype=np.int32), {})
    map_header(loc, header, header_row)
    for name, c in loc.col_of.items():     # cells merged down rows (乡镇 over its villages): filled, noted once
        below = [r for r in grid.filled.get(c, ()) if r > header_row]
        if below:
            loc.notes.append(f"“{loc.headers[name]}”列有合并单元格，已向下填充（第{min(below)}–{max(below)}行中{len(below)}格） / "
                             f"column '{loc.headers[name]}': merged cells filled down ({len(below)} cells, rows {min(below)}-{max(below)})")
    body = grid.table.slice(at + 1 + _header_aids(grid, loc, at, head))
    kinds = row_kinds(body)
    rows = body.column("__row")
    for i in np.flatnonzero((kinds != "data") & (kinds != "blank")):
        set_apart(loc, kinds[i], rows[int(i)].as_py(),
                  {n: body.column(f"c{c}")[int(i)].as_py() for n, c in loc.col_of.items()})
    data_idx = pa.array(np.flatnonzero(kinds == "data"), pa.int64())
    loc.source_rows = rows.take(data_idx).to_numpy()
    for name, c in loc.col_of.items():
        loc.columns[name] = body.column(f"c{c}").take(data_idx)
    if grid.uncached_formulas:
        name_of = {c: n for n, c in loc.col_of.items()}
        loc.uncached = sorted((r, name_of[c]) for r, c in grid.uncached_formulas if c in name_of)
    return loc


# what a 统计报表 writes in the first cells of its column-number row (栏次): 甲 1 2 3 ...
_ORDINALS = frozenset("甲乙丙丁戊己庚辛壬癸") | {"栏次", "行次", "序号", "栏号", "a", "b", "c"}
_DASHES = frozenset({"—", "-", "--", "——", "/", "－"})


def _numbering_row(cells: list) -> bool:
    """A column-number row: ordinals (甲, 乙) and the numbers 1, 2, 3 ... in order, nothing else (with
    no ordinal, at least four numbers from 1: a data row of a few small consecutive counts is data)."""
    vals = [squash(c) for c in cells if c is not None and squash(c)]
    nums = [int(v) for v in vals if v.isdigit()]
    ordinal = any(v in _ORDINALS for v in vals)
    return (len(nums) >= 2 and all(v.isdigit() or v in _ORDINALS for v in vals)
            and nums == list(range(nums[0], nums[0] + len(nums))) and (ordinal or (nums[0] == 1 and len(nums) >= 4)))


def _units_row(cells: list) -> bool:
    """A row of units under the header (个, 万元, 人 ...): at least one known unit, the other cells
    blank, dashes or a short word that is no number (a unit to be refused by name)."""
    vals = [squash(c) for c in cells if c is not None and squash(c)]
    return (any(units.known(v) for v in vals)
            and all(units.known(v) or v in _DASHES or (len(v) <= 4 and not v[0].isdigit()) for v in vals)
            and 2 * sum(units.known(v) for v in vals) >= len([v for v in vals if v not in _DASHES]))


def _header_aids(grid: Grid, loc: Located, at: int, head: tuple[list, list[int]]) -> int:
    """The rows right under the header that are not data: a column-number row (甲 1 2 3, skipped)
    and a row of units (each column's unit, converted or refused as if in its header).  How many."""
    cells, numbers = head if len(head[0]) >= at + 3 else grid.head(at + 3)
    n = 0
    for row, row_no in zip(cells[at + 1:], numbers[at + 1:]):
        if _numbering_row(row):
            loc.notes.append(f"第{row_no}行为栏次行，已跳过 / row {row_no} numbers the columns, skipped")
        elif _units_row(row):
            for name, c in loc.col_of.items():
                if c < len(row) and row[c] is not None and squash(row[c]) and squash(row[c]) not in _DASHES:
                    apply_unit(loc, name, row[c], row_no, loc.headers[name])
            loc.notes.append(f"第{row_no}行为计量单位行，已按各列单位读取 / row {row_no} gives the columns' units")
        else:
            break
        n += 1
    return n


def _locate_vertical(grid: Grid, ret: Return, at: int) -> Located:
    cells, row_numbers = grid.head()
    header = [squash(c) if c is not None else "" for c in cells[at]]
    name_c = header.index("指标名称")
    unit_c = header.index("计量单位") if "计量单位" in header else None
    value_c = next(header.index(h) for h in ("数值", "数量", "指标值", "值") if h in header)
    value_header = cells[at][value_c].strip()
    loc = Located(ret, {}, np.array([], dtype=np.int32), {})
    seen = set()
    kinds = row_kinds(grid.table.slice(at + 1))
    for i in range(at + 1, len(cells)):
        row = cells[i] + [None] * (max(name_c, value_c, unit_c or 0) + 1 - len(cells[i]))
        if kinds[i - at - 1] in ("blank", "footer"):
            continue
        label, unit = row[name_c], (row[unit_c] if unit_c is not None else None)
        name = written = None
        if label is not None:
            name, written = resolve_header(ret, f"{label}({unit})") if unit else (None, None)
            if name is None:                # 住院总费用 with 元 in 计量单位, or 住院总费用（元）
                name, written = resolve_header(ret, label)
                written = unit or written
        if name is None:
            loc.notes.append(f"第{row_numbers[i]}行指标“{label}”不属于本表，已忽略 / indicator '{label}' is not part of the return, ignored")
            continue
        if name in seen:
            loc.findings.append(Finding(row_numbers[i], value_header, "", f"{ret.return_id}.{name}.duplicate_column", "hard",
                                        f"指标“{label}”重复出现", f"indicator '{label}' appears twice"))
            continue
        seen.add(name)
        apply_unit(loc, name, written, row_numbers[i], str(label).strip())
        loc.columns[name] = pa.chunked_array([pa.array([row[value_c]], pa.string())])
        loc.headers[name] = value_header
        loc.cell_rows[name] = row_numbers[i]
        if (row_numbers[i], value_c) in grid.uncached_formulas:
            loc.uncached.append((row_numbers[i], name))
    for f in ret.fields:
        if f.name not in seen and f.required:
            loc.findings.append(Finding(row_numbers[at], "指标名称", "", f"{ret.return_id}.{f.name}.missing_column", "hard",
                                        f"缺少必填指标“{f.label}”", f"required indicator '{f.label}' ({f.name}) is missing"))
    loc.source_rows = np.array([row_numbers[at] + 1] if seen else [], dtype=np.int32)
    return loc


__all__ = ["Grid", "Located", "Part", "parts_of", "locate", "read_csv", "squash", "RETURNS", "is_system_file"]
