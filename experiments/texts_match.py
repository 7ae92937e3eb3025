"""Whether this machine's cached LLM-written user texts are the ones a GLTA results file's run read.

    .venv/bin/python experiments/texts_match.py results/amazon-scientific/glta_variants/no_ua.json [more files ...]

The text cache is keyed by the LLM's identity, the data set and the generation settings, not by the precision or
device that wrote it, so texts written again on another machine (fp32 on a CPU without hardware bf16, bf16 on
another, a GPU) land in the same place and may differ wherever greedy decoding meets a near tie. GLTA results record
digests of the texts their prompts read (``provenance.inputs.user_texts_sha256`` and, per kind,
``user_texts_sha256_by_kind``); this script builds the same prompts from the cache here, with each file's recorded
config, and says for each file whether they match, kind by kind where the file records kinds. The prompts need
only the recorded LLM's tokenizer, but it comes with the (small) LLM: each LLM and data set is loaded once for all
the files given.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from glta.config import config_from_dict
from glta.errors import GLTAError, MissingTextsError
from glta.text.llm import hide_library_progress


def digests_here(raw_config: dict, llm=None, loaded: dict | None = None) -> dict[str, str]:
    """The digests a run with ``raw_config`` (a results file's ``provenance.config``) would record from the cache
    here: ``all`` (every kind together) and each kind; {} when it reads no user texts. ``llm``: the recorded LLM,
    already loaded (its tokenizer is all the prompts use); ``loaded``: data sets and LLMs kept between calls."""
    from glta.align.prompts import Prompts, texts_identity, user_texts
    from glta.data import load_dataset
    from glta.text.llm import load_llm

    config = config_from_dict(raw_config)
    model = config.model
    if not (getattr(model, "use_profile", False) or getattr(model, "use_prediction", False)):  # or not GLTA
        return {}
    loaded = {} if loaded is None else loaded
    if (data_key := ("data", repr(config.data))) not in loaded:
        loaded[data_key] = load_dataset(config.data)
    dataset = loaded[data_key]
    texts = user_texts(dataset, model, texts_identity(model))  # missing texts stop here, before the LLM loads
    if llm is None:
        if (llm_key := ("llm", repr(model.llm))) not in loaded:
            loaded[llm_key] = load_llm(model.llm)
        llm = loaded[llm_key]
    return Prompts(dataset, model, llm, texts).user_text_digests()


def verdict(recorded: dict, here: dict[str, str]) -> str:
    """One line: how the digests a results file recorded (its ``provenance.inputs``) compare with ``here``'s."""
    if not here:
        return "reads no LLM-written user texts"
    by_kind = recorded.get("user_texts_sha256_by_kind") or {}
    if not recorded.get("user_texts_sha256"):
        return "its results file records no digest of the texts it read (made before they were recorded)"
    if by_kind:
        differ = [kind for kind, digest in by_kind.items() if here.get(kind) != digest]
        return ("the same texts" if not differ else
                f"different texts: {' and '.join(differ)} (the cache here holds texts written again)")
    same = recorded["user_texts_sha256"] == here["all"]
    return "the same texts" if same else "different texts (the cache here holds texts written again)"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="+", help="GLTA or GLTA+ results files (results/<data>/...json)")
    args = parser.parse_args(argv)
    hide_library_progress()
    loaded: dict = {}  # each data set and LLM once for all the files
    for name in args.results:
        path = Path(name)
        try:
            provenance = json.loads(path.read_text())["provenance"]
            config = provenance["config"]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise SystemExit(f"texts_match: {path}: not a results file with provenance.config ({error!r}); pass the "
                             "results/<data>/... .json files of GLTA runs") from None
        try:
            here = digests_here(config, loaded=loaded)
        except MissingTextsError as error:  # the training error's opt-out is no fix for this check
            print(f"{path}: the cache here lacks texts it read: {error.missing} of {error.n_users} users have no "
                  f"{error.kind} text for {error.identity}; `{error.command}` writes them")
            continue
        except GLTAError as error:
            print(f"{path}: {error}")
            continue
        print(f"{path}: {verdict(provenance.get('inputs') or {}, here)}")


if __name__ == "__main__":
    main()
