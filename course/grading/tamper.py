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

The scan reads meaning, not spelling: names are resolved through the cell's imports and assignments
(`import sys as _s`, `from sys import settrace as st`, `T = type`, `g = get_ipython`), attribute and global
names through constant folding (`"__arr" + "ay__"`, f-strings of constants, `"".join(...)`, `[::-1]`, names
bound to such strings), so `getattr(frame, "f_" + "code")`, `globals()["get_" + "ipython"]()` and
`setattr(cls, "__arr" + "ay__", ...)` read as what they do. What cannot be resolved is itself a flag where it
matters: `setattr`/`delattr` with a computed name, `getattr` with a computed name on a module of the
interpreter (`sys`, `builtins`, `os` ...), and names read or written through `globals()`, `vars()`, `locals()`
or `__dict__` by a computed key.

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
                    "cr_frame", "co_code", "__code__", "__globals__", "__builtins__", "__subclasses__",
                    "__self__", "__closure__", "__func__"}
# Modules of the interpreter itself: reading one of their attributes by a name computed at run time is a flag.
INTERPRETER_MODULES = {"sys", "builtins", "os", "signal", "inspect", "gc", "ctypes", "threading", "importlib",
                       "IPython", "ipykernel", "types", "__builtins__"}
# Calls that give a namespace as a dict: a key computed at run time hides which name is read or written.
NAMESPACE_CALLS = {"globals", "vars", "locals"}
# Names whose aliases the scan follows (`T = type`, `g = getattr`), besides modules.
FOLLOWED_NAMES = {"type", "getattr", "setattr", "delattr", "vars", "globals", "locals", "eval", "exec",
                  "compile", "__import__", "get_ipython", "open", "print"}
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


def _fold(node, constants):
    """The string an expression always evaluates to (constants, names bound to them, `+`, f-strings of
    constants, `"sep".join([...])`, slices such as `[::-1]`, `.lower()`/`.upper()`), else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _fold(node.left, constants), _fold(node.right, constants)
        return left + right if left is not None and right is not None else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult) and isinstance(node.right, ast.Constant):
        left = _fold(node.left, constants)
        return left * node.right.value if left is not None and isinstance(node.right.value, int) else None
    if isinstance(node, ast.JoinedStr):
        parts = [_fold(value.value if isinstance(value, ast.FormattedValue) else value, constants)
                 for value in node.values]
        return "".join(parts) if all(part is not None for part in parts) else None
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
        text = _fold(node.value, constants)
        bounds = [node.slice.lower, node.slice.upper, node.slice.step]
        if text is not None and all(b is None or (isinstance(b, ast.Constant) and isinstance(b.value, int))
                                    or (isinstance(b, ast.UnaryOp) and isinstance(b.operand, ast.Constant))
                                    for b in bounds):
            values = [None if b is None else ast.literal_eval(b) for b in bounds]
            return text[slice(*values)]
        return None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and not node.keywords:
        owner = _fold(node.func.value, constants)
        if owner is not None and node.func.attr == "join" and len(node.args) == 1 \
                and isinstance(node.args[0], (ast.List, ast.Tuple)):
            parts = [_fold(element, constants) for element in node.args[0].elts]
            return owner.join(parts) if all(part is not None for part in parts) else None
        if owner is not None and node.func.attr in ("lower", "upper", "strip") and not node.args:
            return getattr(owner, node.func.attr)()
    return None


class _Scanner(ast.NodeVisitor):
    def __init__(self, module_aliases):
        self.reasons = []
        self.aliases = dict(module_aliases)   # notebook name -> module the tests use
        self.names = {}                       # local name -> what it stands for ("sys", "sys.settrace", "type")
        self.constants = {}                   # local name -> the string it was bound to

    def add(self, reason, node):
        if reason:
            self.reasons.append((getattr(node, "lineno", 0), reason))

    # -- what names stand for

    def resolve(self, node):
        """The dotted name an expression stands for, through the aliases the cell made ('_s.settrace' after
        `import sys as _s` is 'sys.settrace'), else None."""
        dotted = _dotted(node)
        if dotted is None:
            return None
        head, _, rest = dotted.partition(".")
        base = self.names.get(head, head)
        return f"{base}.{rest}" if rest else base

    def visit_Import(self, node):
        for alias in node.names:
            self._module(alias.name, node)
            if alias.asname:
                self.names[alias.asname] = alias.name
        self.generic_visit(node)

    def visit_ImportFrom(self, node):
        self._module(node.module or "", node)
        for alias in node.names:
            if node.module and alias.name != "*":
                self.names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
                self._module(f"{node.module}.{alias.name}", node)
                full = f"{node.module}.{alias.name}"
                for (module, attr), reason in ATTRIBUTES.items():
                    if full == f"{module}.{attr}":
                        self.add(reason, node)
        self.generic_visit(node)

    def _remember(self, targets, value):
        """Follow `x = sys`, `T = type`, `n = "__arr"` (simple names only)."""
        folded = _fold(value, self.constants)
        resolved = self.resolve(value) if isinstance(value, (ast.Name, ast.Attribute)) else None
        for target in targets:
            if not isinstance(target, ast.Name):
                continue
            self.constants.pop(target.id, None)
            self.names.pop(target.id, None)
            if folded is not None:
                self.constants[target.id] = folded
            elif resolved and (resolved.split(".")[0] in set(MODULES) | INTERPRETER_MODULES | FOLLOWED_NAMES
                               or resolved in set(self.aliases.values())):
                self.names[target.id] = resolved

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

    def _attribute(self, owner, attr, node, store=False):
        """An attribute `attr` of the expression `owner` is read (or written), by name or through getattr."""
        written = _dotted(owner) if owner is not None else None
        dotted = self.resolve(owner) if owner is not None else None
        if dotted:
            head = dotted.split(".")
            for (module, name), reason in ATTRIBUTES.items():
                if head[-1] == module and attr == name:
                    self.add(reason, node)
            as_written = written.split(".")[0]
            if store and (as_written in self.aliases or head[0] in self.aliases or dotted in self.aliases.values()):
                module = self.aliases.get(as_written) or self.aliases.get(head[0]) or dotted
                self.add(f"rebinds {written}.{attr} (a function of {module} that the tests use)", node)
            if store and head[0] in ("builtins", "sys", "__builtins__"):
                self.add(f"rebinds {dotted}.{attr}", node)
        if attr in FRAME_ATTRIBUTES:
            self.add(f"uses interpreter internals ({attr})", node)
        if attr in MODULE_CALLS and MODULE_CALLS[attr]:
            self.add(MODULE_CALLS[attr], node)

    def visit_Attribute(self, node):
        self._attribute(node.value, node.attr, node, store=isinstance(node.ctx, (ast.Store, ast.Del)))
        self.generic_visit(node)

    def _namespace_key(self, node):
        """For `globals()[key]`, `vars(m)[key]`, `locals()[key]`, `x.__dict__[key]`: (what, key or None)."""
        if not isinstance(node, ast.Subscript):
            return None
        owner = node.value
        if isinstance(owner, ast.Call) and (self.resolve(owner.func) or "") in NAMESPACE_CALLS:
            what = f"{self.resolve(owner.func)}()"
            if owner.args:
                what = f"vars({self.resolve(owner.args[0]) or 'an object'})"
        elif isinstance(owner, ast.Attribute) and owner.attr == "__dict__":
            what = f"{self.resolve(owner.value) or 'an object'}.__dict__"
        else:
            return None
        key = node.slice
        return what, _fold(key, self.constants)

    def visit_Subscript(self, node):
        found = self._namespace_key(node)
        if found:
            what, key = found
            store = isinstance(node.ctx, (ast.Store, ast.Del))
            if key is None:
                self.add(f"{'writes' if store else 'reads'} a name computed at run time through {what}", node)
            else:
                if key in NAMES:
                    self.add(NAMES[key], node)
                if key in MODULE_CALLS and MODULE_CALLS[key]:
                    self.add(MODULE_CALLS[key], node)
                if key in FRAME_ATTRIBUTES:
                    self.add(f"uses interpreter internals ({key})", node)
                if store:
                    self._hook_set(what, key, node)
                    target = what.removeprefix("vars(").removesuffix(")").split(".")[0]
                    if key in self.aliases or target in self.aliases or target in ("builtins", "sys"):
                        self.add(f"rebinds {key!r} through {what}", node)
        self.generic_visit(node)

    def visit_Call(self, node):
        name = self.resolve(node.func) or ""
        last = name.split(".")[-1]
        if name in MODULE_CALLS and MODULE_CALLS[name]:
            self.add(MODULE_CALLS[name], node)
        for (module, attr), reason in ATTRIBUTES.items():
            if name == f"{module}.{attr}":
                self.add(reason, node)
        if name in ("getattr", "setattr", "delattr", "hasattr") and len(node.args) >= 2:
            attr = _fold(node.args[1], self.constants)
            owner = self.resolve(node.args[0]) or ""
            if attr is not None:
                self._attribute(node.args[0], attr, node, store=name != "getattr" and name != "hasattr")
                if name == "setattr":
                    self._hook_set(owner or None, attr, node)
            elif name in ("setattr", "delattr"):
                self.add(f"sets an attribute whose name is computed at run time ({name})", node)
            elif owner.split(".")[0] in INTERPRETER_MODULES:
                self.add(f"reads an attribute of {owner} whose name is computed at run time (getattr)", node)
        if name in ("setattr", "delattr") and node.args:
            target = self.resolve(node.args[0]) or ""
            if target.split(".")[0] in self.aliases or target in ("builtins", "sys"):
                self.add(f"rebinds attributes of {target} with {name}", node)
        if last == "partial_credit":
            self.add("claims partial credit (helpers.partial_credit counts only in an instructor's test cell)", node)
        if name == "__import__" and node.args:
            module = _fold(node.args[0], self.constants)
            if module is not None:
                self._module(module, node)
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
        self._remember(node.targets, node.value)

    def visit_NamedExpr(self, node):
        self.generic_visit(node)
        self._remember([node.target], node.value)

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
