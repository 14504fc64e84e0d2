"""`shangluo sql`: one read-only query of the warehouse, in a connection that can touch nothing else.

The connection is opened read-only with external access disabled and its configuration locked
(DuckDB `enable_external_access=false`, `lock_configuration=true`, set when it is opened): no
file but the warehouse can be read or written (read_csv, read_text, glob, COPY TO, ATTACH,
INSTALL, LOAD), and no setting can be changed (SET).  Exactly one SELECT (or EXPLAIN) statement.
"""
from __future__ import annotations

import json
import os
import sys

from shangluo.config import Settings

from .common import EXIT_BUSY, EXIT_HARD, EXIT_OK, EXIT_UNUSABLE, EXIT_USAGE, say as _say

LOCKED = {"enable_external_access": False, "lock_configuration": True}
ALLOWED = ("SELECT", "EXPLAIN")


def _refuse(zh: str, en: str) -> int:
    _say(f"拒绝执行：{zh} / refused: {en}")
    return EXIT_USAGE


def _one_statement(query: str):
    """None if `query` is exactly one SELECT or EXPLAIN statement, else the refusal's exit code."""
    import duckdb
    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as exc:
        _say(f"SQL语法错误 / SQL syntax error: {str(exc).strip()}")
        return EXIT_USAGE
    if len(statements) != 1:
        return _refuse(f"只能执行一条语句（收到{len(statements)}条）",
                       f"exactly one statement is accepted ({len(statements)} given)")
    kind = statements[0].type.name
    if kind not in ALLOWED:
        return _refuse(f"只允许查询（SELECT），不允许{kind}", f"only a query (SELECT) is allowed, not {kind}")
    return None


def cmd_sql(args) -> int:
    settings = Settings.from_env()
    import duckdb

    from warehouse.db import WarehouseBusy, WarehouseUnusable, connect
    refused = _one_statement(args.query)
    if refused is not None:
        return refused
    if not settings.warehouse.exists():
        _say(f"数据仓库不存在 / no warehouse at {settings.warehouse}: run `shangluo run` first")
        return EXIT_USAGE
    try:
        con = connect(settings.warehouse, read_only=True, config=LOCKED)
    except WarehouseBusy:
        _say(f"数据仓库正被写入 / the warehouse {settings.warehouse} is being written: try again when the run ends")
        return EXIT_BUSY
    except WarehouseUnusable as exc:
        _say(str(exc))
        return EXIT_UNUSABLE
    try:
        rel = con.sql(args.query)
        cols, rows = (rel.columns, rel.fetchall()) if rel is not None else ([], [])
    except duckdb.PermissionException as exc:
        return _refuse("查询只能读取数据仓库本身，不能读写其他文件", f"a query reads the warehouse only, no other "
                       f"file ({str(exc).splitlines()[0]})")
    except duckdb.Error as exc:
        _say(f"查询失败 / the query failed: {str(exc).strip()}")
        return EXIT_HARD
    finally:
        con.close()
    try:
        if args.json:
            print(json.dumps([dict(zip(cols, r)) for r in rows], ensure_ascii=False, default=str, indent=1))
        else:
            w = csv_writer()
            w.writerow(cols)
            w.writerows(rows)
        sys.stdout.flush()
    except BrokenPipeError:         # `shangluo sql ... | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return EXIT_OK


def csv_writer():
    import csv
    return csv.writer(sys.stdout, lineterminator="\n")
