"""Wall time per phase (scan, read, validate, write, aggregate, report) for the benchmark: the
CLI writes the totals as JSON to SHANGLUO_TIMINGS when it is set."""
from __future__ import annotations

import json
import os
import time
from collections import defaultdict
from contextlib import contextmanager

TOTALS: dict[str, float] = defaultdict(float)


@contextmanager
def phase(name: str):
    start = time.perf_counter()
    try:
        yield
    finally:
        TOTALS[name] += time.perf_counter() - start


def dump():
    path = os.environ.get("SHANGLUO_TIMINGS")
    if path:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump({k: round(v, 3) for k, v in TOTALS.items()}, fh)
