"""Paired significance of the paper's claims on each data set, from the results files' per-user test values.

    .venv/bin/python experiments/significance.py [--datasets ml-1m amazon-scientific goodreads-once ml-100k]

For each data set: GLTA and GLTA+ against the best baseline (the paper's six, chosen by validation N@10), against
LightGCN (its seeds) and against their own frozen backbone (the graph model's run whose embeddings the GLTA seeds
projected, as their results record it, or for older results the graph model's main run: a backbone seed that
happens to beat the graph model's seed average would otherwise pass for a gain of GLTA's), each ablation and decoding mode (FL, AR) against full GLTA, and the paper's baseline claims: each text-aligned graph model against its
plain one (LightGCN+ vs LightGCN, HCCF+ vs HCCF) and RLMRec-Con against the best baseline when that is another. Each comparison is a Wilcoxon signed-rank test over users on test
N@10 (averaged over seeds when a method has several: ``<method>.json`` plus ``seeds/<method>-<seed>.json``; only the
seeds whose files hold per-user values, which the table says when it is fewer), and a paired t-test over seeds when
both sides have at least two. Writes ``results/paper/significance.md``; a pair whose
files lack per-user values (made before they were recorded) is listed with what to rerun. A pair of GLTA cells whose
runs did not all read the same LLM-written texts (written again on another machine: their results record digests)
says so in its seeds column.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from glta.errors import GLTAError
from glta.report import (DATASETS, METHODS, best_baseline, current_records, read_out_of, records,
                         training_seed)
from glta.significance import compare

ABLATIONS = {"no_ia": "w/o IA", "no_ua": "w/o UA", "no_pf": "w/o PF", "no_pd": "w/o PD", "no_pf_pd": "w/o PF&PD"}
MODES = {"mode_first_logit": "FL", "mode_autoregressive": "AR"}  # decoding modes read out of the GLTA row's model


def label(name: str) -> str:
    return METHODS.get(name) or ABLATIONS.get(name) or MODES.get(name) or name


BACKBONE = "backbone"  # the graph run a GLTA cell projected, not the graph model's seed average


def backbone(results: Path, dataset: str, runs: list[dict]) -> tuple[str, list[dict]]:
    """The row's name for the graph model whose embeddings ``runs`` (a GLTA cell's seeds) projected, ``model.graph``
    (LightGCN unless set), and its test results as those runs read it: from the runs themselves (``backbone``, which GLTA results
    record: one record when every seed read the same embeddings, else one a seed), else the graph model's main run,
    which its default run folder holds and every seed read (``provenance.inputs``). No results when the cell has no
    runs, its seeds name different graph models, or an older seed read another folder."""
    graphs = {run["provenance"]["config"]["model"].get("graph", "lightgcn") for run in runs}
    if len(graphs) != 1:
        return "its frozen backbone", []
    graph = graphs.pop()
    name = f"{METHODS.get(graph, graph)}, its frozen backbone"
    if all(run.get("per_user_backbone_test") for run in runs):  # one record, or one a seed where seeds differ
        digests = {(run["provenance"].get("inputs") or {}).get("graph_embeddings_sha256") for run in runs}
        return name, [{"metrics": {"test": run["backbone"]["test"]}, "per_user_test": run["per_user_backbone_test"]}
                      for run in (runs[:1] if len(digests) == 1 else runs)]
    folders = {(run["provenance"].get("inputs") or {}).get("graph_run", f"runs/{dataset}/{graph}") for run in runs}
    return f"{name} (main run)", records(results, dataset, graph)[:1] if folders == {f"runs/{dataset}/{graph}"} else []


def text_digests(run: dict) -> dict[str, str] | None:
    """The LLM-written user texts a GLTA run's prompts read, as its results file records them (``provenance.inputs``):
    a digest of each kind and one of all it read together (``profile and prediction together``: the only one a run
    recorded before the kinds were); {} for a run that reads none (or no GLTA run); None where it reads texts but its
    results file records no digest."""
    provenance = run.get("provenance") or {}
    model = (provenance.get("config") or {}).get("model") or {}
    if "use_profile" not in model and "use_prediction" not in model:
        return {}  # not a GLTA run
    kinds = [kind for kind in ("profile", "prediction") if model.get(f"use_{kind}", True)]
    if not kinds:
        return {}
    inputs = provenance.get("inputs") or {}
    digests = dict(inputs.get("user_texts_sha256_by_kind") or {})
    if inputs.get("user_texts_sha256"):
        digests[" and ".join(kinds) + " together"] = inputs["user_texts_sha256"]  # not a kind's own digest
    return digests or None


def texts_note(runs: list[dict]) -> str:
    """Where the runs of a comparison (both sides, every seed) did not all read the same LLM-written texts: a kind
    two of them recorded with different digests (the texts were written again, e.g. on another machine), or runs
    that read texts without a recorded digest beside runs that recorded one; "" where nothing says they differ."""
    found = [text_digests(run) for run in runs]
    recorded = [digests for digests in found if digests]
    differ = {kind for digests in recorded for kind in digests
              if len({other[kind] for other in recorded if kind in other}) > 1}
    kinds = [kind for kind in ("profile", "prediction") if kind in differ]  # a kind's own digest says most
    together = sorted(kind.removesuffix(" together") for kind in differ if kind.endswith(" together"))
    named = " and ".join(kinds) if kinds else "; ".join(together)  # else only runs that recorded no kinds differ
    notes = [f"{named} texts differ between runs"] if named else []
    unknown = sum(digests is None for digests in found)
    if unknown and recorded:
        notes.append(f"{unknown} run{'s' * (unknown != 1)} read texts no digest records")
    return "; ".join(notes)


def same_seeds(runs: list[dict], other: list[dict]) -> list[dict]:
    """The runs of ``runs`` whose training seed one of ``other`` has too (all of them where a run records none)."""
    seeds = set(map(training_seed, other))
    return runs if None in seeds or None in map(training_seed, runs) else \
        [run for run in runs if training_seed(run) in seeds]


def rows_for(results: Path, dataset: str) -> list[str]:
    best = best_baseline(results, dataset)
    pairs = [(a, b) for a in ("glta", "glta_plus") for b in dict.fromkeys([best, "lightgcn", BACKBONE]) if b]
    pairs += [(ablation, "glta") for ablation in ABLATIONS]
    pairs += [(mode, "glta") for mode in MODES] + [("mode_autoregressive", "mode_first_logit")]  # "first-k > FL > AR"
    pairs += [("lightgcn_plus", "lightgcn"), ("hccf_plus", "hccf")]  # "text helps the graph baselines"
    if best and best != "rlmrec_con":
        pairs.append(("rlmrec_con", best))  # "RLMRec-Con is the best baseline"
    rows = []
    for a, b in pairs:
        left = current_records(results, dataset, a)
        against = None
        if b == BACKBONE:
            b, right = backbone(results, dataset, left)
        else:
            right = current_records(results, dataset, b)
        if a in MODES and b == "glta":  # against the GLTA run(s) the mode was read out of, not their seed average
            right = read_out_of(a, right, left)
            against = f"{label(b)}, the run{'s' * (len(left) > 1)} it is read out of"
        elif a in MODES and b in MODES:  # two modes: over the GLTA seeds both were read out of
            left, right = same_seeds(left, right), same_seeds(right, left)
        if not left or not right:
            continue
        lacking = [label(n) for n, r in ((a, left), (b, right)) if all("per_user_test" not in x for x in r)]
        if lacking:
            rows.append(f"| {dataset} | {label(a)} | {label(b)} | — | — | — | — | no per-user values in the results "
                        f"of {' and '.join(lacking)}: rerun, or `glta evaluate --run-dir RUN --out FILE` |")
            continue
        try:
            result = compare(left, right)
        except GLTAError as error:
            rows.append(f"| {dataset} | {label(a)} | {label(b)} | — | — | — | — | {error} |")
            continue
        mark = "†" if result.wilcoxon_p is not None and result.wilcoxon_p < 0.05 else ""
        seeds = f"{len(left)} / {len(right)}"
        if result.user_seeds != (len(left), len(right)):  # older seeds without per-user values: t-test only
            seeds += f" (per user: {result.user_seeds[0]} / {result.user_seeds[1]})"
        t = f"{result.ttest_p:.3g}" if result.ttest_p is not None else "—"
        if note := texts_note(left + right):
            seeds += f"; {note}"
        rows.append(f"| {dataset} | {label(a)} | {against or label(b)} | {result.mean_a:.4f} vs {result.mean_b:.4f} "
                    f"({result.difference:+.4f}) | {result.users} | {result.wilcoxon_p:.3g}{mark} | {t} | {seeds} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=[*DATASETS, "ml-100k"])
    parser.add_argument("--results", default="results")
    args = parser.parse_args()
    results = Path(args.results)
    lines = ["# Paired significance (test N@10)", "",
             "Wilcoxon signed-rank over users (per-user N@10, seed-averaged); † p < 0.05. Paired t-test over seeds "
             "where both sides have at least two. The seeds column also says where the compared GLTA runs did not all "
             "read the same LLM-written user texts (their results files' digests). Made by "
             "`experiments/significance.py` from the results files.", "",
             "| data set | method | against | N@10 (difference) | users | Wilcoxon p | t-test p (seeds) | seeds |",
             "|---|---|---|---|---|---|---|---|"]
    for dataset in args.datasets:
        lines += rows_for(results, dataset)
    out = results / "paper" / "significance.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
