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
import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from intake.check import check_entries, check_entry
from intake.landing import Entry
from schemas.core import AREAS, HARD, Return
from schemas.findings import Checked
from schemas.messages import Finding, Unusable
from shangluo.timing import phase

from warehouse.db import insert_arrow, insert_from

VIOLATION_COLUMNS = ("period", "county_code", "return_id", "submission_id", "source", "sheet", "source_row",
                     "column_header", "value", "rule_id", "severity", "message_zh", "message_en", "status", "explanation",
                     "business_key")


def known_files(con, period: str, rules_version: str) -> dict[str, list[Entry]]:
    """The last scan's entries in `landing.inventory` by file (none after a change of the rules:
    they match files to returns)."""
    stale = con.execute("select count(*) from landing.files where starts_with(source, ?) and rules_version <> ?",
                        [f"{period}/", rules_version]).fetchall()[0][0]
    if stale:
        return {}
    rel = con.sql("select * from landing.inventory where period = ? order by source, sheet", params=[period])
    out: dict[str, list[Entry]] = {}
    for r in rel.fetchall():
        e = Entry(**dict(zip(rel.columns, r)))
        out.setdefault(e.source, []).append(e)
    return out


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
    staged: bool = False                                 # the version in force entered staging in this run


def submission_id(period: str, county: str, return_id: str, content_sha256: str, rules_version: str) -> str:
    return hashlib.sha256(f"{period}|{county}|{return_id}|{content_sha256}|{rules_version}".encode()).hexdigest()[:16]


class Ledger:
    def __init__(self, con: duckdb.DuckDBPyConnection, landing: Path, key: bytes, rules_version: str, now: datetime):
        self.con, self.landing, self.key, self.rules_version, self.now = con, Path(landing), key, rules_version, now

    # -------------------------------------------------------------- writes

    def _violations(self, entry: Entry, ret: Return, sid: str, findings: list[Finding]):
        if not findings:
            return
        rows = [(entry.period, entry.county_code, ret.return_id, sid, entry.source, entry.sheet, f.source_row or None,
                 f.column_header, f.value, f.rule_id, f.severity, f.message_zh, f.message_en, "open", None, f.business_key)
                for f in findings]
        table = pa.table({c: pa.array([r[i] for r in rows], pa.int32() if c == "source_row" else pa.string())
                          for i, c in enumerate(VIOLATION_COLUMNS)})
        insert_arrow(self.con, "quality.violations", table)

    def _record(self, entry: Entry, ret: Return, content_sha: str, rows: int, hard: int, soft: int, notes: str,
                findings: list[Finding], layout: dict) -> str:
        sid = submission_id(entry.period, entry.county_code, ret.return_id, content_sha, self.rules_version)
        known = self.con.execute("select 1 from landing.submissions where submission_id = ?", [sid]).fetchall()
        if not known:
            self.con.execute(
                "insert into landing.submissions (submission_id, period, county_code, return_id, source, sheet, "
                "content_sha256, rules_version, rows, first_seen_at, status, hard_count, soft_count, file_sha256, notes, "
                "layout) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [sid, entry.period, entry.county_code, ret.return_id, entry.source, entry.sheet, content_sha,
                 self.rules_version, rows, self.now, "rejected" if hard else "new", hard, soft, entry.file_sha256, notes,
                 json.dumps(layout, ensure_ascii=False)])
        else:
            # a known version read from another file (a CSV file now in a workbook, a copy re-saved): the
            # ledger and the violations describe the file that holds it now, its rows where they now are
            self.con.execute(
                "update landing.submissions set source = ?, sheet = ?, file_sha256 = ?, notes = ?, layout = ?, rows = ?, "
                "hard_count = ?, soft_count = ?, status = case when ? > 0 then 'rejected' else status end "
                "where submission_id = ?",
                [entry.source, entry.sheet, entry.file_sha256, notes, json.dumps(layout, ensure_ascii=False), rows,
                 hard, soft, hard, sid])
            self.con.execute("delete from quality.violations where submission_id = ?", [sid])
        self._violations(entry, ret, sid, findings)
        self.con.execute("delete from landing.files where source = ? and coalesce(sheet, '') = coalesce(?, '')",
                         [entry.source, entry.sheet])
        self.con.execute("insert into landing.files values (?, ?, ?, ?, ?, ?)",
                         [entry.source, entry.sheet, entry.file_sha256, self.rules_version, sid, self.now])
        return sid

    def _known_versions(self, entries: list[Entry]) -> dict[tuple[str, str | None], str]:
        """(source, sheet) -> the version a file unchanged since it was last read under these rules
        holds, for the entries that have one; a version rejected only for another county's rows is
        left out (it is looked at again).  One query for all the entries (a query costs some 10 ms
        in the run's open transaction, a file a few)."""
        files = pa.table({"source": pa.array([e.source for e in entries], pa.string()),
                          "sheet": pa.array([e.sheet or "" for e in entries], pa.string()),
                          "file_sha256": pa.array([e.file_sha256 for e in entries], pa.string())})
        self.con.register("__entries", files)
        try:
            rows = self.con.execute(
                "select e.source, e.sheet, min(f.submission_id) from __entries e "
                "join landing.files f on f.source = e.source and coalesce(f.sheet, '') = e.sheet "
                "and f.file_sha256 = e.file_sha256 and f.rules_version = ? "
                "join landing.submissions s using (submission_id) "
                "where not (coalesce(s.hard_count, 0) > 0 and s.hard_count = (select count(*) from quality.violations v "
                "  where v.submission_id = s.submission_id and v.rule_id like '%.unique_city')) "
                "group by all", [self.rules_version]).fetchall()
        finally:
            self.con.unregister("__entries")
        return {(source, sheet or None): sid for source, sheet, sid in rows}

    def _stage(self, ret: Return, entry: Entry, sid: str, checked: Checked):
        """Put an accepted version's rows into staging, beside the version in force until `_decide`."""
        with phase("write"):
            table = f"staging.{ret.return_id}"
            self.con.execute(f"delete from {table} where period = ? and county_code = ? and submission_id = ?",
                             [entry.period, entry.county_code, sid])
            try:
                insert_from(self.con, table, checked.relation(self.con),
                            {"period": entry.period, "county_code": entry.county_code, "submission_id": sid})
            finally:
                checked.release(self.con)

    # -------------------------------------------------------------- one return of one period

    def process(self, ret: Return, period: str, entries: list[Entry], counties: set[str], force: bool = False
                ) -> dict[str, Outcome]:
        """`entries`: this return's parts and unusable files in landing for `period` (all counties in scope).

        1. per county, each file or sheet present becomes a version (parsed only when new: the small
           files of all counties are typed together, a large one alone); a new version that passes
           its checks goes into staging at once, beside the version in force, so no large file's
           rows are held in memory past its own check;
        2. the city-wide set rules run in SQL over staging: the new candidates against what stays in force;
        3. per county, the version in force is decided and staging keeps only its rows.
        """
        by_county: dict[str, list[Entry]] = {}
        for e in entries:
            by_county.setdefault(e.county_code, []).append(e)
        in_force = dict(self.con.execute(
            "select county_code, submission_id from landing.submissions where period = ? and return_id = ? "
            "and status = 'accepted'", [period, ret.return_id]).fetchall())
        pending = {c for c, in self.con.execute(
            "select distinct county_code from landing.submissions where period = ? and return_id = ? "
            "and status in ('accepted', 'rejected')", [period, ret.return_id]).fetchall() if c in counties}
        # the versions known by their file; the others are read and checked, all counties' together
        cached = {} if force else self._known_versions([e for e in entries if e.kind != "unusable"])
        known = {(e.source, e.sheet): cached.get((e.source, e.sheet)) for e in entries}
        fresh = [e for e in entries if known[(e.source, e.sheet)] is None and e.kind != "unusable"]
        results = dict(zip([(e.source, e.sheet) for e in fresh],
                           check_entries(self.landing, fresh, ret, self.key)))
        plans = {county: self._versions(ret, county, by_county.get(county, []), known, results)
                 for county in sorted(counties | set(by_county) | pending)}
        if ret.key and not ret.key_within_county:
            self._city_unique(ret, period, plans, in_force)
        return {county: self._decide(ret, period, plan, in_force.get(county), force) for county, plan in plans.items()}

    def _check_alone(self, entry: Entry, ret: Return) -> Checked | Unusable | OSError:
        try:
            return check_entry(self.landing, entry, ret, self.key, self.con)
        except (Unusable, OSError) as exc:
            return exc

    def _versions(self, ret: Return, county: str, entries: list[Entry], known: dict, results: dict) -> "Plan":
        plan = Plan(county)
        for entry in entries:
            sid = known[(entry.source, entry.sheet)]
            if sid is None:
                checked = results.get((entry.source, entry.sheet))
                if checked is None and entry.kind != "unusable":      # a large file: checked alone, now
                    checked = self._check_alone(entry, ret)
                if isinstance(checked, (Unusable, OSError)):      # found only when read: unusable, the rest goes on
                    exc = checked
                    zh, en = (exc.zh, exc.en) if isinstance(exc, Unusable) else (
                        f"无法读取该文件：{exc.strerror}", f"the file cannot be read: {exc.strerror}")
                    entry, checked = replace(entry, kind="unusable", message_zh=zh, message_en=en), None
                if checked is None:
                    finding = Finding(0, "", "", "file.unusable", HARD, entry.message_zh, entry.message_en)
                    sid = self._record(entry, ret, entry.file_sha256 or hashlib.sha256(entry.source.encode()).hexdigest(),
                                       0, 1, 0, f"{entry.message_zh} / {entry.message_en}", [finding], {})
                else:
                    sid = self._record(entry, ret, checked.content_sha256, checked.rows, checked.hard_count,
                                       checked.soft_count, "\n".join(checked.notes), checked.findings, checked.layout)
                    if checked.accepted:
                        self._stage(ret, entry, sid, checked)
                        plan.staged.add(sid)
                    checked.release(self.con)
                    plan.layouts[sid] = checked.layout
                plan.processed.append(sid)
            plan.present.append((sid, entry))
        if plan.present:
            # the oldest version present is the candidate; a different newer one is a duplicate submission
            seen = dict(self.con.execute(
                "select submission_id, first_seen_at from landing.submissions where submission_id in (select unnest(?))",
                [[sid for sid, _ in plan.present]]).fetchall())
            plan.present.sort(key=lambda p: (seen[p[0]], p[1].mtime_ns, p[1].source, p[1].sheet or ""))
            plan.candidate, plan.entry = plan.present[0]
            plan.first_seen = seen[plan.candidate]
            for sid, entry in plan.present[1:]:
                if sid != plan.candidate:
                    self._reject_duplicate(ret, entry, sid, plan.entry)
        return plan

    def _city_unique(self, ret: Return, period: str, plans: dict[str, "Plan"], in_force: dict[str, str]):
        """A business key unique in the city: a new version repeating a key that another county
        already has in force (or that an earlier new version has) is rejected at those rows."""
        key = ret.key[0]
        new = [p for p in plans.values() if p.candidate in p.staged and p.candidate != in_force.get(p.county)]
        if not new:
            return
        new.sort(key=lambda p: (p.first_seen, p.entry.mtime_ns, p.county))
        holders = [(p.county, p.candidate, i) for i, p in enumerate(new)]
        holders += [(county, sid, -1) for county, sid in in_force.items() if county not in {p.county for p in new}]
        self.con.register("holders", pa.table({name: pa.array([h[i] for h in holders], t) for i, (name, t) in
                                              enumerate((("county_code", pa.string()), ("submission_id", pa.string()),
                                                         ("ord", pa.int32())))}))
        conflicts = self.con.execute(f"""
            with everyone as (
                select s."{key}" as key, s.county_code, h.ord, s.source_row from staging.{ret.return_id} s
                join holders h using (county_code, submission_id) where s.period = ?
            ), first_holder as (
                select key, arg_min(county_code, ord) as holder, min(ord) as first_ord from everyone
                where key is not null group by key having count(distinct county_code) > 1
            )
            select e.county_code, e.source_row, e.key, f.holder from everyone e join first_holder f using (key)
            where e.ord >= 0 and e.ord > f.first_ord and e.county_code <> f.holder order by e.county_code, e.source_row
        """, [period]).fetchall()
        self.con.unregister("holders")
        field = ret.field(key)
        by_county: dict[str, list[Finding]] = {}
        for county, row, value, holder in conflicts:
            header = plans[county].layouts[plans[county].candidate].get(key, [field.label])[0]
            by_county.setdefault(county, []).append(Finding(
                row, header, value, f"{ret.return_id}.{key}.unique_city", HARD,
                f"{field.label}“{value}”已在{AREAS.get(holder, holder)}的报表中：{field.label}在全市必须唯一",
                f"{key} '{value}' is already in {holder}'s return: it must be unique in the city", value))
        for county, findings in by_county.items():
            plan = plans[county]
            self._violations(plan.entry, ret, plan.candidate, findings)
            self.con.execute("update landing.submissions set hard_count = hard_count + ?, status = 'rejected' "
                             "where submission_id = ?", [len(findings), plan.candidate])

    def _decide(self, ret: Return, period: str, plan: "Plan", current: str | None, force: bool) -> Outcome:
        out = Outcome(plan.county, processed=plan.processed)
        # a rejected version whose file left landing no longer needs a clerk: removed, it is withdrawn;
        # replaced by another file, superseded (its violations are then no longer open)
        self.con.execute(
            "update landing.submissions set status = ? where period = ? and county_code = ? and return_id = ? "
            "and status = 'rejected' and submission_id not in (select unnest(?::varchar[]))",
            ["superseded" if plan.present else "withdrawn", period, plan.county, ret.return_id,
             [sid for sid, _ in plan.present]])
        if plan.candidate is None:
            if current:      # no file any more: the submission is withdrawn
                self.con.execute("update landing.submissions set status = 'withdrawn' where period = ? and "
                                 "county_code = ? and return_id = ? and status = 'accepted'",
                                 [period, plan.county, ret.return_id])
                self.con.execute(f"delete from staging.{ret.return_id} where period = ? and county_code = ?",
                                 [period, plan.county])
            return out
        candidate = plan.candidate
        hard = self.con.execute("select hard_count from landing.submissions where submission_id = ?",
                                [candidate]).fetchall()[0][0]
        if hard == 0 and (candidate != current or force):
            if current and current != candidate:
                self.con.execute("update landing.submissions set status = 'superseded' where submission_id = ?", [current])
            self.con.execute("update landing.submissions set status = 'accepted' where submission_id = ?", [candidate])
            if candidate not in plan.staged:      # an earlier version back in landing: read it again
                self._stage(ret, plan.entry, candidate, check_entry(self.landing, plan.entry, ret, self.key, self.con))
                plan.staged.add(candidate)
            current = candidate
        elif hard:
            self.con.execute("update landing.submissions set status = 'rejected' where submission_id = ?", [candidate])
        if plan.staged:      # staging keeps only the version in force
            self.con.execute(f"delete from staging.{ret.return_id} where period = ? and county_code = ? "
                             f"and submission_id is distinct from ?", [period, plan.county, current])
        out.state = "accepted" if current else "rejected"
        out.submission_id, out.staged = current, current in plan.staged
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


@dataclass
class Plan:
    """The versions of one county's return present in landing, and the candidate among them."""
    county: str
    present: list[tuple[str, Entry]] = field(default_factory=list)
    staged: set[str] = field(default_factory=set)                 # versions put into staging in this run
    layouts: dict[str, dict] = field(default_factory=dict)        # headers of versions checked in this run
    processed: list[str] = field(default_factory=list)
    candidate: str | None = None
    entry: Entry | None = None
    first_seen: datetime | None = None
