"""Settings from the environment, with the bundled sample and a local warehouse as defaults."""
from __future__ import annotations

import hashlib
import os
import tomllib
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_LANDING = ROOT / "sample" / "landing"
DEFAULT_WAREHOUSE = ROOT / "warehouse" / "shangluo.duckdb"
DEFAULT_REPORTS = ROOT / "reports"
PERIODS_FILE = ROOT / "periods.toml"
# Accepted only for the bundled (synthetic) sample: a published key would let anyone reverse the
# hash of the few hundred million valid ID numbers.
DEVELOPMENT_KEY = b"shangluo-development-key-for-the-synthetic-sample-only"


class ConfigError(Exception):
    pass


@dataclass(frozen=True)
class Settings:
    landing: Path
    warehouse: Path
    lock_wait_seconds: float
    max_file_bytes: int
    reports: Path = DEFAULT_REPORTS

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(
            landing=Path(os.environ.get("SHANGLUO_LANDING") or SAMPLE_LANDING).resolve(),
            warehouse=Path(os.environ.get("SHANGLUO_WAREHOUSE") or DEFAULT_WAREHOUSE),
            lock_wait_seconds=float(os.environ.get("SHANGLUO_LOCK_WAIT_SECONDS", "30")),
            max_file_bytes=int(float(os.environ.get("SHANGLUO_MAX_FILE_MB", "4096")) * 2**20),
            reports=Path(os.environ.get("SHANGLUO_REPORTS") or DEFAULT_REPORTS),
        )

    @property
    def is_sample(self) -> bool:
        return self.landing == SAMPLE_LANDING.resolve()

    def pii_key(self) -> bytes:
        key = os.environ.get("SHANGLUO_PII_KEY")
        if key:
            return key.encode()
        if self.is_sample:
            return DEVELOPMENT_KEY
        raise ConfigError("未设置SHANGLUO_PII_KEY：开发密钥只能用于内置样例数据 / SHANGLUO_PII_KEY is not set: "
                          "the built-in development key is accepted only for the bundled sample")


def _periods() -> dict:
    return _load_periods(os.environ.get("SHANGLUO_PERIODS_FILE") or str(PERIODS_FILE))


@cache
def _load_periods(path: str) -> dict:
    p = Path(path)
    if not p.exists():
        return {}
    with p.open("rb") as fh:
        return tomllib.load(fh)


def cutoff(period: str) -> date:
    return _periods().get(str(period), {}).get("cutoff") or date(int(period), 12, 31)


def deadline(period: str) -> datetime | None:
    """The submission deadline of a period, if one is configured."""
    d = _periods().get(str(period), {}).get("deadline")
    if isinstance(d, date) and not isinstance(d, datetime):
        d = datetime(d.year, d.month, d.day, 23, 59, 59)
    return d


def code_digest(folder: Path, suffixes: tuple[str, ...] = (".py",), also: tuple[Path, ...] = ()) -> str:
    """A digest of the files of `folder` with these suffixes (and of the files `also`): their paths and bytes."""
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.suffix in suffixes) + list(also):
        h.update(path.relative_to(ROOT).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


@cache
def rules_version() -> str:
    """A digest of the declarations and checks (`schemas/`, and `intake/check.py`, which chooses the
    path a return is checked on): a change to any rule re-checks every submission."""
    return code_digest(ROOT / "schemas", also=(ROOT / "intake" / "check.py",))
