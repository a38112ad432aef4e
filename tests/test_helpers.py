"""course.helpers: data loaders, mirror verification, toy data, gradient check, plots, environment."""

import shutil
import subprocess
import sys

import matplotlib
import numpy as np
import pytest

from course import helpers

matplotlib.use("Agg")


# ----------------------------------------------------------------------------- toy data

def test_make_xor_is_the_truth_table_in_columns():
    X, Y = helpers.make_xor()
    assert X.shape == (2, 4) and Y.shape == (1, 4)
    assert np.array_equal(Y[0], np.logical_xor(X[0], X[1]).astype(float))


def test_make_moons_shapes_balance_and_seed():
    X, Y = helpers.make_moons(101, noise=0.1, seed=3)
    assert X.shape == (2, 101) and Y.shape == (1, 101)
    assert set(np.unique(Y)) == {0.0, 1.0} and abs(Y.sum() - 50.5) <= 0.5
    assert np.array_equal(X, helpers.make_moons(101, noise=0.1, seed=3)[0])
    assert not np.array_equal(X, helpers.make_moons(101, noise=0.1, seed=4)[0])


def test_make_moons_without_noise_lies_on_two_arcs():
    X, Y = helpers.make_moons(50, noise=0.0)
    outer = X[:, Y[0] == 0]
    inner = X[:, Y[0] == 1]
    assert np.allclose(np.hypot(outer[0], outer[1]), 1.0)
    assert np.allclose(np.hypot(inner[0] - 1, inner[1] - 0.5), 1.0)


@pytest.mark.parametrize("kwargs", [{"n": 1}, {"n": 10, "noise": -0.1}])
def test_make_moons_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        helpers.make_moons(**kwargs)


# ----------------------------------------------------------------------------- gradient check

def test_numerical_gradient_matches_an_analytic_gradient():
    A = np.random.default_rng(0).normal(size=(3, 4))
    x = np.random.default_rng(1).normal(size=(4, 2))
    numeric = helpers.numerical_gradient(lambda: float(np.sum((A @ x) ** 2)), x)
    assert helpers.relative_error(numeric, 2 * A.T @ (A @ x)) < 1e-7
    assert np.array_equal(x, np.random.default_rng(1).normal(size=(4, 2))), "x must be restored"


def test_relative_error_detects_a_wrong_gradient_and_checks_shapes():
    assert helpers.relative_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert helpers.relative_error([1.0, 2.0], [1.0, 4.0]) > 0.3
    with pytest.raises(ValueError, match="shapes differ"):
        helpers.relative_error(np.ones(2), np.ones(3))
    with pytest.raises(ValueError, match="float ndarray"):
        helpers.numerical_gradient(lambda: 0.0, np.ones(3, dtype=int))


# ----------------------------------------------------------------------------- plain values for the tests

class _Agreeable(np.ndarray):
    def __array_function__(self, func, types, args, kwargs):
        return True

    def __eq__(self, other):
        return np.ones(np.shape(self), dtype=bool)


class _AlwaysEqual(float):
    def __eq__(self, other):
        return True


class _Ufunc(np.ndarray):
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return True


class _Convertible:
    def __array__(self, dtype=None, copy=None):
        return np.zeros(3)


class _Hookless(np.ndarray):
    pass


class _HooklessFloat(float):
    pass


def _object_array(*items):
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def test_plain_keeps_python_and_numpy_scalars_with_their_types():
    for value in (3, 2.5, True, 1j, "text", None, np.float32(1.5), np.int64(7), np.bool_(True)):
        out = helpers.plain(value)
        assert type(out) is type(value) and (out == value or value is None)


def test_plain_turns_arrays_into_base_class_copies_with_their_dtype():
    a = np.arange(6, dtype=np.int32).reshape(2, 3)
    out = helpers.plain(a)
    assert type(out) is np.ndarray and out.dtype == np.int32 and np.array_equal(out, a) and out is not a
    sub = helpers.plain(np.ones(3, dtype=np.float32).view(_Hookless))
    assert type(sub) is np.ndarray and sub.dtype == np.float32
    assert type(helpers.plain(_HooklessFloat(2.0))) is float


def test_plain_converts_containers_element_by_element():
    Pair = __import__("collections").namedtuple("Pair", "a b")
    out = helpers.plain({"W": np.ones(2).view(_Hookless), "costs": [1.0, np.float64(2.0)], "pair": Pair(1, (2, 3))})
    assert type(out["W"]) is np.ndarray and out["costs"] == [1.0, 2.0]
    assert type(out["pair"]) is tuple and out["pair"] == (1, (2, 3))
    assert helpers.plain({1, 2}) == {1, 2} and helpers.plain((np.int8(1),)) == (1,)


@pytest.mark.parametrize("liar, hook", [
    (np.zeros(3).view(_Agreeable), "__array_function__"),
    (_AlwaysEqual(0.0), "__eq__"),
    (np.zeros(2).view(_Ufunc), "__array_ufunc__"),
    (_Convertible(), "__array__"),
    ([1.0, {"dW": np.zeros(1).view(_Agreeable)}], "__eq__"),
    ((np.ones(2), _object_array(np.zeros(1).view(_Agreeable))), "__array_function__"),
])
def test_plain_refuses_objects_that_could_decide_their_comparisons(liar, hook):
    with pytest.raises(helpers.UntrustedValue, match=hook):
        helpers.plain(liar, "forward(X, p)")
    assert issubclass(helpers.UntrustedValue, TypeError)


def test_plain_refuses_other_objects_and_names_them():
    with pytest.raises(helpers.UntrustedValue, match="my result is a builtins.object"):
        helpers.plain(object(), "my result")
    with pytest.raises(helpers.UntrustedValue, match=r"result\[1\]"):
        helpers.plain([1, object()])


def test_value_hooks_lists_what_python_classes_define_along_the_mro():
    assert helpers.value_hooks(np.ndarray) == [] and helpers.value_hooks(float) == []
    assert {"__array_function__", "__eq__"} <= set(helpers.value_hooks(_Agreeable))
    assert helpers.value_hooks(type("Child", (_Agreeable,), {})) == helpers.value_hooks(_Agreeable)


# ----------------------------------------------------------------------------- datasets

def test_load_mnist_shapes_dtypes_and_ranges(data_dir):
    (x_train, y_train), (x_test, y_test) = helpers.load_mnist(n_train=500, n_test=100)
    assert x_train.shape == (500, 28, 28) and x_test.shape == (100, 28, 28)
    assert y_train.shape == (500,) and y_test.shape == (100,)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8
    assert x_train.max() == 255 and x_train.min() == 0
    assert set(np.unique(y_train)) == set(range(10))


def test_load_mnist_rejects_more_examples_than_the_mirror_has(data_dir):
    with pytest.raises(ValueError, match="n_train=9000 but only 8000"):
        helpers.load_mnist(n_train=9000)
    with pytest.raises(ValueError, match="positive integer"):
        helpers.load_mnist(n_test=0)


def test_load_cat_vs_noncat_is_balanced_over_the_nine_other_classes(data_dir, monkeypatch):
    (x_train, y_train), (x_test, y_test) = helpers.load_cat_vs_noncat(n_train=2000, n_test=400)
    assert x_train.shape == (2000, 32, 32, 3) and x_test.shape == (400, 32, 32, 3)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8 and y_train.shape == (2000,)
    assert y_train.sum() == 1000 and y_test.sum() == 200
    # the non-cats come evenly from the nine other classes: look them up in the mirror
    with np.load(helpers.mirror_file("cifar10")) as data:
        lookup = {x.tobytes(): int(c) for x, c in zip(data["x_train"], data["y_train"][:, 0])}
    classes = np.array([lookup[x.tobytes()] for x in x_train])
    assert np.all((classes == helpers.CAT) == (y_train == 1))
    counts = np.bincount(classes[y_train == 0], minlength=10)
    assert counts[helpers.CAT] == 0 and set(np.delete(counts, helpers.CAT)) <= {111, 112}


def test_loaders_read_the_mirror_named_by_the_variable(data_dir, tmp_path, monkeypatch):
    (tmp_path / "mnist").mkdir()
    shutil.copy(data_dir / "mnist" / "mnist-sample.npz", tmp_path / "mnist")
    monkeypatch.setenv(helpers.DATA_ENV, str(tmp_path))
    assert helpers.mirror_file("mnist") == tmp_path / "mnist" / "mnist-sample.npz"
    assert helpers.load_mnist(10, 10)[0][0].shape == (10, 28, 28)


def test_missing_mirror_file_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv(helpers.DATA_ENV, str(tmp_path))
    with pytest.raises(helpers.DatasetError, match="COURSE_DATA_DIR.*mnist/mnist-sample.npz"):
        helpers.load_mnist()


def test_missing_mirror_directory_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv(helpers.DATA_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(helpers.DatasetError, match="COURSE_DATA_DIR=.*is not a directory"):
        helpers.load_cat_vs_noncat()


def test_corrupt_mirror_file_reports_the_failed_checksum(tmp_path, monkeypatch):
    (tmp_path / "cifar10").mkdir()
    (tmp_path / "cifar10" / "cifar10-sample.npz").write_bytes(b"not the real file")
    monkeypatch.setenv(helpers.DATA_ENV, str(tmp_path))
    expected = helpers.DATASETS["cifar10"][1]
    with pytest.raises(helpers.DatasetError, match=f"corrupt: md5 [0-9a-f]{{32}}, expected {expected}"):
        helpers.load_cat_vs_noncat()


def test_mirror_checksums_match_the_mirror_readme(data_dir):
    readme = (data_dir / "README.md").read_text()
    for relative, md5 in helpers.DATASETS.values():
        assert f"{relative} |" in readme and md5 in readme
        assert helpers.md5sum(data_dir / relative) == md5


def test_unknown_dataset_is_a_value_error():
    with pytest.raises(ValueError, match="unknown dataset"):
        helpers.mirror_file("imagenet")


# ----------------------------------------------------------------------------- plots

def test_plot_history_accepts_lists_dicts_and_keras_like_histories():
    import matplotlib.pyplot as plt

    class History:  # what keras' fit returns: an object with a .history dict
        history = {"loss": [1.0, 0.5], "accuracy": [0.5, 0.8]}

    fig = helpers.plot_history([3.0, 2.0, 1.0])
    assert len(fig.axes[0].lines) == 1
    fig = helpers.plot_history(History(), metrics=["accuracy"])
    assert [line.get_label() for line in fig.axes[0].lines] == ["accuracy"]
    fig = helpers.plot_history([History(), {"loss": [2.0, 1.0]}], metrics=["loss"], labels=["a", "b"])
    assert [line.get_label() for line in fig.axes[0].lines] == ["a loss", "b loss"]
    with pytest.raises(ValueError, match="has no 'val_loss'"):
        helpers.plot_history(History(), metrics=["val_loss"])
    plt.close("all")


def test_show_images_draws_a_titled_grid():
    import matplotlib.pyplot as plt

    fig = helpers.show_images(np.zeros((5, 8, 8)), titles=list("abcde"), ncols=3)
    assert len(fig.axes) == 6 and fig.axes[4].get_title() == "e"
    helpers.show_images(np.zeros((2, 8, 8, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="shape"):
        helpers.show_images(np.zeros(8))
    with pytest.raises(ValueError, match="titles"):
        helpers.show_images(np.zeros((2, 8, 8)), titles=["one"])
    plt.close("all")


def test_plot_decision_boundary_calls_predict_on_column_points():
    import matplotlib.pyplot as plt

    X, Y = helpers.make_xor()
    shapes = []

    def predict(P):
        shapes.append(P.shape)
        return (P[0] > 0.5).astype(int)

    fig = helpers.plot_decision_boundary(predict, X, Y, resolution=20)
    assert shapes == [(2, 400)] and fig.axes
    with pytest.raises(ValueError, match=r"\(2, m\)"):
        helpers.plot_decision_boundary(predict, X.T, Y)
    plt.close("all")


# ----------------------------------------------------------------------------- environment

def test_importing_helpers_has_no_heavy_side_effects():
    code = "import sys, course.helpers; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"] and out.stderr == ""


def test_quiet_tensorflow_keeps_start_up_logs_off_stderr():
    code = ("from course import helpers; helpers.quiet_tensorflow(); import keras; "
            "import numpy as np; keras.layers.Dense(2)(np.ones((1, 3))); print(helpers.environment_report())")
    env = {k: v for k, v in __import__("os").environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stderr == "", f"TensorFlow wrote to stderr: {out.stderr[:500]}"
    assert "Keras 3." in out.stdout and "TensorFlow 2." in out.stdout


def test_set_seed_makes_numpy_and_python_repeatable():
    import random

    helpers.set_seed(7)
    first = (random.random(), np.random.rand())
    helpers.set_seed(7)
    assert (random.random(), np.random.rand()) == first


def test_expect_close_says_what_was_checked_what_was_expected_and_what_came_back():
    with pytest.raises(AssertionError) as failed:
        helpers.expect_close(1 / (1 + np.exp(np.array([0.0, 2.0, -2.0]))), [0.5, 0.8807970779778823, 0.11920292202211755],
                             "sigmoid([0, 2, -2])")
    assert str(failed.value) == ("sigmoid([0, 2, -2]): expected [0.5, 0.8808, 0.1192], got [0.5, 0.1192, 0.8808] "
                                 "(largest difference 0.762 at index 1)")
    with pytest.raises(AssertionError, match=r"update_params\(\)\['W1'\]: expected 0.95, got a float array of shape "
                                             r"\(4, 5\) starting \[0, 1, 2, ...\].*at index \(3, 4\)"):
        helpers.expect_close(np.arange(20.0).reshape(4, 5), 0.95, "update_params()['W1']")
    with pytest.raises(AssertionError, match=r"cost: expected 0.693147, got 0.5 \(largest difference 0.193\)"):
        helpers.expect_close(0.5, np.log(2), "cost")
    with pytest.raises(AssertionError, match=r"sigmoid\(z\): expected \[1, 1\], got \[nan, 1\] \(NaN at index 0\)"):
        helpers.expect_close(np.array([np.nan, 1.0]), [1.0, 1.0], "sigmoid(z)")
    helpers.expect_close(np.full((2, 3), 0.95 + 1e-9), 0.95, "close enough")


def test_expect_shape_and_expect_equal_name_the_dimension_and_the_first_difference():
    with pytest.raises(AssertionError, match=r"W1: expected shape \(4, 2\), got \(2, 4\) \(dimension 0 is 2, expected 4, "
                                             r"dimension 1 is 4, expected 2\)"):
        helpers.expect_shape(np.zeros((2, 4)), (4, 2), "W1")
    with pytest.raises(AssertionError, match=r"expected 3 dimensions, got 2"):
        helpers.expect_shape(np.zeros((2, 4)), (2, 4, 1), "x")
    with pytest.raises(AssertionError, match=r"predict\(X\): expected \[\[0, 1, 1, 0\]\], got \[\[0, 1, 1, 1\]\] "
                                             r"\(first difference at index \(0, 3\)\)"):
        helpers.expect_equal(np.array([[0, 1, 1, 1]]), np.array([[0, 1, 1, 0]]), "predict(X)")
    with pytest.raises(AssertionError, match=r"len\(costs\): expected 2000, got 3"):
        helpers.expect_equal(3, 2000, "len(costs)")
    helpers.expect_equal(np.array([[0, 1]]), np.array([[0.0, 1.0]]), "labels as ints equal to float labels")


def test_expect_helpers_refuse_a_value_that_decides_its_own_comparisons():
    class Agreeable(float):
        def __eq__(self, other):
            return True

    with pytest.raises(helpers.UntrustedValue):
        helpers.expect_equal(Agreeable(1.0), 2.0, "compute_cost")
    with pytest.raises(helpers.UntrustedValue):
        helpers.expect_close(Agreeable(1.0), 2.0, "compute_cost")


def test_expect_shape_wants_an_array_not_a_list_of_the_right_length():
    with pytest.raises(AssertionError, match=r"y: expected an array of shape \(1, 6\), got a list"):
        helpers.expect_shape([[2, 1, 0, 3, 3, 4]], (1, 6), "y")
