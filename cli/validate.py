"""`shangluo validate`: a clerk checks return files before sending them. No warehouse needed.

Period and county come from `<period>/<county>/` in the path, else from --period / --county.
Exit 2 if anything was unusable, else 1 if any hard error, else 0.  City-wide rules (uniqueness
across counties, cross-return rules) are the pipeline's, not this command's.
"""
from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path

from schemas.core import AREAS, HARD, Context
from schemas.messages import Unusable
from schemas import engine
from schemas.read import is_system_file, parts_of
from schemas.validate import check_part

from shangluo.config import cutoff
from shangluo.landing import unknown_county

COLUMNS = ("period", "county_code", "return_id", "submission_id", "source", "sheet", "source_row", "column_header",
           "value", "rule_id", "severity", "message_zh", "message_en", "status", "explanation")
HEADERS_ZH = ("报告期", "县区代码", "报表", "版本", "文件", "工作表", "行号", "列名", "填报值", "规则编号", "类别",
              "问题说明", "Message", "状态", "说明")


def _where(path: Path, period: str | None, county: str | None) -> tuple[str | None, str | None]:
    """Period and county from `<period>/<county>/` in the path, else the options.  Raises Unusable
    for a `<period>/<folder>/` whose folder is no county code (and no --county was given)."""
    parts = path.resolve().parts
    for i in range(len(parts) - 2, 0, -1):
        if parts[i].isdigit() and len(parts[i]) == 4 and parts[i + 1] in AREAS:
            return parts[i], parts[i + 1]
    for i in range(len(parts) - 2, 0, -1):
        if parts[i].isdigit() and len(parts[i]) == 4 and parts[i + 1].isdigit() and not county:
            raise Unusable(*unknown_county(parts[i + 1]))
    return period, county


def _files(paths: list[Path]):
    for p in paths:
        if p.is_dir():
            yield from sorted(f for f in p.rglob("*") if f.is_file())
        else:
            yield p


def validate_paths(args) -> int:
    key = os.environ.get("SHANGLUO_PII_KEY", "").encode() or secrets.token_bytes(32)   # nothing is stored
    rows, unusable, checked_any = [], False, False
    for path in _files(args.paths):
        if is_system_file(path.name):
            continue
        try:
            period, county = _where(path, args.period, args.county)
        except Unusable as exc:
            rows.append(_unusable_row(path, exc, args.period, None))
            unusable = True
            continue
        if not period or not county:
            print(f"{path}: 无法确定报告期和县区：请放在<期别>/<县区代码>/目录下或使用--period和--county / cannot tell the "
                  f"period and county: put the file under <period>/<county_code>/ or give --period and --county",
                  file=sys.stderr)
            return 2
        if not path.exists():
            print(f"{path}: 文件不存在 / no such file", file=sys.stderr)
            unusable = True
            continue
        base = dict(period=period, county_code=county, submission_id=None, source=str(path), status="open",
                    explanation=None)
        try:
            if path.stat().st_size == 0:
                raise Unusable("文件为空（0字节）", "the file is empty (0 bytes)")
            parts, notes = parts_of(path)
            for part in parts:
                if part.ret is None:
                    continue
                con = engine.connect()          # a large CSV file is checked in DuckDB, in memory
                try:
                    checked = check_part(part, Context(period, county, cutoff(period)), key, con)
                finally:
                    con.close()
                checked_any = True
                rows += [dict(base, return_id=part.ret.return_id, sheet=part.sheet, **f.__dict__) for f in checked.findings]
                print(f"{path}{'!' + part.sheet if part.sheet else ''}: {part.ret.table_label} {part.ret.return_id}, "
                      f"{checked.rows} 行 rows, {checked.hard_count} 强制性错误 hard, {checked.soft_count} 核实性警告 soft",
                      file=sys.stderr)
            for n in notes:
                print(f"{path}: {n}", file=sys.stderr)
        except Unusable as exc:
            unusable = True
            rows.append(_unusable_row(path, exc, period, county))
    if not checked_any and not unusable:
        where = " ".join(map(str, args.paths))
        rows.append(_unusable_row(where, Unusable("没有找到任何报表文件", "no return found"), args.period, args.county))
    rows = [{c: r.get(c) for c in COLUMNS} for r in rows]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
    else:
        _print_table(rows)
    if args.xlsx:
        write_feedback(rows, args.xlsx)
    if unusable or not checked_any:
        return 2
    return 1 if any(r["severity"] == HARD for r in rows) else 0


def _unusable_row(path, exc: Unusable, period: str | None, county: str | None) -> dict:
    return dict(period=period, county_code=county, submission_id=None, source=str(path), status="open",
                explanation=None, return_id=None, sheet=None, source_row=None, column_header="", value="",
                rule_id="file.unusable", severity=HARD, message_zh=exc.zh, message_en=exc.en)


def _print_table(rows: list[dict]):
    if not rows:
        print("未发现问题 / no problems found")
        return
    for r in rows:
        where = f"{Path(r['source']).name}{'!' + r['sheet'] if r['sheet'] else ''} 第{r['source_row'] or '-'}行 {r['column_header']}"
        print(f"[{r['severity']}] {where} 值“{r['value']}”: {r['message_zh']} / {r['message_en']} ({r['rule_id']})")


def write_feedback(rows: list[dict], path: Path):
    """审核反馈表: one row per violation, in Chinese, ready to send back to the county."""
    import openpyxl
    from openpyxl.styles import Font
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "审核反馈表"
    ws.append(["文件", "工作表", "行号", "列名", "填报值", "类别", "问题说明", "Message", "规则编号"])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for r in rows:
        ws.append([Path(r["source"]).name, r["sheet"], r["source_row"], r["column_header"], r["value"],
                   "强制性" if r["severity"] == HARD else "核实性", r["message_zh"], r["message_en"], r["rule_id"]])
    for col, width in zip("ABCDEFGHI", (28, 20, 8, 20, 20, 8, 50, 50, 40)):
        ws.column_dimensions[col].width = width
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
