"""The catalogue: return_id -> its declaration, and how file stems and sheet names match a return."""
from __future__ import annotations

import importlib
import re

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
    return re.sub(r"\s+", "", str(text)).replace("（", "(").replace("）", ")")


_NAMES: dict[str, Return] = {}
for _r in RETURNS.values():
    for _name in (_r.return_id, _r.table_label, _r.title, _r.table_label + _r.title):
        _NAMES[_squash(_name).lower()] = _r


def match_return(name: str) -> Return | None:
    """A file stem or sheet name matched exactly, after trimming: 表1, the id, the title, or both.

    `表1` never matches `表10`: the whole name must equal one of the accepted forms.
    """
    return _NAMES.get(_squash(name).lower())
