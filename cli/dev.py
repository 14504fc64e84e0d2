"""`shangluo dev`: the Dagster UI on 127.0.0.1 with this project's instance (`dagster dev` from the
root does the same with the instance of the root dagster.yaml; DAGSTER_HOME, when set, wins)."""
from __future__ import annotations

import os
import sys

from shangluo.config import ROOT

from .run import dagster_env


def cmd_dev(args) -> int:
    env = {**os.environ, **dagster_env()}
    cmd = [sys.executable, "-m", "dagster", "dev", "-h", "127.0.0.1", "-p", str(args.port)]   # [tool.dagster]
    os.chdir(ROOT)
    os.execvpe(cmd[0], cmd, env)
