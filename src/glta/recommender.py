"""The one small interface shared by GLTA and every baseline.

A ``Recommender`` is a ``torch.nn.Module`` that answers three questions, so the trainer, the evaluator and
the CLI never need to know which model they hold (the shape RecBole made familiar):

- ``train_batches(rng)``: one epoch of training batches;
- ``loss(batch)``: a scalar loss for one batch;
- ``score(users)``: scores over all items for a batch of users (full ranking).

``prepare_scoring()`` is called before evaluation (e.g. to cache propagated embeddings) and
``identity()`` describes what the model was built on, for saved files and results. A model with stages before its
main one (GLTA's item-text alignment) describes them as ``Stage`` records; the trainer (``glta.training``) runs
them with the same step loop, devices and processes as the main stage, and keeps their results when asked to.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Iterator

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from glta.data.dataset import RecDataset


@dataclass(frozen=True)
class Stage:
    """A training stage before the main one: ``epochs`` passes over the model's batches for the stage (after
    ``enter_stage(name)``) at learning rate ``lr``, batches drawn from ``seed``, no validation. With ``cache`` set,
    the trainer stores the parameters the stage trained there (safetensors, with a JSON summary) and a later run
    whose model names the same file loads them instead of training the stage again; ``serves`` goes with them."""

    name: str
    epochs: int
    lr: float
    seed: int
    cache: Path | None = None
    serves: str = ""  # the cached result's data set and model, in words ("ml-1m, ..."): ``glta cache list`` shows it


class Recommender(nn.Module, ABC):
    method: ClassVar[str]  # the name on the CLI and in results files (the registry: glta.methods)
    config_class: ClassVar[type]  # the typed dataclass of its ``model.*`` settings
    display_name: ClassVar[str]  # its label in tables
    # True when training draws nothing at random (closed forms, counts): every seed gives the same model, so the
    # tables need no seeds for it
    deterministic: ClassVar[bool] = False

    def __init__(self, dataset: RecDataset, config: Any):
        super().__init__()
        self.n_users = dataset.n_users
        self.n_items = dataset.n_items
        self.config = config
        self.dataset_fingerprint = dataset.fingerprint()
        self.train_item_degrees = np.asarray(dataset.train.sum(0), dtype=np.float32).ravel()  # for cold-start users

    @abstractmethod
    def train_batches(self, rng: np.random.Generator, batch_size: int) -> Iterator[Any]:
        """Yield the batches of one training epoch."""

    @abstractmethod
    def loss(self, batch: Any) -> torch.Tensor:
        """The training loss of one batch."""

    def forward(self, batch: Any) -> torch.Tensor:
        """The training loss of ``batch``: calling the module (as DistributedDataParallel does) computes ``loss``."""
        return self.loss(batch)

    @abstractmethod
    def score(self, users: torch.Tensor) -> torch.Tensor:
        """Scores of every item for ``users``: shape (len(users), n_items). Higher is better."""

    def parameter_groups(self, lr: float) -> list[dict]:
        """The optimiser's parameter groups at base learning rate ``lr``: every trainable parameter at ``lr``
        unless a model sets some apart (GLTA's head)."""
        return [{"params": [p for p in self.parameters() if p.requires_grad], "lr": lr}]

    def place(self, device: torch.device) -> None:
        """Move the model to ``device`` (``train.device``) before training; batches follow it."""
        self.to(device)

    def batches_per_epoch(self, batch_size: int) -> int | None:
        """How many batches ``train_batches`` yields (for progress bars with an ETA); None if unknown."""
        return None

    def prepare_scoring(self, exclude: sp.csr_matrix | None = None) -> None:
        """Hook run (under ``torch.no_grad``) before a round of ``score`` calls. ``exclude`` holds the items
        that will be masked (a model that decodes a list, like GLTA, must skip them while decoding)."""

    def calibrate(self, evaluator, metric: str, progress: bool = False) -> dict | None:
        """Choose inference-time settings on ``evaluator`` (validation only) by ``metric`` and return every
        metric's value for each of its users at the chosen setting (``RankingEvaluator.evaluate(per_user=True)``);
        None (the default) when the model has nothing to choose."""
        return None

    def prepare_training(self, train, progress: bool = True, log=print) -> dict:
        """Work before any training step that needs no optimiser (GLTA: its memory and disk checks); returns facts
        for the results file. The main process runs it first, the others after it."""
        return {}

    def prepare_main_stage(self, train, progress: bool = True, log=print) -> dict:
        """Like ``prepare_training``, after the stages before the main one, for what only the main stage reads
        (GLTA: the cached prompt prefixes of UA, filled after IA)."""
        return {}

    def stages(self, train) -> list[Stage]:
        """The stages the trainer runs before the main one, in order (none by default)."""
        return []

    def enter_stage(self, name: str) -> None:
        """Make the parameters of stage ``name`` trainable and its batches the ones ``train_batches`` yields."""

    def returns_memory_each_step(self) -> bool:
        """Whether the trainer hands freed heap memory back to the system after every step of the current stage
        (``glta.memory``): for stages whose steps are large and uneven on the CPU, where glibc's heap otherwise
        grows step by step past the largest step's need. False by default (it costs each step its page faults)."""
        return False

    def enter_main_stage(self) -> None:
        """Put the model in its main stage: after its earlier stages ran, or when their weights come from a
        checkpoint or a saved run instead."""

    @classmethod
    def from_saved(cls, dataset: RecDataset, config, state: dict[str, torch.Tensor]) -> Recommender:
        """The model a saved run's ``state`` (its ``model.safetensors``) is loaded into: built as for training by
        default; a method whose state carries what it otherwise reads from elsewhere may build from it (GLTA: the
        frozen node embeddings)."""
        return cls(dataset, config)

    def score_new_users(self, histories: list[np.ndarray]) -> torch.Tensor:
        """Scores of every item for users who are not in the training data, each given by the catalogue indices of
        items they interacted with (cold start, no retraining): (len(histories), n_items)."""
        from glta.errors import GLTAError

        raise GLTAError(f"{self.method} cannot score users outside its training data; train it with them, or use "
                        "a graph model, glta, ease, gfcf or pop")

    @classmethod
    def identity_for(cls, dataset_fingerprint: str, n_users: int, n_items: int) -> dict:
        """What a model of this method on such data is known by: a checkpoint resumes, a run folder reloads and a
        cached stage result is reused only under the same identity. Known before any model is built (``identity``
        is this for a built one)."""
        return {"method": cls.method, "dataset_fingerprint": dataset_fingerprint, "n_users": n_users,
                "n_items": n_items}

    def identity(self) -> dict:
        return self.identity_for(self.dataset_fingerprint, self.n_users, self.n_items)

    def inputs(self) -> dict:
        """What a run read besides the data and its config, for the results file's provenance (``inputs``): e.g.
        the frozen embeddings GLTA projects. Empty for a model that reads nothing else."""
        return {}


class EmbeddingRecommender(Recommender):
    """A recommender whose score is the dot product of final user and item embeddings (LightGCN, HCCF and their
    text variants). The final embeddings are computed once per round of scoring and dropped when training resumes."""

    _cache: tuple[torch.Tensor, torch.Tensor] | None = None

    @abstractmethod
    def final_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(users x d, items x d) as used for scoring."""

    def prepare_scoring(self, exclude: sp.csr_matrix | None = None) -> None:
        with torch.no_grad():
            self._cache = tuple(t.detach() for t in self.final_embeddings())

    def score(self, users: torch.Tensor) -> torch.Tensor:
        if self._cache is None or self.training:
            self.prepare_scoring()
        user_final, item_final = self._cache
        return user_final[users.to(user_final.device)] @ item_final.T

    def train(self, mode: bool = True):
        self._cache = None
        return super().train(mode)

    def fold_in(self, histories: list[np.ndarray]) -> torch.Tensor:
        """User vectors for new users: their items' final embeddings, each weighted by 1 / sqrt(item degree) as in
        the symmetric-normalised propagation (LightGCN overrides this with its exact layer-wise rule)."""
        if self._cache is None or self.training:
            self.prepare_scoring()
        _, items = self._cache
        weight = torch.from_numpy(self.train_item_degrees).clamp_min(1).rsqrt().to(items.device)
        rows = [(items[h] * weight[h, None]).sum(0) / max(len(h), 1) ** 0.5 for h in histories]
        return torch.stack(rows)

    def score_new_users(self, histories: list[np.ndarray]) -> torch.Tensor:
        if self._cache is None or self.training:
            self.prepare_scoring()
        return self.fold_in(histories) @ self._cache[1].T
