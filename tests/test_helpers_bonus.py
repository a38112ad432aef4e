"""course.helpers, bonus data (ex10, ex11): the surnames data set and tiny Shakespeare, mirror use and errors."""

import shutil
import sys

import numpy as np
import pytest

from course import helpers

SPLIT_SIZES = {"train": 7680, "val": 1640, "test": 1660}


# ----------------------------------------------------------------------------- surnames (ex10)

def test_load_surnames_splits_sizes_dtypes_and_labels(data_dir):
    splits = helpers.load_surnames()
    assert len(splits) == 3
    for (surnames, labels), (split, size) in zip(splits, SPLIT_SIZES.items()):
        assert surnames.shape == (size,) and labels.shape == (size,), split
        assert surnames.dtype.kind == "U" and labels.dtype == np.int64, split
        assert labels.min() == 0 and labels.max() == len(helpers.NATIONALITIES) - 1, f"all 18 classes in {split}"
        assert all(len(name) >= 1 for name in surnames)
    assert len(helpers.NATIONALITIES) == 18 and list(helpers.NATIONALITIES) == sorted(helpers.NATIONALITIES)


def test_load_surnames_keeps_the_files_split_and_labels(data_dir):
    rows = helpers.read_surnames(data_dir / "surnames" / "surnames_with_splits.csv")
    assert len(rows) == 10980
    (train, train_labels), _, _ = helpers.load_surnames()
    expected = {(nationality, surname) for nationality, split, surname in rows if split == "train"}
    got = {(helpers.NATIONALITIES[label], surname) for surname, label in zip(train, train_labels)}
    assert got == expected, "the train split of the file, with its nationalities"
    # the imbalance students must report: English is the majority class, about 27 % of every split
    counts = np.bincount(train_labels, minlength=18)
    assert helpers.NATIONALITIES[int(np.argmax(counts))] == "English"
    assert 0.26 < counts.max() / counts.sum() < 0.28 and counts.min() < 50


def test_load_surnames_subsets_are_shuffled_and_seeded(data_dir):
    (train, labels), (val, _), (test, _) = helpers.load_surnames(n_train=500, n_val=100, n_test=50)
    assert train.shape == (500,) and val.shape == (100,) and test.shape == (50,)
    assert len(np.unique(labels)) >= 12, "the file is sorted by nationality: subsets must be shuffled first"
    (again, _), _, _ = helpers.load_surnames(n_train=500, n_val=100, n_test=50)
    (other, _), _, _ = helpers.load_surnames(n_train=500, n_val=100, n_test=50, seed=1)
    assert np.array_equal(train, again) and not np.array_equal(train, other)
    full = helpers.load_surnames()[0][0]
    assert np.array_equal(full[:500], train), "a subset is the start of the shuffled split"


@pytest.mark.parametrize("kwargs, message", [
    ({"n_train": 8000}, "n_train=8000 but the train split has only 7680"),
    ({"n_val": 0}, "n_val must be a positive integer"),
    ({"n_test": 2.5}, "n_test must be a positive integer"),
    ({"n_train": True}, "n_train must be a positive integer"),
])
def test_load_surnames_rejects_bad_sizes(data_dir, kwargs, message):
    with pytest.raises(ValueError, match=message):
        helpers.load_surnames(**kwargs)


@pytest.mark.parametrize("content, message", [
    ("surname,nationality,split\nTotah,Arabic,train\n", "expected the columns nationality,split,surname"),
    ("nationality,split,surname\nArabic,train,Totah\nKlingon,train,Worf\n", "line 3"),
    ("nationality,split,surname\nArabic,dev,Totah\n", "line 2"),
    ("nationality,split,surname\nArabic,train,\n", "line 2"),
    ("", "expected the columns"),
])
def test_read_surnames_rejects_a_malformed_file(tmp_path, content, message):
    path = tmp_path / "surnames.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(helpers.DatasetError, match=message):
        helpers.read_surnames(path)


# ----------------------------------------------------------------------------- tiny Shakespeare (ex11)

def test_load_shakespeare_is_the_char_rnn_text(data_dir):
    text = helpers.load_shakespeare()
    assert isinstance(text, str) and len(text) == 1115394
    assert text.startswith("First Citizen:\nBefore we proceed any further, hear me speak.")
    assert len(set(text)) == 65 and set(text) >= set("abcdefghijklmnopqrstuvwxyz\n .,;:!?'")


def test_load_shakespeare_slices(data_dir):
    text = helpers.load_shakespeare()
    assert helpers.load_shakespeare(100) == text[:100]
    assert helpers.load_shakespeare(50, start=1000) == text[1000:1050]
    assert helpers.load_shakespeare(start=len(text) - 5) == text[-5:]


@pytest.mark.parametrize("kwargs, error, message", [
    ({"n_chars": 0}, ValueError, "n_chars must be an integer >= 1"),
    ({"n_chars": "100"}, ValueError, "n_chars must be an integer >= 1"),
    ({"start": -1}, ValueError, "start must be an integer >= 0"),
    ({"n_chars": 10, "start": 1115390}, ValueError, "only 1115394"),
])
def test_load_shakespeare_rejects_bad_slices(data_dir, kwargs, error, message):
    with pytest.raises(error, match=message):
        helpers.load_shakespeare(**kwargs)


# ----------------------------------------------------------------------------- mirror use and its errors

@pytest.mark.parametrize("name, relative", [("surnames", "surnames/surnames_with_splits.csv"),
                                            ("tinyshakespeare", "tinyshakespeare/input.txt")])
def test_bonus_datasets_are_registered_with_the_mirror_checksums(data_dir, name, relative):
    assert helpers.DATASETS[name][0] == relative
    assert helpers.md5sum(data_dir / relative) == helpers.DATASETS[name][1]
    assert relative in (data_dir / "README.md").read_text()


def test_bonus_loaders_read_the_mirror_named_by_the_variable(data_dir, tmp_path, monkeypatch):
    for relative in ("surnames/surnames_with_splits.csv", "tinyshakespeare/input.txt"):
        (tmp_path / relative).parent.mkdir()
        shutil.copy(data_dir / relative, tmp_path / relative)
    monkeypatch.setenv(helpers.DATA_ENV, str(tmp_path))
    assert helpers.dataset_file("surnames", helpers.SURNAMES_URL) == tmp_path / "surnames" / "surnames_with_splits.csv"
    assert helpers.load_surnames(n_train=3)[0][0].shape == (3,)
    assert helpers.load_shakespeare(14) == "First Citizen:"


def test_bonus_loaders_do_not_download_when_the_mirror_is_set(data_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "keras", None)  # `import keras` would fail: the mirror must suffice
    assert len(helpers.load_shakespeare(10)) == 10
    assert helpers.load_surnames(n_train=1, n_val=1, n_test=1)[0][0].shape == (1,)


@pytest.mark.parametrize("loader, relative", [(helpers.load_surnames, "surnames/surnames_with_splits.csv"),
                                              (helpers.load_shakespeare, "tinyshakespeare/input.txt")])
def test_missing_bonus_mirror_file_names_the_variable(tmp_path, monkeypatch, loader, relative):
    monkeypatch.setenv(helpers.DATA_ENV, str(tmp_path))
    with pytest.raises(helpers.DatasetError, match=f"COURSE_DATA_DIR.*{relative}"):
        loader()


@pytest.mark.parametrize("name, loader", [("surnames", helpers.load_surnames),
                                          ("tinyshakespeare", helpers.load_shakespeare)])
def test_corrupt_bonus_mirror_file_reports_the_failed_checksum(tmp_path, monkeypatch, name, loader):
    relative, expected = helpers.DATASETS[name]
    (tmp_path / relative).parent.mkdir()
    (tmp_path / relative).write_text("nationality,split,surname\nArabic,train,Totah\n", encoding="utf-8")
    monkeypatch.setenv(helpers.DATA_ENV, str(tmp_path))
    with pytest.raises(helpers.DatasetError, match=f"corrupt: md5 [0-9a-f]{{32}}, expected {expected}"):
        loader()


def test_failed_download_is_a_dataset_error_naming_the_variable(monkeypatch):
    """Without the mirror the loaders download with keras.utils.get_file; a failure says what to do."""

    class FakeUtils:
        calls = []

        @staticmethod
        def get_file(fname, origin, file_hash, cache_subdir):
            FakeUtils.calls.append((fname, origin, file_hash, cache_subdir))
            raise ValueError("Incomplete or corrupted file detected")

    class FakeKeras:
        utils = FakeUtils

    monkeypatch.delenv(helpers.DATA_ENV, raising=False)
    monkeypatch.setattr(helpers, "quiet_tensorflow", lambda: None)
    monkeypatch.setitem(sys.modules, "keras", FakeKeras)
    with pytest.raises(helpers.DatasetError, match="could not download tinyshakespeare.*COURSE_DATA_DIR"):
        helpers.load_shakespeare()
    with pytest.raises(helpers.DatasetError, match="could not download surnames"):
        helpers.load_surnames()
    assert FakeUtils.calls == [
        ("input.txt", helpers.SHAKESPEARE_URL, helpers.DATASETS["tinyshakespeare"][1], "datasets/tinyshakespeare"),
        ("surnames_with_splits.csv", helpers.SURNAMES_URL, helpers.DATASETS["surnames"][1], "datasets/surnames"),
    ]
    assert helpers.SHAKESPEARE_URL.startswith("https://raw.githubusercontent.com/karpathy/char-rnn/")


def test_dataset_file_rejects_an_unknown_name():
    with pytest.raises(ValueError, match="unknown dataset"):
        helpers.dataset_file("imdb", "https://example.org/imdb.csv")


# ----------------------------------------------------------------------------- plots (ex10)

def test_plot_top_predictions_shows_the_k_best_classes_in_order():
    import matplotlib
    matplotlib.use("Agg")
    probabilities = np.array([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3]])
    fig = helpers.plot_top_predictions(["Abe", "Rossi"], probabilities, ["a", "b", "c"], k=2, labels=[2, 1])
    first, second = fig.axes[:2]
    assert [t.get_text() for t in first.get_yticklabels()] == ["b", "c"]
    assert [round(p.get_width(), 2) for p in first.patches] == [0.6, 0.3]
    assert first.get_title() == "Abe" and second.get_title() == "Rossi"
    assert [matplotlib.colors.to_hex(p.get_facecolor()) for p in first.patches][1] == matplotlib.colors.to_hex("green")


@pytest.mark.parametrize("kwargs, message", [
    ({"probabilities": np.ones((3, 3)) / 3}, "shape"),
    ({"class_names": ["a", "b"]}, "class_names"),
    ({"k": 4}, "k must be between 1 and 3"),
    ({"labels": [0]}, "labels"),
])
def test_plot_top_predictions_rejects_mismatched_arguments(kwargs, message):
    arguments = {"texts": ["x", "y"], "probabilities": np.ones((2, 3)) / 3, "class_names": ["a", "b", "c"]}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        helpers.plot_top_predictions(**arguments)
