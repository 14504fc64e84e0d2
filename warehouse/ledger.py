"""Where intake's decisions are kept (SPEC section 4): `landing.inventory`, `landing.files`,
`landing.submissions`, `quality.violations` and the rows of `staging`, inside the run's transaction.

Plain rows in, plain rows out; no decision is taken here (that is `intake.ledger`), no landing file
is read and no rule is run.  Every statement is in `sql/ledger.sql`.
"""
from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import duckdb
import pyarrow as pa

from warehouse.db import insert_arrow, insert_from, registered

SQL_FILE = Path(__file__).with_name("sql") / "ledger.sql"

VIOLATION_COLUMNS = ("period", "county_code", "return_id", "submission_id", "source", "sheet", "source_row",
                     "column_header", "value", "rule_id", "severity", "message_zh", "message_en", "status", "explanation",
                     "business_key")


@cache
def statements() -> dict[str, str]:
    """name -> statement, from the `-- name:` blocks of sql/ledger.sql (their comment lines left out)."""
    out, name, lines = {}, None, []
    for line in SQL_FILE.read_text(encoding="utf-8").splitlines():
        m = re.match(r"--\s*name:\s*(\w+)\s*$", line)
        if m:
            if name:
                out[name] = "\n".join(lines).strip()
            name, lines = m.group(1), []
        elif name and not line.lstrip().startswith("--"):
            lines.append(line)
    if name:
        out[name] = "\n".join(lines).strip()
    return out


def _sql(name: str, **names: str) -> str:
    text = statements()[name]
    for k, v in names.items():
        text = text.replace("{" + k + "}", v)
    return text


def _staging(return_id: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", return_id):
        raise ValueError(f"not a return id: {return_id!r}")
    return f"staging.{return_id}"


class LedgerStore:
    """The ledger's tables on the run's connection.  `engine` is that connection, lent to intake as
    the place where the bulk path computes (its temporary tables): staged rows are then not copied."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con

    @property
    def engine(self) -> duckdb.DuckDBPyConnection:
        return self.con

    def _one(self, name: str, params=None, **names: str):
        rows = self.con.execute(_sql(name, **names), params).fetchall()
        return rows[0][0] if rows else None

    # -------------------------------------------------------------- the landing scan

    def inventory(self, period: str, return_id: str | None = None, kinds: list[str] | None = None,
                  rules_version: str | None = None) -> list[dict] | None:
        """The last scan's rows of `period` (one return's, some kinds); with `rules_version`, None when
        the files were last read under other rules (the scan matched files to returns by them) or the
        warehouse has no ledger yet."""
        try:
            if rules_version is not None and self._one("stale_files", [period, rules_version]):
                return None
            rel = self.con.execute(_sql("inventory"), {"period": period, "return_id": return_id, "kinds": kinds})
        except duckdb.CatalogException:      # a new warehouse
            return None
        cols = [d[0] for d in rel.description]
        return [dict(zip(cols, r)) for r in rel.fetchall()]

    def replace_inventory(self, period: str, rows: list[dict], county: str | None = None,
                          returns: list[str] | None = None):
        """The scan's rows replace the period's (one county's; those of `returns` and of no return)."""
        self.con.execute(_sql("delete_inventory"), {"period": period, "county": county, "returns": returns})
        if rows:
            insert_arrow(self.con, "landing.inventory", pa.table({c: [r[c] for r in rows] for c in rows[0]}))

    # -------------------------------------------------------------- versions

    def in_force(self, period: str, return_id: str) -> dict[str, str]:
        return dict(self.con.execute(_sql("in_force"), [period, return_id]).fetchall())

    def decided_counties(self, period: str, return_id: str) -> set[str]:
        """Counties with a version accepted or rejected (one that a missing file must withdraw)."""
        return {c for c, in self.con.execute(_sql("decided_counties"), [period, return_id]).fetchall()}

    def known_versions(self, files: list[tuple[str, str | None, str | None]], rules_version: str
                       ) -> dict[tuple[str, str | None], str]:
        """(source, sheet) -> the version an unchanged file holds, for `files` = (source, sheet,
        file_sha256); one query for all (a query costs some 10 ms in the run's open transaction)."""
        table = pa.table({"source": pa.array([f[0] for f in files], pa.string()),
                          "sheet": pa.array([f[1] or "" for f in files], pa.string()),
                          "file_sha256": pa.array([f[2] for f in files], pa.string())})
        with registered(self.con, "__entries", table):
            rows = self.con.execute(_sql("known_versions"), [rules_version]).fetchall()
        return {(source, sheet or None): sid for source, sheet, sid in rows}

    def record_many(self, records: list[tuple[dict, list[dict], tuple]]):
        """Versions as read from files, each (submission, violations, file): its ledger row (inserted,
        or describing the file that holds it now), its violations (replacing those of an earlier
        reading) and the file it came from (`file`: source, sheet, file_sha256, rules_version,
        submission_id, read_at); in a few statements, as if one after the other: a version recorded
        twice (two files with the same content) ends as its last recording describes it, rejected if
        any recording was; every file is recorded."""
        if not records:
            return
        last: dict[str, tuple[dict, list[dict]]] = {}
        rejected: dict[str, bool] = {}
        for sub, violations, _ in records:
            sid = sub["submission_id"]
            last[sid] = (sub, violations)
            rejected[sid] = rejected.get(sid, False) or sub["hard_count"] > 0
        existing = {r[0] for r in self.con.execute(_sql("existing_submissions"), {"sids": list(last)}).fetchall()}
        for known in (False, True):
            subs = [sub for sid, (sub, _) in last.items() if (sid in existing) == known]
            if not subs:
                continue
            table = pa.table({
                **{c: [s[c] for s in subs] for c in ("submission_id", "period", "county_code", "return_id", "source",
                                                     "sheet", "content_sha256", "rules_version", "rows", "first_seen_at",
                                                     "hard_count", "soft_count", "file_sha256", "notes")},
                "layout": [json.dumps(s["layout"], ensure_ascii=False) for s in subs],
                "status": ["rejected" if rejected[s["submission_id"]] else "new" for s in subs],
                "rejected": [rejected[s["submission_id"]] for s in subs]})
            with registered(self.con, "__records", table):
                self.con.execute(_sql("update_submissions" if known else "insert_submissions"))
        if existing:
            self.con.execute(_sql("delete_violations_of"), {"sids": sorted(existing)})
        self.add_violations([v for _, violations in last.values() for v in violations])
        files = {(f[0], f[1]): f for _, _, f in records}
        table = pa.table({c: [f[i] for f in files.values()] for i, c in enumerate(
            ("source", "sheet", "file_sha256", "rules_version", "submission_id", "seen_at"))})
        with registered(self.con, "__files", table):
            self.con.execute(_sql("delete_files"))
            self.con.execute(_sql("insert_files"))

    def add_violations(self, rows: list[dict]):
        if rows:
            insert_arrow(self.con, "quality.violations", pa.table({
                c: pa.array([r.get(c) for r in rows], pa.int32() if c == "source_row" else pa.string())
                for c in VIOLATION_COLUMNS}))

    def has_violation(self, sid: str, rule_id: str) -> bool:
        return self._one("has_violation", [sid, rule_id]) is not None

    def versions(self, sids: list[str], duplicate_rule: str) -> dict[str, dict]:
        """submission_id -> first_seen_at, source, sheet and `duplicate`: whether it has a violation of
        `duplicate_rule` (the duplicate submission)."""
        rel = self.con.execute(_sql("versions"), {"sids": sids, "duplicate": duplicate_rule})
        cols = [d[0] for d in rel.description]
        return {r[0]: dict(zip(cols, r)) for r in rel.fetchall()}

    def relocate(self, sid: str, source: str, sheet: str | None, file_sha256: str | None):
        """A version now held by another file (the one recorded is gone): the ledger and its violations name it."""
        self.con.execute(_sql("relocate_submission"), [source, sheet, file_sha256, sid])
        self.con.execute(_sql("relocate_violations"), [source, sheet, sid])

    def drop_violations(self, sid: str, rule_id: str):
        self.con.execute(_sql("drop_violations"), [sid, rule_id])

    def hard_counts(self, sids: list[str]) -> dict[str, int | None]:
        return dict(self.con.execute(_sql("hard_counts"), {"sids": sids}).fetchall())

    def counts(self, sids: list[str]) -> dict[str, tuple[int, int, int]]:
        """submission_id -> (rows, hard, soft)."""
        return {r[0]: tuple(r[1:]) for r in self.con.execute(_sql("counts"), {"sids": sids}).fetchall()}

    def set_status(self, sid: str, status: str):
        self.con.execute(_sql("set_status"), [status, sid])

    def add_hard(self, sid: str, n: int):
        """`n` more hard violations found for a version: it is rejected."""
        self.con.execute(_sql("add_hard"), [n, sid])

    def close_rejected(self, period: str, return_id: str, counties: list[tuple[str, list[tuple], object]]):
        """The rejected versions of a return no file holds any more, for each (county, present,
        newest_seen) of `counties` (`present`: submission_id, source, sheet of the files there;
        `newest_seen`: the newest first seen of those versions, None when there are none):
        superseded if their file now holds another version or if first seen at or before
        `newest_seen`, else withdrawn."""
        if not counties:
            return
        present = [p for _, ps, _ in counties for p in ps]
        table = pa.table({"county_code": pa.array([c for c, _, _ in counties], pa.string()),
                          "newest_seen": pa.array([n for _, _, n in counties], pa.timestamp("us"))})
        with registered(self.con, "__counties", table):
            self.con.execute(_sql("close_rejected"), {
                "period": period, "return_id": return_id, "present": [p[0] for p in present],
                "files": [f"{p[1]}!{p[2] or ''}" for p in present]})

    def withdraw(self, period: str, county: str, return_id: str):
        """No file any more: the version in force is withdrawn and its rows leave staging."""
        self.con.execute(_sql("withdraw"), [period, county, return_id])
        self.con.execute(_sql("unstage_county", staging=_staging(return_id)), [period, county])

    # -------------------------------------------------------------- staging

    def stage(self, return_id: str, period: str, county: str, sid: str, checked):
        """An accepted version's rows (a `schemas.findings.Checked`) into staging, beside the version in force."""
        table = _staging(return_id)
        self.con.execute(_sql("unstage_version", staging=table), [period, county, sid])
        try:
            insert_from(self.con, table, checked.relation(self.con),
                        {"period": period, "county_code": county, "submission_id": sid})
        finally:
            checked.release(self.con)

    def stage_many(self, return_id: str, period: str, versions: list[tuple[str, str, object]]):
        """`stage` of each (county, submission_id, checked) in turn, in two statements; each
        `checked` holds its rows as Arrow (`typed`: the small files, never the bulk path's, which
        are staged one by one).  A version staged twice keeps its last rows."""
        if not versions:
            return
        table = _staging(return_id)
        last = {sid: (county, checked) for county, sid, checked in versions}
        parts = []
        for sid, (county, checked) in last.items():
            rows = checked.stored()
            n = rows.num_rows
            parts.append(rows.append_column("period", pa.array([period] * n, pa.string()))
                         .append_column("county_code", pa.array([county] * n, pa.string()))
                         .append_column("submission_id", pa.array([sid] * n, pa.string())))
        self.con.execute(_sql("unstage_versions", staging=table), {"period": period, "sids": list(last)})
        try:
            insert_arrow(self.con, table, pa.concat_tables(parts, promote_options="permissive"))
        finally:
            for _, _, checked in versions:
                checked.release(self.con)

    def keep_in_staging(self, return_id: str, period: str, keep: list[tuple[str, str | None]]):
        """Staging keeps, for each (county, submission_id) of `keep`, only that version's rows (None: none)."""
        if not keep:
            return
        table = pa.table({"county_code": pa.array([k[0] for k in keep], pa.string()),
                          "submission_id": pa.array([k[1] for k in keep], pa.string())})
        with registered(self.con, "__keep", table):
            self.con.execute(_sql("keep_in_staging", staging=_staging(return_id)), {"period": period})

    def staged_rows(self, return_id: str, period: str) -> int:
        return self._one("staged_rows", [period], staging=_staging(return_id))

    def key_held_elsewhere(self, return_id: str, key: str, period: str, holders: list[tuple[str, str, int]]
                           ) -> list[tuple]:
        """(county, source_row, key value, first holder) of the rows of `holders` (county,
        version, order; -1 for the versions that stay in force) whose key a county earlier in that
        order already holds."""
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", key):
            raise ValueError(f"not a field name: {key!r}")
        table = pa.table({"county_code": pa.array([h[0] for h in holders], pa.string()),
                          "submission_id": pa.array([h[1] for h in holders], pa.string()),
                          "ord": pa.array([h[2] for h in holders], pa.int32())})
        with registered(self.con, "__holders", table):
            return self.con.execute(_sql("city_key_holders", staging=_staging(return_id), key=key), [period]).fetchall()

    # -------------------------------------------------------------- cross rules and explanations

    def cross_found(self, rule_sql: str, period: str) -> list[tuple]:
        """The rows a cross rule's query (declared in `schemas.cross`) yields over what is in force,
        each with the version it concerns: county, return, field, row, business key, value, other,
        submission_id, source, sheet, layout."""
        found = _sql("cross_found", rule=rule_sql)
        params = {"period": period, "previous": str(int(period) - 1)}
        return self.con.execute(found, {k: v for k, v in params.items() if f"${k}" in found}).fetchall()

    def replace_cross_violations(self, period: str, rows: list[dict]):
        self.con.execute(_sql("delete_cross_violations"), [period])
        self.add_violations(rows)

    def reopen_violations(self, period: str):
        self.con.execute(_sql("reopen_violations"), [period])

    def explainable(self, period: str) -> list[dict]:
        """The open soft warnings of the versions in force (violation_id, county_code, return_id,
        rule_id, business_key, severity): what an explanation may answer."""
        rel = self.con.execute(_sql("explainable"), [period])
        cols = [d[0] for d in rel.description]
        return [dict(zip(cols, r)) for r in rel.fetchall()]

    def explain(self, answered: list[tuple[int, str]]):
        """Mark these warnings (violation_id, explanation) explained."""
        if not answered:
            return
        table = pa.table({"violation_id": pa.array([a[0] for a in answered], pa.int64()),
                          "explanation": pa.array([a[1] for a in answered], pa.string())})
        with registered(self.con, "__explained", table):
            self.con.execute(_sql("explain"))

    def open_soft(self, period: str) -> int:
        return self._one("open_soft", [period])
