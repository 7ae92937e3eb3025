"""experiments/job_runner.py: jobs side by side within their slots, memory and order, each after what it needs,
stopped cleanly at a deadline or an interrupt."""

import sys
import time
import types
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def job_runner(experiment):
    return experiment("job_runner")


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def _sleep(seconds: float, then: str = "") -> list[str]:
    return _python(f"import time; time.sleep({seconds})" + (f"; {then}" if then else ""))


def events(capsys) -> list[tuple[str, str]]:
    """(job, "started" or "ended") in the order the runner printed them: what it decided, which the jobs' own
    clocks may not show on a busy machine (a Python process started later can run first)."""
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[")]
    return [(line[1:line.index("]")], "started" if "] started" in line else "ended") for line in lines]


def test_jobs_run_side_by_side_after_what_they_need_until_the_deadline(job_runner, tmp_path, capsys):
    """At most `slots` at once; a job waits for the jobs it comes after and is not started when one of them failed;
    its own limit and the session's deadline stop it; every job's output is kept in its log."""
    jobs = [job_runner.Job("a", _sleep(1.0, "print('a done')")),
            job_runner.Job("b", _sleep(1.0)),
            job_runner.Job("c", _sleep(0), after=("a",)),
            job_runner.Job("bad", _python("raise SystemExit(3)")),
            job_runner.Job("after-bad", _python("print('never')"), after=("bad",)),
            job_runner.Job("slow", _sleep(60), limit=1.5),
            job_runner.Job("late", _sleep(60))]
    began = time.time()
    report = job_runner.run_jobs(jobs, {}, deadline=began + 6, slots=2, logs=tmp_path / "logs", poll=0.1, grace=10)
    assert {k: v["status"] for k, v in report.items()} == {
        "a": "complete", "b": "complete", "c": "complete", "bad": "failed (3)",
        "after-bad": "not started: bad did not complete", "slow": "stopped at its own limit of 2s",
        "late": "stopped at the deadline: the same command continues it"}
    order = events(capsys)
    assert order.index(("c", "started")) > order.index(("a", "ended"))  # after a, though a slot was free while b ran
    assert order.index(("b", "started")) < order.index(("a", "ended"))  # side by side
    assert report["a"]["output_tail"] == "a done" and (tmp_path / "logs" / "a.log").read_text() == "a done\n"
    assert time.time() - began < 6 + 10  # interrupted, not killed after the grace (also when run in the background)


def test_a_jobs_log_keeps_no_library_progress_bar(job_runner, tmp_path):
    """A plain tqdm bar inside a library (transformers' GGUF conversion draws one its progress switch does not
    reach) stays out of a job's log; the job's own lines stay in it."""
    bar = "from tqdm import tqdm; [None for _ in tqdm(range(3), desc='converting')]; print('own line')"
    report = job_runner.run_jobs([job_runner.Job("bar", _python(bar))], {}, deadline=time.time() + 60, slots=1,
                                 logs=tmp_path / "logs", poll=0.1)
    assert report["bar"]["status"] == "complete"
    assert (tmp_path / "logs" / "bar.log").read_text() == "own line\n"


def test_a_job_of_two_slots_waits_for_room_and_holds_back_the_jobs_after_it(job_runner, tmp_path, capsys):
    jobs = [job_runner.Job("one", _sleep(1.0)), job_runner.Job("wide", _sleep(1.0), slots=2),
            job_runner.Job("small", _sleep(0))]
    report = job_runner.run_jobs(jobs, {}, deadline=time.time() + 30, slots=2, logs=tmp_path / "logs", poll=0.1)
    assert all(entry["status"] == "complete" for entry in report.values())
    order = events(capsys)
    assert order.index(("wide", "started")) > order.index(("one", "ended"))  # not beside "one": it needs both slots
    assert order.index(("small", "started")) > order.index(("wide", "ended"))  # a free slot, but "wide" came first
    wider = [job_runner.Job("wider", _python("print('ran')"), slots=4)]  # wider than the session: takes all of it
    assert job_runner.run_jobs(wider, {}, deadline=time.time() + 30, slots=2, logs=tmp_path / "logs",
                               poll=0.1)["wider"]["status"] == "complete"


def test_a_free_slot_goes_first_to_a_job_reading_the_running_jobs_prefix_store(job_runner, tmp_path, capsys):
    """pair_stores: two GLTA jobs of different data sets side by side wait on the disk, so the second slot goes to
    the next job of the running one's data set (or one reading no store); without a fitting job it still runs."""
    jobs = [job_runner.Job("ml-a", _sleep(2.0), store="ml-1m"), job_runner.Job("amazon", _sleep(2.0), store="amazon"),
            job_runner.Job("ml-b", _sleep(2.0), store="ml-1m"), job_runner.Job("amazon-2", _sleep(0), store="amazon")]
    report = job_runner.run_jobs(jobs, {}, deadline=time.time() + 30, slots=2, logs=tmp_path / "logs", poll=0.1,
                                 pair_stores=True)
    assert all(entry["status"] == "complete" for entry in report.values())
    order = events(capsys)
    assert order.index(("ml-b", "started")) < order.index(("ml-a", "ended"))  # side by side: one store
    assert order.index(("amazon", "started")) > order.index(("ml-a", "ended"))  # once an ML-1M job's slot freed
    assert order.index(("amazon-2", "started")) < order.index(("amazon", "ended"))
    # without the pairing the list's order decides: ml-a beside amazon
    job_runner.run_jobs(jobs, {}, deadline=time.time() + 30, slots=2, logs=tmp_path / "logs", poll=0.1)
    order = events(capsys)
    assert order.index(("amazon", "started")) < order.index(("ml-a", "ended"))


def test_a_job_waits_until_the_running_jobs_known_peaks_leave_room_for_its_own(job_runner, tmp_path, capsys):
    """Two amazon-scientific GLTA jobs and a test suite did not fit in 24 GB: a job whose like run measured its peak
    starts only when it fits beside the running ones' peaks (or nothing else runs); a job with no measured peak, as
    before, whenever a slot is free."""

    def job(name, seconds, memory):
        return job_runner.Job(name, _sleep(seconds), memory=memory)

    jobs = [job("big", 2.0, 14e9), job("big-2", 0, 12e9), job("unknown", 0, None), job("huge", 0, 30e9)]
    report = job_runner.run_jobs(jobs, {}, deadline=time.time() + 60, slots=2, logs=tmp_path / "logs", poll=0.1,
                                 memory=20e9)
    assert all(entry["status"] == "complete" for entry in report.values())
    order = events(capsys)
    assert order.index(("big-2", "started")) > order.index(("big", "ended"))  # 26 GB together: after the first ended
    assert order.index(("big-2", "started")) < order.index(("unknown", "started"))  # the list's order holds
    assert order.index(("big-2", "started")) < order.index(("huge", "started"))
    job_runner.run_jobs(jobs[:2], {}, deadline=time.time() + 60, slots=2, logs=tmp_path / "logs", poll=0.1)
    order = events(capsys)
    assert order.index(("big-2", "started")) < order.index(("big", "ended"))  # no budget: side by side


def test_an_interrupt_stops_the_running_jobs_so_they_keep_their_checkpoints(job_runner, tmp_path, monkeypatch):
    started, stopped = tmp_path / "started", tmp_path / "stopped"
    code = (f"import pathlib, time\ntry:\n    pathlib.Path({str(started)!r}).write_text('1')\n    time.sleep(60)\n"
            f"except KeyboardInterrupt:\n    pathlib.Path({str(stopped)!r}).write_text('1')\n")  # said inside the try

    def sleep(seconds):  # the runner's poll: an interrupt arrives once the job is running
        while not started.exists():
            time.sleep(0.05)
        raise KeyboardInterrupt

    monkeypatch.setattr(job_runner, "time", types.SimpleNamespace(time=time.time, sleep=sleep))
    jobs = [job_runner.Job("long", [sys.executable, "-c", code]), job_runner.Job("next", [sys.executable, "-c", ""])]
    began = time.time()
    with pytest.raises(KeyboardInterrupt):
        job_runner.run_jobs(jobs, {}, deadline=float("inf"), slots=1, logs=tmp_path / "logs", poll=0.1, grace=20)
    assert stopped.exists()  # it got the interrupt (a checkpointing job saves here), not a kill
    assert time.time() - began < 20
    assert not Path(tmp_path / "logs" / "next.log").exists()  # nothing new starts
