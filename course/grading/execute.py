"""Stage *execute*: run a submission cell by cell in a sandboxed kernel and decide each test cell.

`GradingExecute` replaces nbgrader's `Execute` in `Autograde.autograde_preprocessors`. Compared
with it, for every submission:

- the kernel runs in the bubblewrap sandbox (`course.grading.sandbox`);
- each auto-graded test cell runs in the trusted checker (`course.grading.checker`), never in the
  student's kernel, which only answers for its names and runs its functions on plain data
  (`course.grading.bridge`, `course.grading.wire`). The cell's **verdict** (kept in the notebook's
  grading record and used by `course.grading.verdict.SaveVerdicts`) is decided there: passed if and
  only if the test's code ran to the end. Printed text, displayed values and stderr never count.
  Before each test cell the guard (`course.grading.guard`) still undoes what student code bent,
  which flags the submission;
- while the student's code runs for the checker, it may use the test's own objects (a fake clock, a
  model-like recorder, a function the test wrote): each use arrives as an input request of the
  kernel and is answered by the checker, which may call the notebook's functions meanwhile;
- for an exercise in `in_kernel_exercises` (none by default) the test cell runs in the kernel instead: the guard undoes
  what student code bent before it, and after it says from inside the kernel whether the cell raised
  and whether anything was bent while it ran; passed if and only if the execute reply says "ok", the
  kernel agrees, and nothing was bent;
- test cells run without being stored in IPython's history (`In`, `_ih`), and the guard forgets
  their source afterwards, so later cells cannot print hidden tests;
- time: each cell gets the exercise's budget, derived from the solution's own run time
  (`budgets.json`), and the notebook as a whole a total budget; a cell over budget is interrupted;
- a kernel that dies (os._exit, a crash, the memory limit) or that ignores the interrupt is
  replaced by a fresh one: the cells that had passed keep their verdict, that cell fails with a
  message saying why, the earlier non-test cells are replayed silently, and grading goes on;
- outputs are capped per output, per cell and per notebook, with a note where they were cut.
"""

from __future__ import annotations

import ast
import asyncio
import hashlib
import json
import os
import re
import secrets
import time
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import run_sync
from nbformat.v4 import new_output
from traitlets import Bool, Dict, Float, Integer, List, Unicode

from nbgrader.preprocessors import Execute

from . import checker, records, wire
from .checker import CheckerStopped
from .notebooks import is_test_cell, nbgrader_meta
from .sandbox import PACKAGE_DIR, Sandbox, SandboxedKernelManager, grader_package

BUDGETS_FILE = Path(__file__).with_name("budgets.json")
GUARD = "__import__('course.grading.guard', fromlist=['guard'])"
BRIDGE = "__import__('course.grading.bridge', fromlist=['bridge'])"
# Where the kernel found `course` (a user expression: the origin of its import spec, or None).
KERNEL_COURSE = "getattr(__import__('importlib.util').util.find_spec('course'), 'origin', None)"


# A test cell that gives partial credit calls course.helpers.partial_credit (docs: the instructors' guide).
FAILED_IN = ("visible", "hidden")   # where a failed test cell stopped: a check the student can run, or a hidden one
PARTIAL_CREDIT = re.compile(r"\bpartial_credit\s*\(")


def ipython_cell_file(source):
    """The name of the file ipykernel compiles a cell with this source to (its code objects' co_filename)."""
    from ipykernel.compiler import get_tmp_hash_seed, murmur2_x86

    return f"{murmur2_x86(source, get_tmp_hash_seed())}.py"


class CourseNotImportable(SystemExit):
    """The grading kernel cannot import the grader's own `course` package: grading stops with both paths (a
    SystemExit, like a missing sandbox, so that no student gets a zero for the grader's set-up)."""


def load_budgets(path=BUDGETS_FILE):
    """{exercise: {"total_s": ..., "slowest_cell_s": ...}} measured on the solutions (may be empty)."""
    try:
        return json.loads(Path(path).read_text())["exercises"]
    except FileNotFoundError:
        return {}


def output_size(output):
    """Characters an output holds (text, data of every mime type, traceback)."""
    size = len(output.get("text", "")) + sum(len(line) for line in output.get("traceback", []))
    for value in output.get("data", {}).values():
        size += len(value) if isinstance(value, str) else len(json.dumps(value))
    return size


class GradingExecute(Execute):
    """nbgrader's Execute with the sandbox, the guard, verdicts, budgets, recovery and output caps."""

    budget_file = Unicode(str(BUDGETS_FILE), help="JSON with the solution's run time per exercise.").tag(config=True)
    timeout_factor = Float(6.0, help="A cell may take this many times the slowest solution cell (a slower or busy "
                                       "machine: a correct solution took over 4x on a loaded 2-core CI run).").tag(config=True)
    min_cell_timeout = Integer(30, help="Never less than this many seconds for a cell.").tag(config=True)
    notebook_factor = Float(4.0, help="The whole notebook may take this many times the solution.").tag(config=True)
    min_notebook_budget = Integer(180, help="Never less than this many seconds for a notebook.").tag(config=True)
    interrupt_grace = Integer(10, help="Seconds a cell has to stop after an interrupt before its kernel "
                                       "is replaced.").tag(config=True)
    stop_at_first_failed_test_for = List(Unicode(), help="Student ids whose notebooks are left unrun after "
                                                         "their first failed test cell (`dl-course mutants`: "
                                                         "a mutant is killed).").tag(config=True)
    stop_after_tests = Dict(help="{student id: [test cell ids]}: leave the rest of that student's notebook "
                                 "unrun once these test cells are graded (the test suite's wrong solutions).").tag(config=True)
    max_restarts = Integer(3, help="Fresh kernels per notebook before the rest is given up.").tag(config=True)
    max_output_chars = Integer(200_000, help="Characters kept of one output.").tag(config=True)
    max_cell_output_chars = Integer(1_000_000, help="Characters kept of one cell's outputs.").tag(config=True)
    max_notebook_output_chars = Integer(10_000_000, help="Characters kept of a notebook's outputs.").tag(config=True)
    guard_modules = List(Unicode(), [
        "builtins", "math", "numpy", "numpy.testing", "numpy.linalg", "numpy.random",
        "course.helpers", "keras", "keras.layers", "keras.ops", "keras.models", "keras.callbacks",
        "keras.optimizers", "keras.losses", "keras.utils",
    ], help="Modules whose namespaces the guard restores before every test cell.").tag(config=True)
    guard_aliases = Dict({"np": "numpy", "numpy": "numpy", "helpers": "course.helpers", "keras": "keras",
                          "layers": "keras.layers", "math": "math"},
                         help="Notebook names that must refer to these modules in test cells.").tag(config=True)

    in_kernel_exercises = List(Unicode(), [],
                               help="Exercises whose test cells run in the student's kernel under the guard "
                                    "instead of the trusted checker (course.grading.checker): an escape hatch "
                                    "for an instructor's test that must share objects with student code by "
                                    "identity. None of the course's exercises needs it.").tag(config=True)
    checker_start_timeout = Integer(120, help="Seconds the checker process has to start.").tag(config=True)

    raise_on_iopub_timeout = Bool(False, help="A late IOPub message (a flood of output) must not end "
                                              "grading: the cell's outputs are kept as they are.").tag(config=True)

    def preprocess(self, nb, resources, km=None):
        from nbclient import NotebookClient

        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        self.kernel_manager_class = SandboxedKernelManager if Sandbox(parent=self).enabled else AsyncKernelManager
        self.record_timing = True
        self.shutdown_kernel = "immediate"   # the sandbox holds nothing worth a graceful shutdown
        self.coalesce_streams = True         # one stream output per name: the same notebook however output was batched
        exercise = resources.get("nbgrader", {}).get("assignment", "")
        self._student = resources.get("nbgrader", {}).get("student", "")
        self._cell_budget, self._notebook_budget = self.budgets(exercise)
        self._use_checker = exercise not in self.in_kernel_exercises
        self._checker, self._checker_busy, self._kernel_waiting, self._serving = None, False, False, None
        self._serve_refused = False
        self._bridge_ids, self._printed = set(), []   # the bridge's execute requests; what student code printed
        self._bridge_done = set()   # those of them whose end (status idle) IOPub has brought
        self._checker_s = self._bridge_s = 0.0   # seconds in test cells through the checker / in the kernel's calls
        record = records.record(nb)
        record["verdicts"] = {}
        start = time.monotonic()
        if record.get("rejected"):
            self._fail_all_tests(f"not graded: {record['rejected']}")
        else:
            try:
                run_sync(self._run_notebook)()
            except Exception as error:   # noqa: BLE001 - a grading failure must not end the batch unreported
                self.log.exception("Grading error in %s", resources.get("nbgrader", {}).get("student"))
                reason = f"grading error ({type(error).__name__}: {error}); please report it"
                records.note(nb, "events", cell=None, kind="grading_error", detail=reason)
                self._flag(None, reason)
                for index, cell in enumerate(nb.cells):
                    grade_id = nbgrader_meta(cell).get("grade_id")
                    if is_test_cell(cell) and grade_id not in record["verdicts"]:
                        self._verdict(grade_id, False, reason)
        record["timing"] = {"wall_s": round(time.monotonic() - start, 3),
                            "peak_memory_mb": round(getattr(self, "_peak_memory", 0) / 2 ** 20, 1)}
        if self._use_checker:   # the checker's own cost: its start, the tests' code, the data across (not the calls)
            record["timing"]["checker_s"] = round(self._checker_s - self._bridge_s, 3)
        return self.nb, self.resources

    def budgets(self, exercise):
        """(seconds per cell, seconds for the notebook) for an exercise."""
        measured = load_budgets(self.budget_file).get(exercise)
        if not measured:
            self.log.warning("No solution run time for %r in %s: cells get %s s each (run "
                             "`python -m course.benchmark --budgets`)", exercise, self.budget_file, self.timeout)
            return self.timeout, None
        cell = max(self.min_cell_timeout, self.timeout_factor * measured["slowest_cell_s"])
        total = max(self.min_notebook_budget, self.notebook_factor * measured["total_s"] + 60)
        return int(cell), int(total)

    # ------------------------------------------------------------------ the notebook loop

    async def _run_notebook(self):
        self._restarts = 0
        self._peak_memory = 0
        self._deadline = None if self._notebook_budget is None else time.monotonic() + self._notebook_budget
        self._passed_cells = []     # indices of non-test code cells that ran without error
        try:
            await self._start_kernel()
            for index, cell in enumerate(self.nb.cells):
                if cell.cell_type == "code" and cell.source.strip():
                    await self._run_cell(index, cell)
        finally:
            if self._checker_busy:   # grading stopped in the middle of a test cell
                self._discard_checker()
            self._checker = None   # kept for the next notebook (checker.acquire gives it a fresh namespace)
            if self.km is not None:
                self._peak_memory = max(self._peak_memory, getattr(self.km, "peak_memory", 0))
                await self._async_cleanup_kernel()
        self.set_widgets_metadata()

    async def _start_kernel(self):
        self.km = self.create_kernel_manager()
        if self.kernel_manager_class is SandboxedKernelManager:
            await self.async_start_new_kernel()
        else:   # unsandboxed: the grader's package first on the kernel's path too
            path = os.pathsep.join(p for p in (str(grader_package().parent), os.environ.get("PYTHONPATH")) if p)
            await self.async_start_new_kernel(env={**os.environ, "PYTHONPATH": path})
        await self.async_start_new_kernel_client()
        info = await self.async_wait_for_reply(await _maybe_await(self.kc.kernel_info()))
        if info is not None and "language_info" in info["content"]:
            self.nb.metadata["language_info"] = info["content"]["language_info"]
        config = json.dumps({"modules": list(self.guard_modules), "aliases": dict(self.guard_aliases)})
        reply = await self._hidden(f"{GUARD}.install({config!r})", timeout=60, user_expressions={"course": KERNEL_COURSE})
        content = (reply or {}).get("content", {})
        expected = Path(PACKAGE_DIR if self.kernel_manager_class is SandboxedKernelManager else grader_package().parent,
                        "course", "__init__.py")
        if content.get("status") == "error" and content.get("ename") in ("ModuleNotFoundError", "ImportError"):
            found = await self._hidden("pass", timeout=30, user_expressions={"course": KERNEL_COURSE})
            raise CourseNotImportable(self._course_mismatch(expected, _expression(found, "course") or "nothing",
                                                            f"{content.get('ename')}: {content.get('evalue')}"))
        if reply is None or content.get("status") != "ok":
            raise RuntimeError(f"the grading guard could not be installed in the kernel: {reply and content}")
        found = _expression(reply, "course")
        if found is not None and _realpath(found) != os.path.realpath(expected):
            raise CourseNotImportable(self._course_mismatch(expected, found, "another course package"))
        self._kernel_dead = False

    @staticmethod
    def _course_mismatch(expected, found, what):
        return (f"Grading stopped: the grading kernel does not import the grader's course package ({what}): the "
                f"grader uses {grader_package()} (seen in the kernel as {expected.parent}), the kernel's Python "
                f"finds {found}. Install the course into the grading environment from this course root "
                f"(`pip install -e .`) or run the grader from the checkout that is installed.")

    def _remaining(self):
        return None if self._deadline is None else self._deadline - time.monotonic()

    async def _run_cell(self, index, cell):
        test = is_test_cell(cell)
        grade_id = nbgrader_meta(cell).get("grade_id", "")
        verdicts = records.record(self.nb)["verdicts"]
        if self._student in self.stop_at_first_failed_test_for and any(not v["passed"] for v in verdicts.values()):
            return self._not_run(index, cell, test, "not run: an earlier test failed")
        needed = self.stop_after_tests.get(self._student)
        if needed and set(needed) <= set(verdicts):
            return self._not_run(index, cell, test, "not run: grading stopped after the tests this run needs")
        if self._kernel_dead:
            return self._not_run(index, cell, test, "not run: the kernel could not be restarted "
                                                    "(it died or hung again while earlier cells were replayed)")
        remaining = self._remaining()
        if remaining is not None and remaining <= 1:
            return self._not_run(index, cell, test, f"not run: the notebook used up its time budget of "
                                                    f"{self._notebook_budget} s")
        budget = self._cell_budget if remaining is None else max(1, min(self._cell_budget, int(remaining)))
        self.timeout = budget
        message = f"this cell ran longer than its time budget of {budget} s and was interrupted"
        self.error_on_timeout = {"ename": "CellTimeoutError", "evalue": message,
                                 "traceback": [f"CellTimeoutError: {message}"]}
        nonce = secrets.token_hex(8)
        if test and self._use_checker:
            before = await self._guard("before", nonce)
            if before is None or before["restored"]:   # defence in depth: a flag, never the points
                self._flag(index, f"before test cell {grade_id!r}, code had changed the grading environment"
                           + (f" (restored): {'; '.join(before['restored'][:8])}" if before else
                              " (the guard did not answer)"))
            return await self._check_cell(index, cell, grade_id, budget)
        if test:
            before = await self._guard("before", nonce, ipython_cell_file(cell.source))
            if before is None:
                return self._fail_test(index, cell, grade_id, "the grading guard did not answer before this test "
                                       "(the kernel's machinery was tampered with)", flag=True)
            if before["restored"]:
                self._flag(index, f"before test cell {grade_id!r}, code had changed the grading environment "
                                  f"(restored): {'; '.join(before['restored'][:8])}")
        self._timed_out, self._last_reply = False, None
        try:
            await self.async_execute_cell(cell, index, execution_count=None, store_history=not test)
        except DeadKernelError:
            return await self._recover(index, cell, grade_id, test, self._death_message())
        except CellTimeoutError as error:   # a late IOPub message with raise_on_iopub_timeout
            self._last_reply = {"content": {"status": "error", "ename": "CellTimeoutError", "evalue": str(error)}}
        finally:
            self._cap_outputs(index, cell)
        if self._timed_out:
            records.note(self.nb, "events", cell=index, kind="timeout", detail=message)
            if not await self._responsive():
                return await self._recover(index, cell, grade_id, test,
                                           f"this cell ran longer than its time budget of {budget} s and did not "
                                           f"stop when interrupted; the kernel was replaced")
            if test:   # the interrupted test failed; the next guard call restores what it may have bent
                return self._verdict(grade_id, False, message)
        status = (self._last_reply or {}).get("content", {}).get("status")
        if not test:
            if status == "ok":
                self._passed_cells.append(index)
            return
        after = await self._guard("after", nonce)
        if after is None:
            return self._verdict(grade_id, False, "the grading guard did not answer after this test", index, flag=True)
        if after["cell_sha256"] != hashlib.sha256(cell.source.encode()).hexdigest() or not after["ran"]:
            return self._verdict(grade_id, False, "the kernel did not run this test cell as sent", index, flag=True)
        if after["changed"]:
            return self._verdict(grade_id, False, "while this test ran, code changed the grading environment: "
                                 + "; ".join(after["changed"][:8]), index, flag=True)
        if (status == "ok") != after["success"]:
            return self._verdict(grade_id, False, "the execute reply did not match how the cell ended in the "
                                 "kernel (a forged reply)", index, flag=True)
        if status == "ok":
            return self._ran_to_the_end(grade_id, cell, after.get("awards"))
        content = self._last_reply["content"]
        return self._verdict(grade_id, False, f"{content.get('ename', 'Error')}: {content.get('evalue', '')}"[:500])

    # ------------------------------------------------------------------ the trusted checker

    async def _check_cell(self, index, cell, grade_id, budget):
        """Run a test cell in the checker; the student's kernel only answers for its names and functions."""
        cell.outputs = []
        started = time.monotonic()
        deadline = started + budget
        try:
            return await self._check_cell_in_checker(index, cell, grade_id, budget, deadline)
        finally:
            self._checker_s += time.monotonic() - started

    async def _check_cell_in_checker(self, index, cell, grade_id, budget, deadline):
        try:
            if self._checker is None:
                self._checker = await asyncio.to_thread(checker.acquire, Sandbox(parent=self), self.log,
                                                        self.checker_start_timeout)
            self._checker_busy = True
            await self._checker.send({"op": "run", "source": cell.source, "name": grade_id,
                                      "modules": dict(self.guard_aliases)})
            while True:
                message = await self._checker.receive(deadline - time.monotonic())
                if message.get("op") == "done":
                    break
                await self._checker.send(await self._bridge(message, deadline))
            await self._stop_serving()
            self._checker_busy = False
            printed, self._printed = "".join(self._printed), []
        except CheckerStopped as error:
            if str(error) != "timeout":
                await self._stop_serving()
            self._discard_checker()
            if str(error) == "timeout":
                reason = f"this cell ran longer than its time budget of {budget} s and was stopped"
                records.note(self.nb, "events", cell=index, kind="timeout", detail=reason)
                if not await self._interrupted():
                    return await self._recover(index, cell, grade_id, True, reason + "; the kernel did not stop "
                                               "when interrupted and was replaced")
                return self._fail_test(index, cell, grade_id, reason)
            return self._fail_test(index, cell, grade_id, f"the grader's checker failed on this cell: {error}")
        except DeadKernelError:
            self._discard_checker()
            return await self._recover(index, cell, grade_id, True, self._death_message())
        for stream in ("stdout", "stderr"):
            if message.get(stream):
                cell.outputs.append(new_output("stream", name=stream, text=message[stream]))
        if printed:
            cell.outputs.append(new_output("stream", name="stdout",
                                           text="[what your code printed while the tests called it]\n" + printed))
        self._cap_outputs(index, cell)
        if message.get("status") != "ok":
            cell.outputs.append(new_output("error", ename=str(message.get("ename")), evalue=str(message.get("evalue")),
                                           traceback=[str(line) for line in message.get("traceback") or []]))
            return self._verdict(grade_id, False, f"{message.get('ename')}: {message.get('evalue')}"[:500],
                                 failed_in=message.get("failed_in") if message.get("failed_in") in FAILED_IN else None)
        return self._ran_to_the_end(grade_id, cell, message.get("awards"))

    async def _bridge(self, request, deadline):
        """Answer the checker's request by running course.grading.bridge in the student's kernel.

        The request runs as the user expression of an empty execute request (no cell machinery runs), or, when
        the kernel is waiting inside a call to one of the test's objects (`bridge.Remote`), as the reply to that
        input request. While it runs, student code may use the test's objects: each use arrives as an input
        request, goes to the checker, and its answer goes back as the input reply."""
        op = request.get("op")
        if op == "export":
            code = f"{BRIDGE}.export({str(request.get('names'))!r})"
        elif op == "call":
            code = (f"{BRIDGE}.call({str(request.get('name'))!r}, {str(request.get('args'))!r}, "
                    f"{str(request.get('errstate', '{}'))!r})")
        elif op == "seed":
            code = f"{BRIDGE}.seed({int(request.get('value', 0))!r})"
        else:
            return {"failure": f"unknown request {op!r}"}
        started = time.monotonic()
        try:
            if not self._kernel_waiting and self._serving is None and not self._serve_refused:
                await self._start_serving(deadline)
            if self._kernel_waiting:
                msg_id = None
                await self._reply_input({"do": {key: request.get(key) for key in
                                                ("op", "names", "name", "args", "errstate", "value")}})
            else:
                msg_id = await _maybe_await(self.kc.execute("", silent=True, store_history=False, allow_stdin=True,
                                                            user_expressions={"a": code}, stop_on_error=False))
                self._bridge_ids.add(msg_id)
            while True:
                kind, msg = await self._kernel_event(msg_id or self._serving, deadline)
                if kind == "reply" and msg_id is None:   # bridge.serve() ended before the cell did
                    self._serving, self._kernel_waiting = None, False
                    return self._bridge_text(None)
                if kind == "reply":
                    return self._bridge_answer(msg)
                self._kernel_waiting = True
                try:
                    asked = json.loads(msg["content"].get("prompt", ""))
                except (ValueError, TypeError, RecursionError):
                    asked = None
                if msg_id is None and isinstance(asked, dict) and "answer" in asked:
                    return self._bridge_text(asked["answer"])
                if isinstance(asked, dict) and "callback" in asked:
                    await self._reply_input(await self._serve_callback(asked["callback"], deadline))
                else:   # the student's own input(): there is nobody to type
                    await self._reply_input("")
        finally:
            self._bridge_s += time.monotonic() - started

    async def _start_serving(self, deadline):
        """Start `bridge.serve()` for this test cell: the kernel then takes each request as an input reply, a
        round trip much cheaper than an execute request. A kernel that does not start serving is asked one
        execute request per call."""
        msg_id = await _maybe_await(self.kc.execute("", silent=True, store_history=False, allow_stdin=True,
                                                    user_expressions={"a": f"{BRIDGE}.serve()"}, stop_on_error=False))
        self._bridge_ids.add(msg_id)
        kind, msg = await self._kernel_event(msg_id, deadline)
        if kind == "input":
            self._serving, self._kernel_waiting = msg_id, True
        if kind != "input" or msg["content"].get("prompt") != json.dumps({"serving": True}):
            self._serve_refused = True   # a replaced bridge: one execute request per call from now on
            await self._stop_serving()

    async def _stop_serving(self):
        """End `bridge.serve()` after the cell: its execute request returns."""
        msg_id, self._serving = self._serving, None
        if msg_id is None:
            return
        try:
            deadline = time.monotonic() + 10
            if self._kernel_waiting:
                await self._reply_input({"stop": True})
            while (await self._kernel_event(msg_id, deadline))[0] != "reply":
                await self._reply_input({"stop": True})   # whatever it asks now, the cell is over
            while msg_id not in self._bridge_done:   # what the calls printed, up to the request's end on IOPub
                try:
                    msg = await _maybe_await(self.kc.iopub_channel.get_msg(timeout=max(0.01, deadline - time.monotonic())))
                except Exception:   # noqa: BLE001 - queue.Empty: nothing more came
                    break
                self._note_printed(msg)
        except CheckerStopped:
            self._kernel_waiting = False
            await self._interrupted()

    async def _serve_callback(self, callback, deadline):
        """Student code used an object of the test's: the checker answers (and may call the notebook meanwhile)."""
        await self._checker.send({"callback": callback})
        while True:
            message = await self._checker.receive(deadline - time.monotonic())
            if message.get("op") == "callback_done":
                return {"error": ["RuntimeError", "the checker gave no answer"]} if not isinstance(
                    message.get("reply"), dict) else message["reply"]
            if message.get("op") == "done":
                raise CheckerStopped("the checker ended the cell inside a call")
            await self._checker.send(await self._bridge(message, deadline))

    async def _reply_input(self, value):
        self._kernel_waiting = False
        await _maybe_await(self.kc.input(value if isinstance(value, str) else json.dumps(value)))

    async def _kernel_event(self, msg_id, deadline):
        """The next message for the bridge: the execute reply to `msg_id` ("reply") or an input request ("input");
        CheckerStopped("timeout") at the deadline."""
        import zmq
        import zmq.asyncio

        poller = zmq.asyncio.Poller()
        poller.register(self.kc.shell_channel.socket, zmq.POLLIN)
        poller.register(self.kc.stdin_channel.socket, zmq.POLLIN)
        poller.register(self.kc.iopub_channel.socket, zmq.POLLIN)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CheckerStopped("timeout")
            ready = dict(await poller.poll(timeout=int(min(1.0, left) * 1000)))
            if not ready:
                if not await _maybe_await(self.kc.is_alive()):
                    raise DeadKernelError("Kernel died")
                continue
            if self.kc.iopub_channel.socket in ready:
                self._note_printed(await _maybe_await(self.kc.iopub_channel.get_msg(timeout=0)))
            if self.kc.stdin_channel.socket in ready:
                msg = await _maybe_await(self.kc.stdin_channel.get_msg(timeout=0))
                if msg["header"].get("msg_type") == "input_request":
                    return "input", msg
            if self.kc.shell_channel.socket in ready:
                msg = await _maybe_await(self.kc.shell_channel.get_msg(timeout=0))
                if msg_id is not None and msg["parent_header"].get("msg_id") == msg_id:
                    return "reply", msg

    def _note_printed(self, msg):
        """Keep what student code printed during the bridge's requests (up to the output cap)."""
        parent = msg["parent_header"].get("msg_id")
        if msg.get("msg_type") == "status" and msg["content"].get("execution_state") == "idle" \
                and parent in self._bridge_ids:
            self._bridge_done.add(parent)
        if msg.get("msg_type") == "stream" and parent in self._bridge_ids:
            if sum(map(len, self._printed)) < self.max_output_chars:
                self._printed.append(str(msg["content"].get("text", "")))

    def _bridge_answer(self, reply):
        value = reply.get("content", {}).get("user_expressions", {}).get("a")
        if not isinstance(value, dict) or value.get("status") != "ok":
            value = value if isinstance(value, dict) else {}
            error = [str(value.get("ename", "RuntimeError")), str(value.get("evalue", "no answer"))[:2000], []]
            return {"answer": json.dumps({"error": error})}
        text = _expression(reply, "a")
        if text is not None and len(text) > 2 * wire.MAX_BYTES:
            return {"answer": json.dumps({"error": ["ValueError", "the notebook's kernel answered with more data than "
                                                                  "the grader accepts", []]})}
        try:
            answer = ast.literal_eval(text) if text is not None else None
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            answer = None
        return self._bridge_text(answer)

    @staticmethod
    def _bridge_text(answer):
        if not isinstance(answer, str):
            return {"answer": json.dumps({"error": ["RuntimeError", "the notebook's kernel gave no answer", []]})}
        return {"answer": answer}

    async def _interrupted(self):
        """Interrupt the student's kernel after a timeout; whether it answers again."""
        await _maybe_await(self.km.interrupt_kernel())
        return await self._responsive()

    def _discard_checker(self):
        """A checker that failed or went silent mid-cell is killed; the next test cell gets a new one."""
        if self._checker is not None:
            checker.discard(self._checker)
            self._checker = None
        self._checker_busy = self._kernel_waiting = False
        self._serving = None

    # ------------------------------------------------------------------ verdicts, flags, notes

    def _ran_to_the_end(self, grade_id, cell, awards):
        """The verdict of a test cell that ran without an exception: passed, or for a partial-credit test the
        smallest share its own code awarded (none: it never reached its award)."""
        if not PARTIAL_CREDIT.search(cell.source):
            return self._verdict(grade_id, True, "passed")
        if not awards:
            return self._verdict(grade_id, False, "this partial-credit test awarded nothing "
                                                  "(helpers.partial_credit was not reached)")
        fraction = min(1.0, max(0.0, min(awards)))
        return self._verdict(grade_id, fraction >= 1.0, f"partial credit: {fraction:.0%} of the points",
                             fraction=fraction)

    def _verdict(self, grade_id, passed, reason, index=None, flag=False, fraction=None, failed_in=None):
        verdict = {"passed": bool(passed), "reason": reason}
        if fraction is not None:
            verdict["fraction"] = fraction
        if failed_in:
            verdict["failed_in"] = failed_in
        records.record(self.nb)["verdicts"][grade_id] = verdict
        if flag:
            self._flag(index, f"test cell {grade_id!r}: {reason}")

    def _flag(self, index, reason):
        entry = records.note(self.nb, "flags", cell=index, reason=reason)
        self.log.warning("Flagged for review: %s", records.describe(entry))

    def _error_output(self, cell, ename, evalue):
        cell.outputs.append(new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"]))

    def _fail_test(self, index, cell, grade_id, reason, flag=False):
        self._error_output(cell, "GradingError", reason)
        self._verdict(grade_id, False, reason, index, flag=flag)

    def _not_run(self, index, cell, test, reason):
        cell.outputs = []
        self._error_output(cell, "NotRun", reason)
        if test:
            self._verdict(nbgrader_meta(cell).get("grade_id", ""), False, reason)

    def _fail_all_tests(self, reason):
        for index, cell in enumerate(self.nb.cells):
            if cell.cell_type == "code":
                cell.outputs = []
                if is_test_cell(cell):
                    self._not_run(index, cell, True, reason)

    # ------------------------------------------------------------------ kernel death and hangs

    def _death_message(self):
        reason = getattr(self.km, "death_reason", None)
        return (f"the kernel died while running this cell: {reason}" if reason else
                "the kernel died while running this cell (os._exit, a crash or a signal)")

    async def _recover(self, index, cell, grade_id, test, message):
        """The kernel died or hung in cell `index`: fail the cell, start a fresh kernel, replay."""
        self._error_output(cell, "KernelDied" if "died" in message else "CellTimeoutError",
                           message + "; the cells after it ran in a fresh kernel")
        records.note(self.nb, "events", cell=index, kind="kernel_replaced", detail=message)
        if test:
            self._verdict(grade_id, False, message)
        self._peak_memory = max(self._peak_memory, getattr(self.km, "peak_memory", 0))
        await self._async_cleanup_kernel()
        self._restarts += 1
        if self._restarts > self.max_restarts:
            self._kernel_dead = True
            return
        try:
            await self._start_kernel()
            for earlier in self._passed_cells:
                remaining = self._remaining()
                reply = await self._hidden(self.nb.cells[earlier].source,
                                           timeout=self._cell_budget if remaining is None else max(1, remaining))
                if reply is None:
                    raise DeadKernelError("replay timed out")
        except (DeadKernelError, RuntimeError) as error:
            self.log.warning("Fresh kernel failed while replaying earlier cells: %s", error)
            self._kernel_dead = True
            if self.km is not None:
                await self._async_cleanup_kernel()

    async def _async_handle_timeout(self, timeout, cell=None):
        self._timed_out = True
        return await super()._async_handle_timeout(timeout, cell)

    async def _responsive(self):
        """After an interrupt: does the kernel answer within the grace period?"""
        try:
            return await self._hidden("pass", timeout=self.interrupt_grace) is not None
        except DeadKernelError:
            return False

    # ------------------------------------------------------------------ silent requests

    async def _hidden(self, code, timeout, user_expressions=None):
        """Run code without outputs or history; the execute reply, or None after `timeout` seconds."""
        msg_id = await _maybe_await(self.kc.execute(code, silent=True, store_history=False, allow_stdin=False,
                                                    user_expressions=user_expressions or {}, stop_on_error=False))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                msg = await _maybe_await(self.kc.shell_channel.get_msg(timeout=min(1.0, left)))
            except Exception:   # queue.Empty
                if not await _maybe_await(self.kc.is_alive()):
                    raise DeadKernelError("Kernel died") from None
                continue
            if msg["parent_header"].get("msg_id") == msg_id:
                return msg

    async def _guard(self, name, nonce, *args):
        """Call guard.before/after in the kernel; its JSON answer, or None if it did not answer with the nonce."""
        try:
            # The call runs as a cell (the state the test cells see); its answer comes back as a user expression.
            call = ", ".join(repr(a) for a in (nonce, *args))
            reply = await self._hidden(f"{GUARD}.{name}({call})", timeout=30,
                                       user_expressions={"g": f"{GUARD}.answer"})
        except DeadKernelError:
            return None
        try:
            value = reply["content"]["user_expressions"]["g"]
            answer = json.loads(ast.literal_eval(value["data"]["text/plain"]))
        except (TypeError, KeyError, ValueError, SyntaxError):
            return None
        return answer if answer.get("nonce") == nonce else None

    # ------------------------------------------------------------------ outputs

    def on_cell_executed(self, **kwargs):
        self._last_reply = kwargs.get("execute_reply")
        return super().on_cell_executed(**kwargs)

    def output(self, outs, msg, display_id, cell_index):
        if (self._cell_chars.get(cell_index, 0) >= self.max_cell_output_chars
                or self._notebook_chars >= self.max_notebook_output_chars):
            self._dropped[cell_index] = self._dropped.get(cell_index, 0) + 1
            return None
        out = super().output(outs, msg, display_id, cell_index)
        if out is not None:
            if output_size(out) > self.max_output_chars:
                _truncate(out, self.max_output_chars)
                self._dropped.setdefault(cell_index, 0)
            size = output_size(out)
            self._cell_chars[cell_index] = self._cell_chars.get(cell_index, 0) + size
            self._notebook_chars += size
        return out

    def reset_execution_trackers(self):
        super().reset_execution_trackers()
        self._dropped, self._cell_chars, self._notebook_chars = {}, {}, 0

    def _cap_outputs(self, index, cell):
        """After a cell: truncate coalesced streams over the cap and say what was cut."""
        for output in cell.get("outputs", []):
            if output_size(output) > self.max_output_chars:
                _truncate(output, self.max_output_chars)
                self._dropped.setdefault(index, 0)
        if index in self._dropped:
            note = (f"[grading: output of this cell cut to the limits of {self.max_output_chars:,} characters per "
                    f"output and {self.max_cell_output_chars:,} per cell; {self._dropped[index]} more outputs dropped]\n")
            cell.outputs.append(new_output("stream", name="stdout", text=note))
            records.note(self.nb, "events", cell=index, kind="output_cut", detail=note.strip())
            del self._dropped[index]


def _truncate(output, limit):
    """Cut an output to about `limit` characters: text is shortened, other data dropped."""
    if "text" in output:
        output["text"] = output["text"][:limit] + "\n[... cut ...]\n"
    if "traceback" in output:
        output["traceback"] = [line[:limit // 10] for line in output["traceback"][:10]]
    data = output.get("data")
    if data:
        text = data.get("text/plain", "")
        output["data"] = {"text/plain": (text[:limit] + " [... cut ...]") if text else "[output too large: removed]"}


def _realpath(text):
    """The real path in the repr of a path string (the text itself when it is not one)."""
    try:
        return os.path.realpath(ast.literal_eval(text))
    except (ValueError, SyntaxError, TypeError):
        return text


def _expression(reply, name):
    """The text of user expression `name` in an execute reply (None when it is missing or failed)."""
    try:
        value = reply["content"]["user_expressions"][name]
        return value["data"]["text/plain"] if value.get("status") == "ok" else None
    except (TypeError, KeyError):
        return None


async def _maybe_await(value):
    if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
        return await value
    return value
