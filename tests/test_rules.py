"""Issue 3's corpus of broken returns through the pipeline and through `shangluo validate`, and
the two paths of the rule catalogue (Pandera per county, SQL over whole tables) agreeing."""
from __future__ import annotations

import json
import shutil
from datetime import date

import duckdb
import pytest

from schemas.core import COUNTIES, Context
from schemas.read import locate, parts_of
from schemas.sqlrules import counts_sql, duplicate_count_sql, duplicates_sql, predicates, violations_sql
from schemas.validate import check

from .conftest import SAMPLE, cli_env, query, shangluo, tree_digest
from .corpus import HARD_RETURNS, PERIOD, lay_corpus


@pytest.fixture(scope="module")
def corpus_build(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("corpus")
    landing = tmp / "landing"
    shutil.copytree(SAMPLE, landing)
    corpus = lay_corpus(landing)
    before = tree_digest(landing)
    env = cli_env(tmp, landing)
    proc = shangluo("run", env=env)
    return {"wh": tmp / "warehouse.duckdb", "corpus": corpus, "landing": landing, "before": before, "env": env,
            "stdout": proc.stdout}


def test_each_defect_is_found_where_the_clerk_sees_it(corpus_build):
    missing = []
    for e in corpus_build["corpus"]:
        found = query(corpus_build["wh"], "select severity, source_row, column_header from quality.violations "
                                          "where period = ? and county_code = ? and return_id = ? and rule_id = ?",
                      [PERIOD, e.county, e.return_id, e.rule_id])
        if (e.severity, e.row, e.header) not in found:
            missing.append((e, found))
    assert not missing, "\n".join(f"{e} -> {found}" for e, found in missing)


def test_messages_are_in_chinese_and_english_and_ids_masked(corpus_build):
    rows = query(corpus_build["wh"], "select message_zh, message_en, value from quality.violations "
                                     "where rule_id like '%head_id_number%'")
    assert rows and all(zh and en for zh, en, _ in rows)
    assert all("*" in v for _, _, v in rows)


def test_one_bad_county_never_blocks_the_others(corpus_build):
    hard = HARD_RETURNS(corpus_build["corpus"])
    states = query(corpus_build["wh"], "select county_code, return_id, state from landing.status where period = ?",
                   [PERIOD])
    for county, return_id, state in states:
        want = "rejected" if (county, return_id) in hard - {("611026", "industry")} else "accepted"
        assert state == want, (county, return_id, state)
    assert ("611026", "industry", "accepted") in states           # the older of two files stays in force
    ledger = query(corpus_build["wh"], "select status, count(*) from landing.submissions where period = ? "
                                       "group by status", [PERIOD])
    assert dict(ledger)["rejected"] == len(hard)
    assert "退回 rejected" in corpus_build["stdout"]


def test_landing_is_byte_identical_after_the_run(corpus_build):
    assert tree_digest(corpus_build["landing"]) == corpus_build["before"]


def test_validate_finds_the_same_for_the_clerk(corpus_build, tmp_path):
    folder = corpus_build["landing"] / PERIOD / "611021"
    proc = shangluo("validate", str(folder), "--json", "--xlsx", str(tmp_path / "fb.xlsx"),
                    env=corpus_build["env"], check=False)
    assert proc.returncode == 1
    got = {(v["return_id"], v["rule_id"], v["source_row"], v["column_header"]) for v in json.loads(proc.stdout)}
    want = {(e.return_id, e.rule_id, e.row, e.header) for e in corpus_build["corpus"]
            if e.county == "611021" and not e.rule_id.startswith("cross.")}
    assert want <= got
    import openpyxl
    ws = openpyxl.load_workbook(tmp_path / "fb.xlsx")["说明"]
    assert ws.max_row == len(got) + 1 and ws["A1"].value == "表号"


def test_both_paths_of_the_catalogue_find_the_same_violations(corpus_build):
    """Pandera per county and the SQL forms over the typed table agree on every rule that has both."""
    compared = 0
    for county in COUNTIES:
        for path in sorted((corpus_build["landing"] / PERIOD / county).iterdir()):
            parts, _ = parts_of(path) if path.suffix in (".csv", ".xlsx", ".xls") else ([], [])
            for part in parts:
                if part.ret is None:
                    continue
                ctx = Context(PERIOD, county, date(2022, 12, 31))
                loc = locate(part.grid(), part.ret)
                checked = check(loc, ctx, b"k")
                column_of = {info.rule_id: info.columns[0] for info, _ in predicates(part.ret, ctx)}
                pandera = {(f.rule_id, f.source_row) for f in checked.findings if f.rule_id in column_of}
                con = duckdb.connect()
                con.register("typed", checked.typed)
                sql = {(rule, loc.row_of(column_of[rule], i))
                       for i, rule in con.sql(violations_sql(part.ret, ctx, "typed", "__i")).fetchall()}
                assert pandera == sql, (path, part.sheet)
                counted = dict(con.sql(counts_sql(part.ret, ctx, "typed")).fetchall())   # the asset check's one scan
                assert counted == {r: sum(1 for rr, _ in pandera if rr == r) for r, _ in pandera}, path
                if part.ret.key and part.ret.unique_in in ("county", "city"):
                    dups = {loc.source_rows[i] for i, in con.sql(duplicates_sql(part.ret, "typed", "__i", "")).fetchall()}
                    assert dups == {f.source_row for f in checked.findings if f.rule_id.endswith(".unique")}, path
                    assert con.sql(duplicate_count_sql(part.ret, "typed", "")).fetchall()[0][0] == len(dups), path
                compared += len(pandera)
    assert compared >= 8


def test_no_clear_id_number_in_tables_logs_or_dagster_storage(corpus_build):
    import re
    from sample.generate import build
    clear = {r["head_id_number"].encode() for period in ("2021", "2022")
             for rows in build(period)["monitoring_households"].values() for r in rows}
    pattern = re.compile(rb"\d{17}[\dX]")
    state = corpus_build["wh"].parent / "dagster"
    files = [corpus_build["wh"], *(p for p in state.rglob("*") if p.is_file())]
    assert len(files) > 3
    for path in files:
        assert not set(pattern.findall(path.read_bytes())) & clear, path
    assert not set(pattern.findall(corpus_build["stdout"].encode())) & clear
