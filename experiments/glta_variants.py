"""GLTA's open design choices, ablations and decoding modes on one data set, compared on validation.

    .venv/bin/python experiments/glta_variants.py --dataset ml-100k [--variants default overlap] [--threads 2]

Each variant is the data set's GLTA config (``configs/<dataset>/glta.yaml``) plus a few overrides, trained with the
same seed and early stopping on validation NDCG@10. The ``default`` variant is the data set's GLTA run itself
(``results/<dataset>/glta.json``, model in ``runs/<dataset>/glta/``); the others go to
``results/<dataset>/glta_variants/<name>.json`` (models in ``runs/<dataset>/glta_variants/<name>/``). The ``plus_*``
variants start from GLTA+'s config (``configs/<dataset>/glta_plus.yaml``) instead. A variant whose
results file was made with the same config is skipped, one made with another config is trained again, and an
interrupted one resumes from its checkpoint. The decoding modes need no training: they re-read the ``default`` model
(``glta evaluate ... model.inference=...``), and each of its training seeds' models (``run_mode_seed``, called by
``experiments/seeds.py``). ``results/<dataset>/glta_variants.md`` collects everything.

When a variant wins, change the data set's config file to say what the variant changed, then

    .venv/bin/python experiments/glta_variants.py --dataset ml-1m --promote slots20 --as slots10_sample1000

makes the finished variant the data set's own run (its results file and run folder move to the default's places;
no retraining: same config, same seed) and files the run it replaces under the variant whose overrides describe it
(``--as``). Nothing moves unless both configs match exactly.

Design choices are decided by the validation column only; test metrics are listed for the record.
"""

import argparse
import json
from pathlib import Path

from glta.config import build_config, config_from_dict
from glta.errors import GLTAError
from glta.paths import atomic_write
from glta.pipeline import evaluate_run, train
from glta.report import result_path, train_seconds
from glta.results import read_results, seed_path
from glta.training import resumable
from glta.tuning import same_config, unrecorded_run

VARIANTS = {
    # DESIGN.md's open choices
    "default": [],
    "overlap": ["model.target_mode=overlap"],
    "paper_order": ["model.ua_template=user_item"],
    # a longer, faster item-text alignment (the default IA ends near chance-level loss: few steps per epoch)
    "ia_long": ["model.ia_epochs=12", "model.ia_lr=5e-3"],
    # item tokens double as output embeddings in the GLLM head (GLLMHead(tied=True))
    "tied_head": ["model.head=tied"],
    # IA without the popularity-prior bias, with the plain and the tied head
    "ia_no_bias": ["model.ia_head_bias=false"],
    "tied_ia_no_bias": ["model.head=tied", "model.ia_head_bias=false"],
    # an IA that learns: the tied head, no bias in IA, four times the steps (batch 8) for 20 epochs. Its loss went
    # below ln |I| after 4 epochs and kept falling on ML-100k (`experiments/ia_probe.py`,
    # results/ml-100k/diagnostics/ia_probe_tied_nobias_b8.json). UA did not gain: on ML-100k validation N@10 0.2113
    # against tied_ia_no_bias's 0.2224 (p = 0.036; docs/glta.md, "Why IA barely learns here")
    "ia_tied_long": ["model.head=tied", "model.ia_head_bias=false", "model.ia_batch_size=8", "model.ia_epochs=20"],
    # the same IA (read from the cache), its item projector training on in UA: a bad start, or a frozen one? On
    # ML-100k a tie with tied_ia_no_bias (0.2213 vs 0.2224, p = 0.74): the freezing cost ia_tied_long its 0.01
    "ia_tied_long_items": ["model.head=tied", "model.ia_head_bias=false", "model.ia_batch_size=8",
                           "model.ia_epochs=20", "model.ua_trains_items=true"],
    # the head at the stage's full learning rate (the configs now set 1/10: the LLM's hidden states are large, so
    # one step at the full rate moves the logits a lot)
    "head_lr_full": ["model.head_lr_scale=1.0"],
    # the base before k = 20 and 20 epochs were chosen on ML-100k validation (docs/glta.md): 10 supervised slots,
    # 8 epochs (the variant `long_slots20` that won is now the base itself)
    "slots10": ["model.supervised_slots=10", "train.epochs=8", "train.patience=2"],
    # ML-1M's config still supervises 10 slots: k = 20 and the 20-epoch budget there (the ML-100k choice); early
    # stopping on 3,000 validation users (ML-1M's config samples 1,000, whose epoch-to-epoch noise is ~0.01).
    # Patience 4: after three flat epochs (best 0.1493 after epoch 3) the fourth rose to 0.1505 (epoch 7; the run
    # trained it because of a resume bug, fixed: docs/glta.md), so a patience of 3 stopped it too early
    "slots20": ["model.supervised_slots=20", "train.epochs=20", "train.patience=4", "eval.valid_users=3000"],
    # ML-1M's config before `slots20` won there (k = 10, 8 epochs, patience 2, early stopping on 1,000 users): the
    # run it made is filed under this name (`--promote slots20 --as slots10_sample1000`)
    "slots10_sample1000": ["model.supervised_slots=10", "train.epochs=8", "train.patience=2", "eval.valid_users=1000"],
    # more supervised output slots than the 20 ranked (decoding reads the first 20): the trend of 10 -> 20 continued;
    # the same budget and early-stopping sample as `slots20`, so the two compare
    "slots40": ["model.output_slots=40", "model.supervised_slots=40", "train.epochs=20", "train.patience=4",
                "eval.valid_users=3000"],
    # a schedule: twice the rate, one epoch of warm-up, cosine down to 1/20 over 12 epochs (the head keeps its 1/10)
    "slots20_cosine": ["train.epochs=12", "train.patience=4", "model.supervised_slots=20", "train.lr=4e-3",
                       "train.schedule=cosine", "train.warmup_steps=60", "train.min_lr_ratio=0.05"],
    # three times the history shown in the prompt: the paper GLTA's gap to LightGCN grows with the user's history
    # (ML-100k test: -6% for the quarter of users with the fewest training items, -20% for the most;
    # experiments/by_history.py), and 10 sampled items are a small view of a 100-item history
    "context30": ["model.context_items=30"],
    # IA's softmax over the sample's own group of items (chance ln 5 instead of ln |I|)
    "slots20_ia_group": ["train.epochs=20", "train.patience=3", "model.supervised_slots=20", "model.ia_loss=group"],
    # UA's softmax over the target and the user's unseen items only (beyond Eq. 3; the head probe's free head rose
    # from ML-100k valid N@10 0.2392 to 0.2508 with it): a GLTA+ candidate measured on the paper's base first
    "unseen": ["model.ua_softmax=unseen"],
    # targets held out of the prompt on a sparse data set: with overlap targets, the share of a user's targets the
    # prompt already shows is ~21-24% on ML-1M / ML-100k but 99% on amazon-scientific and 100% on goodreads-once
    # (median 4 and 7 training items a user, 10 shown), where UA becomes copying items that inference then excludes
    "disjoint": ["model.target_mode=disjoint"],
    # a second, larger backbone (Gemma 3 270M, `make gemma`) reading the texts SmolLM2 wrote: only the backbone differs
    "gemma": ["model.llm.name=gemma3-270m", "model.texts_llm=smollm2-135m"],
    # the paper's ablations (§4.3-4.4)
    "no_ia": ["model.use_ia=false"],
    "no_ua": ["model.use_user_token=false"],
    "no_pf": ["model.use_profile=false"],
    "no_pd": ["model.use_prediction=false"],
    "no_pf_pd": ["model.use_profile=false", "model.use_prediction=false"],
}
# GLTA+ (beyond the paper) on its own base, ``configs/<dataset>/glta_plus.yaml``; reported as GLTA+ rows only
PLUS_VARIANTS = {
    "glta_plus": [],  # GLTA+ itself, as `glta train glta_plus` trains it (results/<dataset>/glta_plus.json)
    "plus_overlap": ["model.target_mode=overlap"],
    "plus_disjoint": ["model.target_mode=disjoint"],  # as `disjoint`, for GLTA+ on the sparse data sets
    # the paper GLTA's k = 20 supervised slots and 20-epoch budget (chosen on ML-100k validation) carried over
    "plus_slots20": ["model.supervised_slots=20", "train.epochs=20", "train.patience=3"],
    # UA's softmax over the target and the user's unseen items only (model.ua_softmax, glta.align.gllm.unseen_loss)
    "plus_unseen": ["model.ua_softmax=unseen"],
    # GLTA+ on the larger backbone, as the paper GLTA's `gemma` variant
    "plus_gemma": ["model.llm.name=gemma3-270m", "model.texts_llm=smollm2-135m"],
    # GLTA+ projecting the text-aligned LightGCN+ (`glta train lightgcn_plus` first): where text lifts the graph
    # (amazon-scientific: LightGCN+ 0.0979 vs LightGCN 0.0836 test N@10), GLTA+'s fusion falls back to the better
    # graph, and GLTA's own share is measured against that
    "plus_text_graph": ["model.graph=lightgcn_plus"],
}
MODES = {"first_logit": "model.inference=first_logit", "autoregressive": "model.inference=autoregressive"}
METRICS = ["P@5", "P@10", "N@5", "N@10"]


def variant_config(dataset: str, name: str, threads: int = 0):
    """The variant's run config: its base method's config for ``dataset`` plus the variant's overrides."""
    method, changes = ("glta_plus", PLUS_VARIANTS[name]) if name in PLUS_VARIANTS else ("glta", VARIANTS[name])
    return build_config(method, dataset, overrides=changes + ([f"train.threads={threads}"] if threads else []))


def variant_paths(dataset: str, name: str) -> tuple[Path, Path]:
    """(results file, run folder) of a variant; ``default`` is the data set's GLTA run, ``glta_plus`` its GLTA+ run."""
    if name in ("default", "glta_plus"):
        folder = "glta" if name == "default" else name
        return result_path(Path("results"), dataset, name), Path("runs") / dataset / folder
    return result_path(Path("results"), dataset, name), Path("runs") / dataset / "glta_variants" / name


def is_done(dataset: str, name: str, threads: int = 0) -> bool:
    """Whether the variant's results file exists and was made with the variant's current config."""
    out = variant_paths(dataset, name)[0]
    config = variant_config(dataset, name, threads)
    return out.exists() and same_config(read_results(out)["provenance"].get("config"), config.to_dict())


def model_here(dataset: str) -> bool:
    """Whether the data set's GLTA model (the ``default`` variant's run) is on this machine: decoding modes read it."""
    return (variant_paths(dataset, "default")[1] / "run.json").is_file()


def model_needed(dataset: str, modes=tuple(MODES)) -> bool:
    """Whether the ``default`` variant must be trained again before ``modes`` can be read out: one of them is not done
    and the model its results file came from is not on this machine (a fresh machine has the results, not the runs)."""
    return not model_here(dataset) and any(not mode_is_done(dataset, mode) for mode in modes)


def run_variant(dataset: str, name: str, threads: int, progress: bool) -> bool:
    """Train a variant unless its results were made with this config (the ``default`` variant also when a decoding
    mode still has to be read out of its model and that is not here: ``model_needed``); True when it trained."""
    out, run_dir = variant_paths(dataset, name)
    config = variant_config(dataset, name, threads)
    again = name == "default" and is_done(dataset, name, threads) and model_needed(dataset)
    if is_done(dataset, name, threads) and not again:
        print(f"{name}: done ({out})")
        return False
    if again:
        print(f"{name}: its model is not on this machine and a decoding mode reads it: training it again (the new "
              f"run's results replace {out}, and every decoding mode is read out of the new model)")
    elif out.exists():
        print(f"{name}: {out} was made with another config; training it again")
    if not again and (problem := unrecorded_run(run_dir, out, config)):
        raise SystemExit(problem)
    changes = PLUS_VARIANTS.get(name, VARIANTS.get(name))
    print(f"=== {name} ({config.method}): {' '.join(changes) or '(config as is)'}", flush=True)
    # an interrupted run of this config resumes (even beside a results file of an earlier config, which it replaces
    # when it ends); a checkpoint of another config starts again
    train(config, run_dir=run_dir, out=out, resume=resumable(run_dir, config), progress=progress)
    return True


def mode_is_done(dataset: str, mode: str) -> bool:
    """Whether the decoding mode's results file exists and was read out of a model of the ``default`` variant's
    current config (one of an earlier config, e.g. before the config's number of supervised slots changed, is not)."""
    out = result_path(Path("results"), dataset, f"mode_{mode}")
    if not out.exists():
        return False
    config = build_config("glta", dataset, overrides=VARIANTS["default"] + [MODES[mode]])
    return same_config(read_results(out)["provenance"].get("config"), config.to_dict())


def run_mode(dataset: str, mode: str, progress: bool) -> None:
    out = result_path(Path("results"), dataset, f"mode_{mode}")
    if mode_is_done(dataset, mode):
        print(f"mode {mode}: done ({out})")
        return
    if out.exists():
        print(f"mode {mode}: {out} was read out of a model of another config; evaluating it again")
    print(f"=== mode {mode}", flush=True)
    evaluate_run(variant_paths(dataset, "default")[1], progress=progress, overrides=[MODES[mode]], out=out)


def seed_model(dataset: str, seed: int) -> Path:
    """The run folder of the ``default`` variant's training seed ``seed`` (``experiments/seeds.py`` trains it)."""
    return Path("runs") / dataset / "seeds" / seed_path(variant_paths(dataset, "default")[0], seed).stem


def mode_seed_config(dataset: str, mode: str, seed: int) -> dict | None:
    """The config a decoding mode read out of the default's seed ``seed`` records: that seed's run config with the
    mode's inference; None while the seed has no results file (or one that records no config)."""
    trained = seed_path(variant_paths(dataset, "default")[0], seed)
    raw = read_results(trained)["provenance"].get("config") if trained.exists() else None
    if raw is None:
        return None
    config = config_from_dict(raw)
    config.model.inference = mode
    return config.to_dict()


def mode_seed_is_done(dataset: str, mode: str, seed: int) -> bool:
    """Whether the decoding mode's results file for the default's seed ``seed`` exists and was read out of that
    seed's current model."""
    out = seed_path(result_path(Path("results"), dataset, f"mode_{mode}"), seed)
    return out.exists() and (config := mode_seed_config(dataset, mode, seed)) is not None \
        and same_config(read_results(out)["provenance"].get("config"), config)


def run_mode_seed(dataset: str, mode: str, seed: int, progress: bool) -> bool:
    """Read the decoding mode out of the default's seed ``seed`` (Figure 4's cell gets that seed) into
    ``results/<dataset>/glta_variants/seeds/mode_<mode>-<seed>.json``; False where that seed's model is not on this
    machine (its results came from another), True when the file is there now."""
    out = seed_path(result_path(Path("results"), dataset, f"mode_{mode}"), seed)
    if mode_seed_is_done(dataset, mode, seed):
        print(f"mode {mode} seed {seed}: done ({out})")
        return True
    model = seed_model(dataset, seed)
    if mode_seed_config(dataset, mode, seed) is None or not (model / "run.json").is_file():
        print(f"mode {mode} seed {seed}: the default's seed-{seed} model is not on this machine ({model}); the mode "
              "keeps the seeds it has")
        return False
    print(f"=== mode {mode} seed {seed}", flush=True)
    evaluate_run(model, progress=progress, overrides=[MODES[mode]], out=out)
    return True


def promote(dataset: str, name: str, demote_as: str | None) -> list[str]:
    """Make the finished variant ``name`` the data set's own GLTA (or GLTA+) run once its config file says what the
    variant changed; the run it replaces becomes the variant ``demote_as``. Checks everything before moving
    anything; returns what moved, as lines to print."""
    base = "glta_plus" if name in PLUS_VARIANTS else "default"
    family = PLUS_VARIANTS if name in PLUS_VARIANTS else VARIANTS
    if name == base or name not in family:
        raise GLTAError(f"--promote {name}: name a trained variant other than {base}")
    source, target = variant_paths(dataset, name), variant_paths(dataset, base)
    if not source[0].exists():
        raise GLTAError(f"{source[0]} does not exist: train the variant first")
    current = variant_config(dataset, base)
    if not same_config(read_results(source[0])["provenance"].get("config"), current.to_dict()):
        raise GLTAError(f"{name} was not made with configs/{dataset}/{current.method}.yaml as it is now: put "
                        f"{' '.join(family[name]) or 'its settings'} into that file first, then promote it")
    moves = []
    if target[0].exists():
        if demote_as is None or demote_as == base or demote_as not in family:
            raise GLTAError(f"{target[0]} holds the run {name} replaces: name the variant whose overrides describe it "
                            f"with --as (one of {', '.join(v for v in family if v != base)})")
        if not same_config(read_results(target[0])["provenance"].get("config"),
                           variant_config(dataset, demote_as).to_dict()):
            raise GLTAError(f"the run in {target[0]} is not what {demote_as} ({' '.join(family[demote_as])}) trains "
                            "from the config as it is now: choose the variant that describes it")
        demoted = variant_paths(dataset, demote_as)
        if demoted[0].exists():
            raise GLTAError(f"{demoted[0]} exists already: move or delete it first")
        moves += list(zip(target, demoted))
    moves += list(zip(source, target))
    for old, new in moves:
        if old.exists():
            new.parent.mkdir(parents=True, exist_ok=True)
            old.rename(new)
    write_summary(dataset)
    return [f"{old} -> {new}" for old, new in moves if new.exists()]


def seconds(record: dict) -> str:
    """Training time summed over every stage and resumed session; a decoding mode shows its evaluation wall time."""
    training = record.get("training", {})
    if not training:
        return f"{record['provenance']['wall_seconds']:,.0f} (eval)"
    return f"{train_seconds(record):,.0f}{'*' if training.get('ia_reused') else ''}"


def write_summary(dataset: str) -> Path:
    """Write ``results/<dataset>/glta_variants.md`` from the variants' results files; its path."""
    path = Path("results") / dataset / "glta_variants.md"
    atomic_write(path, summary(dataset))
    return path


def summary(dataset: str) -> str:
    tests = " | ".join(f"test {m}" for m in METRICS)
    lines = [f"| variant | overrides | valid N@10 | {tests} | epochs | train s |",
             "|---|---|---|" + "---|" * len(METRICS) + "---|---|"]
    names = list(VARIANTS) + list(PLUS_VARIANTS) + [f"mode_{m}" for m in MODES]
    for name in names:
        path = result_path(Path("results"), dataset, name)
        if not path.exists():
            continue
        record = json.loads(path.read_text())
        metrics, prov = record["metrics"], record["provenance"]
        training = record.get("training", {})
        known = {**VARIANTS, **PLUS_VARIANTS}
        changes = " ".join(known.get(name, prov.get("overrides", []))) or "(config)"
        if name in PLUS_VARIANTS:
            changes = "GLTA+ " + changes
        stale = (name in known and not is_done(dataset, name)) or \
            (name.startswith("mode_") and not mode_is_done(dataset, name[len("mode_"):]))
        epochs = f"{training['best_epoch']}/{training['epochs_run']}" if training else "—"
        lines.append(f"| {name}{' †' if stale else ''} | `{changes}` | {metrics['valid']['N@10']:.4f} | "
                     + " | ".join(f"{metrics['test'][m]:.4f}" for m in METRICS)
                     + f" | {epochs} | {seconds(record)} |")
    notes = []
    if any(line.endswith("* |") for line in lines):
        notes.append("\\* the IA stage's result was reused from an earlier run with the same IA settings: this run "
                     "spent no time on IA, and the row's time counts the IA time that earlier run recorded")
    if any(" † |" in line for line in lines):
        notes.append("† made with an earlier base config (`configs/<data>/glta.yaml` has changed since; a decoding "
                     "mode: read out of a model of an earlier config): compare it only with rows made with the same "
                     "base; rerunning the variant trains (or reads) it again")
    return "\n".join(lines) + "\n" + "".join(f"\n{note}\n" for note in notes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="ml-100k", help="built-in data set name")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS) + list(MODES),
                        choices=list(VARIANTS) + list(PLUS_VARIANTS) + list(MODES),
                        help="variants (each its own results file) and decoding modes to run")
    parser.add_argument("--threads", type=int, default=0,
                        help="CPU threads a job trains with (train.threads; 0: the config's)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--promote", metavar="VARIANT", help="make this finished variant the data set's own run "
                        "(after its settings went into the config file); trains nothing")
    parser.add_argument("--as", dest="demote_as", metavar="VARIANT",
                        help="with --promote: the variant whose overrides describe the run being replaced")
    args = parser.parse_args()
    if args.promote:
        print("\n".join(promote(args.dataset, args.promote, args.demote_as)))
        return
    run(args.dataset, args.variants, args.threads, not args.no_progress)
    print(summary(args.dataset))


def run(dataset: str, names: list[str], threads: int = 0, progress: bool = True) -> None:
    """Train (or read out, for decoding modes) the named variants in order, refreshing the summary after each; the
    ``default`` variant first when a named decoding mode needs its model and that is not here (``model_needed``)."""
    modes = [name for name in names if name in MODES]
    if modes and "default" not in names[: names.index(modes[0])] and model_needed(dataset, modes):
        names = ["default"] + [name for name in names if name != "default"]
    for name in names:
        if name in MODES:
            run_mode(dataset, name, progress)
        elif run_variant(dataset, name, threads, progress) and name == "default":
            for mode in MODES:  # read out from the model just replaced: evaluate them again
                result_path(Path("results"), dataset, f"mode_{mode}").unlink(missing_ok=True)
        write_summary(dataset)  # variants may run side by side


if __name__ == "__main__":
    from glta.interrupts import run_interruptibly

    run_interruptibly(main, "glta_variants.py", "the same command continues: "
                      "finished variants are skipped, the one under way resumes from its checkpoint")
