"""Reading .xlsx cells: python-calamine where it reads a sheet as openpyxl does, openpyxl where the two
could differ.  Real workbooks written by openpyxl (a few then edited as other writers write them);
every test asserts the exact texts, and that they are those openpyxl's own reading gives."""
from __future__ import annotations

import re
import zipfile
from datetime import date, datetime, time, timedelta
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from schemas.read import _openpyxl_cells, _plan, fill_merged, parts_of, read_xlsx_sheet

ID = "110101199001011234"


def write(path: Path, rows: list[list], sheet: str = "Sheet1", formats: dict | None = None, merge=(),
          epoch=None) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    if epoch is not None:
        wb.epoch = epoch
    for row in rows:
        ws.append(row)
    for ref, fmt in (formats or {}).items():
        ws[ref].number_format = fmt
    for rng in merge:
        ws.merge_cells(rng)
    wb.save(path)
    return path


def edit(path: Path, member: str, change) -> Path:
    """Rewrite one member of the workbook (as another program would have written it)."""
    with zipfile.ZipFile(path) as z:
        items = [(i, z.read(i.filename)) for i in z.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for info, data in items:
            z.writestr(info, change(data) if info.filename == member else data)
    return path


SHEET = "xl/worksheets/sheet1.xml"


def texts(path: Path, sheet: str = "Sheet1") -> list[list[str | None]]:
    """The sheet's texts as read now, checked against openpyxl's reading (merged cells filled alike)."""
    grid = read_xlsx_sheet(path, sheet)
    cells, _ = grid.head()
    reference = _openpyxl_cells(path, sheet)
    xml, _, _ = _plan(path, sheet)
    fill_merged(reference, xml.merges if xml else [])
    width = max((len(r) for r in reference), default=0)
    assert cells == [r + [None] * (width - len(r)) for r in reference]
    return cells


def why(path: Path, sheet: str = "Sheet1") -> str | None:
    return _plan(path, sheet)[2]


def test_plain_sheet_is_read_by_calamine_as_excel_shows_it(tmp_path):
    path = write(tmp_path / "表2.xlsx", [
        ["商州区2022年三保障", None, None],
        ["户主身份证号", "人数", "金额"],
        [ID, 3, 100.5],
        [int(ID), 0.1 + 0.2, 1234567890123456789],
        [123456789012345, 12345678901234567.0, -0.0],
        [True, False, "  "],
        ["城关镇", None, 1e20],
        [None, None, None],
        ["合计", 3, 1.0],
    ])
    assert why(path) is None
    assert texts(path) == [
        ["商州区2022年三保障", None, None],
        ["户主身份证号", "人数", "金额"],
        [ID, "3", "100.5"],
        ["1.10101199001011E+17", "0.3", "1.23456789012346E+18"],
        ["123456789012345", "1.23456789012346E+16", "0"],
        ["是", "否", None],
        ["城关镇", None, "1E+20"],          # never 1E+2 (the exponent's zero stripped: read as 100)
        [None, None, None],
        ["合计", "3", "1"],
    ]


def test_merged_cells_are_filled(tmp_path):
    path = write(tmp_path / "表5.xlsx", [["乡镇", "行政村", "户数"], ["城关镇", "东村", 3], [None, "西村", 4],
                                        ["合计", None, 7]], merge=["A2:A3", "A4:B4"])
    assert why(path) is None
    assert texts(path) == [["乡镇", "行政村", "户数"], ["城关镇", "东村", "3"], ["城关镇", "西村", "4"],
                           ["合计", "合计", "7"]]
    assert read_xlsx_sheet(path, "Sheet1").filled == {0: [3], 1: [4]}


def test_error_cells_keep_their_code(tmp_path):
    path = write(tmp_path / "表2.xlsx", [["人数", "比率"], [3, "#DIV/0!"], [4, "#N/A"]])
    assert why(path) == "an error, date or formula string cell"
    assert texts(path) == [["人数", "比率"], ["3", "#DIV/0!"], ["4", "#N/A"]]


def test_escaped_characters_stay_as_written(tmp_path):
    path = write(tmp_path / "表2.xlsx", [["说明"], ["第一行_x000D_第二行"], ["a_x005F_b"]])
    assert why(path) == "an inline string calamine may read otherwise"
    assert texts(path) == [["说明"], ["第一行_x000D_第二行"], ["a_x005F_b"]]


def test_shared_strings_with_escapes_are_read_by_openpyxl(tmp_path):
    """Excel keeps text in sharedStrings.xml: an escape there (calamine would turn _x000D_ into a
    carriage return) sends the sheet to openpyxl."""
    path = write(tmp_path / "表2.xlsx", [["说明"], ["甲"]])

    def shared(data: bytes) -> bytes:
        return re.sub(rb'<c r="(A\d)" t="inlineStr"><is><t>([^<]*)</t></is></c>',
                      lambda m: b'<c r="' + m.group(1) + b'" t="s"><v>' + (b"0" if m.group(1) == b"A1" else b"1") + b"</v></c>",
                      data)
    edit(path, SHEET, shared)
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("xl/sharedStrings.xml", '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                                           'count="2" uniqueCount="2"><si><t>说明</t></si><si><t>甲_x000D_乙</t></si></sst>')
    edit(path, "xl/_rels/workbook.xml.rels", lambda d: d.replace(
        b"</Relationships>", b'<Relationship Id="rIdS" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                             b'relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>'))
    edit(path, "[Content_Types].xml", lambda d: d.replace(
        b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                     b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>'))
    assert why(path) == "shared strings calamine may read otherwise"
    assert texts(path) == [["说明"], ["甲_x000D_乙"]]


def test_text_with_spaces_at_an_edge_is_kept(tmp_path):
    """openpyxl and Excel write xml:space="preserve": calamine keeps the spaces, the cell is seen and
    the sheet read by openpyxl."""
    path = write(tmp_path / "表2.xlsx", [["乡镇", "行政村"], [" 城关镇", "东村 "], ["  ", "南村"]])
    assert why(path) is None
    assert texts(path) == [["乡镇", "行政村"], [" 城关镇", "东村 "], [None, "南村"]]


def test_spaces_without_preserve_which_calamine_trims(tmp_path):
    """Some programs leave xml:space out: calamine then trims each text and each run of rich text."""
    path = write(tmp_path / "表2.xlsx", [["乡镇"], ["x1"], ["x2"], ["x3"], ["x4"]])
    edit(path, SHEET, lambda d: d.replace(b"<is><t>x1</t></is>", b"<is><t> a </t></is>")
         .replace(b"<is><t>x2</t></is>", b"<is><r><t>\xe5\x9f\x8e</t></r><r><t> </t></r><r><t>\xe5\x85\xb3</t></r></is>")
         .replace(b"<is><t>x3</t></is>", b"<is><t>  </t></is>")
         .replace(b"<is><t>x4</t></is>", b'<is><t xml:space="preserve"> b </t></is>'))
    assert why(path) == "an inline string calamine may read otherwise"
    assert texts(path) == [["乡镇"], [" a "], ["城 关"], [None], [" b "]]


def test_ideographic_space_at_an_edge_only_is_checked_cell_by_cell(tmp_path):
    path = write(tmp_path / "表2.xlsx", [["乡镇"], ["\u3000北村"]])
    assert why(path) is None        # not an XML space: calamine reads it, the cell is checked and openpyxl reads it
    assert texts(path) == [["乡镇"], ["\u3000北村"]]


def test_dates_times_and_durations_as_openpyxl_gives_them(tmp_path):
    path = write(tmp_path / "表1.xlsx", [
        ["纳入监测日期", "时间", "时刻", "时长"],
        [date(2022, 3, 1), datetime(2022, 3, 4, 5, 6, 7), time(12, 30), timedelta(days=1, hours=2)],
        [datetime(2022, 6, 1), datetime(1900, 1, 1), time(0, 0, 0, 500000), 44562],
    ], formats={"D3": "yyyy-mm-dd"})
    assert why(path) is None        # the date cells are turned into text from the XML, as openpyxl does
    assert texts(path) == [
        ["纳入监测日期", "时间", "时刻", "时长"],
        ["2022-03-01", "2022-03-04 05:06:07", "12:30:00", "1 day, 2:00:00"],
        ["2022-06-01", "1900-01-01", "00:00:00.500000", "2022-01-01"],
    ]


def test_dates_of_1904_workbooks(tmp_path):
    path = write(tmp_path / "表1.xlsx", [["纳入监测日期"], [date(2022, 3, 1)], [datetime(2022, 6, 1, 8, 0)]],
                 epoch=CALENDAR_MAC_1904)
    assert why(path) == "dates from 1904"
    assert texts(path) == [["纳入监测日期"], ["2022-03-01"], ["2022-06-01 08:00:00"]]


def test_a_date_format_calamine_knows_and_openpyxl_does_not(tmp_path):
    """Built-in format 31 (yyyy年m月d日 in Chinese Excel) is a date for calamine, a number for
    openpyxl: the number, as always."""
    path = write(tmp_path / "表1.xlsx", [["日期", "金额"], [44621, 1.5]], formats={"A2": "0.00"})
    edit(path, "xl/styles.xml", lambda d: re.sub(rb'numFmtId="2"', b'numFmtId="31"', d))
    assert texts(path) == [["日期", "金额"], ["44621", "1.5"]]


def test_a_custom_chinese_date_format(tmp_path):
    path = write(tmp_path / "表1.xlsx", [["日期"], [date(2022, 3, 1)], ["2022年3月1日"]],
                 formats={"A2": 'yyyy"年"m"月"d"日"', "A3": 'yyyy"年"m"月"d"日"'})
    assert why(path) is None
    assert texts(path) == [["日期"], ["2022-03-01"], ["2022年3月1日"]]


def test_formulas_keep_today_reading(tmp_path):
    path = write(tmp_path / "表2.xlsx", [["人数", "合计"], [3, "=A2*2"], [4, "=A3*2"]])
    edit(path, SHEET, lambda d: d.replace(b"<f>A2*2</f><v></v>", b"<f>A2*2</f><v>6</v>")
         .replace(b"<f>A2*2</f><v />", b"<f>A2*2</f><v>6</v>"))
    assert why(path) == "formulas"
    assert texts(path) == [["人数", "合计"], ["3", "6"], ["4", None]]
    assert read_xlsx_sheet(path, "Sheet1").uncached_formulas == {(3, 1)}


def test_a_sheet_without_dimension(tmp_path):
    path = write(tmp_path / "表2.xlsx", [["人数", "户数"], [3], [None, None, 5]])
    edit(path, SHEET, lambda d: re.sub(rb"<dimension [^>]*/>", b"", d))
    assert why(path) == "no <dimension>"
    assert texts(path) == [["人数", "户数", None], ["3", None, None], [None, None, "5"]]


def test_a_dimension_smaller_than_the_cells_gives_openpyxl_shape(tmp_path):
    """A sloppy writer's <dimension ref="A1:B2">: openpyxl's rows stop at B, and at row 2 unless no
    row comes after; calamine's cells are cut to that shape."""
    path = write(tmp_path / "表2.xlsx", [["人数", "户数", "金额"], [3, 4, 5], [6, 7, 8]])
    edit(path, SHEET, lambda d: re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:B2"', d))
    assert why(path) is None
    assert texts(path) == [["人数", "户数"], ["3", "4"]]


def test_data_from_the_third_row_and_column(tmp_path):
    path = tmp_path / "表2.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Sheet1"
    ws["C3"], ws["D3"], ws["C4"], ws["D4"] = "人数", "户数", 3, 4
    ws["F9"].number_format = "0.00"        # styled, empty: widens openpyxl's rows, not its values
    wb.save(path)
    assert why(path) is None
    assert texts(path) == [[None] * 6, [None] * 6, [None, None, "人数", "户数", None, None],
                           [None, None, "3", "4", None, None]] + [[None] * 6] * 5


def test_a_workbook_of_several_sheets(tmp_path):
    path = tmp_path / "丹凤县2022年报表.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = "表2 三保障"
    wb.active.append(["人数"])
    wb.active.append([3])
    other = wb.create_sheet("表6 就业")
    other.append(["人数", "合计"])
    other.append([5, "=A2"])
    wb.save(path)
    parts, _ = parts_of(path)
    assert [p.sheet for p in parts] == ["表2 三保障", "表6 就业"]
    assert why(path, "表2 三保障") is None and why(path, "表6 就业") == "formulas"
    assert texts(path, "表2 三保障") == [["人数"], ["3"]]
    assert texts(path, "表6 就业") == [["人数", "合计"], ["5", None]]
    assert read_xlsx_sheet(path, "表2 三保障").uncached_formulas == set()
    assert read_xlsx_sheet(path, "表6 就业").uncached_formulas == {(2, 1)}


@pytest.mark.parametrize("path", sorted(Path(__file__).resolve().parent.parent.glob("sample/landing/*/*/*.xlsx")),
                         ids=lambda p: f"{p.parent.parent.name}/{p.parent.name}/{p.name}")
def test_the_sample_workbooks_read_as_openpyxl_reads_them(path):
    for part in parts_of(path)[0]:
        texts(path, part.sheet)


def test_sheet_names_as_openpyxl_lists_them_chart_and_hidden_sheets_too(tmp_path):
    """The scan lists sheets by calamine (it reads only the workbook's part): the names openpyxl
    gives, in its order; a workbook calamine cannot open gets openpyxl's word on why."""
    from openpyxl.chart import BarChart, Reference

    from schemas.messages import Unusable
    from schemas.read import xlsx_sheet_names
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "表7"
    ws.append(["安置点名称", "安置户数"])
    ws.append(["城南社区", 12])
    chart_sheet = wb.create_chartsheet("图表")
    chart = BarChart()
    chart.add_data(Reference(ws, min_col=2, min_row=1, max_row=2))
    chart_sheet.add_chart(chart)
    wb.create_sheet("说明").sheet_state = "hidden"
    path = tmp_path / "洛南县.xlsx"
    wb.save(path)
    assert xlsx_sheet_names(path) == openpyxl.load_workbook(path, read_only=True).sheetnames == ["表7", "图表", "说明"]
    broken = tmp_path / "表7.xlsx"
    with zipfile.ZipFile(broken, "w") as z:        # a zip archive, but no workbook in it
        z.writestr("hello.txt", "not a workbook")
    with pytest.raises(Unusable) as exc:
        xlsx_sheet_names(broken)
    assert "cannot open the Excel workbook" in exc.value.en
