"""What the reproduction's work costs on this machine, as measured: ``experiments/reproduction_plan.py`` estimates
what is left from it.

A cell's time comes from a like run (``like_run``: one timed on a machine like this one where there is one); a time
from a CPU unlike this one in hardware bf16 or AMX counts at the ratio runs trained on both kinds measured
(``cpu_ratio``). The LLM-written texts cost this machine's own measured rate, else a benchmark's (``text_rate``). A
GLTA run's memory is its resident peak less the prefix store it wrote through a memory map (``own_peak``).
"""

import functools
import json
import statistics
from pathlib import Path
from typing import NamedTuple

from glta.config import DataConfig
from glta.errors import GLTAError
from glta.report import DATASETS, GLTA_VARIANTS, gpu_name, load, peak_bytes, records, train_seconds
from glta.text.generate import USER_KINDS

# every GLTA cell that trains (the paper's GLTA and its ablations, then GLTA+): the runs whose times ``cpu_ratio``
# compares across kinds of CPU
GLTA_RUNS = (*GLTA_VARIANTS, "glta_plus")


def fit_seconds(record: dict) -> float:
    """The fit loop's part (UA epochs with their validation) of a run's time (``glta.results.train_seconds``): the
    rest is IA, the prefix store and the other stages before it."""
    return float((record.get("training") or {}).get("train_seconds") or 0.0)


def cost(record: dict) -> str:
    """A finished run's measured training time and where it ran."""
    return f"{train_seconds(record):,.0f} s on {gpu_name(record) or cpu_named(record)}"


def cpu_named(record: dict) -> str:
    """"the CPU", or which other CPU a run's time was measured on when it differs from this one in hardware bf16: the
    LLM runs in bf16 there and in fp32 here (or the reverse); ``cpu_ratio`` says how far apart where measured."""
    machine = record.get("provenance", {}).get("machine") or {}
    if bf16_differs(record):
        return (f"another CPU ({machine.get('cpu') or 'unnamed'}, {'with' if machine['bf16'] else 'without'} "
                "hardware bf16)")
    if amx_differs(record):  # counted as this CPU's time, at ``Left.amx_ratio`` where that is measured
        return f"a CPU {'with' if machine['amx'] else 'without'} AMX ({machine.get('cpu') or 'unnamed'})"
    return "the CPU"


def bf16_differs(record: dict) -> bool:
    """Whether a run was timed on a CPU that differs from this one in hardware bf16 (unrecorded: taken as alike)."""
    from glta.device import cpu_has_bf16

    bf16 = (record.get("provenance", {}).get("machine") or {}).get("bf16")
    return bf16 is not None and bf16 != cpu_has_bf16()


def amx_differs(record: dict) -> bool:
    """Whether a run was timed on a CPU that differs from this one in AMX (its bf16 matmuls ~4x faster a core:
    docs/measurements.md); unrecorded: taken as alike."""
    from glta.device import cpu_flags

    amx = (record.get("provenance", {}).get("machine") or {}).get("amx")
    return amx is not None and bool(cpu_flags()) and amx != ("amx_bf16" in cpu_flags())


def timed_alike(first: dict, second: dict) -> bool:
    """Whether two runs were timed on the same kind of machine: the same GPU, or CPUs alike in hardware bf16 (where
    either did not record it, taken as alike)."""
    one, two = ((record.get("provenance") or {}).get("machine") or {} for record in (first, second))
    if one.get("gpu") or two.get("gpu"):
        return one.get("gpu") == two.get("gpu")
    return one.get("bf16") is None or two.get("bf16") is None or one["bf16"] == two["bf16"]


def timed_here(record: dict) -> bool:
    """Whether a run was timed on a machine like this one: a CPU alike in hardware bf16 and AMX (where recorded)."""
    return not gpu_name(record) and not bf16_differs(record) and not amx_differs(record)


def like_run(runs: list[dict]) -> dict:
    """Of a cell's runs (the main run first, then its seeds), the one whose time says most of a seed here: the first
    timed on a machine like this one (ML-1M's GLTA: seed 2026 on the AMX Xeon, not the main run on the EPYC), else
    the first timed on a CPU (goodreads-once's HCCF: seed 2026 on a CPU, not the grid on an H200), else the main
    run."""
    return next((run for run in runs if timed_here(run)), next((run for run in runs if not gpu_name(run)), runs[0]))


def cpu_ratio(results: Path = Path("results"), feature: str = "bf16", stage: str = "ia") \
        -> tuple[float, list[str]] | None:
    """How long GLTA takes on this CPU against a CPU that differs from it in hardware bf16 (the LLM in fp32 on one,
    in bf16 on the other), measured where one IA stage, with the same settings, data and LLM (``ia_settings``),
    trained on both kinds: its seconds here over its seconds there (the median over such stages where there are
    several), and the data sets that measured it; None where no stage trained on both. With ``feature="amx"``: the
    same against a CPU alike in hardware bf16 that differs from this one in AMX (bf16 matmuls ~4x faster a core
    with it; December 5, ML-1M's IA epochs took ~4 min on a Xeon with AMX against ~7 on an EPYC without).
    With ``stage="ua"``: the same for an epoch of the fit loop (UA, with its validation), measured where runs of one
    config but for the seed trained on both kinds; UA gains less from AMX than IA (December 6, amazon-scientific's
    GLTA+: 852 s an epoch on the Xeon against 1,973 s on the EPYC, 0.43, where its IA took 0.39 of the EPYC's)."""
    from glta.config import config_from_dict
    from glta.device import cpu_flags, cpu_has_bf16
    from glta.models.glta import ia_settings

    here = cpu_has_bf16() if feature == "bf16" else "amx_bf16" in cpu_flags()
    stages: dict[str, dict[bool, list[float]]] = {}  # stage settings -> this kind of CPU or not -> its seconds
    names: dict[str, str] = {}
    for dataset in DATASETS:
        for name in GLTA_RUNS:
            for record in records(results, dataset, name):
                provenance, training = record.get("provenance") or {}, record.get("training") or {}
                machine = provenance.get("machine") or {}
                if machine.get("gpu") or machine.get(feature) is None or not provenance.get("config") \
                        or (feature == "amx" and bf16_differs(record)):
                    continue
                if stage == "ia" and not training.get("ia_seconds"):
                    continue
                if stage == "ua" and not (training.get("train_seconds") and training.get("epochs_run")):
                    continue
                try:
                    run = config_from_dict(provenance["config"])
                except GLTAError:  # a config this code no longer reads: it times nothing here
                    continue
                if stage == "ia":
                    identity = {"data": dataset, "llm": run.model.llm.name, "graph": run.model.graph}
                    key = json.dumps(ia_settings(run.model, identity, run.train.seed), sort_keys=True, default=str)
                    seconds = training["ia_seconds"]
                else:  # every setting but the seed (threads included: they set the pace)
                    settings = run.to_dict()
                    settings["train"].pop("seed", None)
                    key = json.dumps({"data": dataset, **settings}, sort_keys=True, default=str)
                    seconds = training["train_seconds"] / training["epochs_run"]
                stages.setdefault(key, {}).setdefault(machine[feature] == here, []).append(seconds)
                names[key] = dataset
    ratios = {key: statistics.mean(kinds[True]) / statistics.mean(kinds[False])
              for key, kinds in stages.items() if kinds.get(True) and kinds.get(False)}
    if not ratios:
        return None
    return statistics.median(ratios.values()), sorted({names[key] for key in ratios})


def ratio_words(ratio: tuple[float, list[str]], ua_ratio: tuple[float, list[str]] | None) -> str:
    """The measured ratios a time from another CPU counts at: one, or the IA stages' and the UA epochs'."""
    return f"{ratio[0]:.2f}" + (f" (IA and other LLM stages), {ua_ratio[0]:.2f} (UA epochs)" if ua_ratio else "")


def measured_by(ratio: tuple[float, list[str]], ua_ratio: tuple[float, list[str]] | None) -> str:
    """Which runs measured ``ratio_words``'s ratios, and on which data sets."""
    return (f"for an IA stage trained on both ({', '.join(ratio[1])})"
            + (f", and for UA epochs of one config trained on both ({', '.join(ua_ratio[1])})" if ua_ratio else ""))


def mode_seconds(dataset: str, mode: str) -> float | None:
    """The wall time of a decoding mode's evaluation of the default model on ``dataset`` (its results file's
    ``provenance.wall_seconds``), None where it was not read there."""
    record = load(Path("results"), dataset, f"mode_{mode}")
    return ((record or {}).get("provenance") or {}).get("wall_seconds")


def mode_seconds_here(dataset: str, mode: str) -> float | None:
    """A decoding mode's evaluation time on ``dataset`` as this machine would take it: from one of its runs (the main
    run's or a seed's) timed on a CPU like this one (hardware bf16 and AMX alike, no GPU), else the main run's
    (``mode_seconds``). ML-1M's FL: 1,219 s on the AVX-512 EPYC, 239 s on the AMX Xeon."""
    for record in records(Path("results"), dataset, f"mode_{mode}"):
        if timed_here(record) and (seconds := (record.get("provenance") or {}).get("wall_seconds")):
            return seconds
    return mode_seconds(dataset, mode)


def cpu_dtype() -> str:
    """The precision the LLM loader chooses on this CPU ("bfloat16" with hardware bf16, else "float32")."""
    import torch

    from glta.text.llm import LLMConfig, resolve_dtype

    return str(resolve_dtype(LLMConfig(), torch.device("cpu"))).removeprefix("torch.")


def local_rate(kinds: tuple[str, ...], dataset: str | None = None) -> tuple[float, int] | None:
    """One process's responses a second for texts of ``kinds`` in this machine's own ``glta text generate`` calls,
    run as the loader would run the LLM on this CPU (``glta.text.generate.measured_rate``), and how many calls: its
    calls on ``dataset`` where it is given and there were any, else its calls on any data set."""
    from glta.text.generate import dataset_rate

    found = dataset_rate("cpu", cpu_dtype(), kinds, dataset)
    return found[:2] if found else None


class TextRate(NamedTuple):
    """Responses a second for profile+prediction texts, where the number comes from (`` (benchmark, ...)``), and
    whether it is this machine's own calls' (one process's rate: the queue's two processes write at twice it)."""

    rate: float | None
    source: str
    own_calls: bool = False


def text_rate(dataset: str | None = None) -> TextRate:
    """Responses per second of one generating process for profile+prediction texts on this CPU, and where the number
    comes from: this machine's own ``glta text generate`` calls on ``dataset`` when there were any, else a benchmark
    in benchmarks/results/ (``generation_*.json``) of ``dataset``'s prompts in the precision this CPU runs the LLM
    in, else this machine's calls on other data sets, else a benchmark of another data set in this precision, else
    one made in another precision, with a caveat (no hardware bf16: fp32, slower; docs/measurements.md). A data
    set's own rate comes first because its history lengths set how many tokens each response reads (goodreads-once's
    prompts: 182 tokens on average, ML-1M's 262; docs/measurements.md)."""
    from glta.text.generate import measured_rate

    def calls(count: int, other: bool) -> str:
        return f" a process, this machine's {count} call{'s' * (count != 1)}" + (" on other data sets" * other)

    here = cpu_dtype()
    own = dataset and measured_rate("cpu", here, USER_KINDS, dataset=dataset)
    if own:
        return TextRate(own[0], calls(own[1], False), True)
    found: dict[tuple[str, bool], tuple[float, dict]] = {}  # (precision, of dataset) -> the first such benchmark
    for precision, record in generation_benchmarks():
        rate = record.get("project_profile_and_prediction_shared_prefix", {}).get("responses_per_s")
        if rate:
            found.setdefault((precision or here, record.get("dataset", "ml-1m") == dataset), (rate, record))
    if (here, True) in found:
        return TextRate(found[here, True][0], benchmark_source(found[here, True][1]))
    local = measured_rate("cpu", here, USER_KINDS)  # this machine's calls on any data set
    if local:
        return TextRate(local[0], calls(local[1], bool(dataset)), True)
    if not found:
        return TextRate(None, "")
    mine = [key for key in found if key[0] == here]
    made, same = mine[0] if mine else next(iter(found))
    rate, record = found[made, same]
    source = benchmark_source(record) + ("" if same or not dataset else f"; of {record.get('dataset', 'ml-1m')}'s "
                                         "prompts")
    if made != here:
        return TextRate(rate, f"{source}; measured in {made}, while this CPU runs the LLM in {here}: expect longer")
    return TextRate(rate, source)


def alone_ratio() -> float | None:
    """Per response, one process's rate for a user text of one kind written alone over its rate for profiles and
    predictions written together (each user's prompt read once for both): the median over the benchmarks
    (benchmarks/results/generation_*.json) made in this CPU's precision, None where there are none. In bf16 on
    the AVX-512 EPYC: 0.73 and 0.63."""
    ratios = []
    for precision, record in generation_benchmarks():
        alone = record.get("project_profile_only", {}).get("responses_per_s")
        both = record.get("project_profile_and_prediction_shared_prefix", {}).get("responses_per_s")
        if alone and both and precision == cpu_dtype():
            ratios.append(alone / both)
    return float(statistics.median(ratios)) if ratios else None


def generation_benchmarks() -> list[tuple[str | None, dict]]:
    """(precision, record) of each text-generation benchmark (benchmarks/results/generation_*.json), in name order;
    the precision as ``cpu_dtype`` names it ("bfloat16" for a record's "torch.bfloat16"), None where the record
    says none."""
    found = []
    for path in sorted(Path("benchmarks/results").glob("generation_*.json")):
        record = json.loads(path.read_text())
        dtype = record.get("dtype")
        found.append((None if dtype is None else str(dtype).removeprefix("torch."), record))
    return found


def benchmark_source(record: dict) -> str:
    """`` (benchmark, on <CPU> with(out) hardware bf16, load L on N cores)``: where a benchmark's rate was measured, and
    how busy its cores were (a rate measured beside other jobs is lower than one process alone gets)."""
    machine = record.get("machine") or {}
    parts = []
    if machine.get("cpu"):
        bf16 = machine.get("bf16")
        parts.append(f"on {machine['cpu']}"
                     + ("" if bf16 is None else f" {'with' if bf16 else 'without'} hardware bf16"))
    if record.get("load_average_at_start"):
        parts.append(f"load {record['load_average_at_start'][0]:.1f} on {machine.get('cores') or '?'} cores")
    return " (benchmark" + "".join(f", {part}" for part in parts) + ")"


def text_seconds(texts: dict[str, int], user_rate: float | None, item_rate: float | None) -> float | None:
    """One process's seconds to write ``texts`` (kind -> count) at the user texts' rate and the item profiles' (the
    user texts' where that is not known); None without a rate, 0 when nothing is left."""
    if not user_rate:
        return None
    return sum(n for kind, n in texts.items() if kind != "item_profile") / user_rate + \
        texts.get("item_profile", 0) / (item_rate or user_rate)


def text_hours(texts: dict[str, int], user_rate: float | None, caveat: str, item_rate: float | None,
               per_process: bool = False) -> str:
    """`` (~H h on this CPU ...)`` for the ``texts`` left to write (kind -> count) at one process's rates: the user
    texts' (``text_rate``) and the item profiles' where this machine has measured it (else the user texts'). A rate
    ``per_process`` (this machine's own calls, one thread a process) also gets the time of the queue's two processes
    (``--jobs 2``), which write side by side at twice the rate (docs/glta.md)."""
    seconds = text_seconds(texts, user_rate, item_rate)
    if not seconds:
        return ""
    item_rate = item_rate or user_rate

    def shown(value: float) -> str:  # 0.035, not 0.0, on a slow CPU
        return f"{value:.2g}" if value < 1 else f"{value:.1f}"

    rate = shown(user_rate) + (f" (item profiles {shown(item_rate)})" if item_rate != user_rate else "")
    queue = f", ~{seconds / 2 / 3600:.1f} h for the two processes of `--jobs 2`" if per_process else ""
    return (f" (~{seconds / 3600:.1f} h on this CPU at the measured {rate} responses/s{caveat}{queue}; "
            "minutes on a lent GPU: experiments/gpu_session.py)")


@functools.lru_cache(maxsize=None)  # a data set is loaded once per plan
def dataset_sizes(dataset: str) -> tuple[int, int]:
    """(users with a training interaction, items) of a data set: what GLTA's UA and IA stages grow with."""
    import numpy as np

    from glta.data import load_dataset

    data = load_dataset(DataConfig(name=dataset))
    return int((np.diff(data.train.indptr) > 0).sum()), int(data.n_items)


def own_peak(record: dict | None) -> float | None:
    """A GLTA run's resident peak less the prefix store it filled (``peak_bytes``, ``training.prefix_store_gib``): the
    store is a file written through a memory map, so its pages counted in the process's resident peak (ML-1M's 17.1
    GiB, ~12.5 of them the store) though they are page cache the kernel writes back and reclaims, not memory that
    jobs side by side can run out of; a run that unmapped them as it wrote (``training.prefix_store_unmapped``) counts
    its whole peak. A run that recorded no store size counts ``prefix_tokens`` times a token's bytes in a store of the
    same LLM on this machine (padding left out: the store is counted short, the rest long), or else its whole peak."""
    peak = peak_bytes(record)
    training = (record or {}).get("training") or {}
    if peak is None or training.get("prefix_store_unmapped"):  # filled unmapping its pages: the peak is its own
        return peak
    if training.get("prefix_store_gib"):
        return max(peak - training["prefix_store_gib"] * 2**30, 0.0)
    llm = (((record or {}).get("provenance") or {}).get("config") or {}).get("model", {}).get("llm", {}).get("name")
    per_token = token_bytes(llm) if llm and training.get("prefix_tokens") else None
    return max(peak - training["prefix_tokens"] * per_token, 0.0) if per_token else peak


def token_bytes(llm: str) -> float | None:
    """Bytes a token's keys and values take in a prefix store of the LLM ``llm`` on this machine: from the shape and
    precision a store of it here records (``meta.json``), else from the bundled GGUF's header (layers, key/value
    heads, head size) in the precision the LLM runs in on this CPU (a fresh machine has no store before its first
    GLTA run); None where neither can tell."""
    from glta.paths import cache_dir

    for meta in sorted(cache_dir("prefix-kv").glob("*/meta.json")):
        try:
            found = json.loads(meta.read_text())
            if str(found.get("llm", "")).split(":")[0] == llm:
                _, layers, pair, heads, _, dim = found["shape"]
                return float(layers * pair * heads * dim * (2 if found["dtype"] in HALF else 4))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return gguf_token_bytes(llm)


HALF = ("torch.bfloat16", "torch.float16", "bfloat16", "float16")


@functools.lru_cache(maxsize=None)  # seconds each: read once per plan
def gguf_token_bytes(llm: str) -> float | None:
    """``token_bytes`` from the header of the bundled GGUF of ``llm`` (an LLM assembled from chunk packages, or a
    local folder, is not read: None)."""
    from glta.text.llm import BUNDLED, bundled_gguf

    if llm not in BUNDLED:
        return None
    try:
        from gguf import GGUFReader

        fields = GGUFReader(bundled_gguf(llm)).fields
        arch = bytes(fields["general.architecture"].parts[-1]).decode()

        def value(key: str) -> int:
            field = fields[f"{arch}.{key}"]
            return int(field.parts[field.data[0]][0])

        heads = value("attention.head_count")
        kv_heads = value("attention.head_count_kv") if f"{arch}.attention.head_count_kv" in fields else heads
        dim = value("attention.key_length") if f"{arch}.attention.key_length" in fields else \
            value("embedding_length") // heads
        return float(value("block_count") * 2 * kv_heads * dim * (2 if cpu_dtype() in HALF else 4))
    except (ImportError, GLTAError, OSError, KeyError, ValueError, IndexError):
        return None
