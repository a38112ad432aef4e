"""Stage *repair*, part 2: find student code that reaches for the grading machinery.

`FlagTampering` (in `Autograde.sanitize_preprocessors`, after the repair) reads the code the
student wrote (every line of a non-test code cell that is not in the release notebook) and flags
the submission for review, with the cell and the reason, when that code:

- reaches into IPython or the kernel (`get_ipython`, `In`/`_ih` history, shell escapes);
- rebinds library functions or modules the tests use (`np.allclose = ...`, `setattr(helpers, ...)`,
  `builtins`, `sys.modules`, `__import__`);
- uses trace hooks, frames or the garbage collector (`sys.settrace`, `sys._getframe`, `inspect`
  frames, `gc`, `ctypes`);
- touches files outside its working copy, processes or the network (absolute or `..` paths,
  `os.system`, `subprocess`, `socket`, `os.kill`, `os._exit`);
- makes results that could decide their own comparisons: a class that defines `__eq__`, `__array__`,
  `__array_function__`, `__array_ufunc__` or another of the comparison/conversion hooks of
  `course.helpers.VALUE_HOOKS` (`COMPARISON_HOOKS`), a class that subclasses `np.ndarray` or a number type,
  such a hook set on a class afterwards, or a class made with `type(name, bases, namespace)`. The tests
  compare `helpers.plain(...)` of a result, which refuses such objects; the flag says why a human should look.

A flag never changes the grade; it puts the submission in front of a human. The executor's guard
adds flags for what it actually had to undo.
"""

from __future__ import annotations

import ast
import re

from traitlets import List, Unicode

from nbgrader.preprocessors import NbGraderPreprocessor

from ..helpers import VALUE_HOOKS
from . import records
from .notebooks import is_test_cell, python_source
from .repair import load_release

MODULE_CALLS = {
    "get_ipython": "reaches into the IPython shell (get_ipython)",
    "__import__": "imports through __import__",
    "setattr": None, "delattr": None,   # judged by their first argument
    "eval": None, "exec": None,
}
ATTRIBUTES = {
    ("sys", "settrace"): "sets a trace function (sys.settrace)",
    ("sys", "setprofile"): "sets a profile function (sys.setprofile)",
    ("threading", "settrace"): "sets a trace function (threading.settrace)",
    ("sys", "_getframe"): "inspects stack frames (sys._getframe)",
    ("sys", "modules"): "changes the import system (sys.modules)",
    ("sys", "meta_path"): "changes the import system (sys.meta_path)",
    ("sys", "displayhook"): "uses the display hook (sys.displayhook)",
    ("sys", "excepthook"): "changes the exception hook (sys.excepthook)",
    ("sys", "addaudithook"): "adds an audit hook",
    ("os", "_exit"): "ends the kernel process (os._exit)",
    ("os", "kill"): "sends signals to processes (os.kill)",
    ("os", "killpg"): "sends signals to processes (os.killpg)",
    ("os", "fork"): "forks the kernel process",
    ("os", "system"): "runs shell commands (os.system)",
    ("os", "popen"): "runs shell commands (os.popen)",
    ("os", "chdir"): "changes the working directory",
    ("signal", "signal"): "installs signal handlers",
    ("inspect", "currentframe"): "inspects stack frames (inspect)",
    ("inspect", "stack"): "inspects stack frames (inspect)",
    ("inspect", "getouterframes"): "inspects stack frames (inspect)",
}
FRAME_ATTRIBUTES = {"f_back", "f_locals", "f_globals", "f_code", "f_trace", "tb_frame", "gi_frame",
                    "cr_frame", "co_code", "__code__", "__globals__", "__builtins__", "__subclasses__"}
MODULES = {
    "ctypes": "loads native code (ctypes)", "cffi": "loads native code (cffi)", "gc": "walks objects through gc",
    "subprocess": "runs processes (subprocess)", "socket": "opens network connections (socket)",
    "urllib": "uses the network (urllib)", "http": "uses the network (http)", "requests": "uses the network",
    "builtins": "changes builtins", "IPython": "reaches into IPython", "ipykernel": "reaches into the kernel",
    "importlib": "changes the import system (importlib)", "multiprocessing": "starts processes",
    "signal": "installs signal handlers", "pty": "opens terminals", "shutil": None,
    "course.grading": "reaches for the grading machinery", "nbgrader": "reaches for the grading machinery",
    "jupyter_client": "reaches for the kernel's connection", "zmq": "reaches for the kernel's sockets",
}
NAMES = {"In": "reads the input history (In)", "_ih": "reads the input history (_ih)",
         "Out": "reads the output history (Out)", "_oh": "reads the output history (_oh)",
         "__builtins__": "changes builtins", "_i": "reads the input history", "_ii": "reads the input history",
         "_iii": "reads the input history"}
PATH_CALLS = {"open", "Path", "remove", "unlink", "rmtree", "rmdir", "rename", "replace", "listdir", "scandir",
              "walk", "glob", "copy", "copyfile", "copytree", "move", "chmod", "symlink", "connect", "loadtxt",
              "load", "save", "savez", "read_text", "write_text", "makedirs", "mkdir"}
SAFE_ABSOLUTE = ("/tmp", "/dev/null")
# The hooks of helpers.VALUE_HOOKS through which a result can answer a comparison or a conversion itself,
# less those that honest containers and data pipelines define (a keras.utils.PyDataset has __len__ and
# __getitem__; a Keras Layer may forward attributes with __getattr__; dict-like classes have keys/items/values).
COMPARISON_HOOKS = VALUE_HOOKS - {"__hash__", "__len__", "__iter__", "__getitem__", "__contains__", "__getattr__",
                                  "keys", "items", "values"}
# Base classes of a value that NumPy or Python compares on its behalf: arrays and numbers (last dotted part).
NUMBER_BASES = {"ndarray", "matrix", "recarray", "memmap", "MaskedArray", "generic", "number", "inexact",
                "floating", "integer", "signedinteger", "unsignedinteger", "complexfloating", "float16",
                "float32", "float64", "float96", "float128", "longdouble", "half", "single", "double",
                "complex64", "complex128", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                "uint64", "intc", "intp", "uintp", "bool_", "float_", "int_", "Number", "Real", "Integral",
                "Complex", "Rational", "Decimal", "Fraction"}
BUILTIN_NUMBER_BASES = {"float", "int", "complex", "bool"}


def _dotted(node):
    """'a.b.c' for a Name/Attribute chain, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _outside_path(value):
    """Does a string look like a path outside the working copy?"""
    if not isinstance(value, str) or len(value) > 300 or "\n" in value:
        return False
    if value.startswith("/") and not value.startswith(SAFE_ABSOLUTE) and re.match(r"^/[\w.-]", value):
        return True
    return bool(re.search(r"(^|/)\.\.(/|$)", value)) or value.startswith("~")


class _Scanner(ast.NodeVisitor):
    def __init__(self, module_aliases):
        self.reasons = []
        self.aliases = dict(module_aliases)   # notebook name -> module the tests use

    def add(self, reason, node):
        if reason:
            self.reasons.append((getattr(node, "lineno", 0), reason))

    def visit_Import(self, node):
        for alias in node.names:
            self._module(alias.name, node)
            if alias.asname in self.aliases or (alias.asname is None and alias.name in self.aliases):
                pass
        self.generic_visit(node)

    def visit_ImportFrom(self, node):
        self._module(node.module or "", node)
        self.generic_visit(node)

    def _module(self, name, node):
        if name == "IPython.display" or name.startswith("IPython.display."):
            return   # display(), HTML(), Markdown(): what notebooks are for
        for module, reason in MODULES.items():
            if reason and (name == module or name.startswith(module + ".")):
                self.add(reason, node)

    def visit_Name(self, node):
        if node.id in NAMES:
            self.add(NAMES[node.id], node)
        if isinstance(node.ctx, ast.Store) and node.id in self.aliases:
            self.add(f"rebinds {node.id!r}, the name of the {self.aliases[node.id]} module the tests use", node)
        self.generic_visit(node)

    def visit_Attribute(self, node):
        dotted = _dotted(node)
        if dotted:
            head = dotted.split(".")
            for (module, attr), reason in ATTRIBUTES.items():
                if len(head) >= 2 and head[-2] == module and head[-1] == attr:
                    self.add(reason, node)
            if isinstance(node.ctx, (ast.Store, ast.Del)) and head[0] in self.aliases:
                self.add(f"rebinds {dotted} (a function of {self.aliases[head[0]]} that the tests use)", node)
        if node.attr in FRAME_ATTRIBUTES:
            self.add(f"uses interpreter internals ({node.attr})", node)
        self.generic_visit(node)

    def visit_Call(self, node):
        name = _dotted(node.func) or ""
        last = name.split(".")[-1]
        if name in MODULE_CALLS and MODULE_CALLS[name]:
            self.add(MODULE_CALLS[name], node)
        if name in ("setattr", "delattr") and node.args:
            target = _dotted(node.args[0]) or ""
            if target.split(".")[0] in self.aliases or target in ("builtins", "sys"):
                self.add(f"rebinds attributes of {target} with {name}", node)
        if name == "setattr" and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant):
            self._hook_set(_dotted(node.args[0]), node.args[1].value, node)
        if (name == "type" and len(node.args) == 3) or last == "new_class":
            self.add("makes a class at run time (type(name, bases, namespace)): results that could decide "
                     "their own comparisons", node)
        if name in ("eval", "exec") and node.args and not isinstance(node.args[0], ast.Constant):
            self.add(f"runs generated code ({name})", node)
        if last in PATH_CALLS:
            for arg in [*node.args, *[k.value for k in node.keywords]]:
                if isinstance(arg, ast.Constant) and _outside_path(arg.value):
                    self.add(f"uses a path outside its working copy ({arg.value!r})", node)
        self.generic_visit(node)

    def visit_ClassDef(self, node):
        hooks = set()
        for statement in node.body:
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
                hooks.add(statement.name)
            elif isinstance(statement, ast.Assign):
                hooks.update(t.id for t in statement.targets if isinstance(t, ast.Name))
            elif isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
                hooks.add(statement.target.id)
        hooks &= COMPARISON_HOOKS
        if hooks:
            self.add(f"defines a class ({node.name}) with its own {', '.join(sorted(hooks))}: results that "
                     f"could decide their own comparisons", node)
        for base in node.bases:
            dotted = _dotted(base) or ""
            if dotted in BUILTIN_NUMBER_BASES or dotted.split(".")[-1] in NUMBER_BASES:
                self.add(f"defines a class ({node.name}) that subclasses {dotted}: results that could decide "
                         f"their own comparisons", node)
        self.generic_visit(node)

    def _hook_set(self, target, hook, node):
        if hook in COMPARISON_HOOKS:
            self.add(f"sets {hook} on {target or 'an object'}: results that could decide their own comparisons",
                     node)

    def _check_hook_targets(self, targets, node):
        for target in targets:
            if isinstance(target, ast.Attribute):
                self._hook_set(_dotted(target.value), target.attr, node)

    def visit_Assign(self, node):
        self._check_hook_targets(node.targets, node)
        self.generic_visit(node)

    def visit_AugAssign(self, node):
        self._check_hook_targets([node.target], node)
        self.generic_visit(node)

    def visit_Constant(self, node):
        if isinstance(node.value, str) and _outside_path(node.value) and node.value.count("/") >= 2 and ".." in node.value:
            self.add(f"uses a path outside its working copy ({node.value!r})", node)


def scan_code(source, module_aliases):
    """[(line, reason)] for one cell's code (IPython syntax allowed); a cell that does not parse gives []."""
    try:
        tree = ast.parse(python_source(source))
    except SyntaxError:
        return []
    scanner = _Scanner(module_aliases)
    scanner.visit(tree)
    seen, found = set(), []
    for line, reason in scanner.reasons:
        if reason not in seen:
            seen.add(reason)
            found.append((line, reason))
    return found


def scan_student_code(source, release_lines, module_aliases):
    """scan_code for the lines a student wrote: findings on lines that the release has are dropped."""
    code_lines = python_source(source).splitlines()
    return [(line, reason) for line, reason in scan_code(source, module_aliases)
            if not (0 < line <= len(code_lines) and code_lines[line - 1].strip() in release_lines)]


class FlagTampering(NbGraderPreprocessor):
    """Flag submissions whose own code reaches for the grading machinery (the grade is unchanged)."""

    module_aliases = List(Unicode(), ["np", "numpy", "helpers", "keras", "layers", "math", "plt", "tf"],
                          help="Names of modules that the tests use: rebinding them or their attributes is "
                               "flagged.").tag(config=True)

    def preprocess(self, nb, resources):
        if records.record(nb).get("rejected"):
            return nb, resources
        release = load_release(resources, self.config)
        release_lines = {line.strip() for cell in release.cells if cell.cell_type == "code"
                         for line in python_source(cell.source).splitlines()}
        aliases = {name: {"np": "numpy", "plt": "matplotlib.pyplot", "tf": "tensorflow"}.get(name, name)
                   for name in self.module_aliases}
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code" or is_test_cell(cell):
                continue
            for line, reason in scan_student_code(cell.source, release_lines, aliases):
                entry = records.note(nb, "flags", cell=index, reason=f"line {line}: {reason}")
                self.log.warning("%s %s line %s: %s", resources["nbgrader"]["student"], entry["cell_name"], line,
                                 reason)
        return nb, resources
