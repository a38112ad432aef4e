"""The student's kernel's side of the trusted checker: hand out values and run calls, as plain data.

The executor (`course.grading.execute`) evaluates these functions in the student's kernel as a user expression of
an empty execute request (no cell runs: IPython's cell machinery is skipped) when the checker
(`course.grading.checker`) needs a name of the notebook or calls one of its functions; each returns its answer, a
JSON text in the format of `course.grading.wire`. Nothing here is trusted: student code can replace this module,
and the checker believes only data (which it checks like any return value).

- `export(names)`: each name's value in the notebook's namespace (a function as a callable name, a module by its
  name, data as data); names the notebook does not have are left out.
- `call(name, args, errstate)`: calls the notebook's function with decoded arguments, under the test's
  `np.errstate`; answers its return value and the arguments as they are after the call (so that the checker sees
  a function that changed its input), or the exception it raised with the student's own traceback.
- `seed(value)`: `helpers.set_seed(value)` here too, so that a test that seeds before calling student code gets the
  same numbers as in the notebook.

A callable that is not a name of the notebook (a lambda a function returned, a `LearningRateScheduler`'s schedule)
crosses as a handle ("#3") that the checker can call back. An object of the test's own (a fake clock, a model-like
recorder, a function the test wrote) arrives as a `Remote`: using it asks the checker through the kernel's input
channel (`raw_input`), which the executor forwards; while it waits, the checker may in turn call the notebook's
functions here (its requests come back as the input's reply, `{"do": ...}`).
"""

import functools
import json
import sys
import traceback
import types

from course.grading import wire


def _namespace():
    from IPython import get_ipython

    return get_ipython().user_ns


_handles = {}   # "#n" -> a callable the checker holds a handle to


def _functions(namespace):
    return [name for name, value in list(namespace.items()) if callable(value) and not name.startswith("_")
            and type(value).__name__ in ("function", "builtin_function_or_method", "partial")]


def _handle(value):
    """A handle for a function of this kernel that is not a name of the notebook (None for anything else)."""
    if isinstance(value, Remote):   # the test's own object goes back as itself
        return {"remote": list(value._reference)}
    if not isinstance(value, (types.FunctionType, types.MethodType, types.BuiltinFunctionType, functools.partial)):
        return None   # a layer or another callable object is not a function: it stays unreceivable, named
    for key, known in _handles.items():
        if known is value:
            return {"function": key}
    key = f"#{len(_handles) + 1}"
    _handles[key] = value
    return {"function": key}


def _resolve(name, namespace):
    return _handles.get(name) if name.startswith("#") else namespace.get(name)


class Remote:
    """An object of the test's, in the checker: its attributes and calls are asked for there."""

    __slots__ = ("_reference",)

    def __init__(self, reference):
        object.__setattr__(self, "_reference", reference)

    def __getattr__(self, attribute):
        if attribute.startswith("_"):
            raise AttributeError(attribute)
        return _ask({"op": "getattr", "id": self._reference[0], "attr": attribute})

    def __call__(self, *args, **kwargs):
        return _ask({"op": "invoke", "id": self._reference[0], "args": _encoded([list(args), kwargs])})

    def __repr__(self):
        return f"<the test's {self._reference[1]}>"


def _do(request):
    """Run one of the checker's requests here; its answer (a JSON text)."""
    request = request if isinstance(request, dict) else {}
    op = request.get("op")
    if op == "call":
        return call(str(request.get("name", "")), str(request.get("args", "[[], {}]")), str(request.get("errstate", "{}")))
    if op == "export":
        return export(str(request.get("names", "[]")))
    if op == "seed":
        return seed(int(request.get("value", 0)))
    return _set({"error": ["RuntimeError", f"unknown request {str(op)[:40]!r}", []]})


def serve():
    """Serve the checker's requests for one test cell on the kernel's input channel: each reply to an input
    request is the next request ({"do": ...}), each input request carries the last answer, until {"stop": ...}.
    One execute request for the whole cell instead of one per call."""
    from IPython import get_ipython

    kernel = get_ipython().kernel
    text = kernel.raw_input(json.dumps({"serving": True}))
    while True:
        reply = json.loads(text)
        if not isinstance(reply, dict) or "do" not in reply:
            return "stopped"
        text = kernel.raw_input(json.dumps({"answer": _do(reply["do"])}))


def _encoded(value):
    namespace = _namespace()
    return json.dumps(wire.encode(value, _functions(namespace), other=_handle))


def _ask(message):
    """Ask the checker (through the executor, as the kernel's input request); run what it asks meanwhile."""
    import builtins

    from IPython import get_ipython

    kernel = get_ipython().kernel
    text = kernel.raw_input(json.dumps({"callback": message}))
    while True:
        reply = json.loads(text)
        if "do" in reply:   # the checker calls into the notebook while the test's object runs
            text = kernel.raw_input(json.dumps({"answer": _do(reply["do"])}))
            continue
        if "error" in reply:
            ename, evalue = (list(reply["error"]) + ["", ""])[:2]
            cls = getattr(builtins, str(ename), None)
            if not (isinstance(cls, type) and issubclass(cls, Exception)):
                cls = RuntimeError
            raise cls(str(evalue))
        namespace = _namespace()
        return wire.decode(reply.get("result"), proxy=lambda other: _resolve(other, namespace),
                           name="the test's answer", remote=Remote)


def _set(value):
    """The answer: `value` as JSON, or an error when it is over the size the grader accepts."""
    answer = json.dumps(value)
    if len(answer) > wire.MAX_BYTES:
        answer = json.dumps({"error": ["ValueError", f"the result is {len(answer) >> 20} MiB as data, over the grader's "
                                                     f"limit of {wire.MAX_BYTES >> 20} MiB", []]})
    return answer


def export(names):
    namespace = _namespace()
    functions = _functions(namespace)
    found = {}
    for name in json.loads(names):
        if name in namespace:
            value = namespace[name]
            try:
                found[name] = wire.encode(value, [name] if name in functions else (), other=_handle)
            except Exception as error:   # noqa: BLE001 - the value cannot be sent: say what it is
                found[name] = {"unreceivable": f"a {wire.type_name(value)} ({type(error).__name__}: {error})"}
            if isinstance(found[name], dict) and "unreceivable" in found[name] and callable(value) \
                    and not isinstance(value, type):
                found[name] = {"function": name}   # a lambda, a functools.partial, a callable object: by its name
    return _set({"values": found})


def call(name, args, errstate="{}"):
    namespace = _namespace()
    function = _resolve(name, namespace)
    if not callable(function):
        return _set({"error": ["NameError", f"name {name!r} is not defined in the notebook", []]})
    inputs = []   # keras.Input tensors made for the call: a Keras tensor result crosses as the model from them
    positional, keywords = wire.loads(args, proxy=lambda other: _resolve(other, namespace), name="the arguments",
                                      inputs=inputs, remote=Remote)
    try:
        with _errstate(errstate):
            result = function(*positional, **keywords)
    except BaseException as error:   # noqa: BLE001 - the student's exception goes back as data
        frames = traceback.format_exception(type(error), error, error.__traceback__.tb_next)   # from their code on
        return _set({"error": [type(error).__name__, str(error)[:2000], [line[:2000] for line in frames[-12:]]]})
    functions = _functions(namespace)
    try:
        return _set({"result": wire.encode(result, functions, graph_inputs=inputs, other=_handle),
                     "args": wire.encode([positional, keywords], functions, other=_handle)})
    except Exception as error:   # noqa: BLE001
        return _set({"result": {"unreceivable": f"a {wire.type_name(result)} ({type(error).__name__}: {error})"},
                     "args": None})


def _errstate(text):
    """The test's NumPy floating-point error handling (np.errstate), for the call."""
    import contextlib

    numpy = sys.modules.get("numpy")
    wanted = json.loads(text)
    if numpy is None or not isinstance(wanted, dict):
        return contextlib.nullcontext()
    return numpy.errstate(**{k: v for k, v in wanted.items() if k in ("divide", "over", "under", "invalid")})


def seed(value):
    from course import helpers

    helpers.set_seed(value)
    return _set({"seeded": value})

