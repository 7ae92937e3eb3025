"""experiments/glta_runs.py: every GLTA-family results file of a data set as one ledger row, from the files alone."""

import json


def write(folder, name, record):
    path = folder / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))


def trained(seed, history, best, ia_reused=False, method="glta"):
    training = {"best_epoch": best, "epochs_run": len(history), "train_seconds": 1234.5, "ia_seconds": 100.0,
                "prefix_seconds": 7.0, "stopped_by": "early stopping",
                "history": [{"epoch": e, "loss": 7.0 - e, "valid": {"N@10": v}} for e, v in enumerate(history)]}
    if ia_reused:
        training["ia_reused"] = "/cache/ia.safetensors"
    return {"method": method, "dataset": "d", "training": training,
            "metrics": {"valid": {"N@10": 0.15}, "test": {"N@10": 0.33}},
            "provenance": {"seed": seed, "git_commit": "abcdef123", "trained_by_commits": ["1111111aaa", "2222222bbb"],
                           "machine": {"cpu": "Intel(R) Xeon(R) Processor", "amx": True, "bf16": True,
                                       "torch_threads": 1}, "finished_at": "2026-12-05T14:11:14+00:00"}}


def test_each_run_is_a_row_with_its_per_epoch_validation_and_modes_apart(tmp_path, experiment):
    ledger = experiment("glta_runs")
    folder = tmp_path / "d"
    write(folder, "glta", trained(2025, [0.12, 0.14, 0.13], best=1))
    write(folder, "seeds/glta-2026", trained(2026, [0.11, 0.12, 0.125, 0.12], best=2, ia_reused=True))
    mode = {"method": "glta", "dataset": "d", "metrics": {"valid": {"N@10": 0.1}, "test": {"N@10": 0.29}},
            "provenance": {"seed": 2025, "git_commit": "cf0bd23e23", "wall_seconds": 1113.5,
                           "config": {"model": {"inference": "autoregressive"}}, "machine": {"gpu": "NVIDIA H200"}}}
    write(folder, "glta_variants/mode_autoregressive", mode)
    write(folder, "diagnostics/glta", {"method": "glta", "mean_user_token": {}})  # no metrics: not a run
    write(folder, "lightgcn", {**trained(2025, [0.2], best=0), "method": "lightgcn"})  # not GLTA's family
    text = ledger.ledger(tmp_path, "d")
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    main = next(row for row in rows if row.startswith("| glta | 2025 |"))
    assert "Intel Xeon Processor (AMX, bf16; 1 thread)" in main and "1111111, 2222222" in main
    assert "| 100 | 7 | 1,234 | 1 of 3 | early stopping | 7.00 → 5.00 | 0.1500 | 0.3300 | 2026-12-05 |" in main
    assert "| 100 (cache) |" in next(row for row in rows if row.startswith("| seeds/glta-2026 | 2026 |"))
    assert "| glta | 0.1200 | **0.1400** | 0.1300 |  |" in rows
    assert "| seeds/glta-2026 | 0.1100 | 0.1200 | **0.1250** | 0.1200 |" in rows
    assert ("| glta_variants/mode_autoregressive | autoregressive | 2025 | NVIDIA H200 | cf0bd23 | 1,114 | 0.1000 | "
            "0.2900 |") in rows
    assert "diagnostics" not in text and "lightgcn" not in text
    assert ledger.ledger(tmp_path, "empty") is None
    assert ledger.write(tmp_path, ["d", "empty"]) == [folder / "glta_runs.md"]
