import os
import subprocess
import sys
import threading
import time

import pytest
import torch

from glta import training
from glta.config import EvalConfig, LightGCNConfig, TrainConfig
from glta.device import busy_cpu_warning, busy_elsewhere
from glta.models.lightgcn import LightGCN
from glta.training import fit


@pytest.mark.parametrize("threads, busy, cores, fix", [
    (2, 1.0, 2, 1),      # one single-thread job beside a run of torch's two threads
    (4, 2.6, 4, 1),
    (8, 4.0, 8, 4),
])
def test_threads_beyond_the_idle_cores_get_a_warning_naming_the_setting(threads, busy, cores, fix):
    warning = busy_cpu_warning(threads, busy=busy, cores=cores)
    assert warning is not None and f"train.threads={fix} " in warning and "\n" not in warning
    assert f"OMP_NUM_THREADS={fix} " in busy_cpu_warning(threads, busy=busy, cores=cores, setting="OMP_NUM_THREADS")


@pytest.mark.parametrize("threads, busy, cores", [(2, 0.2, 2), (1, 1.9, 2), (2, 2.0, 4), (1, 8.0, 2)])
def test_threads_that_fit_the_idle_cores_get_none(threads, busy, cores):
    assert busy_cpu_warning(threads, busy=busy, cores=cores) is None


def test_busy_cores_count_other_processes_and_not_this_one():
    cpus = os.cpu_count() or 1
    before = busy_elsewhere(0.5)
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            pass

    spinner = threading.Thread(target=spin)
    spinner.start()  # this process's own work: not counted
    try:
        own = busy_elsewhere(0.5)
    finally:
        stop.set()
        spinner.join()
    other = subprocess.Popen([sys.executable, "-c", "import time\nt = time.time() + 3\nwhile time.time() < t: pass"])
    try:
        time.sleep(0.5)
        elsewhere = busy_elsewhere(0.5)
    finally:
        other.kill()
        other.wait()
    assert own <= before + 0.35
    assert elsewhere >= min(before + 0.65, cpus - 0.35)


@pytest.fixture
def busy_machine(monkeypatch):
    """A 2-core CPU with one core's worth of other work, and torch's thread count put back afterwards."""
    monkeypatch.setattr(training, "_threads_checked", False)
    monkeypatch.setattr("glta.device.busy_elsewhere", lambda: 1.0)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("threads, warned", [(2, True), (1, False)])
def test_training_on_a_busy_cpu_warns_once_unless_its_threads_fit(synthetic, busy_machine, threads, warned):
    lines = []
    train = TrainConfig(epochs=1, batch_size=1024, threads=threads, device="cpu")
    for _ in range(2):  # a second fit in the same process (GLTA's stages, then UA) does not warn again
        fit(LightGCN(synthetic, LightGCNConfig()), synthetic, train, EvalConfig(), progress=False, log=lines.append)
    warnings = [line for line in lines if line.startswith("warning: 2 torch threads on 2 cores")]
    assert len(warnings) == (1 if warned else 0)
    assert torch.get_num_threads() == threads
