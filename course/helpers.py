"""Data loading, plotting and environment helpers shared by every exercise notebook.

One flat module of short functions, d2l style. Importing it has no side effects and
needs only NumPy and Matplotlib; Keras/TensorFlow are imported lazily by the loaders
that need them.

Data policy: MNIST and CIFAR-10 come from ``keras.datasets`` (which verifies its own
downloads) unless the environment variable ``COURSE_DATA_DIR`` points at a local mirror
(see ``DATASETS``); every mirror file is checked against its md5 sum before use.
"""

from __future__ import annotations

import hashlib
import os
import platform
import random
import re
import sys
from pathlib import Path

import numpy as np

from course.coursedir import DATA_ENV, DatasetError, resolve_data_dir  # noqa: F401 (DatasetError: students catch it here)

# Mirror files, relative to $COURSE_DATA_DIR, with their md5 sums (shared/datasets/README.md).
DATASETS = {
    "mnist": ("mnist/mnist-sample.npz", "5e0a8f80ea66cc29a5c91906fb504380"),
    "cifar10": ("cifar10/cifar10-sample.npz", "84e70731ee459bdd8ab61ebf5af00c8a"),
    "surnames": ("surnames/surnames_with_splits.csv", "c187a642568a221fa2f29d73bbfdebaf"),  # ex10
    "tinyshakespeare": ("tinyshakespeare/input.txt", "6fb458f1232090904fb40fe944165e91"),  # ex11
}

# A mirror made by `dl-course data download` (course/mirror.py) lists here the files it made from another public
# source than the course's own mirror, with their md5: CIFAR-10's sample from the official release.
MIRROR_MANIFEST = "MANIFEST.json"
MAKE_A_MIRROR = (f"Make a mirror with `dl-course data download DIR` (from the public sources, every file checked) "
                 f"and set {DATA_ENV}=DIR, or unset {DATA_ENV} to download each data set when it is first used.")

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
CAT = CIFAR10_CLASSES.index("cat")


class StackError(RuntimeError):
    """The Python packages installed are too old for the course (the message says what to install)."""


# The oldest stack the course is tested with (docs/testing.md: tested stacks); Keras 2 does not run the exercises.
MIN_NUMPY, MIN_KERAS, MIN_TENSORFLOW = (1, 26), (3, 0), (2, 16)


def _version(package):
    """(major, minor) of an installed package, or None when it is not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        text = version(package)
    except PackageNotFoundError:
        return None, None
    numbers = [int(part) for part in re.findall(r"\d+", text)[:2]]
    return tuple(numbers + [0] * (2 - len(numbers))), text


def check_stack():
    """Raise StackError, in one sentence saying what to install, when Keras or TensorFlow is too old."""
    keras_version, keras_text = _version("keras")
    tf_version, tf_text = next(((v, t) for v, t in map(_version, ("tensorflow", "tensorflow-cpu", "tf-nightly"))
                                if v is not None), (None, None))
    if (keras_version is not None and keras_version < MIN_KERAS) or (tf_version is not None and tf_version < MIN_TENSORFLOW):
        raise StackError(f"This course needs Keras 3 with TensorFlow 2.16 or newer, but this runtime has Keras "
                         f"{keras_text or 'missing'} and TensorFlow {tf_text or 'missing'}: on Colab pick a current "
                         f"runtime (Runtime > Change runtime type > Latest), or run `%pip install -U "
                         f"\"tensorflow>=2.17\" \"keras>=3.4\"` and restart the session.")


if tuple(int(p) for p in re.findall(r"\d+", np.__version__)[:2]) < MIN_NUMPY:
    raise StackError(f"This course needs NumPy {MIN_NUMPY[0]}.{MIN_NUMPY[1]} or newer, but this runtime has "
                     f"NumPy {np.__version__}: run `%pip install -U \"numpy>=1.26\"` and restart the session.")


# ----------------------------------------------------------------------------- environment

def quiet_tensorflow():
    """Check the stack (Keras 3, a TensorFlow that goes with it), then import TensorFlow with its C++
    start-up log lines kept off the screen (call before `import keras`)."""
    check_stack()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    # Some lines (absl's "All log messages before absl::InitializeLog()") ignore the
    # variable, so silence the process-level stderr while the libraries load.
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow as tf
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    tf.get_logger().setLevel("ERROR")
    return tf


def set_seed(seed=0):
    """Seed Python, NumPy and (when Keras is already imported) Keras and its backend."""
    random.seed(seed)
    np.random.seed(seed)
    if "keras" in sys.modules:
        sys.modules["keras"].utils.set_random_seed(seed)


def environment_report():
    """One line: Python, NumPy, Keras/TensorFlow versions (when imported) and the devices."""
    parts = [f"Python {platform.python_version()}", f"NumPy {np.__version__}"]
    if "keras" in sys.modules:
        keras = sys.modules["keras"]
        parts.append(f"Keras {keras.__version__} ({keras.backend.backend()} backend)")
    if "tensorflow" in sys.modules:
        tf = sys.modules["tensorflow"]
        gpus = tf.config.list_physical_devices("GPU")
        parts.append(f"TensorFlow {tf.__version__}")
        parts.append(f"GPU: {len(gpus)} ({', '.join(g.name for g in gpus)})" if gpus else "CPU only")
    return " | ".join(parts)


# ----------------------------------------------------------------------------- toy data

def make_xor():
    """The four XOR points in the column convention: X (2, 4) float64, Y (1, 4) in {0, 1}."""
    X = np.array([[0, 0, 1, 1],
                  [0, 1, 0, 1]], dtype=np.float64)
    Y = np.array([[0, 1, 1, 0]], dtype=np.float64)
    return X, Y


def make_moons(n=200, noise=0.1, seed=0):
    """Two interleaving half circles: X (2, n) float64, Y (1, n) in {0, 1} (no scikit-learn needed)."""
    if n < 2:
        raise ValueError(f"make_moons needs n >= 2 points, got n={n}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    rng = np.random.default_rng(seed)
    n_outer = n // 2
    n_inner = n - n_outer
    t_outer = np.linspace(0, np.pi, n_outer)
    t_inner = np.linspace(0, np.pi, n_inner)
    outer = np.stack([np.cos(t_outer), np.sin(t_outer)])
    inner = np.stack([1 - np.cos(t_inner), 1 - np.sin(t_inner) - 0.5])
    X = np.concatenate([outer, inner], axis=1) + rng.normal(0.0, noise, size=(2, n))
    Y = np.concatenate([np.zeros(n_outer), np.ones(n_inner)])[None, :]
    order = rng.permutation(n)
    return X[:, order], Y[:, order]


def numerical_gradient(f, x, eps=1e-6):
    """Central-difference gradient of the scalar function f() with respect to the array x (same shape as x).

    x is perturbed in place, one entry at a time, and restored; f must read x when called.
    """
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"x must be a float ndarray that f reads, got {type(x).__name__}")
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        saved = x[index]
        x[index] = saved + eps
        f_plus = f()
        x[index] = saved - eps
        f_minus = f()
        x[index] = saved
        grad[index] = (f_plus - f_minus) / (2 * eps)
    return grad


class UntrustedValue(TypeError):
    """A result that could decide its own comparisons (an object with its own `__eq__`, `__array__` ...)."""


# Hooks through which an object can answer a comparison, a conversion or NumPy's functions itself.
VALUE_HOOKS = frozenset({
    "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__hash__", "__bool__", "__len__",
    "__iter__", "__getitem__", "__contains__", "__float__", "__int__", "__index__", "__complex__",
    "__abs__", "__round__", "__getattribute__", "__getattr__",
    "__array__", "__array_function__", "__array_ufunc__", "__array_priority__", "__array_interface__",
    "__array_struct__", "__array_wrap__", "__array_finalize__", "__class__", "keys", "items", "values",
})
_PLAIN_SCALARS = frozenset({bool, int, float, complex, str, bytes, type(None)})
_HEAP_TYPE = 1 << 9   # Py_TPFLAGS_HEAPTYPE: a class made by a `class` statement, not by Python or NumPy in C


def value_hooks(cls):
    """The comparison/conversion hooks (VALUE_HOOKS) that classes written in Python define in `cls`'s MRO."""
    own = set()
    for klass in type.__dict__["__mro__"].__get__(cls):
        if type.__dict__["__flags__"].__get__(klass) & _HEAP_TYPE:
            own |= VALUE_HOOKS & set(type.__dict__["__dict__"].__get__(klass))
    return sorted(own)


def plain(value, name="result"):
    """`value` as plain Python and NumPy values that cannot lie in a comparison; tests compare these.

    Python numbers, strings, None and NumPy scalars come back as they are; `np.ndarray` (and subclasses
    that change nothing) as a base-class copy; lists, tuples, dicts and sets element by element (a named
    tuple as a tuple). Anything else, or an object whose class defines its own `__eq__`, `__array__`,
    `__array_function__`, `__array_ufunc__` or another VALUE_HOOKS entry, raises UntrustedValue, since
    it could answer `==`, `np.allclose` or `np.array_equal` however it likes.
    """
    cls = type(value)
    heap = type.__dict__["__flags__"].__get__(cls) & _HEAP_TYPE
    hooks = value_hooks(cls) if heap else []
    if hooks:
        raise UntrustedValue(f"{name} is a {cls.__qualname__} with its own {', '.join(hooks)}: expected plain "
                             f"NumPy arrays and Python numbers (return np.ndarray, float, int, list, tuple, dict)")
    if cls in _PLAIN_SCALARS:
        return value
    if issubclass(cls, np.ndarray):
        array = np.array(value, subok=False, copy=True)
        if array.dtype == object:
            flat = [plain(item, f"{name}[{i}]") for i, item in enumerate(array.ravel().tolist())]
            out = np.empty(len(flat), dtype=object)
            out[:] = flat
            array = out.reshape(array.shape)
        return array
    if issubclass(cls, np.generic):
        return value if not heap else np.array(value, subok=False).reshape(())[()]
    for base in (bool, int, float, complex, str, bytes):
        if issubclass(cls, base):
            return base(value)
    if issubclass(cls, dict):
        return {plain(k, f"{name} key"): plain(v, f"{name}[{k!r}]") for k, v in dict.items(value)}
    for base in (list, tuple, set, frozenset):
        if issubclass(cls, base):
            items = [plain(item, f"{name}[{i}]") for i, item in enumerate(base.__iter__(value))]
            return base(items) if base is not list else items
    raise UntrustedValue(f"{name} is a {cls.__module__}.{cls.__qualname__}: expected plain NumPy arrays and "
                         f"Python numbers (np.ndarray, float, int, str, list, tuple, dict)")


def partial_credit(earned, possible=1):
    """In a test cell: give `earned / possible` of the cell's points (nbgrader's partial credit, the course's way).

    Call it once, as the cell's last line, from the test cell's own code (`helpers.partial_credit(passed, 3)`);
    a cell that raises still scores zero. When graded, the award counts only if it comes directly from the
    running test cell (student code that calls it gains nothing and is flagged) and the smallest award of a
    cell counts; a test cell that calls it but never gets there scores zero. Outside grading it says what the
    cell would earn. Returns the share (0..1).
    """
    if isinstance(earned, bool) or isinstance(possible, bool) or not all(
            isinstance(v, (int, float, np.integer, np.floating)) for v in (earned, possible)):
        raise ValueError(f"partial_credit(earned, possible) takes two numbers, got {earned!r} and {possible!r}")
    if not 0 < possible or not 0 <= earned <= possible:
        raise ValueError(f"partial_credit: expected 0 <= earned <= possible and possible > 0, got {earned} of {possible}")
    share = float(earned) / float(possible)
    for judge in ("course.grading.checker", "course.grading.guard"):   # whichever grades this cell
        if judge in sys.modules:
            sys.modules[judge].award(share)
    print(f"partial credit: {earned:g} of {possible:g} ({share:.0%} of this cell's points)")
    return share


def show(value, limit=6):
    """A short text for `value` in a check's message: a small array in full, a large one by its shape, its first
    values and its range; a long text cut."""
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        if value.size <= limit:
            return np.array2string(value, separator=", ", formatter={"float_kind": lambda v: f"{v:.4g}"}).replace("\n", "")
        first = ", ".join(f"{v:.4g}" for v in value.ravel()[:3].tolist())
        kind = "an int" if value.dtype.kind in "iu" else "a bool" if value.dtype.kind == "b" else "a float"
        return (f"{kind} array of shape {value.shape} starting [{first}, ...], min {np.min(value):.4g}, "
                f"max {np.max(value):.4g}")
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _index(index):
    index = tuple(int(i) for i in index)
    return str(index[0]) if len(index) == 1 else str(index)


def _check_shape(what, got, expected):
    """Fail unless shape `got` is `expected`, naming the dimensions that differ."""
    got, expected = tuple(got), tuple(expected)
    if got == expected:
        return
    if len(got) != len(expected):
        difference = f"expected {len(expected)} dimensions, got {len(got)}"
    else:
        difference = ", ".join(f"dimension {i} is {g}, expected {e}"
                               for i, (g, e) in enumerate(zip(got, expected)) if g != e)
    raise AssertionError(f"{what}: expected shape {expected}, got {got} ({difference})")


def expect_shape(got, expected_shape, what):
    """Fail with what was expected and what came back unless `got` is an array (anything with a .shape) of
    `expected_shape`; `what` names the value in the student's terms ("init_params(2, 4, 1)['W1']")."""
    expected_shape = tuple(expected_shape)
    if not hasattr(type(got), "shape"):
        raise AssertionError(f"{what}: expected an array of shape {expected_shape}, got a {type(got).__name__}")
    _check_shape(what, got.shape, expected_shape)


def expect_equal(got, expected, what):
    """Fail with what was expected and what came back unless `got` equals `expected` exactly (arrays: same shape
    and values; other values: ==). `got` is made plain first (`plain`)."""
    got = plain(got, what)
    if isinstance(expected, np.ndarray) or isinstance(got, np.ndarray):
        expected_array, got_array = np.asarray(expected), np.asarray(got)
        _check_shape(what, got_array.shape, expected_array.shape)
        if not np.array_equal(got_array, expected_array):
            wrong = np.argwhere(got_array != expected_array)
            where = f" (first difference at index {_index(wrong[0])})" if len(wrong) and got_array.ndim else ""
            raise AssertionError(f"{what}: expected {show(expected_array)}, got {show(got_array)}{where}")
        return
    if got != expected:
        raise AssertionError(f"{what}: expected {show(expected)}, got {show(got)}")


def expect_close(got, expected, what, rtol=1e-5, atol=1e-8):
    """Fail with what was expected and what came back unless `got` is numerically close to `expected`
    (np.allclose with `rtol` and `atol`; a single expected number is compared with every element). For arrays
    the message gives the shapes, a few values and the largest difference and where it is."""
    got = plain(got, what)
    expected_array = np.asarray(expected, dtype=np.float64)
    try:
        got_array = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        raise AssertionError(f"{what}: expected numbers like {show(expected_array)}, got {show(got)}") from None
    if expected_array.ndim:
        _check_shape(what, got_array.shape, expected_array.shape)
    shown = show(expected_array if expected_array.ndim else float(expected_array))
    expected_array = np.broadcast_to(expected_array, got_array.shape)
    close = np.isclose(got_array, expected_array, rtol=rtol, atol=atol)
    if not np.all(close):
        if np.isnan(got_array).any():
            detail = "NaN" + (f" at index {_index(np.argwhere(np.isnan(got_array))[0])}" if got_array.ndim else "")
        else:
            difference = np.abs(got_array - expected_array)
            index = np.unravel_index(int(np.argmax(np.where(close, -1.0, difference))), difference.shape)
            detail = f"largest difference {float(difference[index]):.3g}" + (
                f" at index {_index(index)}" if got_array.ndim else "")
        raise AssertionError(f"{what}: expected {shown}, got {show(got_array if got_array.ndim else float(got_array))} "
                             f"({detail})")


def relative_error(a, b):
    """Max element-wise relative error |a - b| / max(|a| + |b|, 1e-8), the cs231n gradient-check measure."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-8)))


# ----------------------------------------------------------------------------- datasets

def md5sum(path):
    """The md5 hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def data_dir():
    """The offline mirror named by $COURSE_DATA_DIR as an absolute Path, or None when unset.

    A relative value is relative to the course root (see `resolve_data_dir`)."""
    value = os.environ.get(DATA_ENV, "").strip()
    if not value:
        return None
    path = resolve_data_dir(value)
    if not path.is_dir():
        raise DatasetError(f"{DATA_ENV}={value!r} is not a directory (resolved to {path}). {MAKE_A_MIRROR}")
    return path


def mirror_file(name):
    """Path of dataset `name` in the $COURSE_DATA_DIR mirror, after checking its md5 sum."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {sorted(DATASETS)}")
    root = data_dir()
    if root is None:
        raise DatasetError(f"{DATA_ENV} is not set; set it to the dataset mirror directory.")
    relative, expected = DATASETS[name]
    path = root / relative
    if not path.is_file():
        raise DatasetError(f"{DATA_ENV}={root} has no {relative} (needed for {name!r}). {MAKE_A_MIRROR}")
    actual = md5sum(path)
    made = _manifest_md5(root, relative)
    if actual != expected and actual != made:
        also = f" (or {made}, as the mirror's {MIRROR_MANIFEST} records)" if made else ""
        raise DatasetError(f"{path} is corrupt: md5 {actual}, expected {expected}{also}. "
                           f"Restore the file in the {DATA_ENV} mirror or unset {DATA_ENV}. {MAKE_A_MIRROR}")
    return path


def _manifest_md5(root, relative):
    """The md5 the mirror's own manifest records for a file it made from another public source, or None."""
    import json
    path = root / MIRROR_MANIFEST
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text()).get(relative, {}).get("md5")
    except (ValueError, AttributeError):
        return None


def _load_keras_dataset(name):
    """(x_train, y_train), (x_test, y_test) from the mirror when $COURSE_DATA_DIR is set, else keras.datasets."""
    if data_dir() is not None:
        with np.load(mirror_file(name)) as data:
            return (data["x_train"], data["y_train"]), (data["x_test"], data["y_test"])
    quiet_tensorflow()
    import keras
    try:
        return getattr(keras.datasets, name).load_data()
    except Exception as error:  # no network, blocked download, bad cache ...
        raise DatasetError(f"could not download {name} with keras.datasets ({error}). "
                           f"Offline? Set {DATA_ENV} to a dataset mirror directory.") from error


def _check_sizes(name, n_train, n_test, available_train, available_test):
    for label, n, available in (("n_train", n_train, available_train), ("n_test", n_test, available_test)):
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"{label} must be a positive integer, got {n!r}")
        if n > available:
            raise ValueError(f"{label}={n} but only {available} {name} examples are available "
                             f"({'the offline sample' if data_dir() else 'the full dataset'})")


def load_mnist(n_train=8000, n_test=2000):
    """MNIST digits as keras.datasets gives them: x uint8 (n, 28, 28) in 0..255, y uint8 (n,)."""
    (x_train, y_train), (x_test, y_test) = _load_keras_dataset("mnist")
    _check_sizes("MNIST", n_train, n_test, len(x_train), len(x_test))
    return (x_train[:n_train], y_train[:n_train]), (x_test[:n_test], y_test[:n_test])


def _balanced_cats(x, y, n, rng):
    """n examples: n//2 cats (label 1) and the rest spread evenly over the nine other classes (label 0)."""
    labels = y.reshape(-1)
    n_cats, n_others = n // 2 + n % 2, n // 2
    cats = rng.permutation(np.flatnonzero(labels == CAT))[:n_cats]
    others = [c for c in range(len(CIFAR10_CLASSES)) if c != CAT]
    per_class = np.full(len(others), n_others // len(others))
    per_class[: n_others % len(others)] += 1
    picks = [rng.permutation(np.flatnonzero(labels == c))[:k] for c, k in zip(others, per_class)]
    non_cats = np.concatenate(picks)
    if len(cats) < n_cats or len(non_cats) < n_others:
        raise ValueError(f"asked for {n} cat-vs-non-cat examples; only {np.sum(labels == CAT)} cats available")
    index = rng.permutation(np.concatenate([cats, non_cats]))
    return x[index], (labels[index] == CAT).astype(np.uint8)


def load_cat_vs_noncat(n_train=2000, n_test=400, seed=0):
    """CIFAR-10 cats (label 1) vs a balanced sample of the other nine classes (label 0): x uint8 (n, 32, 32, 3), y uint8 (n,)."""
    (x_train, y_train), (x_test, y_test) = _load_keras_dataset("cifar10")
    n_cat_train = int(np.sum(y_train == CAT))
    n_cat_test = int(np.sum(y_test == CAT))
    _check_sizes("cat-vs-non-cat", n_train, n_test, 2 * n_cat_train, 2 * n_cat_test)
    rng = np.random.default_rng(seed)
    return _balanced_cats(x_train, y_train, n_train, rng), _balanced_cats(x_test, y_test, n_test, rng)


# ----------------------------------------------------------------------------- reviews (ex08)

REVIEWS = (
    ("Very good nice quality", 1),
    ("Stop lies", 0),
    ("Ugly terrible", 0),
    ("Excellent work", 1),
    ("Adorable lovely", 1),
    ("Bad", 0),
    ("Great nice", 1),
)


def load_reviews():
    """The seed's seven labelled product reviews: (sentences, a list of str; labels, int64 (7,), 1 = positive)."""
    return [text for text, _ in REVIEWS], np.array([label for _, label in REVIEWS], dtype=np.int64)


# ----------------------------------------------------------------------------- text (ex07, ex09)

SEARCH_QUERIES = Path(__file__).with_name("data") / "search_queries.txt"
QUERY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789 ")


def load_search_queries(path=None):
    """The course's search-query corpus (course/data/search_queries.txt): a list of unique lower-case queries."""
    path = SEARCH_QUERIES if path is None else Path(path)
    if not path.is_file():
        raise DatasetError(f"the search-query corpus {path} is missing; reinstall the course package "
                           "(pip install -e . in the course repository)")
    queries = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not queries:
        raise DatasetError(f"{path} holds no queries")
    for number, query in enumerate(queries, 1):
        if not set(query) <= QUERY_CHARS or "  " in query:
            raise DatasetError(f"{path} line {number} ({query!r}): queries use only a-z, 0-9 and single spaces")
    if len(set(queries)) != len(queries):
        raise DatasetError(f"{path} repeats a query: {sorted({q for q in queries if queries.count(q) > 1})[:3]}")
    return queries


# ----------------------------------------------------------------------------- surnames (ex10, bonus)

# Online source of the surname data set: the file that the book "Natural Language Processing with PyTorch"
# (Rao & McMahan) downloads in its data/get-all-data.sh (github.com/joosthub/PyTorchNLPBook); its md5 is DATASETS'.
SURNAMES_URL = "https://drive.google.com/uc?export=download&id=1T1la2tYO1O7XkMRawG8VcFcvtjbxDqU-"
NATIONALITIES = ("Arabic", "Chinese", "Czech", "Dutch", "English", "French", "German", "Greek", "Irish",
                 "Italian", "Japanese", "Korean", "Polish", "Portuguese", "Russian", "Scottish", "Spanish",
                 "Vietnamese")
SURNAME_SPLITS = ("train", "val", "test")


def dataset_file(name, url):
    """Local path of dataset `name`: the verified $COURSE_DATA_DIR mirror file, else `url` downloaded once
    with keras.utils.get_file and checked against the md5 in DATASETS."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {sorted(DATASETS)}")
    if data_dir() is not None:
        return mirror_file(name)
    relative, md5 = DATASETS[name]
    quiet_tensorflow()
    import keras
    try:
        return Path(keras.utils.get_file(Path(relative).name, origin=url, file_hash=md5,
                                         cache_subdir=str(Path("datasets") / Path(relative).parent)))
    except Exception as error:  # no network, blocked download, a changed file (md5) ...
        raise DatasetError(f"could not download {name} from {url} with md5 {md5} ({error}). "
                           f"Offline? Set {DATA_ENV} to a dataset mirror directory.") from error


def read_surnames(path):
    """Rows (nationality, split, surname) of a surnames_with_splits.csv file, checked."""
    import csv
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header != ["nationality", "split", "surname"]:
            raise DatasetError(f"{path}: expected the columns nationality,split,surname, got {header}")
        rows = []
        for number, row in enumerate(reader, 2):
            if len(row) != 3 or row[0] not in NATIONALITIES or row[1] not in SURNAME_SPLITS or not row[2]:
                raise DatasetError(f"{path} line {number} ({row}): expected one of the 18 nationalities, "
                                   f"a split in {SURNAME_SPLITS} and a surname")
            rows.append(tuple(row))
    return rows


def load_surnames(n_train=None, n_val=None, n_test=None, seed=0):
    """The surnames data set (10,980 surnames, 18 nationalities) with its own train/val/test split.

    Returns (train, val, test), each (surnames, labels): surnames a str array (n,), labels int64 (n,)
    indexing NATIONALITIES. Every split is shuffled with default_rng(seed) (the file is sorted by
    nationality), then cut to its first n_train / n_val / n_test surnames (None: the whole split).
    """
    rows = read_surnames(dataset_file("surnames", SURNAMES_URL))
    rng = np.random.default_rng(seed)
    splits = []
    for split, n in zip(SURNAME_SPLITS, (n_train, n_val, n_test)):
        part = [row for row in rows if row[1] == split]
        if n is not None and (not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1):
            raise ValueError(f"n_{split} must be a positive integer or None, got {n!r}")
        if n is not None and n > len(part):
            raise ValueError(f"n_{split}={n} but the {split} split has only {len(part)} surnames")
        order = rng.permutation(len(part))[:n]
        surnames = np.array([part[i][2] for i in order], dtype=str)
        labels = np.array([NATIONALITIES.index(part[i][0]) for i in order], dtype=np.int64)
        splits.append((surnames, labels))
    return tuple(splits)


# ----------------------------------------------------------------------------- tiny Shakespeare (ex11, bonus)

# Online source: the corpus of Karpathy's char-rnn (md5 in DATASETS).
SHAKESPEARE_URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"


def load_shakespeare(n_chars=None, start=0):
    """Tiny Shakespeare (1,115,394 characters of plays, 65 distinct): the str text[start:start + n_chars]
    (n_chars=None: to the end)."""
    for label, value, minimum in (("n_chars", n_chars, 1), ("start", start, 0)):
        if value is None and label == "n_chars":
            continue
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
            raise ValueError(f"{label} must be an integer >= {minimum}{' or None' if label == 'n_chars' else ''}, "
                             f"got {value!r}")
    text = dataset_file("tinyshakespeare", SHAKESPEARE_URL).read_text(encoding="utf-8")
    end = len(text) if n_chars is None else start + n_chars
    if end > len(text):
        raise ValueError(f"asked for characters {start}..{end} but tiny Shakespeare has only {len(text)}")
    return text[start:end]


# ----------------------------------------------------------------------------- plotting

def _figure_and_axes(ax, figsize=(6, 4)):
    import matplotlib.pyplot as plt
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax


def plot_history(history, metrics=None, ax=None, title=None, labels=None):
    """Learning curves from a Keras History, a {name: values} dict, a list of values, or a list of those."""
    runs = history if isinstance(history, (list, tuple)) and history and not np.isscalar(history[0]) else [history]
    if labels is not None and len(labels) != len(runs):
        raise ValueError(f"got {len(labels)} labels for {len(runs)} histories")
    fig, ax = _figure_and_axes(ax)
    for i, run in enumerate(runs):
        curves = getattr(run, "history", run)
        if not isinstance(curves, dict):
            curves = {"cost": list(curves)}
        names = metrics if metrics is not None else list(curves)
        for name in names:
            if name not in curves:
                raise ValueError(f"history has no {name!r}; it has {sorted(curves)}")
            prefix = f"{labels[i]} " if labels is not None else ""
            ax.plot(np.arange(1, len(curves[name]) + 1), curves[name], label=prefix + name)
    ax.set_xlabel("epoch")
    ax.set_title(title or "learning curves")
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def show_images(images, titles=None, ncols=8, cmap="gray", size=1.5, colors=None):
    """A grid of images (n, h, w) or (n, h, w, 3) with optional titles (and title colours)."""
    import matplotlib.pyplot as plt
    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise ValueError(f"images must have shape (n, h, w) or (n, h, w, c), got {images.shape}")
    n = len(images)
    if titles is not None and len(titles) != n:
        raise ValueError(f"got {len(titles)} titles for {n} images")
    if colors is not None and len(colors) != n:
        raise ValueError(f"got {len(colors)} colors for {n} images")
    ncols = max(1, min(ncols, n))
    nrows = max(1, -(-n // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.3 * (titles is not None)),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i], cmap=cmap if images.ndim == 3 else None)
            if titles is not None:
                ax.set_title(str(titles[i]), fontsize=9, color="black" if colors is None else colors[i])
    fig.tight_layout()
    return fig


def plot_decision_boundary(predict, X, Y, ax=None, resolution=200, title="decision boundary"):
    """Shade where predict((2, k) points) says 1, over the points X (2, m) coloured by labels Y (1, m)."""
    X = np.asarray(X)
    Y = np.asarray(Y).reshape(-1)
    if X.ndim != 2 or X.shape[0] != 2:
        raise ValueError(f"X must have shape (2, m) (one column per point), got {X.shape}")
    if Y.shape[0] != X.shape[1]:
        raise ValueError(f"Y has {Y.shape[0]} labels for {X.shape[1]} points")
    fig, ax = _figure_and_axes(ax, figsize=(5, 4))
    pad = 0.5
    xs = np.linspace(X[0].min() - pad, X[0].max() + pad, resolution)
    ys = np.linspace(X[1].min() - pad, X[1].max() + pad, resolution)
    grid_x, grid_y = np.meshgrid(xs, ys)
    grid = np.stack([grid_x.ravel(), grid_y.ravel()])
    Z = np.asarray(predict(grid)).reshape(grid_x.shape)
    ax.contourf(grid_x, grid_y, Z, levels=[-0.5, 0.5, 1.5], colors=["#c6dbef", "#fdd0a2"], alpha=0.8)
    ax.scatter(X[0], X[1], c=Y, cmap="coolwarm", edgecolors="k", s=25)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title(title)
    return fig


def label_chars(chars):
    """Printable labels for characters in plots and prints: space -> '␣', newline -> '⏎', others unchanged."""
    return [{" ": "␣", "\n": "⏎"}.get(str(ch), str(ch)) for ch in chars]


def plot_heatmap(matrix, row_labels=None, col_labels=None, ax=None, title=None, cmap="Blues",
                 annotate=True, fmt=".2f", vmin=0.0, vmax=None, xlabel=None, ylabel=None):
    """Heat map of a 2-D array with labelled rows and columns (characters via label_chars) and the values written in."""
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2 or 0 in matrix.shape:
        raise ValueError(f"matrix must be a non-empty 2-D array, got shape {matrix.shape}")
    for name, labels, size in (("row_labels", row_labels, matrix.shape[0]), ("col_labels", col_labels, matrix.shape[1])):
        if labels is not None and len(labels) != size:
            raise ValueError(f"got {len(labels)} {name} for {size} {name[:3]}s")
    rows, cols = matrix.shape
    fig, ax = _figure_and_axes(ax, figsize=(min(14, 2.5 + 0.55 * cols), min(10, 1.2 + 0.45 * rows)))
    image = ax.imshow(matrix, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    ax.set_xticks(range(cols))
    ax.set_yticks(range(rows))
    ax.set_xticklabels(label_chars(col_labels) if col_labels is not None else range(cols))
    ax.set_yticklabels(label_chars(row_labels) if row_labels is not None else range(rows))
    if annotate:
        middle = (np.nanmax(matrix) + np.nanmin(matrix)) / 2 if vmax is None else (vmax + (vmin or 0.0)) / 2
        for i in range(rows):
            for j in range(cols):
                ax.text(j, i, format(matrix[i, j], fmt), ha="center", va="center", fontsize=8,
                        color="white" if matrix[i, j] > middle else "black")
    ax.set_xlabel(xlabel or "")
    ax.set_ylabel(ylabel or "")
    if title:
        ax.set_title(title)
    fig.colorbar(image, ax=ax)
    return fig


def plot_probabilities(images, probabilities, class_names=None, labels=None, cmap="gray", size=1.8):
    """Each image above a bar chart of its predicted class probabilities (true class green, a wrong top guess red)."""
    import matplotlib.pyplot as plt
    images = np.asarray(images)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if images.ndim not in (3, 4) or len(images) == 0:
        raise ValueError(f"images must have shape (n, h, w) or (n, h, w, c) with n >= 1, got {images.shape}")
    if probabilities.ndim != 2 or probabilities.shape[0] != len(images):
        raise ValueError(f"probabilities must have shape (n, classes) = ({len(images)}, k), got {probabilities.shape}")
    n, k = probabilities.shape
    names = [str(i) for i in range(k)] if class_names is None else [str(name) for name in class_names]
    if len(names) != k:
        raise ValueError(f"got {len(names)} class_names for {k} classes")
    if labels is not None and len(labels) != n:
        raise ValueError(f"got {len(labels)} labels for {n} images")
    fig, axes = plt.subplots(2, n, figsize=(size * n, 2 * size + 0.6), squeeze=False,
                             gridspec_kw={"height_ratios": [1.3, 1]})
    for i in range(n):
        guess = int(np.argmax(probabilities[i]))
        colors = ["#9ecae1"] * k
        colors[guess] = "#3182bd"
        if labels is not None:
            truth = int(labels[i])
            colors[guess] = "red" if guess != truth else colors[guess]
            colors[truth] = "green"
        axes[0, i].imshow(images[i], cmap=cmap if images.ndim == 3 else None)
        axes[0, i].axis("off")
        axes[0, i].set_title(f"{names[guess]}: {probabilities[i, guess]:.0%}", fontsize=9)
        axes[1, i].bar(range(k), probabilities[i], color=colors)
        axes[1, i].set_ylim(0, 1)
        axes[1, i].set_xticks(range(k))
        axes[1, i].set_xticklabels(names, fontsize=7, rotation=90 if k * max(map(len, names)) > 20 else 0)
        if i:
            axes[1, i].tick_params(labelleft=False)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- plotting (ex10, bonus)

def plot_top_predictions(texts, probabilities, class_names, k=3, labels=None, ncols=4, size=2.6):
    """For each text, a horizontal bar chart of its k most probable classes (the true class green when labels are given)."""
    import matplotlib.pyplot as plt
    probabilities = np.asarray(probabilities, dtype=np.float64)
    n = len(texts)
    if n == 0 or probabilities.ndim != 2 or probabilities.shape[0] != n:
        raise ValueError(f"probabilities must have shape (len(texts), classes) = ({n}, c) with n >= 1, "
                         f"got {probabilities.shape}")
    if len(class_names) != probabilities.shape[1]:
        raise ValueError(f"got {len(class_names)} class_names for {probabilities.shape[1]} classes")
    if not 1 <= k <= probabilities.shape[1]:
        raise ValueError(f"k must be between 1 and {probabilities.shape[1]}, got {k}")
    if labels is not None and len(labels) != n:
        raise ValueError(f"got {len(labels)} labels for {n} texts")
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, 0.35 * k * nrows + 0.8 * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.axis("off")
            continue
        top = np.argsort(-probabilities[i], kind="stable")[:k]
        colors = ["green" if labels is not None and c == labels[i] else "#3182bd" for c in top]
        ax.barh(range(k), probabilities[i, top], color=colors)
        ax.set_yticks(range(k))
        ax.set_yticklabels([str(class_names[c]) for c in top], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.tick_params(axis="x", labelsize=7)
        ax.set_title(str(texts[i]), fontsize=10)
    fig.tight_layout()
    return fig
