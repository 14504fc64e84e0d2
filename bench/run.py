"""Benchmark `shangluo run` against a floor in plain DuckDB SQL, on the same files in the same run.

    python bench/run.py [--sizes 10000,1000000,10000000] [--repeat 3] [--json bench/results.json]

The bundled sample (sample/landing: 2 periods, 19 thousand households in 140 small workbooks and
CSV files), median of `repeat`:
  imports      `python -c "import dagster, duckdb, pandas, pandera.pandas, pyarrow"`: the start-up
               any program on these dependencies pays
  fresh        `shangluo run` on a fresh warehouse and a fresh Dagster instance
  unchanged    `shangluo run` again, nothing having changed
For each size it generates (once, under bench/data/) a landing whose 表1 has that many households
as CSV, with 3 broken rows in 柞水县 so that rules fire, then measures, median of `repeat`:
  run          `shangluo run --period 2022` on a fresh warehouse
  floor        bench/floor.sql on DuckDB's default settings: the same CSV files, the same 表1 rules,
               the accepted rows stored with hashed ID numbers in a database file, the monitoring
               section (and, for reference, once more with the pipeline's DuckDB settings)
  incremental  `shangluo run` again after one county's 表1 changed
  validate     `shangluo validate` on one county's 表1
wall time, peak memory (max RSS of the process; the pipeline runs in one process), the ratio to
the floor and the incremental run's share of the full run (medians of the ratios of each repeat,
whose two runs follow each other: the machine's speed drifts between repeats), per-phase times
of the run (scan, read, validate, write, aggregate, report; on the bulk path reading and checking
are one DuckDB statement, counted under validate), and whether the floor's rule counts equal the
pipeline's.  `goals` compares them with issue 17's targets.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "data"
PERIOD, COUNTY = "2022", "611024"
IMPORTS = "import dagster, duckdb, pandas, pandera.pandas, pyarrow"


def measure(cmd: list[str], env: dict, ok=(0,)) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MB, exit code) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in ok:
        raise RuntimeError(f"{cmd} failed: {proc.stderr.read().decode()[-2000:]}")
    return wall, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def landing_for(size: int) -> Path:
    landing = DATA / str(size) / "landing"   # generated once, reused by later runs
    if not (landing / ".complete").exists():
        sys.path.insert(0, str(ROOT))
        from sample.generate import generate
        generate(landing, periods=(PERIOD,), households=size, defects=3, large=True)
        (landing / ".complete").write_text(str(size))
    return landing


def touch_county(landing: Path):
    """Change one county's 表1: the first household's size goes up by one (a new version)."""
    path = landing / PERIOD / COUNTY / "monitoring_households.csv"
    with path.open("r+b") as fh:
        fh.readline()
        at = fh.tell()
        line = fh.readline().decode().split(",")
        line[5] = str(int(line[5]) % 8 + 1)
        fh.seek(at)
        fh.write(",".join(line).encode())


def pipeline_counts(warehouse: Path) -> list:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.sql("select county_code, rule_id, severity, count(*) from quality.violations "
                       "where return_id = 'monitoring_households' and rule_id not like 'cross.%' "
                       "group by all order by all").fetchall()
    finally:
        con.close()


def bench_size(size: int, repeat: int) -> dict:
    landing = landing_for(size)
    work = DATA / str(size) / "work"
    results = {k: [] for k in ("run", "floor", "floor_product_settings", "incremental", "validate")}
    phases, same = [], []
    for _ in range(repeat):
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        copy = work / "landing"
        shutil.copytree(landing, copy)
        env = {**os.environ, "SHANGLUO_LANDING": str(copy), "SHANGLUO_PII_KEY": "benchmark-key",
               "SHANGLUO_WAREHOUSE": str(work / "wh.duckdb"), "SHANGLUO_DAGSTER_STATE": str(work / "dagster"),
               "SHANGLUO_REPORTS": str(work / "reports"),
               "SHANGLUO_TIMINGS": str(work / "timings.json")}
        cli = [sys.executable, "-m", "cli.main"]
        results["run"].append(measure([*cli, "run", "--period", PERIOD], env)[:2])
        phases.append(json.loads((work / "timings.json").read_text()))
        results["floor"].append(measure([sys.executable, str(ROOT / "bench" / "floor.py"), str(copy), PERIOD,
                                         str(work / "floor.json")], env)[:2])
        floor = json.loads((work / "floor.json").read_text())
        results["floor_product_settings"].append(measure(      # for reference: the pipeline's DuckDB settings
            [sys.executable, str(ROOT / "bench" / "floor.py"), str(copy), PERIOD, str(work / "floor-product.json"),
             "--product-settings"], env)[:2])
        same.append(sorted(map(list, pipeline_counts(work / "wh.duckdb"))) == sorted(map(list, floor["rules"])))
        touch_county(copy)
        results["incremental"].append(measure([*cli, "run", "--period", PERIOD], env)[:2])
        results["validate"].append(measure([*cli, "validate", str(copy / PERIOD / COUNTY / "monitoring_households.csv")],
                                           env, ok=(0, 1))[:2])
    med = {k: (statistics.median(w for w, _ in v), max(m for _, m in v)) for k, v in results.items()}
    # ratios per repeat, each of two measurements taken one after the other, so that a drift in the
    # machine's speed between repeats (seen here: the floor from 24 s to 48 s in one day) cancels out
    ratios = [r[0] / f[0] for r, f in zip(results["run"], results["floor"])]
    shares = [i[0] / r[0] for i, r in zip(results["incremental"], results["run"])]
    phase_med = {k: round(statistics.median(p.get(k, 0) for p in phases), 2)
                 for k in ("scan", "read", "validate", "write", "aggregate", "report")}
    return {"households": size, **{f"{k}_seconds": round(w, 2) for k, (w, _) in med.items()},
            **{f"{k}_peak_mb": round(m) for k, (_, m) in med.items()},
            "ratio_to_floor": round(statistics.median(ratios), 2),
            "incremental_share_of_run": round(statistics.median(shares), 2),
            "samples": {**{f"{k}_seconds": [round(w, 2) for w, _ in v] for k, v in results.items()},
                        "ratio_to_floor": [round(x, 2) for x in ratios],
                        "incremental_share_of_run": [round(x, 2) for x in shares]},
            "phases_seconds": phase_med, "rule_counts_equal_floor": all(same),
            "floor_threads": floor["threads"], "floor_memory_limit": floor["memory_limit"], "repeat": repeat}


def bench_sample(repeat: int) -> dict:
    """The bundled sample: a fresh run and a run with nothing changed, against the dependencies' import."""
    work = DATA / "sample"
    results = {k: [] for k in ("imports", "fresh", "unchanged")}
    for _ in range(repeat):
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        env = {**os.environ, "SHANGLUO_LANDING": str(ROOT / "sample" / "landing"),
               "SHANGLUO_WAREHOUSE": str(work / "wh.duckdb"), "SHANGLUO_DAGSTER_STATE": str(work / "dagster"),
               "SHANGLUO_REPORTS": str(work / "reports")}
        env.pop("DAGSTER_HOME", None)
        results["imports"].append(measure([sys.executable, "-c", IMPORTS], env)[:2])
        results["fresh"].append(measure([sys.executable, "-m", "cli.main", "run"], env)[:2])
        results["unchanged"].append(measure([sys.executable, "-m", "cli.main", "run"], env)[:2])
    fresh = [f[0] / i[0] for f, i in zip(results["fresh"], results["imports"])]
    unchanged = [u[0] / i[0] for u, i in zip(results["unchanged"], results["imports"])]
    return {**{f"{k}_seconds": round(statistics.median(w for w, _ in v), 2) for k, v in results.items()},
            **{f"{k}_peak_mb": round(max(m for _, m in v)) for k, v in results.items()},
            "fresh_to_imports": round(statistics.median(fresh), 2),
            "unchanged_to_imports": round(statistics.median(unchanged), 2),
            "samples": {**{f"{k}_seconds": [round(w, 2) for w, _ in v] for k, v in results.items()},
                        "fresh_to_imports": [round(x, 2) for x in fresh],
                        "unchanged_to_imports": [round(x, 2) for x in unchanged]},
            "repeat": repeat}


def goals(sample: dict | None, rows: list[dict]) -> dict:
    """Issue 17's targets, each with what was measured and whether it is met."""
    out = {}
    if sample:
        out["sample_fresh_to_imports"] = {"target": 3.0, "measured": sample["fresh_to_imports"]}
        out["sample_unchanged_to_imports"] = {"target": 1.5, "measured": sample["unchanged_to_imports"]}
    by = {r["households"]: r for r in rows}
    for size, target in ((1_000_000, 2.0), (10_000_000, 1.3)):
        if size in by:
            out[f"ratio_to_floor_{size}"] = {"target": target, "measured": by[size]["ratio_to_floor"]}
    if rows:
        out["peak_mb"] = {"target": 2048, "measured": max(r["run_peak_mb"] for r in rows)}
    if 1_000_000 in by and 10_000_000 in by:
        out["growth_1m_to_10m"] = {"target": 11.0, "measured": round(
            by[10_000_000]["run_seconds"] / by[1_000_000]["run_seconds"], 2)}
    for g in out.values():
        g["met"] = g["measured"] < g["target"] if g["target"] == 2048 else g["measured"] <= g["target"]
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,1000000,10000000", help="household counts, comma-separated ('' for none)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-sample", action="store_true", help="leave out the bundled sample")
    ap.add_argument("--json", type=Path, default=ROOT / "bench" / "results.json")
    ap.add_argument("--data", type=Path, default=ROOT / "bench" / "data",
                    help="where generated landings and work folders go")
    args = ap.parse_args(argv)
    global DATA
    DATA = args.data
    sample = None if args.no_sample else bench_sample(args.repeat)
    if sample:
        print(f"sample: imports {sample['imports_seconds']} s, fresh run {sample['fresh_seconds']} s "
              f"({sample['fresh_to_imports']}x), nothing changed {sample['unchanged_seconds']} s "
              f"({sample['unchanged_to_imports']}x)")
    rows = [bench_size(int(s), args.repeat) for s in args.sizes.split(",") if s]
    head = ("households", "run s", "floor s", "ratio", "run MB", "floor MB", "floor s (product settings)", "incr. s",
            "incr./run", "validate s", "read", "validate", "write", "aggregate", "rules = floor")
    print(" | ".join(head))
    for r in rows:
        p = r["phases_seconds"]
        print(" | ".join(str(x) for x in (r["households"], r["run_seconds"], r["floor_seconds"], r["ratio_to_floor"],
                                          r["run_peak_mb"], r["floor_peak_mb"], r["floor_product_settings_seconds"],
                                          r["incremental_seconds"], r["incremental_share_of_run"], r["validate_seconds"], p["read"],
                                          p["validate"], p["write"], p["aggregate"], r["rule_counts_equal_floor"])))
    result = {"sample": sample, "sizes": rows, "goals": goals(sample, rows)}
    for name, g in result["goals"].items():
        print(f"goal {name}: {g['measured']} (target {g['target']}): {'met' if g['met'] else 'NOT met'}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1))
    return 0 if all(r["rule_counts_equal_floor"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
