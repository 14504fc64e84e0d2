"""Every DuckDB connection of the project, with the same settings: SHANGLUO_DUCKDB_MEMORY_LIMIT
(for example `2GB`; default DuckDB's, 80% of memory) and SHANGLUO_DUCKDB_THREADS (default all
cores).  The benchmark's floor uses the same settings."""
from __future__ import annotations

import os

import duckdb


def settings() -> dict[str, str]:
    out = {}
    if os.environ.get("SHANGLUO_DUCKDB_MEMORY_LIMIT"):
        out["memory_limit"] = os.environ["SHANGLUO_DUCKDB_MEMORY_LIMIT"]
    if os.environ.get("SHANGLUO_DUCKDB_THREADS"):
        out["threads"] = os.environ["SHANGLUO_DUCKDB_THREADS"]
    return out


def connect(database: str = ":memory:", read_only: bool = False) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(database, read_only=read_only, config=settings())
