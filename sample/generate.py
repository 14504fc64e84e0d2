"""Deterministic generator of the bundled sample: SYNTHETIC county returns for 2021 and 2022.

The county splits are invented (seeded random numbers); only the 2022 city totals are chosen so
that the published texts of the 2022 report come out exactly.  The files use the forms clerks
really send (SPEC section 2):

    611002 商州区  one .xlsx per return: title rows, codes as number cells, 合计 and 小计 rows, footer
    611021 洛南县  GB18030 CSV named 表N 标题.csv
    611022 丹凤县  one workbook, a sheet per return
    611023 商南县  .xlsx; the one-row returns in the vertical 指标名称 / 计量单位 / 数值 form
    611024 山阳县  UTF-8 CSV with BOM, canonical English headers in another order
    611025 镇安县  .xls (Excel 97-2003)
    611026 柞水县  UTF-8 CSV: full-width digits, thousands separators, 2022年3月1日 dates, stray spaces
    611000 市本级  表10 only (its rows add to the city total)

    python -m sample.generate [--out DIR] [--households N]
"""
from __future__ import annotations

import argparse
import csv
import io
import random
import shutil
import zipfile
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from schemas.catalogue import RETURNS
from schemas.checks import ID_CHECK_CHARS, ID_WEIGHTS
from schemas.core import CITY_CODE, COUNTIES

OUT = Path(__file__).with_name("landing")
CODES = list(COUNTIES)
WEIGHTS = dict(zip(CODES, (0.18, 0.17, 0.12, 0.11, 0.17, 0.14, 0.11)))
D = Decimal


# ------------------------------------------------------------------ city totals per period

def totals(period: str) -> dict:
    """City totals. 2022's reproduce the published texts; 2021's are plausible others."""
    if period == "2022":
        return dict(
            households=9888, persons=32446, eliminated_households=6286, eliminated_persons=21466,
            student_aid=197201, insurance_base=1_000_512, inpatient_cost=D("150000.00"), inpatient_reimbursed=D("123150.00"),
            dilapidated=2209, model_houses=662, seismic=331,
            dibao_persons=176012, dibao_funds=D("77213.45"), aid_times=71689, aid_funds=D("7201.30"),
            fungus=D("45012.50"), parks=152, enterprises=160, beneficiaries=533020,
            employed=267600, target=258600, labor_households=136021,
            relocated_households=49812, relocated_persons=194517,
            clinics=469, cellars=4007, rural=1_850_000, tap=1_744_550, group_km=D("1985.23"), roads=1304,
            roads_km=D("1561.87"), toilets=320806, key_towns=12, leisure=5, model_villages=48,
            demo_towns=9, demo_villages=70, wellness=100, tourism=100, livable=100, projects=3475,
            paired_funds=D("89104.37"), paired_projects=1588, nj_enterprises=27, nj_funds=D("82311.60"),
            nj_batches=105, nj_persons=962, es_attracted=D("6794.20"), es_donations=D("1027.00"), es_projects=193,
            rt_projects=1569, rt_funds=D("21203.80"), rt_attracted=D("46012.00"),
            villages=1033, communities=250, shell=0, weak=72, sewage=720, five_type=819, other_team=429,
        )
    return dict(
        households=9102, persons=29980, eliminated_households=4120, eliminated_persons=13720,
        student_aid=188410, insurance_base=1_004_220, inpatient_cost=D("141230.50"), inpatient_reimbursed=D("113550.12"),
        dilapidated=2630, model_houses=512, seismic=298,
        dibao_persons=181250, dibao_funds=D("74120.80"), aid_times=68420, aid_funds=D("6890.45"),
        fungus=D("41230.00"), parks=138, enterprises=149, beneficiaries=501340,
        employed=259800, target=252000, labor_households=134870,
        relocated_households=49812, relocated_persons=194380,
        clinics=402, cellars=3560, rural=1_872_000, tap=1_730_100, group_km=D("1720.40"), roads=1180,
        roads_km=D("1402.55"), toilets=301250, key_towns=12, leisure=4, model_villages=41,
        demo_towns=7, demo_villages=52, wellness=80, tourism=80, livable=80, projects=3120,
        paired_funds=D("80210.00"), paired_projects=1402, nj_enterprises=21, nj_funds=D("75120.30"),
        nj_batches=92, nj_persons=840, es_attracted=D("6102.75"), es_donations=D("930.00"), es_projects=170,
        rt_projects=1410, rt_funds=D("19850.00"), rt_attracted=D("42100.00"),
        villages=1033, communities=250, shell=49, weak=238, sewage=610, five_type=819, other_team=429,
    )


# ------------------------------------------------------------------ splitting totals

def split_int(total: int, rng: random.Random, units=CODES, spread: float = 0.25) -> dict[str, int]:
    """Split an integer total over units, in proportion to county weights with some noise."""
    w = {u: WEIGHTS.get(u, 0.06) * rng.uniform(1 - spread, 1 + spread) for u in units}
    s = sum(w.values())
    parts = {u: int(total * w[u] / s) for u in units}
    rest = total - sum(parts.values())
    for u in rng.sample(list(units), len(units)) * (rest // len(units) + 1):
        if rest <= 0:
            break
        parts[u] += 1
        rest -= 1
    return parts


def split_dec(total: Decimal, rng: random.Random, units=CODES) -> dict[str, Decimal]:
    cents = split_int(int(total * 100), rng, units)
    return {u: D(v) / 100 for u, v in cents.items()}


def id_number(county: str, born: date, seq: int) -> str:
    body = f"{county}{born:%Y%m%d}{seq:03d}"
    return body + ID_CHECK_CHARS[sum(int(c) * w for c, w in zip(body, ID_WEIGHTS)) % 11]


def sizes_with_sum(n: int, total: int, rng: random.Random, low: int = 1, high: int = 8) -> list[int]:
    """n household sizes in [low, high] adding up to total."""
    mean = total / n
    sizes = [max(low, min(high, round(rng.gauss(mean, 1.1)))) for _ in range(n)]
    diff = total - sum(sizes)
    while diff:
        i = rng.randrange(n)
        step = 1 if diff > 0 else -1
        if low <= sizes[i] + step <= high:
            sizes[i] += step
            diff -= step
    return sizes


# ------------------------------------------------------------------ rows per return (canonical names)

def village_rows(period: str, t: dict, rng: random.Random) -> dict[str, list[dict]]:
    villages, communities = split_int(t["villages"], rng), split_int(t["communities"], rng)
    # which 行政村 are shell (<= 0), weak (0 < x < 5) or 5万元以上; which have sewage control
    kinds = ["shell"] * t["shell"] + ["weak"] * t["weak"] + ["rich"] * (t["villages"] - t["shell"] - t["weak"])
    rng.shuffle(kinds)
    sewage = [True] * t["sewage"] + [False] * (t["villages"] - t["sewage"])
    rng.shuffle(sewage)
    categories = ["五类村"] * t["five_type"] + ["其他类型村(社区)"] * (t["villages"] - t["five_type"])
    rng.shuffle(categories)
    other_communities = t["other_team"] - (t["villages"] - t["five_type"])
    c_categories = ["其他类型村(社区)"] * other_communities + ["无巩固衔接任务"] * (t["communities"] - other_communities)
    rng.shuffle(c_categories)
    out, k, j = {}, 0, 0
    names = "东西南北中前后上下新老"
    for county in CODES:
        rows = []
        townships = max(6, villages[county] // 12)
        for n in range(villages[county]):
            town = n % townships + 1
            kind = kinds[k]
            income = {"shell": D(rng.choice(["0", "0.00"])),
                      "weak": D(rng.randint(10, 480)) / 100, "rich": D(rng.randint(500, 6000)) / 100}[kind]
            rows.append(dict(village_code=f"{county}{town:03d}{200 + n // townships:03d}",
                             village_name=f"{names[n % len(names)]}{n + 1}村", village_kind="行政村",
                             county_code=county, township=f"第{town}镇", assistance_category=categories[k],
                             resident_team="第一书记和驻村工作队" if categories[k] == "五类村" else "帮扶工作队",
                             collective_income_10k_yuan=income, has_public_clinic=True, sewage_controlled=sewage[k]))
            k += 1
        for n in range(communities[county]):
            town = n % townships + 1
            cat = c_categories[j]
            rows.append(dict(village_code=f"{county}{town:03d}{1 + n // townships:03d}",
                             village_name=f"{names[n % len(names)]}{n + 1}社区", village_kind="社区",
                             county_code=county, township=f"第{town}镇", assistance_category=cat,
                             resident_team="帮扶工作队" if cat != "无巩固衔接任务" else "无",
                             collective_income_10k_yuan=D(rng.randint(0, 900)) / 100, has_public_clinic=True,
                             sewage_controlled=rng.random() < 0.8))
            j += 1
        out[county] = rows
    return out


def monitoring_rows(period: str, t: dict, rng: random.Random, villages: dict[str, list[dict]]) -> dict[str, list[dict]]:
    n, persons, ne, pe = t["households"], t["persons"], t["eliminated_households"], t["eliminated_persons"]
    eliminated = [True] * ne + [False] * (n - ne)
    sizes_e, sizes_o = sizes_with_sum(ne, pe, rng), sizes_with_sum(n - ne, persons - pe, rng)
    cutoff = date(int(period), 12, 31)
    households = split_int(n, rng)
    order = list(range(n))
    rng.shuffle(order)
    risks = ["因病", "因残", "因学", "因灾", "因意外事故", "因产业项目失败", "因务工就业不稳", "因疫", "缺劳动力",
             "住房出现安全问题", "饮水安全问题", "其他"]
    out, idx, seq = {}, 0, 0
    for county in CODES:
        rows = []
        own = [v for v in villages[county] if v["village_kind"] == "行政村"]
        for h in range(households[county]):
            i = order[idx]
            idx += 1
            is_e = eliminated[i]
            size = sizes_e[i] if is_e else sizes_o[i - ne]
            seq += 1
            born = date(1940, 1, 1) + timedelta(days=rng.randrange(0, 20000))
            enrolled = cutoff - timedelta(days=rng.randrange(90, 900))
            v = rng.choice(own)
            rows.append(dict(
                household_id=f"{county}{h + 1:06d}", head_id_number=id_number(county, born, seq % 1000),
                county_code=county, township=v["township"], village=v["village_name"], household_size=size,
                monitoring_type=rng.choice(["脱贫不稳定户", "边缘易致贫户", "突发严重困难户"]),
                main_risk=rng.choice(risks), enrolled_on=enrolled, risk_eliminated=is_e,
                eliminated_on=enrolled + timedelta(days=rng.randrange(30, (cutoff - enrolled).days)) if is_e else None,
                returned_to_poverty=False))
        out[county] = rows
    return out


def one_row_returns(t: dict, rng: random.Random) -> dict[str, dict[str, dict]]:
    """return_id -> county -> its one row."""
    r = {rid: {c: {} for c in CODES} for rid in ("guarantees", "social_assistance", "industry", "employment",
                                                  "infrastructure", "construction")}

    def put(rid, name, parts):
        for c, v in parts.items():
            r[rid][c][name] = v

    g = "guarantees"
    put(g, "student_aid_person_times", split_int(t["student_aid"], rng))
    put(g, "compulsory_dropouts", {c: 0 for c in CODES})
    base = split_int(t["insurance_base"], rng)
    put(g, "insurance_base_persons", base)
    put(g, "insured_persons", base)
    cost = split_dec(t["inpatient_cost"], rng)
    put(g, "inpatient_cost_10k_yuan", cost)
    reimbursed = {c: (cost[c] * t["inpatient_reimbursed"] / t["inpatient_cost"]).quantize(D("0.01")) for c in CODES}
    reimbursed[CODES[0]] += t["inpatient_reimbursed"] - sum(reimbursed.values())
    put(g, "inpatient_reimbursed_10k_yuan", reimbursed)
    put(g, "dilapidated_house_renovations", split_int(t["dilapidated"], rng))
    put(g, "model_houses", split_int(t["model_houses"], rng))
    put(g, "seismic_retrofits", split_int(t["seismic"], rng))

    def proportional(total_heads, total_funds):
        heads = split_int(total_heads, rng, spread=0.1)
        funds = {c: (total_funds * heads[c] / total_heads).quantize(D("0.01")) for c in CODES}
        funds[CODES[0]] += total_funds - sum(funds.values())
        return heads, funds

    s = "social_assistance"
    heads, funds = proportional(t["dibao_persons"], t["dibao_funds"])
    put(s, "dibao_tekun_persons", heads)
    put(s, "dibao_tekun_funds_10k_yuan", funds)
    heads, funds = proportional(t["aid_times"], t["aid_funds"])
    put(s, "temporary_aid_person_times", heads)
    put(s, "temporary_aid_funds_10k_yuan", funds)

    i = "industry"
    put(i, "fungus_bags_10k", split_dec(t["fungus"], rng))
    put(i, "agri_parks", split_int(t["parks"], rng))
    put(i, "leading_enterprises", split_int(t["enterprises"], rng))
    put(i, "industry_beneficiaries", split_int(t["beneficiaries"], rng))
    put(i, "ecommerce_demo_county", {c: True for c in CODES})

    e = "employment"
    put(e, "employed_persons", split_int(t["employed"], rng))
    put(e, "employment_target", split_int(t["target"], rng))
    labor = split_int(t["labor_households"], rng)
    put(e, "labor_households", labor)
    put(e, "labor_households_employed", labor)

    f = "infrastructure"
    put(f, "clinics_built", split_int(t["clinics"], rng))
    put(f, "water_cellars_eliminated", split_int(t["cellars"], rng))
    rural = split_int(t["rural"], rng)
    tap = {c: int(rural[c] * t["tap"] / t["rural"]) for c in CODES}
    tap[CODES[0]] += t["tap"] - sum(tap.values())
    put(f, "rural_population", rural)
    put(f, "tap_water_population", tap)
    put(f, "group_roads_km", split_dec(t["group_km"], rng))
    put(f, "hardened_roads", split_int(t["roads"], rng))
    put(f, "hardened_roads_km", split_dec(t["roads_km"], rng))
    put(f, "four_good_roads_level", dict(zip(CODES, ("国家级", "省级", "省级", "省级", "省级", "省级", "国家级"))))
    put(f, "toilets_renovated", split_int(t["toilets"], rng))
    put(f, "national_key_towns", split_int(t["key_towns"], rng))
    put(f, "leisure_villages", split_int(t["leisure"], rng))
    put(f, "provincial_model_villages", split_int(t["model_villages"], rng))

    k = "construction"
    put(k, "demo_county", {c: c == "611026" for c in CODES})
    for name, key in (("demo_towns", "demo_towns"), ("demo_villages", "demo_villages"), ("wellness_villages", "wellness"),
                      ("tourism_villages", "tourism"), ("livable_villages", "livable"),
                      ("consolidation_projects", "projects")):
        put(k, name, split_int(t[key], rng))
    return r


def assistance_rows(t: dict, rng: random.Random) -> dict[str, list[dict]]:
    """表10: every county has all 8 programmes; 市本级 (611000) reports 定点帮扶 and 宁商协作."""
    units = CODES + [CITY_CODE]
    rows = {u: {} for u in units}

    def row(u, programme):
        return rows[u].setdefault(programme, dict(programme=programme, projects=0, funds_invested_10k_yuan=D(0),
                                                  funds_attracted_10k_yuan=D(0), donations_10k_yuan=D(0), enterprises=0,
                                                  exchange_batches=0, exchange_persons=0))

    paired = ("科技特派团", "组团式帮扶", "定点帮扶", "对口帮扶")
    funds, projects = split_dec(t["paired_funds"], rng, units), split_int(t["paired_projects"], rng, units)
    for u in units:
        progs = paired if u != CITY_CODE else ("定点帮扶",)
        f_parts = split_dec(funds[u], rng, progs) if len(progs) > 1 else {progs[0]: funds[u]}
        p_parts = split_int(projects[u], rng, progs) if len(progs) > 1 else {progs[0]: projects[u]}
        for p in progs:
            r = row(u, p)
            r.update(funds_invested_10k_yuan=f_parts[p], projects=p_parts[p], exchange_batches=rng.randint(1, 6))
            r["exchange_persons"] = r["exchange_batches"] * rng.randint(3, 12)
    nj = {k: split_int(t[k], rng, units) for k in ("nj_enterprises", "nj_batches")}
    nj_funds = split_dec(t["nj_funds"], rng, units)
    persons = {u: nj["nj_batches"][u] * 9 for u in units}
    persons[CITY_CODE] += t["nj_persons"] - sum(persons.values())
    for u in units:
        row(u, "宁商协作").update(enterprises=nj["nj_enterprises"][u], funds_invested_10k_yuan=nj_funds[u],
                               exchange_batches=nj["nj_batches"][u], exchange_persons=persons[u],
                               projects=rng.randint(2, 9))
    for key, col in (("es_attracted", "funds_attracted_10k_yuan"), ("es_donations", "donations_10k_yuan")):
        per_county = split_dec(t[key], rng)
        for c in CODES:
            halves = split_dec(per_county[c], rng, ("万企兴万村", "社会组织帮扶"))
            for p, v in halves.items():
                row(c, p)[col] = v
    es_projects = split_int(t["es_projects"], rng)
    for c in CODES:
        for p, v in split_int(es_projects[c], rng, ("万企兴万村", "社会组织帮扶")).items():
            row(c, p)["projects"] = v
    for key, col in (("rt_projects", "projects"), ("rt_funds", "funds_invested_10k_yuan"),
                     ("rt_attracted", "funds_attracted_10k_yuan")):
        parts = split_dec(t[key], rng) if isinstance(t[key], Decimal) else split_int(t[key], rng)
        for c in CODES:
            row(c, "驻村帮扶")[col] = parts[c]
    return {u: list(rows[u].values()) for u in units}


def relocation_rows(t: dict, rng: random.Random) -> dict[str, list[dict]]:
    households, persons = split_int(t["relocated_households"], rng), split_int(t["relocated_persons"], rng)
    out = {}
    for c in CODES:
        sites = rng.randint(8, 15)
        hh = split_int(households[c], rng, [str(i) for i in range(sites)], spread=0.6)
        extra = persons[c] - households[c]            # every site has at least one person a household
        pp = {s: hh[s] + extra * hh[s] // households[c] for s in hh}
        pp[max(hh, key=hh.get)] += persons[c] - sum(pp.values())
        rows = []
        for s in sorted(hh, key=int):
            types = split_int(hh[s], rng, ["type_migrant_work", "type_community_worker", "type_services", "type_farming",
                                           "type_safety_net"], spread=0.7)
            rows.append(dict(site_name=f"{COUNTIES[c][:2]}第{int(s) + 1}安置点", county_code=c, households=hh[s],
                             persons=pp[s], **types, has_vegetable_plots=True, has_storerooms=rng.random() < 0.9,
                             has_shop=True, has_council=True, has_cemetery=rng.random() < 0.7))
        out[c] = rows
    return out


SCALED = ("households", "persons", "student_aid", "insurance_base", "inpatient_cost", "dilapidated", "model_houses",
          "seismic", "dibao_persons", "aid_times", "fungus", "parks", "enterprises", "beneficiaries", "employed", "target",
          "labor_households", "relocated_households", "clinics", "cellars", "rural", "group_km", "roads", "roads_km",
          "toilets", "key_towns", "leisure", "model_villages", "demo_towns", "demo_villages", "wellness", "tourism",
          "livable", "projects", "paired_funds", "paired_projects", "nj_enterprises", "nj_funds", "nj_batches",
          "es_attracted", "es_donations", "es_projects", "rt_projects", "rt_funds", "rt_attracted")


def perturbed(t: dict, rng: random.Random) -> dict:
    """Other city totals for tests: independent totals scaled, dependent ones derived, all rules kept."""
    t = dict(t)
    for k in SCALED:
        f = rng.uniform(0.8, 1.2)
        t[k] = (t[k] * D(str(round(f, 3)))).quantize(D("0.01")) if isinstance(t[k], Decimal) else max(1, int(t[k] * f))
    t["eliminated_households"] = int(t["households"] * rng.uniform(0.4, 0.7))
    t["eliminated_persons"] = int(t["persons"] * t["eliminated_households"] / t["households"])
    t["inpatient_reimbursed"] = (t["inpatient_cost"] * D("0.8")).quantize(D("0.01"))
    t["dibao_funds"] = (D(t["dibao_persons"]) * D("0.4123")).quantize(D("0.01"))     # 4123 元 a person
    t["aid_funds"] = (D(t["aid_times"]) * D("0.1011")).quantize(D("0.01"))            # 1011 元 a person-time
    t["relocated_persons"] = t["relocated_households"] * 4 - rng.randint(0, 500)
    t["tap"] = int(t["rural"] * rng.uniform(0.9, 0.97))
    t["nj_persons"] = t["nj_batches"] * 9 + rng.randint(0, 30)
    t["shell"], t["weak"], t["sewage"] = rng.randint(0, 30), rng.randint(40, 200), rng.randint(500, 900)
    return t


def build(period: str, households: int | None = None, seed: str | None = None) -> dict[str, dict[str, list[dict]]]:
    """return_id -> unit -> rows (canonical names, Python values)."""
    rng = random.Random(f"shangluo-sample-{period}" + (f"-{seed}" if seed else ""))
    t = totals(period)
    if seed:
        t = perturbed(t, rng)
    if households:
        scale = households / t["households"]
        for k in ("households", "persons", "eliminated_households", "eliminated_persons"):
            t[k] = int(t[k] * scale)
    villages = village_rows(period, t, rng)
    data = {"village_register": villages, "monitoring_households": monitoring_rows(period, t, rng, villages)}
    # county shares are stable from year to year: the same split draws for every period
    shares = random.Random("shangluo-sample-shares" + (f"-{seed}" if seed else ""))
    for rid, per_county in one_row_returns(t, shares).items():
        data[rid] = {c: [row] for c, row in per_county.items()}
    data["assistance"] = assistance_rows(t, shares)
    data["relocation_sites"] = relocation_rows(t, rng)
    return data


# ------------------------------------------------------------------ writing the forms

FULL = str.maketrans("0123456789.", "０１２３４５６７８９．")


def text_value(value, style: str = "plain") -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, date):
        return f"{value.year}年{value.month}月{value.day}日" if style == "messy" else value.isoformat()
    if isinstance(value, int) and style == "messy" and value >= 1000:
        return f"{value:,}"
    if isinstance(value, Decimal) and style == "messy":
        return f" {value:f} ".translate(FULL)
    return f"{value:f}" if isinstance(value, Decimal) else str(value)


def cell_value(field, value):
    """What an Excel cell holds: numbers as numbers, codes as number cells, dates as dates."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, Decimal):
        return float(value)
    if field.kind == "code" and field.name == "village_code":
        return int(value)          # clerks' village codes typed as numbers
    return value


def header(field, style: str = "zh") -> str:
    if style == "en":
        return field.name
    if style == "messy":
        return " " + field.label.replace("(", "（").replace(")", "）") + " "
    return field.label


def file_fields(rid: str):
    return [f for f in RETURNS[rid].fields if f.required or f.name in ("eliminated_on",)]


def csv_bytes(rid: str, rows: list[dict], encoding: str, style: str, order_seed: str | None = None,
              title: bool = False, extra_column: bool = False) -> bytes:
    fields = file_fields(rid)
    if order_seed:
        random.Random(order_seed).shuffle(fields)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    if title:
        w.writerow([f"{RETURNS[rid].title}（CSV导出）"])
    w.writerow((["序号"] if extra_column else []) + [header(f, "en" if style == "en" else style) for f in fields])
    for i, r in enumerate(rows, start=1):
        w.writerow(([str(i)] if extra_column else []) +
                   [text_value(r.get(f.name), "messy" if style == "messy" else "plain") for f in fields])
    return buf.getvalue().encode(encoding)


def sheet_rows(rid: str, rows: list[dict], county: str, period: str, title_rows: bool, total: bool,
               subtotal: bool = False):
    ret = RETURNS[rid]
    fields = file_fields(rid)
    out = []
    if title_rows:
        out.append([f"{COUNTIES.get(county, '商洛市本级')}{period}年{ret.title}"])
        out.append([f"填报单位：{COUNTIES.get(county, '商洛市本级')}乡村振兴局", None, None, "单位：见各列"])
    out.append([f.label for f in fields])
    out += [[cell_value(f, r.get(f.name)) for f in fields] for r in rows]
    if subtotal and not ret.one_row and len(rows) > 2:      # a 小计 row between the data rows: dropped, noted
        out.insert(len(out) - 1, ["小计"] + [None] * (len(fields) - 1))
    if total and not ret.one_row:
        sums = []
        for f in fields:
            if f.kind in ("count", "amount"):
                s = sum((r[f.name] for r in rows), D(0) if f.kind == "amount" else 0)
                sums.append(float(s) if f.kind == "amount" else s)
            else:
                sums.append(None)
        sums[0] = "合计"
        out.append(sums)
    if title_rows:
        out.append(["填表人：王丽", None, "审核人：张强", None, f"填报日期：{int(period) + 1}年1月10日"])
    return out


def vertical_rows(rid: str, row: dict, county: str, period: str):
    ret = RETURNS[rid]
    out = [[f"{COUNTIES[county]}{period}年{ret.title}"], ["指标名称", "计量单位", "数值"]]
    for f in file_fields(rid):
        out.append([f.bare_label, f.unit, cell_value(f, row.get(f.name))])
    out.append(["填表人：李华"])
    return out


FIXED_TIME = datetime(2023, 1, 15, 9, 0, 0)


def write_xlsx(path: Path, sheets: dict[str, list[list]]):
    import openpyxl
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for r in rows:
            ws.append(r)
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, date):
                    cell.number_format = "yyyy-mm-dd"
    wb.properties.creator = "synthetic sample generator"
    wb.properties.created = wb.properties.modified = FIXED_TIME
    buf = io.BytesIO()
    wb.save(buf)
    _deterministic_zip(buf.getvalue(), path)


def _deterministic_zip(data: bytes, path: Path):
    """Rewrite a zip with fixed entry times, so the same content gives the same bytes."""
    src = zipfile.ZipFile(io.BytesIO(data))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                import re
                body = re.sub(rb"<dcterms:modified[^>]*>[^<]*</dcterms:modified>",
                              b'<dcterms:modified xsi:type="dcterms:W3CDTF">2023-01-15T09:00:00Z</dcterms:modified>', body)
            dst.writestr(zipfile.ZipInfo(info.filename, date_time=(2023, 1, 15, 9, 0, 0)), body,
                         compress_type=zipfile.ZIP_DEFLATED)


def write_xls(path: Path, rows: list[list]):
    import xlwt
    book = xlwt.Workbook(encoding="utf-8")
    ws = book.add_sheet("Sheet1")
    date_style = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    for i, r in enumerate(rows):
        for j, v in enumerate(r):
            if isinstance(v, date):
                ws.write(i, j, datetime(v.year, v.month, v.day), date_style)
            elif v is not None:
                ws.write(i, j, v)
    book.save(str(path))


FORMS = {"611002": "xlsx_titled", "611021": "csv_gb18030", "611022": "workbook", "611023": "vertical",
         "611024": "csv_english", "611025": "xls", "611026": "csv_messy", CITY_CODE: "csv_plain"}


def write_unit(folder: Path, unit: str, period: str, data: dict, form: str, messy: bool = False):
    """Write one reporting unit's returns in one of the forms clerks send."""
    folder.mkdir(parents=True, exist_ok=True)
    returns = [rid for rid in RETURNS if unit in data[rid]]
    for rid in returns:
        ret, rows = RETURNS[rid], data[rid][unit]
        label = f"{ret.table_label} {ret.title}"
        if form == "xlsx_titled":
            write_xlsx(folder / f"{ret.table_label}.xlsx",
                       {label: sheet_rows(rid, rows, unit, period, True, True, subtotal=messy)})
        elif form == "csv_gb18030":
            (folder / f"{label}.csv").write_bytes(csv_bytes(rid, rows, "gb18030", "zh", title=messy))
        elif form == "vertical":
            sheet = vertical_rows(rid, rows[0], unit, period) if ret.one_row else sheet_rows(rid, rows, unit, period, True, False)
            write_xlsx(folder / f"{ret.title}.xlsx", {"Sheet1": sheet})
        elif form == "csv_english":
            (folder / f"{rid}.csv").write_bytes(csv_bytes(rid, rows, "utf-8-sig", "en", order_seed=rid))
        elif form == "xls":
            write_xls(folder / f"{ret.table_label}.xls", sheet_rows(rid, rows, unit, period, True, True, subtotal=messy))
        elif form == "csv_messy":
            (folder / f"{ret.table_label}.csv").write_bytes(csv_bytes(rid, rows, "utf-8", "messy", extra_column=messy))
        elif form == "csv_plain":
            (folder / f"{rid}.csv").write_bytes(csv_bytes(rid, rows, "utf-8", "zh"))
    if form == "workbook":      # one workbook, a sheet per return
        write_xlsx(folder / f"{COUNTIES.get(unit, '市本级')}{period}年巩固脱贫成果统计报表.xlsx",
                   {f"{RETURNS[rid].table_label} {RETURNS[rid].title}": sheet_rows(rid, data[rid][unit], unit, period,
                                                                                  rid == "relocation_sites", False)
                    for rid in returns})
    if messy:
        (folder / "~$表1.xlsx").write_bytes(b"lock file of an open workbook")
        (folder / "desktop.ini").write_text("[.ShellClassInfo]\n", encoding="utf-8")


LARGE = 1_000_000       # from this many households 表1 is written as CSV, vectorised, a county at a time
CHUNK = 500_000


def write_large_monitoring(folder: Path, county: str, n: int, period: str, villages: list[dict], seed: int,
                           defects: int = 0) -> int:
    """表1 of `n` households for one county as UTF-8 CSV, generated with numpy in chunks (bounded
    memory); `defects` rows get a household size of 0 (a hard error).  Returns the rows written."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv
    rng = np.random.default_rng(seed)
    own = [v for v in villages if v["village_kind"] == "行政村"]
    towns, names = np.array([v["township"] for v in own]), np.array([v["village_name"] for v in own])
    cutoff = np.datetime64(f"{period}-12-31")
    weights = np.array(ID_WEIGHTS)
    fields = file_fields("monitoring_households")
    path = folder / "monitoring_households.csv"
    with path.open("wb") as fh:
        fh.write((",".join(f.label for f in fields) + "\n").encode())
        for start in range(0, n, CHUNK):
            m = min(CHUNK, n - start)
            born = np.datetime64("1940-01-01") + rng.integers(0, 20000, m).astype("timedelta64[D]")
            seq = rng.integers(0, 1000, m)
            body = np.char.add(np.char.add(county, np.char.replace(born.astype(str), "-", "")),
                               np.char.zfill(seq.astype(str), 3))
            digits = np.frombuffer("".join(body.tolist()).encode(), dtype=np.uint8).reshape(m, 17) - 48
            check = np.array(list(ID_CHECK_CHARS))[(digits * weights).sum(axis=1) % 11]
            enrolled = cutoff - rng.integers(90, 900, m).astype("timedelta64[D]")
            eliminated = rng.random(m) < 0.6
            span = (cutoff - enrolled).astype(int)
            eliminated_on = enrolled + (30 + (rng.random(m) * (span - 30)).astype(int)).astype("timedelta64[D]")
            pick = rng.integers(0, len(own), m)
            size = rng.integers(1, 9, m)
            if defects and start == 0:
                size[:defects] = 0
            cols = {
                "household_id": np.char.add(county, np.char.zfill(np.arange(start + 1, start + m + 1).astype(str), 7)),
                "head_id_number": np.char.add(body, check), "county_code": np.full(m, county),
                "township": towns[pick], "village": names[pick], "household_size": size.astype(str),
                "monitoring_type": np.array(["脱贫不稳定户", "边缘易致贫户", "突发严重困难户"])[rng.integers(0, 3, m)],
                "main_risk": np.array(["因病", "因残", "因学", "因灾", "缺劳动力", "其他"])[rng.integers(0, 6, m)],
                "enrolled_on": enrolled.astype(str), "risk_eliminated": np.where(eliminated, "是", "否"),
                "eliminated_on": np.where(eliminated, eliminated_on.astype(str), ""),
                "returned_to_poverty": np.full(m, "否"),
            }
            table = pa.table({f.label: pa.array(cols[f.name]) for f in fields})
            buf = pa.BufferOutputStream()
            pacsv.write_csv(table, buf, pacsv.WriteOptions(include_header=False, quoting_style="none"))
            fh.write(buf.getvalue().to_pybytes())
    return n


def generate(out: Path = OUT, periods=("2021", "2022"), households: int | None = None, seed: str | None = None,
             forms: dict[str, str] | None = None, messy: bool = False, defects: int = 0,
             large: bool | None = None) -> dict[str, dict]:
    """Write the landing folder; returns period -> the data written (return_id -> unit -> rows).

    With `households` of a million or more, 表1 of every county is a large UTF-8 CSV written
    vectorised (and not returned); `defects` such rows in 柞水县 break a hard rule."""
    if out.exists():
        shutil.rmtree(out)
    forms = forms or FORMS
    written = {}
    large = households is not None and (households >= LARGE if large is None else large)
    for period in periods:
        data = written[period] = build(period, None if large else households, seed)
        if large:
            per_county = split_int(households, random.Random(f"large-{period}"))
            data["monitoring_households"] = {}
        for unit in CODES + [CITY_CODE]:
            write_unit(out / period / unit, unit, period, data, forms[unit], messy)
            if large and unit in per_county:
                write_large_monitoring(out / period / unit, unit, per_county[unit], period,
                                       data["village_register"][unit], seed=CODES.index(unit) + int(period),
                                       defects=defects if unit == "611026" else 0)
    if not seed and "2022" in periods:     # a county explains a soft warning (说明, SPEC section 4)
        with (out / "2022" / "611002" / "说明.csv").open("w", encoding="utf-8-sig", newline="") as fh:
            csv.writer(fh).writerows([["表号", "规则编号", "业务键", "说明"],
                                      ["表8", "cross.moved_over_half", "", "新增1个最美休闲乡村（省级认定），数据无误"]])
    (out / "README.md").write_text(
        "# 合成样例数据 / SYNTHETIC sample returns\n\n"
        "These county returns are invented by `python -m sample.generate` (deterministic, seeded). Only the 2022 city\n"
        "totals are chosen to reproduce the published report; the county splits, names, households and ID numbers are\n"
        "synthetic and describe no real person or place.\n", encoding="utf-8")
    return written


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--households", type=int, default=None, help="scale 表1 to about this many households")
    ap.add_argument("--seed", default=None, help="other (perturbed) city totals and splits, for tests")
    ap.add_argument("--periods", default="2021,2022")
    ap.add_argument("--defects", type=int, default=0, help="with --households >= 1e6: rows of 柞水县 表1 broken")
    args = ap.parse_args(argv)
    generate(args.out, periods=tuple(args.periods.split(",")), households=args.households, seed=args.seed,
             defects=args.defects)
    print(f"wrote {sum(1 for p in args.out.rglob('*') if p.is_file())} files under {args.out}")


if __name__ == "__main__":
    main()
