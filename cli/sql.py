"""`shangluo sql`: a read-only query of the warehouse."""
from __future__ import annotations

import json
import sys

from schemas import engine
from shangluo.config import Settings

from .common import EXIT_BUSY, EXIT_HARD, EXIT_OK, EXIT_USAGE, say as _say


def cmd_sql(args) -> int:
    settings = Settings.from_env()
    import duckdb
    if not settings.warehouse.exists():
        _say(f"数据仓库不存在 / no warehouse at {settings.warehouse}: run `shangluo run` first")
        return EXIT_USAGE
    try:
        con = engine.connect(str(settings.warehouse), read_only=True)
    except duckdb.IOException as exc:
        _say(f"数据仓库正被写入 / the warehouse is being written: {exc}")
        return EXIT_BUSY
    try:
        rel = con.sql(args.query)
        if rel is None:
            return EXIT_OK
        cols, rows = rel.columns, rel.fetchall()
    except duckdb.Error as exc:
        _say(str(exc))
        return EXIT_HARD
    finally:
        con.close()
    if args.json:
        print(json.dumps([dict(zip(cols, r)) for r in rows], ensure_ascii=False, default=str, indent=1))
    else:
        w = csv_writer()
        w.writerow(cols)
        w.writerows(rows)
    return EXIT_OK


def csv_writer():
    import csv
    return csv.writer(sys.stdout, lineterminator="\n")
