"""Layouts offices use, written with openpyxl as they save them: two-level headers over merged parent
cells, 乡镇 merged down over its villages, headers with a note, a unit, line breaks and spaces; units
converted exactly or refused; file names around a return's number; what makes a version."""
from __future__ import annotations

import csv
import io
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from sample.generate import id_number
from schemas.catalogue import RETURNS, match_return
from schemas.core import Context
from schemas.messages import Unusable
from schemas.read import locate, parts_of
from schemas.validate import check

from .conftest import cli_env, shangluo

KEY = b"k"
CTX = Context("2022", "611002", date(2022, 12, 31))
T7 = ["安置点名称", "县区代码", "搬迁户数", "搬迁人数", "外出务工型(户)", "社区工人型(户)", "三产服务型(户)",
      "传统农民型(户)", "兜底保障型(户)", "小菜园", "小库房", "小超市", "小理事", "小公墓"]
SITES = [["城关第1安置点", "611002", 10, 40, 2, 2, 2, 2, 2, "是", "是", "否", "是", "否"],
         ["城关第2安置点", "611002", 5, 21, 1, 1, 1, 1, 1, "是", "否", "否", "是", "否"]]


def _xlsx(path: Path, rows: list[list], merges: tuple[str, ...] = (), sheet: str = "Sheet1") -> Path:
    """A workbook as an office saves it: merged cells keep their value in the first cell only."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    for r in rows:
        ws.append(r)
    for ref in merges:
        ws.merge_cells(ref)
    wb.save(path)
    return path


def _check(path: Path, ctx: Context = CTX):
    parts, notes = parts_of(path)
    part = [p for p in parts if p.ret is not None][0]
    loc = locate(part.grid(), part.ret)
    return check(loc, ctx, KEY), loc


def _rules(checked) -> list[str]:
    return sorted(f.rule_id for f in checked.findings)


def test_two_level_header_over_merged_parent_cells(tmp_path):
    rows = [["商州区2022年易地扶贫搬迁安置点"] + [None] * 13,
            ["安置点名称", "县区代码", "搬迁规模", None, "就业类型（户）", None, None, None, None, "配套设施", None, None, None, None],
            [None, None, "搬迁户数", "搬迁人数", "外出务工型", "社区工人型", "三产服务型", "传统农民型", "兜底保障型",
             "小菜园", "小库房", "小超市", "小理事", "小公墓"],
            *SITES]
    path = _xlsx(tmp_path / "表7.xlsx", rows, ("A1:N1", "A2:A3", "B2:B3", "C2:D2", "E2:I2", "J2:N2"))
    checked, loc = _check(path)
    assert checked.findings == []
    assert loc.header_row == 3 and list(checked.source_rows) == [4, 5]
    assert checked.typed.column("persons").to_pylist() == [40, 21]
    assert loc.headers["site_name"] == "安置点名称" and loc.headers["type_safety_net"] == "兜底保障型"


def test_two_level_header_parent_joined_with_child(tmp_path):
    """住院 over 总费用(万元) and 报销金额(万元): parent and child together name the field."""
    rows = [["资助农村困难学生人次", "义务教育阶段失学辍学人数", "应参保人数", "已参保人数", "住院", None, "危房改造户数",
             "宜居示范农房户数", "农房抗震改造户数"],
            [None, None, None, None, "总费用(万元)", "报销金额(万元)", None, None, None],
            [1000, 0, 5000, 5000, 100.5, 80.25, 10, 5, 3]]
    path = _xlsx(tmp_path / "表2.xlsx", rows, ("A1:A2", "B1:B2", "C1:C2", "D1:D2", "E1:F1", "G1:G2", "H1:H2", "I1:I2"))
    checked, loc = _check(path)
    assert checked.findings == []
    assert checked.typed.column("inpatient_reimbursed_10k_yuan").to_pylist() == [Decimal("80.25")]


def test_township_merged_down_over_its_villages_is_filled_and_noted_once(tmp_path):
    header = ["户编号", "户主身份证号", "县区代码", "乡镇", "行政村", "家庭人口数", "监测对象类型", "主要风险类型", "纳入监测日期",
              "风险是否消除", "风险消除日期", "是否返贫致贫"]
    data = []
    for i in range(6):
        data.append([f"61100200000{i + 1}", id_number("611002", date(1980, 1, 1), i + 1), "611002",
                     "城关镇" if i in (0, 3) else None, f"东{i}村", 3, "脱贫不稳定户", "因病", date(2022, 3, 1), "否", None, "否"])
    data[3][3] = "夜村镇"
    path = _xlsx(tmp_path / "表1.xlsx", [["商州区防返贫监测对象台账"] + [None] * 11, header, *data],
                 ("A1:L1", "D3:D5", "D6:D8"))
    checked, loc = _check(path)
    assert checked.findings == [], checked.findings
    assert checked.typed.column("township").to_pylist() == ["城关镇"] * 3 + ["夜村镇"] * 3
    merged = [n for n in checked.notes if "合并单元格" in n]
    assert len(merged) == 1 and "乡镇" in merged[0] and "4" in merged[0]


def test_headers_with_notes_line_breaks_and_spaces(tmp_path):
    header = ["户编号", "户主身份证号（18位）", "县区\n代码", "乡 镇", "行政村", "家庭人口数（人）", "监测对象类型", "主要风险类型",
              "纳入监测\n日期", "风险是否消除", "风险消除日期（未消除不填）", "是否返贫致贫"]
    row = ["611002000001", id_number("611002", date(1980, 1, 1), 1), "611002", "城关镇", "东村", 3, "脱贫不稳定户", "因病",
           date(2022, 3, 1), "否", None, "否"]
    path = _xlsx(tmp_path / "表1.xlsx", [header, row])
    checked, loc = _check(path)
    assert checked.findings == [] and checked.rows == 1
    assert loc.headers["head_id_number"] == "户主身份证号（18位）" and loc.headers["enrolled_on"] == "纳入监测 日期"


def test_missing_required_column_lists_the_headers_found_and_the_closest(tmp_path):
    header = ["户编号", "户主身份证", "县区代码", "乡镇", "行政村", "家庭人口数", "监测对象类型", "主要风险类型", "纳入监测日期",
              "风险是否消除", "风险消除日期", "是否返贫致贫"]
    row = ["611002000001", id_number("611002", date(1980, 1, 1), 1), "611002", "城关镇", "东村", 3, "脱贫不稳定户", "因病",
           date(2022, 3, 1), "否", None, "否"]
    checked, _ = _check(_xlsx(tmp_path / "表1.xlsx", [header, row]))
    missing = [f for f in checked.findings if f.rule_id.endswith(".missing_column")]
    assert [f.rule_id for f in missing] == ["monitoring_households.head_id_number.missing_column"]
    assert "户编号、户主身份证、县区代码" in missing[0].message_zh and "最接近的是“户主身份证”" in missing[0].message_zh
    assert "the closest is '户主身份证'" in missing[0].message_en


H2 = ["资助农村困难学生人次", "义务教育阶段失学辍学人数", "应参保人数", "已参保人数", "住院总费用(万元)", "住院报销金额(万元)",
      "危房改造户数", "宜居示范农房户数", "农房抗震改造户数"]


def test_a_unit_in_the_header_is_converted_exactly(tmp_path):
    header = H2[:4] + ["住院总费用（元）", "住院报销金额\n(元)"] + H2[6:]
    path = tmp_path / "表2.csv"
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows([header, [1000, 0, 5000, 5000, "1234567.89", "987654.3", 10, 5, 3]])
    path.write_bytes(buf.getvalue().encode("gb18030"))
    checked, loc = _check(path)
    assert checked.findings == []
    assert checked.typed.column("inpatient_cost_10k_yuan").to_pylist() == [Decimal("123.456789")]
    assert checked.typed.column("inpatient_reimbursed_10k_yuan").to_pylist() == [Decimal("98.76543")]
    assert sum("元" in n and "万元" in n for n in checked.notes) == 2
    # the same amounts written in 万元: the same rows, another version (the header and unit differ)
    same = tmp_path / "same" / "表2.csv"
    same.parent.mkdir()
    same.write_text(",".join(H2) + "\n1000,0,5000,5000,123.456789,98.76543,10,5,3\n", encoding="utf-8")
    other, _ = _check(same)
    assert other.typed.column("inpatient_cost_10k_yuan").to_pylist() == [Decimal("123.456789")]
    assert other.content_sha256 != checked.content_sha256


def test_an_unknown_unit_is_a_hard_error_naming_both_units(tmp_path):
    header = H2[:4] + ["住院总费用（美元）"] + H2[5:]
    path = tmp_path / "表2.csv"
    path.write_text(",".join(header) + "\n1000,0,5000,5000,100,80,10,5,3\n", encoding="utf-8")
    checked, _ = _check(path)
    unit = [f for f in checked.findings if f.rule_id == "guarantees.inpatient_cost_10k_yuan.unit"]
    assert len(unit) == 1 and unit[0].severity == "hard" and unit[0].source_row == 1
    assert "美元" in unit[0].message_zh and "万元" in unit[0].message_zh
    assert "'美元'" in unit[0].message_en and "'万元'" in unit[0].message_en


def test_vertical_form_with_yuan_in_the_unit_column(tmp_path):
    ret = RETURNS["guarantees"]
    values = {"inpatient_cost_10k_yuan": ("元", 264735500), "inpatient_reimbursed_10k_yuan": ("元", "217347800.5"),
              "compulsory_dropouts": ("人", 0)}
    rows = [["洛南县2022年三保障", None, None], ["指标名称", "计量单位", "数值"]]
    for f in ret.fields:
        if f.name == "county_code":
            continue
        unit, value = values.get(f.name, (f.unit, 7))
        rows.append([f.bare_label, unit, value])
    rows[-3][1] = "万户"          # 危房改造户数 in 万户: 7 万户 = 70000 户
    checked, _ = _check(_xlsx(tmp_path / "表2.xlsx", rows, ("A1:C1",)), Context("2022", "611021", date(2022, 12, 31)))
    assert checked.findings == []
    t = checked.typed
    assert t.column("inpatient_cost_10k_yuan").to_pylist() == [Decimal("26473.55")]
    assert t.column("inpatient_reimbursed_10k_yuan").to_pylist() == [Decimal("21734.78005")]
    assert t.column("dilapidated_house_renovations").to_pylist() == [70000]
    rows[4][1] = "人次"           # 应参保人数 in 人次: not convertible to 人
    (tmp_path / "b").mkdir()
    checked, _ = _check(_xlsx(tmp_path / "b" / "表2.xlsx", rows))
    assert [(f.rule_id, f.value) for f in checked.findings] == [("guarantees.insurance_base_persons.unit", "人次")]


T10 = ["帮扶类型", "项目数(个)", "投入资金(万元)", "引进资金(万元)", "公益募捐资金(万元)", "引进企业(家)"]
T10_ROWS = [["定点帮扶", 104, "4315.69", 0, 0, 0, 6, 24], ["宁商协作", 8, "4648.79", 0, 0, 1, 4, 53]]


def test_two_level_header_whose_parent_is_the_column_name(tmp_path):
    """交流互访 merged over 批次 and 人次 (declared 交流互访(批次), 交流互访(人次)); the other columns merged down."""
    rows = [["商州区2022年帮扶协作"] + [None] * 7, [*T10, "交流互访", None], [None] * 6 + ["批次", "人次"], *T10_ROWS]
    merges = ("A1:H1", "G2:H2", *(f"{c}2:{c}3" for c in "ABCDEF"))
    checked, loc = _check(_xlsx(tmp_path / "表10.xlsx", rows, merges))
    assert checked.findings == []
    assert checked.typed.column("exchange_batches").to_pylist() == [6, 4]
    assert checked.typed.column("exchange_persons").to_pylist() == [24, 53]
    # written plainly, without brackets: the same columns
    plain = tmp_path / "plain" / "表10.csv"
    plain.parent.mkdir()
    plain.write_text(",".join([*T10, "交流互访批次", "交流互访人次"]) + "\n" +
                     "\n".join(",".join(map(str, r)) for r in T10_ROWS) + "\n", encoding="utf-8")
    checked, _ = _check(plain)
    assert checked.findings == [] and checked.typed.column("exchange_persons").to_pylist() == [24, 53]


def test_a_column_number_row_and_a_units_row_under_the_header(tmp_path):
    """统计报表 number their columns (甲 1 2 3 ...) and may give units in a row of their own: neither
    is data; a unit there is converted (元 to 万元) or refused like one in the header."""
    header = ["帮扶类型", "项目数", "投入资金", "引进资金", "公益募捐资金", "引进企业", "交流互访(批次)", "交流互访(人次)"]
    numbers = ["甲", 1, 2, 3, 4, 5, 6, 7]
    unit_row = [None, "个", "元", "万元", "万元", "家", "批次", "人次"]
    rows = [header, numbers, unit_row, ["定点帮扶", 104, 43156900, 0, 0, 0, 6, 24]]
    checked, loc = _check(_xlsx(tmp_path / "表10.xlsx", rows))
    assert checked.findings == []
    assert checked.typed.column("funds_invested_10k_yuan").to_pylist() == [Decimal("4315.69")]
    assert loc.source_rows.tolist() == [4]
    assert any("栏次" in n for n in checked.notes) and any("计量单位行" in n for n in checked.notes)
    assert any("元" in n and "已换算为万元" in n for n in checked.notes)
    unit_row[2] = "美元"
    (tmp_path / "b").mkdir()
    checked, _ = _check(_xlsx(tmp_path / "b" / "表10.xlsx", [header, numbers, unit_row, rows[3]]))
    assert [(f.rule_id, f.value, f.source_row) for f in checked.findings] == \
        [("assistance.funds_invested_10k_yuan.unit", "美元", 3)]
    # a data row of small consecutive counts right under the header stays data
    (tmp_path / "c").mkdir()
    checked, _ = _check(_xlsx(tmp_path / "c" / "表10.xlsx", [header, ["定点帮扶", 1, 2, 3, 4, 5, 6, 7]]))
    assert checked.rows == 1


@pytest.mark.parametrize("name", ["2031年表2三保障(1).csv", "表2 - 副本.csv", "表2三保障 最终版.csv", "三保障副本.csv",
                                  "guarantees (2).csv", "表02.csv", "表２.csv"])
def test_a_name_holding_one_return_is_that_return(tmp_path, name):
    path = tmp_path / name
    path.write_text(",".join(H2) + "\n1000,0,5000,5000,100,80,10,5,3\n", encoding="utf-8")
    parts, _ = parts_of(path)
    assert [p.ret.return_id for p in parts] == ["guarantees"]


def test_table_1_never_matches_table_10_and_two_returns_are_unusable(tmp_path):
    assert match_return("2022年表10帮扶协作(1)").return_id == "assistance"
    assert match_return("表1 副本").return_id == "monitoring_households"
    assert match_return("表1表2") is None and match_return("统计") is None
    for name in ("表1和表2.csv", "汇总.csv"):
        path = tmp_path / name
        path.write_text("a,b\n1,2\n", encoding="utf-8")
        with pytest.raises(Unusable) as exc:
            parts_of(path)
        assert "表10帮扶协作" in exc.value.zh and "表2 guarantees" in exc.value.en
    with pytest.raises(Unusable) as exc:
        parts_of(tmp_path / "表1和表2.csv")
    assert "表1、表2" in exc.value.zh


def test_validate_exits_2_for_an_unusable_name_an_empty_folder_and_an_unknown_county(tmp_path):
    env = cli_env(tmp_path)
    county = tmp_path / "landing" / "2022" / "611002"
    county.mkdir(parents=True)
    proc = shangluo("validate", str(county), env=env, check=False)
    assert proc.returncode == 2 and "no return found" in proc.stdout
    good = county / "2031年表2三保障(1).csv"
    good.write_text(",".join(H2) + "\n1000,0,5000,5000,100,80,10,5,3\n", encoding="utf-8")
    proc = shangluo("validate", str(good), env=env, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    bad = county / "报表(1).csv"
    bad.write_text(",".join(H2) + "\n1000,0,5000,5000,100,80,10,5,3\n", encoding="utf-8")
    proc = shangluo("validate", str(county), "--json", env=env, check=False)
    assert proc.returncode == 2
    unusable = [r for r in json.loads(proc.stdout) if r["rule_id"] == "file.unusable"]
    assert len(unusable) == 1 and unusable[0]["source"].endswith("报表(1).csv") and "表2三保障" in unusable[0]["message_zh"]
    other = tmp_path / "landing" / "2022" / "611099"
    other.mkdir()
    (other / "表2.csv").write_text(",".join(H2) + "\n1000,0,5000,5000,100,80,10,5,3\n", encoding="utf-8")
    proc = shangluo("validate", str(other), env=env, check=False)
    assert proc.returncode == 2
    assert "611099" in proc.stdout and "611026" in proc.stdout and "<period>/<county_code>" not in proc.stdout + proc.stderr


def test_the_landing_scan_names_an_unknown_county_folder_with_the_codes(tmp_path):
    from intake.landing import scan_period
    folder = tmp_path / "2022" / "611099"
    folder.mkdir(parents=True)
    (folder / "表2.csv").write_text(",".join(H2) + "\n1000,0,5000,5000,100,80,10,5,3\n", encoding="utf-8")
    (entry,) = scan_period(tmp_path, "2022", 1 << 20)
    assert entry.kind == "skipped" and "611099" in entry.message_zh and "611026（柞水县）" in entry.message_zh
    assert "611099" in entry.message_en and "611002" in entry.message_en


def test_a_value_that_is_no_number_is_a_type_error_and_nothing_more(tmp_path):
    """约500 for a count: the hard type error; the per-person soft rule over it says nothing."""
    ret = RETURNS["social_assistance"]
    path = tmp_path / "表3.csv"
    path.write_text(",".join(f.label for f in ret.fields if f.name != "county_code") + "\n约500,100,10,1\n",
                    encoding="utf-8")
    checked, _ = _check(path, Context("2022", "611021", date(2022, 12, 31)))
    assert _rules(checked) == ["social_assistance.dibao_tekun_persons.type"]
