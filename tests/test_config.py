import pytest

from glta.config import LightGCNConfig, build_config, parse_override
from glta.errors import ConfigError


def test_overrides_are_typed_and_nested(tmp_path):
    config = build_config("lightgcn", "ml-1m", overrides=["train.lr=0.02", "model.layers=2", "eval.ks=[5,10,20]"],
                          config_dir=tmp_path)
    assert config.train.lr == 0.02 and isinstance(config.train.lr, float)
    assert isinstance(config.model, LightGCNConfig) and config.model.layers == 2
    assert config.data.name == "ml-1m"


def test_yaml_file_then_overrides_win(tmp_path):
    (tmp_path / "ml-1m").mkdir()
    (tmp_path / "ml-1m" / "lightgcn.yaml").write_text("train:\n  lr: 0.003\n  batch_size: 2048\nmodel:\n  dim: 32\n")
    config = build_config("lightgcn", "ml-1m", overrides=["train.lr=0.01"], config_dir=tmp_path)
    assert (config.train.lr, config.train.batch_size, config.model.dim) == (0.01, 2048, 32)


@pytest.mark.parametrize("override, message", [
    ("train.lrr=1", "unknown config key"),
    ("train.epochs=many", "expects int"),
    ("model.dim=1.5", "expects int"),
    ("nodots", "key.sub=value"),
])
def test_bad_overrides_name_the_key(override, message, tmp_path):
    with pytest.raises(ConfigError, match=message):
        build_config("lightgcn", "ml-1m", overrides=[override], config_dir=tmp_path)


def test_model_key_at_the_top_level_points_to_model(tmp_path):
    with pytest.raises(ConfigError, match=r"under 'model'.*model\.llm"):
        build_config("glta", "synthetic", overrides=["llm.name=/models/x"], config_dir=tmp_path)


def test_unknown_method():
    with pytest.raises(ConfigError, match="unknown method"):
        build_config("nope", "ml-1m")


def test_parse_override():
    assert parse_override("a.b.c=3") == {"a": {"b": {"c": 3}}}


def test_repository_configs_load():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "configs"
    files = sorted(root.glob("*/*.yaml"))
    assert files, "configs/ should hold one file per data set and method"
    for path in files:
        build_config(path.stem, path.parent.name, config_dir=root)
