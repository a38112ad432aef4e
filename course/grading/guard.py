"""Stage *execute*, part 2 (kernel side): the guard that undoes what student code bent.

The grading executor (`course.grading.execute`) installs this module in every grading kernel
before the first cell runs, then calls it around each auto-graded test cell:

- `install(config)` snapshots what the tests rely on: the IPython shell's input and AST
  transformers, display hook, exception handlers and event callbacks; the methods of the shell,
  the kernel and its session (on the instances and on their classes); `sys` hooks and trace
  functions; and the namespaces of the modules the tests use (numpy, keras, `course.helpers`,
  builtins ...), each right after it is first imported, with the code of their functions.
- `before(nonce)` restores all of that and returns, as JSON, what it had to restore.
- `after(nonce)` reports how the test cell ended from inside the kernel (did it raise, which
  cell ran), restores again and reports what changed *while the test ran*, then forgets the
  test cell's source (execution info, `linecache`, `sys.last_*`).
- `award(fraction)` is how `course.helpers.partial_credit` gives part of a test cell's points: the
  award counts only when `partial_credit` (its real code) is called directly by the running test
  cell's own top-level code, on the main thread, with that cell's code once on the stack (`before`
  names the file IPython compiles the cell to). `after` reports the awards; an award claimed from
  anywhere else is reported as a change made while the test ran (the cell fails and is flagged).

Nothing here can stop code that targets the guard itself; the executor treats a guard that does
not answer with its nonce as tampering, fails the test cell and flags the submission.
"""

import builtins
import hashlib
import importlib.abc
import importlib.machinery
import json
import linecache
import os
import sys
import threading
import types

_state = None
answer = None      # the JSON answer of the last call, read by the executor through user_expressions
_FUNCTION_ATTRS = ("__code__", "__defaults__", "__kwdefaults__")


def _is_method_like(value):
    return isinstance(value, (types.FunctionType, types.MethodType, staticmethod, classmethod, property,
                              types.BuiltinFunctionType, types.MethodDescriptorType, types.WrapperDescriptorType))


class _ModuleSnapshot:
    """A module's namespace and, for its Python functions, their code, defaults and keyword defaults."""

    def __init__(self, module):
        self.module = module
        self.namespace = dict(vars(module))
        self.functions = {}
        for name, value in self.namespace.items():
            target = getattr(value, "_implementation", value)   # numpy's array-function dispatchers
            if isinstance(target, types.FunctionType):
                self.functions[name] = (target, {a: getattr(target, a) for a in _FUNCTION_ATTRS})

    def restore(self, report):
        name = self.module.__name__
        if sys.modules.get(name) is not self.module:
            sys.modules[name] = self.module
            report.append(f"sys.modules[{name!r}] was replaced")
        namespace = vars(self.module)
        for key, value in self.namespace.items():
            if not _same(namespace.get(key, _MISSING), value):
                namespace[key] = value
                report.append(f"{name}.{key} was rebound")
        for key in [k for k, v in namespace.items() if k not in self.namespace]:
            value = namespace[key]
            if callable(value) and not isinstance(value, (types.ModuleType, type)):
                del namespace[key]
                report.append(f"{name}.{key} was added")
        for key, (function, attrs) in self.functions.items():
            for attr, value in attrs.items():
                if getattr(function, attr) is not value:
                    setattr(function, attr, value)
                    report.append(f"{name}.{key}.{attr} was replaced")


class _ObjectSnapshot:
    """The method-like attributes of an object and of the classes of its MRO."""

    def __init__(self, label, obj):
        self.label, self.obj = label, obj
        self.instance = dict(vars(obj)) if hasattr(obj, "__dict__") else {}
        self.classes = [(cls, {k: v for k, v in vars(cls).items() if _is_method_like(v)})
                        for cls in type(obj).__mro__ if cls is not object]

    def restore(self, report):
        if hasattr(self.obj, "__dict__"):
            namespace = vars(self.obj)
            for key, value in self.instance.items():
                if _is_method_like(value) and not _same(namespace.get(key, _MISSING), value):
                    namespace[key] = value
                    report.append(f"{self.label}.{key} was replaced")
            for key in [k for k in namespace if k not in self.instance]:
                if callable(namespace[key]) and _is_method_like(getattr(type(self.obj), key, None)):
                    del namespace[key]
                    report.append(f"{self.label}.{key} was replaced")
        for cls, methods in self.classes:
            current = vars(cls)
            for key, value in methods.items():
                if not _same(current.get(key, _MISSING), value):
                    setattr(cls, key, value)
                    report.append(f"{cls.__qualname__}.{key} was replaced")
            for key in [k for k, v in current.items() if k not in methods and _is_method_like(v)
                        and not (k.startswith("__") and k.endswith("__"))]:
                delattr(cls, key)
                report.append(f"{cls.__qualname__}.{key} was added")


_MISSING = object()


def _same(current, saved):
    """Identity, or for bound methods (a new object at every attribute access) the same function and object."""
    return current is saved or (isinstance(saved, types.MethodType) and current == saved)


def _finder_class(finder):
    """The class that defines a meta path finder (finders are instances or classes)."""
    return finder if isinstance(finder, type) else type(finder)


def _from_notebook(function):
    """Was this callable defined in a notebook cell (not in an installed module)?"""
    function = getattr(function, "__func__", function)
    module = getattr(function, "__module__", None)
    return module in (None, "__main__") or not hasattr(function, "__module__")


class _SnapshotOnImport(importlib.abc.MetaPathFinder):
    """Snapshot a protected module the moment its own code has run (before any student code
    can touch it), however it gets imported."""

    def __init__(self, names, state):
        self.names, self.state = set(names), state

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in self.names or fullname in self.state.modules:
            return None
        for finder in sys.meta_path:
            if finder is self:
                continue
            spec = finder.find_spec(fullname, path, target) if hasattr(finder, "find_spec") else None
            if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
                spec.loader = _SnapshotLoader(spec.loader, self.state)
                return spec
            if spec is not None:
                return spec
        return None


class _SnapshotLoader(importlib.abc.Loader):
    def __init__(self, loader, state):
        self.loader, self.state = loader, state

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        self.state.modules.setdefault(module.__name__, _ModuleSnapshot(module))

    def __getattr__(self, name):   # resource readers, get_source ...
        return getattr(self.loader, name)


class _State:
    def __init__(self, shell, config):
        self.shell = shell
        self.aliases = dict(config.get("aliases", {}))
        self.modules = {}
        for name in config.get("modules", []):
            if name in sys.modules:
                self.modules[name] = _ModuleSnapshot(sys.modules[name])
        self.finder = _SnapshotOnImport(config.get("modules", []), self)
        sys.meta_path.insert(0, self.finder)
        tm = shell.input_transformer_manager
        self.lists = [(label, obj, attr, list(getattr(obj, attr))) for label, obj, attr in [
            ("input_transformers_cleanup", shell, "input_transformers_cleanup"),
            ("input_transformers_post", shell, "input_transformers_post"),
            ("ast_transformers", shell, "ast_transformers"),
            ("cleanup_transforms", tm, "cleanup_transforms"),
            ("line_transforms", tm, "line_transforms"),
            ("token_transformers", tm, "token_transformers"),
        ] if isinstance(getattr(obj, attr, None), list)]
        self.attributes = [(label, obj, attr, getattr(obj, attr)) for label, obj, attr in [
            ("display hook", shell, "displayhook"), ("display publisher", shell, "display_pub"),
            ("display formatter", shell, "display_formatter"), ("compiler", shell, "compile"),
            ("traceback formatter", shell, "InteractiveTB"), ("syntax traceback formatter", shell, "SyntaxTB"),
            ("custom exceptions", shell, "custom_exceptions"), ("custom traceback handler", shell, "CustomTB"),
            ("input transformer manager", shell, "input_transformer_manager"), ("events", shell, "events"),
            ("sys.displayhook", sys, "displayhook"), ("sys.excepthook", sys, "excepthook"),
            ("sys.breakpointhook", sys, "breakpointhook"), ("sys.unraisablehook", sys, "unraisablehook"),
            ("sys.meta_path", sys, "meta_path"), ("builtins.__import__", builtins, "__import__"),
            ("sys.modules", sys, "modules"),
        ] if hasattr(obj, attr)]
        self.meta_path = list(sys.meta_path)
        self.events = {name: list(callbacks) for name, callbacks in shell.events.callbacks.items()}
        kernel = getattr(shell, "kernel", None)
        objects = [("shell", shell), ("compiler", shell.compile), ("display hook", shell.displayhook),
                   ("display publisher", shell.display_pub), ("display formatter", shell.display_formatter),
                   ("events", shell.events), ("input transformer manager", tm)]
        if kernel is not None:
            objects += [("kernel", kernel), ("kernel session", kernel.session)]
        self.objects = [_ObjectSnapshot(label, obj) for label, obj in objects]
        self.user_builtins = shell.user_ns.get("__builtins__")
        self.linecache_keys = set()
        self.test_file, self.awards, self.refused = None, [], []
        self.own = {name: (globals()[name], globals()[name].__code__) for name in ("before", "after", "award", "_answer")}

    def own_changes(self):
        """The guard's own functions that code rebound or rewrote (reported as changes; they are put back)."""
        changed = []
        for name, (function, code) in self.own.items():
            if globals().get(name) is not function or function.__code__ is not code:
                globals()[name], function.__code__ = function, code
                changed.append(f"the grading guard's {name} was replaced")
        return changed

    def partial_credit_code(self):
        """The code of course.helpers.partial_credit as it was imported (None before the import)."""
        snapshot = self.modules.get("course.helpers")
        entry = snapshot.functions.get("partial_credit") if snapshot else None
        return entry[1]["__code__"] if entry else None

    def restore(self):
        """Put everything back; a list of what had changed."""
        report = []
        if sys.gettrace() is not None:
            sys.settrace(None)
            report.append("a trace function was set (sys.settrace)")
        if sys.getprofile() is not None:
            sys.setprofile(None)
            report.append("a profile function was set (sys.setprofile)")
        if getattr(threading, "_trace_hook", None) is not None or getattr(threading, "_profile_hook", None) is not None:
            threading.settrace(None)
            threading.setprofile(None)
            report.append("a thread trace or profile function was set")
        for label, obj, attr, value in self.attributes:
            if not _same(getattr(obj, attr, _MISSING), value):
                setattr(obj, attr, value)
                report.append(f"the {label} was replaced")
        # Finders that libraries add later (absl's ReloadDetector goes in the middle) stay; a finder of the
        # notebook's own, or the snapshot's finders removed or reordered, is a change.
        added = [f for f in sys.meta_path if f not in self.meta_path]
        if [f for f in sys.meta_path if f in self.meta_path] != self.meta_path or \
                any(_from_notebook(_finder_class(f)) for f in added):
            sys.meta_path[:] = self.meta_path + [f for f in added if not _from_notebook(_finder_class(f))]
            report.append("sys.meta_path was changed")
        for label, obj, attr, items in self.lists:
            current = getattr(obj, attr)
            if current != items:
                current[:] = items
                report.append(f"the IPython {label} were changed")
        callbacks = self.shell.events.callbacks
        for name in set(callbacks) | set(self.events):
            current, expected = callbacks.get(name, []), self.events.get(name, [])
            removed = [cb for cb in expected if cb not in current]
            added = [cb for cb in current if cb not in expected]
            if removed or any(_from_notebook(cb) for cb in added):
                report.append(f"the IPython '{name}' event callbacks were changed")
            # callbacks that libraries register later (matplotlib's inline figures) stay
            self.events[name] = expected + [cb for cb in added if not _from_notebook(cb)]
            callbacks[name] = list(self.events[name])
        for snapshot in self.objects:
            snapshot.restore(report)
        for snapshot in list(self.modules.values()):
            snapshot.restore(report)
        user_ns = self.shell.user_ns
        if self.user_builtins is not None and user_ns.get("__builtins__") is not self.user_builtins:
            user_ns["__builtins__"] = self.user_builtins
            report.append("__builtins__ of the notebook was replaced")
        for alias, module_name in self.aliases.items():
            snapshot = self.modules.get(module_name)
            if snapshot is not None and alias in user_ns and user_ns[alias] is not snapshot.module:
                user_ns[alias] = snapshot.module
                report.append(f"the name {alias!r} no longer referred to {module_name}")
        return report


def install(config):
    """Snapshot the kernel as it is now (before any student code); config: {"modules": [...], "aliases": {...}}."""
    global _state
    from IPython import get_ipython

    _state = _State(get_ipython(), json.loads(config) if isinstance(config, str) else config)
    return _answer({"installed": True})


def _answer(value):
    global answer
    answer = json.dumps(value)
    return answer


def before(nonce, cell_file=None):
    """Before a test cell: restore the snapshot; JSON {"nonce", "restored": [...]}. cell_file: the name of the
    file IPython compiles the test cell to (partial credit is taken only from that cell's own code)."""
    restored = _state.restore() + _state.own_changes()
    _state.linecache_keys = set(linecache.cache) | set(getattr(linecache, "_ipython_cache", {}))
    _state.test_file, _state.awards, _state.refused = cell_file, [], []
    return _answer({"nonce": nonce, "restored": restored})


def award(fraction):
    """Record `fraction` (0..1) of the running test cell's points; True when it counts (see the module's doc)."""
    state = _state
    if state is None or state.test_file is None:
        return False
    caller = sys._getframe(1)
    cell = caller.f_back
    ok = (caller.f_code is state.partial_credit_code() and cell is not None and cell.f_code.co_name == "<module>"
          and os.path.basename(cell.f_code.co_filename) == state.test_file
          and threading.current_thread() is threading.main_thread())
    if ok:
        frame, seen = cell, 0
        while frame is not None:
            seen += os.path.basename(frame.f_code.co_filename) == state.test_file
            frame = frame.f_back
        ok = seen == 1
    (state.awards if ok else state.refused).append(float(fraction))
    return ok


def after(nonce):
    """After a test cell: how it ended seen from inside, what changed while it ran, then forget it.

    Runs as a cell of its own, during which `last_execution_result` still holds the test cell's."""
    awards, refused = list(_state.awards), list(_state.refused)   # before anything else can run
    shell = _state.shell
    result = shell.last_execution_result
    raw = getattr(getattr(result, "info", None), "raw_cell", None) or ""
    error = None if result is None else (result.error_before_exec or result.error_in_exec)
    outcome = {
        "nonce": nonce,
        "ran": result is not None,
        "success": bool(result is not None and result.success),
        "error": None if error is None else type(error).__name__,
        "cell_sha256": hashlib.sha256(raw.encode()).hexdigest(),
        "changed": _state.restore() + _state.own_changes() + [
            f"partial credit ({f:g}) was claimed from code other than the test cell's own" for f in refused],
        "awards": awards,
    }
    _state.test_file, _state.awards, _state.refused = None, [], []
    shell.last_execution_result = None
    if hasattr(shell, "last_execution_info"):
        shell.last_execution_info = None
    for name in ("last_type", "last_value", "last_traceback", "last_exc"):
        if hasattr(sys, name):
            setattr(sys, name, None)
    for cache in (linecache.cache, getattr(linecache, "_ipython_cache", {})):
        for key in [k for k in cache if k not in _state.linecache_keys]:
            cache.pop(key, None)
    return _answer(outcome)
