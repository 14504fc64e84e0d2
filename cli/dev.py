"""`shangluo dev`: the Dagster UI on 127.0.0.1 with this project's instance."""
from __future__ import annotations

import os
import sys

from shangluo.config import ROOT

from .run import dagster_env


def cmd_dev(args) -> int:
    env = {**os.environ, **dagster_env()}
    cmd = [sys.executable, "-m", "dagster", "dev", "-h", "127.0.0.1", "-p", str(args.port), "-m", "pipelines.definitions"]
    os.chdir(ROOT)
    os.execvpe(cmd[0], cmd, env)
