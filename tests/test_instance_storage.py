"""The project's Dagster instance storage (pipelines/instance_storage.py): Dagster's SQLite files,
with engines and connections kept; what one process stores another reads at once."""
import subprocess
import sys

import dagster as dg

from pipelines import instance_storage

from .conftest import ROOT

READ_RUNS = """
import dagster as dg
with dg.DagsterInstance.get() as inst:
    print(len(inst.get_runs()), len(inst.get_records_for_run(inst.get_runs()[0].run_id).records))
"""


@dg.asset
def one():
    return 1


def test_runs_and_events_are_stored_in_dagsters_files_and_seen_by_another_process(instance, tmp_path):
    assert type(instance.event_log_storage) is instance_storage._EventLog                        # noqa: SLF001
    assert dg.materialize([one], instance=instance).success
    (run,) = instance.get_runs()
    events = len(instance.get_records_for_run(run.run_id).records)
    assert events > 5 and (tmp_path / "dagster" / "history" / "runs" / f"{run.run_id}.db").is_file()
    for conn_string, engine in instance_storage._engines.items():                               # noqa: SLF001
        with engine.connect() as conn:      # every file in WAL mode, its kept connection waiting at checkpoints only
            assert conn.exec_driver_sql("pragma journal_mode").scalar() == "wal", conn_string
            assert conn.exec_driver_sql("pragma synchronous").scalar() == 1, conn_string
    assert any(run.run_id in c for c in instance_storage._engines)                             # noqa: SLF001
    seen = subprocess.run([sys.executable, "-c", READ_RUNS], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert seen.returncode == 0, seen.stderr
    assert seen.stdout.split() == ["1", str(events)]


def test_only_a_few_engines_are_kept(instance):
    for _ in range(instance_storage.KEEP + 4):
        assert dg.materialize([one], instance=instance).success
    assert len(instance_storage._engines) <= instance_storage.KEEP                                # noqa: SLF001
    assert len(instance.get_runs()) == instance_storage.KEEP + 4


def test_a_wipe_closes_the_kept_connections_of_the_files_it_deletes(instance, tmp_path):
    assert dg.materialize([one], instance=instance).success
    (run,) = instance.get_runs()
    shard = tmp_path / "dagster" / "history" / "runs" / f"{run.run_id}.db"
    assert shard.is_file() and any(run.run_id in c for c in instance_storage._engines)           # noqa: SLF001
    instance.wipe()
    assert not shard.exists()
    assert not any(run.run_id in c for c in instance_storage._engines)                          # noqa: SLF001
    assert dg.materialize([one], instance=instance).success                                      # a fresh start works
    (again,) = instance.get_runs()
    assert len(instance.get_records_for_run(again.run_id).records) > 5
    instance.dispose()      # the runs' and events' engines closed (Dagster's instance leaves its schedule storage be)
    assert [c for c in instance_storage._engines if str(tmp_path) in c and "schedules" not in c] == []  # noqa: SLF001
