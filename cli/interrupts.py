"""Ctrl-C (SIGINT) and, for `shangluo run`, SIGTERM: one way for a command to end.

A signal raises KeyboardInterrupt as Python's own Ctrl-C does, and is remembered: DuckDB, when a
signal comes during a statement on the main thread, swallows the KeyboardInterrupt and raises
RuntimeError('Query interrupted') instead, which `main` then knows for an interruption too.
Where an interruption must not land (a commit and the report files put in place after it), it
waits until the block is done (`deferred`)."""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

RECEIVED: list[int] = []        # the signals received, first first


def _raise(signum, frame):
    RECEIVED.append(signum)
    raise KeyboardInterrupt


def install(terminate: bool = False):
    """Ctrl-C, and SIGTERM too when `terminate` (a service manager's or `kill`'s stop), end the command
    as Ctrl-C does: what is not committed is rolled back and the report files of it are dropped.
    A signal ignored by whoever started the command (`shangluo run &` in a script: SIGINT) stays ignored,
    as Python leaves it."""
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _raise)
    if terminate and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _raise)


def handled() -> list[int]:
    """The signals that `install` set up (SIGTERM only when it was asked to)."""
    return [s for s in (signal.SIGINT, signal.SIGTERM) if signal.getsignal(s) is _raise]


def ignore():
    """After the first interruption, the next ones end nothing half-way."""
    for s in [signal.SIGINT, *handled()]:
        signal.signal(s, signal.SIG_IGN)


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()     # where Python runs signal handlers


def exit_code() -> int:
    """130 for Ctrl-C (as a shell reports it), 143 for SIGTERM."""
    return 128 + int(RECEIVED[0]) if RECEIVED else 128 + int(signal.SIGINT)


def waiting_for(on_signal):
    """While the main thread waits for work in another thread: a signal calls `on_signal()` (which
    stops that work) and raises nothing, so no exception lands half-way through the wait; once the
    block is done, KeyboardInterrupt if a signal came (and the next signals are ignored)."""
    return _held(on_signal, then_ignore=True)


def deferred():
    """A signal during the block waits for its end, then raises KeyboardInterrupt: a commit and the
    report files put in place after it are never cut in two (DuckDB would otherwise stop the commit
    statement with RuntimeError, after it may have committed, and the report files of the stored
    figures would stay in their .pending folder)."""
    return _held()


@contextmanager
def _held(on_first=None, then_ignore: bool = False):
    """The signals `install` set up, recorded during the block instead of raising; the first one
    calls `on_first()`; KeyboardInterrupt at the end if any came."""
    got: list[int] = []

    def record(signum, frame):
        first = not got
        got.append(signum)
        RECEIVED.append(signum)
        if first and on_first is not None:
            on_first()

    signals = handled() if _main_thread() else []
    old = {s: signal.signal(s, record) for s in signals}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, signal.SIG_IGN if got and then_ignore else handler)
    if got:
        raise KeyboardInterrupt
