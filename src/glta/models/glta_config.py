"""GLTA's settings (``model.*``): the paper's method and, switched on in GLTA+, the parts beyond it.

Readings of what the paper leaves open follow ``../shared/DESIGN.md``; each choice's evidence is in docs/glta.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from glta.errors import ConfigError
from glta.text.generate import GenerationConfig
from glta.text.llm import LLMConfig


@dataclass
class GLTAConfig:
    # the shared fit loop's settings that suit GLTA (one user per sample, a frozen LLM in every step), applied before
    # a data set's config file: a data set without one still gets batches of users that fit in memory
    TRAIN_DEFAULTS: ClassVar[dict] = {"epochs": 20, "batch_size": 32, "lr": 2e-3, "patience": 3, "eval_every": 1}
    EVAL_DEFAULTS: ClassVar[dict] = {"batch_size": 256}

    # the frozen graph model whose node embeddings GLTA projects: a method of the LightGCN family (lightgcn, or a
    # text-aligned one: lightgcn_plus, rlmrec_con, rlmrec_gen), read from runs/<dataset>/<graph>/. The paper's GLTA
    # reads LightGCN; GLTA+ may read a text-aligned LightGCN (beyond the paper; docs/glta.md, "GLTA+")
    graph: str = "lightgcn"
    embeddings: str | None = None  # the frozen embeddings file; default runs/<dataset>/<graph>/embeddings.safetensors
    llm: LLMConfig = field(default_factory=LLMConfig)
    generation: GenerationConfig = field(default_factory=GenerationConfig)  # names the cached profile/prediction
    # the LLM whose cached profile/prediction texts are read (an llm.name); None: the backbone itself. Lets a
    # backbone read the texts another LLM wrote, e.g. Gemma 3 270M over SmolLM2's texts (the same words in, so a
    # comparison of backbones is not also one of text writers)
    texts_llm: str | None = None
    output_slots: int = 20  # K output positions read by the GLLM head
    # k: the first k slots get a ground-truth item each (up to the user's items). 20 (all slots) beat 10 on ML-100k
    # validation, 0.2214 vs 0.2007 N@10, and kept rising for 11 epochs (docs/glta.md)
    supervised_slots: int = 20
    context_items: int = 10  # item tokens shown in the UA template
    # overlap: targets drawn from all training items (the paper's reading; ahead on ML-100k validation, see
    # docs/glta.md); disjoint: targets are never among the shown items
    target_mode: Literal["overlap", "disjoint"] = "overlap"
    text_tokens: int = 48  # profile / prediction texts are cut to this many tokens
    ia_group_size: int = 5  # items per item-text alignment sample
    ia_epochs: int = 4
    ia_lr: float = 1e-3
    ia_batch_size: int = 32
    item_text_chars: int = 60
    use_ia: bool = True  # False: "w/o IA" (no stage 1; both projectors train in UA)
    # beyond the paper: the item projector IA trained keeps training in UA (the paper freezes it; a diagnostic: does
    # an IA that learns hurt UA by where it starts the projector or by freezing it there? docs/glta.md)
    ua_trains_items: bool = False
    use_user_token: bool = True  # False: "w/o UA" (the user id as plain text instead of the user token)
    use_profile: bool = True  # False: "w/o PF"
    use_prediction: bool = True  # False: "w/o PD"
    # a user without cached profile/prediction text: "error" stops before training, naming `glta text generate`;
    # "empty" leaves the field empty (the demo, which has no texts unless asked for)
    missing_texts: Literal["error", "empty"] = "error"
    inference: Literal["first_k", "first_logit", "autoregressive"] = "first_k"
    eval_batch_size: int = 64
    # UA template (align/templates/<name>.txt): "user_item" puts the user and item tokens first, as DESIGN.md lists
    # them; "user_item_text_first" puts the profile and prediction first, so their keys/values can be cached
    ua_template: str = "user_item_text_first"
    prefix_cache: bool = True  # cache a text-only template opening per user (see glta.align.prefix)
    # start the GLLM head at zero weights and a bias of log training frequency: the untrained model ranks by popularity
    head_prior: bool = True
    # linear: the paper's GLLM layer; tied: also score items by their own item tokens, as a language model with tied
    # input/output embeddings scores its vocabulary (see GLLMHead)
    head: Literal["linear", "tied"] = "linear"
    # whether IA's logits include the head bias. The bias starts at the popularity prior (head_prior), which IA's
    # uniformly drawn targets fight: with it, IA spends its few steps unlearning popularity (docs/glta.md)
    ia_head_bias: bool = True
    # IA's softmax: over the whole catalogue (the paper's GLLM loss; chance ln |I|), or over the sample's own group of
    # ia_group_size items (chance ln group size): the task then only asks which shown item each description names
    ia_loss: Literal["catalogue", "group"] = "catalogue"
    # the head's learning rate as a multiple of the stage's (train.lr in UA, ia_lr in IA). The LLM's last hidden
    # states have norm ~47, so one Adam step at lr 2e-3 moves a logit by up to ~1.4 (docs/glta.md)
    head_lr_scale: float = 0.1
    # compile each frozen decoder layer with torch.compile (inductor): fuses the norms, activations and rotary
    # arithmetic around the matmuls. On this 2-core CPU UA steps ran 4% (batch 32) to 7% (batch 64) faster after
    # ~6 min of compiling, same loss (benchmarks/glta_throughput.py --compile); only for runs of many hours
    compile: bool = False
    # --- GLTA+ (beyond the paper; off here, on in the ``glta_plus`` method; see glta.align.graph_output) -------
    graph_head: bool = False  # logits += (h M) . E_i: a learned map onto the frozen LightGCN item embeddings
    graph_residual: bool = False  # logits += alpha <E_u, E_i>: LightGCN's own score, alpha learned
    fusion: bool = False  # rank by (1-lam) z(GLTA) + lam z(LightGCN), lam chosen on validation from fusion_grid
    fusion_grid: list[float] = field(default_factory=lambda: [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    # UA's softmax: over the whole catalogue (Eq. 3), or over the target and the user's unseen items only
    # (glta.align.gllm.unseen_loss). The head probe (a lossless user input) rose from ML-100k valid N@10 0.2392 to
    # 0.2508 with it; GLTA+ on ML-100k: ahead on validation in two seeds (+0.0010, +0.0034) but neither paired test
    # below 0.05, so off until ML-1M decides (docs/glta.md)
    ua_softmax: Literal["catalogue", "unseen"] = "catalogue"

    def check_relations(self, key: Callable[[str], str]) -> None:
        """Called by ``glta.config.check_ranges`` once every field is in range; ``key(name)`` spells an option's key.
        What GLTA reads besides the LLM by name is checked here too, before any data or LLM is loaded."""
        from glta.align.templates import template_path
        from glta.methods import BUILTIN_NAMES, method_class, method_names
        from glta.models.lightgcn import LightGCN

        template_path(self.ua_template, key("ua_template"))
        # GLTA+'s residual and fusion score a node pair by the dot product of its embeddings, as the LightGCN family
        # scores: only those methods' embeddings qualify (an installed package's LightGCN subclass too)
        if not (self.graph in method_names() and issubclass(method_class(self.graph), LightGCN)):
            family = [name for name in BUILTIN_NAMES if issubclass(method_class(name), LightGCN)]
            raise ConfigError(f"{key('graph')}={self.graph}: GLTA projects the embeddings of a LightGCN-family method; "
                              f"choose one of {', '.join(family)}")
        if self.supervised_slots > self.output_slots:
            raise ConfigError(f"{key('supervised_slots')}={self.supervised_slots} exceeds {key('output_slots')}="
                              f"{self.output_slots}: only output slots can be supervised; lower the first or raise "
                              "the second")
        if self.fusion and not (self.fusion_grid and all(0.0 <= w <= 1.0 for w in self.fusion_grid)):
            raise ConfigError(f"{key('fusion_grid')} must list weights in [0, 1], e.g. [0.0, 0.5, 1.0]; got "
                              f"{self.fusion_grid}")


@dataclass
class GLTAPlusConfig(GLTAConfig):
    """GLTA+ = the paper's GLTA with all three graph-output parts on (each can still be switched off)."""

    graph_head: bool = True
    graph_residual: bool = True
    fusion: bool = True
