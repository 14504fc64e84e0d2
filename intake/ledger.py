"""Submissions, versions and what is in force (SPEC section 4): decided here, kept by the warehouse's
`LedgerStore` inside the run's transaction.

For one return and period: each file or sheet in landing is a version (its normalised content
plus the rules version).  An unchanged file is not parsed again (`landing.files`).  Per county the
oldest version present is the candidate; a different newer one is a `duplicate submission`.  An
accepted candidate goes in force (the one before is `superseded`); a rejected one leaves the last
accepted version in force; no file at all withdraws what was in force.  `staging.<return_id>`
holds exactly the rows of the versions in force.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from intake.check import check_entries, check_entry
from intake.landing import Entry
from schemas.core import AREAS, COUNTIES, HARD, Return
from schemas.findings import Checked
from schemas.messages import Finding, Unusable
from shangluo.timing import phase


def known_files(store, period: str, rules_version: str) -> dict[str, list[Entry]]:
    """The last scan's entries by file (none after a change of the rules: they match files to
    returns; none in a new warehouse)."""
    out: dict[str, list[Entry]] = {}
    for row in store.inventory(period, rules_version=rules_version) or []:
        e = Entry(**row)
        out.setdefault(e.source, []).append(e)
    return out


DUPLICATE = "file.duplicate_submission"


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
    """The decisions on one return of one period.  `store` keeps them (`warehouse.ledger.LedgerStore`
    on the run's connection): intake decides, the store only reads and writes rows."""

    def __init__(self, store, landing: Path, key: bytes, rules_version: str, now: datetime):
        self.store, self.landing, self.key, self.rules_version, self.now = store, Path(landing), key, rules_version, now

    # -------------------------------------------------------------- what is written

    @staticmethod
    def _violations(entry: Entry, ret: Return, sid: str, findings: list[Finding]) -> list[dict]:
        return [{"period": entry.period, "county_code": entry.county_code, "return_id": ret.return_id,
                 "submission_id": sid, "source": entry.source, "sheet": entry.sheet,
                 "source_row": f.source_row or None, "column_header": f.column_header, "value": f.value,
                 "rule_id": f.rule_id, "severity": f.severity, "message_zh": f.message_zh, "message_en": f.message_en,
                 "status": "open", "explanation": None, "business_key": f.business_key} for f in findings]

    def _recording(self, entry: Entry, ret: Return, content_sha: str, rows: int, hard: int, soft: int, notes: str,
                   findings: list[Finding], layout: dict) -> tuple[str, tuple[dict, list[dict], tuple]]:
        """A version as read from `entry`, and what the store records of it (`LedgerStore.record_many`):
        new, or known and now held by this file (the ledger and the violations then describe the
        file that holds it now, its rows where they now are)."""
        sid = submission_id(entry.period, entry.county_code, ret.return_id, content_sha, self.rules_version)
        return sid, (
            {"submission_id": sid, "period": entry.period, "county_code": entry.county_code,
             "return_id": ret.return_id, "source": entry.source, "sheet": entry.sheet, "content_sha256": content_sha,
             "rules_version": self.rules_version, "rows": rows, "first_seen_at": self.now, "hard_count": hard,
             "soft_count": soft, "file_sha256": entry.file_sha256, "notes": notes, "layout": layout},
            self._violations(entry, ret, sid, findings),
            (entry.source, entry.sheet, entry.file_sha256, self.rules_version, sid, self.now))

    def _stage(self, ret: Return, entry: Entry, sid: str, checked: Checked):
        """Put an accepted version's rows into staging, beside the version in force until `_decide`."""
        with phase("write"):
            self.store.stage(ret.return_id, entry.period, entry.county_code, sid, checked)

    # -------------------------------------------------------------- one return of one period

    def process(self, ret: Return, period: str, entries: list[Entry], counties: set[str] | None = None,
                force: bool = False) -> dict[str, Outcome]:
        """`entries`: this return's parts and unusable files in landing for `period`, of `counties`
        (None: every area, the city's own returns included; a county with no file is then missing).

        1. per county, each file or sheet present becomes a version (parsed only when new: the small
           files of all counties are typed together and recorded together, a large one alone); a new
           version that passes its checks goes into staging, beside the version in force: a large
           file's at once, so that no large file's rows are held in memory past its own check;
        2. the city-wide set rules run in SQL over staging: the new candidates against what stays in force;
        3. per county, the version in force is decided and staging keeps only its rows.
        """
        by_county: dict[str, list[Entry]] = {}
        for e in entries:
            by_county.setdefault(e.county_code, []).append(e)
        in_force = self.store.in_force(period, ret.return_id)
        decided = self.store.decided_counties(period, ret.return_id)
        pending = decided if counties is None else decided & counties     # a version a missing file withdraws
        counties = set(COUNTIES) if counties is None else counties
        # the versions known by their file (unchanged since read under these rules; one rejected only
        # for another county's rows is looked at again); the others are read and checked, all together
        cached = {} if force else self.store.known_versions(
            [(e.source, e.sheet, e.file_sha256) for e in entries if e.kind != "unusable"], self.rules_version)
        known = {(e.source, e.sheet): cached.get((e.source, e.sheet)) for e in entries}
        fresh = [e for e in entries if known[(e.source, e.sheet)] is None and e.kind != "unusable"]
        results = dict(zip([(e.source, e.sheet) for e in fresh],
                           check_entries(self.landing, fresh, ret, self.key)))
        plans = {county: Plan(county) for county in sorted(counties | set(by_county) | pending)}
        batch = _Batch()
        for county, plan in plans.items():
            self._read(ret, period, plan, by_county.get(county, []), known, results, batch)
        self._flush(ret, period, batch)
        versions = self.store.versions([sid for p in plans.values() for sid, _ in p.present], DUPLICATE)
        for plan in plans.values():
            self._choose(ret, plan, versions)
        if ret.key and not ret.key_within_county:
            self._city_unique(ret, period, plans, in_force)
        # a rejected version no file holds any more needs no clerk (its violations are then no longer
        # open): superseded if its file holds another version now or a version seen since is there in
        # its place, else withdrawn (the file was taken back)
        self.store.close_rejected(period, ret.return_id, [
            (c, [(sid, e.source, e.sheet) for sid, e in p.present], p.newest_seen) for c, p in plans.items()])
        hard = self.store.hard_counts([p.candidate for p in plans.values() if p.candidate])
        outcomes = {county: self._decide(ret, period, plan, in_force.get(county), force, hard.get(plan.candidate))
                    for county, plan in plans.items()}
        # staging keeps only the versions in force (of the counties whose staging changed in this run)
        self.store.keep_in_staging(ret.return_id, period, [(c, outcomes[c].submission_id)
                                                           for c, p in plans.items() if p.staged and p.candidate])
        counts = self.store.counts([o.submission_id for o in outcomes.values() if o.submission_id])
        for out in outcomes.values():
            if out.submission_id:
                out.rows, out.hard, out.soft = counts[out.submission_id]
        return outcomes

    def _check_alone(self, entry: Entry, ret: Return) -> Checked | Unusable | OSError:
        try:
            return check_entry(self.landing, entry, ret, self.key, self.store.engine)
        except (Unusable, OSError) as exc:
            return exc

    def _read(self, ret: Return, period: str, plan: "Plan", entries: list[Entry], known: dict, results: dict,
              batch: "_Batch"):
        """The version each of a county's files holds: known by its file, or read now and recorded
        (and, accepted, staged).  The small files' recordings wait in `batch`, written together by
        `_flush`; a large file is checked alone, now, and recorded at once (after what waits, so
        recordings keep their order), so that its rows are not held past its own check."""
        for entry in entries:
            sid = known[(entry.source, entry.sheet)]
            if sid is None:
                checked = results.get((entry.source, entry.sheet))
                alone = checked is None and entry.kind != "unusable"
                if alone:                                         # a large file: checked alone, now
                    self._flush(ret, period, batch)
                    checked = self._check_alone(entry, ret)
                if isinstance(checked, (Unusable, OSError)):      # found only when read: unusable, the rest goes on
                    exc = checked
                    zh, en = (exc.zh, exc.en) if isinstance(exc, Unusable) else (
                        f"无法读取该文件：{exc.strerror}", f"the file cannot be read: {exc.strerror}")
                    entry, checked = replace(entry, kind="unusable", message_zh=zh, message_en=en), None
                if checked is None:
                    finding = Finding(0, "", "", "file.unusable", HARD, entry.message_zh, entry.message_en)
                    sid, recording = self._recording(
                        entry, ret, entry.file_sha256 or hashlib.sha256(entry.source.encode()).hexdigest(),
                        0, 1, 0, f"{entry.message_zh} / {entry.message_en}", [finding], {})
                    if alone:
                        self.store.record_many([recording])
                    else:
                        batch.records.append(recording)
                else:
                    sid, recording = self._recording(entry, ret, checked.content_sha256, checked.rows,
                                                     checked.hard_count, checked.soft_count, "\n".join(checked.notes),
                                                     checked.findings, checked.layout)
                    if alone:
                        self.store.record_many([recording])
                        if checked.accepted:
                            self._stage(ret, entry, sid, checked)
                        checked.release(self.store.engine)
                    else:
                        batch.records.append(recording)
                        if checked.accepted:
                            batch.staged.append((entry.county_code, sid, checked))
                        else:
                            checked.release(self.store.engine)
                    if checked.accepted:
                        plan.staged.add(sid)
                    plan.layouts[sid] = checked.layout
                plan.processed.append(sid)
            plan.present.append((sid, entry))

    def _flush(self, ret: Return, period: str, batch: "_Batch"):
        """Write the recordings that wait, then stage the accepted versions among them."""
        self.store.record_many(batch.records)
        with phase("write"):
            self.store.stage_many(ret.return_id, period, batch.staged)
        batch.records, batch.staged = [], []

    def _choose(self, ret: Return, plan: "Plan", versions: dict[str, dict]):
        """The candidate among the versions present (`versions`: what the store knows of them)."""
        if plan.present:
            # the oldest version present is the candidate; a different newer one is a duplicate submission
            seen = {sid: versions[sid]["first_seen_at"] for sid, _ in plan.present}
            # equal times (a copy that kept the original's, as Explorer makes them): the shorter name,
            # the original rather than its `- 副本` or `(1)`
            plan.present.sort(key=lambda p: (seen[p[0]], p[1].mtime_ns, len(p[1].source), p[1].source, p[1].sheet or ""))
            plan.candidate, plan.entry = plan.present[0]
            plan.first_seen, plan.newest_seen = seen[plan.candidate], max(seen.values())
            mine = versions[plan.candidate]
            if (mine["source"], mine["sheet"]) != (plan.entry.source, plan.entry.sheet):
                # the file it was recorded from is gone (an identical copy removed): the one holding it now
                self.store.relocate(plan.candidate, plan.entry.source, plan.entry.sheet, plan.entry.file_sha256)
            if mine["duplicate"]:          # once a duplicate, now the only or oldest file: no longer one
                self.store.drop_violations(plan.candidate, DUPLICATE)
            for sid, entry in plan.present[1:]:
                if sid != plan.candidate:
                    self._reject_duplicate(ret, entry, sid, plan.entry)

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
        conflicts = self.store.key_held_elsewhere(ret.return_id, key, period, holders)
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
            self.store.add_violations(self._violations(plan.entry, ret, plan.candidate, findings))
            self.store.add_hard(plan.candidate, len(findings))

    def _decide(self, ret: Return, period: str, plan: "Plan", current: str | None, force: bool,
                hard: int | None) -> Outcome:
        """The version in force of one county's return (`hard`: the candidate's hard violations)."""
        out = Outcome(plan.county, processed=plan.processed)
        if plan.candidate is None:
            if current:      # no file any more: the submission is withdrawn
                self.store.withdraw(period, plan.county, ret.return_id)
            return out
        candidate = plan.candidate
        if hard == 0 and (candidate != current or force):
            if current and current != candidate:
                self.store.set_status(current, "superseded")
            self.store.set_status(candidate, "accepted")
            if candidate not in plan.staged:      # an earlier version back in landing: read it again
                self._stage(ret, plan.entry, candidate,
                            check_entry(self.landing, plan.entry, ret, self.key, self.store.engine))
                plan.staged.add(candidate)
            current = candidate
        elif hard:
            self.store.set_status(candidate, "rejected")
        out.state = "accepted" if current else "rejected"
        out.submission_id, out.staged = current, current in plan.staged
        return out

    def _reject_duplicate(self, ret: Return, entry: Entry, sid: str, older: Entry):
        rule = DUPLICATE
        done = self.store.has_violation(sid, rule)
        self.store.set_status(sid, "rejected")
        if not done:
            where = older.source + (f"!{older.sheet}" if older.sheet else "")
            self.store.add_violations(self._violations(entry, ret, sid, [Finding(
                0, "", "", rule, HARD, f"重复报送：同一报表已有文件{where}，本文件未采用",
                f"duplicate submission: {where} already holds this return; this newer file is not used")]))


@dataclass
class _Batch:
    """Recordings of versions read in this run, and accepted versions to stage, waiting to be written."""
    records: list[tuple[dict, list[dict], tuple]] = field(default_factory=list)
    staged: list[tuple[str, str, Checked]] = field(default_factory=list)


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
    newest_seen: datetime | None = None                           # of the versions present
