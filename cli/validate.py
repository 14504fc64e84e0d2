"""`shangluo validate`: a clerk checks return files before sending them. No warehouse needed.

Period and county come from `<period>/<county>/` in the path, else from --period / --county (a
note says when the path overrides them). Everything goes to stdout, in order: a line per file, then
the violations (with --json only the JSON is on stdout, the lines on stderr). --xlsx writes the
审核反馈表 (publish/feedback.py).
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
from schemas.messages import Unusable, mask_ids
from schemas import engine
from schemas.read import is_system_file, parts_of
from intake.check import check_part
from intake.explanations import explanations_in, match
from intake.landing import unknown_county
from shangluo.config import cutoff

COLUMNS = ("period", "county_code", "return_id", "submission_id", "source", "sheet", "source_row", "column_header",
           "value", "rule_id", "severity", "message_zh", "message_en", "status", "explanation", "business_key")


def _say(args, text: str):
    """One stream, in order: stdout; with --json stdout holds only the JSON, so the lines go to stderr."""
    print(text, file=sys.stderr if args.json else sys.stdout, flush=True)


def _where(args, path: Path) -> tuple[str | None, str | None]:
    period, county = args.period, args.county
    parts = path.resolve().parts
    for i in range(len(parts) - 2, 0, -1):
        if parts[i].isdigit() and len(parts[i]) == 4 and parts[i + 1] in AREAS:
            for option, given, found in (("--period", period, parts[i]), ("--county", county, parts[i + 1])):
                if given and given != found and (option, found) not in args.__dict__.setdefault("warned", set()):
                    args.warned.add((option, found))
                    _say(args, f"注意：{path.parent}的路径表明{found}，{option} {given}不适用 / note: the path says {found}; "
                               f"{option} {given} does not apply to this file")
            return parts[i], parts[i + 1]
    for i in range(len(parts) - 2, 0, -1):      # <period>/<folder>/ whose folder is no county code
        if parts[i].isdigit() and len(parts[i]) == 4 and parts[i + 1].isdigit() and not args.county:
            raise Unusable(*unknown_county(parts[i + 1]))
    return period, county


def _files(paths: list[Path]):
    for p in paths:
        if p.is_dir():
            yield from sorted(f for f in p.rglob("*") if f.is_file())
        else:
            yield p


def _option_problem(args) -> str | None:
    """Why --period or --county cannot be used (a period is a year, a county one of the codes)."""
    if args.period is not None and not (len(args.period) == 4 and args.period.isdigit() and args.period >= "1000"):
        return (f"--period {args.period}不是年份（如2022） / --period {args.period} is not a year (such as 2022)")
    if args.county is not None and args.county not in AREAS:
        zh, en = unknown_county(args.county)
        return (f"--county {args.county}不是县区代码：{zh.split('：', 1)[-1]} / --county {args.county} is not a county "
                f"code: {en.split(': ', 1)[-1]}")
    return None


def validate_paths(args) -> int:
    problem = _option_problem(args)
    if problem:
        _say(args, problem)
        return 2
    key = os.environ.get("SHANGLUO_PII_KEY", "").encode() or secrets.token_bytes(32)   # nothing is stored
    rows, unusable, where, checked, explanations = [], False, set(), [], []
    for path in _files(args.paths):
        if is_system_file(path.name):
            continue
        try:
            period, county = _where(args, path)
        except Unusable as exc:
            rows.append(_unusable_row(path, exc, args.period, None))
            unusable = True
            continue
        if not path.exists():
            rows.append(_unusable_row(path, Unusable("文件不存在", "no such file"), period, county))
            unusable = True            # exit 2, after the other files are checked
            continue
        if not period or not county:
            rows.append(_unusable_row(path, Unusable(
                "无法确定报告期和县区：请放在<期别>/<县区代码>/目录下或使用--period和--county",
                "cannot tell the period and county: put the file under <period>/<county_code>/ or give --period "
                "and --county"), period, county))
            unusable = True
            continue
        where.add((period, county))
        found, bad = check_file(path, period, county, key, sys.stderr if args.json else sys.stdout, checked,
                                explanations)
        rows += found
        unusable = unusable or bad
    _explain(args, rows, explanations)
    if not checked and not unusable:        # an empty folder, or only explanations: nothing was checked
        rows.append(_unusable_row(" ".join(map(str, args.paths)), Unusable("没有找到任何报表文件", "no return found"),
                                  args.period, args.county))
    rows = [{c: mask_ids(r.get(c)) for c in COLUMNS} for r in rows]      # a path or sheet may hold an ID number
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
    else:
        _print_table(rows)
    if args.xlsx:
        from publish.feedback import write_feedback
        periods, counties = {p for p, _ in where}, {c for _, c in where}
        try:
            path = write_feedback(rows, args.xlsx, periods.pop() if len(periods) == 1 else args.period,
                                  counties.pop() if len(counties) == 1 else args.county)
        except OSError as exc:      # a folder, a read-only place: said, and exit 2 (1 would say hard errors)
            _say(args, f"无法写入审核反馈表{args.xlsx}：{exc.strerror} / cannot write the feedback workbook "
                       f"{args.xlsx}: {exc.strerror}")
            return 2
        _say(args, f"审核反馈表 / feedback workbook: {path}")
    if unusable or not checked:
        return 2
    return 1 if any(r["severity"] == HARD for r in rows) else 0


def check_file(path: Path, period: str, county: str, key: bytes, log=None, seen: list | None = None,
               explanations: list | None = None) -> tuple[list[dict], bool]:
    """Every violation `validate` finds in one file (dicts with the columns of quality.violations
    and `business_key`), and whether the file was unusable.  Summary lines go to `log` (None: silent);
    the returns checked are appended to `seen`, the rows of a 说明 file or sheet to `explanations`,
    if given."""
    rows, unusable = [], False
    base = dict(period=period, county_code=county, submission_id=None, source=str(path), status="open",
                explanation=None)
    try:
        if path.stat().st_size == 0:
            raise Unusable("文件为空（0字节）", "the file is empty (0 bytes)")
        parts, notes = parts_of(path)
        for part in parts:
            if part.ret is None:          # 说明: answers to warnings, applied once every file is checked
                if explanations is not None:
                    explanations += [{"county_code": county, **e} for e in explanations_in(part, period, county)]
                continue
            con = engine.connect()          # a large CSV file is checked in DuckDB, in memory
            try:
                checked = check_part(part, Context(period, county, cutoff(period)), key, con)
            finally:
                con.close()
            rows += [dict(base, return_id=part.ret.return_id, sheet=part.sheet, **f.__dict__) for f in checked.findings]
            if seen is not None:
                seen.append(part.ret.return_id)
            _note(log, f"{path}{'!' + part.sheet if part.sheet else ''}: {part.ret.table_label} {part.ret.return_id}, "
                  f"{checked.rows} 行 rows, {checked.hard_count} 强制性错误 hard, {checked.soft_count} 核实性警告 soft")
            for n in checked.notes:          # how it was read: units converted, rows skipped, cells filled down
                _note(log, f"  {n}")
        for n in notes:
            _note(log, f"{path}: {n}")
    except Unusable as exc:
        unusable = True
        rows.append(_unusable_row(path, exc, period, county))
    return rows, unusable


def _explain(args, rows: list[dict], explanations: list[dict]):
    """The 说明 among the files answer their warnings as the pipeline will (`intake.explanations.match`);
    an explanation that answers none is said, since the clerk can still correct it."""
    if not explanations:
        return
    answered, unmatched = match(explanations, rows)
    for i, text in answered.items():
        rows[i].update(status="explained", explanation=text)
    _say(args, f"说明：{len(answered)} 条核实性警告已说明 / explanations: {len(answered)} soft warning(s) explained")
    for e in unmatched:
        _say(args, f"说明未对应任何警告 / an explanation answers no warning: {e['table']} {e['rule_id']} "
                   f"{e['business_key'] or ''}".rstrip())


def _unusable_row(path, exc: Unusable, period: str | None, county: str | None) -> dict:
    return dict(period=period, county_code=county, submission_id=None, source=str(path), status="open",
                explanation=None, return_id=None, sheet=None, source_row=None, column_header="", value="",
                rule_id="file.unusable", severity=HARD, message_zh=exc.zh, message_en=exc.en)


def _note(log, text: str):
    if log is not None:
        print(mask_ids(text), file=log)      # a note quotes headers and sheet names as written


def _print_table(rows: list[dict]):
    if not rows:
        print("未发现问题 / no problems found")
        return
    for r in rows:
        where = f"{Path(r['source']).name}{'!' + r['sheet'] if r['sheet'] else ''}"
        if r["source_row"]:
            where += f" 第{r['source_row']}行"
        if r["column_header"]:
            where += f" {r['column_header']}"
        value = f" 值“{r['value']}”" if r["value"] not in (None, "") else ""
        said = f" [已说明 explained: {r['explanation']}]" if r["status"] == "explained" else ""
        print(f"[{r['severity']}] {where}{value}: {r['message_zh']} / {r['message_en']} ({r['rule_id']}){said}")

