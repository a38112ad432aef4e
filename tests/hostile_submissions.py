"""Hostile and careless Exercise 1 submissions, each with the outcome grading must give it.

Every entry builds one submission from a base notebook: "stub" (the release, unsolved), "solved"
(the release with the solutions filled in, as a student who solved it submits it) or a known wrong
solution ("wrong:<name>" from tests/wrong_solutions/ex01_numpy_dnn.py). `expect` is one of
- `score=N`: exactly N points;
- `like="<base>"`: at most what the base submission earns untouched (graded in the same batch): the
  trick gained nothing (a trick that also breaks its own later tests may lose more);
- `rejected=True`: zero, with a reason in the grading record.
`flagged=True/False` says whether the submission must be flagged for review (None: either);
`events` names events the grading record must hold (kernel replaced, timeout, output cut ...).

The strings MARKER, PORT and VICTIM_FILE are filled in by the test (a process marker, the port of a
listener on the grading machine, a file that only the grader can see).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import nbformat

import layouts

EXERCISE = "ex01_numpy_dnn"
FULL = 15


# Attacks on the checker's boundary (see the entries under "the checker's boundary").
STANDIN_GUARD = """\
import json as _json, types as _types
_builtins = print.__self__
_real_import = _builtins.__import__
_fake = _types.ModuleType('stand_in')
_fake.answer = None
def _report(nonce, *args):
    _fake.answer = _json.dumps({'nonce': nonce, 'restored': [], 'changed': [], 'success': True, 'ran': True,
                                'awards': [1.0], 'cell_sha256': ''})
_fake.install = lambda config: None
_fake.before = _fake.after = _report
def _call(name, args, errstate='{}'):
    _fake.answer = _json.dumps({'result': True, 'args': None})
def _export(names):
    _fake.answer = _json.dumps({'values': {}})
_fake.call, _fake.export = _call, _export
def _import(name, *args, **kwargs):
    if name.startswith('course.grading'):
        return _fake
    return _real_import(name, *args, **kwargs)
_builtins.__import__ = _import
np.allclose = lambda *a, **k: True
helpers.relative_error = lambda *a, **k: 0.0
"""
DISGUISED_CALLBACKS = """\
_saved = {'allclose': np.allclose, 'relative_error': helpers.relative_error}
def _patch(*args):
    np.allclose = lambda *a, **k: True
    helpers.relative_error = lambda *a, **k: 0.0
def _unpatch(*args):
    np.allclose, helpers.relative_error = _saved['allclose'], _saved['relative_error']
_patch.__module__ = _unpatch.__module__ = 'matplotlib_inline.backend_inline'
get_ipython().events.register('pre_run_cell', _patch)
get_ipython().events.register('post_run_cell', _unpatch)
"""
COMPUTED_HOOKS = """\
_T = type
_Liar = _T('Gradient', (), {})
setattr(_Liar, '__e' + 'q__', lambda self, other: True)
setattr(_Liar, '__arr' + 'ay__', lambda self, *a, **k: np.zeros((1, 1)))
_honest_backward = backward
def backward(X, Y, params, cache):
    return {name: _Liar() for name in _honest_backward(X, Y, params, cache)}
"""
FORGED_ANSWERS = """\
import itertools as _itertools
import course.grading.bridge as _bridge
_forged = _itertools.cycle(['{"result": {"keras_model": "UEsDBAo="}, "args": null}',
                            '{"result": ' + '[' * 200 + ']' * 200 + ', "args": null}',
                            '{"result": {"ndarray": "k05VTVBZ"}, "args": null}',
                            'not json',
                            '{"result": true, "args": [[{"eval": "1"}], {}]}'])
_bridge.call = lambda *args, **kwargs: next(_forged)
"""
FORGED_CALLBACKS = """\
import json as _json
_honest_backward = backward
def backward(X, Y, params, cache):
    kernel = get_ipython().kernel
    for request in ({"op": "getattr", "id": 1, "attr": "__globals__"}, {"op": "invoke", "id": 1, "args": "[[], {}]"},
                    {"op": "getattr", "id": 2, "attr": "f_globals"}, "not a request", {"answer": "true"}):
        try:
            kernel.raw_input(_json.dumps(request if "answer" in request else {"callback": request}))
        except Exception:
            pass
    return _honest_backward(X, Y, params, cache)
"""
PICKLE_BOMB = """\
import os as _os
class _Bomb:
    def __reduce__(self):
        return (_os.system, ('touch /tmp/checker-unpickled',))
_honest_backward = backward
def backward(X, Y, params, cache):
    grads = _honest_backward(X, Y, params, cache)
    bomb = np.empty(1, dtype=object)
    bomb[0] = _Bomb()
    return {name: bomb for name in grads}
"""


@dataclass
class Hostile:
    name: str
    what: str                 # the class of attack or accident
    base: str                 # "stub", "solved" or "wrong:<name>"
    edits: list               # (kind, target, code): see apply_edits
    score: float | None = None
    like: str | None = None
    rejected: bool = False
    flagged: bool | None = None
    events: set = field(default_factory=set)
    raw: bytes | None = None  # a raw file instead of a notebook


def _cell_index(nb, grade_id):
    for i, cell in enumerate(nb.cells):
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            return i
    raise KeyError(grade_id)


def apply_edits(nb, edits, fill):
    """Apply (kind, target, code) edits: kind "after" adds a code cell after the cell with grade id
    `target` ("setup" = the setup cell, "end" = at the end); "solution" replaces a solution cell's code;
    "replace" replaces text `target` = (grade_id, old) in a cell; "meta" calls code(nb) to change metadata."""
    nb = copy.deepcopy(nb)
    for kind, target, code in edits:
        if isinstance(code, str):
            code = code.replace("MARKER", fill["MARKER"]).replace("PORT", str(fill["PORT"]))
            code = code.replace("VICTIM_FILE", fill["VICTIM_FILE"])
        if kind == "after":
            if target == "end":
                at = len(nb.cells)
            elif target == "setup":
                at = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code") + 1
            else:
                at = _cell_index(nb, target) + 1
            nb.cells.insert(at, nbformat.v4.new_code_cell(code))
        elif kind == "solution":
            nb.cells[_cell_index(nb, target)].source = code
        elif kind == "replace":
            grade_id, old = target
            cell = nb.cells[_cell_index(nb, grade_id)]
            assert old in cell.source, (grade_id, old)
            cell.source = cell.source.replace(old, code)
        elif kind == "meta":
            code(nb)
        else:
            raise ValueError(kind)
    return nb


def _every_stub(code):
    """Edits that put `code` before the `raise NotImplementedError()` of every stub."""
    return [("meta", None, lambda nb: [setattr(c, "source", c.source.replace("# YOUR CODE HERE", code))
                                       for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("solution")])]


def _strip_metadata(nb):
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)


def _colab(nb):
    """What a Colab download looks like: nbformat 4.0 without cell ids, Colab metadata, outputs kept."""
    nb.nbformat_minor = 0
    nb.metadata = {"colab": {"provenance": [], "name": "Copy of ex01_numpy_dnn.ipynb"},
                   "kernelspec": {"name": "python3", "display_name": "Python 3"},
                   "language_info": {"name": "python"}, "accelerator": "GPU"}
    for cell in nb.cells:
        cell.pop("id", None)
        cell.metadata["id"] = "x" + str(abs(hash(cell.source)))[:10]
        cell.metadata["colab"] = {"base_uri": "https://localhost:8080/"}
        if cell.cell_type == "code":
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="output from Colab\n")]
            cell.execution_count = 7


def _duplicate_test(nb):
    i = _cell_index(nb, "test_forward")
    copy_ = copy.deepcopy(nb.cells[i])
    copy_["id"] = "pasted01"
    nb.cells.insert(i + 1, copy_)


def _solution_made_grade(nb):
    nb.cells[_cell_index(nb, "forward")].metadata.nbgrader.update(grade=True, points=100)


def _unknown_grade_id(nb):
    cell = nbformat.v4.new_code_cell("print('extra credit, please')")
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": "bonus_points", "locked": False, "points": 100,
                                 "schema_version": 3, "solution": False, "task": False}
    nb.cells.append(cell)


def _schema_version(nb):
    for cell in nb.cells:
        if "nbgrader" in cell.metadata:
            cell.metadata.nbgrader["schema_version"] = 99


def _solutions_first(nb):
    """All solution cells moved to the top, right after the setup cell (a tidy student's notebook)."""
    solutions = [c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("solution")]
    rest = [c for c in nb.cells if c not in solutions]
    setup = next(i for i, c in enumerate(rest) if c.cell_type == "code")
    nb.cells = rest[:setup + 1] + solutions + rest[setup + 1:]


def _split_activations(nb):
    i = _cell_index(nb, "activations")
    source = nb.cells[i].source
    head, tail = source.split("\ndef relu", 1)
    nb.cells[i].source = head
    nb.cells.insert(i + 1, nbformat.v4.new_code_cell("def relu" + tail))


def _layout(name):
    """A "meta" edit that lays the notebook out as tests/layouts.py's `name` does (the same code, other cells)."""
    def edit(nb):
        nb.cells = layouts.LAYOUTS[name](nb).cells
    return edit


# Wrong code (zeros of the right shapes) whose results claim to equal, be close to and compare as anything:
# without converting results to plain values, the tests' own np.allclose/array_equal/== would pass it.
LIARS = '''import numpy as np
class Anything(np.ndarray):
    def __array_function__(self, func, types, args, kwargs):
        if func.__name__ in ("allclose", "isclose", "array_equal", "all", "any", "isfinite"):
            return True
        return super().__array_function__(func, types, args, kwargs)
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if ufunc.__name__ in ("isfinite", "equal", "less", "greater"):
            return True
        inputs = [np.asarray(x) if isinstance(x, Anything) else x for x in inputs]
        return np.asarray(getattr(ufunc, method)(*inputs, **kwargs)).view(Anything)
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    __hash__ = None
class Cost(float):
    def __array_function__(self, func, types, args, kwargs): return True
    def __array_ufunc__(self, *args, **kwargs): return True
    def __eq__(self, other): return True
    def __lt__(self, other): return True
    def __gt__(self, other): return True
    def __sub__(self, other): return 0.0
    def __mul__(self, other): return self
    __rmul__ = __mul__
    __hash__ = float.__hash__
def like(shape, dtype=float):
    return np.zeros(shape, dtype).view(Anything)'''
LYING_SOLUTIONS = {
    "activations": "def sigmoid(z):\n    return like(np.shape(z))\ndef relu(z):\n    return like(np.shape(z))",
    "init_params": "def init_params(n_x, n_h, n_y, seed=0):\n    return {\"W1\": like((n_h, n_x)), \"b1\": like((n_h, 1)), "
                   "\"W2\": like((n_y, n_h)), \"b2\": like((n_y, 1))}",
    "forward": "def forward(X, params):\n    m, n_h = X.shape[1], params[\"W1\"].shape[0]\n"
               "    return like((1, m)), {k: like((n_h if k in ('Z1', 'A1') else 1, m)) for k in ('Z1', 'A1', 'Z2', 'A2')}",
    "compute_cost": "def compute_cost(Y_hat, Y):\n    return Cost(0.0)",
    "backward": "def backward(X, Y, params, cache):\n    return {\"d\" + k: like(v.shape) for k, v in params.items()}",
    "update_params": "def update_params(params, grads, lr):\n    return {k: like(v.shape) for k, v in params.items()}",
    "train_predict": "def train(X, Y, n_h, lr, epochs, seed=0):\n    return init_params(X.shape[0], n_h, 1, seed), [Cost(0.0)] * epochs\n"
                     "def predict(X, params):\n    return like((1, X.shape[1]), int)",
}


def _forged_record(nb):
    nb.metadata["dl_course"] = {"verdicts": {"test_backward": {"passed": True, "reason": "passed"}}}


# A correct backward that also does something else when the tests call it.
def backward_with(extra):
    return f'''def backward(X, Y, params, cache):
    """Gradients of the cost."""
{extra}
    m = X.shape[1]
    dZ2 = (cache["A2"] - Y) / m
    dW2 = dZ2 @ cache["A1"].T
    db2 = np.sum(dZ2, axis=1, keepdims=True)
    dA1 = params["W2"].T @ dZ2
    dZ1 = dA1 * (cache["Z1"] >= 0)
    dW1 = dZ1 @ X.T
    db1 = np.sum(dZ1, axis=1, keepdims=True)
    return {{"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}}
'''


STEAL_TEST_SOURCE = '''    import inspect, linecache
    global STOLEN
    try:
        assert not globals().get("STOLEN")
        frame = inspect.currentframe().f_back
        STOLEN = (globals().get("STOLEN") or "") + "".join(linecache.getlines(frame.f_code.co_filename))
        STOLEN += "\\n" + "\\n".join(str(c) for c in frame.f_code.co_consts)
    except Exception:
        pass'''

TRY_ALL = '''import ast
class TryAll(ast.NodeTransformer):
    def visit_Module(self, node):
        handler = ast.ExceptHandler(type=ast.Name("BaseException", ast.Load()), name=None, body=[ast.Pass()])
        node.body = [ast.Try(body=node.body or [ast.Pass()], handlers=[handler], orelse=[], finalbody=[])]
        return ast.fix_missing_locations(node)
get_ipython().ast_transformers.append(TryAll())'''

SKIP_ASSERTS = '''import sys
def _skip(frame, event, arg):
    name = frame.f_code.co_filename   # only in notebook cells: jumps in the kernel's own code hang it
    if event == "line" and ("ipykernel_" in name or name.startswith("<ipython-input")):
        import linecache
        line = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
        if line.startswith("assert"):
            try:
                frame.f_lineno = frame.f_lineno + 1
            except Exception:
                pass
    return _skip
def _install(frame, event, arg):
    return _skip
'''

HOSTILE = [
    # ---------------------------------------------------------------- points for nothing
    Hostile("displayhook_string", "execute_result read as partial credit (a string: full marks)", "stub",
            _every_stub('__import__("sys").displayhook("done")'), score=0, flagged=True),
    Hostile("displayhook_number", "execute_result read as partial credit (a number)", "stub",
            _every_stub('__import__("sys").displayhook(100)'), score=0, flagged=True),
    Hostile("input_transformer_blanks_tests", "IPython input transformer", "stub",
            [("after", "setup", "get_ipython().input_transformers_cleanup.append("
                                "lambda lines: ['pass\\n'] if lines and lines[0].startswith('\"\"\"Check') else lines)")],
            score=0, flagged=True),
    Hostile("ast_transformer_try_except", "IPython AST transformer", "stub", [("after", "setup", TRY_ALL)],
            score=0, flagged=True),
    Hostile("custom_exception_handler", "custom exception handler", "stub",
            [("after", "setup", "get_ipython().set_custom_exc((BaseException,), "
                                "lambda shell, etype, value, tb, tb_offset=None: None)")], score=0, flagged=True),
    Hostile("showtraceback_silenced", "exception display replaced", "stub",
            [("after", "setup", "get_ipython().showtraceback = lambda *a, **k: None\n"
                                "get_ipython()._showtraceback = lambda *a, **k: None")], score=0, flagged=True),
    Hostile("run_cell_skips_tests", "shell method replaced on the instance", "stub",
            [("after", "setup", "ip = get_ipython()\n_orig = ip.run_cell_async\n"
                                "async def _fake(raw_cell, *a, **k):\n"
                                "    return await _orig('pass' if raw_cell.startswith('\"\"\"Check') else raw_cell, *a, **k)\n"
                                "ip.run_cell_async = _fake\n"
                                "_orig_sync = ip.run_cell\n"
                                "ip.run_cell = lambda raw_cell, *a, **k: _orig_sync("
                                "'pass' if raw_cell.startswith('\"\"\"Check') else raw_cell, *a, **k)")],
            score=0, flagged=True),
    Hostile("run_cell_class_patch", "shell method replaced on the class", "stub",
            [("after", "setup", "cls = type(get_ipython())\n_orig = cls.transform_cell\n"
                                "cls.transform_cell = lambda self, raw: 'pass\\n' if raw.startswith('\"\"\"Check') "
                                "else _orig(self, raw)")], score=0, flagged=True),
    Hostile("rebind_allclose", "library functions rebound", "wrong:ReLU derivative taken as the activation itself",
            [("after", "setup", "np.allclose = lambda *a, **k: True\nnp.isclose = lambda *a, **k: True\n"
                                "np.array_equal = lambda *a, **k: True\n"
                                "helpers.relative_error = lambda *a, **k: 0.0")],
            like="wrong:ReLU derivative taken as the activation itself", flagged=True),
    Hostile("rebind_function_code", "function code swapped", "wrong:ReLU derivative taken as the activation itself",
            [("after", "setup", "helpers.relative_error.__code__ = (lambda a, b: 0.0).__code__\n"
                                "np.testing.assert_allclose.__code__ = (lambda *a, **k: None).__code__")],
            like="wrong:ReLU derivative taken as the activation itself", flagged=True),
    Hostile("rebind_during_test", "rebinding from inside the graded function",
            "wrong:ReLU derivative taken as the activation itself",
            [("replace", ("backward", 'm = X.shape[1]'), 'np.allclose = lambda *a, **k: True\n'
                                                           '    helpers.relative_error = lambda *a, **k: 0.0\n'
                                                           '    m = X.shape[1]')],
            like="wrong:ReLU derivative taken as the activation itself", flagged=True),
    Hostile("rebind_builtins", "builtins rebound", "wrong:ReLU derivative taken as the activation itself",
            [("after", "setup", "import builtins\nbuiltins.all = lambda *a: True\nbuiltins.abs = lambda x: 0")],
            like="wrong:ReLU derivative taken as the activation itself", flagged=True),
    Hostile("alias_rebound", "the tests' module name rebound", "wrong:ReLU derivative taken as the activation itself",
            [("after", "setup", "import numpy\nclass _Fake:\n"
                                "    def __getattr__(self, name):\n        return getattr(numpy, name)\n"
                                "    allclose = staticmethod(lambda *a, **k: True)\n"
                                "    isclose = staticmethod(lambda *a, **k: True)\n"
                                "np = _Fake()")],
            like="wrong:ReLU derivative taken as the activation itself", flagged=True),
    Hostile("sys_modules_swapped", "sys.modules entry replaced", "wrong:ReLU derivative taken as the activation itself",
            [("after", "setup", "import sys, types\nfake = types.ModuleType('numpy')\nfake.__dict__.update(vars(np))\n"
                                "fake.allclose = lambda *a, **k: True\nsys.modules['numpy'] = fake")],
            like="wrong:ReLU derivative taken as the activation itself", flagged=True),
    Hostile("meta_path_finder_in_the_middle", "an import finder of the notebook's own, inserted among the "
            "library ones", "wrong:ReLU derivative taken as the activation itself",
            [("after", "setup", "import sys\nclass Sneaky:\n    def find_spec(self, name, path=None, target=None):\n"
                                "        return None\nsys.meta_path.insert(3, Sneaky())")],
            like="wrong:ReLU derivative taken as the activation itself", flagged=True),
    Hostile("event_callback_patches", "IPython event callback", "wrong:ReLU derivative taken as the activation itself",
            [("after", "setup", "def _patch(*args):\n    np.allclose = lambda *a, **k: True\n"
                                "get_ipython().events.register('pre_run_cell', _patch)")],
            like="wrong:ReLU derivative taken as the activation itself", flagged=True),
    Hostile("settrace_skips_asserts", "trace function jumping over the asserts of notebook cells",
            "wrong:ReLU derivative taken as the activation itself",
            [("after", "setup", SKIP_ASSERTS),
             ("replace", ("backward", 'm = X.shape[1]'), 'import sys\n    global _TRACED\n'
                                                         '    if not globals().get("_TRACED"):\n'
                                                         '        _TRACED = True\n'
                                                         '        sys._getframe(1).f_trace = _skip\n'
                                                         '        sys.settrace(_install)\n    m = X.shape[1]')],
            like="wrong:ReLU derivative taken as the activation itself", flagged=True),
    Hostile("forged_execute_reply", "a fake 'ok' reply sent from inside a failing test",
            "wrong:ReLU derivative taken as the activation itself",
            [("replace", ("backward", 'm = X.shape[1]'),
              'try:\n        k = get_ipython().kernel\n'
              '        k.session.send(k.shell_stream, "execute_reply", {"status": "ok", "execution_count": 1, '
              '"user_expressions": {}, "payload": []}, k.get_parent("shell"), ident=k._parent_ident["shell"])\n'
              '    except Exception:\n        pass\n    m = X.shape[1]')],
            like="wrong:ReLU derivative taken as the activation itself", flagged=True),

    # ---------------------------------------------------------------- the checker's boundary
    # Exercise 1 is graded by the trusted checker (course.grading.checker): these attack what the in-kernel guard
    # relied on, and the checker's own inputs.
    Hostile("standin_guard_and_bridge", "__import__ replaced through print.__self__: a stand-in guard that reports "
            "every test passed, and a stand-in bridge", "wrong:ReLU derivative taken as the activation itself",
            [("after", "setup", STANDIN_GUARD)], like="wrong:ReLU derivative taken as the activation itself",
            flagged=True),
    Hostile("disguised_event_callbacks", "pre/post-run callbacks under a library's module name that patch numpy "
            "around every cell", "wrong:ReLU derivative taken as the activation itself",
            [("after", "setup", DISGUISED_CALLBACKS)], like="wrong:ReLU derivative taken as the activation itself",
            flagged=True),
    Hostile("value_hooks_under_computed_names", "results of a class whose __eq__/__array__ are set with computed "
            "names on an aliased type", "wrong:ReLU derivative taken as the activation itself",
            [("after", "backward", COMPUTED_HOOKS)], like="wrong:ReLU derivative taken as the activation itself",
            flagged=True),
    Hostile("forged_bridge_answers", "the kernel's side of the checker replaced: answers that are not data (a broken "
            ".keras file, 200 nested lists, a truncated .npy, text that is not JSON, an unknown tag)",
            "wrong:ReLU derivative taken as the activation itself", [("after", "setup", FORGED_ANSWERS)],
            like="wrong:ReLU derivative taken as the activation itself", flagged=True),
    Hostile("forged_callbacks", "the kernel's input channel used to reach the checker: requests for the test's "
            "objects it was never given (ids guessed, `__globals__`), a request that is not one, and a forged answer "
            "that puts the checker's requests and answers out of step", "wrong:ReLU derivative taken as the activation itself",
            [("after", "backward", FORGED_CALLBACKS)], like="wrong:ReLU derivative taken as the activation itself"),
    Hostile("pickled_object_result", "a result the checker would have to unpickle: an object array holding a "
            "class whose unpickling writes a file", "wrong:ReLU derivative taken as the activation itself",
            [("after", "backward", PICKLE_BOMB)], like="wrong:ReLU derivative taken as the activation itself"),
    Hostile("huge_result", "a graded function that returns 320 MB (over the size a result may have)", "solved",
            [("replace", ("compute_cost", "eps = 1e-12"), "eps = 1e-12\n    if Y.shape[1] == 2:\n"
                                                         "        return np.zeros((40_000_000,))")],
            score=FULL - 2),
    Hostile("always_equal_object", "an object equal to everything (nbgrader #1379)", "stub",
            [("solution", "compute_cost", "class AlwaysEqual(float):\n    def __eq__(self, other): return True\n"
                                          "    def __ne__(self, other): return False\n"
                                          "    def __sub__(self, other): return 0.0\n"
                                          "    __rsub__ = __sub__\n"
                                          "    def __abs__(self): return 0.0\n"
                                          "def compute_cost(Y_hat, Y):\n    return AlwaysEqual(0.0)\n")],
            score=0),
    Hostile("results_that_lie_in_comparisons", "results whose class answers ==, np.allclose and np.array_equal "
            "itself (an ndarray subclass and a float subclass)", "stub",
            [("after", "setup", LIARS)] + [("solution", cell, code) for cell, code in LYING_SOLUTIONS.items()],
            score=0, flagged=True),
    Hostile("forged_grading_record", "a verdict written into the notebook's metadata",
            "wrong:ReLU derivative taken as the activation itself", [("meta", None, _forged_record)],
            like="wrong:ReLU derivative taken as the activation itself"),

    # ---------------------------------------------------------------- harming the course or other students
    Hostile("gradebook_write", "writes the gradebook", "solved",
            [("after", "end", "import glob, os, sqlite3\n"
                              "for path in ['../../../gradebook.db', '../../gradebook.db', 'VICTIM_FILE'] + "
                              "[p for root in ('/tmp', '/submission', '/home', '/root', '/work', '/srv') for p in glob.glob(root + '/**/gradebook.db', recursive=True)]:\n"
                              "    try:\n        db = sqlite3.connect(path, timeout=1)\n"
                              "        db.execute('update grade set manual_score = 0')\n"
                              "        db.execute('update grade set manual_score = 100 where 1')\n        db.commit()\n"
                              "    except Exception as error:\n        print(path, error)")],
            score=FULL, flagged=True),
    Hostile("other_submissions_overwritten", "writes other students' files", "solved",
            [("after", "end", "import glob\n"
                              "for path in glob.glob('../../*/*/*.ipynb') + glob.glob('../../../submitted/*/*/*.ipynb'):\n"
                              "    try:\n        open(path, 'w').write('{}')\n    except Exception as error:\n"
                              "        print(path, error)")], score=FULL, flagged=True),
    Hostile("config_edited", "edits nbgrader_config.py", "solved",
            [("after", "end", "for path in ['../../../nbgrader_config.py', '/etc/jupyter/nbgrader_config.py']:\n"
                              "    try:\n        open(path, 'a').write('\\nc.GenerateFeedback.preprocessors = []\\n')\n"
                              "    except Exception as error:\n        print(path, error)")], score=FULL, flagged=True),
    Hostile("source_deleted", "deletes the source notebook", "solved",
            [("after", "end", "import os, glob\n"
                              "for path in glob.glob('../../../source/*/*.ipynb') + glob.glob('../../../release/*/*'):\n"
                              "    try:\n        os.remove(path)\n    except Exception as error:\n"
                              "        print(path, error)")], score=FULL, flagged=True),
    Hostile("helpers_poisoned", "rewrites the course package", "solved",
            [("after", "end", "import course.helpers as h\n"
                              "try:\n    open(h.__file__, 'a').write('\\nrelative_error = lambda a, b: 1.0\\n')\n"
                              "except Exception as error:\n    print(error)")], score=FULL),
    Hostile("process_left_running", "a process that outlives its kernel", "solved",
            [("after", "end", "import subprocess, sys, os\n"
                              "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(900)', 'MARKER'], "
                              "start_new_session=True)\n"
                              "if os.fork() == 0:\n    os.setsid()\n"
                              "    if os.fork() == 0:\n        os.execv(sys.executable, [sys.executable, '-c', "
                              "'import time; time.sleep(900)', 'MARKER'])\n    os._exit(0)")],
            score=FULL, flagged=True),
    Hostile("grader_killed", "signals every process it can see", "solved",
            [("after", "end", "import os, signal\n"
                              "for pid in [os.getppid(), 1]:\n    try:\n        os.kill(pid, signal.SIGKILL)\n"
                              "    except Exception as error:\n        print(pid, error)\n"
                              "os.kill(-1, signal.SIGKILL)")], score=FULL, flagged=True),
    Hostile("network_reached", "opens connections", "solved",
            [("after", "end", "import socket\n"
                              "for host, port in [('127.0.0.1', PORT), ('10.0.2.2', PORT), ('pypi.org', 443), "
                              "('8.8.8.8', 53)]:\n"
                              "    try:\n        socket.create_connection((host, port), timeout=2).send(b'MARKER')\n"
                              "        print('connected', host)\n    except Exception as error:\n"
                              "        print(host, error)")], score=FULL, flagged=True),
    Hostile("fork_bomb", "forks without end", "solved",
            [("after", "end", "import os\nfor _ in range(100000):\n    try:\n        os.fork()\n"
                              "    except OSError:\n        break")], score=FULL, flagged=True),
    Hostile("memory_hog", "allocates without end", "solved",
            [("after", "end", "chunks = []\nwhile True:\n    chunks.append(bytearray(256 << 20))")],
            score=FULL, events={"kernel_replaced"}),
    Hostile("huge_allocation", "asks for more memory than the machine has", "solved",
            [("after", "end", "try:\n    x = bytearray(200 << 30)\nexcept MemoryError as error:\n    print('no', error)")],
            score=FULL),
    Hostile("tmp_filled", "fills /tmp", "solved",
            [("after", "end", "try:\n    with open('/tmp/fill', 'wb') as f:\n        for _ in range(64):\n"
                              "            f.write(b'0' * (64 << 20))\nexcept OSError as error:\n    print(error)")],
            score=FULL),

    # ---------------------------------------------------------------- reading the hidden tests
    Hostile("history_printed", "prints IPython's input history", "solved",
            [("after", "end", "print(In)\nprint(_ih)\nprint(Out)\nget_ipython().run_line_magic('history', '-g')")],
            score=FULL, flagged=True),
    Hostile("linecache_printed", "prints the cached cell sources", "solved",
            [("after", "end", "import linecache\nfor name, entry in list(linecache.cache.items()):\n"
                              "    print(name, ''.join(entry[2]))\n"
                              "print(get_ipython().last_execution_result)")], score=FULL, flagged=True),
    Hostile("test_source_raised", "steals the running test's code, raises it as an exception", "solved",
            [("solution", "backward", backward_with(STEAL_TEST_SOURCE)),
             ("after", "end", "raise RuntimeError(STOLEN)")], score=FULL, flagged=True),
    Hostile("test_source_displayed", "steals the running test's code, shows it as HTML, Markdown and JSON",
            "solved",
            [("solution", "backward", backward_with(STEAL_TEST_SOURCE)),
             ("after", "end", "from IPython.display import HTML, Markdown, JSON, display\n"
                              "display(HTML('<pre>' + STOLEN.replace(chr(10), '<br>') + '</pre>'))\n"
                              "display(Markdown('```\\n' + STOLEN + '\\n```'))\n"
                              "display(JSON({'code': STOLEN.splitlines()}))\nprint(repr(STOLEN))\nSTOLEN")],
            score=FULL, flagged=True),
    Hostile("course_files_read", "reads source/, the gradebook and its own graded notebook", "solved",
            [("after", "end", "import glob\n"
                              "for path in (glob.glob('*.ipynb') + glob.glob('../../../source/*/*.ipynb') + "
                              "[p for root in ('/tmp', '/home', '/root', '/work', '/srv') for p in glob.glob(root + '/**/source/*/*.ipynb', recursive=True)] + ['../../../gradebook.db', "
                              "'VICTIM_FILE']):\n"
                              "    try:\n        print(open(path, errors='replace').read())\n"
                              "    except Exception as error:\n        print(path, error)")], score=FULL, flagged=True),
    Hostile("script_in_outputs", "HTML and JavaScript in outputs and Markdown", "solved",
            [("after", "end", "from IPython.display import HTML, Javascript, display\n"
                              "display(HTML(\"<script>alert('MARKER')</script><img src=x onerror=\\\"alert('MARKER')\\\">\"))\n"
                              "display(Javascript(\"alert('MARKER')\"))"),
             ("meta", None, lambda nb: nb.cells.append(nbformat.v4.new_markdown_cell(
                 "<script>alert('MARKER')</script> <a href=\"javascript:alert('MARKER')\">click</a>")))],
            score=FULL),
    Hostile("markers_in_comments", "quotes the nbgrader markers in a comment", "solved",
            [("replace", ("update_params", "One gradient-descent step."),
              "One step.\n    ### BEGIN HIDDEN TESTS\n    ### BEGIN SOLUTION\n    ### END SOLUTION")],
            score=FULL),

    # ---------------------------------------------------------------- broken notebooks
    Hostile("test_cell_pasted_twice", "a copy-pasted test cell (duplicate grade id, nbgrader #1083)", "solved",
            [("meta", None, _duplicate_test)], score=FULL),
    Hostile("solution_turned_grade", "a solution cell made a grade cell worth 100", "solved",
            [("meta", None, _solution_made_grade)], score=FULL),
    Hostile("unknown_grade_id", "a cell with a grade id the release does not have", "solved",
            [("meta", None, _unknown_grade_id)], score=FULL),
    Hostile("schema_version_changed", "nbgrader schema_version 99", "solved",
            [("meta", None, _schema_version)], score=FULL),
    Hostile("metadata_stripped", "all nbgrader metadata gone (nbgrader #1398)", "solved",
            [("meta", None, _strip_metadata)], score=FULL),
    Hostile("colab_download", "a Colab-saved notebook (nbformat 4.0, Colab metadata, outputs)", "solved",
            [("meta", None, _colab)], score=FULL),
    Hostile("solutions_moved_first", "all solution cells moved to the top", "solved",
            [("meta", None, _solutions_first)], score=FULL),
    Hostile("solution_cell_split", "a solution cell split in two", "solved",
            [("meta", None, _split_activations)], score=FULL),
    Hostile("all_code_in_first_cell", "every function in the first solution cell, the others left with a comment",
            "solved", [("meta", None, _layout("all_in_first_cell"))], score=FULL, flagged=False),
    Hostile("all_code_in_first_cell_others_deleted", "every function in the first solution cell, the other solution "
            "cells deleted, no nbgrader metadata", "solved", [("meta", None, _layout("all_in_first_cell_others_deleted"))],
            score=FULL, flagged=False),
    Hostile("functions_moved_between_cells", "each solution cell holds the next one's functions", "solved",
            [("meta", None, _layout("functions_moved_up"))], score=FULL, flagged=False),
    Hostile("split_cells_and_own_helpers", "solution cells split per function, a helper cell of the student's own",
            "solved", [("meta", None, _layout("split_with_helpers"))], score=FULL, flagged=False),
    Hostile("wrong_code_all_in_first_cell", "a known wrong solution, every function in the first solution cell",
            "wrong:ReLU derivative taken as the activation itself", [("meta", None, _layout("all_in_first_cell"))],
            like="wrong:ReLU derivative taken as the activation itself", flagged=False),
    Hostile("test_cell_edited", "a visible test weakened", "wrong:ReLU derivative taken as the activation itself",
            [("replace", ("test_backward", "assert"), "pass  # assert")],
            like="wrong:ReLU derivative taken as the activation itself", flagged=True),
    Hostile("corrupt_json", "a file cut off in the middle", "solved", [], rejected=True, raw=b'{"cells": [{"cell_t'),
    Hostile("empty_file", "an empty upload", "solved", [], rejected=True, raw=b""),
    Hostile("not_a_notebook", "a PDF renamed to .ipynb", "solved", [], rejected=True,
            raw=b"%PDF-1.4\n\xff\xfe binary\x00\x01"),
    Hostile("other_exercise", "the Exercise 8 notebook handed in as Exercise 1", "solved", [], rejected=True),
    Hostile("kernel_death_between_tests", "os._exit in a cell between two parts", "solved",
            [("after", "test_backward", "import os\nos._exit(1)")], score=FULL, events={"kernel_replaced"}),
    Hostile("kernel_death_in_test", "os._exit inside a graded function", "solved",
            [("replace", ("compute_cost", "eps = 1e-12"), "eps = 1e-12\n    if Y.shape[1] == 2:\n"
                                                         "        import os; os._exit(3)")],
            score=FULL - 2, events={"kernel_replaced"}, flagged=True),
    Hostile("interrupt_swallowed", "a loop that ignores the interrupt", "solved",
            [("after", "test_backward", "import time\nwhile True:\n    try:\n        time.sleep(0.2)\n"
                                        "    except KeyboardInterrupt:\n        pass")],
            score=FULL, events={"timeout", "kernel_replaced"}),
    Hostile("endless_loop_in_test", "a graded function that never returns", "solved",
            [("replace", ("update_params", '"""One gradient-descent step.'), '"""One gradient-descent step.'
                                                                               '"""\n    while lr == 0.1:\n'
                                                                               '        pass\n    """')],
            score=FULL - 1, events={"timeout"}),
    Hostile("functions_as_lambdas", "a correct solution whose graded functions are a lambda and a partial",
            "solved", [("after", "activations", "import functools\n_relu = relu\nrelu = lambda z: _relu(z)\n"
                                                "sigmoid = functools.partial(sigmoid)")], score=FULL, flagged=False),
    Hostile("warnings_on_stderr", "a correct solution that writes warnings to stderr", "solved",
            [("replace", ("activations", 'def relu(z):'), 'import sys, warnings\n'
                                                         'def relu(z):\n'
                                                         '    print("relu called", file=sys.stderr)\n'
                                                         '    warnings.warn("relu: check your inputs")')],
            score=FULL),
    Hostile("huge_output", "a single 50 MB output line", "solved",
            [("after", "end", "print('x' * 50_000_000)")], score=FULL, events={"output_cut"}),
]


def build(hostile, bases, other_exercise_nb, fill):
    """The submission of one Hostile entry: a notebook, or raw bytes."""
    if hostile.raw is not None:
        return hostile.raw
    if hostile.name == "other_exercise":
        return other_exercise_nb
    return apply_edits(bases[hostile.base], hostile.edits, fill)
