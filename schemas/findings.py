"""What checking one version yields, whichever path checked it (Pandera or bulk): `Checked` (its
findings, rows and version), the 合计 check, the version hash and the layout as written."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import pyarrow

from .core import HARD, NUMERIC_KINDS, SOFT, Return
from .messages import Finding, mask_ids
from .read import Located, squash


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

    def __post_init__(self):     # a note quotes headers as written (a column headed by an ID number)
        self.notes = [mask_ids(n) for n in self.notes]

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


NOT_SUMMED = ("-", "—", "－", "–", "/", "／", "\\", "×")     # a total left out on purpose, as clerks mark it


def total_findings(loc: Located, ret: Return, written: dict, sums: dict[str, Decimal]) -> list[Finding]:
    """The 合计 row against the column sums, each within half a unit of the total's last written place.
    `written`: the total row's typed values; `sums`: the column sums of the numeric fields."""
    if loc.uncached:
        loc.notes.append("有公式没有缓存值，未核对合计行 / a formula has no cached value: the total row was not checked")
        return []
    out = []
    for f in ret.fields:
        if f.kind not in NUMERIC_KINDS or loc.total.get(f.name) is None:
            continue
        text = str(loc.total[f.name])
        if written.get(f.name) is None:    # '#REF!', '8998户', 'x': not a number, so never silently unchecked
            if text.strip() not in NOT_SUMMED:
                out.append(Finding(loc.total_row, loc.headers.get(f.name, f.label), text, f"{ret.return_id}.{f.name}.total",
                                   HARD, f"合计行{f.label}“{text}”不是数字，无法与各行之和核对",
                                   f"the total row's {f.name} '{text}' is not a number: it cannot be checked against "
                                   f"the column sum"))
            continue
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
    n, total, xor = con.sql(f"select count(*), {_ROW_DIGEST.format(cols=_stored_cols(ret))} from {relation}").fetchall()[0]
    return _version_digest(ret, n, total, xor, shape)


def version_hashes(con, relation: str, ret: Return, shapes: list[str]) -> list[str]:
    """`version_hash` of several submissions in one query: `relation` holds their stored rows and
    `__f`, the submission's position in `shapes`."""
    found = {f: (n, total, xor) for f, n, total, xor in con.sql(
        f"select __f, count(*), {_ROW_DIGEST.format(cols=_stored_cols(ret))} from {relation} group by __f").fetchall()}
    return [_version_digest(ret, *found.get(f, (0, 0, 0)), shape) for f, shape in enumerate(shapes)]


_ROW_DIGEST = "coalesce(sum(hash({cols})::hugeint), 0), coalesce(bit_xor(hash({cols})), 0)"


def _stored_cols(ret: Return) -> str:
    return ", ".join(f'"{f.stored_name}"' for f in ret.stored_fields)


def _version_digest(ret: Return, n: int, total: int, xor: int, shape: str) -> str:
    h = hashlib.sha256("|".join(f"{f.stored_name}:{f.sql_type}" for f in ret.stored_fields).encode())
    h.update(f"{n}|{total}|{xor}".encode())
    h.update(shape.encode())
    return h.hexdigest()


def layout_of(loc: Located) -> dict[str, list]:
    return {name: [header, loc.cell_rows.get(name)] for name, header in loc.headers.items()}
