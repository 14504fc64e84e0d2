"""Dependencies point one way (README, Layout): each layer imports, every one of its modules, in a
fresh interpreter where the layers above it cannot be imported (`sys.modules[name] = None`)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from .conftest import ROOT

TOP = ("dagster", "dagster_webserver", "pipelines", "cli", "portal")
LAYERS = {   # layer: what it must import without
    "shangluo": (*TOP, "publish", "intake", "warehouse", "schemas"),
    "schemas": (*TOP, "publish", "intake", "warehouse"),
    # intake decides and the warehouse keeps: intake is given the warehouse's store, never imports it
    "intake": (*TOP, "publish", "warehouse"),
    # the warehouse never reads landing and never runs a rule
    "warehouse": (*TOP, "publish", "intake", "schemas.read", "schemas.validate", "schemas.bulk", "schemas.cross", "pandera"),
    "publish": (*TOP, "intake"),
}

IMPORT_ALL = """
import importlib, pkgutil, sys
for name in sys.argv[2].split(","):
    sys.modules[name] = None
package = importlib.import_module(sys.argv[1])
modules = [package.__name__]
for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
    importlib.import_module(info.name)
    modules.append(info.name)
print(len(modules))
"""


def _import_all(package: str, blocked: tuple[str, ...]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", IMPORT_ALL, package, ",".join(blocked)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("package", LAYERS)
def test_a_layer_imports_without_the_layers_above(package):
    done = _import_all(package, LAYERS[package])
    assert done.returncode == 0, done.stderr[-3000:]
    assert int(done.stdout.split()[-1]) >= 2          # the package and its modules, all imported


def test_blocking_a_layer_is_noticed():
    """The check can fail: the Dagster wiring does not import without Dagster."""
    done = _import_all("pipelines", ("dagster",))
    assert done.returncode != 0 and "dagster" in done.stderr


def test_intake_runs_no_statement_of_its_own():
    """Intake's decisions are stored by `warehouse.ledger.LedgerStore` (its SQL in
    warehouse/sql/ledger.sql); a connection reaches intake only as the engine the bulk path computes in."""
    import re
    found = [(p.name, n) for p in sorted((ROOT / "intake").glob("*.py"))
             for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
             if re.search(r"\.(execute|sql|register|executemany)\(", line)]
    assert not found, found
