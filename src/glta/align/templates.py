"""Instruction templates with node-token slots (paper Fig. 2, right), tokenised once.

A template is plain text (``templates/*.txt``) with three kinds of slot:

- ``<user>``: one user token (the projected user node), or the user id as text in the "w/o UA" variant;
- ``<items>``: a run of item tokens (projected item nodes);
- ``<out>``: the K output positions read by the GLLM head;

and ``{field}`` placeholders (``{profile}``, ``{prediction}``, ``{descriptions}``) filled with per-sample text.
The fixed text between slots is tokenised once when the template is loaded, never per step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import torch

from glta.errors import ConfigError

TEMPLATE_DIR = Path(__file__).parent / "templates"
SLOT = re.compile(r"(<user>|<items>|<out>|\{[a-z_]+\})")

TEXT, USER, ITEM, OUT, PAD = 0, 1, 2, 3, -1


@dataclass
class Segment:
    kind: str  # "text", "user", "items", "out", "field"
    ids: list[int] | None = None  # for "text"
    name: str | None = None  # for "field"


class Template:
    def __init__(self, text: str, tokenizer):
        self.text = text
        self.segments: list[Segment] = []
        for piece in SLOT.split(text):
            if not piece:
                continue
            if piece in ("<user>", "<items>", "<out>"):
                self.segments.append(Segment(piece.strip("<>")))
            elif piece.startswith("{") and piece.endswith("}"):
                self.segments.append(Segment("field", name=piece[1:-1]))
            else:
                self.segments.append(Segment("text", ids=tokenizer(piece, add_special_tokens=False).input_ids))
        self.fields = {s.name for s in self.segments if s.kind == "field"}

    def split_prefix(self) -> tuple["Template", "Template"]:
        """(the leading text and fields before the first node or output slot, the rest). The prefix holds nothing
        trainable, so its keys/values can be computed once per sample (see ``glta.align.prefix``)."""
        cut = next((i for i, s in enumerate(self.segments) if s.kind in ("user", "items", "out")), len(self.segments))
        return self._from(self.segments[:cut]), self._from(self.segments[cut:])

    def _from(self, segments: list[Segment]) -> "Template":
        part = object.__new__(Template)
        part.text, part.segments = self.text, list(segments)
        part.fields = {s.name for s in segments if s.kind == "field"}
        return part

    @classmethod
    def load(cls, name: str, tokenizer) -> "Template":
        return cls(template_path(name).read_text().rstrip("\n"), tokenizer)

    def fixed_tokens(self) -> int:
        return sum(len(s.ids) for s in self.segments if s.kind == "text")


def template_path(name: str, key: str = "model.ua_template") -> Path:
    """The file of the template called ``name``; a name with none is a ConfigError naming ``key`` and the templates
    there are."""
    path = TEMPLATE_DIR / f"{name}.txt"
    if not path.is_file():
        known = ", ".join(sorted(found.stem for found in TEMPLATE_DIR.glob("*.txt")))
        raise ConfigError(f"{key}={name}: no such prompt template ({TEMPLATE_DIR}); choose one of {known}")
    return path


@dataclass
class Sample:
    """One filled template: which user, which items, which per-sample text (as token ids)."""

    user: int = -1
    user_text: list[int] | None = None  # the "w/o UA" variant: the user id as text tokens
    items: list[int] | None = None
    fields: dict[str, list[int]] | None = None


@dataclass
class Batch:
    token_ids: torch.Tensor  # (B, L) text tokens; slots hold the pad id
    kinds: torch.Tensor  # (B, L) TEXT / USER / ITEM / OUT / PAD
    values: torch.Tensor  # (B, L) user or item index at USER / ITEM positions
    attention_mask: torch.Tensor  # (B, L)
    out_positions: torch.Tensor  # (B, K)
    targets: torch.Tensor | None = None  # (B, K) item index per output slot, -100 where unsupervised
    prefix_users: torch.Tensor | None = None  # users whose cached prefix keys/values precede this batch's tokens
    users: torch.Tensor | None = None  # (B,) the sample's user index, -1 where a sample has none (IA)


def assemble(template: Template, samples: list[Sample], n_out: int, pad_id: int,
             targets: list[list[int]] | None = None, left_pad: bool = False) -> Batch:
    """Lay out a batch. Right padding by default (causal attention never sees it); left padding for
    autoregressive decoding, where new tokens are appended after every row's last real token."""
    rows = [_row(template, sample, n_out, pad_id) for sample in samples]
    width = max(len(r[0]) for r in rows)
    token_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    kinds = torch.full((len(rows), width), PAD, dtype=torch.long)
    values = torch.zeros((len(rows), width), dtype=torch.long)
    for row, (i, k, v) in enumerate(rows):
        where = slice(width - len(i), width) if left_pad else slice(0, len(i))
        token_ids[row, where] = torch.tensor(i)
        kinds[row, where] = torch.tensor(k)
        values[row, where] = torch.tensor(v)
    mask = (kinds != PAD).long()
    out_positions = torch.stack([torch.nonzero(kinds[row] == OUT).squeeze(1) for row in range(len(rows))])
    target_tensor = None
    if targets is not None:
        target_tensor = torch.full((len(rows), n_out), -100, dtype=torch.long)
        for row, items in enumerate(targets):
            items = list(items)[:n_out]
            target_tensor[row, :len(items)] = torch.tensor(items, dtype=torch.long)
    users = torch.tensor([sample.user for sample in samples], dtype=torch.long)
    return Batch(token_ids, kinds, values, mask, out_positions, target_tensor, users=users)


def _row(template: Template, sample: Sample, n_out: int, pad_id: int) -> tuple[list[int], list[int], list[int]]:
    """One sample laid out: token ids, slot kinds, node indices."""
    ids: list[int] = []
    kinds: list[int] = []
    values: list[int] = []

    def put(tokens: list[int], kind: int, nodes: list[int] | None = None) -> None:
        ids.extend(tokens)
        kinds.extend([kind] * len(tokens))
        values.extend(nodes if nodes is not None else [0] * len(tokens))

    for segment in template.segments:
        if segment.kind == "text":
            put(segment.ids, TEXT)
        elif segment.kind == "field":
            put((sample.fields or {}).get(segment.name, []), TEXT)
        elif segment.kind == "user":
            if sample.user_text is not None:
                put(sample.user_text, TEXT)
            else:
                put([pad_id], USER, [sample.user])
        elif segment.kind == "items":
            items = list(sample.items or [])
            put([pad_id] * len(items), ITEM, items)
        elif segment.kind == "out":
            put([pad_id] * n_out, OUT)
    return ids, kinds, values


def prefix_ids(template: Template, sample: Sample) -> list[int]:
    """The token ids of a text-only template part (e.g. a cached prefix) filled for one sample."""
    ids, kinds, _ = _row(template, sample, 0, 0)
    if any(kind != TEXT for kind in kinds):
        raise ValueError("prefix_ids needs a template part without node or output slots")
    return ids
