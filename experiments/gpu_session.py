"""What a lent GPU session does for this project: LLM-written texts, a CUDA check of GLTA, and GLTA variants, on a
machine that only 64 MiB of working tree reaches per call (README, "GPU users").

The bundled LLM's GGUF (98 MB) is larger than what one call of the team's device tool carries, so it travels in
slices over consecutive calls while the machine stays warm: call i carries the ignored folder ``.gpu/call<i>/``, the
folders of earlier calls stay there, and the staged files (the raw data sets, the ``gguf`` wheel, for GLTA each data
set's frozen LightGCN embeddings (or LightGCN+'s, where a variant reads it), or a job that trains them there first
when they are not here, and cached texts, for the text baselines and such a LightGCN+ their cached MiniLM
embeddings) are packed into the calls whole, the GGUF's slices filling the room left. The last call gathers the
files, joins the slices, checks the SHA-256, and runs the session's jobs side by side until a deadline
(``--parallel``, 6 at a time by default, the machine's cores shared among them; a 135M LLM at GLTA's batch sizes
should leave most of an H200 idle): ``glta demo`` (``--cuda-check``), each data set's texts (``glta text
generate``), each GLTA variant (``experiments/glta_variants.py``) once its data set's texts are complete (w/o
PF&PD, which reads none of them, at once), and the graph baselines' grids and seeds (``--baselines``,
``--seeds``). Variants that share an IA stage take turns on it (the first trains it, the others load it). What the
jobs wrote, and each job's log, comes back through ``$OUT``.

    # here: slice the GGUF, stage what the jobs read, print each call's carry list and command
    .venv/bin/python experiments/gpu_session.py prepare --datasets amazon-scientific goodreads-once
    .venv/bin/python experiments/gpu_session.py prepare --no-texts --glta ml-1m:no_ia,no_ua,no_pf  # GLTA only
    .venv/bin/python experiments/gpu_session.py prepare --no-texts --glta ml-1m:default@2026,glta_plus@2026  # seeds
    # there (the command prepare prints): join, check, run the jobs until the deadline, copy their output to $OUT
    python3 experiments/gpu_session.py run --datasets amazon-scientific --out "$OUT" --seconds 540 --cuda-check 120
    # here: fold the returned texts into the local cache, the results files into results/
    .venv/bin/python experiments/gpu_session.py collect FILES_AT

The texts are keyed by the LLM's identity (the GGUF's SHA-256, found through ``$GLTA_GGUF_DIR`` there), the data
set's fingerprint and the generation settings, not by the device or batch size, so the returned files are the cache
entries a CPU run here reads. GLTA's results record the commit ``prepare`` ran at (``$GLTA_GIT_COMMIT``: the copy
there may carry no ``.git``) and the GPU. A job that reaches the deadline stops; the same command again (while the
machine is warm: its caches and checkpoints stay in ``.gpu/cache`` and ``runs/``) continues where it stopped.
With ``--cuda-check SECONDS`` the last call also runs ``glta demo`` there, within that time (popularity, LightGCN,
GLTA and GLTA+ on the synthetic set); ``collect`` puts its results files under ``results/synthetic/cuda/``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # there, the package is not installed: its source travels
from glta.paths import file_sha256  # noqa: E402
from glta.results import EXTRA_SEEDS  # noqa: E402
from glta.results import git_commit  # noqa: E402
from job_runner import Job, run_jobs  # noqa: E402

STAGE = ROOT / ".gpu"  # ignored (.gitignore): travels only when a call names it in carry
LIMIT = 64 * 2**20  # the device tool's working-tree limit, carried folders included
MARGIN = 2 * 2**20  # for files that appear between prepare and the call (results of running jobs, logs)
KINDS = "profile,prediction,item_profile"


def travelling_bytes(root: Path = ROOT) -> int:
    """Bytes of the tree that travel on every call: tracked files and untracked ones git does not ignore."""
    names = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                           capture_output=True, check=True).stdout.split(b"\0")
    return sum((root / n.decode()).stat().st_size for n in names if n and (root / n.decode()).is_file())


def plan_calls(gguf_bytes: int, files: dict[str, int], budget: int) -> list[dict]:
    """What each call carries within ``budget`` bytes: ``files`` (the staged data sets, runs, texts, embeddings and
    wheel, by path; each whole, largest first into the first call with room) and a contiguous ``slice`` (start, end)
    of the GGUF filling what room is left, in order, with more calls while GGUF bytes remain."""
    too_big = [name for name, size in files.items() if size > budget]
    if too_big:
        raise SystemExit(f"{too_big[0]} ({files[too_big[0]] / 2**20:.1f} MiB) exceeds what one call can carry beside "
                         f"the tree ({budget / 2**20:.1f} MiB): stage fewer data sets per run")
    calls: list[dict] = []
    for name in sorted(files, key=lambda n: (-files[n], n)):
        room = next((c for c in calls if c["free"] >= files[name]), None)
        if room is None:
            room = {"files": [], "free": budget}
            calls.append(room)
        room["files"].append(name)
        room["free"] -= files[name]
    start, index = 0, 0
    while start < gguf_bytes or not calls:
        if index == len(calls):
            calls.append({"files": [], "free": budget})
        end = min(gguf_bytes, start + calls[index]["free"])
        if end > start:
            calls[index]["slice"] = (start, end)
            calls[index]["free"] -= end - start
        start, index = end, index + 1
    return [{"files": sorted(c["files"]), "slice": c.get("slice")} for c in calls]


def parse_specs(specs: list[str], default: str | None = "default", option: str = "--glta") -> dict[str, list[str]]:
    """``["ml-1m:no_ia,no_ua", "amazon-scientific"]`` -> data set -> names (GLTA variants, ``default`` when none are
    given: the data set's GLTA; methods for ``--seeds`` and ``--baselines``, which must name them)."""
    jobs: dict[str, list[str]] = {}
    for spec in specs:
        name, _, names = spec.partition(":")
        if not names and default is None:
            raise SystemExit(f"{option} {spec}: name the methods, e.g. {option} {name}:hccf,lightgcn_plus")
        jobs.setdefault(name, []).extend(v for v in (names or default).split(",") if v)
    return jobs


def stage_text_embeddings(methods: dict[str, list[str]], extra: Path, results: Path = ROOT / "results") -> None:
    """What the graph baselines of ``--seeds``/``--baselines`` read besides the raw data: the text embeddings of the
    text variants (LightGCN+, HCCF+, RLMRec), found by building each model here the way its results file records
    (computed here on a cache miss), and the encoder's config files, with which cached embeddings are read without
    its weights (README, "GPU users")."""
    from glta.config import config_from_dict
    from glta.data import load_dataset
    from glta.methods import method_class
    from glta.report import result_path
    from glta.results import read_results
    from glta.text.encoder import minilm_folder, recording_cache_files

    files: list[Path] = []
    for name, names in methods.items():
        dataset = None
        for method in names:
            main = result_path(results, name, method)
            if not main.is_file():
                raise SystemExit(f"{main} does not exist: train the cell here once first (its config is what the "
                                 "seeds and the grid repeat)")
            config = config_from_dict(read_results(main)["provenance"]["config"])
            dataset = dataset or load_dataset(config.data)
            with recording_cache_files() as used:
                method_class(method)(dataset, config.model)
            files += used
    for path in dict.fromkeys(files):
        target = extra / "cache" / "text-embeddings" / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    if files:
        folder = minilm_folder()  # its name is part of the cache key: keep it
        for config in ("config.json", "1_Pooling/config.json"):
            if (folder / config).is_file():
                (extra / "encoder" / folder.name / config).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(folder / config, extra / "encoder" / folder.name / config)


def variant_model(dataset: str, variant: str):
    """The model config a GLTA job trains or reads: a decoding mode reads the default's model, a
    ``<variant>@<seed>`` its variant's."""
    import glta_variants

    base = variant.partition("@")[0]
    known = base in glta_variants.VARIANTS or base in glta_variants.PLUS_VARIANTS
    return glta_variants.variant_config(dataset, base if known else "default").model


def graphs_read(dataset: str, variants: list[str]) -> list[str]:
    """The frozen graph models (``model.graph``) the GLTA variants read."""
    return list(dict.fromkeys(variant_model(dataset, variant).graph for variant in variants))


def texts_read(dataset: str, variant: str) -> tuple[str, ...]:
    """The kinds of LLM-written user text (``profile``, ``prediction``) the GLTA variant's prompts hold: both for the
    full GLTA, one for w/o PF or w/o PD, none for w/o PF&PD."""
    model = variant_model(dataset, variant)
    return tuple(kind for kind, used in (("profile", model.use_profile), ("prediction", model.use_prediction))
                 if used)


def reads_texts(dataset: str, variant: str) -> bool:
    """Whether the GLTA variant's prompts hold LLM-written text, so that it waits for its data set's texts."""
    return bool(texts_read(dataset, variant))


def graph_spec(spec: str) -> tuple[str, str]:
    """A ``--pretrain`` entry: ``DATA`` (its LightGCN) or ``DATA:GRAPH`` (another graph of the family, e.g.
    ``amazon-scientific:lightgcn_plus``) -> (data set, graph method)."""
    name, _, graph = spec.partition(":")
    return name, graph or "lightgcn"


def stage_glta(jobs: dict[str, list[str]], extra: Path, cache: Path) -> list[str]:
    """What GLTA reads besides the raw data: the frozen graph runs its variants read (LightGCN, or another of its
    family where a variant sets ``model.graph``) and the cached texts of each data set. Returns the graphs that are
    not here, as ``--pretrain`` entries (``graph_spec``): the device trains each first (``session_jobs``; a minute
    or two on a GPU against 15-50 on a core here) and it comes back. A text-aligned graph (LightGCN+) trains there
    on the MiniLM embeddings its results file's config reads here, which travel with the session."""
    missing = []
    for name, variants in jobs.items():
        for graph in graphs_read(name, variants):
            run = ROOT / "runs" / name / graph
            if not (run / "embeddings.safetensors").is_file():
                if graph != "lightgcn":
                    stage_text_embeddings({name: [graph]}, extra, ROOT / "results")  # as its results file says
                missing.append(name if graph == "lightgcn" else f"{name}:{graph}")
                continue
            (extra / "runs" / name / graph).mkdir(parents=True)
            for file in ("embeddings.safetensors", "run.json"):  # what GLTA reads (the model serves cold start only)
                if (run / file).is_file():
                    shutil.copy2(run / file, extra / "runs" / name / graph / file)
        for texts in sorted((cache / "texts").glob(f"{name}-*")):
            if texts.name[len(name) + 1:].isalnum():  # <name>-<fingerprint>, not another data set's prefix
                shutil.copytree(texts, extra / "cache" / "texts" / texts.name)
    return missing


def prepare(datasets: list[str], data_root: Path, wheels: Path | None, glta: list[str] | None = None,
            seeds: list[str] | None = None, baselines: list[str] | None = None) -> dict:
    from glta.data import BUILTINS
    from glta.paths import cache_dir
    from glta.text.llm import bundled_gguf

    jobs = parse_specs(glta or [])
    graph_seeds, graph_grids = parse_specs(seeds or [], None, "--seeds"), parse_specs(baselines or [], None,
                                                                                      "--baselines")
    graph: dict[str, list[str]] = {}
    for name, names in [*graph_grids.items(), *graph_seeds.items()]:
        graph[name] = list(dict.fromkeys(graph.get(name, []) + names))
    gguf = bundled_gguf() if datasets or jobs else None  # the graph baselines need no LLM: one call, no slices
    if STAGE.exists():
        shutil.rmtree(STAGE)
    extra = STAGE / "extra"  # its files are spread over the calls once the calls are planned
    pretrain = stage_glta(jobs, extra, cache_dir())
    stage_text_embeddings(graph, extra)
    for name in dict.fromkeys([*datasets, *(n for n in jobs if n != "synthetic"), *graph]):
        if name not in BUILTINS or not BUILTINS[name].folder:
            raise SystemExit(f"--datasets {name}: not a built-in data set with files (`glta data list` names them)")
        source = data_root / BUILTINS[name].folder
        if not source.is_dir():
            raise SystemExit(f"{source} is missing: set --data-root (or $GLTA_DATA_ROOT) to the data sets' folder")
        shutil.copytree(source, extra / "data" / BUILTINS[name].folder)
    (extra / "whl").mkdir(parents=True)
    if gguf is not None:
        if wheels is None:
            wheels = STAGE / "downloads"
            subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "gguf==0.19.0",
                            "-d", str(wheels)], check=True)
        for wheel in Path(wheels).glob("*.whl"):
            shutil.copy2(wheel, extra / "whl")
        shutil.rmtree(STAGE / "downloads", ignore_errors=True)

    budget = LIMIT - travelling_bytes() - MARGIN
    size = gguf.stat().st_size if gguf is not None else 0
    files = {p.relative_to(extra).as_posix(): p.stat().st_size for p in sorted(extra.rglob("*")) if p.is_file()}
    calls = plan_calls(size, files, budget)
    manifest = {"gguf": gguf.name if gguf is not None else None, "bytes": size,
                "sha256": file_sha256(gguf) if gguf is not None else None, "calls": len(calls),
                "slices": [{"call": i + 1, "start": c["slice"][0], "end": c["slice"][1]}
                           for i, c in enumerate(calls) if c["slice"]],
                "files": {name: i + 1 for i, c in enumerate(calls) for name in c["files"]},
                "datasets": datasets, "glta": [f"{n}:{','.join(v)}" for n, v in jobs.items()],
                "seeds": [f"{n}:{','.join(v)}" for n, v in graph_seeds.items()],
                "baselines": [f"{n}:{','.join(v)}" for n, v in graph_grids.items()], "pretrain": pretrain,
                "commit": git_commit()}
    for i, call in enumerate(calls):
        folder = STAGE / f"call{i + 1}"
        folder.mkdir(parents=True)
        if call["slice"]:
            with open(gguf, "rb") as handle:
                handle.seek(call["slice"][0])
                (folder / f"slice{i + 1}.bin").write_bytes(handle.read(call["slice"][1] - call["slice"][0]))
        for name in call["files"]:
            (folder / "extra" / name).parent.mkdir(parents=True, exist_ok=True)
            (extra / name).rename(folder / "extra" / name)
        (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
    shutil.rmtree(extra)
    return manifest


def merge_extras(manifest: dict, stage: Path) -> Path:
    """There: the staged files, spread over the calls' ``extra`` folders, gathered in ``<stage>/extra`` (moved, so
    a repeated command finds them there); a file whose call's folder is gone is named."""
    merged = stage / "extra"
    for folder in sorted(stage.glob("call*/extra")):
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                target = merged / path.relative_to(folder)
                target.parent.mkdir(parents=True, exist_ok=True)
                path.replace(target)
    missing = sorted({call for name, call in manifest.get("files", {}).items() if not (merged / name).is_file()})
    if missing:
        raise SystemExit(f"the files of call(s) {missing} are not on this machine: it was given back between calls, "
                         "so make the calls again from call 1, one right after the other")
    return merged


def device_command(manifest: dict, call: int, seconds: int) -> str:
    if call < manifest["calls"]:
        return f"ls -la .gpu/call{call} && nvidia-smi -L"
    options = "".join(f" --{key} {' '.join(manifest[key])}" for key in ("glta", "seeds", "baselines", "pretrain")
                      if manifest.get(key))
    return (f"PYTHONUNBUFFERED=1 python3 experiments/gpu_session.py run --datasets {' '.join(manifest['datasets'])}"
            f"{options} --out \"$OUT\" --seconds {seconds} --cuda-check 120")


def join_slices(manifest: dict, stage: Path, target: Path) -> Path:
    """The GGUF rebuilt from every call's slice, checked against the manifest's SHA-256."""
    missing = [s["call"] for s in manifest["slices"]
               if not (stage / f"call{s['call']}" / f"slice{s['call']}.bin").is_file()]
    if missing:
        raise SystemExit(f"slices of call(s) {missing} are not on this machine: it was given back between calls, so "
                         "make the calls again from call 1, one right after the other")
    path = target / manifest["gguf"]
    if not (path.is_file() and path.stat().st_size == manifest["bytes"] and file_sha256(path) == manifest["sha256"]):
        target.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as out:
            for s in manifest["slices"]:
                out.write((stage / f"call{s['call']}" / f"slice{s['call']}.bin").read_bytes())
        if file_sha256(path) != manifest["sha256"]:
            path.unlink()
            raise SystemExit("the joined GGUF's SHA-256 differs from the manifest's: a slice was damaged; "
                             "prepare again")
    return path


def ensure_gguf_package(wheels: Path) -> dict:
    """``gguf`` (transformers' GGUF reader) from the carried wheel when the machine lacks it; returns env changes."""
    try:
        import gguf  # noqa: F401
        return {}
    except ImportError:
        site = STAGE / "site"
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
                        "--target", str(site), *map(str, wheels.glob("*.whl"))], check=True)
        return {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}


def place_inputs(extra: Path, cache: Path, root: Path = ROOT) -> None:
    """The carried LightGCN runs into ``runs/``, texts and text embeddings into the cache, where the jobs look;
    nothing there is replaced."""
    for source, target in ((extra / "runs", root / "runs"), (extra / "cache", cache)):
        for path in sorted(source.rglob("*")) if source.is_dir() else []:
            destination = target / path.relative_to(source)
            if path.is_file() and not destination.exists():
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, destination)


def run(datasets: list[str], out: Path, seconds: float, batch_size: int, limit: int = 0, stage: Path = STAGE,
        check_seconds: float = 0, glta: list[str] | None = None, parallel: int = 6, seeds: list[str] | None = None,
        baselines: list[str] | None = None, pretrain: list[str] | None = None) -> dict:
    """Join and check the GGUF, then run the session's jobs side by side (``parallel`` at a time, the machine's
    cores shared among them): ``glta demo`` (``check_seconds`` at most), each data set's texts, the frozen
    graph of each entry of ``pretrain`` (not staged: not on the machine that prepared the session), each GLTA
    variant once its data set's texts and frozen graph are there, the graph baselines' grids and seeds; then copy
    the texts, results files, the LightGCN runs trained here and the logs to ``out``."""
    started = time.time()
    manifests = sorted(stage.glob("call*/manifest.json"))
    if not manifests:
        raise SystemExit(f"no {stage}/call*/manifest.json: run `experiments/gpu_session.py prepare` here first and "
                         "carry its folders")
    manifest = json.loads(manifests[0].read_text())
    last = merge_extras(manifest, stage)
    threads = max(1, (os.cpu_count() or 1) // parallel)
    env = dict(os.environ, GLTA_DATA_ROOT=str(last / "data"), GLTA_CACHE_DIR=str(stage / "cache"),
               OMP_NUM_THREADS=str(threads))
    if manifest.get("gguf"):
        env.update(GLTA_GGUF_DIR=str(join_slices(manifest, stage, stage / "gguf").parent),
                   **ensure_gguf_package(last / "whl"))
    else:
        check_seconds = 0  # the demo trains GLTA: it needs the LLM, which a baselines-only session does not carry
    encoder = next((last / "encoder").glob("*/config.json"), None)
    if encoder is not None:
        env["GLTA_TEXT_ENCODER"] = str(encoder.parent)  # cached embeddings are read without the weights
    env["PYTHONPATH"] = os.pathsep.join(p for p in [str(ROOT / "src"), env.get("PYTHONPATH", "")] if p)
    if manifest.get("commit"):
        env["GLTA_GIT_COMMIT"] = manifest["commit"]  # the copy there may carry no .git
    jobs = session_jobs(datasets, parse_specs(glta or []), batch_size, limit, check_seconds and
                        min(check_seconds, seconds / 3), out, threads,
                        seeds=parse_specs(seeds or [], None, "--seeds"),
                        baselines=parse_specs(baselines or [], None, "--baselines"), pretrain=pretrain)
    place_inputs(last, stage / "cache")
    report = {"device": device_name(), "batch_size": batch_size, "parallel": parallel, "threads_per_job": threads,
              "jobs": run_jobs(jobs, env, started + seconds, parallel, out / "logs")}
    report["results"] = copy_results(started, out)
    report["graph_runs"] = copy_graph_runs(pretrain or [], out)
    report["files"] = copy_texts(stage / "cache" / "texts", out)
    report["wall_seconds"] = round(time.time() - started, 1)
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_session.json").write_text(json.dumps(report, indent=1))
    brief = {k: v for k, v in report.items() if k != "files"}  # the logs came back: the statuses are enough here
    brief["jobs"] = {name: f"{job['status']} ({job['seconds']:.0f}s)" for name, job in report["jobs"].items()}
    print(json.dumps(brief, indent=1))
    return report


def session_jobs(datasets: list[str], glta: dict[str, list[str]], batch_size: int, limit: int, check_seconds: float,
                 out: Path, threads: int, root: Path = ROOT, seeds: dict[str, list[str]] | None = None,
                 baselines: dict[str, list[str]] | None = None, pretrain: list[str] | None = None,
                 kinds: dict[str, str] | None = None) -> list[Job]:
    """The session's jobs in the order they start: the CUDA check, the texts (of each data set the ``kinds`` it
    names, every kind where it names none), the frozen graph of each entry of
    ``pretrain`` (``graph_spec``: not on the machine that prepared the session), the GLTA variants (each after its
    data set's texts when they are written in the same session and its prompts read them, and after the graphs it
    reads that are trained here; a decoding mode after the data set's GLTA), then the graph baselines: each grid of
    ``baselines`` trained again (``--retrain``), and each seed of ``seeds`` (after its method's grid when that is
    retrained too)."""
    jobs = []
    if check_seconds:  # first and short: GLTA has a CUDA path that no CPU run exercises
        jobs.append(Job("cuda-demo", [sys.executable, "-m", "glta", "demo", "--no-progress", "--results-dir",
                                      str(out / "cuda_demo")], limit=check_seconds))
    for name in datasets:
        jobs.append(Job(f"texts-{name}", [sys.executable, "-m", "glta", "text", "generate", name, "--kinds",
                                          (kinds or {}).get(name, KINDS),
                                          "--no-progress", f"generation.batch_size={batch_size}"]
                        + (["--limit", str(limit)] if limit else [])))
    trained = {}  # (data set, graph) -> the job that trains it
    for name, graph in map(graph_spec, pretrain or []):  # its results file beside the logs: results/<data>/ keeps
        if graph == "lightgcn":                          # the run this machine's tables report
            trained[name, graph] = f"pretrain-{name}"
            command = ["pretrain", "--dataset", name, "--out", str(out / "pretrain" / f"{name}.json")]
        else:
            trained[name, graph] = f"graph-{name}-{graph}"
            command = ["train", graph, "--dataset", name, "--out", str(out / "pretrain" / f"{name}-{graph}.json")]
        # --resume: stopped at a deadline, the same command continues from the run's checkpoint (none: from the start)
        jobs.append(Job(trained[name, graph], [sys.executable, "-m", "glta", *command, "--no-progress", "--resume"]))
    for name, variants in glta.items():
        for variant in variants:
            after = (f"texts-{name}",) if name in datasets and reads_texts(name, variant) else ()
            after += tuple(trained[name, graph] for graph in graphs_read(name, [variant]) if (name, graph) in trained)
            if variant in ("first_logit", "autoregressive") and "default" in variants:
                after += (f"glta-{name}-default",)
            base, _, seed = variant.partition("@")  # "<variant>@<seed>": another training seed of a trained cell
            command = ([str(root / "experiments" / "seeds.py"), "--dataset", name, "--names", base, "--seeds", seed]
                       + (["--retrain-lost"] if base == "default" else [])  # a seed whose model is elsewhere: again
                       if seed else [str(root / "experiments" / "glta_variants.py"), "--dataset", name,
                                     "--variants", variant])
            jobs.append(Job(f"glta-{name}-{variant}", [sys.executable, *command, "--threads", str(threads),
                                                       "--no-progress"], after=after, cell=(name, base),
                            seed=int(seed) if seed else None))
    for name, methods in (baselines or {}).items():
        for method in methods:
            jobs.append(Job(f"grid-{name}-{method}", [sys.executable, str(root / "experiments" / "baselines.py"),
                                                      "--dataset", name, "--methods", method, "--retrain", "--threads",
                                                      str(threads), "--no-progress"], cell=(name, method)))
    for name, methods in (seeds or {}).items():
        for method in methods:
            after = (f"grid-{name}-{method}",) if method in (baselines or {}).get(name, []) else ()
            for seed in EXTRA_SEEDS:
                lost = ["--retrain-lost"] if method == "default" else []  # acts on a seed whose model is elsewhere
                jobs.append(Job(f"seed-{name}-{method}-{seed}", [sys.executable, str(root / "experiments" / "seeds.py"),
                                                                 "--dataset", name, *lost, "--names", method, "--seeds",
                                                                 str(seed), "--threads", str(threads), "--no-progress"],
                                after=after, cell=(name, method), seed=seed))
    return jobs


def copy_results(began: float, out: Path, root: Path = ROOT) -> list[str]:
    """The results files the session's jobs wrote (not those carried with the tree) to ``out/results/``."""
    copied = []
    for path in sorted((root / "results").rglob("*")):
        if path.is_file() and path.stat().st_mtime >= began:
            target = out / path.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
            copied.append(path.relative_to(root / "results").as_posix())
    return copied


def device_name() -> str:
    try:
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "unknown"


def copy_texts(texts: Path, out: Path) -> list[str]:
    """Every cached text file to ``out/<data set folder>/<file>`` (the device tool returns two folders down)."""
    copied = []
    for path in sorted(texts.glob("*/*.jsonl")):
        target = out / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
        copied.append(f"{path.parent.name}/{path.name}")
    return copied


GRAPH_RUN_FILES = ("embeddings.safetensors", "run.json", "model.safetensors")  # what GLTA and its cold start read


def copy_graph_runs(pretrain: list[str], out: Path, root: Path = ROOT) -> list[str]:
    """The frozen graph runs trained in this session (``--pretrain`` entries, ``graph_spec``) to ``out/runs/``, so
    the machine that prepared it trains GLTA on the same embeddings later; returns the run folders copied."""
    copied = []
    for name, graph in map(graph_spec, pretrain):
        run = root / "runs" / name / graph
        if (run / "embeddings.safetensors").is_file():
            (out / "runs" / name / graph).mkdir(parents=True, exist_ok=True)
            for file in GRAPH_RUN_FILES:
                if (run / file).is_file():
                    shutil.copy2(run / file, out / "runs" / name / graph / file)
            copied.append(f"{name}/{graph}")
    return copied


def collect_graph_runs(returned: Path, root: Path = ROOT) -> list[str]:
    """The frozen graph runs a session trained into ``runs/`` here, where none is (a local run is never replaced:
    GLTA runs already made on it would no longer match); returns those placed."""
    placed = []
    for run in sorted(Path(returned).glob("runs/*/*")):
        target = root / "runs" / run.parent.name / run.name
        if run.is_dir() and not (target / "embeddings.safetensors").exists():
            target.mkdir(parents=True, exist_ok=True)
            for path in run.iterdir():
                shutil.copy2(path, target / path.name)
            placed.append(f"runs/{run.parent.name}/{run.name}")
    return placed


def collect(returned: Path, cache: Path | None = None) -> dict[str, int]:
    """Append the returned records missing from the local text cache; returns new records per file."""
    from glta.paths import cache_dir
    from glta.text.text_cache import TextCache

    texts = (cache or cache_dir()) / "texts"
    added = {}
    for path in sorted(Path(returned).glob("*/*.jsonl")):
        local = TextCache(texts / path.parent.name / path.name)
        have = local.load()
        new = [{"key": k, "history": h, "text": t} for (k, h), t in TextCache(path).load().items()
               if (k, h) not in have]
        local.append(new)
        added[f"{path.parent.name}/{path.name}"] = len(new)
    return added


def collect_demo(returned: Path, results: Path = ROOT / "results") -> list[str]:
    """The CUDA check's results files (and the call's report) to ``results/synthetic/cuda/``; returns their names."""
    files = sorted((Path(returned) / "cuda_demo" / "synthetic").glob("*.json"))
    report = Path(returned) / "gpu_session.json"
    if not files:
        return []
    target = results / "synthetic" / "cuda"
    target.mkdir(parents=True, exist_ok=True)
    for path in files + ([report] if report.is_file() else []):
        shutil.copyfile(path, target / path.name)
    return [path.name for path in files]


def collect_results(returned: Path, results: Path = ROOT / "results") -> list[str]:
    """The returned GLTA results files into ``results/`` (they replace local files of the same name: the GPU run is
    the newer one, made with the current config); returns their paths below ``results/``."""
    source = Path(returned) / "results"
    names = []
    for path in sorted(source.rglob("*")) if source.is_dir() else []:
        if path.is_file():
            target = results / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            names.append(str(path.relative_to(source)))
    return names


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare", help="here: slice the GGUF, stage data sets and wheel, print the calls")
    texts = p.add_mutually_exclusive_group()
    texts.add_argument("--datasets", nargs="*", default=["amazon-scientific", "goodreads-once"],
                       help="data sets whose LLM texts to write")
    texts.add_argument("--no-texts", action="store_const", const=[], dest="datasets",
                       help="write no LLM texts (GLTA variants or graph baselines only)")
    p.add_argument("--glta", nargs="*", default=[], metavar="DATA[:VARIANT[@SEED],...]",
                   help="GLTA variants to train there (experiments/glta_variants.py; no variants: the data set's "
                        "GLTA); VARIANT@SEED trains a trained cell again with another seed (experiments/seeds.py)")
    p.add_argument("--seeds", nargs="*", default=[], metavar="DATA:METHOD,...",
                   help="graph baselines whose seeds 2026 and 2027 to train there (experiments/seeds.py)")
    p.add_argument("--baselines", nargs="*", default=[], metavar="DATA:METHOD,...",
                   help="graph baselines whose grid to train again there (experiments/baselines.py --retrain): "
                        "cells made from code no commit records, or whose chosen point keeps no per-user values")
    p.add_argument("--data-root", default=os.environ.get("GLTA_DATA_ROOT", str(ROOT.parent / "shared" / "datasets")),
                   help="where the data sets are (default: $GLTA_DATA_ROOT)")
    p.add_argument("--wheels", default=None, help="a folder holding gguf's wheel (default: pip download it)")
    p.add_argument("--seconds", type=int, default=540, help="the last call's generation deadline")
    r = sub.add_parser("run", help="there: join, check, generate, copy the texts to --out")
    r.add_argument("--datasets", nargs="*", default=[], help="data sets whose LLM texts to write")
    r.add_argument("--glta", nargs="*", default=[], metavar="DATA[:VARIANT[@SEED],...]", help="as for prepare")
    r.add_argument("--out", required=True, help="where what comes back is written ($OUT)")
    r.add_argument("--seconds", type=float, default=540, help="the jobs' deadline")
    r.add_argument("--batch-size", type=int, default=384, help="generation.batch_size for the texts")
    r.add_argument("--limit", type=int, default=0, help="only the first N users and items (a trial run)")
    r.add_argument("--seeds", nargs="*", default=[], metavar="DATA:METHOD,...", help="as for prepare")
    r.add_argument("--baselines", nargs="*", default=[], metavar="DATA:METHOD,...", help="as for prepare")
    r.add_argument("--pretrain", nargs="*", default=[], metavar="DATA[:GRAPH]",
                   help="frozen graphs to train before the GLTA variants that read them: a data set's LightGCN, or "
                        "DATA:GRAPH for another (prepare names them)")
    r.add_argument("--parallel", type=int, default=6, help="jobs side by side (the cores are shared among them)")
    r.add_argument("--cuda-check", type=float, default=0, metavar="SECONDS",
                   help="first run `glta demo` (GLTA on CUDA, synthetic set) for at most this long (0: skip)")
    c = sub.add_parser("collect", help="here: fold returned texts into the local cache")
    c.add_argument("returned", help="the folder the device tool put the returned files in (files_at)")
    args = parser.parse_args(argv)
    if args.command == "prepare":
        manifest = prepare(args.datasets, Path(args.data_root), Path(args.wheels) if args.wheels else None,
                           args.glta, args.seeds, args.baselines)
        if manifest["gguf"]:
            print(f"{manifest['gguf']} ({manifest['bytes'] / 2**20:.1f} MiB) in {manifest['calls']} calls; make them "
                  "one right after the other (the machine is given back after a short idle time, and the slices with "
                  "it):")
        else:
            print("no LLM needed (graph baselines only): one call")
        for name, graph in map(graph_spec, manifest.get("pretrain", [])):
            print(f"runs/{name}/{graph} is not here: the device trains it first (~minutes) and `collect` puts it here")
        for i in range(1, manifest["calls"] + 1):
            print(f"  call {i}: carry [\".gpu/call{i}\"]  command: {device_command(manifest, i, args.seconds)}")
        print("then: .venv/bin/python experiments/gpu_session.py collect FILES_AT")
    elif args.command == "run":
        run(args.datasets, Path(args.out), args.seconds, args.batch_size, args.limit, check_seconds=args.cuda_check,
            glta=args.glta, parallel=args.parallel, seeds=args.seeds, baselines=args.baselines,
            pretrain=args.pretrain)
    else:
        for name, count in collect(Path(args.returned)).items():
            print(f"{name}: {count} new records")
        for name in collect_results(Path(args.returned)):
            print(f"results/{name}")
        for name in collect_graph_runs(Path(args.returned)):
            print(f"{name} (the frozen graph run the GLTA variants there read)")
        demo = collect_demo(Path(args.returned))
        if demo:
            print(f"CUDA check: {', '.join(demo)} -> results/synthetic/cuda/ (commit them with the device's name)")


if __name__ == "__main__":
    main()
