"""What landing holds, as the sensor and the runs see it: file sizes and modification times only
(nothing opened, never the warehouse).  A digest of a period's files is what a run records in its
`landing/inventory` materialisation and what the sensor compares with (SPEC section 6)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from intake.landing import periods as landing_periods

DIGEST_KEY = "landing_digest"             # metadata of landing/inventory: the period's files as taken
PREVIOUS_DIGEST_KEY = "previous_digest"   # ... and P-1's (P's figures read P-1)


def observe(root: Path, only: str | None = None) -> dict[str, list[int]]:
    """relative path -> [size, mtime_ns] of every file under <period>/<county>/ (links not followed)."""
    out = {}
    for period in landing_periods(root):
        if only is not None and period != only:
            continue
        for county in sorted((root / period).iterdir()):
            if not county.is_dir():
                continue
            for f in sorted(county.iterdir()):
                if f.is_file() or f.is_symlink():
                    st = f.lstat()
                    out[f.relative_to(root).as_posix()] = [st.st_size, st.st_mtime_ns]
    return out


def digest(files: dict[str, list[int]], period: str | None = None) -> str:
    """A short digest of these files (of one period's, if given)."""
    mine = sorted((k, v) for k, v in files.items() if period is None or k.startswith(period + "/"))
    return hashlib.sha256(json.dumps(mine).encode()).hexdigest()[:16]


def period_digests(root: Path, period: str) -> dict[str, str]:
    """The metadata a run records: the digests of P's and P-1's files as they are now."""
    previous = str(int(period) - 1)
    return {DIGEST_KEY: digest(observe(root, period)), PREVIOUS_DIGEST_KEY: digest(observe(root, previous))}
