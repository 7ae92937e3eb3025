"""Which results files were not made from a clean commit of this repository's history, and what that means.

    .venv/bin/python experiments/provenance_audit.py

A run records ``git_commit`` when it starts. Two kinds fall short of a clean provenance: ``<sha>+dirty`` (older glta
versions: an uncommitted tree on top of <sha>, its diff not recorded; newer ones record ``+dirty-<diff hash>``) and a
commit that is not in this history (e.g. one typed by hand into ``GLTA_GIT_COMMIT`` on a GPU machine). A run
resumed from a checkpoint lists every commit that trained it (``trained_by_commits``), and each must be clean: a
checkpoint written before glta kept them reads as ``unrecorded``. The numbers
are kept as measured and the files are left as they were written; the note printed for each tells a reader which
commit the code was near and that the exact code is not recoverable. ``glta.report`` marks such cells in the tables.
The cure is a rerun from a clean commit.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from glta.checkpoint import UNRECORDED
from glta.results import commits_status, provenance_status


def note(commit: str, status: str) -> str:
    base = commit.split("+", 1)[0]
    if commit == UNRECORDED:
        return ("resumed from a checkpoint written before glta recorded the commits that trained a run, so the code "
                "of its first epochs is not recorded")
    if status == "dirty":
        return (f"made from uncommitted changes on top of {base}; glta did not then record the diff, so the exact "
                "code is not recoverable")
    return (f"the recorded commit {commit!r} names no commit of this repository's history; the exact code is not "
            "recoverable")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default="results", help="the results folder")
    args = parser.parse_args()
    found = 0
    for path in sorted(Path(args.results).rglob("*.json")):
        record = json.loads(path.read_text())
        prov = record.get("provenance") or {}
        if not prov.get("git_commit"):
            continue
        status = provenance_status(prov)
        if status == "clean":
            continue
        found += 1
        statuses = {commit: commits_status([commit])
                    for commit in dict.fromkeys([prov["git_commit"], *prov.get("trained_by_commits", [])])}
        notes = [note(commit, status) for commit, status in statuses.items() if status != "clean"]
        print(f"{status:<8} {path}: {'; '.join(notes)}")
    print(f"{found} results file(s) without a clean commit of this history")


if __name__ == "__main__":
    main()
