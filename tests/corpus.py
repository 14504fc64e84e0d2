"""A corpus of broken returns, one defect per row or file, laid over a copy of the sample.

Each defect says where the clerk would see it: (county, return, rule id, severity, row, header).
Files are written by the sample generator's own writers (CSV, openpyxl, xlwt), so the forms are
the ones clerks send; rows are the generator's canonical 2022 rows for that county, then broken.
"""
from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from sample.generate import build, csv_bytes, id_number, sheet_rows, vertical_rows, write_xls, write_xlsx
from schemas.catalogue import RETURNS, match_return

PERIOD = "2022"


@dataclass(frozen=True)
class Expect:
    county: str
    return_id: str
    rule_id: str
    severity: str
    row: int | None
    header: str


def _clear(folder: Path, return_id: str):
    for f in folder.iterdir():
        if f.is_file() and (r := match_return(f.stem)) is not None and r.return_id == return_id:
            f.unlink()


def _csv(folder: Path, return_id: str, rows: list[dict], name: str | None = None, encoding: str = "utf-8",
         drop: str | None = None):
    _clear(folder, return_id)
    data = csv_bytes(return_id, rows, encoding, "zh")
    if drop:       # a missing column: drop it from header and rows
        lines = data.decode(encoding).split("\r\n")
        i = lines[0].split(",").index(RETURNS[return_id].field(drop).label)
        data = "\r\n".join(",".join(c for j, c in enumerate(line.split(",")) if j != i) for line in lines).encode(encoding)
    (folder / (name or f"{return_id}.csv")).write_bytes(data)


def lay_corpus(landing: Path) -> list[Expect]:
    """Break returns in `landing` (a copy of the sample); returns what must be found."""
    data = copy.deepcopy(build(PERIOD))
    out: list[Expect] = []
    L = lambda rid, name: RETURNS[rid].field(name).label  # noqa: E731
    d = lambda c: landing / PERIOD / c  # noqa: E731

    # ---- 洛南县 611021, 表1 as GB18030 CSV: hard defects row by row (CSV line = index + 2), two soft ones
    rid, c = "monitoring_households", "611021"
    rows = data[rid][c][:14]
    born = date(1970, 5, 6)
    rows[0]["household_size"] = 0
    out.append(Expect(c, rid, f"{rid}.household_size.min", "hard", 2, L(rid, "household_size")))
    rows[1]["head_id_number"] = rows[1]["head_id_number"][:17] + ("0" if rows[1]["head_id_number"][17] != "0" else "1")
    out.append(Expect(c, rid, f"{rid}.head_id_number.check_digit", "hard", 3, L(rid, "head_id_number")))
    rows[2].update(risk_eliminated=True, eliminated_on=None)
    out.append(Expect(c, rid, f"{rid}.eliminated_on.required", "hard", 4, L(rid, "eliminated_on")))
    rows[3].update(risk_eliminated=True, enrolled_on=date(2022, 5, 1), eliminated_on=date(2022, 4, 1))
    out.append(Expect(c, rid, f"{rid}.eliminated_on.before_enrolment", "hard", 5, L(rid, "eliminated_on")))
    rows[4]["household_id"] = rows[0]["household_id"]
    out.append(Expect(c, rid, f"{rid}.household_id.unique", "hard", 6, L(rid, "household_id")))
    rows[5]["county_code"] = "611002"
    out.append(Expect(c, rid, f"{rid}.county_code.county", "hard", 7, L(rid, "county_code")))
    rows[6]["household_size"] = "约30"
    out.append(Expect(c, rid, f"{rid}.household_size.type", "hard", 8, L(rid, "household_size")))
    rows[7]["monitoring_type"] = "边缘户"
    out.append(Expect(c, rid, f"{rid}.monitoring_type.category", "hard", 9, L(rid, "monitoring_type")))
    rows[8].update(enrolled_on=date(2023, 2, 1), risk_eliminated=False, eliminated_on=None)
    out.append(Expect(c, rid, f"{rid}.enrolled_on.after_cutoff", "hard", 10, L(rid, "enrolled_on")))
    rows[9]["household_size"] = 13
    out.append(Expect(c, rid, f"{rid}.household_size.soft_max", "soft", 11, L(rid, "household_size")))
    rows[10]["head_id_number"] = id_number("110105", born, 7)
    out.append(Expect(c, rid, f"{rid}.head_id_number.outside_shaanxi", "soft", 12, L(rid, "head_id_number")))
    rows[11]["household_id"] = "611022999999"          # another county's code as prefix
    out.append(Expect(c, rid, f"{rid}.household_id.prefix", "hard", 13, L(rid, "household_id")))
    _csv(d(c), rid, rows, "表1 防返贫监测对象台账.csv", "gb18030")

    # ---- 商州区 611002, 表1 as .xlsx: an ID number Excel turned into a number
    c = "611002"
    rows = data[rid][c][:5]
    rows[2]["head_id_number"] = int(rows[2]["head_id_number"][:17] + "1")
    _clear(d(c), rid)
    write_xlsx(d(c) / "表1.xlsx", {"表1": sheet_rows(rid, rows, c, PERIOD, False, False)})
    out.append(Expect(c, rid, f"{rid}.head_id_number.excel_number", "hard", 4, L(rid, "head_id_number")))

    # ---- 商州区 表2 as .xlsx: a formula without a cached value
    rid = "guarantees"
    row = dict(data[rid][c][0], model_houses="=SUM(1,2)")
    _clear(d(c), rid)
    write_xlsx(d(c) / "表2.xlsx", {"表2": sheet_rows(rid, [row], c, PERIOD, False, False)})
    out.append(Expect(c, rid, f"{rid}.model_houses.formula", "hard", 2, L(rid, "model_houses")))

    # ---- 商州区 表7 (.xlsx with 合计): a wrong total
    rid = "relocation_sites"
    rows = data[rid][c]
    sheet = sheet_rows(rid, rows, c, PERIOD, True, True)
    total_row = next(i for i, r in enumerate(sheet) if r and r[0] == "合计")
    sheet[total_row][2] += 10                                      # 搬迁户数 total off by 10
    _clear(d(c), rid)
    write_xlsx(d(c) / "表7.xlsx", {"表7 易地扶贫搬迁安置点": sheet})
    out.append(Expect(c, rid, f"{rid}.households.total", "hard", total_row + 1, L(rid, "households")))

    # ---- 柞水县 611026, 表2 CSV: insured above base (hard) and a dropout (soft)
    c, rid = "611026", "guarantees"
    row = dict(data[rid][c][0])
    row.update(insured_persons=row["insurance_base_persons"] + 5, compulsory_dropouts=1)
    _csv(d(c), rid, [row], "表2.csv")
    out.append(Expect(c, rid, f"{rid}.insured_persons.above_base", "hard", 2, L(rid, "insured_persons")))
    out.append(Expect(c, rid, f"{rid}.compulsory_dropouts.soft_max", "soft", 2, L(rid, "compulsory_dropouts")))

    # ---- 柞水县 表10: a duplicate programme, exchange persons below batches
    rid = "assistance"
    rows = data[rid][c]
    rows.append(dict(rows[0]))
    rows[1].update(exchange_batches=10, exchange_persons=5)
    _csv(d(c), rid, rows, "表10.csv")
    out.append(Expect(c, rid, f"{rid}.programme.unique", "hard", len(rows) + 1, L(rid, "programme")))
    out.append(Expect(c, rid, f"{rid}.exchange_persons.below_batches", "hard", 3, L(rid, "exchange_persons")))

    # ---- 柞水县 表4: two different files for one return; the newer is the duplicate
    rid = "industry"
    newer = d(c) / "表4 特色产业.csv"
    newer.write_bytes(csv_bytes(rid, [dict(data[rid][c][0], agri_parks=99)], "utf-8", "zh"))
    older = d(c) / "表4.csv"
    os.utime(older, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    out.append(Expect(c, rid, "file.duplicate_submission", "hard", None, ""))

    # ---- 市本级 611000 表10: a negative count
    c, rid = "611000", "assistance"
    rows = data[rid][c]
    rows[0]["projects"] = -3
    _csv(d(c), rid, rows, "assistance.csv")
    out.append(Expect(c, rid, f"{rid}.projects.min", "hard", 2, L(rid, "projects")))

    # ---- 山阳县 611024 表5 CSV: a village code with another county's prefix
    c, rid = "611024", "village_register"
    rows = data[rid][c]
    rows[3]["village_code"] = "611025" + rows[3]["village_code"][6:]
    _csv(d(c), rid, rows)
    out.append(Expect(c, rid, f"{rid}.village_code.prefix", "hard", 5, L(rid, "village_code")))

    # ---- 山阳县 表2: base below the monitored persons (cross, soft); 表9: a second demo county (city, soft)
    rid = "guarantees"
    row = dict(data[rid][c][0])
    row.update(insurance_base_persons=100, insured_persons=100)
    _csv(d(c), rid, [row])
    out.append(Expect(c, rid, "cross.insurance_base_below_monitored", "soft", 2, L(rid, "insurance_base_persons")))
    rid = "construction"
    _csv(d(c), rid, [dict(data[rid][c][0], demo_county=True)])
    out.append(Expect(c, rid, "cross.demo_county_more_than_one", "soft", 2, L(rid, "demo_county")))
    out.append(Expect("611026", rid, "cross.demo_county_more_than_one", "soft", 2, L(rid, "demo_county")))

    # ---- 洛南县 表6 CSV: a missing column
    c, rid = "611021", "employment"
    _csv(d(c), rid, data[rid][c], "表6 脱贫人口就业.csv", "gb18030", drop="employment_target")
    out.append(Expect(c, rid, f"{rid}.employment_target.missing_column", "hard", 1, L(rid, "employment_target")))

    # ---- 洛南县 表5 CSV: every soft rule of 表5 (the version is accepted)
    rid = "village_register"
    rows = data[rid][c]
    v = next(i for i, r in enumerate(rows) if r["village_kind"] == "行政村" and r["assistance_category"] == "五类村")
    rows[v]["village_kind"] = "社区"                                     # code says 行政村
    out.append(Expect(c, rid, f"{rid}.village_kind.code_convention", "soft", v + 2, L(rid, "village_kind")))
    w = next(i for i, r in enumerate(rows) if i != v and r["assistance_category"] == "五类村")
    rows[w]["resident_team"] = "帮扶工作队"
    out.append(Expect(c, rid, f"{rid}.resident_team.five_type", "soft", w + 2, L(rid, "resident_team")))
    x = next(i for i, r in enumerate(rows) if r["assistance_category"] == "其他类型村(社区)")
    rows[x]["resident_team"] = "无"
    out.append(Expect(c, rid, f"{rid}.resident_team.task_without_team", "soft", x + 2, L(rid, "resident_team")))
    rows[0]["collective_income_10k_yuan"] = Decimal("-1.5")
    out.append(Expect(c, rid, f"{rid}.collective_income_10k_yuan.soft_min", "soft", 2,
                      L(rid, "collective_income_10k_yuan")))
    _csv(d(c), rid, rows, "表5 行政村(社区)基本情况.csv", "gb18030")

    # ---- 商南县 611023 表3 in the vertical form: funds typed in 元, not 万元 (soft, and moved over half)
    c, rid = "611023", "social_assistance"
    row = dict(data[rid][c][0])
    row.update(dibao_tekun_funds_10k_yuan=row["dibao_tekun_funds_10k_yuan"] * 10000,
               temporary_aid_funds_10k_yuan=row["temporary_aid_funds_10k_yuan"] * 10000)
    _clear(d(c), rid)
    write_xlsx(d(c) / "兜底保障.xlsx", {"Sheet1": vertical_rows(rid, row, c, PERIOD)})
    out.append(Expect(c, rid, f"{rid}.dibao_tekun_funds.per_person", "soft", 4, "数值"))
    out.append(Expect(c, rid, f"{rid}.temporary_aid_funds.per_person_time", "soft", 6, "数值"))
    out.append(Expect(c, rid, "cross.moved_over_half", "soft", 4, "数值"))

    # ---- 镇安县 611025 表1 (.xls): a village that is not in its 表5 (cross, soft)
    c, rid = "611025", "monitoring_households"
    rows = data[rid][c]
    rows[0]["village"] = "不存在村"
    _clear(d(c), rid)
    write_xls(d(c) / "表1.xls", sheet_rows(rid, rows, c, PERIOD, True, True))
    out.append(Expect(c, rid, "cross.village_not_in_register", "soft", 4, L(rid, "village")))

    # ---- 镇安县 表7 (.xls): relocation types that do not add up
    rid = "relocation_sites"
    rows = data[rid][c]
    rows[1]["type_farming"] += 3
    _clear(d(c), rid)
    write_xls(d(c) / "表7.xls", sheet_rows(rid, rows, c, PERIOD, True, False))
    out.append(Expect(c, rid, f"{rid}.types.sum", "hard", 5, L(rid, "households")))
    return out


HARD_RETURNS = lambda corpus: {(e.county, e.return_id) for e in corpus if e.severity == "hard"}  # noqa: E731
