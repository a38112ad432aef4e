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
"""

import json
import sys
import traceback

from course.grading import wire


def _namespace():
    from IPython import get_ipython

    return get_ipython().user_ns


def _functions(namespace):
    return [name for name, value in list(namespace.items()) if callable(value) and not name.startswith("_")
            and type(value).__name__ in ("function", "builtin_function_or_method", "partial")]


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
                found[name] = wire.encode(value, [name] if name in functions else ())
            except Exception as error:   # noqa: BLE001 - the value cannot be sent: say what it is
                found[name] = {"unreceivable": f"a {wire.type_name(value)} ({type(error).__name__}: {error})"}
            if isinstance(found[name], dict) and "unreceivable" in found[name] and callable(value) \
                    and not isinstance(value, type):
                found[name] = {"function": name}   # a lambda, a functools.partial, a callable object: by its name
    return _set({"values": found})


def call(name, args, errstate="{}"):
    namespace = _namespace()
    function = namespace.get(name)
    if not callable(function):
        return _set({"error": ["NameError", f"name {name!r} is not defined in the notebook", []]})
    inputs = []   # keras.Input tensors made for the call: a Keras tensor result crosses as the model from them
    positional, keywords = wire.loads(args, proxy=lambda other: namespace[other], name="the arguments",
                                      inputs=inputs)
    try:
        with _errstate(errstate):
            result = function(*positional, **keywords)
    except BaseException as error:   # noqa: BLE001 - the student's exception goes back as data
        frames = traceback.format_exception(type(error), error, error.__traceback__.tb_next)   # from their code on
        return _set({"error": [type(error).__name__, str(error)[:2000], [line[:2000] for line in frames[-12:]]]})
    functions = _functions(namespace)
    try:
        return _set({"result": wire.encode(result, functions, graph_inputs=inputs),
                     "args": wire.encode([positional, keywords], functions)})
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

