"""The paper's tables and figures, rebuilt from the project's results files.

- Table 2: every method's test P@5/P@10/N@5/N@10 per data set (``results/<data>/<method>.json``, the point chosen on
  validation), with training wall time;
- Table 3: GLTA against its variants without profile (PF) and/or prediction (PD) tokens;
- Figure 3: GLTA against w/o item-text alignment (IA) and w/o user-item alignment (UA);
- Figure 4: GLTA's first-k decoding against autoregressive (AR) and first-logit (FL) decoding.

GLTA's row is the data set's GLTA run (``results/<data>/glta.json``); each variant is
``results/<data>/glta_variants/<name>.json`` as ``experiments/glta_variants.py`` writes it. Missing results show as
"—", so a partly finished reproduction still reports what exists. Figures are written as Markdown tables of the
plotted numbers and, when matplotlib is installed, as PNG bar charts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from glta.methods import is_deterministic, method_class
from glta.paths import atomic_write
from glta.results import provenance_status, seed_files, train_seconds

if TYPE_CHECKING:
    from glta.significance import Paired

METRICS = ("P@5", "P@10", "N@5", "N@10")
DATASETS = ("ml-1m", "amazon-scientific", "goodreads-once")
# the paper's three plus ML-100k, where GLTA's settings were chosen: the data sets whose ledgers and significance
# files --report writes
REPORTED_DATASETS = (*DATASETS, "ml-100k")
# Table 2's rows, in order: popularity (a floor), the paper's six baselines and GLTA, then beyond the paper GLTA+
# and the training-free EASE and GF-CF. Labels are the classes' display names (glta.methods is the one registry).
TABLE2_ROWS = ("pop", "lightgcn", "hccf", "lightgcn_plus", "hccf_plus", "rlmrec_con", "rlmrec_gen", "glta",
               "glta_plus", "ease", "gfcf")
METHODS = {name: method_class(name).display_name for name in TABLE2_ROWS}
# variant name in experiments/glta_variants.py -> label in the paper
TABLE3 = {"no_pf_pd": "w/o PF&PD", "no_pf": "w/o PF", "no_pd": "w/o PD", "default": "GLTA"}
FIGURE3 = {"default": "GLTA", "no_ia": "w/o IA", "no_ua": "w/o UA"}
FIGURE4 = {"default": "GLTA", "mode_autoregressive": "AR", "mode_first_logit": "FL"}
# the GLTA cells that train (the paper's GLTA and the ablations of Table 3 and Figure 3), in the order the
# reproduction plans and runs them
GLTA_VARIANTS = ("default", "no_ia", "no_ua", "no_pf", "no_pd", "no_pf_pd")
# the model options each ablation or decoding mode changes from the data set's GLTA run (``default``); anything else
# differing means it was made from another GLTA config and is not comparable with the GLTA row
CHANGES = {"no_pf": ("use_profile",), "no_pd": ("use_prediction",), "no_pf_pd": ("use_profile", "use_prediction"),
           "no_ia": ("use_ia",), "no_ua": ("use_user_token",), "mode_first_logit": ("inference",),
           "mode_autoregressive": ("inference",)}
# the paper's six baselines: the "best baseline" GLTA is tested against is the one of these best on validation N@10
BASELINES = ("lightgcn", "hccf", "lightgcn_plus", "hccf_plus", "rlmrec_con", "rlmrec_gen")
SIGNIFICANT = 0.05  # below this p-value a cell is marked: § by the Wilcoxon over users, ¶ by the seeds' t-test


def result_path(results: Path, dataset: str, name: str) -> Path:
    """Where a method's (or a GLTA variant's) results file lives; ``default`` is the data set's GLTA run."""
    if name in METHODS:
        return results / dataset / f"{name}.json"
    if name == "default":
        return results / dataset / "glta.json"
    return results / dataset / "glta_variants" / f"{name}.json"


def load(results: Path, dataset: str, name: str) -> dict | None:
    path = result_path(results, dataset, name)
    return json.loads(path.read_text()) if path.exists() else None


def records(results: Path, dataset: str, name: str) -> list[dict]:
    """A cell's main results file and its extra seeds (``seeds/<name>-<seed>.json``), main first."""
    main = result_path(results, dataset, name)
    found = ([main] if main.exists() else []) + seed_files(main)
    return [json.loads(path.read_text()) for path in found]


def made_from_glta_run(results: Path, dataset: str, name: str) -> bool:
    """Whether an ablation's or decoding mode's run was made from the config of the data set's GLTA run, differing
    only in the options it changes (``CHANGES``); True for every other row, and when either side's config is not
    known."""
    from glta.tuning import same_config

    if name not in CHANGES:
        return True
    row, glta = load(results, dataset, name), load(results, dataset, "default")
    made, base = ((record or {}).get("provenance", {}).get("config") for record in (row, glta))
    if made is None or base is None:
        return True
    expected = json.loads(json.dumps(base))
    for key in CHANGES[name]:
        expected["model"][key] = made["model"].get(key)
    return same_config(made, expected)


def current_records(results: Path, dataset: str, name: str) -> list[dict]:
    """``records``, or none when the row was made from an earlier GLTA config than the GLTA row's
    (``made_from_glta_run``): a table shows it as missing and says so in a note."""
    return records(results, dataset, name) if made_from_glta_run(results, dataset, name) else []


def earlier_config_note(results: Path, datasets, rows) -> str:
    """The footnote naming rows left out because they were made from an earlier GLTA config."""
    left_out = [f"{label} on {d} ({result_path(results, d, name)})" for name, label in rows.items() for d in datasets
                if not made_from_glta_run(results, d, name)]
    if not left_out:
        return ""
    return ("\nLeft out (shown as —): made from an earlier GLTA config than the GLTA row's, so not comparable with "
            f"it; the same command makes them again from the current one: {', '.join(left_out)}.\n")


def cell(runs: list[dict], metric: str) -> str:
    """One metric over a cell's seeds: the value, or mean ± std (sample std) with several."""
    values = [r["metrics"]["test"][metric] for r in runs]
    if len(values) == 1:
        return f"{values[0]:.4f}"
    mean = sum(values) / len(values)
    std = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5
    return f"{mean:.4f} ± {std:.4f}"


def peak_bytes(record: dict | None) -> float | None:
    """The resident memory a run's process held at its peak (``provenance.peak_memory``), None where not recorded."""
    peak = ((record or {}).get("provenance", {}).get("peak_memory") or {}).get("resident_gib")
    return peak * 2**30 if peak else None


def gpu_name(record: dict) -> str | None:
    """The GPU a run trained on (``provenance.machine.gpu``), None for a CPU run."""
    return (record.get("provenance", {}).get("machine") or {}).get("gpu")


def metric_table(results: Path, datasets, rows: dict[str, str], with_seconds: bool = False) -> str:
    """A Markdown table: one row per entry of ``rows``, test metrics in column groups per data set."""
    extra = ["train s"] if with_seconds else []
    header = "| | " + " | ".join(f"{d} {m}" for d in datasets for m in (*METRICS, *extra)) + " |"
    lines = [header, "|---|" + "---|" * (len(datasets) * (len(METRICS) + len(extra)))]
    for name, label in rows.items():
        cells = []
        for dataset in datasets:
            runs = current_records(results, dataset, name)
            if not runs:
                cells += ["—"] * (len(METRICS) + len(extra))
                continue
            record = runs[0]
            cells += [cell(runs, m) for m in METRICS]
            if not is_deterministic(name):
                cells[-1] += f" ({len(runs)} seed{'s' if len(runs) > 1 else ''})"
            cells[-1] += claim_marks(claim_test(results, dataset, name))
            if any(unclean(r) for r in runs):
                cells[-1] += " ‡"
            if with_seconds:
                seconds = f"{train_seconds(record):,.0f}" if "training" in record else "—"
                cells.append(seconds + (" †" if gpu_name(record) else ""))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def strongest_baselines(results: Path, dataset: str, n: int) -> list[str]:
    """The paper's ``n`` baselines with the best validation N@10 on ``dataset`` (their main runs), best first; fewer
    when fewer have run."""
    scored = {m: r[0]["metrics"]["valid"]["N@10"] for m in BASELINES if (r := records(results, dataset, m))}
    return sorted(scored, key=scored.get, reverse=True)[:n]


def best_baseline(results: Path, dataset: str) -> str | None:
    """The paper's baseline with the best validation N@10 on ``dataset`` (its main run), None when none has run."""
    return next(iter(strongest_baselines(results, dataset, 1)), None)


def claim_reference(results: Path, dataset: str, name: str) -> str | None:
    """What a row is tested against where the paper claims a difference: GLTA and GLTA+ against the best baseline,
    an ablation or a decoding mode against full GLTA (``default``); None for every other row."""
    if name in ("glta", "glta_plus"):
        return best_baseline(results, dataset)
    if name != "default" and (name in TABLE3 or name in FIGURE3 or name in FIGURE4):
        return "default"
    return None


def training_seed(record: dict) -> int | None:
    """The training seed a results file records (``provenance.seed``), None where it records none."""
    return (record.get("provenance") or {}).get("seed")


def read_out_of(name: str, glta_runs: list[dict], runs: list[dict]) -> list[dict]:
    """The GLTA runs to test a row's ``runs`` against: for a decoding mode, the runs it was read out of (the GLTA
    run of each of its training seeds: a mode read out of seeds 2026 and 2027 alone meets those two, not the main
    run), since against GLTA's seed average another seed's luck would pass for the decoding's effect; every GLTA run
    for any other row. Runs that record no seed pair in order (the main run first)."""
    if not name.startswith("mode_"):
        return glta_runs
    by_seed = {training_seed(run): run for run in glta_runs if training_seed(run) is not None}
    if runs and all(training_seed(run) in by_seed for run in runs):
        return [by_seed[training_seed(run)] for run in runs]
    return glta_runs[:len(runs)]


def claim_test(results: Path, dataset: str, name: str) -> Paired | None:
    """The paired tests (``glta.significance.Paired``: Wilcoxon over users on seed-averaged test N@10, and the t-test
    over seeds where there is one) of a row against ``claim_reference``; None when there is nothing to test or a
    side lacks per-user values."""
    from glta.errors import GLTAError
    from glta.significance import compare

    against = claim_reference(results, dataset, name)
    left, right = current_records(results, dataset, name), records(results, dataset, against) if against else []
    if against == "default":
        right = read_out_of(name, right, left)
    if not left or not right or not all(any("per_user_test" in r for r in side) for side in (left, right)):
        return None
    try:
        return compare(left, right)
    except GLTAError:
        return None


def claim_p(results: Path, dataset: str, name: str) -> float | None:
    """``claim_test``'s Wilcoxon p-value; None where it has no test."""
    test = claim_test(results, dataset, name)
    return None if test is None else test.wilcoxon_p


def claim_marks(test: Paired | None) -> str:
    """A cell's marks: § where the Wilcoxon over users gives p < ``SIGNIFICANT``, ¶ where the t-test over seeds
    does (paired where both sides have two or more seeds, one run against the other side's seeds where one has a
    single run); nothing where neither does or there is no test."""
    if test is None:
        return ""
    marks = " §" if test.wilcoxon_p is not None and test.wilcoxon_p < SIGNIFICANT else ""
    return marks + (" ¶" if test.ttest_p is not None and test.ttest_p < SIGNIFICANT else "")


def significance_note(rows) -> str:
    """The footnote for cells marked § or ¶ (the paired tests the paper's claims call for, over users and over
    seeds)."""
    tested = [label for name, label in rows.items() if name in ("glta", "glta_plus")]
    others = [label for name, label in rows.items() if name not in METHODS and name != "default"]
    against = ([f"{' and '.join(tested)} against the best of the paper's six baselines on validation"] if tested
               else []) + ([f"{', '.join(others)} against full GLTA"] if others else [])
    if not against:
        return ""
    backbone = (f", and the tests of {' and '.join(tested)} against their own frozen backbone (the graph run whose "
                "embeddings every seed of theirs projects: a backbone that is a lucky seed of its model makes them "
                "look ahead of its seed average)") if tested else ""
    return (f"\n§ differs at p < {SIGNIFICANT} (paired Wilcoxon signed-rank test over users on test N@10, averaged "
            f"over seeds): {'; '.join(against)}. ¶ differs at p < {SIGNIFICANT} over seeds (a paired t-test over the "
            "seeds' test N@10 where both sides have two or more; where one side has a single run, a t-test of that "
            "run against the other side's seeds); § alone: a difference over users only (the t-test over seeds gives "
            f"p >= {SIGNIFICANT}, or there is none: one run on each side). Every p-value, marked or not{backbone}: "
            "`results/paper/significance.md` (`experiments/significance.py`).\n")


def unclean(record: dict) -> bool:
    """Whether a commit that made the run is not a clean commit of this repository's history (uncommitted changes,
    a commit not in it, or a checkpoint it resumed from that did not record its commit)."""
    prov = record.get("provenance") or {}
    return bool(prov.get("git_commit")) and provenance_status(prov) != "clean"


def provenance_note(results: Path, datasets, rows) -> str:
    """The footnote for cells marked ‡ (not made from a clean commit of this history)."""
    marked = [f"{name} on {d}" for d in datasets for name in rows
              if (r := load(results, d, name)) and unclean(r)]
    if not marked:
        return ""
    return ("\n‡ not made from a clean commit of this repository: an uncommitted tree whose diff was not recorded, "
            "a recorded commit that is not in this history, or a checkpoint resumed from that did not record the "
            "commit that trained it (`experiments/provenance_audit.py` lists them and says "
            f"why): {', '.join(marked)}.\n")


def gpu_note(results: Path, datasets, rows) -> str:
    """The footnote for times marked † (trained on a GPU, not comparable with the CPU times)."""
    gpus = sorted({gpu_name(r) for d in datasets for name in rows if (r := load(results, d, name)) and gpu_name(r)})
    if not gpus:
        return ""
    return (f"\n† trained on a GPU ({', '.join(gpus)}); every other time is on the CPU, one core unless the results "
            "file says otherwise.\n")


def selection_notes(results: Path, datasets) -> str:
    notes = []
    for dataset in datasets:
        for name in METHODS:
            record = load(results, dataset, name)
            selection = (record or {}).get("selection")
            if selection:
                notes.append(f"- {name} on {dataset}: chose {selection['chosen']} by {selection['metric']} among "
                             f"{len(selection['points'])} points ({selection['train_seconds_all_points']:,.0f} s "
                             "for the whole grid)")
    return "\n".join(notes) + ("\n" if notes else "")


def seeds_note(rows) -> str:
    """How to read a cell's seed count, and which rows need none."""
    fixed = [label for name, label in rows.items() if is_deterministic(name)]
    deterministic = (f" {', '.join(fixed)}: deterministic (no random draw in training), so one run stands for every "
                     "seed." if fixed else "")
    return ("\nThe last metric of a cell says how many training seeds it averages (mean ± sample std over them); the "
            "split is the same for every seed." + deterministic + "\n")


def mode_seeds_note(results: Path, datasets, rows) -> str:
    """Which GLTA seeds each decoding-mode cell was read out of, where they are not the ones the GLTA row averages
    (ML-1M's AR, read out of seeds 2026 and 2027 alone: the main run's model was not on the machine that read it)."""
    def seeds(runs: list[dict]) -> list:
        return sorted(map(training_seed, runs))

    found = []
    for name, label in rows.items():
        for dataset in datasets if name.startswith("mode_") else ():
            own, glta = current_records(results, dataset, name), records(results, dataset, "default")
            if own and None not in seeds(own) + seeds(glta) and seeds(own) != seeds(glta):
                found.append(f"{label} on {dataset}: seed{'s' * (len(own) > 1)} {', '.join(map(str, seeds(own)))}")
    if not found:
        return ""
    return ("\nA decoding mode's cell averages the GLTA seeds it was read out of, not every seed the GLTA row "
            f"averages, and is tested against those GLTA runs alone: {'; '.join(found)}.\n")


def table2(results: Path, datasets=DATASETS) -> str:
    return (metric_table(results, datasets, METHODS, with_seconds=True) + seeds_note(METHODS)
            + significance_note(METHODS) + gpu_note(results, datasets, METHODS)
            + provenance_note(results, datasets, METHODS) + "\n" + selection_notes(results, datasets))


def table3(results: Path, datasets=DATASETS) -> str:
    return (metric_table(results, datasets, TABLE3) + seeds_note(TABLE3) + significance_note(TABLE3)
            + provenance_note(results, datasets, TABLE3) + earlier_config_note(results, datasets, TABLE3))


def figure(results: Path, rows: dict[str, str], datasets, png: Path | None = None, title: str = "") -> str:
    """The numbers behind a bar-chart figure as Markdown; also a PNG (one panel per data set) when matplotlib is
    importable and ``png`` is given."""
    text = (metric_table(results, datasets, rows) + seeds_note(rows) + mode_seeds_note(results, datasets, rows)
            + significance_note(rows) + provenance_note(results, datasets, rows)
            + earlier_config_note(results, datasets, rows))
    if png is not None:
        try:
            import matplotlib
        except ImportError:
            return text + "\n(matplotlib is not installed: `pip install matplotlib` for the PNG)\n"
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, len(datasets), figsize=(4 * len(datasets), 3.2), squeeze=False)
        width = 0.8 / len(rows)
        single = False  # any bar of one seed: hatched, as it has no error bar to show its spread
        for ax, dataset in zip(axes[0], datasets):
            drawn = 0
            for n, (name, label) in enumerate(rows.items()):
                runs = current_records(results, dataset, name)
                if not runs:  # not run yet (or from an earlier config): no bar (a zero-height bar reads as a result)
                    continue
                values = [sum(r["metrics"]["test"][m] for r in runs) / len(runs) for m in METRICS]
                spread = None
                if len(runs) > 1:  # error bars: the sample std over seeds
                    spread = [(sum((r["metrics"]["test"][m] - v) ** 2 for r in runs) / (len(runs) - 1)) ** 0.5
                              for m, v in zip(METRICS, values)]
                ax.bar([i + n * width for i in range(len(METRICS))], values, width, color=f"C{n}", yerr=spread,
                       capsize=2, hatch=None if spread else "///", edgecolor="white", linewidth=0)
                single |= spread is None
                drawn += 1
            if not drawn:
                ax.text(0.5, 0.5, "no results yet", ha="center", va="center", transform=ax.transAxes)
            ax.set_xticks([i + width * (len(rows) - 1) / 2 for i in range(len(METRICS))], METRICS)
            ax.set_ylim(bottom=0)
            ax.set_title(dataset)
        from matplotlib.patches import Patch

        # one legend for the figure, below the panels, where it covers no bar
        handles = [Patch(color=f"C{n}", label=label) for n, label in enumerate(rows.values())]
        if single:
            handles.append(Patch(facecolor="0.6", edgecolor="white", hatch="///", label="hatched: one seed"))
        fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize="small", frameon=False)
        fig.suptitle(title)
        fig.tight_layout(rect=(0, 0.07, 1, 1))
        png.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(png, dpi=120)
        plt.close(fig)
    return text


def write_report(results: Path, out: Path, datasets=DATASETS) -> list[Path]:
    """Write Table 2, Table 3, Figure 3 and Figure 4 under ``out``; return the files written."""
    out.mkdir(parents=True, exist_ok=True)
    parts = {
        "table2.md": "# Table 2: test metrics (chosen on validation) and training wall time\n\n"
                     + table2(results, datasets),
        "table3.md": "# Table 3: GLTA without profile (PF) and/or prediction (PD) tokens\n\n"
                     + table3(results, datasets),
        "figure3.md": "# Figure 3: GLTA without item-text (IA) or user-item alignment (UA)\n\n"
                      + figure(results, FIGURE3, datasets, out / "figure3.png", "GLTA vs w/o IA, w/o UA"),
        "figure4.md": "# Figure 4: GLTA's first-k decoding vs autoregressive (AR) and first-logit (FL)\n\n"
                      + figure(results, FIGURE4, datasets, out / "figure4.png", "GLTA decoding modes"),
    }
    written = []
    for name, text in parts.items():
        atomic_write(out / name, text)
        written.append(out / name)
    written += [p for p in (out / "figure3.png", out / "figure4.png") if p.exists()]
    return written
