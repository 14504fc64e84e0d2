"""What every command shares: exit codes and printing."""
from __future__ import annotations

EXIT_OK, EXIT_HARD, EXIT_USAGE, EXIT_BUSY, EXIT_UNUSABLE = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130          # Ctrl-C, as a shell reports it


def say(text: str = ""):
    print(text, flush=True)
