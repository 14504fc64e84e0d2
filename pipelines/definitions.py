"""The Dagster code location: `dagster dev -m pipelines.definitions` (or `shangluo dev`)."""
import dagster as dg

from .assets import ALL_ASSETS
from .resources import WarehouseResource
from .sensors import build_period, landing_sensor, nightly

defs = dg.Definitions(
    assets=ALL_ASSETS,
    jobs=[build_period],
    sensors=[landing_sensor],
    schedules=[nightly],
    resources={"warehouse": WarehouseResource()},
    executor=dg.in_process_executor,   # one process, one transaction per run; steps are cheap
)
