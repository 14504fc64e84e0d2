"""Faults and hostile input, each played for real (issue 12): a failed commit, a SQL console that
would write, files that are not files, unusable files, another pseudonym key, ID numbers where
they do not belong, a zip bomb, kills in the middle of a multi-period rewrite, a corrupt warehouse.

Runs whose permissions must bind are started as root without capabilities (`setpriv`): the
file's mode then applies to root as to its owner, as it would to an unprivileged clerk account.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import textwrap
import time
import zipfile
import zlib
from pathlib import Path

import openpyxl
import pytest

from .conftest import ROOT, SAMPLE, cli_env, query, shangluo, tree_digest

COUNTIES = ("611024", "611026")
NO_CAPS = ["setpriv", "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all", "--"]
ID_SHAPE = re.compile(r"[0-9]{17}[0-9Xx]|(?<![0-9])[0-9]{15}(?![0-9])")


def small_landing(tmp: Path, periods=("2021", "2022")) -> Path:
    landing = tmp / "landing"
    for period in periods:
        for county in COUNTIES:
            shutil.copytree(SAMPLE / period / county, landing / period / county)
    return landing


def run_without_caps(*args, env, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([*NO_CAPS, sys.executable, "-m", "cli.main", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def no_traceback(proc):
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def _touch_employment(landing: Path, period: str, value: str):
    """Change one figure of 611024's employment return of `period` (a new version)."""
    path = landing / period / "611024" / "employment.csv"
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    header = lines[0].split(",")
    cells = lines[1].split(",")
    cells[header.index("employed_persons")] = value
    path.write_text("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n", encoding="utf-8")


def state(wh: Path) -> dict:
    """What each period holds: its versions, status, staging and figures."""
    out = {}
    for period in ("2021", "2022"):
        out[period] = (
            sorted(query(wh, "select submission_id, status from landing.submissions where period = ?", [period])),
            sorted(query(wh, "select county_code, return_id, state, submission_id from landing.status where period = ?",
                         [period])),
            query(wh, "select sum(employed_persons) from staging.employment where period = ?", [period]),
            sorted(query(wh, "select area_code, figure_id, value from report.figures where period = ?", [period])),
        )
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Two counties, two periods, one run: a warehouse to attack."""
    tmp = tmp_path_factory.mktemp("built")
    landing = small_landing(tmp)
    env = cli_env(tmp, landing)
    shangluo("run", env=env)
    return {"tmp": tmp, "landing": landing, "env": env, "warehouse": tmp / "warehouse.duckdb"}


# ------------------------------------------------------------------ 2: the SQL console

def test_sql_touches_nothing_but_the_warehouse_and_only_reads(built, tmp_path):
    wh, landing, env = built["warehouse"], built["landing"], built["env"]
    other = tmp_path / "other.duckdb"
    shangluo("sql", "select 1", env={**env, "SHANGLUO_WAREHOUSE": str(other)}, check=False)
    before_wh, before_landing = wh.read_bytes(), tree_digest(landing)
    clear = landing / "2022" / "611024" / "monitoring_households.csv"
    attacks = [
        f"copy (select 1) to '{wh}'",
        f"copy (select 1) to '{landing}/2022/611024/planted.csv'",
        f"select * from read_csv('{clear}')",
        f"select * from '{clear}'",
        f"select content from read_text('{clear}')",
        f"select * from glob('{landing}/*')",
        f"attach '{tmp_path}/new.duckdb' as x",
        "install httpfs", "load httpfs",
        "set memory_limit = '64GB'", "set enable_external_access = true", "reset lock_configuration",
        "select 1; select 2",
        "select 1; copy (select 1) to 'x.csv'",
        "create table staging.planted (x int)",
        "delete from landing.submissions",
    ]
    for attack in attacks:
        proc = shangluo("sql", attack, env=env, check=False)
        assert proc.returncode == 2 and "拒绝执行" in proc.stdout and "refused" in proc.stdout, (attack, proc.stdout)
        no_traceback(proc)
    assert wh.read_bytes() == before_wh and tree_digest(landing) == before_landing
    assert not (tmp_path / "new.duckdb").exists() and not (ROOT / "x.csv").exists()
    out = shangluo("sql", "select count(*) as n from landing.submissions", env=env).stdout
    assert out.splitlines()[0] == "n" and int(out.splitlines()[1]) > 0


def test_sql_reports_a_corrupt_warehouse_and_a_closed_pipe_quietly(built, tmp_path):
    env = built["env"]
    corrupt = tmp_path / "corrupt.duckdb"
    corrupt.write_bytes(built["warehouse"].read_bytes()[:20000])       # cut short
    garbage = tmp_path / "garbage.duckdb"
    garbage.write_bytes(b"1\n2\n")
    for path in (corrupt, garbage):
        bad = {**env, "SHANGLUO_WAREHOUSE": str(path)}
        for args in (("sql", "select count(*) from landing.submissions"), ("report", "--period", "2022", "--out",
                                                                           str(tmp_path / "r")), ("run",)):
            proc = shangluo(*args, env=bad, check=False)
            assert proc.returncode == 4 and "损坏" in proc.stdout and "corrupt" in proc.stdout, (args, proc.stdout)
            no_traceback(proc)
    assert garbage.read_bytes() == b"1\n2\n"
    pipe = subprocess.run(f"{sys.executable} -m cli.main sql 'select * from range(2000000)' | head -n 2", shell=True,
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert pipe.stdout.splitlines() == ["range", "0"] and pipe.stderr == "", pipe.stderr


# ------------------------------------------------------------------ 1: a failed commit

def warehouse_in_its_own_folder(tmp_path: Path):
    """A built warehouse alone in a folder (whose mode can then deny its write-ahead log)."""
    landing = small_landing(tmp_path)
    home = tmp_path / "wh"
    home.mkdir()
    env = cli_env(tmp_path, landing, SHANGLUO_WAREHOUSE=str(home / "warehouse.duckdb"))
    shangluo("run", env=env)
    wh = home / "warehouse.duckdb"
    return landing, home, env, wh, state(wh), wh.read_bytes()


def test_a_failed_commit_is_a_failed_run_and_the_warehouse_is_as_before(tmp_path):
    landing, home, env, wh, before, files = warehouse_in_its_own_folder(tmp_path)
    _touch_employment(landing, "2021", "77777")
    _touch_employment(landing, "2022", "88888")
    home.chmod(0o555)            # the warehouse file stays writable; its write-ahead log cannot be created
    try:
        proc = run_without_caps("run", env=env)
    finally:
        home.chmod(0o755)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "提交失败" in proc.stdout and "the commit failed" in proc.stdout and "unchanged" in proc.stdout
    assert "accepted" not in proc.stdout          # no summary of a run that stored nothing
    no_traceback(proc)
    assert wh.read_bytes() == files and state(wh) == before
    shangluo("run", env=env)                        # writable again: the run goes through
    assert state(wh) != before


DAGSTER_RUN = textwrap.dedent("""
    import sys
    import dagster as dg
    from pipelines.definitions import defs
    from pipelines.options import run_config
    with dg.DagsterInstance.local_temp(sys.argv[1]) as instance:
        result = defs.resolve_job_def("build_period").execute_in_process(
            run_config=run_config(), partition_key="2022", instance=instance, raise_on_error=False)
        run = instance.get_run_by_id(result.run_id)
        print("RUN_STATUS", run.status.value)
        for event in result.all_events:
            if event.is_step_failure:
                error = event.step_failure_data.error
                while error.cause is not None:
                    error = error.cause
                print("STEP_FAILURE", event.step_key, error.message.strip())
""")


def test_a_failed_commit_fails_a_run_that_dagster_starts(tmp_path):
    """A run started by Dagster (the sensor, the schedule, the UI) commits in its last step: a commit
    that fails fails that step and the run, which Dagster then records as failed."""
    landing, home, env, wh, before, files = warehouse_in_its_own_folder(tmp_path)
    _touch_employment(landing, "2022", "88888")
    (tmp_path / "instance").mkdir()
    script = [sys.executable, "-c", DAGSTER_RUN, str(tmp_path / "instance")]
    home.chmod(0o555)            # the warehouse file stays writable; its write-ahead log cannot be created
    try:
        proc = subprocess.run([*NO_CAPS, *script], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    finally:
        home.chmod(0o755)
    assert "RUN_STATUS FAILURE" in proc.stdout, proc.stdout + proc.stderr
    assert "STEP_FAILURE report" in proc.stdout and "Failed to commit" in proc.stdout, proc.stdout
    assert wh.read_bytes() == files and state(wh) == before
    proc = subprocess.run(script, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert "RUN_STATUS SUCCESS" in proc.stdout, proc.stdout + proc.stderr      # writable again: it goes through
    assert query(wh, "select sum(employed_persons) from staging.employment where period = '2022' "
                     "and county_code = '611024'") == [(88888,)]


def test_a_run_that_dagster_starts_refuses_another_pseudonym_key(built, tmp_path):
    wh = built["warehouse"]
    before = state(wh)
    (tmp_path / "instance").mkdir()
    env = {**built["env"], "SHANGLUO_PII_KEY": "another-key"}
    proc = subprocess.run([sys.executable, "-c", DAGSTER_RUN, str(tmp_path / "instance")], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert "RUN_STATUS FAILURE" in proc.stdout and "not the pseudonym key" in proc.stderr, proc.stdout + proc.stderr
    assert state(wh) == before


def test_a_period_outside_the_partitions_is_a_clear_refusal(built):
    proc = shangluo("run", "--period", "2099", env=built["env"], check=False)
    assert proc.returncode == 2 and "2099" in proc.stdout and "outside" in proc.stdout, proc.stdout + proc.stderr
    no_traceback(proc)


# ------------------------------------------------------------------ 3, 4, 5, 10: files that are not files

def _raw_deflate_member(name: str, data: bytes) -> tuple[bytes, bytes, int, int]:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return name.encode(), c.compress(data) + c.flush(), zlib.crc32(data), len(data)


def _bomb_member(name: str, head: bytes, chunk: bytes, repeat: int, tail: bytes):
    """A member of `head + chunk * repeat + tail` bytes, compressed once per distinct piece: after a
    full flush a deflate block does not refer back, so the same compressed piece can repeat."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(head) + c.flush(zlib.Z_FULL_FLUSH)
    piece = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
    last = c.compress(tail) + c.flush()
    crc = zlib.crc32(head)
    for _ in range(repeat):
        crc = zlib.crc32(chunk, crc)
    crc = zlib.crc32(tail, crc)
    return name.encode(), (first, piece, repeat, last), crc, len(head) + len(chunk) * repeat + len(tail)


def write_zip_bomb(path: Path, unpacked_gb: float = 2.0):
    """A real workbook (openpyxl) whose sheet XML is replaced by some GB of rows: a few MB on disk."""
    real = path.with_suffix(".real.xlsx")
    wb = openpyxl.Workbook()
    wb.active.title = "industry"
    wb.active.append(["county_code", "township"])
    wb.save(real)
    members = []
    with zipfile.ZipFile(real) as z:
        for info in z.infolist():
            if info.filename == "xl/worksheets/sheet1.xml":
                row = b'<row><c t="inlineStr"><is><t>611024</t></is></c><c t="inlineStr"><is><t>AAAA</t></is></c></row>'
                chunk = row * ((1 << 20) // len(row))
                members.append(_bomb_member(info.filename, b'<?xml version="1.0"?><worksheet xmlns="http://schemas.'
                                            b'openxmlformats.org/spreadsheetml/2006/main"><sheetData>', chunk,
                                            int(unpacked_gb * 1024), b"</sheetData></worksheet>"))
            else:
                members.append(_raw_deflate_member(info.filename, z.read(info)))
    real.unlink()
    central, offset = [], 0
    with path.open("wb") as fh:
        for name, body, crc, size in members:
            parts = body if isinstance(body, tuple) else (body, b"", 0, b"")
            csize = len(parts[0]) + len(parts[1]) * parts[2] + len(parts[3])
            assert size < 2**32 and csize < 2**32
            fh.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, csize, size, len(name), 0) + name)
            fh.write(parts[0])
            for _ in range(parts[2]):
                fh.write(parts[1])
            fh.write(parts[3])
            central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc, csize, size,
                                       len(name), 0, 0, 0, 0, 0, offset) + name)
            offset += 30 + len(name) + csize
        directory = b"".join(central)
        fh.write(directory)
        fh.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central), len(directory), offset, 0))


def test_a_zip_bomb_is_refused_quickly_in_bounded_memory(tmp_path):
    bomb = tmp_path / "industry.xlsx"
    write_zip_bomb(bomb, 3.0)
    assert bomb.stat().st_size < 20 * 2**20
    with zipfile.ZipFile(bomb) as z:      # a well-formed archive: its one sheet unpacks to 3 GB
        assert max(i.file_size for i in z.infolist()) > 3 * 2**30 - 2**20
    probe = textwrap.dedent(f"""
        import resource, time
        from pathlib import Path
        from schemas.messages import Unusable
        from schemas.read import Part, parts_of, read_xlsx_sheet
        start = time.monotonic()
        for attempt in (lambda: parts_of(Path({str(bomb)!r})), lambda: read_xlsx_sheet(Path({str(bomb)!r}), "industry")):
            try:
                attempt()
                print("READ")
            except Unusable as exc:
                print("UNUSABLE", exc.en)
        print("SECONDS", time.monotonic() - start)
        print("MAXRSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    """)
    proc = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    lines = proc.stdout.splitlines()
    assert [line.split()[0] for line in lines[:2]] == ["UNUSABLE", "UNUSABLE"], proc.stdout + proc.stderr
    assert "too big when unpacked" in lines[0]
    assert float(lines[2].split()[1]) < 5
    assert int(lines[3].split()[1]) < 1024 * 1024        # KB: under 1 GB


def test_files_that_are_not_files_or_cannot_be_used_are_refused_and_the_rest_goes_on(tmp_path):
    landing = small_landing(tmp_path, ("2022",))
    a, b = landing / "2022" / "611024", landing / "2022" / "611026"
    outside = tmp_path / "outside"
    shutil.copytree(SAMPLE / "2022" / "611025", outside / "611025")
    shutil.copytree(SAMPLE / "2021", outside / "2021")
    # 3: a FIFO, a socket, a device, a file linked out; 4: UTF-16, unreadable, not a workbook, a zip bomb
    (a / "employment.csv").unlink()
    os.mkfifo(a / "employment.csv")
    (a / "guarantees.csv").unlink()
    sock = socket.socket(socket.AF_UNIX)
    short = Path(tempfile.mkdtemp(dir=tmp_path.parent))       # a socket's path is short: bind, then move it
    sock.bind(str(short / "s"))
    os.rename(short / "s", a / "guarantees.csv")
    (a / "assistance.csv").unlink()
    os.mknod(a / "assistance.csv", stat.S_IFCHR | 0o644, os.makedev(1, 3))
    (a / "construction.csv").unlink()
    (a / "construction.csv").symlink_to(outside / "611025" / "表9.xls")
    utf16 = (SAMPLE / "2022" / "611026" / "表5.csv").read_text(encoding="utf-8-sig")
    (b / "表5.csv").write_bytes(utf16.encode("utf-16"))
    (b / "表6.csv").chmod(0o000)
    (b / "表4.csv").unlink()
    (b / "表4.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    (b / "表7.csv").unlink()
    write_zip_bomb(b / "表7.xlsx", 2.0)
    # 5: a county folder and a period folder that are links out of landing
    (landing / "2022" / "611025").symlink_to(outside / "611025", target_is_directory=True)
    (landing / "2021").symlink_to(outside / "2021", target_is_directory=True)
    before = tree_digest(outside)
    env = cli_env(tmp_path, landing)
    try:
        proc = run_without_caps("run", env=env, timeout=400)
    finally:
        (b / "表6.csv").chmod(0o644)
        sock.close()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    no_traceback(proc)
    wh = tmp_path / "warehouse.duckdb"
    found = {(c, r): en for c, r, en in query(
        wh, "select county_code, return_id, message_en from quality.violations where rule_id = 'file.unusable'")}
    assert "FIFO" in found[("611024", "employment")] and "FIFO" in found[("611024", "guarantees")]
    assert "FIFO" in found[("611024", "assistance")]
    assert "landing" in found[("611024", "construction")]
    assert "not a CSV text file" in found[("611026", "village_register")]          # UTF-16
    assert "permission" in found[("611026", "employment")].lower()
    assert "not an Excel" in found[("611026", "industry")]
    assert "too big when unpacked" in found[("611026", "relocation_sites")]
    assert len(found) == 8
    submissions = dict(query(wh, "select county_code || ' ' || return_id, notes from landing.submissions "
                                 "where status = 'rejected' and hard_count = 1"))
    assert len(submissions) == 8 and "FIFO" in submissions["611024 employment"]
    assert "too big when unpacked" in submissions["611026 relocation_sites"]
    states = dict(query(wh, "select county_code || ' ' || return_id, state from landing.status where period = '2022'"))
    assert sum(s == "accepted" for k, s in states.items() if k[:6] in COUNTIES) == 20 - 8
    refused = dict(query(wh, "select source, message_en from landing.inventory where kind = 'unusable' "
                             "and return_id is null"))
    assert "landing" in refused["2022/611025"] and "landing" in refused["2021"]
    assert query(wh, "select count(*) from landing.submissions where period = '2021' or county_code = '611025'")[0][0] == 0
    assert tree_digest(outside) == before


# ------------------------------------------------------------------ 6: the pseudonym key

def test_another_pseudonym_key_is_refused_unless_told_to_rekey(tmp_path):
    landing = small_landing(tmp_path)
    env = cli_env(tmp_path, landing)
    wh = tmp_path / "warehouse.duckdb"
    shangluo("run", env=env)
    hashes = lambda: sorted(query(wh, "select head_id_number_hash from staging.monitoring_households "  # noqa: E731
                                      "where head_id_number_hash is not null"))
    first, files = hashes(), wh.read_bytes()
    other = {**env, "SHANGLUO_PII_KEY": "another-key-entirely"}
    proc = shangluo("run", env=other, check=False)
    assert proc.returncode == 2 and "--rekey" in proc.stdout and "SHANGLUO_PII_KEY" in proc.stdout
    no_traceback(proc)
    assert wh.read_bytes() == files
    # a version in force whose file has since been replaced (by a rejected one) cannot be re-keyed
    households = landing / "2022" / "611024" / "monitoring_households.csv"
    good = households.read_bytes()
    lines = good.decode("utf-8-sig").splitlines()
    size = lines[0].split(",").index("household_size")
    cells = lines[1].split(",")
    cells[size] = "many"
    households.write_text("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n", encoding="utf-8")
    shangluo("run", env=env)
    assert query(wh, "select newer_rejected from landing.status where period = '2022' and county_code = '611024' "
                     "and return_id = 'monitoring_households'") == [(True,)]
    files = wh.read_bytes()
    proc = shangluo("run", "--rekey", env=other, check=False)
    assert proc.returncode == 1 and "cannot be read again with the new key" in proc.stdout
    assert "2022 611024 monitoring_households" in proc.stdout
    no_traceback(proc)
    assert wh.read_bytes() == files
    households.write_bytes(good)
    proc = shangluo("run", "--period", "2022", "--rekey", env=other)
    rekeyed = hashes()
    assert len(rekeyed) == len(first) and not set(rekeyed) & set(first)      # every version, both periods
    assert b"another-key-entirely" not in wh.read_bytes()
    shangluo("run", env=other)                                                # the new key is the warehouse's now
    assert shangluo("run", env=env, check=False).returncode == 2


# ------------------------------------------------------------------ 7, 11: ID numbers outside landing

@pytest.mark.parametrize("bulk_bytes", ["", "1"], ids=["pandera", "bulk"])
def test_id_numbers_are_masked_wherever_they_are_stored(tmp_path, bulk_bytes):
    landing = small_landing(tmp_path, ("2022",))
    path = landing / "2022" / "611024" / "monitoring_households.csv"
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    header = lines[0].split(",")
    i, j = header.index("household_id"), header.index("head_id_number")
    header[i], header[j] = header[j], header[i]                 # the two columns swapped
    path.write_text("\n".join([",".join(header), *lines[1:]]) + "\n", encoding="utf-8")
    village = landing / "2022" / "611024" / "village_register.csv"
    rows = village.read_text(encoding="utf-8-sig").splitlines()
    cells = rows[1].split(",")
    name = rows[0].split(",").index("village_name")
    cells[name] = "东1村（联系人611024199001011234）"
    village.write_text("\n".join([rows[0], ",".join(cells), *rows[2:]]) + "\n", encoding="utf-8")
    county = landing / "2022" / "611024"
    shutil.copy(county / "employment.csv", county / "表3就业帮扶-联系人611024199001011234.csv")   # an ID in a file name
    book = openpyxl.Workbook()
    book.active.title = "610102199001011234"                                  # ... in the name of a sheet
    book.save(county / "家庭情况.xlsx")
    (county / "guarantees.csv").rename(county / "表2三保障_20221231093015123.csv")   # a timestamp is no ID number
    env = cli_env(tmp_path, landing, **({"SHANGLUO_BULK_BYTES": bulk_bytes} if bulk_bytes else {}))
    ran = shangluo("run", env=env)
    assert not ID_SHAPE.search(ran.stdout + ran.stderr)
    wh = tmp_path / "warehouse.duckdb"
    assert query(wh, "select count(*) from quality.violations where return_id = 'monitoring_households'")[0][0] > 100
    refused = "the file or sheet name holds an ID number: rename it and send it again (ID numbers belong in cells only)"
    (book_source, book_message), named = query(wh, "select source, message_en from landing.inventory "
                                                   "where kind = 'unusable' order by all")
    assert named == ("2022/611024/表3就业帮扶-联系人6110**********1234.csv", refused)
    assert book_source == "2022/611024/家庭情况.xlsx" and "its sheets (6101**********1234) name a return" in book_message
    assert query(wh, "select status from landing.submissions where return_id = 'guarantees' and county_code = '611024'") \
        == [("accepted",)]
    assert query(wh, "select status from landing.submissions where source like '%表3就业帮扶%'") == [("rejected",)]
    columns = query(wh, "select schema_name, table_name, column_name from duckdb_columns() "
                        "where data_type = 'VARCHAR' and database_name = current_database() and not "
                        "regexp_matches(column_name, 'sha256|_hash$|_id$|digest|fingerprint')")
    leaks = []
    for schema, table, column in columns:
        leaks += query(wh, f'select \'{schema}.{table}.{column}\', "{column}" from {schema}."{table}" '
                           f'where regexp_matches("{column}", \'(^|[^0-9])([0-9]{{17}}[0-9Xx]|[0-9]{{15}})([^0-9]|$)\')')
    assert leaks == [], leaks[:5]
    assert query(wh, "select village_name from staging.village_register where village_name like '东1村（%'") == \
        [("东1村（联系人6110**********1234）",)]
    assert query(wh, "select severity, value from quality.violations where rule_id = "
                     "'village_register.village_name.id_number_in_text'") == [("soft", "东1村（联系人6110**********1234）")]
    shown = shangluo("sql", "select business_key, value, message_zh from quality.violations", env=env).stdout
    assert not ID_SHAPE.search(shown)


# ------------------------------------------------------------------ 9: one transaction for every period

def test_a_kill_at_any_moment_leaves_every_period_old_or_every_period_new(tmp_path):
    landing = small_landing(tmp_path)
    env = cli_env(tmp_path, landing)
    wh = tmp_path / "warehouse.duckdb"
    shangluo("run", env=env)
    old_copy = tmp_path / "old.duckdb"
    shutil.copy(wh, old_copy)
    old = state(wh)
    _touch_employment(landing, "2021", "70001")
    _touch_employment(landing, "2022", "80001")
    started = time.monotonic()
    shangluo("run", "--force", env=env)
    took = time.monotonic() - started
    new = state(wh)
    assert old["2021"] != new["2021"] and old["2022"] != new["2022"]
    # kill on seeing each line the run prints (the second period's first line is where, with one
    # commit per period, the first period was already committed), and at moments spread over the
    # time such a run takes (the third line is the summary's first, printed after the commit)
    points = [("line", 1), ("line", 2), ("line", 3), *(("seconds", took * f) for f in (0.15, 0.35, 0.55, 0.75, 0.95))]
    outcomes = []
    for how, at in points:
        shutil.copy(old_copy, wh)
        proc = subprocess.Popen([sys.executable, "-m", "cli.main", "run", "--force"], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
        if how == "line":
            for _ in range(at):
                proc.stdout.readline()
        else:
            time.sleep(at)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        now = state(wh)
        assert now in (old, new), f"a mix after SIGKILL at {how} {at}"
        outcomes.append(now == new)
    assert outcomes[:3] == [False, False, True]     # killed while running: all old; once committed: all new
    stale = tmp_path / "reports" / ".pending-0123abcd"     # report files a killed run left waiting for its commit
    stale.mkdir(parents=True, exist_ok=True)
    (stale / "report-2022.md").write_text("报告（旧）", encoding="utf-8")
    shangluo("run", "--force", env=env)
    assert state(wh) == new
    assert list((tmp_path / "reports").glob(".pending-*")) == []          # the next run drops them


def _signal_a_run(env: dict, sig: int, delay: float) -> tuple[int, str, str]:
    """`shangluo run --force` sent `sig` `delay` seconds after its first line: (exit code, stdout, stderr)."""
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", "run", "--force"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.readline()
    time.sleep(delay)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


def test_ctrl_c_is_a_clear_message_and_leaves_the_warehouse_unchanged(built, tmp_path):
    """Ctrl-C at any moment of a run: before its Dagster run starts, while Dagster creates it, in
    the middle of a return, between periods.  Before, depending on the moment, the run failed with
    a step's error, printed a traceback, died of the signal, or went on and committed (Dagster's
    interruption raised in a garbage collector's callback and lost)."""
    wh = tmp_path / "warehouse.duckdb"
    shutil.copy(built["warehouse"], wh)
    env = {**built["env"], "SHANGLUO_WAREHOUSE": str(wh)}
    before = state(wh)
    files = wh.read_bytes()
    for delay in (0, 0.3, 0.8, 1.5, 2.5):          # seconds after the first line, the first period's
        code, out, err = _signal_a_run(env, signal.SIGINT, delay)
        assert code == 130, (delay, out + err)
        assert "已中断" in out and "interrupted" in out and "Traceback" not in out + err, (delay, out + err)
        assert state(wh) == before and wh.read_bytes() == files, delay


def test_ctrl_c_during_the_commit_leaves_report_files_that_match_the_warehouse(tmp_path):
    """Ctrl-C while the commit is written (its WAL file appears): before, DuckDB stopped the commit
    statement with RuntimeError('Query interrupted') after it had committed, the command printed a
    traceback and exited 1, the new report files stayed in .pending folders with the old ones in
    place, and the next run, finding the stamps recorded, kept those old reports as built."""
    landing = small_landing(tmp_path)
    env = cli_env(tmp_path, landing)
    wh, reports = tmp_path / "warehouse.duckdb", tmp_path / "reports"
    shangluo("run", env=env)
    before, report_before = state(wh), (reports / "report-2022.md").read_bytes()
    _touch_employment(landing, "2022", "80002")
    wal = tmp_path / "warehouse.duckdb.wal"
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", "run"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while not wal.exists() and proc.poll() is None:
        time.sleep(0.0005)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    assert "已中断" in out and "Traceback" not in out + err, out + err
    assert not list(reports.glob(".pending-*"))
    stored = state(wh) != before
    assert stored == ((reports / "report-2022.md").read_bytes() != report_before)     # figures and report agree
    assert stored == ("the run was committed" in out)
    again = shangluo("run", env=env)
    assert state(wh) != before and (reports / "report-2022.md").read_bytes() != report_before, again.stdout


def test_sigterm_during_a_run_is_rolled_back_like_ctrl_c(tmp_path):
    """SIGTERM (a service manager's stop, `timeout`): before, on the run's own thread, the process
    died at once, its report files left in .pending folders and its Dagster run STARTED until the
    next run found it."""
    landing = small_landing(tmp_path)
    env = cli_env(tmp_path, landing)
    wh, reports = tmp_path / "warehouse.duckdb", tmp_path / "reports"
    shangluo("run", env=env)
    before, files = state(wh), wh.read_bytes()
    for delay in (0.5, 2.5):
        code, out, err = _signal_a_run(env, signal.SIGTERM, delay)
        assert code == 143, (delay, out + err)
        assert "已中断" in out and "Traceback" not in out + err, (delay, out + err)
        assert state(wh) == before and wh.read_bytes() == files, delay
        assert not list(reports.glob(".pending-*")), delay
    runs = subprocess.run([sys.executable, "-c", "import dagster as dg; print(sorted({r.status.value for r in "
                           "dg.DagsterInstance.get().get_runs()}))"], cwd=ROOT, capture_output=True, text=True,
                          env={**env, "DAGSTER_HOME": env["SHANGLUO_DAGSTER_STATE"]}, check=True)
    assert "STARTED" not in runs.stdout and "FAILURE" in runs.stdout, runs.stdout + runs.stderr


def test_a_failure_in_the_second_period_leaves_every_period_unchanged_and_says_so(tmp_path):
    landing = small_landing(tmp_path)
    env = cli_env(tmp_path, landing)
    wh = tmp_path / "warehouse.duckdb"
    shangluo("run", env=env)
    before, files = state(wh), wh.read_bytes()
    report_2021 = (tmp_path / "reports" / "report-2021.md").read_bytes()
    _touch_employment(landing, "2021", "70002")
    _touch_employment(landing, "2022", "80002")
    (tmp_path / "reports" / "report-2022.md").unlink()
    (tmp_path / "reports" / "report-2022.md").mkdir()                  # 2022's report cannot be written
    proc = shangluo("run", env=env, check=False)
    assert proc.returncode == 1
    assert "the changes of every period of this run were rolled back" in proc.stdout
    assert "2022" in proc.stdout and "step failed" in proc.stdout
    no_traceback(proc)
    assert state(wh) == before and wh.read_bytes() == files
    assert (tmp_path / "reports" / "report-2021.md").read_bytes() == report_2021     # no report of figures not stored
    assert not list((tmp_path / "reports").glob(".pending-*"))
    (tmp_path / "reports" / "report-2022.md").rmdir()
    shangluo("run", env=env)
    after = state(wh)
    assert after["2021"] != before["2021"] and after["2022"] != before["2022"]


# ------------------------------------------------------------------ 12: a warehouse we may not use

def test_an_unreadable_or_read_only_warehouse_is_a_clear_message(built, tmp_path):
    wh = tmp_path / "warehouse.duckdb"
    shutil.copy(built["warehouse"], wh)
    env = {**built["env"], "SHANGLUO_WAREHOUSE": str(wh)}
    files = wh.read_bytes()
    wh.chmod(0o444)
    proc = run_without_caps("run", env=env)
    assert proc.returncode == 4 and "无权" in proc.stdout and "no permission" in proc.stdout, proc.stdout + proc.stderr
    no_traceback(proc)
    assert run_without_caps("sql", "select count(*) from landing.status", env=env).returncode == 0
    wh.chmod(0o000)
    for args in (("sql", "select 1"), ("report", "--period", "2022", "--out", str(tmp_path / "r")), ("run",)):
        proc = run_without_caps(*args, env=env)
        assert proc.returncode == 4 and "no permission" in proc.stdout, (args, proc.stdout + proc.stderr)
        no_traceback(proc)
    wh.chmod(0o644)
    assert wh.read_bytes() == files


def test_numbers_too_large_for_their_type_are_type_findings_not_a_crash(tmp_path):
    """A count past 2^63, an amount of 13 integer digits or more, a number of 33 digits: each is a
    `type` finding on its cell (they used to make the typing statement raise, stopping the file)."""
    path = tmp_path / "2022" / "611024" / "social_assistance.csv"
    path.parent.mkdir(parents=True)
    path.write_text("dibao_tekun_persons,temporary_aid_funds_10k_yuan,dibao_tekun_funds_10k_yuan,temporary_aid_person_times\n"
                    "99999999999999999999,12345678901234567.5,999999999999999999999999999999999,11497\n",
                    encoding="utf-8-sig")
    proc = shangluo("validate", str(path), env=cli_env(tmp_path), check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    found = set(re.findall(r"\((social_assistance\.[a-z_0-9]+\.type)\)", proc.stdout))
    assert found == {f"social_assistance.{f}.type" for f in
                     ("dibao_tekun_persons", "temporary_aid_funds_10k_yuan", "dibao_tekun_funds_10k_yuan")}
    assert "3 强制性错误 hard" in proc.stdout
