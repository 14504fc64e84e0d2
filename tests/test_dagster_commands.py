"""Dagster as its users run it: plain commands at the root of a fresh copy of the repository, in a
clean shell with nothing set (issue 14).  The copy holds the tracked files and what `make` writes
(.env); Dagster's state and the warehouse must land in the ignored places, never in tracked files."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import ROOT, query

BIN = Path(sys.executable).parent


def _tracked() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [p for p in out.decode().split("\0") if p and (ROOT / p).is_file()]


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=test", "-c", "user.email=test@localhost", *args], cwd=root,
                          capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """A fresh copy of the repository (the working tree's tracked files) after the README's set-up."""
    if shutil.which("git") is None or shutil.which("make") is None:
        pytest.skip("git and make are needed to copy the repository and write .env")
    root = tmp_path_factory.mktemp("clone") / "shangluo"
    for rel in _tracked():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, root / rel)
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "copy")
    subprocess.run(["make", "-s", ".env"], cwd=root, check=True)
    return root


def _clean_env(**extra: str) -> dict[str, str]:
    env = {"HOME": os.environ.get("HOME", "/root"), "PATH": f"{BIN}:/usr/bin:/bin", "LANG": "C.UTF-8"}
    env.update(extra)
    return env


def _run(root: Path, *cmd: str, timeout: float = 300) -> str:
    proc = subprocess.run(cmd, cwd=root, env=_clean_env(), capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(cmd)} exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout + proc.stderr


def test_plain_dagster_commands_work_from_the_root_with_nothing_set(fresh):
    assert "All code locations passed validation" in _run(fresh, "dagster", "definitions", "validate")
    assert "build_period" in _run(fresh, "dagster", "job", "list")
    assert "landing_sensor" in _run(fresh, "dg", "list", "defs")
    # the superseded `dagster asset materialize` reads no project file in Dagster 1.13: it takes -m
    out = _run(fresh, "dagster", "asset", "materialize", "-m", "pipelines.definitions",
               "--select", "*", "--partition", "2021")
    assert "RUN_SUCCESS" in out and "RUN_FAILURE" not in out
    out = _run(fresh, "dg", "launch", "--assets", "*", "--partition", "2022")
    assert "RUN_SUCCESS" in out and "RUN_FAILURE" not in out
    rows = query(fresh / "warehouse" / "shangluo.duckdb",
                 "select period, count(*), count(*) filter (where complete) from report.figures "
                 "where area_code = '611000' group by period order by period")
    assert rows == [("2021", 69, 67), ("2022", 69, 69)]      # 2021's two changes need 2020, not in landing
    assert _git(fresh, "status", "--porcelain") == ""      # state, warehouse and reports: all in ignored places
    assert (fresh / ".dagster" / "history").is_dir()        # the project's own instance, in .dagster/


def test_the_daemon_runs_on_the_projects_instance_with_nothing_set(fresh):
    proc = subprocess.Popen(["dagster-daemon", "run"], cwd=fresh, env=_clean_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline, live = time.monotonic() + 120, ""
        while time.monotonic() < deadline and proc.poll() is None:
            live = subprocess.run(["dagster-daemon", "liveness-check"], cwd=fresh, env=_clean_env(),
                                  capture_output=True, text=True, timeout=60).stdout
            if "Daemon live" in live:
                break
            time.sleep(2)
        assert proc.poll() is None, f"dagster-daemon run stopped:\n{proc.stderr.read()[-3000:]}"
        assert "Daemon live" in live
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    # a DAGSTER_HOME that is set still wins over the project's default in .env
    other = subprocess.run(["dagster-daemon", "liveness-check"], cwd=fresh, capture_output=True, text=True,
                           env=_clean_env(DAGSTER_HOME=str(fresh / "no-such-home")), timeout=60)
    assert other.returncode != 0 and "no-such-home" in other.stdout + other.stderr
