"""``torchrun`` whose stop by a signal ends in one line instead of a traceback.

The reproduce queue stops its jobs at a deadline with SIGINT; its workers then write their last batch and say so
("glta: interrupted; ..."), but torchrun's agent re-raises the signal as an uncaught ``SignalException``, whose
traceback (thirty lines) ends every stopped job's log and reads like a crash. This runs torchrun's own entry point
with the same arguments and turns that one exception into a line and the signal's usual exit status (128 + signal).

    .venv/bin/python experiments/launch.py --standalone --nproc-per-node 2 -m glta text generate ml-1m
"""

import sys

from torch.distributed import run
from torch.distributed.elastic.multiprocessing.api import SignalException


def main(argv: list[str] | None = None) -> int:
    try:
        run.main(argv)
    except SignalException as stop:
        print(f"launch: stopped by signal {stop.sigval}; the workers were stopped with it", file=sys.stderr)
        return 128 + int(stop.sigval)
    return 0


if __name__ == "__main__":
    sys.exit(main())
