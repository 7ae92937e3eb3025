"""experiments/collect_queue.py: a queue worktree's new, changed and deleted results files come back to the checkout;
what --report writes again stays, and nothing committed or edited here is overwritten."""

import subprocess

import pytest

from glta.errors import GLTAError


def git(repo, *args):
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args], check=True,
                   capture_output=True)


def test_the_queues_results_come_back_and_the_regenerated_files_do_not(tmp_path, experiment):
    collect_queue = experiment("collect_queue")
    main, queue = tmp_path / "main", tmp_path / "queue"
    for name, text in (("results/d/glta.json", "old"), ("results/d/gone.json", "stale"),
                       ("results/paper/table2.md", "table"), ("results/d/glta_variants.md", "rows")):
        (main / name).parent.mkdir(parents=True, exist_ok=True)
        (main / name).write_text(text)
    git(main.parent, "init", "-q", str(main))
    git(main, "add", "-A")
    git(main, "commit", "-qm", "start")
    git(main, "worktree", "add", "-q", "--detach", str(queue), "HEAD")
    (queue / "results/d/glta.json").write_text("new")  # the queue trained it again
    (queue / "results/d/gone.json").unlink()  # read out of an older model: deleted before it is read again
    (queue / "results/d/seeds").mkdir()
    (queue / "results/d/seeds/glta-2026.json").write_text("seed")
    (queue / "results/paper/table2.md").write_text("the queue's table")  # --report writes these here again
    (queue / "results/d/glta_variants.md").write_text("the queue's rows")
    (queue / "results/d/glta_runs.md").write_text("the queue's ledger")

    assert collect_queue.collect(queue, main, dry_run=True) == [
        "copy   results/d/glta.json", "delete results/d/gone.json", "copy   results/d/seeds/glta-2026.json"]
    assert (main / "results/d/glta.json").read_text() == "old"  # a dry run changes nothing
    (main / "results/d/glta.json").write_text("edited here")
    with pytest.raises(GLTAError, match="results/d/glta.json has uncommitted changes here too"):
        collect_queue.collect(queue, main)
    git(main, "commit", "-qam", "a newer glta.json")  # committed here after the queue's commit
    with pytest.raises(GLTAError, match="was committed here after the queue's commit"):
        collect_queue.collect(queue, main)
    git(main, "reset", "-q", "--hard", "HEAD~1")
    collect_queue.collect(queue, main)
    assert (main / "results/d/glta.json").read_text() == "new"
    assert not (main / "results/d/gone.json").exists()
    assert (main / "results/d/seeds/glta-2026.json").read_text() == "seed"
    assert (main / "results/paper/table2.md").read_text() == "table"
    assert (main / "results/d/glta_variants.md").read_text() == "rows"
    assert not (main / "results/d/glta_runs.md").exists()
    git(main, "add", "-A")
    git(main, "commit", "-qm", "the queue's results")
    assert collect_queue.collect(queue, main) == []  # collected and committed: nothing to do, nothing clashes
    with pytest.raises(GLTAError, match="is not a git checkout"):
        collect_queue.collect(tmp_path / "nowhere", main)


def test_names_git_would_quote_come_back_as_they_are_and_a_staged_rename_moves_the_file(tmp_path, experiment):
    collect_queue = experiment("collect_queue")
    main, queue = tmp_path / "main", tmp_path / "queue"
    (main / "results/d").mkdir(parents=True)
    (main / "results/d/old name.json").write_text("kept")
    git(main.parent, "init", "-q", str(main))
    git(main, "add", "-A")
    git(main, "commit", "-qm", "start")
    git(main, "worktree", "add", "-q", "--detach", str(queue), "HEAD")
    (queue / "results/d/grid point é.json").write_text("new")  # git status quotes this name without -z
    git(queue, "mv", "results/d/old name.json", "results/d/new name.json")

    assert collect_queue.changed(queue) == {"results/d/grid point é.json": "written",
                                            "results/d/new name.json": "written", "results/d/old name.json": "deleted"}
    collect_queue.collect(queue, main)
    assert (main / "results/d/grid point é.json").read_text() == "new"
    assert (main / "results/d/new name.json").read_text() == "kept"
    assert not (main / "results/d/old name.json").exists()
