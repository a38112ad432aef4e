"""The trusted checker: what crosses from a student's kernel is data, and the hidden tests never go the other way.

The end-to-end attacks on the checker's boundary are in the hostile batch (tests/hostile_submissions.py, "the
checker's boundary"); these tests look at the boundary itself: the wire format's decoding refuses code, and a
real grading run never sends a hidden test line to the student's kernel.
"""

import base64
import copy
import io
import json
import os
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from course import grading
from course.grading import checker, records, wire
from course.grading.execute import GradingExecute
from course.grading.notebooks import nbgrader_meta


# ---------------------------------------------------------------------------------------------- the wire format

def test_plain_values_cross_as_themselves():
    values = [None, True, 3, 2.5, float("inf"), "text", [1, (2, 3)], {"a": np.arange(3), 4: {5}},
              np.float32(1.5), np.int64(7), np.array([[1.0, 2.0]], dtype=np.float32)]
    for value in values:
        back = wire.loads(wire.dumps(value))
        assert type(back) is type(value), (value, back)
        if isinstance(value, dict):
            assert back.keys() == value.keys() and np.array_equal(back["a"], value["a"]) and back[4] == {5}
        else:
            assert np.array_equal(np.asarray(back, dtype=object if isinstance(value, list) else None),
                                  np.asarray(value, dtype=object if isinstance(value, list) else None)), (value, back)
    assert np.float32(1.5).dtype == wire.loads(wire.dumps(np.float32(1.5))).dtype


def test_an_array_subclass_with_its_own_comparisons_crosses_as_a_plain_array():
    class Agreeable(np.ndarray):
        def __eq__(self, other):
            return True

    back = wire.loads(wire.dumps(np.zeros(3).view(Agreeable)))
    assert type(back) is np.ndarray and not np.array_equal(back, np.ones(3))


def test_an_object_that_is_not_data_fails_every_use_with_its_type_named():
    class Gradient:
        def __eq__(self, other):
            return True

    back = wire.loads(wire.dumps({"dW1": Gradient()}))["dW1"]
    with pytest.raises(TypeError, match="Gradient.*cannot check"):
        back == 0   # noqa: B015 - the comparison itself must fail
    with pytest.raises(TypeError, match="Gradient"):
        np.asarray(back) + 1


def test_a_pickle_inside_an_array_is_refused_without_running(tmp_path):
    marker = tmp_path / "unpickled"

    class Bomb:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    array = np.empty(1, dtype=object)
    array[0] = Bomb()
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    forged = json.dumps({"ndarray": base64.b64encode(buffer.getvalue()).decode()})
    with pytest.raises(wire.WireError, match="without objects"):
        wire.loads(forged)
    assert not marker.exists()
    assert wire.encode(array) == {"unreceivable": "a NumPy array of Python objects"}


@pytest.mark.parametrize("message", ['{"eval": "1"}', '{"ndarray": 5}', '{"a": 1, "b": 2}', "[" * 100 + "]" * 100,
                                     '{"module": "os; import sys"}'])
def test_a_message_outside_the_format_is_refused(message):
    with pytest.raises(wire.WireError):
        wire.loads(message)


def test_a_lambda_layer_is_refused_by_the_checker_and_its_code_never_runs(tmp_path):
    """A student model whose Lambda layer writes a file when it runs: the checker refuses to rebuild it."""
    import keras

    marker = str(tmp_path / "lambda-ran")
    inputs = keras.Input((3,))
    outputs = keras.layers.Lambda(lambda x: (open(marker, "w").close(), x)[1])(inputs)
    model = keras.Model(inputs, outputs)
    os.remove(marker)                                    # it ran once here, where the student built it
    payload = wire.dumps(model)
    with pytest.raises(TypeError, match="cannot rebuild safely.*Lambda"):
        wire.loads(payload)
    assert not os.path.exists(marker)


def test_a_keras_model_crosses_with_its_weights_and_its_optimizer():
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="relu"), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    back = wire.loads(wire.dumps(model))
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    assert np.allclose(back.predict(x, verbose=0), model.predict(x, verbose=0))
    assert isinstance(back.optimizer, keras.optimizers.Adam)


# ---------------------------------------------------------------------------------------------- the checker

def test_a_function_that_changes_its_input_changes_the_tests_object_too():
    before = {"W": np.ones((2, 2)), "b": [1, 2]}
    checker.sync(before, {"W": np.zeros((2, 2)), "b": [1, 3]})
    assert np.array_equal(before["W"], np.zeros((2, 2))) and before["b"] == [1, 3]


def test_an_exception_of_student_code_is_the_same_builtin_class_with_the_students_traceback():
    error = checker.student_error("ValueError", "bad shape (3,)", ['  File "<cell>", line 2, in f\n'])
    assert type(error) is ValueError and "bad shape" in str(error) and "In your code" in error.__notes__[0]
    own = checker.student_error("MyError", "nope", [])
    assert isinstance(own, checker.StudentCodeError) and "MyError: nope" in str(own)


class RecordingExecute(GradingExecute):
    """GradingExecute that keeps every request it sends to the student's kernel (execute requests and input
    replies)."""

    sent = []

    async def async_start_new_kernel_client(self):
        kc = await super().async_start_new_kernel_client()
        execute = kc.execute

        def recording(code, *args, **kwargs):
            self.sent.append(code + "\n" + json.dumps(kwargs.get("user_expressions") or {}))
            return execute(code, *args, **kwargs)

        kc.execute = recording
        reply = kc.input

        def recording_reply(value):   # requests while the kernel serves them on its input channel
            self.sent.append(value)
            return reply(value)

        kc.input = recording_reply
        return kc


@pytest.mark.grading
def test_no_line_of_a_hidden_test_reaches_the_students_kernel(data_dir, tmp_path):
    """The solution notebook with its hidden tests, graded by the executor: every test passes in the checker,
    and no hidden test line is in any request sent to the student's kernel."""
    exercise = "ex01_numpy_dnn"
    source = nbformat.read(grading.notebook_path(exercise), as_version=4)
    hidden = grading.secret_lines(source, hidden_only=True)
    executor = RecordingExecute()
    RecordingExecute.sent = []
    nb, _ = executor.preprocess(source, {"nbgrader": {"assignment": exercise, "student": "s"},
                                         "metadata": {"path": str(tmp_path)}})
    verdicts = records.record(nb)["verdicts"]
    assert verdicts and all(v["passed"] for v in verdicts.values()), verdicts
    assert len(RecordingExecute.sent) > 20
    leaked = sorted(line for line in hidden if any(line in request for request in RecordingExecute.sent))
    assert not leaked, leaked[:3]


def test_an_argument_that_is_not_data_is_named_instead_of_sent():
    import threading

    with pytest.raises(wire.WireError, match="lock is not data"):
        wire.dumps([[threading.Lock()], {}], strict=True)


def test_a_generator_crosses_in_its_state_and_the_tests_generator_advances_as_the_students_did():
    test_rng = np.random.default_rng(5)
    students = wire.loads(wire.dumps(test_rng, strict=True))
    assert type(students) is np.random.Generator and students is not test_rng
    drawn = students.choice(3, p=[0.5, 0.3, 0.2])
    checker.sync(test_rng, wire.loads(wire.dumps(students)))
    assert test_rng.bit_generator.state == students.bit_generator.state
    assert int(np.random.default_rng(5).choice(3, p=[0.5, 0.3, 0.2])) == int(drawn)
    with pytest.raises(wire.WireError, match="unknown kind"):
        wire.loads('{"generator": {"dict": [["bit_generator", "os.system"]]}}')


def test_keras_callbacks_cross_with_their_settings_and_a_schedule_as_a_handle_to_call_back():
    import keras

    handles = []
    schedule = keras.callbacks.LearningRateScheduler(lambda epoch: 0.1 * 0.5 ** epoch)
    stopping = keras.callbacks.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    backup = keras.callbacks.ModelCheckpoint("/tmp/run.keras", save_best_only=True)

    def handle(value):
        handles.append(value)
        return {"function": f"#{len(handles)}"}

    text = json.dumps(wire.encode([schedule, stopping, backup], other=handle))
    called = []
    back = wire.loads(text, proxy=lambda name: lambda *args: called.append((name, args)) or 0.05)
    assert [type(cb).__name__ for cb in back] == ["LearningRateScheduler", "EarlyStopping", "ModelCheckpoint"]
    assert handles == [schedule.schedule] and back[0].schedule(3) == 0.05 and called == [("#1", (3,))]
    assert (back[1].monitor, back[1].patience, back[1].restore_best_weights) == ("val_loss", 2, True)
    assert back[2].filepath == "/tmp/run.keras" and back[2].save_best_only
    assert wire.loads(wire.dumps(Path("/tmp/x.keras"))) == Path("/tmp/x.keras")
    with pytest.raises(wire.WireError, match="unknown tag"):
        wire.loads('{"keras_callback": ["LambdaCallback", {"dict": []}]}')


NO_ARGUMENTS = json.dumps(wire.encode([[], {}]))   # a call without arguments, as the bridge sends it


def _tests_own(source, name):
    """An object made by test code (its module is the checker namespace's __main__)."""
    namespace = {"__name__": "__main__"}
    exec(source, namespace)   # noqa: S102 - test material
    return namespace[name]


class ScriptedKernel(checker.Channel):
    """Stands in for the executor and the student's kernel: each reply is made by a function of the last message."""

    def __init__(self, script):
        self.script, self.sent = list(script), []

    def send(self, message):
        self.sent.append(message)

    def receive(self):
        return self.script.pop(0)(self.sent[-1])


def test_the_students_code_reaches_the_tests_objects_only_through_their_public_attributes():
    clock = _tests_own("class Clock:\n    calls = 0\n    def read(self):\n        self.calls += 1\n"
                       "        return float(self.calls)\n", "Clock")()
    reference = checker.remote_of(clock)["remote"]
    method = checker.serve_callback({"op": "getattr", "id": reference[0], "attr": "read"})["result"]
    assert "remote" in method and method["remote"][1] == "function"
    assert checker.serve_callback({"op": "invoke", "id": method["remote"][0], "args": NO_ARGUMENTS}) == {"result": 1.0}
    assert clock.calls == 1
    for attribute in ("__class__", "__dict__", "_secret", "__init__"):
        answer = checker.serve_callback({"op": "getattr", "id": reference[0], "attr": attribute})
        assert answer["error"][0] == "AttributeError", answer
    function = _tests_own("def f():\n    return print\n", "f")
    handle = checker.remote_of(function)["remote"][0]
    assert "__globals__" in checker.serve_callback({"op": "getattr", "id": handle, "attr": "__globals__"})["error"][1]
    assert checker.serve_callback({"op": "invoke", "id": handle, "args": NO_ARGUMENTS}) == \
        {"result": {"unreceivable": "a builtin_function_or_method"}}
    assert checker.remote_of(np.mean) is None and checker.remote_of(print) is None
    checker._remotes.clear()


def test_a_check_inside_the_tests_object_fails_the_cell_even_when_the_students_code_catches_it(monkeypatch):
    """The student's time_it catches the AssertionError that the test's clock raised and returns 1.0."""
    channel = ScriptedKernel([
        lambda asked: {"answer": json.dumps({"values": {"time_it": {"function": "time_it"}}})},
        lambda call: {"callback": {"op": "invoke", "id": json.loads(call["args"])[0][0]["remote"][0],
                                   "args": NO_ARGUMENTS}},
        lambda done: {"answer": json.dumps({"result": 1.0, "args": None})},
    ])
    monkeypatch.setattr(checker, "_channel", channel)
    result = checker.Checker().run("def clock():\n    assert False, 'read the clock twice per repeat'\n"
                                   "assert time_it(clock) == 1.0\n", "test_time_it", {})
    assert result["status"] == "error" and result["ename"] == "AssertionError", result
    assert "read the clock twice per repeat" in result["evalue"]
    assert channel.sent[2]["reply"]["error"][0] == "AssertionError"   # the student's code got the exception too


def test_a_block_built_on_a_tests_keras_input_comes_back_as_layers_on_that_input():
    """residual_block(keras.Input(...)) called through the checker: the test's model holds the student's layers,
    with their weights, on the test's own input."""
    import keras
    from keras import layers

    def residual_block(x, filters):
        y = layers.BatchNormalization()(layers.Conv2D(filters, 3, padding="same")(x))
        return layers.ReLU()(layers.Add()([layers.Conv2D(filters, 1)(x), y]))

    test_input = keras.Input(shape=(5, 5, 3))
    made = []
    args, _ = wire.loads(wire.dumps([[test_input, 4], {}], strict=True), inputs=made)   # the student's side
    student_output = residual_block(*args)
    student_model = keras.Model(made[0], student_output)
    answer = json.dumps(wire.encode(student_output, graph_inputs=made))
    block = keras.Model(test_input, wire.loads(answer, inputs=[test_input]))              # the checker's side
    assert [type(layer).__name__ for layer in block.layers] == [type(layer).__name__ for layer in student_model.layers]
    x = np.random.default_rng(0).normal(size=(2, 5, 5, 3)).astype("float32")
    assert np.allclose(block(x), student_model(x), atol=1e-6)
    with pytest.raises(wire.WireError, match="only keras.Input"):
        wire.dumps(layers.Conv2D(2, 1)(test_input), strict=True)


def test_a_class_of_an_installed_package_crosses_as_the_checkers_own_import():
    from pathlib import Path

    class Mine:
        pass

    assert wire.loads(wire.dumps(Path)) is Path
    assert isinstance(wire.loads(wire.dumps(Mine)), wire.Unreceivable)
    with pytest.raises(wire.WireError):
        wire.loads('{"class": ["os", "system; rm"]}')
    assert isinstance(wire.loads('{"class": ["os", "system"]}'), wire.Unreceivable)   # a function, not a class


def test_the_tests_module_names_are_the_checkers_own_whatever_the_notebook_bound(monkeypatch):
    """A notebook that binds `np` to another module (or claims it is one) cannot choose the test's numpy."""
    asked = []

    class Channel:
        def ask(self, message):
            asked.append(json.loads(message["names"]))
            return {"values": {"np": {"module": "numpy.ma"}, "z": [1.0, 2.0]}}

    monkeypatch.setattr(checker, "_channel", Channel())
    result = checker.Checker().run("assert np is __import__('numpy') and z == [1.0, 2.0]", "test_x", {"np": "numpy"})
    assert result["status"] == "ok", result
    assert asked == [["z"]]


@pytest.mark.grading
def test_what_student_code_prints_while_a_test_calls_it_is_shown_in_that_test_cell(data_dir, tmp_path):
    """Exercise 6 solved, with a print in `speedup`: the graded test cell shows the student's lines (the calls
    ran in the student's kernel, the test in the checker), and every test still passes, the timing tests too
    (their fake clocks and functions stay in the checker; student code calls them by reference)."""
    exercise = "ex06_gpu"
    source = nbformat.read(grading.notebook_path(exercise), as_version=4)
    cell = next(c for c in source.cells if nbgrader_meta(c).get("grade_id") == "speedup")
    cell.source = cell.source.replace("    ### BEGIN SOLUTION\n",
                                      "    ### BEGIN SOLUTION\n    print('speedup of', cpu_seconds, gpu_seconds)\n")
    nb, _ = GradingExecute().preprocess(source, {"nbgrader": {"assignment": exercise, "student": "s"},
                                                 "metadata": {"path": str(tmp_path)}})
    verdicts = records.record(nb)["verdicts"]
    assert verdicts and all(v["passed"] for v in verdicts.values()), verdicts
    test = next(c for c in nb.cells if nbgrader_meta(c).get("grade_id") == "test_speedup")
    printed = "".join(o.get("text", "") for o in test.outputs if o.get("output_type") == "stream")
    assert "what your code printed" in printed and "speedup of 10.0 2.0" in printed, printed


@pytest.mark.grading
def test_a_failed_check_leads_with_its_message_and_says_whether_it_can_be_run_in_the_notebook(data_dir, tmp_path):
    """Exercise 1 with three wrong parts, graded: a sigmoid with the wrong sign (a visible check catches it),
    a `relu` that flattens its input (only the hidden checks use a 2-D input) and a `forward` that raises in the
    student's own code. Each failed cell's error output, in the graded notebook and in the feedback, starts with the
    message (expected and got), then the student's own traceback, then the test cell's line, by number only."""
    from course.grading.feedback import HideHiddenTests
    from submissions import apply_wrong_solution

    exercise = "ex01_numpy_dnn"
    solution = nbformat.read(grading.notebook_path(exercise), as_version=4)

    def graded_with(*edits):   # a flattening relu would fail forward's visible checks too: two notebooks
        nb = solution
        for cell, old, new in edits:
            nb = apply_wrong_solution(nb, {"name": cell, "cell": cell, "old": old, "new": new})
        return GradingExecute().preprocess(nb, {"nbgrader": {"assignment": exercise, "student": "s"},
                                                "metadata": {"path": str(tmp_path)}})[0]

    graded = graded_with(("activations", "np.exp(-np.logaddexp(0.0, -np.asarray(z, dtype=np.float64)))",
                          "np.exp(-np.logaddexp(0.0, np.asarray(z, dtype=np.float64)))"),
                         ("forward", 'params["W1"] @ X', 'X @ params["W1"]'))
    flattened = graded_with(("activations", "return np.maximum(0.0, z)", "return np.maximum(0.0, z).ravel()"))
    failed_in = {name: verdict.get("failed_in") for name, verdict in records.record(graded)["verdicts"].items()}
    assert failed_in["test_activations"] == failed_in["test_forward"] == "visible", failed_in
    assert records.record(flattened)["verdicts"]["test_activations"].get("failed_in") == "hidden"

    def error(notebook, grade_id):
        cell = next(c for c in notebook.cells if nbgrader_meta(c).get("grade_id") == grade_id)
        return next(o for o in cell.outputs if o.output_type == "error")["traceback"]

    def feedback(notebook):
        notebook = copy.deepcopy(notebook)
        for index, cell in enumerate(notebook.cells):
            HideHiddenTests().preprocess_cell(cell, {}, index)
        return notebook

    for wrong, hidden_only in [(graded, flattened), (feedback(graded), feedback(flattened))]:
        sigmoid = error(wrong, "test_activations")
        assert sigmoid[0].startswith("AssertionError: sigmoid([0, 2, -2]): expected [0.5, 0.8808, 0.1192], got ["), sigmoid
        assert re.fullmatch(r"\(line \d+ of this test cell: a check you can run in your notebook\)", sigmoid[1]), sigmoid
        crash = error(wrong, "test_forward")
        assert crash[0].startswith("ValueError: matmul") and crash[1] == "In your code:", crash
        assert "in forward" in "\n".join(crash[2:]) and any("a check you can run" in line for line in crash), crash
        shape = error(hidden_only, "test_activations")
        assert shape[0] == "AssertionError: activations must keep the shape" and "a hidden check" in shape[1], shape
    assert "Traceback (most recent call last)" not in str(error(graded, "test_activations"))
