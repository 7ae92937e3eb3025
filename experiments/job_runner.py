"""Jobs side by side: the runner a lent GPU session (``gpu_session.py run``) and the CPU queue
(``reproduce.py --jobs N``) share.

A ``Job`` is one process with what it waits for and what it holds (slots, memory, the GLTA prefix store it reads);
``run_jobs`` starts each in turn as room frees up, appends its output to its own log, stops them all cleanly at a
deadline or an interrupt (SIGINT to the process group, so that every job keeps its checkpoint), and reports per job
how it ended.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Job:
    """One process of a session or queue: ``after`` names jobs that must complete first; ``limit`` caps its own seconds;
    ``cell`` is the (data set, method or variant) it trains, if any; ``slots`` is how many of the session's slots
    it takes (a job that starts several processes of its own, e.g. under ``torchrun``); ``store`` identifies the GLTA
    prefix store it reads, if any: jobs with the same value read the same store (see ``run_jobs``'s ``pair_stores``);
    ``memory`` is the bytes it holds at its peak, when a like run measured them (``run_jobs``'s ``memory``);
    ``seed`` is the extra training seed it trains of its cell (``experiments/seeds.py``), if it trains one."""

    name: str
    command: list[str]
    after: tuple[str, ...] = ()
    limit: float | None = None
    cell: tuple[str, str] | None = None
    slots: int = 1
    store: str | None = None
    memory: float | None = None
    seed: int | None = None


def log_name(job: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in job) + ".log"


def run_jobs(jobs: list[Job], env: dict, deadline: float, slots: int, logs: Path, cwd: Path = ROOT,
             poll: float = 1.0, grace: float = 20.0, pair_stores: bool = False,
             memory: float | None = None) -> dict[str, dict]:
    """Run ``jobs`` side by side, filling at most ``slots`` slots at a time (a job takes ``Job.slots``), each once
    the jobs it comes after have completed (in list order otherwise: a job with no room holds back the ones after
    it), until ``deadline``: a job still running then is stopped (every job resumes when the same
    command runs again), one not started is reported so; an interrupt stops the running jobs the same way, then
    goes on. Each job's output is appended to ``logs/<job>.log``, which comes back with ``$OUT``. Returns per job:
    status, seconds and the end of its output.

    With ``pair_stores`` (a machine whose page cache holds one data set's prefix store, not two) a free slot goes
    first to the jobs that read no store or the store the running jobs read, in list order, then to the rest: two
    GLTA jobs of different data sets side by side wait on the disk (docs/glta.md, Compute: 61% of a core against
    99%), while a job of another data set still beats an idle slot.

    With ``memory`` (the bytes the jobs may hold together) a job whose peak is known (``Job.memory``) starts only
    when the known peaks of the running jobs and its own fit in it, or when nothing else runs; otherwise it waits
    like a job with no free slot. Two amazon-scientific GLTA jobs side by side and a test suite did not fit in
    24 GB once (the kernel killed one, docs/glta.md, Compute)."""
    logs.mkdir(parents=True, exist_ok=True)
    # the jobs write their logs with --no-progress, which reaches the bars of this project and of transformers'
    # logging; this also silences the plain tqdm bars inside libraries (transformers' GGUF conversion)
    env = dict(env, TQDM_DISABLE="1")
    report: dict[str, dict] = {}
    pending, running = list(jobs), {}
    stores = {job.name: job.store for job in jobs}

    def in_turn() -> list[Job]:
        """``pending`` in the order free slots go to them."""
        reading = {stores[name] for name in running} - {None}
        if not pair_stores or not reading:
            return list(pending)
        fits = [job for job in pending if job.store is None or job.store in reading]
        return fits + [job for job in pending if job not in fits]

    def finish(name: str, status: str) -> None:
        proc, began, handle = running.pop(name)
        handle.close()
        tail = (logs / log_name(name)).read_text(errors="replace")[-1500:].strip()
        report[name] = {"status": status, "seconds": round(time.time() - began, 1), "output_tail": tail}
        print(f"[{name}] {status} after {report[name]['seconds']:.0f}s", tail[-300:], sep="\n", flush=True)

    limits = {job.name: job.limit for job in jobs}
    takes = {job.name: min(job.slots, slots) for job in jobs}  # a job wider than the session takes all of it
    peaks = {job.name: job.memory for job in jobs}
    try:
        while pending or running:
            now = time.time()
            for name, (proc, began, _) in list(running.items()):
                code = proc.poll()
                if code is not None:
                    finish(name, "complete" if code == 0 else f"failed ({code})")
                elif limits[name] is not None and now - began >= limits[name]:
                    stop([proc], grace)
                    finish(name, f"stopped at its own limit of {limits[name]:.0f}s")
            if now >= deadline and running:
                stop([proc for proc, _, _ in running.values()], grace)  # together: the call's own limit follows soon
                for name in list(running):
                    finish(name, "stopped at the deadline: the same command continues it")
            for job in in_turn():
                blocked = [a for a in job.after if a in report and report[a]["status"] != "complete"]
                if blocked or now >= deadline:
                    pending.remove(job)
                    report[job.name] = {"status": f"not started: {blocked[0]} did not complete" if blocked
                                        else "not started: deadline", "seconds": 0.0, "output_tail": ""}
                elif all(a in report for a in job.after if a in {j.name for j in jobs}):
                    if sum(takes[name] for name in running) + takes[job.name] > slots or \
                            (memory is not None and running and job.memory is not None
                             and sum(peaks[name] or 0 for name in running) + job.memory > memory):
                        break  # no room: later jobs wait their turn too (the list's order is the priority)
                    pending.remove(job)
                    handle = open(logs / log_name(job.name), "a")  # a resumed job's log keeps its start
                    print(f"[{job.name}] started: {' '.join(job.command[1:6])}", flush=True)
                    proc = subprocess.Popen(job.command, env=env, cwd=cwd, stdout=handle, stderr=subprocess.STDOUT,
                                            start_new_session=True, preexec_fn=interruptible)
                    running[job.name] = (proc, time.time(), handle)
                    if pair_stores:
                        break  # the next free slot's turn order depends on the store this job reads
            if pending or running:
                time.sleep(poll)
    except KeyboardInterrupt:  # Ctrl-C (or SIGTERM made one) here: the jobs stop as at the deadline
        stop([proc for proc, _, _ in running.values()], grace)
        for name in list(running):
            finish(name, "interrupted: the same command continues it")
        raise
    return report


def interruptible() -> None:
    """In a job's process before it starts: SIGINT back to its default, so that Python turns it into a
    KeyboardInterrupt even when this session was started in the background (where the shell ignores SIGINT and the
    children would inherit that)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def stop(procs: list[subprocess.Popen], grace: float = 20.0) -> None:
    """Interrupt jobs and their children (a KeyboardInterrupt, as a session's end would: their checkpoints and caches
    stay whole), then kill what is still running after ``grace`` seconds."""
    import signal

    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
    end = time.time() + grace
    for proc in procs:
        try:
            proc.wait(timeout=max(0.0, end - time.time()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
