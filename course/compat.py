"""The course on Colab-like stacks: every source notebook, hidden tests included, in a fresh environment.

    python -m course.compat                  # every stack in STACKS, every exercise
    python -m course.compat colab-2024 --exercise ex01_numpy_dnn

For each stack: a new virtual environment with the stack's pinned packages (what a Colab runtime
ships), then the course installed the way a notebook's `%pip install` does it, which must change
none of those versions (the course's dependency floors force no upgrade); then each source notebook
is executed top to bottom with nbclient in that environment and must finish without an error.
The "keras2" stack is an old runtime: the setup cell must stop with the one-sentence StackError
instead of failing deep inside. The test suite runs it (`tests/test_compat.py`, so CI does too); the
docs/testing.md lists the stacks.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from course.coursedir import PACKAGE_CHECKOUT as ROOT, absolute_data_dir
RUNNER = ["nbclient==0.10.2", "nbformat==5.10.4", "ipykernel==6.29.5", "ipython==8.12.3"]   # to run notebooks
STACKS = {
    # Colab runtimes: what `pip list` showed there (TensorFlow, Keras, NumPy, Matplotlib).
    "colab-2025": ["tensorflow==2.19.0", "keras==3.10.0", "numpy==2.0.2", "matplotlib==3.10.0"],
    "colab-2024": ["tensorflow==2.17.1", "keras==3.4.1", "numpy==1.26.4", "matplotlib==3.7.1"],
}
OLD_STACK = {"keras2": ["keras==2.15.0", "numpy==1.26.4", "matplotlib==3.7.1"]}

EXECUTE = r'''
import json, sys, time, tempfile, nbformat
from nbclient import NotebookClient
path, results = sys.argv[1], {}
nb = nbformat.read(path, as_version=4)
start = time.perf_counter()
with tempfile.TemporaryDirectory() as folder:
    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": folder}}).execute()
errors = [f"{o.ename}: {o.evalue}"[:300] for c in nb.cells if c.cell_type == "code"
          for o in c.outputs if o.output_type == "error"]
print(json.dumps({"wall_s": round(time.perf_counter() - start, 1), "errors": errors}))
'''


def _run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def _installer(python):
    """The install command for an environment: uv (fast, in parallel) when it is installed, else pip."""
    uv = Path(sys.executable).with_name("uv")
    if uv.is_file():
        return [str(uv), "pip", "install", "--quiet", "--python", python]
    return [python, "-m", "pip", "install", "--quiet"]


def make_env(name, packages, folder):
    """A fresh venv with the packages, then the course installed; returns (python, versions, changed)."""
    env = Path(folder) / name
    _run([sys.executable, "-m", "venv", str(env)]).check_returncode()
    python = str(env / "bin" / "python")
    step = _run([*_installer(python), *packages, *RUNNER])
    if step.returncode != 0:
        raise RuntimeError(f"{name}: installing {packages} failed:\n{step.stderr[-2000:]}")
    before = _freeze(python)
    step = _run([*_installer(python), str(ROOT)])   # as the notebooks' %pip install does
    if step.returncode != 0:
        raise RuntimeError(f"{name}: installing the course failed:\n{step.stderr[-2000:]}")
    after = _freeze(python)
    changed = {k: (before.get(k), v) for k, v in after.items() if k in before and before[k] != v}
    return python, {k: after.get(k) for k in ("tensorflow", "keras", "numpy", "matplotlib")}, changed


def _freeze(python):
    """{package: version} installed in an environment (read from its metadata, without pip)."""
    code = "import json, importlib.metadata as m; print(json.dumps({d.metadata['Name'].lower(): d.version for d in m.distributions()}))"
    return json.loads(_run([python, "-c", code]).stdout)


def run_stack(name, exercises, folder):
    """{"stack", "versions", "changed", "notebooks": {exercise: {"wall_s", "errors"}}}."""
    from course.grading.notebooks import notebook_path

    python, versions, changed = make_env(name, STACKS[name], folder)
    result = {"stack": name, "versions": versions, "changed": changed, "notebooks": {}}
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", MPLBACKEND="Agg")
    for exercise in exercises:
        step = _run([python, "-c", EXECUTE, str(notebook_path(exercise))], env=env, timeout=1200)
        try:
            result["notebooks"][exercise] = json.loads(step.stdout.strip().splitlines()[-1])
        except (IndexError, ValueError):
            result["notebooks"][exercise] = {"wall_s": None, "errors": [f"runner failed: {step.stderr[-500:]}"]}
        print(f"{name} {exercise}: {result['notebooks'][exercise]}", file=sys.stderr)
    return result


def run_old_stack(folder):
    """The StackError message an old Keras 2 runtime gets from a setup cell's first call."""
    name, packages = next(iter(OLD_STACK.items()))
    python, versions, _ = make_env(name, packages, folder)
    step = _run([python, "-c", "from course import helpers; helpers.quiet_tensorflow()"])
    return {"stack": name, "versions": versions, "message": step.stderr.strip().splitlines()[-1] if step.stderr else ""}


def main(argv=None):
    from course.grading.notebooks import exercises

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stack", nargs="*", help=f"stacks (default: all of {', '.join(STACKS)})")
    parser.add_argument("--exercise", action="append", help="only these exercises (default: all in source/)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.stack) - set(STACKS))
    if unknown:
        parser.error(f"unknown stack {', '.join(unknown)}; known: {', '.join(STACKS)}")
    absolute_data_dir(ROOT)   # the notebooks run in other folders
    failures = []
    with tempfile.TemporaryDirectory(prefix="dl-compat-") as folder:
        start = time.perf_counter()
        old = run_old_stack(folder)
        print(f"{old['stack']} ({old['versions']}): {old['message']}")
        if "StackError" not in old["message"] or "Keras 3" not in old["message"]:
            failures.append(f"{old['stack']}: the setup cell did not stop with the StackError message")
        for name in args.stack or list(STACKS):
            result = run_stack(name, args.exercise or exercises(), folder)
            print(f"\n{name}: " + ", ".join(f"{k} {v}" for k, v in result["versions"].items()))
            if result["changed"]:
                failures.append(f"{name}: installing the course changed {result['changed']}")
            for exercise, outcome in result["notebooks"].items():
                status = "ok" if not outcome["errors"] else f"{len(outcome['errors'])} error(s): {outcome['errors'][0]}"
                print(f"  {exercise:26s} {outcome['wall_s']} s  {status}")
                if outcome["errors"]:
                    failures.append(f"{name} {exercise}: {outcome['errors'][0]}")
        print(f"\ncompatibility run: {time.perf_counter() - start:.0f} s, {len(failures)} failure(s)")
    for failure in failures:
        print("FAILED", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
