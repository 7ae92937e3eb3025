"""The ``glta`` command. Every subcommand has ``--help``; user mistakes print one clear line, not a traceback."""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from pathlib import Path

from glta import __version__
from glta.errors import GLTAError
from glta.interrupts import INTERRUPTED, interruptible

TABLE_METRICS = ("P@5", "P@10", "N@5", "N@10", "R@20", "N@20")
BROKEN_PIPE = 141  # the exit status of a command whose output pipe closed (128 + SIGPIPE), as shells report it
TEXT_SECTIONS = ("data", "llm", "generation")  # what the text commands' KEY=VALUE overrides set
DATA_OVERRIDES = ("data.* settings, as `glta train` takes them: the split (data.split=temporal ...), a CSV's "
                  "columns (data.user_column=customer ...)")
DATA_CONFIG = "a run's YAML (repeatable; as `glta train --print-config` writes it): its data settings; KEY=VALUE wins"
TEXT_CONFIG = ("a run's YAML (repeatable; as `glta train glta --print-config` writes it): the data, LLM and generation "
               "settings the texts are for; KEY=VALUE overrides win")
NO_PROGRESS = "no progress bars: a line every 10 minutes of long work instead, as where the output is no terminal"


def _overrides(args, sections: tuple[str, ...]) -> dict:
    """The command's KEY=VALUE overrides merged into one dict of sections; a key outside ``sections`` is refused."""
    from glta.config import deep_merge, parse_override

    merged: dict = {}
    for text in getattr(args, "overrides", None) or []:
        merged = deep_merge(merged, parse_override(text))
    if unknown := set(merged) - set(sections):
        raise GLTAError(f"this command's overrides take {' and '.join(s + '.*' for s in sections)} keys, not "
                        f"{sorted(unknown)}")
    return merged


def _data_config(args, settings: dict | None = None):
    """The data set a data or text command reads: a built-in name, or --data-path (--format), with its data.*
    ``settings`` (default: the --config files' data section, then the data.* overrides); named as `glta train`
    names it, so that both find the same caches (texts are filed by name)."""
    from glta.config import DataConfig, check_ranges, from_dict

    data_path = getattr(args, "data_path", None)
    name = args.dataset or getattr(args, "dataset_option", None)
    if settings is None:  # --config files' data section, then the data.* overrides
        from glta.config import deep_merge

        settings = deep_merge(_file_settings(args), _overrides(args, ("data",))).get("data", {})
    if not (name or data_path or settings.get("name") or settings.get("path")):  # a --config file may name it
        raise GLTAError("name a data set (e.g. ml-1m) or give --data-path PATH --format FORMAT")
    values = {**settings, **({"name": name} if name else {}), **({"path": data_path} if data_path else {}),
              **({"format": args.format} if getattr(args, "format", None) else {})}
    config = from_dict(DataConfig, values, "data")
    check_ranges(config, "data")
    return config


def table_columns(metric_sets: list[dict]) -> list[str]:
    """TABLE_METRICS that every one of ``metric_sets`` holds; with other cut-offs (eval.ks=[1,3]), their P@k and N@k."""
    shared = [m for m in metric_sets[0] if all(m in other for other in metric_sets[1:])] if metric_sets else []
    return [m for m in TABLE_METRICS if m in shared] or [m for m in shared if m.startswith(("P@", "N@"))]


def format_table(rows: list[dict], metrics=None, split: str = "test") -> str:
    from glta.results import train_seconds

    metrics = metrics or table_columns([row["metrics"][split] for row in rows])
    header = f"{'method':<12}" + "".join(f"{m:>9}" for m in metrics) + f"{'train s':>10}"
    lines = [header, "-" * len(header)]
    for row in rows:
        values = row["metrics"][split]
        seconds = train_seconds(row) if row.get("training") else float("nan")
        lines.append(f"{row['method']:<12}" + "".join(f"{values[m]:>9.4f}" for m in metrics) + f"{seconds:>10.1f}")
    return "\n".join(lines)


# --- subcommands ------------------------------------------------------------------------------------
def cmd_data_stats(args) -> None:
    from glta.data import load_dataset

    config = _data_config(args)
    dataset = load_dataset(config, args.data_root)
    stats = dataset.stats()
    if args.json:
        print(json.dumps(stats, indent=2))
        return
    print(f"data set        {stats['dataset']}  (fingerprint {stats['fingerprint']})")
    if stats["read_with"]:  # what every other command reading this data set must be given too
        print(f"read with       {' '.join(stats['read_with'])}")
    print(f"users           {stats['users']:,}")
    print(f"items           {stats['items']:,}")
    split = f", {stats['split']} split" if stats.get("split") and stats["split"] != "default" else ""
    print(f"interactions    {stats['interactions']:,}  (train {stats['train']:,} / valid {stats['valid']:,} / "
          f"test {stats['test']:,}{split})")
    print(f"density         {stats['density']:.4%}")
    for label, key in (("items per user", "train_items_per_user"), ("users per item", "train_users_per_item")):
        s = stats[key]
        print(f"{label:<15} {s['median']:g} median in train (10%-90%: {s['p10']:g}-{s['p90']:g}; "
              f"{s['min']:,}-{s['max']:,})")
    if stats["items_not_in_train"]:
        print(f"cold items      {stats['items_not_in_train']:,} never in train (no model learns them from "
              "interactions)")
    print(f"items with text {stats['items_with_text']:,}  fields: {', '.join(stats['text_fields']) or 'none'}")
    if not stats["text_fields"]:
        print("note: this data set has no item text; text-based stages will describe items by their ids only")


def cmd_data_export(args) -> None:
    from glta.data import load_dataset
    from glta.data.export import export_recbole

    dataset = load_dataset(_data_config(args), args.data_root)
    for path in export_recbole(dataset, args.to, args.name):
        print(path)


def cmd_data_list(args) -> None:
    from glta.data import BUILTINS
    from glta.data.formats import FORMAT_FILES

    print("built-in data sets (under --data-root / GLTA_DATA_ROOT):")
    for name, builtin in BUILTINS.items():
        print(f"  {name:<22} {builtin.folder or '(generated)':<32} {builtin.note}")
    print("formats for --data-path (--format NAME; detected from the files when left out):")
    for name, files in FORMAT_FILES.items():
        print(f"  {name:<22} {files}")


def cmd_train(args) -> None:
    from glta.pipeline import train

    method = args.method
    merged: list[str] = []
    config = _merged_config(args, merged)
    if args.print_config:
        print(_config_yaml(config, method, merged))
        return
    run = train(config, args.data_root, args.run_dir, args.out, resume=args.resume, progress=not args.no_progress)
    print(format_table([{"method": method, "metrics": run.record, "training": run.record["training"]}]))
    print(f"results: {run.results_path}\nmodel:   {run.run_dir}")


def _merged_config(args, merged: list[str]):
    """The settings a training command's arguments name (METHOD, the data set, --config files, overrides,
    --data-path), and in ``merged`` what was merged, in order."""
    from glta.config import build_config

    config = build_config(args.method, args.dataset, args.config, args.overrides, args.config_dir, merged)
    if args.data_path:
        config.data.path, config.data.format = args.data_path, args.format
        merged.append(f"--data-path {args.data_path}" + (f" --format {args.format}" if args.format else ""))
    return config


def _config_yaml(config, method: str, merged: list[str], title: str | None = None, notes: tuple[str, ...] = ()) -> str:
    """The settings a training command would run with, as YAML that `--config FILE` reads back to the same
    settings (mappings as blocks, lists on one line), after comment lines: the ``title``, what was ``merged`` (later
    wins) and any ``notes``."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    Dumper.add_representer(list, lambda dumper, data: dumper.represent_sequence(
        "tag:yaml.org,2002:seq", data, flow_style=True))
    from glta.data import dataset_name

    plain = json.loads(json.dumps({"method": method, **config.to_dict()}))  # tuples as lists, for safe YAML
    comments = [title or f"glta train {method}: the settings it would run with",
                f"merged (later wins): {'; '.join(merged)}", *notes]
    if (name := dataset_name(config.data)) != config.data.name:  # the default name, which a path's data set drops
        comments.append(f"data set: {name}, named after data.path (runs/{name}/, results/{name}/)")
    return "".join(f"# {line}\n" for line in comments) \
        + yaml.dump(plain, Dumper=Dumper, sort_keys=False, default_flow_style=False).rstrip()


def cmd_tune(args) -> None:
    from glta.tuning import parse_grid, tune

    if args.print_config:
        print(_tune_config_yaml(args))
        return
    record = tune(args.method, args.dataset, parse_grid(args.grid), args.overrides, args.config, args.config_dir,
                  args.data_root, progress=not args.no_progress, data_path=args.data_path, data_format=args.format)
    selection = record["selection"]
    for row in selection["points"]:
        mark = "*" if row["point"] == selection["chosen"] else " "
        print(f"{mark} {row['name']:<40} valid N@10 {row['valid']:.4f}  best epoch {row['best_epoch']:>3}  "
              f"{row['train_seconds']:>8.1f}s")
    print(format_table([{"method": args.method, "metrics": record["metrics"], "training": record["training"]}]))


def _tune_config_yaml(args) -> str:
    """What `glta tune --print-config` prints: the settings every grid point shares, as YAML that --config reads,
    after comment lines naming the grid (each point's values override the shared ones) and its points. Every
    point's settings are built, so a grid key that no config has is refused here, before any training."""
    from glta.data import dataset_name
    from glta.tuning import default_grid, grid_points, grid_text, parse_grid, point_files, point_name, trained_point

    merged: list[str] = []
    config = _merged_config(args, merged)
    grid = parse_grid(args.grid) or default_grid(args.method)
    points = []
    for point, settings in grid_points(args.method, args.dataset, grid, args.overrides, args.config,
                                       args.config_dir, args.data_path, args.format):
        name = point_name(point)
        done = trained_point(point_files(dataset_name(settings.data), args.method, name)[0], settings)
        points.append(name + (" (trained: reused)" if done else ""))
    source = "--grid" if args.grid else "the method's default grid"
    notes = (f"grid ({source}; each point's values override the settings below): {grid_text(grid)}",
             f"{len(points)} point{'s' if len(points) != 1 else ''}: {', '.join(points)}")
    return _config_yaml(config, args.method, merged, f"glta tune {args.method}: the settings every grid point shares",
                        notes)


def _run_folder(args) -> Path:
    """The run folder a command reads: --run-dir, else runs/<data set>/<method> for --dataset NAME or --data-path PATH
    (a path's data set is named after its file or folder, as `glta train --data-path` names it)."""
    from glta.data import path_name
    from glta.pipeline import default_run_dir

    named = args.method_name or args.method  # before _named_method makes lightgcn the default
    args.method = _named_method(args)
    if args.run_dir:
        _check_run_names(Path(args.run_dir), named, args.dataset, args.data_path)
        return Path(args.run_dir)
    if args.data_path and not args.dataset:
        folder, source = default_run_dir(path_name(args.data_path), args.method), f"--data-path {args.data_path}"
    else:
        folder, source = default_run_dir(args.dataset, args.method), f"--dataset {args.dataset}"
    if not (folder / "run.json").exists():
        raise GLTAError(f"{folder} holds no trained run: train it first with `glta train {args.method} {source}` "
                        "(or give --run-dir DIR)")
    return folder


def _check_run_names(folder: Path, method: str | None, dataset: str | None, data_path: str | None) -> None:
    """A folder given by --run-dir says its own method and data; a METHOD, --dataset or --data-path beside it that
    names others would be ignored (`glta evaluate glta --run-dir runs/ml-1m/lightgcn` evaluated LightGCN), so it is
    refused in one line. A folder without a readable run.json is left to the loader's own error."""
    try:
        config = json.loads((folder / "run.json").read_text())["config"]
        trained, data = config["method"], config["data"]
    except (OSError, ValueError, KeyError, TypeError):
        return
    if method and method != trained:
        raise GLTAError(f"{folder} holds a {trained} run, not {method}: leave out the method (the folder says it) "
                        f"or give the {method} run's folder")
    if dataset and dataset != data.get("name"):
        raise GLTAError(f"{folder} holds a run on {data.get('name')}, not --dataset {dataset}: leave out --dataset "
                        "(the folder says its data) or give that data set's run folder")
    if data_path and (not data.get("path") or Path(data_path).resolve() != Path(data["path"]).resolve()):
        trained_on = f"--data-path {data['path']}" if data.get("path") else f"the built-in {data.get('name')}"
        raise GLTAError(f"{folder} holds a run trained on {trained_on}, not --data-path {data_path}: leave out "
                        "--data-path (the folder says its data) or give that data's run folder")


def _named_method(args) -> str:
    """The method whose run folder to read: METHOD as `glta train` takes it, or --method; lightgcn when neither."""
    from glta.methods import method_names

    name = args.method_name
    if name and args.method and name != args.method:
        raise GLTAError(f"two methods named, {name} and --method {args.method}: name one")
    name = name or args.method or "lightgcn"
    if name not in method_names():
        raise GLTAError(f"unknown method '{name}': choose one of {', '.join(method_names())}")
    return name


def cmd_evaluate(args) -> None:
    from glta.pipeline import evaluate_run, inference_overrides

    run_dir = _run_folder(args)
    metrics = evaluate_run(run_dir, args.data_root, progress=not args.no_progress, overrides=args.overrides,
                           out=args.out)
    if args.json:
        print(json.dumps(metrics, indent=2))
        return
    columns = table_columns([metrics["valid"], metrics["test"]])
    if isinstance(asked := inference_overrides(args.overrides).get("eval", {}).get("ks"), list):
        columns = [f"{m}@{k}" for k in asked for m in ("P", "N")]  # the cut-offs asked for, in their order
    header = f"{'split':<8}" + "".join(f"{m:>9}" for m in columns)
    print(f"{args.method if not args.run_dir else Path(run_dir).name} ({run_dir})")
    print(header + "\n" + "-" * len(header))
    for split in ("valid", "test"):
        print(f"{split:<8}" + "".join(f"{metrics[split][m]:>9.4f}" for m in columns))


def cmd_compare(args) -> None:
    from glta.comparison import as_json, cells, comparison, format_rows, results_files
    from glta.data import BUILTINS

    if len(args.files) == 1 and args.files[0] in BUILTINS and not Path(args.files[0]).exists() \
            and not (args.dataset or args.data_path):  # `glta compare ml-1m`, as `glta train lightgcn ml-1m`
        args.dataset, args.files = args.files[0], []
    if args.files:
        files = [Path(f) for f in args.files]
    else:
        if not args.dataset and not args.data_path:
            raise GLTAError("name the data set whose results to compare (--dataset ml-1m, or the --data-path it was "
                            "trained with), or give results files")
        from glta.data import path_name

        files = results_files(Path(args.results_dir) / (args.dataset or path_name(args.data_path)))
    rows = comparison(cells(files))
    print(as_json(rows) if args.json else format_rows(rows))


def cmd_recommend(args) -> None:
    from glta.pipeline import export_recommendations, recommend, recommend_for_items

    run_dir = _run_folder(args)
    chosen = [name for name, given in (("--user", args.user), ("--items", args.items), ("--all", args.all)) if given]
    if len(chosen) != 1:
        raise GLTAError("recommend needs exactly one of --user ID, --items ID,ID,... (a user not in the data) or "
                        "--all --out FILE")
    if args.skip_unknown and not (args.items or args.exclude_items or args.only_items):
        raise GLTAError("--skip-unknown goes with --items (the items of a user who is not in the data), "
                        "--exclude-items or --only-items")
    filters = {"exclude_items": item_list(args.exclude_items, "--exclude-items"),
               "only_items": item_list(args.only_items, "--only-items")}
    if args.all:
        if not args.out:
            raise GLTAError("--all writes every user's top-k to a file: add --out recs.csv (or .parquet)")
        path = export_recommendations(run_dir, args.out, args.k, args.data_root, progress=not args.no_progress,
                                      overrides=args.overrides, skip_unknown=args.skip_unknown, **filters)
        print(f"top-{args.k} for every user -> {path}")
        return
    if args.items:
        given = item_list(args.items, "--items")
        result = [recommend_for_items(run_dir, given, args.k, args.data_root, args.overrides,
                                      skip_unknown=args.skip_unknown, **filters)]
        if result[0]["skipped"]:
            print(f"left out {len(result[0]['skipped'])} item id(s) the model was not trained on: "
                  f"{', '.join(map(printable, result[0]['skipped'][:10]))}", file=sys.stderr)
    else:
        result = recommend(run_dir, args.user, args.k, args.data_root, args.overrides,
                           skip_unknown=args.skip_unknown, **filters)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for entry in result:
        if entry["user"] is not None:
            print(f"user {entry['user']}:")
        else:  # the ids as read (from an @FILE too), the first ten of a long history
            more = f" and {len(given) - 10:,} more" if len(given) > 10 else ""
            shown = ", ".join(map(printable, given[:10])) + more
            print(f"new user with items {shown}:")
        for rank, item in enumerate(entry["items"], 1):
            print(f"  {rank:>2}. {printable(item['item']):<12} {item['score']:>9.4f}  {printable(item['title'])}")
        if not entry["items"]:
            print("  none: every item of the catalogue is among the ones this user interacted with" if not
                  any(filters.values()) else "  none: every allowed item is among the ones this user interacted with")


def item_list(value: str | None, option: str) -> list[str] | None:
    """Item ids given on the command line: comma-separated, or ``@FILE`` with one id per line."""
    if value is None:
        return None
    if value.startswith("@"):
        path = Path(value[1:]).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise GLTAError(f"{option} {value}: cannot read {path} ({error.__class__.__name__}); give a text file "
                            "with one item id per line, or the ids comma-separated") from None
        ids = [line.strip() for line in text.splitlines() if line.strip()]
    else:
        ids = [part.strip() for part in value.split(",") if part.strip()]
    if not ids:
        raise GLTAError(f"{option} names no item id: give ID,ID,... or @FILE with one id per line")
    return ids


def printable(text: str) -> str:
    """Data text for a terminal: control characters (escape sequences, carriage returns, ...) are dropped."""
    return "".join(ch for ch in str(text) if ch.isprintable())


def cmd_demo(args) -> None:
    from glta.config import build_config
    from glta.pipeline import train

    rows = []
    methods = ("pop", "lightgcn") if args.skip_glta else ("pop", "lightgcn", "glta", "glta_plus")
    for method in methods:
        if method == "glta":
            print("\nGLTA on the LightGCN embeddings just trained, with the bundled LLM (no LLM-written texts in the "
                  "demo: `glta text generate synthetic` adds them)")
        if method == "glta_plus":
            print("\nGLTA+ (beyond the paper): GLTA plus a graph head, LightGCN's score as a residual and a fusion "
                  "weight chosen on validation")
        config = build_config(method, "synthetic", config_dir=args.config_dir)
        run = train(config, args.data_root, out=Path(args.results_dir) / "synthetic" / f"{method}.json",
                    progress=not args.no_progress, log=(lambda s: None) if args.quiet else print)
        rows.append({"method": method, "metrics": run.record, "training": run.record["training"]})
    print("\nTest metrics on the synthetic data set (full ranking, seen items masked):")
    print(format_table(rows))


def _file_settings(args) -> dict:
    """The data, llm and generation sections of each --config file, merged in order: a run's YAML, as `glta train
    glta --print-config` writes it (the LLM and generation settings of its model section, ``model.texts_llm`` naming
    the LLM where set), or top-level llm and generation sections."""
    from glta.config import deep_merge, load_yaml

    merged: dict = {}
    for file in getattr(args, "config", None) or []:
        raw = load_yaml(file)
        model = raw.get("model") if isinstance(raw.get("model"), dict) else {}
        llm = raw.get("llm") or model.get("llm") or {}
        if model.get("texts_llm"):  # the texts this run reads are another LLM's
            llm = {**llm, "name": model["texts_llm"]}
        merged = deep_merge(merged, {"data": raw.get("data") or {}, "llm": llm,
                                     "generation": raw.get("generation") or model.get("generation") or {}})
    return merged


def _text_settings(args):
    """(data, llm, generation) a text command runs with: the --config files' settings (``_file_settings``), then the
    KEY=VALUE overrides. The LLM's and generation settings are checked before the LLM loads, as `glta train` checks
    a run's."""
    from glta.config import check_ranges, deep_merge, from_dict
    from glta.text.generate import GenerationConfig
    from glta.text.llm import LLMConfig

    merged = deep_merge(_file_settings(args), _overrides(args, TEXT_SECTIONS))
    configs = (from_dict(LLMConfig, merged.get("llm", {}), "llm"),
               from_dict(GenerationConfig, merged.get("generation", {}), "generation"))
    for config, section in zip(configs, ("llm", "generation")):
        check_ranges(config, section)  # ranges and choices, as `glta train` checks them, before the LLM loads
    return _data_config(args, merged.get("data", {})), *configs


def cmd_text_generate(args) -> None:
    import numpy as np
    import torch

    from glta.data import load_dataset
    from glta.device import busy_cpu_warning
    from glta.distributed import processes
    from glta.text.generate import TEXT_KINDS, generate_item_texts, generate_user_texts
    from glta.text.llm import hide_library_progress, load_llm, resolve_device

    if args.no_progress:
        hide_library_progress()
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    wrong = [k for k in kinds if k not in TEXT_KINDS]
    if wrong or not kinds:
        raise GLTAError(f"--kinds {args.kinds}: unknown kind(s) {wrong}; choose from {', '.join(TEXT_KINDS)}")
    data_config, llm_config, generation = _text_settings(args)
    if processes().is_main and resolve_device(llm_config).type == "cpu" \
            and (warning := busy_cpu_warning(torch.get_num_threads(), setting="OMP_NUM_THREADS")):
        print(warning, file=sys.stderr)
    dataset = load_dataset(data_config, args.data_root)
    with processes().main_first():  # a first use converts the LLM into the cache: once, by the main process
        llm = load_llm(llm_config)
    users = np.flatnonzero(np.diff(dataset.train.indptr) > 0)
    if args.limit:
        users = users[: args.limit]
    user_kinds = [k for k in kinds if k in ("profile", "prediction")]
    reports = generate_user_texts(llm, dataset, user_kinds, generation, users, progress=not args.no_progress)
    if "item_profile" in kinds:
        items = np.arange(dataset.n_items)[: args.limit or None]
        reports.append(generate_item_texts(llm, dataset, generation, items, progress=not args.no_progress))
    for report in reports:
        print(f"{report.kind:<13} {report.generated:>6} generated of {report.requested:>6}  -> {report.cache_file}")
    calls: dict[tuple[str, ...], list] = {}  # the reports of each generation call
    for report in reports:
        calls.setdefault(report.call_kinds, []).append(report)
    for kinds, shared in calls.items():
        print(_call_rate(kinds, shared))


def _call_rate(kinds: tuple[str, ...], reports) -> str:
    """One line for one generation call: its responses, wall time and rate, over every process and kind it wrote
    (the kinds of a call share each prefill, so only the call's total rate means anything)."""
    generated, tokens = sum(r.generated for r in reports), sum(r.new_tokens for r in reports)
    name, world = " + ".join(kinds), reports[0].processes
    if not generated:
        return f"{name}: all cached"
    seconds = reports[0].seconds
    together = f", {generated / seconds / world:.2f} a process ({world} processes)" if world > 1 else ""
    return (f"{name}: {generated:,} responses in {seconds:.1f} s ({generated / seconds:.2f} responses/s{together}, "
            f"{tokens / seconds:.1f} new tokens/s)")


def _bytes(size: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            return f"{size / scale:,.1f} {unit}"
    return f"{size} B"


def cmd_cache_list(args) -> None:
    from glta.caches import KINDS, summary

    listed = summary()
    if args.json:
        print(json.dumps(listed, indent=1))
        return
    print(f"cache {listed['root']} ($GLTA_CACHE_DIR): {_bytes(listed['bytes'])}")
    for kind in listed["kinds"]:
        entries = kind["entries"]
        cost = " (expensive: `glta cache clear` asks for --yes)" if kind["expensive"] else ""
        count = f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}"
        print(f"{kind['kind']:<16} {_bytes(kind['bytes']):>11}  {count:>11}  {KINDS[kind['kind']].holds}; takes "
              f"{kind['rebuild']} to make again{cost}")
        for entry in entries:
            held = "  [in use by a running process]" if entry["held"] else ""
            print(f"    {_bytes(entry['bytes']):>11}  {Path(entry['path']).name}  {entry['about']}{held}")


def cmd_cache_clear(args) -> None:
    from glta.caches import clear

    deleted, kept = clear(args.kinds, args.dataset, args.yes, stale=args.stale)
    for entry in deleted:
        print(f"deleted {entry.kind} {entry.path.name} ({_bytes(entry.size)}): {entry.about}")
    for entry in kept:
        print(f"kept    {entry.kind} {entry.path.name}: in use by a running process")
    if not deleted and not kept:
        print("nothing to delete" + (f" for {args.dataset}" if args.dataset else ""))
    else:
        print(f"freed {_bytes(sum(entry.size for entry in deleted))}")
    if args.dataset and "ia" in args.kinds:
        from glta.caches import entries

        unnamed = sum(entry.dataset is None for entry in entries("ia"))
        if unnamed:
            print(f"left {unnamed} IA result{'s' * (unnamed != 1)} that record{'s' * (unnamed == 1)} no data set "
                  "(trained before December 8; `glta cache list` shows them, `glta cache clear ia --yes` deletes "
                  "every IA result)")


def cmd_text_show(args) -> None:
    from glta.data import load_dataset
    from glta.text.generate import cache_path, generate_command, history_items, template_text, user_prompt
    from glta.text.text_cache import TextCache
    from glta.text.llm import load_llm

    data_config, llm_config, generation = _text_settings(args)
    dataset = load_dataset(data_config, args.data_root)
    index = {str(u): i for i, u in enumerate(dataset.user_ids)}
    if args.user not in index:
        raise GLTAError(f"unknown user id '{args.user}' in {dataset.name}; e.g. {list(dataset.user_ids[:3])}")
    user = index[args.user]
    llm = load_llm(llm_config)
    generate = generate_command(dataset, llm_config.name, generation)  # the very texts shown here
    for kind in ("profile", "prediction"):
        prompt, fingerprint = user_prompt(llm.tokenizer, dataset, user, kind, generation)
        cached = TextCache(cache_path(llm.identity, dataset, kind, template_text(kind), generation)).load()
        text = cached.get((args.user, fingerprint))
        print(f"=== {kind} prompt ({len(history_items(dataset, user, generation))} training items) ===")
        print(prompt)
        print(f"=== {kind} text ===")
        print(text if text is not None else f"(not generated yet: run `{generate}`)")


# --- parser -------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="glta", description="GLTA: graph-language token alignment for "
                                     "recommendation, with its baselines and evaluation protocol.")
    parser.add_argument("--data-root", default=None,
                        help="folder holding the data sets (default: $GLTA_DATA_ROOT)")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    parser.add_argument("--version", action="version", version=f"glta {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add_data_source(p, required_name=False):
        p.add_argument("dataset", nargs=None if required_name else "?", help="built-in name, e.g. ml-1m")
        p.add_argument("--dataset", dest="dataset_option", help=argparse.SUPPRESS)  # as the training commands take it
        p.add_argument("--data-path", help="a folder or file in one of the supported formats")
        p.add_argument("--format", help="loader for --data-path (see `glta data list`)")

    data = commands.add_parser("data", help="inspect and convert data sets")
    data_commands = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    stats = data_commands.add_parser("stats",
                                     help="users, items, interactions, density, history lengths, items with text")
    add_data_source(stats)
    stats.add_argument("--json", action="store_true", help="print the statistics as JSON")
    stats.add_argument("--config", action="append", default=[], help=DATA_CONFIG)
    stats.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help=DATA_OVERRIDES)
    stats.set_defaults(func=cmd_data_stats)
    export = data_commands.add_parser("export", help="write the split data set as RecBole atomic files")
    add_data_source(export)
    export.add_argument("--to", required=True, help="output folder")
    export.add_argument("--name", default=None, help="file stem (default: the data set name)")
    export.add_argument("--config", action="append", default=[], help=DATA_CONFIG)
    export.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help=DATA_OVERRIDES)
    export.set_defaults(func=cmd_data_export)
    listing = data_commands.add_parser("list", help="built-in data sets and supported formats")
    listing.set_defaults(func=cmd_data_list)

    def add_data_and_config(p):  # what a training command reads: the data set and the method's config
        p.add_argument("--dataset", help="built-in data set name (see `glta data list`); the name alone, without "
                                         "--dataset, does too")
        p.add_argument("--data-path", help="a folder or file in one of the supported formats (detected; see "
                                           "`glta data list`)")
        p.add_argument("--format", help="loader for --data-path (see `glta data list`)")
        p.add_argument("--config", action="append", default=[], help="YAML config file (repeatable)")
        p.add_argument("--config-dir", default=None, help="where <dataset>/<method>.yaml defaults live (default: "
                       "$GLTA_CONFIG_DIR, else the configs shipped with glta)")
        p.add_argument("--no-progress", action="store_true", help=NO_PROGRESS)

    def add_train_args(p):
        add_data_and_config(p)
        p.add_argument("--out", help="results file (default: results/<dataset>/<method>.json)")
        p.add_argument("--run-dir", help="where the model is saved (default: runs/<dataset>/<method>)")
        p.add_argument("--resume", action="store_true", help="continue from the run folder's checkpoint")
        p.add_argument("--print-config", action="store_true",
                       help="print the settings it would train with (defaults, the data set's config file, --config "
                            "files and overrides merged) as YAML that --config reads, and stop before loading data")
        p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                       help="dotted config overrides anywhere on the line, e.g. train.lr=0.01 model.layers=2")

    from glta.methods import method_names

    train_parser = commands.add_parser("train", help="train and evaluate a method; writes a results file")
    train_parser.add_argument("method", choices=method_names(),
                              help="the method to train (docs/baselines.md, docs/glta.md)")
    add_train_args(train_parser)
    train_parser.set_defaults(func=cmd_train)

    tune_parser = commands.add_parser(
        "tune", help="validation grid search; the best point becomes results/<dataset>/<method>.json",
        description="Train every point of a grid (resumable: finished points are reused) and keep the one with the "
                    "best validation NDCG@10, e.g. glta tune hccf --dataset ml-1m --grid train.lr=0.001,0.01 "
                    "--grid model.ssl_weight=0.001,0.01. Without --grid, the method's default grid is searched "
                    "(docs/baselines.md lists them). A run `glta train` left in the method's place is moved aside "
                    "to results/<dataset>/replaced/ and runs/<dataset>/<method>/replaced-<time>/ first.")
    tune_parser.add_argument("method", choices=method_names(), help="the method whose grid to search")
    tune_parser.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2",
                             help="a config key and its candidate values (repeatable; default: the method's grid)")
    add_data_and_config(tune_parser)
    tune_parser.add_argument("--print-config", action="store_true",
                             help="print the settings every point shares as YAML that --config reads, with the grid's "
                                  "points, and stop before loading data")
    tune_parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="fixed overrides for every point")
    tune_parser.set_defaults(func=cmd_tune)

    compare = commands.add_parser(
        "compare", help="a data set's trained methods side by side, each tested against the best on validation",
        description="Test metrics of every results file of a data set (mean over the training seeds beside it, "
                    "seeds/<method>-<seed>.json), and each method against the one with the best validation N@10: "
                    "paired Wilcoxon test over users on test N@10, and a t-test over seeds where both have two or "
                    "more (or one run against two or more seeds: that run against their spread).")
    compare.add_argument("files", nargs="*", help="results files, or a built-in data set's name (default: every "
                                                  "results/<dataset>/*.json)")
    compare.add_argument("--dataset", help="built-in data set name")
    compare.add_argument("--data-path", help="the path the methods were trained with `--data-path` on")
    compare.add_argument("--results-dir", default="results", help="where the results files are (default: results)")
    compare.add_argument("--json", action="store_true", help="print JSON")
    compare.set_defaults(func=cmd_compare)

    pretrain = commands.add_parser("pretrain", help="stage 0: train LightGCN and save its frozen embeddings")
    add_train_args(pretrain)
    pretrain.set_defaults(func=cmd_train, method="lightgcn")

    def add_run_args(p):
        p.add_argument("--dataset", help="data set name (with --method, finds runs/<dataset>/<method>)")
        p.add_argument("--data-path", help="the path the model was trained with `--data-path` on (finds "
                                           "runs/<its name>/<method>; the data is read as the run recorded it)")
        p.add_argument("method_name", nargs="?", metavar="METHOD",
                       help="the method whose run folder to read, as `glta train` names it (default lightgcn)")
        p.add_argument("--method", help="the same as METHOD")
        p.add_argument("--run-dir", help="a run folder written by `glta train`")
        p.add_argument("--json", action="store_true", help="print JSON")

    evaluate = commands.add_parser("evaluate", help="re-evaluate a trained model on valid and test")
    add_run_args(evaluate)
    evaluate.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                          help="inference-time settings only, e.g. model.inference=autoregressive "
                               "(also model.eval_batch_size, eval.batch_size, eval.ks, train.threads)")
    evaluate.add_argument("--out", help="also write the metrics as a results file with provenance")
    evaluate.add_argument("--no-progress", action="store_true", help=NO_PROGRESS)
    evaluate.set_defaults(func=cmd_evaluate)

    rec = commands.add_parser("recommend", help="top-k unseen items for a user (ids, titles, scores)")
    add_run_args(rec)
    rec.add_argument("--user", action="append", help="original user id (repeatable)")
    rec.add_argument("--items", help="a user who is not in the training data, given by the original ids of items "
                                     "they interacted with: ID,ID,... or @FILE, one id per line (cold start, no "
                                     "retraining)")
    rec.add_argument("--skip-unknown", action="store_true",
                     help="with --items, --exclude-items or --only-items: leave out item ids the model was not "
                          "trained on (those of --items named on stderr) instead of stopping")
    rec.add_argument("--exclude-items", metavar="IDS",
                     help="never recommend these items (e.g. out of stock): ID,ID,... or @FILE, one id per line")
    rec.add_argument("--only-items", metavar="IDS",
                     help="recommend from these items alone (a candidate set): ID,ID,... or @FILE, one id per line")
    rec.add_argument("--all", action="store_true", help="every user's top-k, written to --out")
    rec.add_argument("--out", help="with --all: a .csv or .parquet file")
    rec.add_argument("--no-progress", action="store_true", help=NO_PROGRESS)
    rec.add_argument("-k", "--top-k", dest="k", type=int, default=10, help="items per user (default 10)")
    rec.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                     help="inference-time settings only, as for evaluate, e.g. model.inference=first_logit")
    rec.set_defaults(func=cmd_recommend)

    text = commands.add_parser("text", help="LLM-written user profiles and predictions (cached)")
    text_commands = text.add_subparsers(dest="text_command", required=True, metavar="ACTION")
    generate = text_commands.add_parser("generate", help="generate and cache texts for a data set's users/items")
    add_data_source(generate)
    generate.add_argument("--kinds", default="profile,prediction",
                          help="comma-separated: profile, prediction, item_profile")
    generate.add_argument("--limit", type=int, default=0, help="only the first N users (and items)")
    generate.add_argument("--no-progress", action="store_true", help=NO_PROGRESS)
    generate.add_argument("--config", action="append", default=[], help=TEXT_CONFIG)
    generate.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                          help="llm.* / generation.* / data.* overrides, e.g. generation.batch_size=16 (data.*: "
                               "the split the texts are for, as `glta train` was given it)")
    generate.set_defaults(func=cmd_text_generate)
    show = text_commands.add_parser("show", help="print a user's prompts and cached texts")
    add_data_source(show)
    show.add_argument("--user", required=True, help="original user id")
    show.add_argument("--config", action="append", default=[], help=TEXT_CONFIG)
    show.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                      help="llm.* / generation.* / data.* settings the texts were written with")
    show.set_defaults(func=cmd_text_show)

    cache = commands.add_parser("cache", help="what the cache folder holds ($GLTA_CACHE_DIR), and deleting parts "
                                              "of it")
    cache.set_defaults(func=cmd_cache_list, json=False)  # `glta cache` alone lists
    cache_commands = cache.add_subparsers(dest="cache_command", metavar="ACTION")
    cache_list = cache_commands.add_parser("list", help="each kind of cache with its size and entries")
    cache_list.add_argument("--json", action="store_true", help="as JSON")
    cache_list.set_defaults(func=cmd_cache_list)
    cache_clear = cache_commands.add_parser("clear", help="delete a kind of cache (what a running process holds is "
                                                          "kept)")
    cache_clear.add_argument("kinds", nargs="+", metavar="KIND",
                             help="texts, ia, prefix-kv, text-embeddings, llm or data")
    cache_clear.add_argument("--dataset", help="only this data set's entries (texts, ia, prefix-kv and data; an IA "
                             "result written before December 8 records no data set and stays)")
    cache_clear.add_argument("--yes", action="store_true",
                             help="also delete an expensive kind (texts, ia: hours to make again)")
    cache_clear.add_argument("--stale", action="store_true",
                             help="only entries this version of glta no longer reads (`glta cache list` marks them: "
                                  "data sets cached by an older version)")
    cache_clear.set_defaults(func=cmd_cache_clear)

    demo = commands.add_parser("demo", help="train and compare methods on the embedded synthetic data set")
    demo.add_argument("--results-dir", default="results", help="where the results files go (default: results)")
    demo.add_argument("--config-dir", default=None, help="as for train")
    demo.add_argument("--no-progress", action="store_true", help=NO_PROGRESS)
    demo.add_argument("--quiet", action="store_true", help="no per-epoch training lines")
    demo.add_argument("--skip-glta", action="store_true", help="only popularity and LightGCN (seconds, no LLM)")
    demo.set_defaults(func=cmd_demo)
    return parser


# what an interrupted command kept, and how to go on from it
RESUMING = {command: "rerun with --resume to continue from the last checkpoint" for command in ("train", "pretrain")}
RESUMING["text"] = "rerun the same command to continue: every finished batch of texts is cached"
RESUMING["recommend"] = "rerun the same command to continue: an --all export keeps its finished batches"


def _place_free_words(parser: argparse.ArgumentParser, args, extra: list[str]) -> None:
    """Put the words argparse could not place where the user meant them: KEY=VALUE overrides stand anywhere on the
    line, also where an optional positional (a data set name, `evaluate`'s METHOD) took one; a command that trains or
    reads a trained method takes a built-in data set's name without --dataset (`glta train lightgcn ml-1m`, `glta
    recommend glta ml-1m --user 1`, as `glta data stats ml-1m`). Anything else is argparse's one-line error."""
    if extra:
        stray = [token for token in extra if token.startswith("-") or "=" not in token]
        if stray or not hasattr(args, "overrides"):
            parser.error(f"unrecognized arguments: {' '.join(stray or extra)}")
        args.overrides = list(args.overrides or []) + extra
    for slot in ("dataset", "method_name"):  # `glta text generate --data-path DIR generation.batch_size=16`
        word = getattr(args, slot, None)
        if isinstance(word, str) and "=" in word and hasattr(args, "overrides"):
            args.overrides = [word] + list(args.overrides or [])
            setattr(args, slot, None)
    command = getattr(args, "command", None)
    reads_a_run = command in {"evaluate", "recommend"}  # where --run-dir names the source, not where a run goes
    if command in {"train", "tune", "pretrain", "evaluate", "recommend"} \
            and not (args.dataset or (reads_a_run and args.run_dir)):  # with --data-path too: both are refused
        from glta.data import BUILTINS

        if getattr(args, "method_name", None) in BUILTINS:  # `glta evaluate ml-1m`: LightGCN's run there
            args.dataset, args.method_name = args.method_name, None
        words = [word for word in args.overrides if "=" not in word]
        if words and not args.dataset:
            if words[0] not in BUILTINS:
                parser.error(f"'{words[0]}' is neither a KEY=VALUE override nor a built-in data set "
                             f"({', '.join(BUILTINS)}): give --dataset NAME or --data-path PATH")
            args.dataset = words[0]
            args.overrides.remove(words[0])
    if command in {"evaluate", "recommend"} and not (args.run_dir or args.dataset or args.data_path):
        parser.error("give --dataset NAME or --data-path PATH (and the METHOD), or --run-dir DIR")
    named = getattr(args, "dataset", None) or getattr(args, "dataset_option", None)
    if named and getattr(args, "data_path", None):  # else one data set's run would be filed under the other's name
        parser.error(f"{named} names a built-in data set and --data-path {args.data_path} another: give one (for a "
                     f"built-in data set's settings on your data, add --config configs/{named}/<method>.yaml)")


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    _place_free_words(parser, args, extra)
    from glta.progress import bars_shown

    # output to a file: lines, as with --no-progress, and no library bars either, also for a command without the
    # option (`glta text show` loads the LLM under transformers' "Loading weights" bar)
    quiet = not bars_shown(not getattr(args, "no_progress", False))
    if hasattr(args, "no_progress"):
        args.no_progress = quiet
    if quiet and "tqdm" not in sys.modules:
        # the plain tqdm bars inside libraries too (transformers' GGUF conversion on a first use of an LLM): tqdm
        # reads TQDM_DISABLE once, when it is imported, which has not happened yet in a `glta` process
        os.environ.setdefault("TQDM_DISABLE", "1")
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if distributed:  # launched by accelerate/torchrun: the main process reports
        from glta.distributed import processes

        if not processes().is_main:
            sys.stdout = open(os.devnull, "w")
    try:
        with interruptible():
            args.func(args)
        if distributed:
            processes().close()
    except GLTAError as error:
        if args.debug:
            raise
        print(f"glta: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        how = RESUMING.get(args.command)
        print("glta: interrupted" + (f"; {how}" if how else ""), file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:  # the reader left (`glta compare ml-1m | head`): stop quietly, as other tools do
        try:  # and let nothing write there again, not even the interpreter's flush at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
            pass
        return BROKEN_PIPE
    return 0


if __name__ == "__main__":
    sys.exit(main())
