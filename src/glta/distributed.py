"""Several processes working as one: data-parallel training and work split by user, through accelerate.

A run started by ``accelerate launch -m glta train ...`` or ``torchrun --nproc-per-node N -m glta train ...`` has
``WORLD_SIZE > 1`` in its environment. Then every process builds the same model (GLTA: each its own copy of the
frozen LLM) and draws the same global batches from the same seed; each takes its contiguous share of a batch's rows,
``torch.nn.parallel.DistributedDataParallel`` (set up by accelerate: NCCL on GPUs, gloo on CPUs) averages the
gradients, and every process takes the same optimiser step. With equal shares the averaged gradient is the gradient
of the global batch's mean loss, so N processes follow the one-process run up to floating-point summation order
(a final batch with fewer rows than processes is skipped). Evaluation splits the users, gathers the per-user metric
values and averages them in the one-process order. Only the main process writes checkpoints, run folders and
results files; the others wait for it where they would read what it writes.

A plain ``glta train`` (one process) imports none of this machinery and behaves exactly as before.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import os
import warnings
from datetime import timedelta
from typing import Any, Iterator

import numpy as np
import torch


class Processes:
    """The processes of this run (one when not launched by accelerate/torchrun)."""

    def __init__(self) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = 0
        self.accelerator = None
        if self.world > 1:
            from accelerate import Accelerator
            from accelerate.utils import DistributedDataParallelKwargs, InitProcessGroupKwargs

            # every process holds the same buffers (graphs, frozen embeddings), so nothing is re-broadcast per step;
            # parts a stage does not train have requires_grad off, so every trainable parameter gets a gradient
            ddp = DistributedDataParallelKwargs(broadcast_buffers=False)
            # the main process may fill a cache for hours (GLTA's prompt prefixes) while the others wait for it
            group = InitProcessGroupKwargs(timeout=timedelta(hours=6))
            self.accelerator = Accelerator(cpu=not torch.cuda.is_available(), kwargs_handlers=[ddp, group])
            self.rank, self.world = self.accelerator.process_index, self.accelerator.num_processes
            atexit.register(self.close)  # a process group left open can abort the process as it exits

    def close(self) -> None:
        """Leave the process group together, while the interpreter is whole: gloo's worker threads otherwise may
        still hold work when Python shuts down, and the process aborts as it exits. Called by the CLI when a command
        ends, and at exit."""
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            import gc

            torch.distributed.barrier()
            gc.collect()  # DistributedDataParallel wrappers and their pending work go first
            torch.distributed.destroy_process_group()

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    @property
    def device(self) -> torch.device | None:
        """This process's device when several share a machine's GPUs (None: the settings decide)."""
        if self.accelerator is None or self.accelerator.device.type == "cpu":
            return None
        return self.accelerator.device

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """The module whose ``forward(batch)`` (the training loss) is called in a step: ``model`` itself, or
        ``model`` inside DistributedDataParallel, which all-reduces its gradients during ``backward``."""
        if not self.distributed or not any(p.requires_grad for p in model.parameters()):
            return model
        with warnings.catch_warnings():  # torch renames broadcast_buffers; the meaning wanted here is unchanged
            warnings.filterwarnings("ignore", message=".*broadcast_buffers.*", category=FutureWarning)
            return self.accelerator.prepare_model(model, device_placement=False)

    def unwrap(self, wrapped: torch.nn.Module) -> torch.nn.Module:
        return wrapped if self.accelerator is None else self.accelerator.unwrap_model(wrapped)

    def share(self, batch: Any) -> Any | None:
        """This process's contiguous share of a batch's rows; None when the batch has fewer rows than processes
        (every process skips it alike)."""
        if not self.distributed:
            return batch
        rows = batch_rows(batch)
        if rows < self.world:
            return None
        bounds = np.linspace(0, rows, self.world + 1).round().astype(int)
        return slice_rows(batch, rows, slice(bounds[self.rank], bounds[self.rank + 1]))

    def users(self, users: np.ndarray) -> np.ndarray:
        """This process's users of an evaluation or generation job (every world-th, so shares stay balanced)."""
        return users[self.rank::self.world] if self.distributed else users

    def gather(self, value: Any) -> list[Any]:
        """Every process's ``value``, in rank order (a list of one without distribution)."""
        if not self.distributed:
            return [value]
        gathered: list[Any] = [None] * self.world
        torch.distributed.all_gather_object(gathered, value)
        return gathered

    def wait(self) -> None:
        if self.distributed:
            self.accelerator.wait_for_everyone()

    @contextlib.contextmanager
    def main_first(self) -> Iterator[None]:
        """The main process runs the block first (e.g. filling a cache the others then read), then the rest."""
        if not self.is_main:
            self.wait()
        yield
        if self.is_main:
            self.wait()


_PROCESSES: Processes | None = None


def processes() -> Processes:
    """This run's processes, set up on first use (the process group is created once per process)."""
    global _PROCESSES
    if _PROCESSES is None:
        _PROCESSES = Processes()
    return _PROCESSES


def batch_rows(batch: Any) -> int:
    """How many rows (samples) a batch holds: the length of its first tensor."""
    for value in _leaves(batch):
        if isinstance(value, (torch.Tensor, np.ndarray)) and value.ndim > 0:
            return int(value.shape[0])
    raise TypeError(f"a training batch of type {type(batch).__name__} holds no tensor to split by rows")


def slice_rows(batch: Any, rows: int, where: slice) -> Any:
    """The batch with every tensor of ``rows`` rows cut to ``where`` (tuples, lists and dataclasses are walked)."""
    if isinstance(batch, (torch.Tensor, np.ndarray)):
        return batch[where] if batch.ndim > 0 and batch.shape[0] == rows else batch
    if isinstance(batch, (tuple, list)):
        return type(batch)(slice_rows(v, rows, where) for v in batch)
    if dataclasses.is_dataclass(batch) and not isinstance(batch, type):
        return dataclasses.replace(batch, **{f.name: slice_rows(getattr(batch, f.name), rows, where)
                                             for f in dataclasses.fields(batch) if f.init})
    return batch


def _leaves(batch: Any) -> Iterator[Any]:
    if isinstance(batch, (tuple, list)):
        for value in batch:
            yield from _leaves(value)
    elif dataclasses.is_dataclass(batch) and not isinstance(batch, type):
        for f in dataclasses.fields(batch):
            yield from _leaves(getattr(batch, f.name))
    else:
        yield batch
