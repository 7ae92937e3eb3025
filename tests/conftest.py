import importlib.util
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA_ROOT = REPO.parent / "shared" / "datasets"


@pytest.fixture(autouse=True, scope="session")
def _environment(tmp_path_factory):
    os.environ.setdefault("GLTA_DATA_ROOT", str(DEFAULT_DATA_ROOT))
    os.environ["GLTA_CACHE_DIR"] = str(tmp_path_factory.mktemp("glta-cache"))
    os.environ["HF_HUB_OFFLINE"] = "1"
    import torch

    # two threads, or what OMP_NUM_THREADS asks for: beside other jobs, one (README, "Threads")
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or min(2, os.cpu_count() or 1)))
    yield


@pytest.fixture(autouse=True)
def _library_progress_setting():
    """A `--no-progress` run inside the test process may switch library bars off through the environment
    (``hide_library_progress`` before huggingface_hub is imported); each test leaves the variable as it found it, so
    a hub imported by a later test does not read it as set (and warn on every enabling of its bars)."""
    before = os.environ.get("HF_HUB_DISABLE_PROGRESS_BARS")
    yield
    if before is None:
        os.environ.pop("HF_HUB_DISABLE_PROGRESS_BARS", None)
    else:
        os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = before


@pytest.fixture(scope="session")
def data_root() -> Path:
    return Path(os.environ.get("GLTA_DATA_ROOT", DEFAULT_DATA_ROOT))


@pytest.fixture(scope="session")
def synthetic():
    from glta.config import DataConfig
    from glta.data import load_dataset

    return load_dataset(DataConfig(name="synthetic"))


@pytest.fixture(scope="session")
def experiment():
    """Loads a script of experiments/ as a module: ``experiment("seeds").run_seed(...)``."""
    loaded = {}
    if str(REPO / "experiments") not in sys.path:
        sys.path.append(str(REPO / "experiments"))  # as running a script would: reproduce.py imports its siblings

    def load(name: str):
        if name not in loaded:
            spec = importlib.util.spec_from_file_location(f"experiments_{name}", REPO / "experiments" / f"{name}.py")
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module  # as an import would: dataclasses look their module up there
            spec.loader.exec_module(module)
            loaded[name] = module
        return loaded[name]

    return load
