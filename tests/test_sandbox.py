"""The sandbox's file system, checked directly: what a kernel may read, even where it lives under /tmp."""

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from course.grading import sandbox


@pytest.fixture
def run_in_sandbox(tmp_path):
    if sandbox.bwrap_problem():
        pytest.skip(sandbox.bwrap_problem())

    def run(code, read_only=()):
        box = sandbox.Sandbox(read_only_paths=[str(p) for p in read_only])
        folders = [tmp_path / name for name in ("work", "sock", "home")]
        for folder in folders:
            folder.mkdir(exist_ok=True)
        command = box.command([sys.executable, "-c", code], *folders, env={})
        return subprocess.run(command, capture_output=True, text=True, timeout=60)
    return run


def test_a_read_only_path_under_tmp_stays_visible_over_the_private_tmp(run_in_sandbox):
    """A course, data mirror or environment kept under /tmp (a CI checkout, say) is readable inside."""
    with tempfile.TemporaryDirectory(dir="/tmp", prefix="dl-sandbox-test-") as folder:
        (Path(folder) / "data.txt").write_text("mirror")
        proc = run_in_sandbox(f"print(open({str(Path(folder) / 'data.txt')!r}).read())", read_only=[folder])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "mirror"


def test_the_private_tmp_is_writable_and_empty_of_the_hosts_files(run_in_sandbox):
    with tempfile.NamedTemporaryFile(dir="/tmp", prefix="dl-sandbox-host-") as host_file:
        proc = run_in_sandbox(
            "import os, tempfile\n"
            f"print(os.path.exists({host_file.name!r}))\n"
            "with tempfile.NamedTemporaryFile() as f: f.write(b'x'); print('written')")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "written"]


def test_a_grading_kernel_imports_the_guard_without_nbformat_or_the_trial_grader():
    """Every graded notebook's kernel imports the guard: the package must not pull in the trial grader."""
    code = "import sys, course.grading.guard; print(sorted({'nbformat', 'course.grading.trial', 'jsonschema'} & set(sys.modules)))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]", f"importing the guard also imported {loaded}"
