"""Submissions, versions and what is in force (SPEC section 4), written inside the run's transaction.

For one return and period: each file or sheet in landing is a version (its normalised content
plus the rules version).  An unchanged file is not parsed again (`landing.files`).  Per county the
oldest version present is the candidate; a different newer one is a `duplicate submission`.  An
accepted candidate goes in force (the one before is `superseded`); a rejected one leaves the last
accepted version in force; no file at all withdraws what was in force.  `staging.<return_id>`
holds exactly the rows of the versions in force.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from schemas.core import HARD, Context, Return
from schemas.messages import Finding
from schemas.read import Part, locate
from schemas.validate import Checked, check
from shangluo.config import cutoff
from shangluo.landing import Entry

VIOLATION_COLUMNS = ("period", "county_code", "return_id", "submission_id", "source", "sheet", "source_row",
                     "column_header", "value", "rule_id", "severity", "message_zh", "message_en", "status", "explanation")


@dataclass
class Outcome:
    """What happened to one county's return in this run (for metadata and the CLI summary)."""
    county_code: str
    state: str = "missing"
    submission_id: str | None = None
    rows: int = 0
    hard: int = 0
    soft: int = 0
    processed: list[str] = field(default_factory=list)   # versions parsed and checked in this run


def submission_id(period: str, county: str, return_id: str, content_sha256: str, rules_version: str) -> str:
    return hashlib.sha256(f"{period}|{county}|{return_id}|{content_sha256}|{rules_version}".encode()).hexdigest()[:16]


def check_entry(landing: Path, entry: Entry, ret: Return, key: bytes) -> Checked:
    part = Part(landing / entry.source, ret, entry.sheet)
    loc = locate(part.grid(), ret)
    return check(loc, Context(entry.period, entry.county_code, cutoff(entry.period)), key)


class Ledger:
    def __init__(self, con: duckdb.DuckDBPyConnection, landing: Path, key: bytes, rules_version: str, now: datetime):
        self.con, self.landing, self.key, self.rules_version, self.now = con, Path(landing), key, rules_version, now

    # -------------------------------------------------------------- writes

    def _violations(self, entry: Entry, ret: Return, sid: str, findings: list[Finding]):
        if not findings:
            return
        rows = [(entry.period, entry.county_code, ret.return_id, sid, entry.source, entry.sheet, f.source_row or None,
                 f.column_header, f.value, f.rule_id, f.severity, f.message_zh, f.message_en, "open", None)
                for f in findings]
        table = pa.table({c: pa.array([r[i] for r in rows], pa.int32() if c == "source_row" else pa.string())
                          for i, c in enumerate(VIOLATION_COLUMNS)})
        self.con.register("new_violations", table)
        self.con.execute("insert into quality.violations by name select * from new_violations")
        self.con.unregister("new_violations")

    def _record(self, entry: Entry, ret: Return, content_sha: str, rows: int, hard: int, soft: int, notes: str,
                findings: list[Finding]) -> str:
        sid = submission_id(entry.period, entry.county_code, ret.return_id, content_sha, self.rules_version)
        known = self.con.execute("select 1 from landing.submissions where submission_id = ?", [sid]).fetchall()
        if not known:
            self.con.execute(
                "insert into landing.submissions (submission_id, period, county_code, return_id, source, sheet, "
                "content_sha256, rules_version, rows, first_seen_at, status, hard_count, soft_count, file_sha256, notes) "
                "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [sid, entry.period, entry.county_code, ret.return_id, entry.source, entry.sheet, content_sha,
                 self.rules_version, rows, self.now, "rejected" if hard else "new", hard, soft, entry.file_sha256, notes])
            self._violations(entry, ret, sid, findings)
        self.con.execute("delete from landing.files where source = ? and coalesce(sheet, '') = coalesce(?, '')",
                         [entry.source, entry.sheet])
        self.con.execute("insert into landing.files values (?, ?, ?, ?, ?, ?)",
                         [entry.source, entry.sheet, entry.file_sha256, self.rules_version, sid, self.now])
        return sid

    def _cached(self, entry: Entry) -> str | None:
        rows = self.con.execute(
            "select f.submission_id from landing.files f join landing.submissions s using (submission_id) "
            "where f.source = ? and coalesce(f.sheet, '') = coalesce(?, '') and f.file_sha256 = ? and f.rules_version = ?",
            [entry.source, entry.sheet, entry.file_sha256, self.rules_version]).fetchall()
        return rows[0][0] if rows else None

    def _stage(self, ret: Return, entry: Entry, sid: str, checked: Checked):
        stored = checked.stored()
        n = stored.num_rows
        stored = (stored.append_column("period", pa.array([entry.period] * n, pa.string()))
                  .append_column("county_code", pa.array([entry.county_code] * n, pa.string()))
                  .append_column("submission_id", pa.array([sid] * n, pa.string()))
                  .append_column("source_row", pa.array(checked.source_rows, pa.int32())))
        self.con.execute(f"delete from staging.{ret.return_id} where period = ? and county_code = ?",
                         [entry.period, entry.county_code])
        self.con.register("new_rows", stored)
        self.con.execute(f"insert into staging.{ret.return_id} by name select * from new_rows")
        self.con.unregister("new_rows")

    # -------------------------------------------------------------- one return of one period

    def process(self, ret: Return, period: str, entries: list[Entry], counties: set[str], force: bool = False
                ) -> dict[str, Outcome]:
        """`entries`: this return's parts and unusable files in landing for `period` (all counties in scope)."""
        by_county: dict[str, list[Entry]] = {}
        for e in entries:
            by_county.setdefault(e.county_code, []).append(e)
        in_force = dict(self.con.execute(
            "select county_code, submission_id from landing.submissions where period = ? and return_id = ? "
            "and status = 'accepted'", [period, ret.return_id]).fetchall())
        outcomes = {}
        for county in sorted(counties | set(by_county) | {c for c in in_force if c in counties}):
            outcomes[county] = self._process_county(ret, period, county, by_county.get(county, []),
                                                    in_force.get(county), force)
        return outcomes

    def _process_county(self, ret: Return, period: str, county: str, entries: list[Entry], current: str | None,
                        force: bool) -> Outcome:
        out = Outcome(county)
        checked_now: dict[str, tuple[Entry, Checked]] = {}
        present: list[tuple[str, Entry]] = []
        for entry in entries:
            sid = None if force else self._cached(entry)
            if sid is None:
                if entry.kind == "unusable":
                    finding = Finding(0, "", "", "file.unusable", HARD, entry.message_zh, entry.message_en)
                    sid = self._record(entry, ret, entry.file_sha256 or hashlib.sha256(entry.source.encode()).hexdigest(),
                                       0, 1, 0, "", [finding])
                else:
                    checked = check_entry(self.landing, entry, ret, self.key)
                    sid = self._record(entry, ret, checked.content_sha256, checked.rows, checked.hard_count,
                                       checked.soft_count, "\n".join(checked.notes), checked.findings)
                    checked_now[sid] = (entry, checked)
                out.processed.append(sid)
            present.append((sid, entry))
        if not present:
            if current:
                self.con.execute("update landing.submissions set status = 'withdrawn' where submission_id = ?", [current])
                self.con.execute(f"delete from staging.{ret.return_id} where period = ? and county_code = ?",
                                 [period, county])
            return out
        # the oldest version present is the candidate; a different newer one is a duplicate submission
        seen = dict(self.con.execute(
            "select submission_id, first_seen_at from landing.submissions where submission_id in (select unnest(?))",
            [[sid for sid, _ in present]]).fetchall())
        present.sort(key=lambda p: (seen[p[0]], p[1].mtime_ns, p[1].source, p[1].sheet or ""))
        candidate, candidate_entry = present[0]
        for sid, entry in present[1:]:
            if sid != candidate:
                self._reject_duplicate(ret, entry, sid, candidate_entry)
        hard = self.con.execute("select hard_count from landing.submissions where submission_id = ?",
                                [candidate]).fetchall()[0][0]
        if hard == 0 and (candidate != current or force):
            if current and current != candidate:
                self.con.execute("update landing.submissions set status = 'superseded' where submission_id = ?", [current])
            self.con.execute("update landing.submissions set status = 'accepted' where submission_id = ?", [candidate])
            entry, checked = checked_now.get(candidate) or (candidate_entry, check_entry(self.landing, candidate_entry,
                                                                                         ret, self.key))
            self._stage(ret, entry, candidate, checked)
            current = candidate
        elif hard:
            self.con.execute("update landing.submissions set status = 'rejected' where submission_id = ?", [candidate])
        out.state = "accepted" if current else "rejected"
        out.submission_id = current
        if current:
            out.rows, out.hard, out.soft = self.con.execute(
                "select rows, hard_count, soft_count from landing.submissions where submission_id = ?", [current]
            ).fetchall()[0]
        return out

    def _reject_duplicate(self, ret: Return, entry: Entry, sid: str, older: Entry):
        rule = "file.duplicate_submission"
        done = self.con.execute("select 1 from quality.violations where submission_id = ? and rule_id = ?",
                                [sid, rule]).fetchall()
        self.con.execute("update landing.submissions set status = 'rejected' where submission_id = ?", [sid])
        if not done:
            where = older.source + (f"!{older.sheet}" if older.sheet else "")
            self._violations(entry, ret, sid, [Finding(
                0, "", "", rule, HARD, f"重复报送：同一报表已有文件{where}，本文件未采用",
                f"duplicate submission: {where} already holds this return; this newer file is not used")])
