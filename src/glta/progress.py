"""Progress of long work, shown to whoever reads it.

In a terminal (or a notebook) a live tqdm bar. Where no one watches one, because the output goes to a file (a
background job's log) or bars are turned off (``--no-progress``), a bar's carriage-return frames would only fill
the log; there a plain line comes instead, once work has run ``LOG_SECONDS`` and then every ``LOG_SECONDS``: how far
it got, how long it has run, the time left at its rate, and the bar's fields (a training step's loss). Work shorter
than that prints nothing. Both are tqdm, so the counting, rates and estimates are tqdm's own.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from tqdm import tqdm as plain_tqdm

LOG_SECONDS = 600.0  # without a bar, a line this often (and none for work that ends sooner)


def _plural(unit: str) -> str:
    return unit + ("es" if unit.endswith(("ch", "sh", "s", "x")) else "s")


def watched(stream) -> bool:
    """Whether a person sees ``stream`` live: a terminal, or a Jupyter kernel's output (which draws bars too)."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) or type(stream).__module__.startswith("ipykernel")


def bars_shown(progress: bool) -> bool:
    """Whether work asked to show ``progress`` draws bars here (else lines, and the libraries' own bars, such as
    transformers' "Loading weights", are turned off: ``glta.text.llm.hide_library_progress``). Imports no tqdm, so
    the ``glta`` command can still set ``TQDM_DISABLE`` before tqdm reads it."""
    return progress and watched(sys.stderr)


class _Lines:
    """A file for tqdm that turns each frame (written after a carriage return) into a line of its own, and drops the
    blank a finished bar that is not kept (``leave=False``) writes over itself."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> None:
        line = " ".join(text.replace("\r", "").split())  # tqdm pads its rate to a fixed width
        if line:
            self.stream.write(line + "\n")

    def flush(self) -> None:
        self.stream.flush()


def progress_bar(iterable: Iterable | None = None, *, desc: str, unit: str, total: int | None = None,
                 progress: bool = True, leave: bool = True, initial: int = 0, units: str | None = None) -> plain_tqdm:
    """A tqdm over ``iterable`` (or one updated by hand) that draws a bar when ``progress`` and stderr is watched,
    and otherwise logs a line every ``LOG_SECONDS`` (``units`` names the counted things there: ``unit`` + s by
    default). The other processes of a distributed run (``RANK`` above 0, as torchrun and accelerate set it) show
    nothing: the main process reports."""
    from tqdm import tqdm as plain_tqdm
    from tqdm.auto import tqdm

    if int(os.environ.get("RANK") or 0) > 0:
        return plain_tqdm(iterable, total=total, initial=initial, disable=True)
    if bars_shown(progress):
        return tqdm(iterable, desc=desc, unit=unit, total=total, initial=initial, leave=leave)
    units = units or _plural(unit)
    if total is not None or hasattr(iterable, "__len__"):
        line = (f"{{n_fmt}} of {{total_fmt}} {units} ({{percentage:.0f}}%), {{elapsed}} so far, ~{{remaining}} left at "
                "{rate_fmt}")
    else:
        line = f"{{n_fmt}} {units}, {{elapsed}} so far, {{rate_fmt}}"
    # disable=False: TQDM_DISABLE, which `--no-progress` sets for the bars inside libraries, keeps these lines
    return plain_tqdm(iterable, desc=desc, unit=unit, total=total, initial=initial, leave=leave, disable=False,
                      file=_Lines(sys.stderr),
                      mininterval=LOG_SECONDS, maxinterval=LOG_SECONDS, miniters=1, delay=LOG_SECONDS,
                      bar_format="{desc}: " + line + "{postfix}")
