"""What crosses between a student's kernel and the checker: plain data only, decoded without pickle.

Both sides of the trusted checker (`course.grading.checker`, `course.grading.bridge`) speak this format. A value
is JSON; what JSON cannot hold is an object with one tag:

| value | on the wire | decoded as |
| --- | --- | --- |
| None, bool, int, float, str | JSON | itself (NaN and infinities as Python's JSON writes them) |
| list | JSON list | list |
| tuple, set | `{"tuple": [...]}`, `{"set": [...]}` | tuple, set |
| dict | `{"dict": [[key, value], ...]}` | dict (keys decoded like values) |
| NumPy array, NumPy scalar | `{"ndarray": base64 .npy}`, `{"scalar": [dtype, .npy]}` | `np.load(..., allow_pickle=False)` |
| Keras model | `{"keras_model": base64 .keras}` | `keras.saving.load_model(..., safe_mode=True)` |
| Keras History | `{"history": {"history": ..., "params": ..., "epoch": ...}}` | a new `keras.callbacks.History` |
| NumPy Generator | `{"generator": bit generator state}` (PCG64, MT19937 ...) | a new Generator in that state |
| `pathlib` path | `{"path": "..."}` | `pathlib.Path` |
| Keras callback (EarlyStopping, ModelCheckpoint, LearningRateScheduler ...) | `{"keras_callback": [class, settings]}` | `keras.callbacks.<class>(**settings)` |
| Keras variable | its value, as an array | NumPy array |
| a function of the notebook | `{"function": name}`, or a handle `"#3"` for one that has no name there | a proxy that calls it in the student's kernel |
| an object of the test's (checker side only) | `{"remote": [id, kind]}` | a stand-in whose uses are asked of the checker |
| a module | `{"module": "numpy"}` | the checker's own import of that name |
| a class of an installed package | `{"class": ["pathlib", "Path"]}` | the checker's own import of it |
| anything else | `{"unreceivable": "type name"}` | an object that fails every use, naming the type |

Decoding trusts nothing: object arrays, pickles and Lambda layers are refused, sizes are capped (`MAX_BYTES`), and
an unknown tag is an error. The student's side may send anything; what it sends is only ever data.
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
import pathlib
import re
import tempfile
import warnings

MAX_BYTES = 256 << 20          # one value or message, encoded
MAX_DEPTH = 64                 # nesting of lists, dicts and tuples
MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class WireError(ValueError):
    """A message that is not in this format (too large, too deep, a tag this format does not know)."""


class Unreceivable:
    """Stands in for a value the student's kernel could not send as plain data: every use fails with its type."""

    def __init__(self, what, name="the value"):
        object.__setattr__(self, "_what", (what, name))

    def _fail(self, *args, **kwargs):
        what, name = object.__getattribute__(self, "_what")
        raise TypeError(f"{name} is {what}, which the grader cannot check: return plain values (NumPy arrays, "
                        f"numbers, strings, lists, tuples, dicts) or a Keras model without Lambda layers")

    def __getattr__(self, attribute):
        self._fail()

    __call__ = __iter__ = __len__ = __getitem__ = __eq__ = __bool__ = __array__ = __float__ = __index__ = _fail
    __hash__ = None

    def __repr__(self):
        what, name = object.__getattribute__(self, "_what")
        return f"<{name}: {what}, not checkable>"


# ---------------------------------------------------------------------------------------------- encoding

def _npy(array):
    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def type_name(value):
    cls = type(value)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


KERAS_CALLBACKS = ("EarlyStopping", "ModelCheckpoint", "LearningRateScheduler", "ReduceLROnPlateau", "TerminateOnNaN")
BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


def encode(value, functions=(), _depth=0, graph_inputs=None, other=None):
    """`value` as JSON-ready data. `functions`: names under which the sender's callables may be called back;
    `graph_inputs`: the Keras inputs a call received (a Keras tensor result crosses as the model from them);
    `other(value)`: the tag for a value that is not data (the sender's reference to it), or None."""
    import sys

    def inner(item, inputs=graph_inputs):
        return encode(item, functions, _depth + 1, inputs, other)

    if _depth > MAX_DEPTH:
        return {"unreceivable": f"nested more than {MAX_DEPTH} levels deep"}
    if value is None or type(value) in (bool, int, str):
        return value
    if type(value) is float:
        return value if math.isfinite(value) else {"float": repr(value)}
    np = sys.modules.get("numpy")
    if np is not None:
        if isinstance(value, np.ndarray):
            if value.dtype.hasobject:
                return {"unreceivable": "a NumPy array of Python objects"}
            return {"ndarray": _npy(np.array(value, subok=False))}
        if isinstance(value, np.generic) and not isinstance(value, np.object_):
            return {"scalar": [str(value.dtype), _npy(np.asarray(value))]}
        if isinstance(value, np.random.Generator) and type(value.bit_generator).__name__ in BIT_GENERATORS:
            return {"generator": inner(value.bit_generator.state)}
    if type(value) is list:
        return [inner(item) for item in value]
    if type(value) in (tuple, set, frozenset):
        tag = "tuple" if type(value) is tuple else "set"
        return {tag: [inner(item) for item in value]}
    if type(value) is dict:
        return {"dict": [[inner(k, None), inner(v)] for k, v in value.items()]}
    if isinstance(value, pathlib.PurePath):
        return {"path": str(value)}
    keras = sys.modules.get("keras")
    if keras is not None:
        if isinstance(value, keras.KerasTensor):
            return _keras_tensor(keras, value, graph_inputs)
        if isinstance(value, keras.Model):
            return {"keras_model": _keras_bytes(value)}
        if isinstance(value, keras.callbacks.History):
            return {"history": encode({"history": dict(value.history), "params": dict(value.params or {}),
                                       "epoch": list(value.epoch)}, (), _depth + 1)}
        kind = type(value).__name__
        if kind in KERAS_CALLBACKS and type(value) is getattr(keras.callbacks, kind, None):
            import inspect

            settings = {name: getattr(value, name) for name in inspect.signature(type(value).__init__).parameters
                        if name not in ("self", "kwargs") and hasattr(value, name)}
            return {"keras_callback": [kind, inner(settings)]}
        if isinstance(value, keras.Variable) and np is not None:
            return inner(keras.ops.convert_to_numpy(value))
    tensorflow = sys.modules.get("tensorflow")
    if tensorflow is not None and np is not None and isinstance(value, tensorflow.Tensor):
        try:
            return encode(np.asarray(value), functions, _depth + 1)
        except Exception:   # noqa: BLE001 - a symbolic tensor
            return {"unreceivable": f"a {type_name(value)}"}
    if type(value).__name__ == "module" and isinstance(getattr(value, "__name__", None), str):
        return {"module": value.__name__}
    if isinstance(value, type) and type(value) is type and value.__module__ not in ("__main__", "builtins") \
            and "<" not in value.__qualname__:
        return {"class": [value.__module__, value.__qualname__]}
    for name in functions:
        if callable(value) and getattr(value, "__name__", None) == name:
            return {"function": name}
    if other is not None and (tag := other(value)) is not None:
        return tag
    return {"unreceivable": f"a {type_name(value)}"}


def _keras_tensor(keras, tensor, graph_inputs):
    """A Keras input tensor as its shape and dtype; a tensor computed from a call's inputs as the model between
    them (the checker rebuilds its layers on its own inputs)."""
    history = getattr(tensor, "_keras_history", None)
    if history is not None and isinstance(history[0], keras.layers.InputLayer):
        return {"keras_input": {"shape": [d for d in tensor.shape[1:]], "dtype": str(tensor.dtype)}}
    if graph_inputs:
        try:
            sources = graph_inputs[0] if len(graph_inputs) == 1 else list(graph_inputs)
            return {"keras_graph": _keras_bytes(keras.Model(sources, tensor))}
        except Exception as error:   # noqa: BLE001 - a tensor not computed from the call's inputs
            return {"unreceivable": f"a Keras tensor that is not computed from the inputs it was given ({error})"}
    return {"unreceivable": "a Keras tensor computed by a layer (only keras.Input tensors can be sent)"}


def _keras_bytes(model):
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        model.save(path)
        with open(path, "rb") as file:
            return base64.b64encode(file.read()).decode("ascii")


def first_unreceivable(data):
    """The description of the first value in encoded `data` that could not be encoded, or None."""
    if type(data) is list:
        return next((found for item in data if (found := first_unreceivable(item))), None)
    if type(data) is dict:
        if "unreceivable" in data:
            return data["unreceivable"]
        return first_unreceivable(list(data.values()))
    return None


def dumps(value, functions=(), strict=False, other=None):
    """`value` encoded as a JSON text; strict: a WireError for a value that is not data (an argument a test
    cannot send) instead of its stand-in."""
    data = encode(value, functions, other=other)
    if strict and (what := first_unreceivable(data)):
        raise WireError(f"{what} is not data (numbers, strings, lists, dicts, NumPy arrays, a Keras model)")
    text = json.dumps(data)
    if len(text) > MAX_BYTES:
        raise WireError(f"the value is {len(text) / 2**20:.0f} MiB encoded, over the limit of {MAX_BYTES >> 20} MiB")
    return text


# ---------------------------------------------------------------------------------------------- decoding

def loads(text, proxy=None, name="the value", inputs=None, remote=None):
    """Decode a message. `proxy(name)` makes the callable for a {"function": name} (None: refused); `inputs`: a
    list that receives the Keras inputs made for {"keras_input"}, or the inputs a {"keras_graph"} is rebuilt on."""
    if not isinstance(text, str) or len(text) > MAX_BYTES:
        raise WireError(f"expected a JSON text of at most {MAX_BYTES >> 20} MiB")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise WireError(f"not JSON: {error}") from None
    return decode(data, proxy, name, inputs=inputs, remote=remote)


def decode(data, proxy=None, name="the value", _depth=0, inputs=None, remote=None):
    """The value of encoded `data`. `proxy(name)`: the callable for {"function": name}; `remote(reference)`: the
    stand-in for {"remote": reference}, an object of the other side (None: refused)."""
    if _depth > MAX_DEPTH:
        raise WireError(f"nested more than {MAX_DEPTH} levels deep")
    if data is None or type(data) in (bool, int, float, str):
        return data
    if type(data) is list:
        return [decode(item, proxy, name, _depth + 1, inputs, remote) for item in data]
    if type(data) is not dict or len(data) != 1:
        raise WireError(f"{name}: expected a value or one tag, got {str(data)[:80]}")
    (tag, body), = data.items()
    if tag == "float" and body in ("nan", "inf", "-inf"):
        return float(body)
    if tag in ("tuple", "set") and type(body) is list:
        items = [decode(item, proxy, name, _depth + 1, inputs, remote) for item in body]
        return tuple(items) if tag == "tuple" else set(items)
    if tag == "dict" and type(body) is list:
        out = {}
        for pair in body:
            if type(pair) is not list or len(pair) != 2:
                raise WireError(f"{name}: a dict entry must be [key, value]")
            key = decode(pair[0], None, name, _depth + 1)
            try:
                out[key] = decode(pair[1], proxy, name, _depth + 1, inputs, remote)
            except TypeError:
                raise WireError(f"{name}: a dict key of type {type_name(key)}") from None
        return out
    if tag == "ndarray" and type(body) is str:
        return _array(body, name)
    if tag == "scalar" and type(body) is list and len(body) == 2:
        return _array(body[1], name)[()]
    if tag == "keras_model" and type(body) is str:
        return load_keras_model(base64.b64decode(body, validate=True), name)
    if tag == "keras_input" and type(body) is dict and inputs is None:   # an argument sent back after a call
        return Unreceivable("a Keras input", name)
    if tag == "keras_input" and type(body) is dict:
        import keras

        shape = body.get("shape")
        if type(shape) is not list or not all(d is None or type(d) is int for d in shape):
            raise WireError(f"{name}: a Keras input's shape must be a list of sizes")
        tensor = keras.Input(shape=tuple(shape), dtype=str(body.get("dtype", "float32")))
        inputs.append(tensor)
        return tensor
    if tag == "keras_graph" and type(body) is str and inputs:
        return _rebuild_on(load_keras_model(base64.b64decode(body, validate=True), name), inputs, name)
    if tag == "history" and type(body) is dict:
        import keras

        fields = decode(body, None, name, _depth + 1)
        history = keras.callbacks.History()
        history.history, history.params, history.epoch = (dict(fields.get("history", {})), dict(fields.get("params", {})),
                                                          list(fields.get("epoch", [])))
        return history
    if tag == "function" and type(body) is str and proxy is not None:
        return proxy(body)
    if tag == "remote" and type(body) is list and len(body) == 2 and type(body[0]) is int and remote is not None:
        return remote(body)
    if tag == "path" and type(body) is str:
        return pathlib.Path(body)
    if tag == "generator":
        return _generator(decode(body, None, name, _depth + 1), name)
    if tag == "keras_callback" and type(body) is list and len(body) == 2 and body[0] in KERAS_CALLBACKS:
        import keras

        settings = decode(body[1], proxy, name, _depth + 1, inputs, remote)
        if type(settings) is not dict or not all(type(k) is str for k in settings):
            raise WireError(f"{name}: a Keras callback's settings must be a dict")
        try:
            return getattr(keras.callbacks, body[0])(**settings)
        except Exception as error:   # noqa: BLE001
            raise TypeError(f"{name}: a keras.callbacks.{body[0]} that cannot be made again ({error})") from None
    if tag == "module" and type(body) is str and MODULE_NAME.match(body):
        import importlib

        try:
            return importlib.import_module(body)
        except ImportError:
            return Unreceivable(f"the module {body!r}, which the grader does not have", name)
    if tag == "class" and type(body) is list and len(body) == 2 and all(type(b) is str for b in body) \
            and MODULE_NAME.match(body[0]) and MODULE_NAME.match(body[1]):
        import importlib

        try:
            found = importlib.import_module(body[0])
            for part in body[1].split("."):
                found = getattr(found, part)
        except (ImportError, AttributeError):
            return Unreceivable(f"the class {body[0]}.{body[1]}, which the grader does not have", name)
        return found if isinstance(found, type) else Unreceivable(f"{body[0]}.{body[1]}, not a class", name)
    if tag == "unreceivable" and type(body) is str:
        return Unreceivable(body[:200], name)
    raise WireError(f"{name}: an unknown tag {tag!r}")


def _generator(state, name):
    """A NumPy Generator in the state another process's generator was in."""
    import numpy as np

    kind = state.get("bit_generator") if type(state) is dict else None
    if kind not in BIT_GENERATORS:
        raise WireError(f"{name}: a NumPy Generator of an unknown kind ({str(kind)[:40]})")
    generator = np.random.Generator(getattr(np.random, kind)())
    try:
        generator.bit_generator.state = state
    except (TypeError, ValueError, KeyError, OverflowError) as error:
        raise WireError(f"{name}: not a {kind} state ({error})") from None
    return generator


def _array(text, name):
    import numpy as np

    try:
        array = np.load(io.BytesIO(base64.b64decode(text, validate=True)), allow_pickle=False)
    except (ValueError, OSError) as error:
        raise WireError(f"{name}: not a NumPy array without objects ({error})") from None
    if not isinstance(array, np.ndarray):
        raise WireError(f"{name}: not a NumPy array")
    return array


def _rebuild_on(model, inputs, name):
    """The output of `model`'s layers applied to the test's own Keras inputs (copies of the layers, with their
    weights), so that the test's model holds those layers itself."""
    import keras

    try:
        clone = keras.models.clone_model(model, input_tensors=list(inputs) if isinstance(model.input, list) else inputs[0])
        clone.set_weights(model.get_weights())
    except Exception as error:   # noqa: BLE001
        raise TypeError(f"{name}: the layers could not be rebuilt on the test's inputs ({error})") from None
    return clone.outputs[0] if len(clone.outputs) == 1 else list(clone.outputs)


def load_keras_model(data, name="the model"):
    """A Keras model from .keras bytes, in safe mode: a Lambda layer's code is refused, never run."""
    import keras

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        with open(path, "wb") as file:
            file.write(data)
        try:
            with warnings.catch_warnings():   # Keras's notes on optimizer variables are not the student's
                warnings.simplefilter("ignore")
                return keras.saving.load_model(path, safe_mode=True)
        except Exception as error:   # noqa: BLE001 - whatever the file holds, the test gets one clear message
            raise TypeError(f"{name} is a Keras model that the grader cannot rebuild safely "
                            f"({type(error).__name__}: {str(error)[:300]}); use Keras's own layers, no Lambda "
                            f"layers or custom classes") from None
