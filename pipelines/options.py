"""The options of a run, as Dagster configuration (the resource `options`), and the periods.

`county`, `force` and `check_all` reach every step of a run through this resource, whatever
started the run: `shangluo run` (its flags), the nightly schedule (`check_all`), the sensor (the
defaults) or the launchpad of the UI (resources → options → config).
"""
from __future__ import annotations

import os

import dagster as dg
from pydantic import Field

from intake.plan import period_range
from shangluo.config import Settings


class RunOptions(dg.ConfigurableResource):
    """Options of one run of `build_period`."""

    county: str = Field(default="", description="只处理这个县区（空：全部） / only this county (empty: all)")
    force: bool = Field(default=False, description="重新读取、检查全部版本 / read and check every version again")
    check_all: bool = Field(default=False, description="检查全部暂存数据，而不只是本次暂存的版本 / check all of "
                                                       "staging, not only the versions staged in this run")


def run_config(county: str | None = None, force: bool = False, check_all: bool = False) -> dict:
    """The run config that sets the run's options."""
    return {"resources": {"options": {"config": {"county": county or "", "force": force, "check_all": check_all}}}}


# Periods are calendar years: yearly partitions from the first period to the current year.  They
# exist without anything being recorded in the instance, so `dagster asset materialize --partition
# 2022` works on a fresh instance, and next year's partition appears by itself (no reload).
period_partitions = dg.TimeWindowPartitionsDefinition(
    cron_schedule="0 0 1 1 *", fmt="%Y", start=period_range(Settings.from_env().landing)[0], end_offset=1,
    timezone=os.environ.get("SHANGLUO_TIMEZONE", "Asia/Shanghai"))
