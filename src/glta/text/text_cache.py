"""The append-only store of LLM-written texts (``glta text generate`` writes it, GLTA and RLMRec read it)."""

from __future__ import annotations

import json
import os
from pathlib import Path


class TextCache:
    """Append-only JSON-lines store: one record per line, written whole and fsynced per batch.

    A crash mid-write leaves at most one partial last line, which ``load`` skips; the file is never rewritten.
    Several processes generating together (``glta.distributed``) each append to their own shard file beside it
    (``<name>.shard<rank>.jsonl``); ``load`` reads the file and every shard, and ``merge_shards`` folds the shards into
    the file once all processes are done (a crash while merging leaves duplicates, which ``load`` collapses).
    """

    def __init__(self, path: Path, shard: int | None = None):
        self.path = path
        self.target = path if shard is None else self._shard_path(shard)

    def _shard_path(self, rank: int) -> Path:
        return self.path.with_name(f"{self.path.stem}.shard{rank}{self.path.suffix}")

    def shards(self) -> list[Path]:
        return sorted(self.path.parent.glob(f"{self.path.stem}.shard*{self.path.suffix}"))

    def load(self) -> dict[tuple[str, str], str]:
        out: dict[tuple[str, str], str] = {}
        for path in [self.path, *self.shards()]:
            if path.exists():
                out.update(self._read(path))
        return out

    @staticmethod
    def _read(path: Path) -> dict[tuple[str, str], str]:
        out: dict[tuple[str, str], str] = {}
        with open(path, "rb") as handle:
            for raw in handle:
                try:
                    record = json.loads(raw)
                    out[(record["key"], record["history"])] = record["text"]
                except (json.JSONDecodeError, KeyError, UnicodeDecodeError):
                    continue  # a torn final line from an interrupted write
        return out

    def append(self, records: list[dict], path: Path | None = None) -> None:
        if not records:
            return
        path = path or self.target
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()
        with open(path, "ab") as handle:
            if handle.tell() > 0:  # a torn line from a crash must not swallow the next record
                with open(path, "rb") as reader:
                    reader.seek(-1, os.SEEK_END)
                    if reader.read(1) != b"\n":
                        payload = b"\n" + payload
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())

    def merge_shards(self) -> None:
        """Append every shard's records to the file (in rank order), then remove the shard."""
        for shard in self.shards():
            records = [{"key": key, "history": history, "text": text}
                       for (key, history), text in self._read(shard).items()]
            self.append(records, self.path)
            shard.unlink()
