"""A county's returns as they really arrive, round after round, through `shangluo run`.

On a copy of the sample, 洛南县 (611021, CSV files in UTF-8 and GB18030) plays a correction cycle:
a 表7 whose 合计 row is wrong is rejected; the clerk fixes the 合计 only and it is accepted; a wrong
合计 over rows equal to the version in force is rejected; the county moves to one workbook (a known
version keeps its id and takes the workbook's name and rows); the workbook is removed; it comes back
with 表2 in the vertical form in 元; then in 美元.  After each round: `landing.submissions`,
`landing.status`, `quality.violations` and the figures.
"""
from __future__ import annotations

import csv
import io
import shutil
from decimal import Decimal
from pathlib import Path

from sample.generate import build, sheet_rows, write_xlsx
from schemas.catalogue import RETURNS

from .conftest import cli_env, query, shangluo

P, C = "2022", "611021"
T7 = RETURNS["relocation_sites"]
T7_FILE = "表7 易地扶贫搬迁安置点.csv"
WORKBOOK = "洛南县2022年报表（最终版）.xlsx"


def _sites(extra_persons: int = 0, total_off: int = 0) -> list[list]:
    """表7 of 洛南县 with a 合计 row: `extra_persons` more persons at the first site; the 合计 row that of
    the rows as first sent, its persons plus `total_off`."""
    fields = [f for f in T7.fields]
    rows = [dict(r) for r in build(P)["relocation_sites"][C]]
    total = [sum(r[f.name] for r in rows) if f.kind == "count" else None for f in fields]   # as first sent
    rows[0]["persons"] += extra_persons
    out = [[f.label for f in fields]]
    out += [[("是" if r[f.name] else "否") if f.kind == "bool" else r[f.name] for f in fields] for r in rows]
    total[0] = "合计"
    total[fields.index(T7.field("persons"))] += total_off
    return out + [total]


def _csv(path: Path, grid: list[list], encoding: str):
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows([["" if v is None else v for v in r] for r in grid])
    path.write_bytes(buf.getvalue().encode(encoding))


def _workbook(landing: Path, t7: list[list], t2: list[list] | None = None) -> Path:
    """One county workbook as an office saves it: a sheet per return with a title row."""
    data = build(P)
    sheets = {}
    for ret in RETURNS.values():
        title = [[f"洛南县{P}年{ret.title}"]]
        if ret.return_id == "relocation_sites":
            sheets[ret.table_label] = title + t7
        elif ret.return_id == "guarantees" and t2 is not None:
            sheets[ret.table_label] = t2
        else:
            sheets[ret.table_label] = title + sheet_rows(ret.return_id, data[ret.return_id][C], C, P, False, False)
    path = landing / P / C / WORKBOOK
    write_xlsx(path, sheets)
    return path


def _guarantees_in(unit: str) -> list[list]:
    """表2 in the vertical form, its two amounts in `unit` (元: 10 000 times the 万元 values)."""
    row = build(P)["guarantees"][C][0]
    out = [["洛南县2022年三保障"], ["指标名称", "计量单位", "数值"]]
    for f in RETURNS["guarantees"].fields:
        if f.name == "county_code":
            continue
        value, written = row[f.name], f.unit
        if f.unit == "万元":
            value, written = str(value * 10000), unit
        out.append([f.bare_label, written, value])
    return out


class County:
    def __init__(self, tmp: Path, landing: Path):
        self.env, self.wh, self.landing = cli_env(tmp, landing), tmp / "warehouse.duckdb", landing
        self.folder = landing / P / C
        self.stdout = ""

    def run(self, *args: str):
        self.stdout = shangluo("run", *args, env=self.env).stdout

    def versions(self, rid: str) -> dict[str, tuple]:
        return {sid: (status, source, sheet, hard) for sid, status, source, sheet, hard in query(
            self.wh, "select submission_id, status, source, sheet, hard_count from landing.submissions "
                     "where period = ? and county_code = ? and return_id = ?", [P, C, rid])}

    def state(self, rid: str) -> tuple:
        return query(self.wh, "select state, submission_id, newer_rejected from landing.status where period = ? "
                              "and county_code = ? and return_id = ?", [P, C, rid])[0]

    def open_violations(self, rid: str | None = None) -> list[tuple]:
        return query(self.wh, "select submission_id, rule_id, severity, source, sheet, source_row, value "
                              "from quality.violations where period = ? and county_code = ? and status = 'open' "
                              "and (? is null or return_id = ?) order by all", [P, C, rid, rid])

    def section(self, section: str, figure_id: str, area: str = C) -> Decimal:
        """A figure's unrounded value in its section table."""
        return query(self.wh, f"select {figure_id} from report.{section} where period = ? and area_code = ?",
                     [P, area])[0][0]

    def figure(self, figure_id: str, area: str = C) -> tuple:
        return query(self.wh, "select value, complete, reason from report.figures where period = ? and area_code = ? "
                              "and figure_id = ?", [P, area, figure_id])[0]

    def city_complete(self) -> int:
        return query(self.wh, "select count(*) filter (where complete) from report.figures where period = ? "
                              "and area_code = '611000'", [P])[0][0]

    def staged(self, rid: str, columns: str) -> list[tuple]:
        return query(self.wh, f"select {columns} from staging.{rid} where period = ? and county_code = ?", [P, C])


def test_a_county_correction_cycle(tmp_path, landing_copy):
    county = County(tmp_path, landing_copy)
    county.run()
    persons = sum(r["persons"] for r in build(P)["relocation_sites"][C])
    rel = lambda name: f"{P}/{C}/{name}"  # noqa: E731
    s0 = county.state("relocation_sites")[1]
    assert county.state("relocation_sites") == ("accepted", s0, False)
    assert county.section("relocation", "relocated_persons") == Decimal(persons) / 10000
    assert county.figure("relocated_persons")[1]
    reimbursement = county.section("guarantees", "inpatient_reimbursement_rate")
    assert county.city_complete() == 69 and county.open_violations() == []

    # 1. 表7 replaced by a GB18030 file: 10 more persons at one site, the 合计 row not updated: rejected
    total_line = len(_sites())
    _csv(county.folder / T7_FILE, _sites(extra_persons=10), "gb18030")
    county.run("--period", P)
    versions = county.versions("relocation_sites")
    s1 = next(sid for sid in versions if sid != s0)
    assert versions == {s0: ("accepted", rel(T7_FILE), None, 0), s1: ("rejected", rel(T7_FILE), None, 1)}
    assert county.state("relocation_sites") == ("accepted", s0, True)
    assert county.open_violations() == [(s1, "relocation_sites.persons.total", "hard", rel(T7_FILE), None, total_line,
                                         str(persons))]
    assert county.section("relocation", "relocated_persons") == Decimal(persons) / 10000
    assert f"退回 rejected: {C} relocation_sites {rel(T7_FILE)} (1 hard)" in county.stdout

    # 2. the clerk fixes the 合计 row only: a new version, accepted; the rejected one is superseded
    _csv(county.folder / T7_FILE, _sites(extra_persons=10, total_off=10), "gb18030")
    county.run("--period", P)
    versions = county.versions("relocation_sites")
    s2 = next(sid for sid in versions if sid not in (s0, s1))
    assert {sid: v[0] for sid, v in versions.items()} == {s0: "superseded", s1: "superseded", s2: "accepted"}
    assert county.state("relocation_sites") == ("accepted", s2, False)
    assert county.open_violations() == []
    assert query(county.wh, "select distinct status from quality.violations where submission_id = ?", [s1]) == [("closed",)]
    assert county.section("relocation", "relocated_persons") == Decimal(persons + 10) / 10000
    assert county.figure("relocated_persons")[1]
    assert "退回 rejected" not in county.stdout

    # 3. a wrong 合计 row over data rows equal to the version in force (UTF-8 with BOM): not accepted silently
    _csv(county.folder / T7_FILE, _sites(extra_persons=10, total_off=11), "utf-8-sig")
    county.run("--period", P)
    versions = county.versions("relocation_sites")
    s3 = next(sid for sid in versions if sid not in (s0, s1, s2))
    assert versions[s3] == ("rejected", rel(T7_FILE), None, 1) and versions[s2][0] == "accepted"
    assert county.state("relocation_sites") == ("accepted", s2, True)
    assert [v[1] for v in county.open_violations()] == ["relocation_sites.persons.total"]
    assert county.section("relocation", "relocated_persons") == Decimal(persons + 10) / 10000

    # 4a. the county moves to one workbook (表7 still with the wrong 合计): every version keeps its id and
    # takes the workbook's name; the violation is at the workbook's row (one title row above the header)
    for f in county.folder.iterdir():
        f.unlink()
    _workbook(landing_copy, _sites(extra_persons=10, total_off=11))
    county.run("--period", P)
    versions = county.versions("relocation_sites")
    assert set(versions) == {s0, s1, s2, s3}
    assert versions[s3] == ("rejected", rel(WORKBOOK), "表7", 1)
    assert county.state("relocation_sites") == ("accepted", s2, True)
    assert county.open_violations() == [(s3, "relocation_sites.persons.total", "hard", rel(WORKBOOK), "表7",
                                         total_line + 1, str(persons + 11))]
    in_force = query(county.wh, "select return_id, source, sheet from landing.submissions where period = ? and "
                                "county_code = ? and status = 'accepted' order by all", [P, C])
    assert len(in_force) == 10
    assert [(source, sheet) for r, source, sheet in in_force if r != "relocation_sites"] == \
        [(rel(WORKBOOK), RETURNS[r].table_label) for r, _, _ in in_force if r != "relocation_sites"]

    # 4b. the workbook saved again with the 合计 fixed: the version in force again, from the workbook
    _workbook(landing_copy, _sites(extra_persons=10, total_off=10))
    county.run("--period", P)
    versions = county.versions("relocation_sites")
    assert set(versions) == {s0, s1, s2, s3}
    assert versions[s2] == ("accepted", rel(WORKBOOK), "表7", 0) and versions[s3][0] == "superseded"
    assert county.state("relocation_sites") == ("accepted", s2, False)
    assert county.open_violations() == [] and county.city_complete() == 69

    # 5. the workbook removed: everything withdrawn, nothing open, the summary names what is missing
    (county.folder / WORKBOOK).unlink()
    county.run("--period", P)
    assert query(county.wh, "select distinct state from landing.status where period = ? and county_code = ?",
                 [P, C]) == [("missing",)]
    assert query(county.wh, "select distinct status from landing.submissions where period = ? and county_code = ? "
                            "and status not in ('superseded')", [P, C]) == [("withdrawn",)]
    assert county.open_violations() == []
    value, complete, reason = county.figure("relocated_persons", "611000")
    assert not complete and "洛南县表7" in reason
    assert f"{C} 洛南县: 未报送 missing: 表1防返贫监测对象台账、表2三保障" in county.stdout
    assert county.staged("relocation_sites", "count(*)") == [(0,)]

    # 6. back, with 表2 in the vertical form in 元: converted exactly to 万元, noted
    _workbook(landing_copy, _sites(extra_persons=10, total_off=10), _guarantees_in("元"))
    county.run("--period", P)
    assert query(county.wh, "select distinct state from landing.status where period = ? and county_code = ?",
                 [P, C]) == [("accepted",)]
    assert county.state("relocation_sites") == ("accepted", s2, False)
    g6 = county.state("guarantees")[1]
    assert county.staged("guarantees", "inpatient_cost_10k_yuan, inpatient_reimbursed_10k_yuan") == \
        [(Decimal("26473.55"), Decimal("21734.78"))]
    notes = query(county.wh, "select notes from landing.submissions where submission_id = ?", [g6])[0][0]
    assert "元" in notes and "已换算为万元" in notes
    assert county.section("guarantees", "inpatient_reimbursement_rate") == reimbursement
    assert county.city_complete() == 69 and county.open_violations() == []

    # 7. 表2 in 美元: a hard error naming both units; the version in 元 stays in force
    _workbook(landing_copy, _sites(extra_persons=10, total_off=10), _guarantees_in("美元"))
    county.run("--period", P)
    g7 = next(sid for sid, v in county.versions("guarantees").items() if v[0] == "rejected")
    assert county.state("guarantees") == ("accepted", g6, True)
    units = query(county.wh, "select rule_id, source_row, value, message_zh from quality.violations "
                             "where submission_id = ? and status = 'open' order by all", [g7])
    assert [(r, row, v) for r, row, v, _ in units] == [("guarantees.inpatient_cost_10k_yuan.unit", 7, "美元"),
                                                       ("guarantees.inpatient_reimbursed_10k_yuan.unit", 8, "美元")]
    assert all("美元" in m and "万元" in m for *_, m in units)
    assert county.section("guarantees", "inpatient_reimbursement_rate") == reimbursement


def test_copies_duplicates_and_removals(tmp_path, landing_copy):
    """What the ledger says follows the files as they come and go: an identical copy left after the
    original is removed holds the version; a newer duplicate left alone is the version, its
    duplicate violation gone; a removed rejected file is withdrawn (superseded only when a version
    came in its place), the city's own returns included."""
    county = County(tmp_path, landing_copy)
    t9, t10 = county.folder / "表9 示范创建.csv", county.folder / "表10 帮扶协作.csv"
    county.run()
    s9 = county.state("construction")[1]

    # an identical copy (as Windows names it), then the original removed: the copy holds the version
    shutil.copy2(t9, county.folder / "表9 示范创建 - 副本.csv")        # its time kept, as Explorer copies
    county.run("--period", P)
    assert county.versions("construction") == {s9: ("accepted", f"{P}/{C}/表9 示范创建.csv", None, 0)}
    assert county.open_violations() == []
    t9.unlink()
    county.run("--period", P)
    assert county.versions("construction") == {s9: ("accepted", f"{P}/{C}/表9 示范创建 - 副本.csv", None, 0)}

    # a newer duplicate of 表10 with another value: rejected as a duplicate while the original is there
    lines = t10.read_bytes().decode("gb18030").splitlines()
    first = lines[1].split(",")
    first[-1] = str(int(first[-1]) + 5)                        # 交流互访(人次) of the first row
    (county.folder / "表10 帮扶协作(1).csv").write_bytes("\r\n".join([lines[0], ",".join(first), *lines[2:]])
                                                       .encode("gb18030"))
    county.run("--period", P)
    s10, dup = county.state("assistance")[1], None
    dup = next(sid for sid, v in county.versions("assistance").items() if sid != s10)
    assert county.versions("assistance")[dup][0] == "rejected"
    assert [v[1] for v in county.open_violations("assistance")] == ["file.duplicate_submission"]
    assert f"退回 rejected: {C} assistance {P}/{C}/表10 帮扶协作(1).csv (重复报送 duplicate submission)" in county.stdout
    # the original removed: the newer file is the one version, accepted; nothing is left open
    t10.unlink()
    county.run("--period", P)
    assert county.state("assistance") == ("accepted", dup, False)
    assert county.open_violations("assistance") == []
    assert "重复" not in county.stdout and "(0 hard)" not in county.stdout

    # a rejected newer file removed while the version in force stays: withdrawn, not superseded
    bad = county.folder / "表10 帮扶协作 最终版.csv"
    bad.write_bytes(b"\xff\xfe\x00garbage")
    county.run("--period", P)
    rejected = [sid for sid, v in county.versions("assistance").items() if v[0] == "rejected"]
    assert len(rejected) == 1 and county.state("assistance") == ("accepted", dup, True)
    assert f"{C} 洛南县: 新版本退回、原版本继续有效 newer version rejected, the one before in force: 表10帮扶协作" \
        in county.stdout
    bad.unlink()
    county.run("--period", P)
    assert county.versions("assistance")[rejected[0]][0] == "withdrawn"
    assert county.state("assistance") == ("accepted", dup, False) and county.open_violations() == []

    # the city's own return: an unreadable 表4 under 611000 rejected, then removed: withdrawn
    city = landing_copy / P / "611000" / "表4 特色产业.csv"
    city.write_bytes(b"\x00\x01not a return")
    county.run("--period", P)
    assert "611000 industry" in county.stdout
    city.unlink()
    county.run("--period", P)
    assert query(county.wh, "select status from landing.submissions where county_code = '611000' and "
                            "return_id = 'industry'") == [("withdrawn",)]
    assert "611000 industry" not in county.stdout and "611000 商洛市" not in county.stdout
    assert query(county.wh, "select count(*) from quality.violations where status = 'open' and severity = 'hard'") \
        == [(0,)]
