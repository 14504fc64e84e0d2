"""The ledger's city-wide uniqueness over staging, for a business key without a county prefix (the
declared returns' city keys all carry one, so a variant of 表7 with a city-unique 安置点名称 stands in)."""
from __future__ import annotations

import os
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

import duckdb

from sample.generate import build, csv_bytes
from schemas.catalogue import RETURNS
from intake.landing import scan_period
from warehouse.db import ensure_schema
from warehouse.ledger import LedgerStore
from intake.ledger import Ledger


def test_a_key_repeated_in_another_county_rejects_the_later_version(tmp_path):
    ret = replace(RETURNS["relocation_sites"], unique_in="city")
    rows = build("2022")["relocation_sites"]
    first, second = "611002", "611021"
    copied = dict(rows[second][0], site_name=rows[first][1]["site_name"])      # 商州's second site, in 洛南's file
    landing = tmp_path / "landing"
    for county, county_rows in ((first, rows[first]), (second, [copied, *rows[second][1:]])):
        path = landing / "2022" / county / "relocation_sites.csv"
        path.parent.mkdir(parents=True)
        path.write_bytes(csv_bytes("relocation_sites", county_rows, "utf-8", "zh"))
    os.utime(landing / "2022" / second / "relocation_sites.csv", ns=(2_000_000_000_000_000_000,) * 2)   # the later one

    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    ensure_schema(con)
    entries = [e for e in scan_period(landing, "2022", 1 << 30) if e.return_id == ret.return_id]
    out = Ledger(LedgerStore(con), landing, b"key", "rules", datetime(2023, 1, 15)).process(ret, "2022", entries, {first, second})

    assert (out[first].state, out[second].state) == ("accepted", "rejected")
    found = con.execute("select county_code, source_row, value, rule_id from quality.violations").fetchall()
    assert found == [(second, 2, copied["site_name"], "relocation_sites.site_name.unique_city")]
    staged = con.execute("select county_code, count(*) from staging.relocation_sites group by all").fetchall()
    assert staged == [(first, len(rows[first]))]          # the rejected version's rows left staging


def test_tables_are_created_whole_and_an_older_table_gains_its_new_columns_and_comments(tmp_path):
    """`create_table` in one call: a new table with every column and comment; a table of an older
    version gains the missing column and the changed comments, and keeps its rows."""
    from warehouse.db import create_table, insert_values
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("create schema report")
    columns = {"area_code": ("VARCHAR", "地区代码 / area code"), "value": ("DECIMAL(18,2)", "值；含分号 / it's a value")}
    create_table(con, "report.t", "表 / table", columns)
    comments = "select column_name, data_type, comment from duckdb_columns() where table_name = 't' order by column_index"
    assert con.execute(comments).fetchall() == [("area_code", "VARCHAR", "地区代码 / area code"),
                                                ("value", "DECIMAL(18,2)", "值；含分号 / it's a value")]
    insert_values(con, "report.t", {"area_code": "VARCHAR", "value": "DECIMAL(18,2)"},
                  [["611002", Decimal("1.25")], ["611021", None]])
    newer = {**columns, "value": ("DECIMAL(18,2)", "新说明 / new text"), "complete": ("BOOLEAN", "完整 / complete")}
    create_table(con, "report.t", "表 / table", newer)
    assert con.execute(comments).fetchall() == [("area_code", "VARCHAR", "地区代码 / area code"),
                                                ("value", "DECIMAL(18,2)", "新说明 / new text"),
                                                ("complete", "BOOLEAN", "完整 / complete")]
    assert con.execute("select * from report.t order by all").fetchall() == [("611002", Decimal("1.25"), None),
                                                                            ("611021", None, None)]
    assert con.execute("select comment from duckdb_tables() where table_name = 't'").fetchall() == [("表 / table",)]
