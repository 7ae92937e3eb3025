"""Bring a CPU queue's new results from its worktree into this checkout, before the worktree moves to a newer commit.

    .venv/bin/python experiments/collect_queue.py ../glta-queue [--dry-run]
    .venv/bin/python experiments/reproduce.py --report      # then: the tables, claims and ledgers from them

A queue runs in a clean worktree of its own (README, "Reproducing the paper"), so what it trains shows there as
results files that ``git status`` calls new, changed or deleted (a decoding mode read out of an older model is
deleted before it is read again). This copies each of them to the same path here, or deletes it here, and leaves out
what ``reproduce.py --report`` writes again from them (``results/paper/``, each data set's ``glta_runs.md`` and
``glta_variants.md``, whose code here may be newer than the queue's). A results file that has uncommitted changes
here as well, or that was committed here after the queue's commit, is not overwritten: the command stops and names
it.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

from glta.errors import GLTAError

ROOT = Path(__file__).resolve().parents[1]
REGENERATED = ("results/paper/",)
REGENERATED_NAMES = ("glta_runs.md", "glta_variants.md")  # a data set's ledger and variants table


def changed(repo: Path) -> dict[str, str]:
    """Path under results/ -> "deleted" or "written", as ``git status`` sees them in ``repo`` (untracked files one by
    one, not their folder)."""
    out = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "-z", "--untracked-files=all", "--",
                          "results"], capture_output=True, text=True)
    if out.returncode != 0:
        raise GLTAError(f"{repo} is not a git checkout ({out.stderr.strip()}): give the queue's worktree")
    # -z: each entry "XY path" ends in a NUL, names are not quoted, and a rename's entry (new name) is followed by
    # the old name as an entry of its own
    entries = iter(out.stdout.split("\0")[:-1])
    found = {}
    for entry in entries:
        status, path = entry[:2], entry[3:]
        if "R" in status:
            found[next(entries)] = "deleted"  # a rename: its old name goes, its new name is written
        elif "C" in status:
            next(entries)  # a copy: its source stays as it is
        found[path] = "deleted" if "D" in status else "written"
    return found


def wanted(path: str) -> bool:
    return not path.startswith(REGENERATED) and Path(path).name not in REGENERATED_NAMES


def committed(repo: Path, path: str) -> str | None:
    """The blob id of ``path`` in ``repo``'s HEAD, None where HEAD has no such file."""
    out = subprocess.run(["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"HEAD:{path}"],
                         capture_output=True, text=True)
    return out.stdout.strip() or None


def already_here(worktree: Path, here: Path, path: str, action: str) -> bool:
    """Whether this checkout's HEAD already has the queue's change of ``path`` (collected and committed before)."""
    if action == "deleted":
        return committed(here, path) is None
    out = subprocess.run(["git", "-C", str(worktree), "hash-object", "--", path], capture_output=True, text=True)
    return out.returncode == 0 and out.stdout.strip() == committed(here, path)


def collect(worktree: Path, here: Path = ROOT, dry_run: bool = False) -> list[str]:
    """Copy (or delete) here every results file the queue's ``worktree`` changed; the actions, one line each."""
    theirs = {path: action for path, action in changed(worktree).items() if wanted(path)}
    ours = changed(here)
    clash = sorted(path for path in theirs if path in ours)
    if clash:
        raise GLTAError(f"{clash[0]} has uncommitted changes here too ({len(clash)} file(s) in all): commit or "
                        "restore them first, then collect again")
    theirs = {path: action for path, action in theirs.items() if not already_here(worktree, here, path, action)}
    moved = sorted(path for path in theirs if committed(here, path) != committed(worktree, path))
    if moved:
        raise GLTAError(f"{moved[0]} was committed here after the queue's commit ({len(moved)} file(s) in all), so "
                        "the queue's change would undo it: compare the two by hand")
    done = []
    for path, action in sorted(theirs.items()):
        source, target = worktree / path, here / path
        if action == "deleted":
            if target.exists():
                done.append(f"delete {path}")
                if not dry_run:
                    target.unlink()
            continue
        done.append(f"copy   {path}")
        if not dry_run:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("worktree", type=Path, help="the queue's worktree (its results/ is read, never changed)")
    parser.add_argument("--dry-run", action="store_true", help="say what would be copied or deleted, change nothing")
    args = parser.parse_args()
    try:
        done = collect(args.worktree.resolve(), dry_run=args.dry_run)
    except GLTAError as error:
        raise SystemExit(f"collect_queue: error: {error}") from None
    print("\n".join(done) or "nothing new in the queue's results")
    if done and not args.dry_run:
        print("next: .venv/bin/python experiments/reproduce.py --report, then commit")


if __name__ == "__main__":
    main()
