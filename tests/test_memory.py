"""Memory a finished stage freed goes back to the operating system (glibc keeps it otherwise)."""

import os
import subprocess
import sys

import pytest

# training steps of mid-sized activations, each freed at the end of its step, a small tensor kept above them; glibc's
# settings pinned (an mmap threshold above the activations, no automatic trimming) so that it keeps what they freed,
# as it did in the GLTA process whose IA stage peaked at 10 GB and stayed at 8.6 GB through UA
SCENARIO = """
import torch
from glta.memory import return_freed_memory

def rss_mb():
    with open("/proc/self/status") as status:
        return int(next(line for line in status if line.startswith("VmRSS")).split()[1]) // 1024

before = rss_mb()
for step in range(6):
    activations = [torch.ones((256 + 97 * ((i * 7 + step) % 50)) * 1024) for i in range(120)]
    del activations
kept = torch.ones(64 * 1024)
held = rss_mb()
asked = return_freed_memory()
print(before, held, rss_mb(), asked)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc and glibc's allocator")
def test_memory_freed_by_training_steps_is_returned():
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_=str(32 * 2**20), MALLOC_TRIM_THRESHOLD_=str(2**40),
               OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", SCENARIO], env=env, capture_output=True, text=True, check=True)
    before, held, after, asked = out.stdout.split()
    before, held, after = int(before), int(held), int(after)
    assert asked == "True"
    assert held - before > 500  # the scenario holds what its steps freed...
    assert after < before + (held - before) / 10  # ...until it is returned
