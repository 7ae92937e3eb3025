"""Paired significance of the paper's claims on each data set, from the results files' per-user test values.

    .venv/bin/python experiments/significance.py [--datasets ml-1m amazon-scientific goodreads-once ml-100k]

For each data set: GLTA and GLTA+ against the best baseline (the paper's six, chosen by validation N@10), against
LightGCN (its seeds) and against their own frozen backbone (the graph model's run whose embeddings the GLTA seeds
projected, as their results record it, or for older results the graph model's main run: a backbone seed that
happens to beat the graph model's seed average would otherwise pass for a gain of GLTA's), each ablation and
decoding mode (FL, AR) against full GLTA, and the paper's baseline claims: each text-aligned graph model against its
plain one (LightGCN+ vs LightGCN, HCCF+ vs HCCF) and RLMRec-Con against the best baseline when that is another.
Each comparison is a Wilcoxon signed-rank test over users on test N@10 (averaged over seeds when a method has
several: ``<method>.json`` plus ``seeds/<method>-<seed>.json``; only the seeds whose files hold per-user values,
which the table says when it is fewer), and a paired t-test over seeds when both sides have at least two (one run
against two or more seeds: a t-test of that run against their spread, ``glta.significance.one_run_ttest``). Writes
``results/paper/significance.md``; a pair whose files lack per-user values (made before they were recorded) is
listed with what to rerun. A pair of GLTA cells whose runs did not all read the same LLM-written texts (written
again on another machine: their results record digests) says so in its seeds column, as does a text-aligned
baseline (LightGCN+, HCCF+, RLMRec) whose runs aligned with different text embeddings or did not all record theirs.

From the same tests, ``results/paper/claims.md``: each claim of the paper (``CLAIMS``) on each of its three data
sets, with a verdict by one rule (``verdict``), and the same table in README.md between its claims markers.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from glta.errors import GLTAError
from glta.paths import atomic_write
from glta.report import (DATASETS, METHODS, REPORTED_DATASETS, best_baseline, current_records, read_out_of, records,
                         training_seed)
from glta.significance import Paired, compare

ABLATIONS = {"no_ia": "w/o IA", "no_ua": "w/o UA", "no_pf": "w/o PF", "no_pd": "w/o PD", "no_pf_pd": "w/o PF&PD"}
MODES = {"mode_first_logit": "FL", "mode_autoregressive": "AR"}  # decoding modes read out of the GLTA row's model


def label(name: str) -> str:
    return METHODS.get(name) or ABLATIONS.get(name) or MODES.get(name) or name


BACKBONE = "backbone"  # the graph run a GLTA cell projected, not the graph model's seed average


def backbone(results: Path, dataset: str, runs: list[dict]) -> tuple[str, list[dict]]:
    """The row's name for the graph model whose embeddings ``runs`` (a GLTA cell's seeds) projected, ``model.graph``
    (LightGCN unless set), and its test results as those runs read it: from the runs themselves (``backbone``, which
    GLTA results record: one record when every seed read the same embeddings, else one a seed), else the graph
    model's main run, which its default run folder holds and every seed read (``provenance.inputs``). No results
    when the cell has no runs, its seeds name different graph models, or an older seed read another folder."""
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


def embeddings_note(name: str, runs: list[dict]) -> str:
    """Where the runs of one text-aligned baseline (LightGCN+, HCCF+, RLMRec: its seeds, or a chosen point trained
    again) did not all align with the same text embeddings (``provenance.inputs.text_embeddings_sha256``): the
    texts were written, or embedded, again, e.g. on another machine; or some of its runs record no digest beside
    runs that do. "" for a method whose runs record none (a graph model, or results made before the digest was)."""
    digests = [((run.get("provenance") or {}).get("inputs") or {}).get("text_embeddings_sha256") for run in runs]
    recorded = {digest for digest in digests if digest}
    if not recorded:
        return ""
    notes = [f"{label(name)}'s runs aligned with different text embeddings"] if len(recorded) > 1 else []
    unknown = sum(not digest for digest in digests)
    if unknown:
        notes.append(f"{unknown} of {len(digests)} runs of {label(name)} record no digest of their text embeddings")
    return "; ".join(notes)


def same_seeds(runs: list[dict], other: list[dict]) -> list[dict]:
    """The runs of ``runs`` whose training seed one of ``other`` has too (all of them where a run records none)."""
    seeds = set(map(training_seed, other))
    return runs if None in seeds or None in map(training_seed, runs) else \
        [run for run in runs if training_seed(run) in seeds]


@dataclass
class Comparison:
    """One row of the significance table: ``a`` (a method, ablation or decoding mode) tested against ``b`` (another,
    or the backbone's label), with the paired test or why there is none."""
    dataset: str
    a: str
    b: str
    against: str  # how the row names what ``a`` meets
    seeds: tuple[int, int]
    result: Paired | None = None
    problem: str = ""  # why there is no test: files without per-user values, or the test's own error
    note: str = ""  # where the compared runs read different LLM-written texts or text embeddings


def comparisons(results: Path, dataset: str) -> list[Comparison]:
    best = best_baseline(results, dataset)
    pairs = [(a, b) for a in ("glta", "glta_plus") for b in dict.fromkeys([best, "lightgcn", BACKBONE]) if b]
    pairs += [(ablation, "glta") for ablation in ABLATIONS]
    pairs += [(mode, "glta") for mode in MODES] + [("mode_autoregressive", "mode_first_logit")]  # "first-k > FL > AR"
    pairs += [("lightgcn_plus", "lightgcn"), ("hccf_plus", "hccf")]  # "text helps the graph baselines"
    if best and best != "rlmrec_con":
        pairs.append(("rlmrec_con", best))  # "RLMRec-Con is the best baseline"
    found = []
    for a, b in pairs:
        left = current_records(results, dataset, a)
        against = None
        if b == BACKBONE:
            against, right = backbone(results, dataset, left)
        else:
            right = current_records(results, dataset, b)
        if a in MODES and b == "glta":  # against the GLTA run(s) the mode was read out of, not their seed average
            right = read_out_of(a, right, left)
            against = f"{label(b)}, the run{'s' * (len(left) > 1)} it is read out of"
        elif a in MODES and b in MODES:  # two modes: over the GLTA seeds both were read out of
            left, right = same_seeds(left, right), same_seeds(right, left)
        if not left or not right:
            continue
        row = Comparison(dataset, a, b, against or label(b), (len(left), len(right)))
        lacking = [label(n) for n, r in ((a, left), (b, right)) if all("per_user_test" not in x for x in r)]
        if lacking:
            row.problem = (f"no per-user values in the results of {' and '.join(lacking)}: rerun, or "
                           "`glta evaluate --run-dir RUN --out FILE`")
        else:
            try:
                row.result = compare(left, right, b_fixed=b == BACKBONE)
            except GLTAError as error:
                row.problem = str(error)
            notes = [texts_note(left + right), embeddings_note(a, left), embeddings_note(b, right)]
            row.note = "; ".join(note for note in notes if note)
        found.append(row)
    return found


def table_row(row: Comparison) -> str:
    """The comparison as a row of ``results/paper/significance.md``."""
    start = f"| {row.dataset} | {label(row.a)} | {row.against} |"
    if row.result is None:
        return f"{start} — | — | — | — | {row.problem} |"
    result = row.result
    mark = "†" if result.wilcoxon_p is not None and result.wilcoxon_p < 0.05 else ""
    seeds = f"{row.seeds[0]} / {row.seeds[1]}"
    if result.user_seeds != row.seeds:  # older seeds without per-user values: t-test only
        seeds += f" (per user: {result.user_seeds[0]} / {result.user_seeds[1]})"
    said = ttest_said(result, row.seeds)
    t = f"{result.ttest_p:.3g}" + (f" ({said})" if said else "") if result.ttest_p is not None else "—"
    if row.note:
        seeds += f"; {row.note}"
    return (f"{start} {result.mean_a:.4f} vs {result.mean_b:.4f} ({result.difference:+.4f}) | {result.users} | "
            f"{result.wilcoxon_p:.3g}{mark} | {t} | {seeds} |")


def rows_for(results: Path, dataset: str) -> list[str]:
    return [table_row(row) for row in comparisons(results, dataset)]


BEST = "best"  # in a claim: the paper's baseline best on validation, whichever it is on a data set


@dataclass(frozen=True)
class Claim:
    """A claim of the paper as pairs (row, what it meets, +1 where the paper has the row ahead, -1 behind) and the
    paper's own words or numbers for it (test N@10)."""
    text: str
    paper: str
    pairs: tuple[tuple[str, str, int], ...]


CLAIMS = (
    Claim("GLTA beats the best baseline on every data set",
          "MovieLens 0.1403 vs 0.0492 (RLMRec-Con); Amazon 0.0500 vs 0.0358; Goodreads 0.2905 vs 0.2542",
          (("glta", BEST, 1),)),
    Claim("GLTA+ beats the best baseline (beyond the paper)", "—", (("glta_plus", BEST, 1),)),
    Claim("text helps the graph baselines", "holds in most cells",
          (("lightgcn_plus", "lightgcn", 1), ("hccf_plus", "hccf", 1))),
    Claim("RLMRec-Con is the best baseline", "the best baseline on all three", (("rlmrec_con", BEST, 1),)),
    Claim("full GLTA beats w/o IA and w/o UA", "holds on all three (Figure 3)",
          (("no_ia", "glta", -1), ("no_ua", "glta", -1))),
    Claim("the profile (PF) and prediction (PD) tokens each help", "holds (Table 3)",
          (("no_pf", "glta", -1), ("no_pd", "glta", -1), ("no_pf_pd", "glta", -1))),
    Claim("first-k decoding beats FL, and FL beats AR", "holds (Figure 4)",
          (("mode_first_logit", "glta", -1), ("mode_autoregressive", "mode_first_logit", -1))),
)


def verdict(row: Comparison | None, direction: int) -> str:
    """What a comparison says of a claimed direction: it holds or is reversed where the Wilcoxon test over users
    gives p < 0.05 ("over users, not over seeds" where a t-test over seeds exists and gives p >= 0.05), else no
    significant difference; not measured where a side has no results; untested where the files cannot be paired."""
    if row is None:
        return "not measured"
    if row.result is None:
        return "untested"
    result = row.result
    if result.wilcoxon_p is None or result.wilcoxon_p >= 0.05 or result.difference == 0:
        return "no significant difference"
    word = "holds" if (result.difference > 0) == (direction > 0) else "reversed"
    if result.ttest_p is not None and result.ttest_p >= 0.05:
        word += " over users, not over seeds"
    return word


def side(name: str, against: str) -> str:
    """A claims-table name: a decoding mode meets GLTA's own decoding (first-k), anything else GLTA."""
    return "first-k" if name == "glta" and against in MODES else label(name)


def seeds_said(averaged: int, runs: int) -> str:
    """How many seeds a mean averages: those with per-user values, of how many runs the t-test over seeds reads."""
    return f"{averaged} seed{'s' * (averaged != 1)}" if averaged == runs else f"{averaged} of {runs} seeds"


def ttest_said(result: Paired, seeds: tuple[int, int]) -> str:
    """What the test over seeds was where it was not a paired t-test: a single run against the other side's seeds
    (``glta.significance.one_run_ttest``)."""
    return "" if result.ttest_kind == "paired" else f"{result.ttest_kind} vs {max(seeds)}"


def p_said(p: float) -> str:
    return "p < 1e-300" if p == 0 else f"p = {p:.1g}"


def measured(row: Comparison, direction: int) -> str:
    """A claims-table cell for one pair on one data set."""
    name_a, name_b = label(row.a), side(row.b, row.a)
    if row.result is None:
        return f"{name_a} vs {name_b}: untested ({row.problem})"
    result = row.result
    said = ttest_said(result, row.seeds)
    t = f", seeds p = {result.ttest_p:.2g}" + (f", {said}" if said else "") if result.ttest_p is not None else ""
    return (f"{name_a} {result.mean_a:.4f} ({seeds_said(result.user_seeds[0], row.seeds[0])}) vs {name_b} "
            f"{result.mean_b:.4f} ({seeds_said(result.user_seeds[1], row.seeds[1])}): **{verdict(row, direction)}** "
            f"({p_said(result.wilcoxon_p)}{t})")


def claims_table(results: Path, datasets: list[str], found: dict[str, list[Comparison]]) -> list[str]:
    """The paper's claims against what the results files measure: one column a data set, each pair's means, seeds,
    paired p-values and verdict (``verdict``'s rule), and a last column gathering the verdicts by pair."""
    lines = ["| claim | paper (test N@10) | " + " | ".join(datasets) + " | verdicts |",
             "|---|---|" + "---|" * len(datasets) + "---|"]
    bests = {dataset: best_baseline(results, dataset) for dataset in datasets}
    for claim in CLAIMS:
        cells = {dataset: [] for dataset in datasets}
        tallies = []
        for a, b, direction in claim.pairs:
            tally: dict[str, list[str]] = {}
            for dataset in datasets:
                target = bests[dataset] if b == BEST else b
                if a == "rlmrec_con" and target == "rlmrec_con":
                    cells[dataset].append("RLMRec-Con is the best baseline on validation: **holds**")
                    tally.setdefault("holds", []).append(dataset)
                    continue
                row = next((r for r in found.get(dataset, []) if r.a == a and r.b == target), None) if target else None
                if row is not None:
                    cells[dataset].append(measured(row, direction))
                tally.setdefault(verdict(row, direction), []).append(dataset)
            said = ", ".join(f"{key} ({', '.join(where)})" for key, where in tally.items())
            name_b = "the best baseline" if b == BEST else side(b, a)
            tallies.append(f"{label(a)} vs {name_b}: {said}" if len(claim.pairs) > 1 else said)
        row_cells = ["; ".join(cells[dataset]) or "not measured" for dataset in datasets]
        lines.append(f"| {claim.text} | {claim.paper} | " + " | ".join(row_cells) + f" | {'; '.join(tallies)} |")
    return lines


README_BEGIN = "<!-- claims: experiments/significance.py writes this table from the results files -->"
README_END = "<!-- claims end -->"


def write_between_markers(path: Path, text: str) -> bool:
    """Put ``text`` between the claims markers of ``path`` (the README); False where the file has no markers."""
    if not path.exists():
        return False
    content = path.read_text()
    if README_BEGIN not in content or README_END not in content:
        return False
    head, rest = content.split(README_BEGIN, 1)
    tail = rest.split(README_END, 1)[1]
    atomic_write(path, f"{head}{README_BEGIN}\n{text}{README_END}{tail}")
    return True


CLAIMS_RULE = ("Each cell: the row's mean test N@10 over its seeds against what the paper has it beat (or lose to), "
               "the Wilcoxon signed-rank p over users (per-user N@10, seed-averaged) and, where both sides have two "
               "or more seeds, the paired t-test p over seeds; where one side has a single run and the other two or "
               "more, a t-test of that run against the other side's seeds (\"one seed vs 3\": the run as one more "
               "draw with their spread; \"a fixed run vs 3\": a method without randomness, or the frozen backbone "
               "every seed projected, against their mean). A claim **holds** (or is **reversed**) where the "
               "Wilcoxon p < 0.05 in the paper's direction (or against it), \"over users, not over seeds\" where the "
               "t-test exists and gives p >= 0.05; otherwise no significant difference. The best baseline is the "
               "paper's six's best on validation N@10.")


def write(results: Path, datasets: list[str], readme: Path | None) -> list[Path]:
    """Write ``results/paper/significance.md`` and ``claims.md`` from the results files of ``datasets``, and the
    claims table into ``readme`` between its markers (left alone where None or without them); the files written."""
    found = {dataset: comparisons(results, dataset) for dataset in datasets}
    lines = ["# Paired significance (test N@10)", "",
             "Wilcoxon signed-rank over users (per-user N@10, seed-averaged); † p < 0.05. Paired t-test over seeds "
             "where both sides have at least two; where one side has a single run and the other at least two, a "
             "t-test of that run against the other side's seeds (`glta.significance.one_run_ttest`: \"one seed\" "
             "takes the run as one more draw with their spread, \"a fixed run\" (a method without randomness, or the "
             "frozen backbone every seed projected) is tested against their mean). The seeds column also says where "
             "the compared GLTA runs did not all read the same LLM-written user texts (their results files' "
             "digests). Made by "
             "`experiments/significance.py` from the results files.", "",
             "| data set | method | against | N@10 (difference) | users | Wilcoxon p | t-test p (seeds) | seeds |",
             "|---|---|---|---|---|---|---|---|"]
    for dataset in datasets:
        lines += [table_row(row) for row in found[dataset]]
    out = results / "paper" / "significance.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    claims_rows = claims_table(results, [dataset for dataset in datasets if dataset in DATASETS], found)
    block = "\n".join(claims_rows) + "\n\n" + CLAIMS_RULE + "\n"
    claims = results / "paper" / "claims.md"
    claims.write_text("# The paper's claims, as the results files measure them\n\n" + block
                      + "\nMade by `experiments/significance.py`.\n")
    written = [out, claims]
    if readme is not None and write_between_markers(readme, block):
        written.append(readme)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=list(REPORTED_DATASETS), help="the data sets to test")
    parser.add_argument("--results", default="results", help="the results folder")
    parser.add_argument("--readme", default="README.md",
                        help="the file whose claims table (between its claims markers) is written again; a file "
                             "without the markers is left alone")
    args = parser.parse_args()
    for path in write(Path(args.results), args.datasets, Path(args.readme)):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
