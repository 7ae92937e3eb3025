import os
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

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    yield


@pytest.fixture(scope="session")
def data_root() -> Path:
    return Path(os.environ.get("GLTA_DATA_ROOT", DEFAULT_DATA_ROOT))


@pytest.fixture(scope="session")
def synthetic():
    from glta.config import DataConfig
    from glta.data import load_dataset

    return load_dataset(DataConfig(name="synthetic"))
