"""The bulk path (schemas/bulk.py: a large CSV file checked in DuckDB) against the Pandera path:
the same findings, notes, rows and version on every CSV return of the broken-returns corpus and of
generated messy landings, in UTF-8 and GB18030; irregular files go the general way."""
from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from intake.check import check_part
from sample.generate import generate
from schemas.bulk import check_bulk
from schemas.catalogue import RETURNS
from schemas.checks import ID_CHECK_CHARS, ID_WEIGHTS
from schemas.core import CITY_CODE, COUNTIES, Context
from schemas.read import locate, parts_of
from schemas.validate import check

from .conftest import SAMPLE, cli_env, query, shangluo
from .corpus import PERIOD, lay_corpus
from .test_pipeline import PUBLISHED

KEY = b"bulk-test-key"
CSV_FORMS = ("csv_gb18030", "csv_english", "csv_messy", "csv_plain")


def _csv_parts(landing: Path, period: str):
    for county in (*COUNTIES, CITY_CODE):
        folder = landing / period / county
        for path in sorted(folder.iterdir()) if folder.exists() else ():
            if path.suffix.lower() != ".csv":
                continue
            parts, _ = parts_of(path)
            for part in parts:
                if part.ret is not None and not part.ret.one_row:
                    yield part, Context(period, county, date(int(period), 12, 31))


def _rows(con, relation: str) -> list:
    return sorted(con.sql(f"select * from {relation}").fetchall(), key=repr)


def _same(part, ctx) -> bool:
    """Both paths on one file; False when the bulk path declined it (an irregular file)."""
    grid = check(locate(part.grid(), part.ret), ctx, KEY)
    con = duckdb.connect()
    try:
        bulk = check_bulk(part, ctx, KEY, con)
        if bulk is None:
            return False
        where = f"{part.path.name}"
        assert sorted(bulk.findings, key=repr) == sorted(grid.findings, key=repr), where
        assert bulk.notes == grid.notes, where
        assert (bulk.rows, bulk.content_sha256) == (grid.rows, grid.content_sha256), where
        assert _rows(con, bulk.relation(con)) == _rows(con, grid.relation(con)), where
        return True
    finally:
        con.close()


def test_both_paths_agree_on_the_broken_returns_corpus(tmp_path):
    landing = tmp_path / "landing"
    shutil.copytree(SAMPLE, landing)
    lay_corpus(landing)
    results = [_same(part, ctx) for part, ctx in _csv_parts(landing, PERIOD)]
    assert len(results) >= 8 and sum(results) >= len(results) - 2, results


@pytest.mark.parametrize("seed", ["bulk-a", "bulk-b"])
def test_both_paths_agree_on_messy_csv_returns(tmp_path, seed):
    units = (*COUNTIES, CITY_CODE)
    forms = {u: CSV_FORMS[i % len(CSV_FORMS)] for i, u in enumerate(units)}
    generate(tmp_path / "landing", periods=("2022",), seed=seed, forms=forms, messy=True)
    results = [_same(part, ctx) for part, ctx in _csv_parts(tmp_path / "landing", "2022")]
    assert len(results) >= 20 and all(results), results


def _write(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("\n".join(lines).encode(encoding) + b"\n")
    return path


HEADER = "户编号,户主身份证号,县区代码,乡镇,行政村,家庭人口数,监测对象类型,主要风险类型,纳入监测日期,风险是否消除,风险消除日期,是否返贫致贫"


def _id(first17: str) -> str:
    return first17 + ID_CHECK_CHARS[sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS)) % 11]


def _line(i: int, size: str = "3", id_number: str | None = None) -> str:
    id_number = id_number or _id(f"61100219800101{i:03d}")
    return f"611002{i:07d},{id_number},611002,城关镇,东村,{size},脱贫不稳定户,因病,2021-03-01,否,,否"


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
def test_titles_totals_subtotals_blank_cells_and_masked_ids(tmp_path, encoding):
    lines = ["表1 防返贫监测对象台账", "填报单位：商州区", HEADER]
    lines += [_line(i) for i in range(1, 40)]
    lines += [_line(40, " ", "61100219800101001"), _line(41, "　"), "小计,,,,,6,,,,,,", _line(42, "25"),
              "合计,,,,,200,,,,,,", "填表人：李华"]
    lines[10] = lines[10].replace("6110020000008,", ",")        # no 户编号: the row is classified apart
    path = _write(tmp_path / "2022" / "611002" / "monitoring_households.csv", lines, encoding)
    part, ctx = next(_csv_parts(tmp_path, "2022"))
    assert _same(part, ctx)
    con = duckdb.connect()
    checked = check_bulk(part, ctx, KEY, con)
    found = {(f.source_row, f.rule_id, f.value) for f in checked.findings}
    assert (43, "monitoring_households.head_id_number.format", "6110*********1001") in found   # masked
    assert (43, "monitoring_households.household_size.required", "") in found
    assert (44, "monitoring_households.household_size.required", "") in found
    assert (46, "monitoring_households.household_size.max", "25") in found
    assert (47, "monitoring_households.household_size.total", "200") in found
    assert (11, "monitoring_households.household_id.required", "") in found
    assert checked.rows == 42 and any("小计" in n for n in checked.notes) and any("表尾" in n for n in checked.notes)
    kept = repr(con.sql(f"select * from {checked.table}").fetchall())        # what could spill to disk
    assert _id("61100219800101008") not in kept and "6110**********008" in kept
    assert path.read_bytes().count(b"\n") == len(lines)


def test_a_blank_line_inside_keeps_the_line_numbers(tmp_path):
    lines = [HEADER] + [_line(i) for i in range(1, 60)]
    lines[30], lines[40] = "", _line(40, "0")
    _write(tmp_path / "2022" / "611002" / "monitoring_households.csv", lines)
    part, ctx = next(_csv_parts(tmp_path, "2022"))
    assert _same(part, ctx)
    checked = check_bulk(part, ctx, KEY, duckdb.connect())
    assert checked.rows == 58 and [f.source_row for f in checked.findings] == [41]


@pytest.mark.parametrize("defect", ["ragged line", "quoted line break"])
def test_irregular_files_go_the_general_way(tmp_path, defect):
    lines = [HEADER] + [_line(i) for i in range(1, 60)]
    lines[40] = {"ragged line": lines[40] + ",extra", "quoted line break": lines[40].replace("东村", '"东\n村"')}[defect]
    _write(tmp_path / "2022" / "611002" / "monitoring_households.csv", lines)
    part, ctx = next(_csv_parts(tmp_path, "2022"))
    con = duckdb.connect()
    assert check_bulk(part, ctx, KEY, con) is None
    assert con.sql("select count(*) from duckdb_tables() where temporary").fetchall() == [(0,)]
    checked = check_part(part, ctx, KEY, con)      # the general reader, same answer as without DuckDB
    assert checked.table is None and checked.rows == check(locate(part.grid(), part.ret), ctx, KEY).rows


def test_a_run_with_every_csv_on_the_bulk_path_stages_the_same_rows(tmp_path, sample_build):
    shangluo("run", env=cli_env(tmp_path, SHANGLUO_BULK_BYTES="0"))
    bulk, usual = tmp_path / "warehouse.duckdb", sample_build["warehouse"]
    texts = query(bulk, "select figure_id, text from report.figures where period = '2022' and area_code = '611000'")
    assert dict(texts) == {k: r["published_text"] for k, r in PUBLISHED.items()}
    for rid in RETURNS:
        sql = f"select * from staging.{rid} order by all"
        assert query(bulk, sql) == query(usual, sql), rid
    sql = "select period, county_code, return_id, content_sha256, rows, hard_count, soft_count from landing.submissions order by all"
    assert query(bulk, sql) == query(usual, sql)
