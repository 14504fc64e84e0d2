"""The catalogue: return_id -> its declaration, and how file stems and sheet names match a return."""
from __future__ import annotations

import importlib
import re
import unicodedata

from .core import Field, Return

RETURN_IDS = ("monitoring_households", "guarantees", "social_assistance", "industry", "village_register",
              "employment", "relocation_sites", "infrastructure", "construction", "assistance")

_COUNTY_FIELD = Field("county_code", "县区代码", "county", required=False)


def _load(return_id: str) -> Return:
    ret = importlib.import_module(f"schemas.returns.{return_id}").RETURN
    if "county_code" not in ret.names:
        # Every return may carry the county code; where the SPEC does not list it, it is optional.
        ret = Return(**{**ret.__dict__, "fields": ret.fields + (_COUNTY_FIELD,)})
    return ret


RETURNS: dict[str, Return] = {rid: _load(rid) for rid in RETURN_IDS}
BY_NUMBER = {r.number: r for r in RETURNS.values()}


def _squash(text: str) -> str:
    """A name as compared: full-width forms made plain (表２, （１）), no spaces, lower case."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text))).lower()


_NUMBER = re.compile(r"表0*([1-9][0-9]*)(?![0-9])")          # 表1 never matches 表10
_TITLES = {_squash(r.title): r for r in RETURNS.values()}
_IDS = {r.return_id: re.compile(rf"(?<![a-z_]){r.return_id}(?![a-z_])") for r in RETURNS.values()}


def returns_named(name: str) -> list[Return]:
    """Every return a file stem or sheet name names, by number (表2, never 表2 inside 表20), title
    (三保障) or id (guarantees), whatever surrounds them: a year, `(1)`, `副本`, `最终版`, a county."""
    s = _squash(name)
    found = [BY_NUMBER[int(m.group(1))] for m in _NUMBER.finditer(s) if int(m.group(1)) in BY_NUMBER]
    found += [r for title, r in _TITLES.items() if title in s]
    found += [RETURNS[rid] for rid, pattern in _IDS.items() if pattern.search(s)]
    return list({r.return_id: r for r in found}.values())


def match_return(name: str) -> Return | None:
    """The return a file stem or sheet name holds when it names exactly one (see `returns_named`)."""
    found = returns_named(name)
    return found[0] if len(found) == 1 else None


def accepted_names() -> tuple[str, str]:
    """What a name must hold, for messages (Chinese, English)."""
    listed = "、".join(f"{r.table_label}{r.title}" for r in RETURNS.values())
    return (f"文件名（或工作表名）须含且只含一张报表的表号或名称，如“表2.csv”“2031年表2三保障.csv”；报表为：{listed}",
            f"a file (or sheet) name must hold exactly one return's number or name, e.g. 表2.csv or "
            f"2031年表2三保障.csv; the returns: {', '.join(f'{r.table_label} {r.return_id}' for r in RETURNS.values())}")


def name_problem(name: str) -> tuple[str, str]:
    """Why a name is not usable: it names no return or several (Chinese, English)."""
    found = returns_named(name)
    zh, en = accepted_names()
    if found:
        return (f"“{name}”同时含有{'、'.join(r.table_label for r in found)}，无法确定是哪张报表。{zh}",
                f"'{name}' names {', '.join(r.table_label for r in found)}: it cannot be told which return it is. {en}")
    return f"“{name}”不含任何报表的表号或名称。{zh}", f"'{name}' names no return. {en}"
