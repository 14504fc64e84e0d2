"""Shared fixtures: the CLI run end to end in a subprocess, on a temporary warehouse and a
temporary Dagster state folder (the instance is configured by the repository's dagster.yaml)."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample" / "landing"
TEST_KEY = "test-key-not-for-production"


def cli_env(tmp: Path, landing: Path | None = None, **extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHANGLUO_", "DAGSTER_"))}
    env.update(SHANGLUO_WAREHOUSE=str(tmp / "warehouse.duckdb"), SHANGLUO_DAGSTER_STATE=str(tmp / "dagster"),
               SHANGLUO_REPORTS=str(tmp / "reports"))
    if landing is not None:
        env.update(SHANGLUO_LANDING=str(landing), SHANGLUO_PII_KEY=TEST_KEY)
    env.update(extra)
    return env


def shangluo(*args: str, env: dict[str, str], check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "cli.main", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"shangluo {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def query(warehouse: Path, sql: str, params=None) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def tree_digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def sample_build(tmp_path_factory):
    """The README's main command on the bundled sample, into a temporary warehouse."""
    tmp = tmp_path_factory.mktemp("sample")
    before = tree_digest(SAMPLE)
    env = cli_env(tmp)
    proc = shangluo("run", env=env)
    return {"tmp": tmp, "warehouse": tmp / "warehouse.duckdb", "env": env, "stdout": proc.stdout, "before": before}


@pytest.fixture
def instance(tmp_path, monkeypatch):
    """A real Dagster instance from the repository's dagster.yaml, its state in a temporary folder."""
    import dagster as dg

    from cli.run import project_home
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setenv("SHANGLUO_DAGSTER_STATE", str(tmp_path / "dagster"))
    monkeypatch.setenv("DAGSTER_HOME", project_home())
    with dg.DagsterInstance.get() as inst:
        yield inst


@pytest.fixture
def landing_copy(tmp_path):
    dst = tmp_path / "landing"
    shutil.copytree(SAMPLE, dst)
    return dst
