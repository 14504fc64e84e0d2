"""Reader cases with real files: GB18030 bytes, openpyxl workbooks, xlwt .xls, the vertical form."""
from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest

from sample.generate import id_number
from schemas.catalogue import RETURNS, match_return
from schemas.core import Context
from schemas.messages import Unusable
from schemas.read import locate, parts_of
from schemas.validate import check

KEY = b"k"
CTX = Context("2022", "611002", date(2022, 12, 31))
H1 = ["户编号", "户主身份证号", "县区代码", "乡镇", "行政村", "家庭人口数", "监测对象类型", "主要风险类型", "纳入监测日期",
      "风险是否消除", "风险消除日期", "是否返贫致贫"]
ID1, ID2 = id_number("611002", date(1980, 1, 1), 1), id_number("611002", date(1980, 1, 1), 3)
ROW1 = ["611002000001", ID1, "611002", "城关镇", "东村", "3", "脱贫不稳定户", "因病", "2022-03-01",
        "是", "2022-06-01", "否"]
H2 = ["资助农村困难学生人次", "义务教育阶段失学辍学人数", "应参保人数", "已参保人数", "住院总费用(万元)", "住院报销金额(万元)",
      "危房改造户数", "宜居示范农房户数", "农房抗震改造户数"]
ROW2 = ["1000", "0", "5000", "5000", "100.5", "80.25", "10", "5", "3"]


def run(path: Path, ctx: Context = CTX, sheet: int = 0):
    parts, notes = parts_of(path)
    part = [p for p in parts if p.ret is not None][sheet]
    return check(locate(part.grid(), part.ret), ctx, KEY), notes


def rules(checked) -> set[str]:
    return {f.rule_id for f in checked.findings}


def frame(checked):
    return checked.typed.to_pandas()


def write_xlsx(path: Path, rows: list[list], sheet: str = "Sheet1", more: dict | None = None) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    for r in rows:
        ws.append(r)
    for name, extra in (more or {}).items():
        ws2 = wb.create_sheet(name)
        for r in extra:
            ws2.append(r)
    wb.save(path)
    return path


def test_gb18030_csv_with_title_total_and_footer(tmp_path):
    rows = ["商州区2022年防返贫监测对象台账", ",".join(H1), ",".join(ROW1), ",".join(["611002000002", ID2]
            + ROW1[2:5] + ["4"] + ROW1[6:]), "合计,,,,,7,,,,,,", "填表人：张三"]
    path = tmp_path / "表1.csv"
    path.write_bytes("\r\n".join(rows).encode("gb18030"))
    checked, _ = run(path)
    assert checked.findings == []
    assert checked.rows == 2 and list(checked.source_rows) == [3, 4]
    assert list(frame(checked).household_size) == [3, 4]
    assert any("表尾" in n for n in checked.notes)


def test_wrong_total_row_is_a_hard_error_at_its_row(tmp_path):
    path = tmp_path / "表1.csv"
    path.write_text("\n".join([",".join(H1), ",".join(ROW1), "合计,,,,,9,,,,,,"]), encoding="utf-8")
    checked, _ = run(path)
    f, = checked.findings
    assert (f.rule_id, f.severity, f.source_row, f.column_header, f.value) == (
        "monitoring_households.household_size.total", "hard", 3, "家庭人口数", "9")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_encodings(tmp_path, encoding):
    path = tmp_path / "guarantees.csv"
    path.write_bytes((",".join(H2) + "\n" + ",".join(ROW2) + "\n").encode(encoding))
    checked, _ = run(path)
    assert checked.findings == [] and frame(checked).inpatient_cost_10k_yuan[0] == pytest.approx(100.5)


def test_canonical_headers_any_order_fullwidth_brackets_and_messy_numbers(tmp_path):
    f = RETURNS["guarantees"].fields
    header = [" 住院总费用（万元） ", "student_aid_person_times"] + [x.label for x in f[1:4]] + [x.label for x in f[5:9]]
    values = ["２６２０３．２５", "\"1,234\"", "0", "\" 5,000 \"", "5000", "80", "10", "5", "3"]
    path = tmp_path / "表2.csv"
    path.write_text(",".join(header) + "\n" + ",".join(values) + "\n", encoding="utf-8")
    checked, _ = run(path)
    assert checked.findings == []
    df = frame(checked)
    assert str(df.inpatient_cost_10k_yuan[0]) == "26203.250000" and df.student_aid_person_times[0] == 1234
    assert df.insurance_base_persons[0] == 5000


@pytest.mark.parametrize("written", ["2022-03-01", "2022/3/1", "2022年3月1日", "20220301"])
def test_date_forms(tmp_path, written):
    path = tmp_path / "表1.csv"
    path.write_text(",".join(H1) + "\n" + ",".join(ROW1[:8] + [written] + ROW1[9:]) + "\n", encoding="utf-8")
    checked, _ = run(path)
    assert checked.findings == [] and frame(checked).enrolled_on[0] == date(2022, 3, 1)


def test_xlsx_title_rows_number_codes_date_cells_total_subtotal(tmp_path):
    h5 = [x.label for x in RETURNS["village_register"].fields if x.required]
    v1 = [611002001201, "东村", "行政村", 611002, "第1镇", "五类村", "第一书记和驻村工作队", 3.5, "是", "否"]
    v2 = [611002001001, "城关社区", "社区", 611002, "第1镇", "其他类型村（社区）", "帮扶工作队", 12, "是", "是"]
    rows = [["商州区2022年行政村(社区)基本情况"], ["填报单位：商州区乡村振兴局"], h5, v1, ["小计"], v2,
            ["合计", None, None, None, None, None, None, 15.5], ["填表人：王丽", None, "审核人：张强"]]
    checked, _ = run(write_xlsx(tmp_path / "表5.xlsx", rows))
    assert checked.findings == []
    df = frame(checked)
    assert list(df.village_code) == ["611002001201", "611002001001"]      # never 611002001201.0
    assert list(df.assistance_category) == ["五类村", "其他类型村(社区)"]
    assert list(checked.source_rows) == [4, 6] and any("小计" in n for n in checked.notes)

    h1 = H1
    r1 = [611002000001, ID1, 611002, "城关镇", "东村", 3, "脱贫不稳定户", "因灾",
          datetime(2022, 3, 1), "是", datetime(2022, 6, 1), "否"]
    checked, _ = run(write_xlsx(tmp_path / "表1.xlsx", [h1, r1]))
    assert checked.findings == []
    df = frame(checked)
    assert df.enrolled_on[0] == date(2022, 3, 1) and df.main_risk[0] == "因自然灾害" and df.household_id[0] == "611002000001"


def test_id_number_turned_into_an_excel_number_is_a_hard_error_naming_the_fix(tmp_path):
    r1 = ROW1[:1] + [int(ID1)] + ROW1[2:]
    checked, _ = run(write_xlsx(tmp_path / "表1.xlsx", [H1, r1]))
    f, = [f for f in checked.findings if f.severity == "hard"]
    assert f.rule_id == "monitoring_households.head_id_number.excel_number" and f.source_row == 2
    assert "文本" in f.message_zh and "text" in f.message_en and "*" in f.value and "198001" not in f.value


def test_formula_without_cached_value(tmp_path):
    path = write_xlsx(tmp_path / "表2.xlsx", [H2, [1000, 0, 5000, 5000, 100.5, 80.25, "=1+1", 5, 3]])
    checked, _ = run(path)
    f, = checked.findings
    assert f.rule_id == "guarantees.dilapidated_house_renovations.formula" and f.source_row == 2
    assert "保存" in f.message_zh and "save" in f.message_en


def test_vertical_form_of_a_one_row_return(tmp_path):
    rows = [["商南县2022年三保障"], ["指标名称", "计量单位", "数值"]]
    for field, value in zip(RETURNS["guarantees"].fields, ROW2):
        rows.append([field.bare_label, field.unit or "人", value])
    rows[4][2] = "-5"                                                    # 应参保人数 negative
    checked, _ = run(write_xlsx(tmp_path / "三保障.xlsx", rows))
    f, = [f for f in checked.findings if f.rule_id.endswith(".min")]
    assert (f.source_row, f.column_header, f.value) == (5, "数值", "-5")
    assert frame(checked).inpatient_reimbursed_10k_yuan[0] == pytest.approx(80.25)


def test_xls_written_by_xlwt(tmp_path):
    xlwt = pytest.importorskip("xlwt")
    book = xlwt.Workbook(encoding="utf-8")
    ws = book.add_sheet("表2 三保障")
    for c, text in enumerate(H2):
        ws.write(1, c, text)
    ws.write(0, 0, "镇安县2022年三保障")
    for c, v in enumerate([1000, 0, 5000, 5000, 100.5, 80.25, 10, 5, 3]):
        ws.write(2, c, v)
    path = tmp_path / "镇安县报表.xls"
    book.save(str(path))
    checked, _ = run(path)
    assert checked.findings == [] and list(checked.source_rows) == [3]


def test_workbook_sheets_match_by_number_and_lock_files_are_skipped(tmp_path):
    h10 = [x.label for x in RETURNS["assistance"].fields if x.required]
    path = write_xlsx(tmp_path / "丹凤县2022年报表.xlsx", [H2, ROW2], sheet="表1",
                      more={"表10": [h10, ["宁商协作", 1, 2, 3, 4, 5, 6, 7]], "封面": [["说明文字"]]})
    parts, notes = parts_of(path)
    assert [(p.sheet, p.ret.return_id) for p in parts] == [("表1", "monitoring_households"), ("表10", "assistance")]
    assert any("封面" in n for n in notes)
    assert match_return("表1") is RETURNS["monitoring_households"] and match_return("表10") is RETURNS["assistance"]
    assert match_return(" 表1 防返贫监测对象台账 ") is RETURNS["monitoring_households"]
    assert match_return("表1x") is RETURNS["monitoring_households"] and match_return("表1表10") is None
    from schemas.read import is_system_file
    assert all(is_system_file(n) for n in ("~$表1.xlsx", "desktop.ini", ".DS_Store", "Thumbs.db"))


def test_nil_returns(tmp_path):
    path = tmp_path / "表1.csv"
    path.write_text(",".join(H1) + "\n", encoding="utf-8")
    checked, _ = run(path)
    assert checked.accepted and checked.rows == 0
    path = tmp_path / "表2.csv"
    path.write_text(",".join(H2) + "\n", encoding="utf-8")
    checked, _ = run(path)
    assert rules(checked) == {"guarantees.nil"}


def test_unusable_files(tmp_path):
    empty = tmp_path / "表1.csv"
    empty.write_bytes(b"")
    fake = tmp_path / "表2.xlsx"
    fake.write_text("not a workbook", encoding="utf-8")
    for path in (empty, fake):
        with pytest.raises(Unusable) as exc:
            parts_of(path)
        assert exc.value.zh and exc.value.en


def test_value_problems_are_located_per_row_and_column(tmp_path):
    bad = ["611002000009", ID2] + ROW1[2:5] + ["约30", "边缘户", "因病", "2023-01-05", "是", "", "否"]
    path = tmp_path / "表1.csv"
    path.write_text(",".join(H1) + "\n" + ",".join(ROW1) + "\n" + ",".join(bad) + "\n", encoding="utf-8")
    checked, _ = run(path)
    got = {(f.rule_id.split(".", 1)[1], f.source_row, f.column_header) for f in checked.findings}
    assert got == {("household_size.type", 3, "家庭人口数"), ("monitoring_type.category", 3, "监测对象类型"),
                   ("enrolled_on.after_cutoff", 3, "纳入监测日期"), ("eliminated_on.required", 3, "风险消除日期")}
