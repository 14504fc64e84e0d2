"""The digests of a period's files (`intake.plan`: sizes and modification times, nothing opened)
that a run records in its `landing/inventory` materialisation and the sensor compares with
(SPEC section 6): the metadata keys."""
from __future__ import annotations

from pathlib import Path

from intake.plan import digest, observe

DIGEST_KEY = "landing_digest"             # metadata of landing/inventory: the period's files as taken
PREVIOUS_DIGEST_KEY = "previous_digest"   # ... and P-1's (P's figures read P-1)


def period_digests(root: Path, period: str) -> dict[str, str]:
    """The metadata a run records: the digests of P's and P-1's files as they are now."""
    previous = str(int(period) - 1)
    return {DIGEST_KEY: digest(observe(root, period)), PREVIOUS_DIGEST_KEY: digest(observe(root, previous))}
