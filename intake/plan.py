"""What to read again, decided here only.

Two callers ask, from what each can see:

- a run (`shangluo run`, an asset): `returns_to_read` compares landing, by size and modification
  time, with the last scan the warehouse recorded (`landing.inventory`): the returns whose files were
  added, changed or removed, or None for all of them;
- the landing sensor, which never opens the warehouse (SPEC section 6): `evaluate` compares a
  compact cursor -- per period, a digest of its files as last seen and, as last taken, a digest of
  its files and one of each group of files that name the same returns -- with landing now.  A
  period is taken once its files have stopped changing: the same as at the previous tick and none
  younger than SHANGLUO_SETTLE_SECONDS.  A period whose taken files changed gets a run (and so does
  P+1, whose figures read P-1), reading again only the returns of the groups that changed (a
  workbook may hold any return: all).  The run key is the period and the digests of P's and P-1's
  files, so the same state never runs twice.

`observe` and `digest` are what landing holds as both see it: file sizes and modification times
only, nothing opened.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from intake.landing import changed_returns, inside, returns_named
from intake.landing import periods as landing_periods
from intake.ledger import known_files


def returns_to_read(store, landing: Path, period: str, rules_version: str,
                    county: str | None = None, force: bool = False) -> set[str] | None:
    """The returns a run of `period` must read again, or None for all of them (forced, a new
    warehouse or period, a change of the rules): else those whose files in landing were added,
    changed or removed since the last run took them (`store`: the warehouse's `LedgerStore`).  A
    return not read again is unchanged: its files, its versions and what is in force are what that
    run left."""
    if force:
        return None
    known = known_files(store, period, rules_version)
    return changed_returns(landing, period, known, county) if known else None


def period_range(landing: Path) -> list[str]:
    """The periods (calendar years) a run may build: from the first -- the earliest of periods.toml
    and the landing folders (a listing, nothing opened) -- to the current year (SHANGLUO_TIMEZONE).
    Dagster's partitions are these (`pipelines.options`); the command line checks against them
    without importing Dagster."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from shangluo.config import _periods
    this_year = datetime.now(ZoneInfo(os.environ.get("SHANGLUO_TIMEZONE", "Asia/Shanghai"))).year
    known = [p for p in _periods() if p.isdigit()] + landing_periods(landing)
    first = int(min(known, default=str(this_year)))
    return [str(y) for y in range(first, this_year + 1)]


# ------------------------------------------------------------------ landing as the sensor sees it

def observe(root: Path, only: str | None = None) -> dict[str, list[int]]:
    """relative path -> [size, mtime_ns] of every file under <period>/<county>/ (links not followed:
    a period or county folder that is a link out of landing is itself the entry, never listed)."""
    out = {}

    def link(path: Path):           # the entry itself, never what it points to
        st = path.lstat()
        out[path.relative_to(root).as_posix()] = [st.st_size, st.st_mtime_ns]

    for period in landing_periods(root):
        if only is not None and period != only:
            continue
        if not inside(root, root / period):
            link(root / period)
            continue
        for county in sorted((root / period).iterdir()):
            if not county.is_dir():
                continue
            if not inside(root, county):
                link(county)
                continue
            for f in sorted(county.iterdir()):
                if f.is_symlink() or not f.is_dir():      # a FIFO or a device too: the scan refuses it, by name
                    link(f)
    return out


def digest(files: dict[str, list[int]], period: str | None = None) -> str:
    """A short digest of these files (of one period's, if given)."""
    mine = sorted((k, v) for k, v in files.items() if period is None or k.startswith(period + "/"))
    return hashlib.sha256(json.dumps(mine).encode()).hexdigest()[:16]


EMPTY = digest({})


def settle_seconds() -> float:
    return float(os.environ.get("SHANGLUO_SETTLE_SECONDS", "30"))


@dataclass(frozen=True)
class PeriodRun:
    key: str                       # the run key: the period and the digests of its files and of P-1's
    reads: frozenset[str] | None   # the returns to read again (None: all of them)
    files: str = EMPTY             # the digest of P's files as taken
    previous: str = EMPTY          # ... and of P-1's


def _group(path: str) -> str:
    """The returns a file can hold, judged by its name ("*": any)."""
    named = returns_named(path)
    return "*" if named is None else ",".join(sorted(named))


def _groups(files: dict[str, list[int]]) -> dict[str, str]:
    by: dict[str, dict[str, list[int]]] = {}
    for path, meta in files.items():
        by.setdefault(_group(path), {})[path] = meta
    return {g: digest(f)[:8] for g, f in sorted(by.items())}


def _reads(before: dict[str, str], after: dict[str, str]) -> frozenset[str] | None:
    changed = {g for g in set(before) | set(after) if before.get(g) != after.get(g)}
    if "*" in changed:
        return None
    return frozenset(r for g in changed for r in g.split(",") if r)


def evaluate(root: Path, cursor: str | None, now: float | None = None, settle: float | None = None
             ) -> tuple[dict[str, PeriodRun], str]:
    """(the run of each period to run, new cursor): pure, for the sensor and its tests."""
    now = time.time() if now is None else now
    settle = settle_seconds() if settle is None else settle
    state = json.loads(cursor) if cursor else {}
    seen_before, taken_before = state.get("seen", {}), state.get("taken", {})
    files = observe(root)
    present = landing_periods(root)
    seen, taken = {}, {}
    for p in present:
        mine = {k: v for k, v in files.items() if k.startswith(p + "/")}
        seen[p] = digest(mine)
        newest = max((v[1] for v in mine.values()), default=0) / 1e9
        if seen_before.get(p) == seen[p] and now - newest >= settle:      # stopped changing: taken
            taken[p] = {"files": seen[p], "groups": _groups(mine)}
        elif p in taken_before:
            taken[p] = taken_before[p]
    changed = {p for p in set(taken) | set(taken_before) if taken.get(p) != taken_before.get(p)}
    to_run = {p for p in changed if p in present} | {str(int(p) + 1) for p in changed if str(int(p) + 1) in present}
    runs = {}
    for p in sorted(to_run):
        files_p = taken.get(p, {}).get("files", EMPTY)
        previous = taken.get(str(int(p) - 1), {}).get("files", EMPTY)
        reads = (_reads(taken_before.get(p, {}).get("groups", {}), taken.get(p, {}).get("groups", {}))
                 if p in changed else frozenset())
        runs[p] = PeriodRun(f"{p}:{files_p}:{previous}", reads, files_p, previous)
    return runs, json.dumps({"seen": seen, "taken": taken}, separators=(",", ":"), sort_keys=True)
