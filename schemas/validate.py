"""Checking one located submission: parse flags, Pandera models (hard and soft), set rules, 合计.

`pandera_schema(ret, ctx, severity)` is the Pandera model of a return for one tier or both, generated
from the rule catalogue (`schemas.rules`); `check(located, ctx, key)` runs everything a single
county's return can be checked for and returns the typed rows, the findings (one per offending row
and column) and the version hash of the normalised content (`schemas.findings`).
"""
from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow

from .checks import passes
from . import engine
from .core import HARD, NUMERIC_KINDS, SOFT, Context, Return
from .findings import Checked, layout_of, shape_digest, total_findings, version_hashes
from .messages import Finding, mask_id
from .normalise import normalise_many
from .read import Located
from .rules import (ARROW_TYPES, KIND_WORDS, RuleInfo, id_in_text_info, required_info, rule_catalogue, type_info,
                    unique_info)


COUNTY = "__county"      # the column of the submitting county, beside the fields, in what Pandera validates


def pandera_schema(ret: Return, ctx: Context, severity: str | None = None) -> pa.DataFrameSchema:
    """The Pandera model of `ret` for one tier (hard or soft), or for both (None), from its declaration.
    It validates the rows of one period, of one county or several: each row's county is in the
    column `__county` (the rules that depend on it read it there)."""
    columns = {f.name: pa.Column(pd.ArrowDtype(ARROW_TYPES[f.kind]), nullable=True, checks=[]) for f in ret.fields}
    frame_checks = []
    for rule in rule_catalogue(ret, ctx):
        if severity is not None and rule.info.severity != severity:
            continue
        if rule.row_rule:
            frame_checks.append(pa.Check(lambda df, fn=rule.check: passes(fn(df, ctx)), name=rule.info.rule_id,
                                         ignore_na=False))
        elif rule.per_county:
            frame_checks.append(pa.Check(lambda df, fn=rule.check, c=rule.info.columns[0]: passes(fn(df[c], df[COUNTY])),
                                         name=rule.info.rule_id, ignore_na=False))
        else:
            columns[rule.info.columns[0]].checks.append(
                pa.Check(lambda s, fn=rule.check: passes(fn(s)), name=rule.info.rule_id, ignore_na=False))
    return pa.DataFrameSchema(columns, checks=frame_checks, name=f"{ret.return_id}[{severity or 'all'}]", coerce=False)


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


def pandera_failures(ret: Return, frames: list[tuple[pd.DataFrame, Context]]) -> list[list[tuple[str, int]]]:
    """The value rules of `ret` over the rows of several submissions of one period, in one Pandera
    validation (its cost is mostly per call): per submission, its failures as (rule id, row
    position), the hard ones first, then the soft ones.  Both tiers are validated together (every
    check is an error to Pandera, so each failure is in `failure_cases`; the tier is the rule's)."""
    if not frames:
        return []
    ctx = frames[0][1]
    assert all((c.period, c.cutoff) == (ctx.period, ctx.cutoff) for _, c in frames), "one period per validation"
    sizes = np.array([len(f) for f, _ in frames])
    starts = np.concatenate([[0], np.cumsum(sizes)])
    whole = pd.concat([f for f, _ in frames], ignore_index=True) if len(frames) > 1 else frames[0][0].reset_index(drop=True)
    whole[COUNTY] = pd.Series(np.repeat([c.county_code for _, c in frames], sizes), dtype=pd.ArrowDtype(pyarrow.string()))
    out: list[list[tuple[str, int]]] = [[] for _ in frames]
    try:
        pandera_schema(ret, ctx).validate(whole, lazy=True)
    except pa.errors.SchemaErrors as exc:
        fc = exc.failure_cases
        broken = fc[fc["index"].isna()]
        if len(broken):   # a check that errors or a wrong dtype is a defect of ours, never a pass
            raise RuntimeError(f"{ret.return_id}: Pandera could not run {sorted(set(broken['check'].astype(str)))}: "
                               f"{list(broken['failure_case'].astype(str))[:3]}") from exc
        severity = {rule.info.rule_id: rule.info.severity for rule in rule_catalogue(ret, ctx)}
        fc = fc[fc["check"].isin(severity.keys())].drop_duplicates(["check", "index"])
        for tier in (HARD, SOFT):
            for rule_id, i in zip(fc["check"], fc["index"]):
                if severity[rule_id] == tier:
                    n = int(np.searchsorted(starts, int(i), side="right")) - 1
                    out[n].append((rule_id, int(i) - int(starts[n])))
    return out


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


def check(loc: Located, ctx: Context, key: bytes) -> Checked:
    return check_many([(loc, ctx)], key)[0]


def check_many(items: list[tuple[Located, Context]], key: bytes) -> list[Checked]:
    """Located submissions of one return, checked as `check` checks each: typed in one DuckDB
    statement per set of units, validated by Pandera once per period (a statement or a validation
    costs tens of milliseconds however few its rows)."""
    groups: dict[tuple, list[int]] = {}
    for n, (loc, _) in enumerate(items):
        groups.setdefault((loc.ret.return_id, tuple(sorted(loc.scale.items()))), []).append(n)
    typed: dict[int, pyarrow.Table] = {}
    for members in groups.values():
        loc = items[members[0]][0]
        tables = normalise_many(loc.ret, [_with_total(items[n][0]) for n in members], key, loc.scale)
        typed.update(zip(members, tables))
    checked: list[Checked | None] = [None] * len(items)
    periods: dict[tuple, list[int]] = {}
    for n, (loc, ctx) in enumerate(items):
        periods.setdefault((loc.ret.return_id, ctx.period, ctx.cutoff), []).append(n)
    for members in periods.values():      # the value rules: one Pandera validation per return and period
        ret = items[members[0]][0].ret
        split = {n: _split_total(items[n][0], typed[n]) for n in members}
        failures = pandera_failures(ret, [(split[n][1][ret.names], items[n][1]) for n in members])
        for n, failed in zip(members, failures):
            checked[n] = _check_typed(items[n][0], items[n][1], *split[n], failed)
    for members in groups.values():      # the version hashes, one query per return
        stored = [checked[n].stored() for n in members]
        batch = pyarrow.concat_tables(stored, promote_options="permissive").append_column(
            "__f", pyarrow.array([f for f, t in enumerate(stored) for _ in range(t.num_rows)], pyarrow.int32()))
        with engine.scratch() as con:
            con.register("__stored", batch)
            try:
                hashes = version_hashes(con, "__stored", items[members[0]][0].ret,
                                        [shape_digest(items[n][0]) for n in members])
            finally:
                con.unregister("__stored")
        for n, h in zip(members, hashes):
            checked[n].content_sha256 = h
    return checked


def _with_total(loc: Located) -> dict:
    """The raw columns, the 合计 row last (typed together with the rows, then set apart)."""
    if loc.total is None:
        return dict(loc.columns)
    return {n: pyarrow.chunked_array(v.chunks + [pyarrow.array([loc.total.get(n)], pyarrow.string())], pyarrow.string())
            for n, v in loc.columns.items()}


def _split_total(loc: Located, typed: pyarrow.Table) -> tuple[pyarrow.Table, pd.DataFrame, pyarrow.Table | None]:
    """The typed rows, as Arrow and as pandas, and the typed 合计 row (None without one)."""
    total_t = None
    if loc.total is not None:
        total_t, typed = typed.slice(typed.num_rows - 1), typed.slice(0, typed.num_rows - 1)
    return typed, typed.to_pandas(types_mapper=pd.ArrowDtype), total_t


def _check_typed(loc: Located, ctx: Context, typed: pyarrow.Table, frame_all: pd.DataFrame,
                 total_t: pyarrow.Table | None, failed: list[tuple[str, int]]) -> Checked:
    """The findings of one submission, in the order the clerk reads them: the reader's, the parse
    flags, formulas without a value, the value rules (`failed`, from `pandera_failures`), the set
    rules and 合计."""
    ret = loc.ret
    finder = _Finder(loc, ret)
    finder.out.extend(loc.findings)
    frame = frame_all[ret.names]
    _flag_findings(finder, frame_all, ret)
    for r, name in loc.uncached:
        finder.out.append(Finding(r, loc.headers.get(name, name), "", f"{ret.return_id}.{name}.formula", HARD,
                                  "公式没有缓存值：请在Excel中打开并保存文件后重新报送",
                                  "a formula has no cached value: open and save the file in Excel, then send it again"))
    if failed:
        infos = {rule.info.rule_id: rule.info for rule in rule_catalogue(ret, ctx)}   # messages name the county
        for rule_id, i in failed:
            for name in infos[rule_id].columns:
                finder.add(name, i, infos[rule_id])
    _set_findings(finder, frame, ret)
    if total_t is not None:
        written = total_t.to_pylist()[0]
        sums = {f.name: sum((Decimal(str(v)) for v in frame[f.name].dropna()), Decimal(0))
                for f in ret.fields if f.kind in NUMERIC_KINDS}
        finder.out.extend(total_findings(loc, ret, written, sums))
    return Checked(ret, finder.out, typed.num_rows, typed=typed, notes=list(loc.notes), source_rows=loc.source_rows,
                   layout=layout_of(loc))
