"""The rule catalogue: every rule of a return once, with its id, severity and messages, in both
forms (a vectorised pandas check for Pandera and, where it has one, a DuckDB predicate).

`rule_catalogue(ret, ctx)` derives the field rules from each field's declaration and adds the
return's row rules; `required_info`, `type_info`, `id_in_text_info` and `unique_info` are the
rules read from the parse flags and the key.  The Pandera models (`schemas.validate`) and the SQL
forms (`schemas.sqlrules`, `schemas.bulk`) are both built from here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

import pyarrow

from .checks import (EXCEL_NUMBER_PATTERN, ID_PATTERN, id_birth_date, id_check_digit_ok, sql_excel_number,
                     sql_id_birth_date, sql_id_check_char, sql_id_ok, starts_with_each)
from .core import HARD, SOFT, Context, Field, Return

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
    per_county: bool = False   # `check(s, county)`: the submitting county of each row (a Series) or of all


def _field_checks(ret: Return, f: Field, ctx: Context) -> list[CatalogueRule]:
    """Bounds, categories, codes and ID numbers of one field, from its declaration."""
    rid, lab, col = f"{ret.return_id}.{f.name}", f.label, f'"{f.name}"'
    out = []

    def add(suffix, severity, fn, zh, en, sql=None, per_county=False):
        out.append(CatalogueRule(RuleInfo(f"{rid}.{suffix}", severity, (f.name,), zh, en), fn, False, sql,
                                 per_county=per_county))

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
        add("county", HARD, lambda s, county: s == county,
            f"县区代码与报送县区（{ctx.county_code}）不一致：不能报送其他县区的数据",
            f"county code differs from the submitting county ({ctx.county_code}): a county cannot submit another county's rows",
            f"{col} = $county", per_county=True)
    if f.county_prefix:
        add("prefix", HARD, starts_with_each, f"{lab}应以本县区代码{ctx.county_code}开头",
            f"{f.name} must start with the county code {ctx.county_code}", f"starts_with({col}, $county)",
            per_county=True)
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
