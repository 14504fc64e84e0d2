"""Run the floor (bench/floor.sql) in plain DuckDB on a landing's 表1 CSV files; print JSON."""
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from schemas import engine  # noqa: E402

landing, period, out = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
start = time.perf_counter()
con = engine.connect()       # the same DuckDB settings as the pipeline (SHANGLUO_DUCKDB_*)
con.execute(f"set temp_directory = '{out.parent / 'floor.tmp'}'")   # spilled rows stay in the work folder
con.execute(f"set variable files = '{landing}/{period}/*/monitoring_households.csv'")
con.execute(f"set variable cutoff = DATE '{period}-12-31'")
con.execute((Path(__file__).with_name("floor.sql")).read_text(encoding="utf-8"))
rules = con.sql("select folder_county, rule_id, severity, n from violations order by all").fetchall()
monitoring = con.sql("select * from monitoring").fetchall()
out.write_text(json.dumps({"seconds": time.perf_counter() - start, "rules": rules,
                           "monitoring": [[str(v) for v in r] for r in monitoring],
                           "threads": con.sql("select current_setting('threads')").fetchall()[0][0],
                           "memory_limit": con.sql("select current_setting('memory_limit')").fetchall()[0][0]}))
