"""Published vintages: `shangluo publish` freezes the figures of a period as published, with the
time and the versions in force.  A vintage is only ever inserted, never updated: later
corrections show as revisions against it."""
from __future__ import annotations

import hashlib
from datetime import datetime

import duckdb

def latest_vintage(con: duckdb.DuckDBPyConnection, period: str):
    rows = con.execute("select vintage_id, published_at from report.vintages where period = ? "
                       "order by published_at desc limit 1", [period]).fetchall()
    return rows[0] if rows else None


def publish(con: duckdb.DuckDBPyConnection, period: str, note: str = "") -> tuple[str, int]:
    """Freeze the figures of `period` now; returns (vintage id, figures stored)."""
    now = datetime.now()
    vintage_id = f"{period}-{now:%Y%m%d%H%M%S}-" + hashlib.sha256(f"{period}{now.isoformat()}".encode()).hexdigest()[:6]
    n = con.execute("select count(*) from report.figures where period = ?", [period]).fetchall()[0][0]
    if not n:
        raise LookupError(f"报告期{period}没有数字可发布 / no figures to publish for period {period}")
    con.execute("insert into report.vintages values (?, ?, ?, ?)", [vintage_id, period, now, note])
    con.execute("insert into report.vintage_figures select ?, period, area_code, figure_id, value, text, complete "
                "from report.figures where period = ?", [vintage_id, period])
    con.execute("insert into report.vintage_submissions select ?, submission_id, county_code, return_id, content_sha256 "
                "from landing.submissions where status = 'accepted' and period in (?, ?)",
                [vintage_id, period, str(int(period) - 1)])
    return vintage_id, n
