"""Stopping a long command cleanly: ``kill`` (SIGTERM) and Ctrl-C (SIGINT) both become a KeyboardInterrupt, so
checkpoints, caches and locks are left whole (``finally`` blocks run) and the command says how to go on.

The CLI runs every command inside ``interruptible``; the scripts under ``experiments/`` call ``run_interruptibly``.
Training steps run inside ``held_to_step_end``: a signal then stops the run where the step under way ends, after its
checkpoint is written, instead of losing what was trained since the last one.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Callable, Iterator

INTERRUPTED = 130  # the exit status of a command stopped by a signal, as shells report Ctrl-C


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """SIGTERM and SIGINT raise KeyboardInterrupt inside the block. SIGINT is set back to Python's handler because a
    job started in the background (``cmd &`` in a script, ``nohup``) inherits it ignored. Both handlers are restored
    afterwards (the CLI's ``main`` also runs inside tests)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():  # signal handlers belong to the main thread
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = {signum: signal.signal(signum, handler) for signum, handler in
                ((signal.SIGTERM, interrupt), (signal.SIGINT, signal.default_int_handler))}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def run_interruptibly(main: Callable[[], None], name: str,
                      how: str = "the same command continues from the last checkpoint") -> None:
    """Run a script's ``main``; stopped by a signal, it ends with one line naming how to go on and exit status 130
    instead of a traceback. A ``GLTAError`` (bad input, a missing prerequisite: its message names the fix) ends it
    with one line and exit status 2, as the CLI does; ``GLTA_DEBUG=1`` shows the traceback instead (the CLI's
    ``--debug``)."""
    import os

    from glta.errors import GLTAError

    try:
        with interruptible():
            main()
    except KeyboardInterrupt:
        print(f"{name}: interrupted; {how}", file=sys.stderr)
        raise SystemExit(INTERRUPTED) from None
    except GLTAError as error:
        if os.environ.get("GLTA_DEBUG"):
            raise
        print(f"{name}: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


@contextlib.contextmanager
def held_to_step_end(enabled: bool = True) -> Iterator[Callable[[], bool]]:
    """Within the block SIGINT and SIGTERM are held: the block gets a function that says whether one came, and the
    code ends its step, saves, and raises KeyboardInterrupt itself. A second signal interrupts at once (a step that
    hangs can still be stopped). A signal set to be ignored stays ignored. Not held (``enabled=False``) in the
    processes of a distributed run, which must stop at the same step, nor outside the main thread."""
    import signal
    import threading

    came: list[int] = []
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return

    def hold(signum, frame):
        if came:
            raise KeyboardInterrupt
        came.append(signum)

    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(signum) is not signal.SIG_IGN:
            previous[signum] = signal.signal(signum, hold)
    try:
        yield lambda: bool(came)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
