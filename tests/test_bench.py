"""The benchmark at 10 thousand households, as a smoke test: it runs, and the floor's rule counts
equal the pipeline's (no timing is asserted; speed is measured by bench/run.py, not by tests)."""
import json
import subprocess
import sys

from .conftest import ROOT


def test_benchmark_smoke_at_ten_thousand_households(tmp_path):
    out = tmp_path / "results.json"
    proc = subprocess.run([sys.executable, "bench/run.py", "--sizes", "10000", "--repeat", "1", "--json", str(out),
                           "--data", str(tmp_path / "data"), "--no-sample"], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(out.read_text())
    (row,) = result["sizes"]
    assert result["sample"] is None and set(result["goals"]) == {"peak_mb"}
    assert row["households"] == 10000 and row["rule_counts_equal_floor"] is True
    assert {"run_seconds", "floor_seconds", "ratio_to_floor", "run_peak_mb", "incremental_seconds",
            "validate_seconds", "floor_product_settings_seconds"} <= set(row)
    assert set(row["phases_seconds"]) == {"scan", "read", "validate", "write", "aggregate", "report"}
    assert "households | run s | floor s" in proc.stdout
