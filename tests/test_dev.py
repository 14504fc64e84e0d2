"""`shangluo dev` serves the Dagster UI on 127.0.0.1 with the assets, job, sensor and schedule."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from .conftest import ROOT, cli_env

QUERY = """{ repositoriesOrError { ... on RepositoryConnection { nodes {
  name sensors { name } schedules { name } jobs { name } assetNodes { assetKey { path } } } } } }"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dagster_dev_shows_the_graph(tmp_path):
    port = _free_port()
    env = cli_env(tmp_path, SHANGLUO_SETTLE_SECONDS="3600")
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", "dev", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline, body = time.monotonic() + 180, None
        while time.monotonic() < deadline and body is None:
            try:
                req = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": QUERY}).encode(),
                                             headers={"Content-Type": "application/json"})
                body = json.loads(urllib.request.urlopen(req, timeout=5).read())
                if "data" not in body or not body["data"]["repositoriesOrError"].get("nodes"):
                    body = None
                    time.sleep(1)
            except OSError:
                time.sleep(1)
        assert body, "the Dagster webserver did not answer on 127.0.0.1"
        repo = body["data"]["repositoriesOrError"]["nodes"][0]
        assert {"landing_sensor"} <= {s["name"] for s in repo["sensors"]}
        assert {"nightly"} <= {s["name"] for s in repo["schedules"]}
        assert "build_period" in {j["name"] for j in repo["jobs"]}
        keys = {"/".join(a["assetKey"]["path"]) for a in repo["assetNodes"]}
        assert {"landing/inventory", "staging/monitoring_households", "report/figures"} <= keys
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
