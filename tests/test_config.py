from pathlib import Path

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


def test_the_data_set_is_named_once(tmp_path):
    """A --config file (or override) naming another data set than the command's was merged after that data set's
    settings file: `glta train pop ml-1m --config other.yaml` trained ml-100k with ml-1m's settings. Refused now; a
    file that alone names the data set gets that data set's settings file first, as the command's name would."""
    (tmp_path / "ml-100k").mkdir()
    (tmp_path / "ml-100k" / "lightgcn.yaml").write_text("train:\n  lr: 0.003\n")
    other = tmp_path / "other.yaml"
    other.write_text("data:\n  name: ml-100k\nmodel:\n  dim: 32\n")
    with pytest.raises(ConfigError, match="data.name=ml-100k .* contradicts the data set the command names, ml-1m"):
        build_config("lightgcn", "ml-1m", [other], config_dir=tmp_path)
    with pytest.raises(ConfigError, match="data.name=ml-100k"):
        build_config("lightgcn", "ml-1m", overrides=["data.name=ml-100k"], config_dir=tmp_path)
    merged: list[str] = []
    config = build_config("lightgcn", None, [other], ["train.seed=3"], config_dir=tmp_path, merged_from=merged)
    assert (config.data.name, config.train.lr, config.model.dim) == ("ml-100k", 0.003, 32)
    assert merged == ["lightgcn's defaults", str(tmp_path / "ml-100k" / "lightgcn.yaml"), str(other), "train.seed=3"]
    assert build_config("lightgcn", "ml-100k", [other], config_dir=tmp_path).model.dim == 32  # the same name: fine


@pytest.mark.parametrize("override, message", [
    ("train.lrr=1", "unknown config key.*did you mean 'lr' for 'lrr'"),
    ("trian.lr=1", "did you mean 'train' for 'trian'"),
    ("train.zzz=1", r"section 'train'; known keys"),  # nothing close: no guess
    ("train.epochs=many", "expects int"),
    ("model.dim=1.5", "expects int"),
    ("nodots", "key.sub=value"),
])
def test_bad_overrides_name_the_key(override, message, tmp_path):
    with pytest.raises(ConfigError, match=message):
        build_config("lightgcn", "ml-1m", overrides=[override], config_dir=tmp_path)


def test_broken_yaml_is_one_line_naming_where_and_what(tmp_path):
    """PyYAML's messages span several lines; a config file, an override or a grid value that is not YAML is one."""
    from glta.tuning import parse_grid

    (tmp_path / "bad.yaml").write_text("train:\n  lr: [0.1\n")
    for call, where in ((lambda: build_config("lightgcn", "ml-1m", [tmp_path / "bad.yaml"], config_dir=tmp_path),
                         f"config file {tmp_path / 'bad.yaml'} is not valid YAML (line 3, column 1)"),
                        (lambda: build_config("lightgcn", "ml-1m", overrides=["train.lr=[0.1"], config_dir=tmp_path),
                         "override 'train.lr=[0.1' is not valid YAML (line 1, column 5)"),
                        (lambda: parse_grid(["model.l2=[1"]), "grid entry 'model.l2=[1' is not valid YAML")):
        with pytest.raises(ConfigError) as error:
            call()
        assert where in str(error.value) and "\n" not in str(error.value)


def test_model_key_at_the_top_level_points_to_model(tmp_path):
    with pytest.raises(ConfigError, match=r"under 'model'.*model\.llm"):
        build_config("glta", "synthetic", overrides=["llm.name=/models/x"], config_dir=tmp_path)


def test_another_methods_config_file_says_how_to_share_its_data_settings(tmp_path):
    """A GLTA run's YAML (`glta train glta --print-config`) given to `glta pretrain` (LightGCN) for its data settings
    was refused with no way out named."""
    (tmp_path / "run.yaml").write_text("method: glta\ndata:\n  name: synthetic\n  k_core: 2\n")
    with pytest.raises(ConfigError, match="trains 'lightgcn': .*give the data.\\* settings as overrides, or a file "
                                          "with the data section alone"):
        build_config("lightgcn", None, files=[tmp_path / "run.yaml"], config_dir=tmp_path)
    (tmp_path / "data.yaml").write_text("data:\n  name: synthetic\n  k_core: 2\n")
    assert build_config("lightgcn", None, files=[tmp_path / "data.yaml"], config_dir=tmp_path).data.k_core == 2


def test_unknown_method():
    with pytest.raises(ConfigError, match="unknown method"):
        build_config("nope", "ml-1m")


def test_parse_override():
    assert parse_override("a.b.c=3") == {"a": {"b": {"c": 3}}}


def test_repository_configs_load():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "configs"
    files = sorted(f for f in root.glob("*/*.yaml") if f.parent.name != "accelerate")  # launch configs: their own test
    assert files, "configs/ should hold one file per data set and method"
    for path in files:
        build_config(path.stem, path.parent.name, config_dir=root)


def test_the_shipped_configs_are_found_wherever_the_command_runs(tmp_path, monkeypatch):
    """The per-data-set configs ship inside the package: a run started outside the repository trains the documented
    model, not the bare defaults; ``$GLTA_CONFIG_DIR`` points at a folder of one's own."""
    repo = build_config("lightgcn", "ml-1m", config_dir=Path(__file__).resolve().parents[1] / "configs").to_dict()
    assert repo != build_config("lightgcn", "ml-1m", config_dir=tmp_path).to_dict()  # the file changes something
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GLTA_CONFIG_DIR", raising=False)
    assert build_config("lightgcn", "ml-1m").to_dict() == repo
    (tmp_path / "own" / "ml-1m").mkdir(parents=True)
    (tmp_path / "own" / "ml-1m" / "lightgcn.yaml").write_text("train:\n  lr: 0.0123\n")
    monkeypatch.setenv("GLTA_CONFIG_DIR", str(tmp_path / "own"))
    assert build_config("lightgcn", "ml-1m").train.lr == 0.0123


@pytest.mark.parametrize("override, key", [
    ("train.batch_size=-5", "train.batch_size"), ("train.batch_size=0", "train.batch_size"),
    ("train.epochs=0", "train.epochs"), ("train.lr=0", "train.lr"), ("train.lr=-1e-3", "train.lr"),
    ("train.eval_every=0", "train.eval_every"), ("train.patience=0", "train.patience"),
    ("train.threads=-1", "train.threads"), ("data.valid_ratio=2", "data.valid_ratio"),
    ("data.test_ratio=-0.1", "data.test_ratio"), ("eval.batch_size=0", "eval.batch_size"),
    ("eval.ks=[0,10]", "eval.ks"), ("eval.ks=[]", "eval.ks"), ("model.dim=0", "model.dim"),
    ("train.lr=.nan", "train.lr"), ("train.select_metric=N@50", "train.select_metric"),
])
def test_out_of_range_options_are_refused_naming_the_key(override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        build_config("lightgcn", "synthetic", overrides=[override])


def test_ratios_must_leave_room_for_training():
    with pytest.raises(ConfigError, match="below 1"):
        build_config("lightgcn", "synthetic", overrides=["data.valid_ratio=0.5", "data.test_ratio=0.5"])


@pytest.mark.parametrize("override, choices", [
    ("model.inference=first_kk", "first_k, first_logit, autoregressive"), ("model.head=free", "linear, tied"),
    ("model.ia_loss=items", "catalogue, group"), ("model.ua_softmax=all", "catalogue, unseen"),
    ("model.target_mode=mixed", "overlap, disjoint"), ("model.missing_texts=skip", "error, empty"),
    ("model.llm.dtype=half", "auto, bfloat16, bf16, float32, fp32, float16, fp16"),
    ("model.llm.quantization=nf4", "none, 4bit, 8bit"),
    ("data.split=loo", "default, given, random, leave-last, temporal"),
])
def test_an_option_with_choices_is_refused_when_the_config_is_built_naming_them(override, choices):
    """Before any data or LLM is loaded (a 7B LLM takes minutes): the key, the value and every choice."""
    key, value = override.split("=")
    with pytest.raises(ConfigError, match=f"{key.replace('.', '[.]')}={value} .*; choose one of {choices}$"):
        build_config("glta_plus", "synthetic", overrides=[override])
    with pytest.raises(ConfigError, match=f"'{key.replace('.', '[.]')}' expects one of {choices}, got 3"):
        build_config("glta_plus", "synthetic", overrides=[f"{key}=3"])
    assert build_config("glta", "synthetic", overrides=[f"{key}={choices.split(', ')[-1]}"])  # a choice is taken


def test_options_that_bound_each_other_are_refused_when_the_config_is_built():
    with pytest.raises(ConfigError, match=r"model\.supervised_slots=30 exceeds model\.output_slots=20"):
        build_config("glta", "synthetic", overrides=["model.supervised_slots=30"])
    with pytest.raises(ConfigError, match=r"model\.fusion_grid must list weights in \[0, 1\].*got \[0\.5, 1\.5\]"):
        build_config("glta_plus", "synthetic", overrides=["model.fusion_grid=[0.5, 1.5]"])
    with pytest.raises(ConfigError, match=r"model\.fusion_grid must list weights"):
        build_config("glta_plus", "synthetic", overrides=["model.fusion_grid=[]"])
    # the grid is read only by the fusion: with it off, the paper's GLTA takes the config as it is
    assert build_config("glta", "synthetic", overrides=["model.fusion_grid=[]"]).model.fusion is False
    # what GLTA reads by name, before the data set or the LLM is loaded
    with pytest.raises(ConfigError, match=r"model\.graph=hccf: .*; choose one of lightgcn, lightgcn_plus, rlmrec_con"):
        build_config("glta_plus", "synthetic", overrides=["model.graph=hccf"])
    with pytest.raises(ConfigError, match=r"model\.ua_template=user_last: no such prompt template .*user_item"):
        build_config("glta", "synthetic", overrides=["model.ua_template=user_last"])
    with pytest.raises(ConfigError, match=r"^data\.valid_ratio \+ data\.test_ratio must be below 1"):
        build_config("lightgcn", "synthetic", overrides=["data.valid_ratio=0.6", "data.test_ratio=0.4"])


def test_glta_numeric_options_are_checked():
    with pytest.raises(ConfigError, match=r"model\.ia_group_size"):
        build_config("glta", "synthetic", overrides=["model.ia_group_size=0"])
    with pytest.raises(ConfigError, match=r"model\.head_lr_scale"):
        build_config("glta_plus", "synthetic", overrides=["model.head_lr_scale=0"])


def test_a_data_set_without_a_config_gets_the_methods_defaults(tmp_path):
    """No configs/<data>/glta.yaml: GLTA still trains in batches of 32 users with its documented settings, not the
    graph models' 8,192 pairs (which ran out of memory on a 24 GB machine)."""
    glta = build_config("glta", "my-new-data", config_dir=tmp_path)
    assert (glta.train.batch_size, glta.train.epochs, glta.train.lr, glta.eval.batch_size) == (32, 20, 2e-3, 256)
    assert glta.train.patience == 3 and glta.model.supervised_slots == 20
    assert glta.model.head_lr_scale == 0.1 and glta.model.ia_epochs == 4
    assert glta.model.ua_template == "user_item_text_first" and glta.model.missing_texts == "error"
    changed = build_config("glta", "my-new-data", config_dir=tmp_path, overrides=["train.batch_size=8"])
    assert changed.train.batch_size == 8
    assert build_config("lightgcn", "my-new-data", config_dir=tmp_path).train.batch_size == 8192


def test_an_unknown_schedule_is_named_with_the_choices():
    with pytest.raises(ConfigError, match="train.schedule=linear .* constant, cosine"):
        build_config("lightgcn", "synthetic", overrides=["train.schedule=linear"])
    with pytest.raises(ConfigError, match="min_lr_ratio"):
        build_config("lightgcn", "synthetic", overrides=["train.min_lr_ratio=2"])


# where a data set's GLTA+ config keeps settings its GLTA config has since changed (each file's header says why)
GLTA_PLUS_KEEPS = {"ml-1m": {("train", "epochs"): 8, ("train", "patience"): 2, ("eval", "valid_users"): 1000,
                             ("model", "supervised_slots"): 10},
                   "amazon-scientific": {("model", "graph"): "lightgcn_plus"}}


@pytest.mark.parametrize("dataset", ["ml-1m", "amazon-scientific", "goodreads-once"])
def test_glta_plus_configs_of_the_paper_data_sets_are_their_glta_configs(dataset):
    """Table 2's GLTA and GLTA+ rows differ only in GLTA+'s own switches (configs/<data>/glta_plus.yaml says so),
    apart from the settings listed in GLTA_PLUS_KEEPS."""
    import yaml

    folder = Path(__file__).resolve().parents[1] / "configs" / dataset
    plus, glta = (yaml.safe_load((folder / name).read_text()) for name in ("glta_plus.yaml", "glta.yaml"))
    for (section, key), value in GLTA_PLUS_KEEPS.get(dataset, {}).items():
        assert plus[section][key] == value and glta[section].get(key) != value
        glta[section][key] = value
    assert plus == glta


def test_configs_carry_the_settings_chosen_on_validation():
    """A grid-chosen results file (``selection``) was made with exactly what ``configs/`` now says, so
    `glta train METHOD --dataset DATA` trains the model its Table 2 row reports (the run's threads and seed aside)."""
    import json
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    checked = 0
    for path in sorted((repo / "results").glob("*/*.json")):
        record = json.loads(path.read_text())
        if "selection" not in record:
            continue
        made = record["provenance"]["config"]
        now = build_config(record["method"], path.parent.name, config_dir=repo / "configs").to_dict()
        for section in ("train", "model"):
            for key, value in made[section].items():
                if key not in ("threads", "seed", "llm", "generation"):
                    assert now[section][key] == value, \
                        f"{path}: {section}.{key} was {value}, configs say {now[section][key]}"
        checked += 1
    assert checked >= 10
