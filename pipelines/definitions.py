"""The code location: `dagster dev` / `dg dev` from the repository root ([tool.dagster] and
[tool.dg] in pyproject.toml), `shangluo dev`, or a gRPC code server in production (deploy/)."""
import dagster as dg

from .assets import ALL_ASSETS
from .options import RunOptions
from .resources import WarehouseResource
from .sensors import build_period, landing_sensor, nightly

defs = dg.Definitions(
    assets=dg.with_source_code_references(ALL_ASSETS),
    jobs=[build_period],
    sensors=[landing_sensor],
    schedules=[nightly],
    resources={"warehouse": WarehouseResource(), "options": RunOptions()},
    executor=dg.in_process_executor,   # one process, one transaction per run; steps are cheap
)
