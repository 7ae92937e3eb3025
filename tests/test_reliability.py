"""Bad input, as a careless or hostile user would give it: every case ends in one clear error (exit code 2, no
traceback) or in the documented behaviour, never in a silently wrong result."""

import json

import pytest

from glta.cli import main

BAD_FOLDERS = {
    # name: (format, {file: content})
    "ml1m_empty": ("movielens-1m", {"ratings.dat": "", "movies.dat": ""}),
    "ml1m_two_fields": ("movielens-1m", {"ratings.dat": "1::2\n", "movies.dat": "1::A::B\n"}),
    "ml1m_bad_time": ("movielens-1m", {"ratings.dat": "1::2::5::abc\n", "movies.dat": "2::A (1990)::Drama\n"}),
    "ml100k_short_row": ("movielens-100k", {"u.data": "1\t2\n", "u.item": "x", "u.genre": ""}),
    "ml100k_binary": ("movielens-100k", {"u.data": b"\x00\xff\xfe" * 10, "u.item": b"\xff", "u.genre": b""}),
    "amazon_not_gzip": ("amazon", {"reviews.json.gz": "not gzip", "meta_x.json.gz": "nope"}),
    "amazon_truncated": ("amazon", {"Reviews.json": '{"reviewerID": "a", "asin": "b"',
                                    "meta_Reviews.json": '{"asin":"b","title":"t"}\n'}),
    "amazon_wrong_shape": ("amazon", {"Reviews.json": '[1,2,3]\n"str"\n', "meta_Reviews.json": "[]\n"}),
    "amazon_too_deep": ("amazon", {"Reviews.json": "[" * 100000 + "]" * 100000 + "\n",
                                   "meta_Reviews.json": '{"asin":"b"}\n'}),
    "amazon_bad_time": ("amazon", {"Reviews.json": '{"reviewerID":"a","asin":"b","unixReviewTime":"yesterday"}\n',
                                   "meta_Reviews.json": '{"asin":"b","title":"t"}\n'}),
    "lcrec_truncated": ("lcrec", {"X.inter.json": '{"0": [1, 2', "X.item.json": "{}"}),
    "lcrec_list": ("lcrec", {"X.inter.json": "[1,2]", "X.item.json": "[1]"}),
    "lcrec_scalars": ("lcrec", {"X.inter.json": '{"0": 5, "1": "x"}', "X.item.json": '{"1": 3}'}),
    "lcrec_empty": ("lcrec", {"X.inter.json": "", "X.item.json": ""}),
    "csv_empty": ("csv", {"interactions.csv": ""}),
    "csv_header_only": ("csv", {"interactions.csv": "user,item\n"}),
    "csv_bad_time": ("csv", {"interactions.csv": "user,item,timestamp\n1,1,zz\n"}),
    "csv_binary": ("csv", {"interactions.csv": b"\x89PNG\r\n\x1a\n\x00\x00"}),
    "csv_missing_item": ("csv", {"interactions.csv": "user,item\n1,\n"}),
    "csv_no_user_column": ("csv", {"interactions.csv": "who,what\n1,2\n"}),
    "goodreads_not_gzip": ("goodreads", {"goodreads_interactions_x.json.gz": "nope",
                                         "goodreads_books_x.json.gz": "nope"}),
    "recbole_missing_item": ("recbole", {"x.inter": "user_id:token\titem_id:token\n1\n"}),
    "recbole_empty": ("recbole", {"x.inter": ""}),
    "recbole_bad_time": ("recbole", {"x.inter": "user_id:token\titem_id:token\ttimestamp:float\n1\t2\tsoon\n"}),
    "rechorus_missing_columns": ("rechorus", {"train.csv": "a\tb\n1\n"}),
}


def _write(folder, files):
    folder.mkdir(parents=True)
    for name, content in files.items():
        (folder / name).write_bytes(content if isinstance(content, bytes) else content.encode())


def _fails_cleanly(capsys, argv, expect: str | None = None) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("glta: error: ") and "Traceback" not in err
    if expect:
        assert expect in err
    return err


@pytest.mark.parametrize("name", sorted(BAD_FOLDERS))
def test_malformed_data_is_one_clear_error(name, tmp_path, capsys):
    fmt, files = BAD_FOLDERS[name]
    _write(tmp_path / name, files)
    err = _fails_cleanly(capsys, ["data", "stats", "--data-path", str(tmp_path / name), "--format", fmt])
    assert str(tmp_path / name) in err or "<input>" in err  # names the file or folder


def test_a_data_set_where_nobody_can_be_evaluated_is_refused_before_training(tmp_path, capsys):
    path = tmp_path / "one_each.csv"
    path.write_text("user,item\n" + "".join(f"u{n},i{n}\n" for n in range(30)))
    _fails_cleanly(capsys, ["train", "pop", "--data-path", str(path), "--run-dir", str(tmp_path / "run"),
                            "--out", str(tmp_path / "r.json"), "--no-progress"], "nothing could be evaluated")
    assert not (tmp_path / "r.json").exists()


@pytest.mark.parametrize("argv, expect", [
    (["train", "lightgcn", "--dataset", "synthetic", "train.batch_size=-5"], "train.batch_size"),
    (["train", "lightgcn", "--dataset", "synthetic", "data.valid_ratio=2"], "data.valid_ratio"),
    (["train", "lightgcn", "--dataset", "synthetic", "train.epochs=0"], "train.epochs"),
    (["train", "lightgcn", "--dataset", "synthetic", "eval.ks=[5000]"], "eval.ks"),
    (["train", "lightgcn", "--dataset", "synthetic", "nonsense.key=1"], "nonsense"),
    (["text", "generate", "synthetic", "--kinds", "profle"], "unknown kind"),
])
def test_bad_options_are_one_clear_error(argv, expect, tmp_path, capsys):
    _fails_cleanly(capsys, argv + ["--run-dir", str(tmp_path / "run"), "--out", str(tmp_path / "r.json")]
                   if argv[0] == "train" else argv, expect)
    assert not (tmp_path / "r.json").exists()


def test_an_override_after_data_path_is_not_taken_for_a_name(tmp_path, capsys):
    path = tmp_path / "inter.csv"
    path.write_text("user,item\n" + "".join(f"u{n % 5},i{n}\n" for n in range(40)))
    _fails_cleanly(capsys, ["text", "generate", "--data-path", str(path), "generation.batch_sise=4"],
                   "['batch_sise'] in section 'generation'")  # an override (refused as a typo), not a name


def test_an_unknown_method_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["train", "nomethod", "--dataset", "synthetic"])
    assert stop.value.code == 2 and "invalid choice" in capsys.readouterr().err


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rel")
    assert main(["train", "lightgcn", "--dataset", "synthetic", "--run-dir", str(folder / "run"), "--out",
                 str(folder / "r.json"), "--no-progress", "train.epochs=2", "model.dim=8"]) == 0
    return folder


@pytest.mark.parametrize("damage, expect", [
    ("truncate_model", "model.safetensors is missing or damaged"),
    ("remove_model", "model.safetensors is missing or damaged"),
    ("bad_json", "run.json is damaged"),
    ("json_without_config", "run.json is damaged"),
])
def test_a_damaged_run_folder_is_one_clear_error(damage, expect, trained_run, tmp_path, capsys):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained_run / "run", run)
    if damage == "truncate_model":
        (run / "model.safetensors").write_bytes((run / "model.safetensors").read_bytes()[:100])
    elif damage == "remove_model":
        (run / "model.safetensors").unlink()
    elif damage == "bad_json":
        (run / "run.json").write_text("{bad")
    else:
        (run / "run.json").write_text(json.dumps({"identity": {}}))
    _fails_cleanly(capsys, ["evaluate", "--run-dir", str(run), "--no-progress"], expect)
    _fails_cleanly(capsys, ["recommend", "--run-dir", str(run), "--user", "3"], expect)


def test_recommend_flags_out_of_range(trained_run, capsys):
    _fails_cleanly(capsys, ["recommend", "--run-dir", str(trained_run / "run"), "--user", "3", "-k", "-2"],
                   "at least 1")
    _fails_cleanly(capsys, ["recommend", "--run-dir", str(trained_run / "run"), "--user", "nobody"], "unknown user")
