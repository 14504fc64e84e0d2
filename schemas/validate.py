"""Checking one located submission: parse flags, Pandera models (hard and soft), set rules, 合计.

`pandera_schema(ret, ctx, severity)` is the Pandera model of a return for one tier, generated
from the declaration; `check(located, ctx, key)` runs everything a single county's return can be
checked for and returns the typed rows, the findings (one per offending row and column) and the
version hash of the normalised content.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from decimal import Decimal

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow

from .checks import (EXCEL_NUMBER_PATTERN, ID_PATTERN, id_birth_date, id_check_digit_ok, passes, sql_excel_number,
                     sql_id_birth_date, sql_id_check_char, sql_id_ok)
from . import engine
from .core import HARD, NUMERIC_KINDS, SOFT, Context, Field, Return
from .messages import Finding, mask_id
from .normalise import normalise
from .read import Located, locate, squash

ARROW_TYPES = {"text": pyarrow.string(), "code": pyarrow.string(), "county": pyarrow.string(),
               "id_number": pyarrow.string(), "category": pyarrow.string(), "count": pyarrow.int64(),
               "amount": pyarrow.decimal128(18, 6), "bool": pyarrow.bool_(), "date": pyarrow.date32()}

KIND_WORDS = {  # what a written value must look like, for the `type` rule
    "count": ("非负整数", "a whole number"),
    "amount": ("数值", "a number"),
    "date": ("日期（如2022-03-01）", "a date (such as 2022-03-01)"),
    "bool": ("“是”或“否”", "是 or 否 (yes or no)"),
}


@dataclass(frozen=True)
class RuleInfo:
    rule_id: str
    severity: str
    columns: tuple[str, ...]
    zh: str
    en: str


@dataclass(frozen=True)
class CatalogueRule:
    """One rule of the catalogue, in both forms: a vectorised pandas check (run by Pandera per
    county) and, where it has one, a DuckDB predicate (run over staging or a whole period) that is
    true or NULL where a row passes.  In `sql`, `$county` is the county code and `$cutoff` the
    period's cut-off date."""
    info: RuleInfo
    check: object
    row_rule: bool
    sql: str | None
    clear: bool = False        # its SQL reads a clear ID number (see `needs_clear`)


def _field_checks(ret: Return, f: Field, ctx: Context) -> list[CatalogueRule]:
    """Bounds, categories, codes and ID numbers of one field, from its declaration."""
    rid, lab, col = f"{ret.return_id}.{f.name}", f.label, f'"{f.name}"'
    out = []

    def add(suffix, severity, fn, zh, en, sql=None):
        out.append(CatalogueRule(RuleInfo(f"{rid}.{suffix}", severity, (f.name,), zh, en), fn, False, sql))

    if f.min is not None:
        add("min", HARD, lambda s, v=f.min: s >= v, f"{lab}不能小于{f.min}", f"{f.name} must not be below {f.min}",
            f"{col} >= {f.min}")
    if f.max is not None:
        add("max", HARD, lambda s, v=f.max: s <= v, f"{lab}不能大于{f.max}", f"{f.name} must not exceed {f.max}",
            f"{col} <= {f.max}")
    if f.soft_min is not None:
        add("soft_min", SOFT, lambda s, v=f.soft_min: s >= v, f"{lab}小于{f.soft_min}，请核实",
            f"{f.name} is below {f.soft_min}: please verify", f"{col} >= {f.soft_min}")
    if f.soft_max is not None:
        add("soft_max", SOFT, lambda s, v=f.soft_max: s <= v, f"{lab}大于{f.soft_max}，请核实",
            f"{f.name} is above {f.soft_max}: please verify", f"{col} <= {f.soft_max}")
    if f.kind == "category":
        allowed = "、".join(f.values)
        add("category", HARD, lambda s, v=f.values: s.isin(v), f"{lab}只能填写：{allowed}",
            f"{f.name} must be one of: {', '.join(f.values)}", f"{col} in ({', '.join(repr(v) for v in f.values)})")
    if f.kind == "county":
        add("county", HARD, lambda s: s == ctx.county_code,
            f"县区代码与报送县区（{ctx.county_code}）不一致：不能报送其他县区的数据",
            f"county code differs from the submitting county ({ctx.county_code}): a county cannot submit another county's rows",
            f"{col} = $county")
    if f.county_prefix:
        add("prefix", HARD, lambda s: s.str.startswith(ctx.county_code), f"{lab}应以本县区代码{ctx.county_code}开头",
            f"{f.name} must start with the county code {ctx.county_code}", f"starts_with({col}, $county)")
    if f.length:
        add("format", HARD, lambda s, n=f.length: s.str.fullmatch(rf"\d{{{n}}}"), f"{lab}应为{f.length}位数字",
            f"{f.name} must be {f.length} digits", f"regexp_full_match({col}, '\\d{{{f.length}}}')")
    if f.kind == "id_number":      # these need the clear value: never over staging (see `needs_clear`)
        excel = lambda s: s.str.fullmatch(EXCEL_NUMBER_PATTERN).fillna(False).astype(bool)  # noqa: E731
        well_formed = lambda s: s.str.fullmatch(ID_PATTERN).fillna(False).astype(bool)  # noqa: E731
        add("excel_number", HARD, lambda s: ~excel(s),
            f"{lab}被Excel存成了数字，后几位已丢失：请把该列设置为文本格式后重新录入",
            "the ID number was stored by Excel as a number and lost its last digits: format the column as text and type the numbers again",
            f"not {sql_excel_number(col)}")
        add("format", HARD, lambda s: excel(s) | s.str.fullmatch(ID_PATTERN),
            f"{lab}应为18位（最后一位可为X）", "the ID number must have 18 characters (the last may be X)",
            f"{sql_excel_number(col)} or {sql_id_ok(col)}")
        add("check_digit", HARD, lambda s: ~well_formed(s) | id_check_digit_ok(s),
            f"{lab}校验码错误", "the ID number's check digit is wrong (GB 11643)",
            f"not {sql_id_ok(col)} or {sql_id_check_char(col)} = substr({col}, 18, 1)")
        add("birth_date", HARD, lambda s: ~well_formed(s) | id_birth_date(s).notna(),
            f"{lab}中的出生日期不存在", "the ID number holds no real birth date",
            f"not {sql_id_ok(col)} or {sql_id_birth_date(col)} is not null")
    return out


def needs_clear(ret: Return, sql: str | None) -> bool:
    """A SQL rule that reads a clear ID number (or a fact computed from it, `<field>__ok`): it runs
    where the clear value is (while a version is checked), never over staging, which holds only the
    pseudonym."""
    return sql is not None and any(f.kind == "id_number" and re.search(rf'\b{f.name}(__[a-z]+)?\b', sql)
                                   for f in ret.fields)


def rule_catalogue(ret: Return, ctx: Context) -> list[CatalogueRule]:
    """Every value rule of a return: the field rules derived from its fields, then its row rules."""
    rules = [rule for f in ret.fields for rule in _field_checks(ret, f, ctx)]
    rules += [CatalogueRule(RuleInfo(r.id, r.severity, r.columns, r.zh, r.en), r.check, True, r.sql) for r in ret.rules]
    return [replace(rule, clear=needs_clear(ret, rule.sql)) for rule in rules]


def required_info(ret: Return, f: Field) -> RuleInfo:
    return RuleInfo(f"{ret.return_id}.{f.name}.required", HARD, (f.name,), f"{f.label}必须填写",
                    f"{f.name} ({f.label}) is required")


def type_info(ret: Return, f: Field) -> RuleInfo:
    zh, en = KIND_WORDS[f.kind]
    return RuleInfo(f"{ret.return_id}.{f.name}.type", HARD, (f.name,), f"{f.label}应为{zh}", f"{f.name} ({f.label}) must be {en}")


def id_in_text_info(ret: Return, f: Field) -> RuleInfo:
    """An ID number typed into free text is stored masked; the row is flagged for the clerk."""
    return RuleInfo(f"{ret.return_id}.{f.name}.id_number_in_text", SOFT, (f.name,),
                    f"{f.label}中含有身份证号，已脱敏保存，请勿在此栏填写身份证号",
                    f"{f.name} ({f.label}) holds an ID number: stored masked; do not write ID numbers here")


def unique_info(ret: Return) -> RuleInfo:
    labels = "、".join(ret.field(k).label for k in ret.key)
    return RuleInfo(f"{ret.return_id}.{'_'.join(ret.key)}.unique", HARD, ret.key, f"{labels}重复",
                    f"duplicate {', '.join(ret.key)}")


def required_sql(ret: Return) -> list[tuple[RuleInfo, str]]:
    """The `required` rule as SQL over staged columns (the Pandera path reads it from the parse flags)."""
    return [(required_info(ret, f), f'"{f.stored_name}" is not null')
            for f in ret.stored_fields if f.required]


def pandera_schema(ret: Return, ctx: Context, severity: str) -> pa.DataFrameSchema:
    """The Pandera model of `ret` for one tier (hard or soft), from its declaration."""
    columns = {f.name: pa.Column(pd.ArrowDtype(ARROW_TYPES[f.kind]), nullable=True, checks=[]) for f in ret.fields}
    frame_checks = []
    for rule in rule_catalogue(ret, ctx):
        if rule.info.severity != severity:
            continue
        if rule.row_rule:
            frame_checks.append(pa.Check(lambda df, fn=rule.check: passes(fn(df, ctx)), name=rule.info.rule_id,
                                         ignore_na=False))
        else:
            columns[rule.info.columns[0]].checks.append(
                pa.Check(lambda s, fn=rule.check: passes(fn(s)), name=rule.info.rule_id, ignore_na=False))
    return pa.DataFrameSchema(columns, checks=frame_checks, name=f"{ret.return_id}[{severity}]", coerce=False)


@dataclass
class Checked:
    """One checked version: its findings, and its rows either as an Arrow table (`typed`, with the
    flags and, in memory only, the clear ID numbers) or, on the bulk path, as a temporary table
    `table` of the DuckDB connection that checked it (ID numbers already pseudonyms)."""
    ret: Return
    findings: list[Finding]
    rows: int
    typed: pyarrow.Table | None = None
    table: str | None = None
    notes: list[str] = field(default_factory=list)
    content_sha256: str = ""
    source_rows: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int32))
    layout: dict[str, list] = field(default_factory=dict)     # field -> [header as written, row (vertical form)]
    _view: str | None = field(default=None, repr=False)

    @property
    def hard_count(self) -> int:
        return sum(1 for f in self.findings if f.severity == HARD)

    @property
    def soft_count(self) -> int:
        return sum(1 for f in self.findings if f.severity == SOFT)

    @property
    def accepted(self) -> bool:
        return self.hard_count == 0

    def stored_columns(self) -> list[str]:
        """Staging's columns of the return, in order: canonical names, ID numbers as pseudonyms."""
        return [f.stored_name for f in self.ret.stored_fields]

    def stored(self) -> pyarrow.Table:
        """The Arrow path's rows as staging stores them, with `source_row`."""
        cols = {f.stored_name: self.typed.column(f"{f.name}__hash" if f.kind == "id_number" else f.name)
                for f in self.ret.stored_fields}
        return pyarrow.table({**cols, "source_row": pyarrow.array(self.source_rows, pyarrow.int32())})

    def relation(self, con) -> str:
        """A relation in `con` with the stored rows and `source_row`, whichever path checked them."""
        if self.table is not None:
            return f"(select {', '.join(self.stored_columns())}, source_row from {self.table} where __kind = 'data')"
        self._view = f"__checked_{id(self)}"
        con.register(self._view, self.stored())
        return self._view

    def release(self, con):
        """Free the rows (the findings and counts stay); safe to call twice."""
        if self.table is not None:
            con.execute(f"drop table if exists {self.table}")
            self.table = None
        if self._view is not None:
            con.unregister(self._view)
            self._view = None
        self.typed = None


class _Finder:
    """Turns row positions and field names into findings located as the clerk sees them."""

    def __init__(self, loc: Located, ret: Return):
        self.loc, self.ret, self.out = loc, ret, []

    def cell(self, name: str, i: int) -> str:
        """The value as written, "" where there is none."""
        values = self.loc.columns.get(name)
        v = values[i].as_py() if values is not None and 0 <= i < len(values) else None
        return "" if v is None else str(v)

    def value(self, name: str, i: int) -> str:
        v = self.cell(name, i)
        return mask_id(v) if self.ret.field(name).kind == "id_number" else v

    def key(self, i: int) -> str:
        return "" if not self.ret.key or self.ret.one_row else self.cell(self.ret.key[0], i).strip()

    def add(self, name: str, i: int, info: RuleInfo):
        header = self.loc.headers.get(name, self.ret.field(name).label)
        self.out.append(Finding(self.loc.row_of(name, i), header, self.value(name, i), info.rule_id, info.severity,
                                info.zh, info.en, self.key(i)))


def _flag_findings(finder: _Finder, typed: pd.DataFrame, ret: Return):
    for f in ret.fields:
        if f.required:
            info = required_info(ret, f)
            uncached = {r for r, name in finder.loc.uncached if name == f.name}   # reported as `formula`
            for i in np.flatnonzero(typed[f"{f.name}__missing"].to_numpy(dtype=bool)):
                # a missing column is reported once, by the reader
                if f.name in finder.loc.columns and finder.loc.row_of(f.name, int(i)) not in uncached:
                    finder.add(f.name, int(i), info)
        if f.kind in KIND_WORDS:
            info = type_info(ret, f)
            for i in np.flatnonzero(typed[f"{f.name}__bad"].to_numpy(dtype=bool)):
                finder.add(f.name, int(i), info)
        if f.kind == "text" and f.name in finder.loc.columns:
            info = id_in_text_info(ret, f)
            for i in np.flatnonzero(typed[f"{f.name}__id"].to_numpy(dtype=bool)):
                finder.add(f.name, int(i), info)


def _pandera_findings(finder: _Finder, frame: pd.DataFrame, ret: Return, ctx: Context):
    infos = {rule.info.rule_id: rule.info for rule in rule_catalogue(ret, ctx)}
    for severity in (HARD, SOFT):
        try:
            pandera_schema(ret, ctx, severity).validate(frame, lazy=True)
        except pa.errors.SchemaErrors as exc:
            fc = exc.failure_cases
            broken = fc[fc["index"].isna()]
            if len(broken):   # a check that errors or a wrong dtype is a defect of ours, never a pass
                raise RuntimeError(f"{ret.return_id}: Pandera could not run {sorted(set(broken['check'].astype(str)))}: "
                                   f"{list(broken['failure_case'].astype(str))[:3]}") from exc
            fc = fc[fc["check"].isin(infos.keys())].drop_duplicates(["check", "index"])
            for rule_id, i in zip(fc["check"], fc["index"]):
                info = infos[rule_id]
                for name in info.columns:
                    finder.add(name, int(i), info)


def _set_findings(finder: _Finder, frame: pd.DataFrame, ret: Return):
    n = len(frame)
    if ret.one_row and n == 0:
        finder.out.append(Finding(finder.loc.row_of(ret.fields[0].name, 0) or 1, "", "", f"{ret.return_id}.nil", HARD,
                                  f"{ret.table_label}每县区填报一行，不能为空表",
                                  f"{ret.return_id} has one row per county: an empty (nil) return is not valid"))
    if ret.one_row and n > 1:
        info = RuleInfo(f"{ret.return_id}.one_row", HARD, (ret.fields[0].name,), f"{ret.table_label}每县区只能填报一行",
                        f"{ret.return_id} has exactly one row per county")
        for i in range(1, n):
            finder.add(ret.fields[0].name, i, info)
    if ret.key and all(k in frame for k in ret.key):
        dup = frame.duplicated(list(ret.key), keep="first") & frame[list(ret.key)].notna().all(axis=1)
        info = unique_info(ret)
        for i in np.flatnonzero(dup.to_numpy(dtype=bool)):
            finder.add(ret.key[0], int(i), info)


def total_findings(loc: Located, ret: Return, written: dict, sums: dict[str, Decimal]) -> list[Finding]:
    """The 合计 row against the column sums, each within half a unit of the total's last written place.
    `written`: the total row's typed values; `sums`: the column sums of the numeric fields."""
    if loc.uncached:
        loc.notes.append("有公式没有缓存值，未核对合计行 / a formula has no cached value: the total row was not checked")
        return []
    out = []
    for f in ret.fields:
        if f.kind not in NUMERIC_KINDS or loc.total.get(f.name) is None or written.get(f.name) is None:
            continue
        text = str(loc.total[f.name])
        places = len(text.split(".")[1]) if "." in text else 0
        tolerance = Decimal(5) / Decimal(10) ** (places + 1)
        column_sum = Decimal(str(sums.get(f.name) or 0))
        if abs(column_sum - Decimal(str(written[f.name]))) >= tolerance:
            out.append(Finding(loc.total_row, loc.headers.get(f.name, f.label), text, f"{ret.return_id}.{f.name}.total",
                               HARD, f"合计行{f.label}为{text}，与各行之和{column_sum.normalize():f}不符",
                               f"the total row's {f.name} is {text}, not the column sum {column_sum.normalize():f}"))
    return out


def shape_digest(loc: Located) -> str:
    """What the rules look at besides the data rows: the headers as written (so their units), the
    units written in a vertical form, and the 合计 and 小计 rows' numbers.  Not where they are:
    the same return moved from a CSV file into a workbook, or re-saved, is the same version."""
    numeric = [f.name for f in loc.ret.fields if f.kind in NUMERIC_KINDS]

    def numbers(cells: dict | None) -> list:
        return [squash(cells.get(n) or "") for n in numeric] if cells else []

    shape = {"headers": {n: squash(h) for n, h in sorted(loc.headers.items())},
             "scale": {n: f"{k:f}" for n, k in sorted(loc.scale.items())},
             "total": numbers(loc.total), "subtotals": sorted(numbers(c) for c in loc.subtotals)}
    return json.dumps(shape, ensure_ascii=False, sort_keys=True)


def version_hash(con, relation: str, ret: Return, shape: str = "") -> str:
    """SHA-256 over staging's column names and types, an order-free digest of the stored rows
    (their count, and the sum and xor of 64-bit row hashes, in DuckDB) and `shape` (`shape_digest`:
    headers, units, 合计 and 小计 rows): a re-saved or re-sorted file is the same version, any changed
    value, total, header or unit a new one.  Both paths give the same digest."""
    names = [f.stored_name for f in ret.stored_fields]
    types = [f.sql_type for f in ret.stored_fields]
    cols = ", ".join(f'"{c}"' for c in names)
    n, total, xor = con.sql(f"select count(*), coalesce(sum(hash({cols})::hugeint), 0), "
                            f"coalesce(bit_xor(hash({cols})), 0) from {relation}").fetchall()[0]
    h = hashlib.sha256("|".join(f"{c}:{t}" for c, t in zip(names, types)).encode())
    h.update(f"{n}|{total}|{xor}".encode())
    h.update(shape.encode())
    return h.hexdigest()


def check(loc: Located, ctx: Context, key: bytes) -> Checked:
    ret = loc.ret
    finder = _Finder(loc, ret)
    finder.out.extend(loc.findings)
    columns = dict(loc.columns)
    if loc.total is not None:                              # typed together with the rows, then set apart
        columns = {n: pyarrow.chunked_array(v.chunks + [pyarrow.array([loc.total.get(n)], pyarrow.string())],
                                            pyarrow.string()) for n, v in columns.items()}
    typed = normalise(ret, columns, key, loc.scale)
    if loc.total is not None:
        total_t, typed = typed.slice(typed.num_rows - 1), typed.slice(0, typed.num_rows - 1)
    frame_all = typed.to_pandas(types_mapper=pd.ArrowDtype)
    frame = frame_all[ret.names]
    _flag_findings(finder, frame_all, ret)
    for r, name in loc.uncached:
        finder.out.append(Finding(r, loc.headers.get(name, name), "", f"{ret.return_id}.{name}.formula", HARD,
                                  "公式没有缓存值：请在Excel中打开并保存文件后重新报送",
                                  "a formula has no cached value: open and save the file in Excel, then send it again"))
    _pandera_findings(finder, frame, ret, ctx)
    _set_findings(finder, frame, ret)
    if loc.total is not None:
        written = total_t.to_pylist()[0]
        sums = {f.name: sum((Decimal(str(v)) for v in frame[f.name].dropna()), Decimal(0))
                for f in ret.fields if f.kind in NUMERIC_KINDS}
        finder.out.extend(total_findings(loc, ret, written, sums))
    checked = Checked(ret, finder.out, typed.num_rows, typed=typed, notes=list(loc.notes), source_rows=loc.source_rows,
                      layout=layout_of(loc))
    with engine.scratch() as con:
        con.register("__stored", checked.stored())
        try:
            checked.content_sha256 = version_hash(con, "__stored", ret, shape_digest(loc))
        finally:
            con.unregister("__stored")
    return checked


def layout_of(loc: Located) -> dict[str, list]:
    return {name: [header, loc.cell_rows.get(name)] for name, header in loc.headers.items()}


def check_part(part, ctx: Context, key: bytes, con=None, phase=None) -> Checked:
    """Check one submission: a large regular CSV file in DuckDB on `con` (`schemas.bulk`; the rows
    stay there as a temporary table), anything else with Pandera.  `phase(name)`, if given, is a
    context manager that times the steps: read and validate (one step on the bulk path)."""
    from .bulk import check_bulk, eligible      # bulk builds on this module
    phase = phase or (lambda name: contextlib.nullcontext())
    if con is not None and eligible(part):
        with phase("validate"):
            checked = check_bulk(part, ctx, key, con)
        if checked is not None:
            return checked
    with phase("read"):
        loc = locate(part.grid(), part.ret)
    with phase("validate"):
        return check(loc, ctx, key)
