"""The tamper scan (course/grading/tamper.py) on code strings and small notebooks: fast, no kernel, no nbgrader run.

Mainly its rule for results that could decide their own comparisons (issue 18): a class with its own `__eq__`,
`__array_function__`, ... (course.helpers.VALUE_HOOKS), a subclass of np.ndarray or of a number type, such a
hook set afterwards, a class made with type(name, bases, namespace). Honest code must stay unflagged.
"""

import copy

import nbformat
import pytest

from course import helpers
from course.grading import records, tamper
from course.grading.notebooks import exercises, is_test_cell, notebook_path
from course.grading.notebooks import python_source
from submissions import apply_wrong_solution, load_wrong_solutions

ALIASES = {"np": "numpy", "numpy": "numpy", "helpers": "helpers", "keras": "keras", "layers": "layers",
           "math": "math", "plt": "matplotlib.pyplot", "tf": "tensorflow"}


def reasons(code):
    return [reason for _, reason in tamper.scan_code(code, ALIASES)]


def comparison_flags(code):
    return [reason for reason in reasons(code) if "decide their own comparisons" in reason]


def test_the_hooks_come_from_the_helpers_list():
    assert tamper.COMPARISON_HOOKS <= helpers.VALUE_HOOKS
    assert {"__eq__", "__ne__", "__lt__", "__array__", "__array_function__", "__array_ufunc__", "__float__",
            "__bool__", "__array_priority__"} <= tamper.COMPARISON_HOOKS
    assert not {"__len__", "__getitem__", "__iter__", "keys"} & tamper.COMPARISON_HOOKS   # PyDataset, dict-likes


@pytest.mark.parametrize("code, expected", [
    ("class Agreeable(np.ndarray):\n    def __array_function__(self, func, types, args, kwargs):\n"
     "        return True\n", ["__array_function__", "subclasses np.ndarray"]),
    ("class Same:\n    def __eq__(self, other):\n        return True\n", ["own __eq__"]),
    ("class Cost(float):\n    pass\n", ["subclasses float"]),
    ("import numpy\nclass Half(numpy.float64):\n    pass\n", ["subclasses numpy.float64"]),
    ("from numpy import ndarray\nclass A(ndarray):\n    pass\n", ["subclasses ndarray"]),
    ("class Wrapped:\n    def __array__(self, dtype=None, copy=None):\n        return np.ones(3)\n", ["own __array__"]),
    ("class Ufunc:\n    def __array_ufunc__(self, *args, **kwargs):\n        return True\n", ["own __array_ufunc__"]),
    ("class Priority:\n    __array_priority__ = 1000\n", ["own __array_priority__"]),
    ("class Truthy:\n    __bool__ = lambda self: True\n", ["own __bool__"]),
    ("class Lt:\n    def __lt__(self, other):\n        return True\n    def __gt__(self, other):\n        return True\n",
     ["own __gt__, __lt__"]),
    ("def forward(X, params):\n    class Inner(np.ndarray):\n        def __ne__(self, other):\n            return False\n"
     "    return X.view(Inner)\n", ["own __ne__", "subclasses np.ndarray"]),
    ("class Plain:\n    pass\nPlain.__eq__ = lambda self, other: True\n", ["sets __eq__ on Plain"]),
    ("class Plain:\n    pass\nsetattr(Plain, '__array_function__', None)\n", ["sets __array_function__ on Plain"]),
    ("Liar = type('Liar', (np.ndarray,), {'__eq__': lambda s, o: True})\n", ["type(name, bases, namespace)"]),
])
def test_classes_that_could_decide_their_comparisons_are_flagged(code, expected):
    found = comparison_flags(code)
    for part in expected:
        assert any(part in reason for reason in found), (part, found)


@pytest.mark.parametrize("code", [
    "class Batches(keras.utils.PyDataset):\n    def __init__(self, x):\n        super().__init__()\n"
    "        self.x = x\n    def __len__(self):\n        return len(self.x)\n    def __getitem__(self, i):\n"
    "        return self.x[i], self.x[i]\n",
    "class Scale(keras.layers.Layer):\n    def call(self, x):\n        return 2 * x\n"
    "    def get_config(self):\n        return super().get_config()\n",
    "class Stop(keras.callbacks.Callback):\n    def on_epoch_end(self, epoch, logs=None):\n        pass\n",
    "from collections import namedtuple\nPair = namedtuple('Pair', 'a b')\n",
    "class Config:\n    def __init__(self):\n        self.lr = 0.1\n    def __repr__(self):\n        return 'Config'\n",
    "x = np.zeros(3)\nprint(type(x), type(x) == np.ndarray, isinstance(x, np.ndarray))\n",
    "def sigmoid(z):\n    return np.exp(-np.logaddexp(0.0, -np.asarray(z, dtype=np.float64)))\n",
    "y = np.asarray([1, 2]).view(np.ndarray)\nz = y.astype(float)\n",
])
def test_honest_code_is_not_flagged(code):
    assert not reasons(code), reasons(code)


@pytest.mark.parametrize("code, expected", [
    # issue 28's spellings: an alias, computed attribute names, namespace subscripts, an aliased type()
    ("import sys as _s\n_s.settrace(lambda *a: None)\n", "sets a trace function (sys.settrace)"),
    ("from sys import settrace as st\nst(None)\n", "sets a trace function (sys.settrace)"),
    ("import inspect\nframe = inspect.currentframe()\ncode = getattr(frame, 'f_' + 'code')\n", "(f_code)"),
    ("vars(np)['allclose'] = lambda *a, **k: True\n", "rebinds 'allclose' through vars(np)"),
    ("name = input()\nvars(np)[name] = lambda *a, **k: True\n", "writes a name computed at run time"),
    ("globals()['get_' + 'ipython']().events.register('pre_run_cell', print)\n", "get_ipython"),
    ("class C:\n    pass\nsetattr(C, '__arr' + 'ay__', lambda self: np.ones(3))\n", "sets __array__ on C"),
    ("class C:\n    pass\nn = '__arr'\nsetattr(C, n + 'ay__', None)\n", "sets __array__ on C"),
    ("class C:\n    pass\nsetattr(C, f\"__{'eq'}__\", None)\n", "sets __eq__ on C"),
    ("class C:\n    pass\nsetattr(C, '__qe__'[::-1], None)\n", "sets __eq__ on C"),
    ("class C:\n    pass\nsetattr(C, ''.join(['__e', 'q__']), None)\n", "sets __eq__ on C"),
    ("def f(cls, hook):\n    setattr(cls, hook, None)\n", "name is computed at run time (setattr)"),
    ("T = type\nLiar = T('Liar', (), {'__eq__': lambda s, o: True})\n", "type(name, bases, namespace)"),
    ("b = print.__self__\nb.__import__ = None\n", "interpreter internals (__self__)"),
    ("import sys\nhook = getattr(sys, input())\n", "reads an attribute of sys whose name is computed"),
    ("import matplotlib.pyplot as plt\nplt.show = lambda *a: None\n", "rebinds plt.show"),
    ("import numpy as numbers\nnumbers.allclose = lambda *a, **k: True\n", "rebinds numbers.allclose"),
    ("g = get_ipython\ng().run_line_magic('who', '')\n", "get_ipython"),
    ("m = __import__('s' + 'ys')\n", "imports through __import__"),
])
def test_the_scan_reads_what_code_does_not_how_it_is_spelled(code, expected):
    found = reasons(code)
    assert any(expected in reason for reason in found), (expected, found)


@pytest.mark.parametrize("code", [
    "cell = 'LSTM'\nlayer = getattr(keras.layers, cell)(64)\n",          # ex11's solution
    "act = getattr(layer, 'activation', None)\nname = type(layer).__name__\n",
    "print(layer.__class__.__name__, vars(history)['history'] if hasattr(history, 'history') else None)\n",
    "settings = {'lr': 0.1}\nsettings['lr'] = 0.2\n",
    "prefix = 'ex'\nname = prefix + '01'\nparts = '-'.join(['a', 'b'])[::-1]\n",
])
def test_honest_dynamic_code_is_not_flagged(code):
    assert not reasons(code), reasons(code)


def _release_lines(exercise):
    release = nbformat.read(notebook_path(exercise, "release"), as_version=4)
    return {line.strip() for cell in release.cells if cell.cell_type == "code"
            for line in python_source(cell.source).splitlines()}


def _student_flags(nb, release_lines):
    return [(index, reason) for index, cell in enumerate(nb.cells) if cell.cell_type == "code" and not is_test_cell(cell)
            for _, reason in tamper.scan_student_code(cell.source, release_lines, ALIASES)]


@pytest.mark.parametrize("exercise", exercises())
def test_source_solutions_and_wrong_solutions_are_flagged_only_for_their_lying_results(exercise):
    """Every source solution is unflagged; a wrong solution is flagged exactly when it defines a class (the liars)."""
    source = nbformat.read(notebook_path(exercise), as_version=4)
    release_lines = _release_lines(exercise)
    assert not _student_flags(source, release_lines), exercise
    for wrong in load_wrong_solutions(exercise):
        flags = [reason for _, reason in _student_flags(apply_wrong_solution(source, wrong), release_lines)]
        if "class " in wrong["new"]:
            assert any("decide their own comparisons" in reason for reason in flags), wrong["name"]
        else:
            assert not flags, (wrong["name"], flags)


def test_flag_tampering_notes_the_cell_and_reason_of_a_lying_class(monkeypatch):
    """The preprocessor itself, on ex01's release with a lying solution cell (release loading replaced)."""
    release = nbformat.read(notebook_path("ex01_numpy_dnn", "release"), as_version=4)
    monkeypatch.setattr(tamper, "load_release", lambda resources, config: release)
    submission = copy.deepcopy(release)
    index = next(i for i, cell in enumerate(submission.cells)
                 if cell.metadata.get("nbgrader", {}).get("grade_id") == "update_params")
    submission.cells[index].source = (
        "class Agreeable(np.ndarray):\n    def __eq__(self, other):\n        return np.ones(self.shape, bool)\n\n"
        "def update_params(params, grads, lr):\n    return {k: v.view(Agreeable) for k, v in params.items()}\n")
    nb, _ = tamper.FlagTampering().preprocess(submission, {"nbgrader": {"student": "liar"}})
    flags = records.entries(nb, "flags")
    assert flags and all(flag["cell"] == index for flag in flags), flags
    assert any("Agreeable" in flag["reason"] and "__eq__" in flag["reason"] for flag in flags), flags
    honest, _ = tamper.FlagTampering().preprocess(copy.deepcopy(release), {"nbgrader": {"student": "honest"}})
    assert not records.entries(honest, "flags")
