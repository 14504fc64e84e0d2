"""What the portal reads from the warehouse: read-only, briefly (a reader holding the file would
block the pipeline's writer), and tolerant of a warehouse that is missing or being written."""
from __future__ import annotations

from contextlib import contextmanager

import duckdb

from schemas import engine
from shangluo.config import Settings


class Unavailable(Exception):
    def __init__(self, zh: str, en: str):
        super().__init__(f"{zh} / {en}")
        self.zh, self.en = zh, en


@contextmanager
def warehouse():
    path = Settings.from_env().warehouse
    if not path.exists():
        raise Unavailable("数据仓库尚未建立（流水线还没有运行）", "there is no warehouse yet: the pipeline has not run")
    try:
        con = engine.connect(str(path), read_only=True)
    except duckdb.Error as exc:                 # held by the pipeline's writer (a lock), or being created
        raise Unavailable("流水线正在运行，数据仓库暂时不可读，请稍后刷新",
                          "the pipeline is writing the warehouse: refresh in a moment") from exc
    try:
        con.execute("set enable_external_access = false")
        yield con
    except duckdb.CatalogException as exc:
        raise Unavailable("数据仓库中还没有这一期的表", "the warehouse has no such tables yet") from exc
    finally:
        con.close()


def _dicts(con, sql: str, params: list) -> list[dict]:
    cur = con.execute(sql, params)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def status(con, period: str, county: str | None = None) -> list[dict]:
    """landing.status with the open warnings and the newest version's status, per county × return."""
    where = "s.period = ?" + (" and s.county_code = ?" if county else "")
    return _dicts(con, f"""
        select s.county_code, s.return_id, s.state, s.submission_id, s.first_seen_at, s.late, s.newer_rejected,
               (select count(*) from quality.violations v where v.period = s.period and v.county_code = s.county_code
                  and v.return_id = s.return_id and v.severity = 'soft' and v.status = 'open'
                  and (v.submission_id = s.submission_id or v.submission_id is null)) as open_warnings
        from landing.status s where {where} order by s.county_code, s.return_id""",
                  [period] + ([county] if county else []))


def history(con, period: str, county: str, return_id: str) -> list[dict]:
    return _dicts(con, """select submission_id, source, sheet, rows, first_seen_at, status, hard_count, soft_count,
                                 file_sha256 from landing.submissions
                          where period = ? and county_code = ? and return_id = ? order by first_seen_at desc""",
                  [period, county, return_id])


def violations(con, period: str, county: str, return_id: str | None = None, submission_id: str | None = None) -> list[dict]:
    sql = """select period, county_code, return_id, submission_id, source, sheet, source_row, column_header, value,
                    rule_id, severity, message_zh, message_en, status, explanation, business_key
             from quality.violations where period = ? and county_code = ?"""
    params = [period, county]
    if return_id:
        sql += " and return_id = ?"
        params.append(return_id)
    if submission_id:
        sql += " and (submission_id = ? or submission_id is null)"
        params.append(submission_id)
    return _dicts(con, sql + " order by return_id, severity, source, sheet, source_row, column_header", params)


def decisions(con, sources_shas: list[tuple[str, str]]) -> dict[tuple[str, str], dict]:
    """The pipeline's decision on files put into landing: (source, file sha256) -> newest ledger rows."""
    out = {}
    for source, sha in sources_shas:
        rows = _dicts(con, """select return_id, sheet, status, hard_count, soft_count, first_seen_at, submission_id
                              from landing.submissions where source = ? and file_sha256 = ?
                              order by return_id, sheet""", [source, sha])
        if rows:
            out[(source, sha)] = rows
    return out
