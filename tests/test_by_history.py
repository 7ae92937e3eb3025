"""experiments/by_history.py: per-user test values grouped by the length of the users' training histories."""

import numpy as np
import pytest


@pytest.fixture(scope="module")
def script(experiment):
    return experiment("by_history")


def test_groups_split_users_by_history_and_average_each_method(script):
    counts = np.array([1, 9, 2, 8, 3, 7])  # users 0..5; user 5 is ranked by one method only
    reference = {0: 0.1, 1: 0.9, 2: 0.2, 3: 0.8, 4: 0.3}
    other = {0: 0.0, 1: 1.0, 2: 0.0, 3: 1.0, 4: 0.6, 5: 0.5}
    rows = script.by_history(counts, {"ref": reference, "m": other}, "ref", groups=2)
    assert [r["train_items"] for r in rows] == [[1, 3], [8, 9]]  # users 0, 2, 4 | users 3, 1
    assert [r["users"] for r in rows] == [3, 2]
    assert rows[0]["N@10"]["ref"] == pytest.approx(0.2) and rows[0]["N@10"]["m"] == pytest.approx(0.2)
    assert rows[1]["difference"]["m"] == pytest.approx(1.0 - 0.85)
    assert "ref" not in rows[0]["difference"]


def test_the_written_table_says_how_it_was_made(script, tmp_path):
    """--out keeps the groups with the files they came from and the commit, data and machine that made them."""
    import json

    results = tmp_path / "results" / "synthetic"
    results.mkdir(parents=True)
    for name, shift in (("ref", 0.0), ("m", 0.1)):
        (results / f"{name}.json").write_text(json.dumps({"per_user_test": {
            "metric": "N@10", "users": list(range(40)), "values": [shift + u / 100 for u in range(40)]}}))
    out = tmp_path / "by_history.json"
    script.main(["--dataset", "synthetic", "--reference", "ref", "--methods", "m", "--groups", "2",
                 "--results", str(tmp_path / "results"), "--out", str(out)])
    written = json.loads(out.read_text())
    assert written["files"]["m"].endswith("synthetic/m.json") and len(written["groups"]) == 2
    assert {"git_commit", "data_fingerprint", "machine", "command"} <= written["provenance"].keys()
    assert written["provenance"]["command"][-2:] == ["--out", str(out)]
