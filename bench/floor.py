"""Run the floor (bench/floor.sql) in plain DuckDB on a landing's 表1 CSV files; print JSON.

    python bench/floor.py LANDING PERIOD OUT.json [--product-settings]

The floor writes its accepted rows into a database file beside OUT (floor.duckdb, new each time),
on DuckDB's default settings, or with --product-settings on the pipeline's (SHANGLUO_DUCKDB_*)."""
import json
import sys
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from schemas import engine  # noqa: E402

landing, period, out = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
database = out.with_name(out.stem + ".duckdb")
for stale in (database, database.with_name(database.name + ".wal")):
    stale.unlink(missing_ok=True)
start = time.perf_counter()
con = engine.connect(str(database)) if "--product-settings" in sys.argv else duckdb.connect(str(database))
con.execute(f"set variable files = '{landing}/{period}/*/monitoring_households.csv'")
con.execute(f"set variable cutoff = DATE '{period}-12-31'")
con.execute("set variable key = 'benchmark-key'")
con.execute((Path(__file__).with_name("floor.sql")).read_text(encoding="utf-8"))
rules = con.execute("select folder_county, rule_id, severity, n from violations order by all").fetchall()
monitoring = con.execute("select * from monitoring").fetchall()
con.execute("checkpoint")
seconds = time.perf_counter() - start
out.write_text(json.dumps({"seconds": seconds, "rules": rules,
                           "monitoring": [[str(v) for v in r] for r in monitoring],
                           "stored_rows": con.execute("select count(*) from households").fetchall()[0][0],
                           "threads": con.execute("select current_setting('threads')").fetchall()[0][0],
                           "memory_limit": con.execute("select current_setting('memory_limit')").fetchall()[0][0]}))
con.close()
database.unlink(missing_ok=True)
