"""Checking one return as landing holds it: the choice between the two paths of the same rules.

A large regular CSV file of a many-row return is checked in DuckDB (`schemas.bulk`; its rows stay
there as a temporary table); anything else is read (`schemas.read`) and checked with Pandera
(`schemas.validate`).  Both give a `schemas.findings.Checked`.  The small returns of several
counties are typed together (`check_entries`).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import duckdb

from intake.landing import Entry
from schemas.bulk import check_bulk, eligible
from schemas.core import Context, Return
from schemas.findings import Checked
from schemas.messages import Unusable
from schemas.read import Located, Part, locate
from schemas.validate import check, check_many
from shangluo.config import cutoff
from shangluo.timing import phase as timed

BATCH_BYTES = 2**20    # a larger file is checked alone, when its turn comes: memory stays bounded by one file


def check_part(part: Part, ctx: Context, key: bytes, con=None, phase=None) -> Checked:
    """Check one submission: a large regular CSV file in DuckDB on `con` (`schemas.bulk`; the rows
    stay there as a temporary table), anything else with Pandera.  `phase(name)`, if given, is a
    context manager that times the steps: read and validate (one step on the bulk path)."""
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


def check_entry(landing: Path, entry: Entry, ret: Return, key: bytes, con: duckdb.DuckDBPyConnection) -> Checked:
    """Check the file or sheet of a landing scan's entry, in the run's timing phases."""
    return check_part(Part(landing / entry.source, ret, entry.sheet),
                      Context(entry.period, entry.county_code, cutoff(entry.period)), key, con, timed)


def check_entries(landing: Path, entries: list[Entry], ret: Return, key: bytes) -> list[Checked | Exception | None]:
    """Check the small files among several entries of one return, typed in one statement: per entry
    its `Checked`, the `Unusable` or `OSError` that made it unreadable (the others go on), or None
    for a file larger than BATCH_BYTES or one for the bulk path, left to `check_entry` (one file's
    rows in memory at a time)."""
    out: list = [None] * len(entries)
    small: list[tuple[int, Located, Context]] = []
    for n, entry in enumerate(entries):
        part = Part(landing / entry.source, ret, entry.sheet)
        try:
            if part.path.stat().st_size > BATCH_BYTES or eligible(part):
                continue                 # checked alone: a large file, or one for the bulk path
            with timed("read"):
                loc = locate(part.grid(), ret)
        except (Unusable, OSError) as exc:
            out[n] = exc
            continue
        small.append((n, loc, Context(entry.period, entry.county_code, cutoff(entry.period))))
    with timed("validate"):
        for (n, _, _), checked in zip(small, check_many([(loc, ctx) for _, loc, ctx in small], key)):
            out[n] = checked
    return out
