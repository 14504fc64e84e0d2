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

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from . import engine
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


def _csv_rows(text: str, first_line: int) -> tuple[list[list[str | None]], list[int]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    cells, rows, line = [], [], first_line
    for record in reader:
        cells.append([c if c.strip() else None for c in record])
        rows.append(line)
        line = first_line + reader.line_num
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
    """A workbook is a zip archive: refuse it, before openpyxl reads a byte of it, when a member
    would unpack to more than the limit or is compressed suspiciously well (a zip bomb)."""
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
    """Whether any sheet holds a formula, each sheet streamed (never unpacked whole)."""
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/"):
                with z.open(name) as fh:
                    tail = b""
                    for block in iter(lambda: fh.read(1 << 20), b""):
                        if re.search(rb"<f[ >/]", tail + block):
                            return True
                        tail = block[-3:]
    return False


def read_xlsx_sheet(path: Path, sheet: str) -> Grid:
    """Cached values only (formulas and macros are never evaluated); the sheet streamed."""
    _check_zip(path)
    try:
        return _read_xlsx_sheet(path, sheet)
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, EOFError, SyntaxError) as exc:
        raise Unusable(f"无法读取工作表“{sheet}”：{exc}", f"cannot read the sheet '{sheet}': {exc}") from exc


def _read_xlsx_sheet(path: Path, sheet: str) -> Grid:
    import openpyxl
    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        ws = wb[sheet]
        cells = [[cell_text(v) for v in row] for row in ws.iter_rows(min_row=1, values_only=True)]
    finally:
        wb.close()
    uncached = set()
    if _has_formulas(path):
        wb = openpyxl.load_workbook(path, read_only=True, data_only=False)
        try:
            for r, row in enumerate(wb[sheet].iter_rows(min_row=1, values_only=True), start=1):
                for c, v in enumerate(row):
                    if isinstance(v, str) and v.startswith("=") and (c >= len(cells[r - 1]) or cells[r - 1][c] is None):
                        uncached.add((r, c))
        finally:
            wb.close()
    return Grid.from_rows(cells, list(range(1, len(cells) + 1)), uncached)


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
    columns: dict[str, pa.ChunkedArray]       # field name -> raw strings of the data rows
    source_rows: np.ndarray                   # the row number the clerk sees, per data row
    headers: dict[str, str]                   # field name -> header as written in the file
    cell_rows: dict[str, int] = field(default_factory=dict)   # vertical form: field -> its row
    total: dict[str, str | None] | None = None
    total_row: int | None = None
    uncached: list[tuple[int, str]] = field(default_factory=list)   # (row, field) formula without value
    notes: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)     # structural problems (hard)
    col_of: dict[str, int] = field(default_factory=dict)      # field name -> column index (row form)
    header_row: int | None = None                             # row form: the header's row number

    def row_of(self, name: str, i: int) -> int:
        return int(self.cell_rows.get(name, self.source_rows[i] if i < len(self.source_rows) else 0))

    @property
    def n(self) -> int:
        return len(self.source_rows)


def header_keys(ret: Return) -> dict[str, str]:
    keys = {}
    for f in ret.fields:
        for alias in (f.label, f.bare_label, f.name, *f.headers):
            keys.setdefault(squash(alias), f.name)
    return keys


def _sq(x: str) -> str:
    return f"lower(replace(replace(replace(replace(replace({x}, ' ', ''), '\u3000', ''), '\t', ''), '（', '('), '）', ')'))"


# every total and subtotal word has this character: a row without it near its start is no total
_TOTAL_MARK = sorted(set.intersection(*(set(w) for w in TOTAL_WORDS + SUBTOTAL_WORDS)))[0]


def plain_data_sql(width: int) -> str:
    """True for a plain data row: a digit first and no total word near (most rows of any return)."""
    no_mark = " and ".join(f"not contains(coalesce(c{j}, ''), '{_TOTAL_MARK}')" for j in range(min(3, width)))
    return f"coalesce(left(c0, 1) between '0' and '9' and {no_mark}, false)"


def row_kind_sql(width: int, source: str) -> str:
    """`source` (cells c0..cN and `__row`) with `__kind`: blank, footer, total, subtotal or data,
    from the first non-empty cell and the first three cells (squashed once, in an inner level)."""
    if width == 0:
        return f"select *, 'blank' as __kind from {source}"
    first = "coalesce(" + ", ".join(f"nullif(trim(c{j}), '')" for j in range(width)) + ")"
    words = lambda ws: ", ".join("'" + w + "'" for w in ws)  # noqa: E731
    near = [f"__s{j}" for j in range(min(3, width) + 1)]     # the first cell, and the first 3 columns
    squashed = ", ".join([f"{_sq(first)} as __s0"] + [f"{_sq(f'c{j}')} as __s{j + 1}" for j in range(min(3, width))])
    footers = ", ".join(f"'{squash(p)}'" for p in FOOTER_PREFIXES)
    return f"""
        select * exclude ({', '.join(near)}), case
            when {plain_data_sql(width)} then 'data'
            when __s0 is null then 'blank'
            when left(__s0, 1) between '0' and '9' and not ({' or '.join(f"{x} in ({words(TOTAL_WORDS + SUBTOTAL_WORDS)})" for x in near[1:])})
                 then 'data'
            when list_has_any([{footers}], [{', '.join(f"left(__s0, {n})" for n in sorted({len(squash(p)) for p in FOOTER_PREFIXES}))}])
                 then 'footer'
            when {' or '.join(f"{x} in ({words(TOTAL_WORDS)})" for x in near)} then 'total'
            when {' or '.join(f"{x} in ({words(SUBTOTAL_WORDS)})" for x in near)} then 'subtotal'
            else 'data' end as __kind
        from (select *, {squashed} from {source})"""


def row_kinds(body: pa.Table) -> np.ndarray:
    """The kind of every row below the header (see `row_kind_sql`), vectorised."""
    if body.num_rows == 0:
        return np.array([], dtype=object)
    with engine.scratch() as con:
        con.register("body", body)
        try:
            return (con.sql(f"select __kind from ({row_kind_sql(body.num_columns - 1, 'body')}) order by __row")
                    .to_arrow_table().column("__kind").to_numpy(zero_copy_only=False))
        finally:
            con.unregister("body")


def locate(grid: Grid, ret: Return) -> Located:
    keys = header_keys(ret)
    head, head_rows = grid.head(HEADER_SCAN_ROWS)
    best, best_at = 0, None
    for i, row in enumerate(head):
        squashed = [squash(c) for c in row if c is not None]
        if ret.one_row and "指标名称" in squashed and ({"数值", "数量", "指标值", "值"} & set(squashed)):
            return _locate_vertical(grid, ret, i)
        hits = sum(1 for c in squashed if c in keys)
        if hits > best:
            best, best_at = hits, i
    if best_at is None or best < min(2, len(ret.fields)):
        loc = Located(ret, {}, np.array([], dtype=np.int32), {})
        loc.findings.append(Finding(head_rows[0] if head_rows else 1, "", "", f"{ret.return_id}.header", "hard",
                                    "找不到表头行：没有一行包含本表的列名",
                                    "no header row found: no row holds this return's column names"))
        return loc
    return _locate_rows(grid, ret, best_at, keys, head[best_at], head_rows[best_at])


def map_header(loc: Located, keys: dict[str, str], header: list, header_row: int):
    """Fields to the columns of the header row, with notes on foreign columns and findings for
    repeated or missing ones."""
    ret = loc.ret
    loc.header_row = header_row
    for c, text in enumerate(header):
        if text is None:
            continue
        name = keys.get(squash(text))
        if name is None:
            loc.notes.append(f"第{header_row}行列“{text.strip()}”不属于本表，已忽略 / column '{text.strip()}' is not part of the return, ignored")
        elif name in loc.col_of:
            loc.findings.append(Finding(header_row, text.strip(), "", f"{ret.return_id}.{name}.duplicate_column", "hard",
                                        f"列“{text.strip()}”重复出现", f"column '{text.strip()}' appears twice"))
        else:
            loc.col_of[name], loc.headers[name] = c, text.strip()
    for f in ret.fields:
        if f.name not in loc.col_of and f.required:
            loc.findings.append(Finding(header_row, f.label, "", f"{ret.return_id}.{f.name}.missing_column", "hard",
                                        f"缺少必填列“{f.label}”", f"required column '{f.label}' ({f.name}) is missing"))


def set_apart(loc: Located, kind: str, row_no: int, cells: dict[str, str | None]):
    """A total, subtotal or footer row: the first total is kept for the 合计 check, the rest noted."""
    if kind == "total" and loc.total is None:
        loc.total, loc.total_row = cells, row_no
    elif kind == "total":
        loc.notes.append(f"第{row_no}行为第二个合计行，已忽略 / a second total row at row {row_no} ignored")
    else:
        what = "小计行" if kind == "subtotal" else "表尾行"
        loc.notes.append(f"第{row_no}行为{what}，已跳过 / row {row_no} is a {kind} row, skipped")


def _locate_rows(grid: Grid, ret: Return, at: int, keys: dict[str, str], header: list, header_row: int) -> Located:
    loc = Located(ret, {}, np.array([], dtype=np.int32), {})
    map_header(loc, keys, header, header_row)
    body = grid.table.slice(at + 1)
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


def _locate_vertical(grid: Grid, ret: Return, at: int) -> Located:
    cells, row_numbers = grid.head()
    header = [squash(c) if c is not None else "" for c in cells[at]]
    name_c = header.index("指标名称")
    unit_c = header.index("计量单位") if "计量单位" in header else None
    value_c = next(header.index(h) for h in ("数值", "数量", "指标值", "值") if h in header)
    value_header = cells[at][value_c].strip()
    keys = header_keys(ret)
    loc = Located(ret, {}, np.array([], dtype=np.int32), {})
    seen = set()
    kinds = row_kinds(grid.table.slice(at + 1))
    for i in range(at + 1, len(cells)):
        row = cells[i] + [None] * (max(name_c, value_c, unit_c or 0) + 1 - len(cells[i]))
        if kinds[i - at - 1] in ("blank", "footer"):
            continue
        label, unit = row[name_c], (row[unit_c] if unit_c is not None else None)
        name = None
        if label is not None:
            name = keys.get(squash(f"{label}({unit})")) if unit else None
            name = name or keys.get(squash(label))
        if name is None:
            loc.notes.append(f"第{row_numbers[i]}行指标“{label}”不属于本表，已忽略 / indicator '{label}' is not part of the return, ignored")
            continue
        if name in seen:
            loc.findings.append(Finding(row_numbers[i], value_header, "", f"{ret.return_id}.{name}.duplicate_column", "hard",
                                        f"指标“{label}”重复出现", f"indicator '{label}' appears twice"))
            continue
        seen.add(name)
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
