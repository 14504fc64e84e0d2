"""`shangluo dev`: the Dagster UI on 127.0.0.1 with this project's instance (`dagster dev` and `dg dev` from the
root use the same instance; DAGSTER_HOME, when set, wins)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from shangluo.config import ROOT

from .run import dagster_env


def cmd_dev(args) -> int:
    env = {**os.environ, **dagster_env()}
    dg = Path(sys.executable).with_name("dg")       # `dg dev`: the project of [tool.dg] in pyproject.toml
    cmd = [str(dg), "dev", "--host", "127.0.0.1", "--port", str(args.port)]
    os.chdir(ROOT)
    os.execvpe(cmd[0], cmd, env)
