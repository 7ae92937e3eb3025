"""Progress where no one watches a terminal: lines now and then instead of a bar's frames."""

import os
import subprocess
import sys
import time

import pytest

import glta.progress
from glta.cli import main
from glta.progress import progress_bar


def test_work_shorter_than_the_interval_logs_nothing(capsys):
    """A background job's log keeps no frame of work that ended before the first interval (an epoch of seconds)."""
    for _ in progress_bar(range(50), desc="epoch 0", unit="batch", progress=False, leave=False):
        pass
    bar = progress_bar(desc="user texts", unit="resp", total=4, progress=True)  # not a terminal: lines, not a bar
    bar.update(4)
    bar.close()
    assert capsys.readouterr().err == ""


def test_lines_say_how_far_the_work_got_its_rate_and_the_time_left(monkeypatch, capsys):
    monkeypatch.setattr(glta.progress, "LOG_SECONDS", 0.0)
    bar = progress_bar(range(3), desc="epoch 4", unit="batch", progress=False, leave=False, initial=1, total=4)
    for step in bar:
        time.sleep(0.01)
        bar.set_postfix(loss=f"{6.25 - step:.4f}", refresh=False)
    err = capsys.readouterr().err
    assert "\r" not in err and "  " not in err and "\n\n" not in err  # whole lines; the closed bar leaves no blank
    lines = err.splitlines()
    assert lines[0].startswith("epoch 4: 1 of 4 batches (25%), 00:00 so far, ~")  # a resumed epoch counts from 1
    assert lines[-1].startswith("epoch 4: 4 of 4 batches (100%)") and lines[-1].endswith("loss=4.2500")
    assert "batch/s" in lines[-1] or "s/batch" in lines[-1]
    for _ in progress_bar(iter(range(2)), desc="stream", unit="match", progress=False):  # no length: no share
        pass
    assert capsys.readouterr().err.splitlines()[-1].startswith("stream: 2 matches, 00:00 so far, ")


def test_a_watched_terminal_gets_a_bar_and_other_processes_nothing(monkeypatch, capsys):
    monkeypatch.setattr(glta.progress, "LOG_SECONDS", 0.0)
    monkeypatch.setattr(glta.progress, "watched", lambda stream: True)
    for _ in progress_bar(range(3), desc="evaluate test", unit="batch"):
        pass
    err = capsys.readouterr().err
    assert "\r" in err and "3/3" in err and "batches (" not in err
    monkeypatch.setenv("RANK", "1")  # another process of a distributed run: its main process reports
    for _ in progress_bar(range(3), desc="evaluate test", unit="batch"):
        pass
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("progress", [[], ["--no-progress"]])
def test_training_logged_to_a_file_says_where_each_epoch_is(tmp_path, monkeypatch, capsys, progress):
    """`glta train` with its output in a log (or `--no-progress`): the epochs' lines, no carriage-return frames."""
    monkeypatch.setattr(glta.progress, "LOG_SECONDS", 0.0)
    assert main(["train", "lightgcn", "--dataset", "synthetic", "--out", str(tmp_path / "r.json"), "--run-dir",
                 str(tmp_path / "run"), "train.epochs=2", "train.batch_size=4096", "model.dim=8", *progress]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = err.splitlines()
    assert any(line.startswith("epoch 1: ") and " batches (100%)" in line and "loss=" in line for line in lines), lines
    assert any(line.startswith("evaluate test: ") for line in lines)


def test_lines_survive_the_tqdm_switch_that_silences_library_bars():
    """`glta ... --no-progress` and the queue's jobs set TQDM_DISABLE=1 (read once, as tqdm is imported) to quiet the
    bars inside libraries; the log's lines are this project's own and stay."""
    code = ("import glta.progress as p; p.LOG_SECONDS = 0.0\n"
            "for _ in p.progress_bar(range(2), desc='epoch 0', unit='batch', progress=False): pass")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env=dict(os.environ, TQDM_DISABLE="1"))
    assert "epoch 0: 2 of 2 batches (100%)" in done.stderr
