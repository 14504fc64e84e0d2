"""What every command shares: exit codes and printing."""
from __future__ import annotations

EXIT_OK, EXIT_HARD, EXIT_USAGE, EXIT_BUSY = 0, 1, 2, 3


def say(text: str = ""):
    print(text, flush=True)
