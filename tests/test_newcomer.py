"""A newcomer's first hour: no activated environment needed, one meaning for a relative data path,
no warnings from the course's configuration, an old stack told what to install, floors Colab keeps."""

import os
import re
import shutil
import subprocess
import sys
import tomllib
import warnings

import pytest

from conftest import ROOT
from course import compat, grading, helpers
from course.coursedir import quiet_known_warnings, with_tools


def test_nbgrader_works_from_an_environment_that_is_not_activated(tmp_path):
    """nbgrader runs `alembic` by name: the course's configuration puts this environment's on PATH."""
    course = grading.make_course_copy(["ex01_numpy_dnn"], target=tmp_path / "course")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV",)}
    env["PATH"] = "/usr/bin:/bin"   # no virtual environment on PATH, as with `.venv/bin/nbgrader ...`
    proc = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", "ex01_numpy_dnn", "--force"],
                          cwd=course, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (course / "gradebook.db").is_file()


WARNING_MARKS = ("Warning", "WARNING", "[W ", "warn")   # Python warnings, nbgrader/traitlets logs, tornado logs


def test_the_course_configuration_adds_no_warning_to_nbgrader_commands(tmp_path):
    """One graded batch (a stub as released, the quickest to grade; it still draws images) through every
    command an instructor reads the log of: no warning line from the course's configuration, its
    preprocessors or `dl-course grade` (main process and workers). A warning there must mean something."""
    course = grading.make_course_copy(["ex01_numpy_dnn"], target=tmp_path / "course")
    logs = {"nbgrader generate_assignment": grading.nbgrader(course, "generate_assignment", "ex01_numpy_dnn", "--force")}
    submitted = course / "submitted" / "newcomer" / "ex01_numpy_dnn"
    submitted.mkdir(parents=True)
    shutil.copy(course / "release" / "ex01_numpy_dnn" / "ex01_numpy_dnn.ipynb", submitted)
    inline = {"MPLBACKEND": "module://matplotlib_inline.backend_inline"}   # figures as in a student's kernel, not
    logs["nbgrader autograde"] = grading.nbgrader(course, "autograde", "ex01_numpy_dnn", env=inline)  # conftest's Agg
    grade = subprocess.run([sys.executable, "-m", "course.cli", "--course", str(course), "grade", "ex01_numpy_dnn",
                            "--force", "--workers", "1", "--quiet"], capture_output=True, text=True, timeout=600,
                           env={**with_tools(), **inline})   # the same batch again, in a worker process
    assert grade.returncode == 0, grade.stderr[-2000:]
    logs["dl-course grade"] = grade.stdout + grade.stderr
    for args in (["generate_feedback", "ex01_numpy_dnn", "--force"], ["export"]):
        logs[f"nbgrader {args[0]}"] = grading.nbgrader(course, *args)
    found = {command: [line for line in log.replace(str(tmp_path), "<tmp>").splitlines()   # the path names this test
                       if any(mark in line for mark in WARNING_MARKS)]
             for command, log in logs.items()}
    assert not any(found.values()), "\n".join(f"{command}:\n  " + "\n  ".join(lines)
                                              for command, lines in found.items() if lines)


def test_only_nbgrader_s_own_autoflush_warning_is_filtered():
    """`quiet_known_warnings` hides nbgrader's harmless SAWarning by its message and category, nothing else."""
    from sqlalchemy.exc import SAWarning

    known = ("Object of type <SubmittedAssignment> not in session, add operation along 'Assignment.submissions' "
             "will not proceed (This warning originated from the Session 'autoflush' process ...)")
    other = "Object of type <Student> not in session, add operation along 'Course.students' will not proceed"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_known_warnings()
        warnings.warn(known, SAWarning)
        warnings.warn(other, SAWarning)
        warnings.warn(known, UserWarning)
    assert [(w.category, str(w.message)) for w in caught] == [(SAWarning, other), (UserWarning, known)]


def test_a_relative_course_data_dir_means_the_same_folder_from_the_course_root_and_its_notebooks():
    from_root = helpers.resolve_data_dir("../shared/datasets", start=ROOT)
    from_notebook = helpers.resolve_data_dir("../shared/datasets", start=ROOT / "release" / "ex03_cnn_mnist")
    assert from_root == from_notebook == (ROOT.parent / "shared" / "datasets").resolve()
    assert helpers.resolve_data_dir("/abs/path", start="/") == helpers.Path("/abs/path")


def test_a_relative_course_data_dir_without_a_course_root_is_refused_with_how_to_give_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COURSE_DATA_DIR", "datasets")
    with pytest.raises(helpers.DatasetError, match=r"relative path.*give an absolute path"):
        helpers.data_dir()


def test_an_old_keras_stops_the_setup_cell_with_one_sentence_on_what_to_install(monkeypatch):
    old = {"keras": ((2, 15), "2.15.0"), "tensorflow": ((2, 15), "2.15.0")}
    monkeypatch.setattr(helpers, "_version", lambda package: old.get(package, (None, None)))
    with pytest.raises(helpers.StackError) as error:
        helpers.quiet_tensorflow()
    message = str(error.value)
    assert "Keras 3" in message and "pip install" in message and "Keras 2.15.0" in message
    assert len(re.findall(r"[.!?](\s|$)", message)) == 1, "one sentence"


def test_every_keras_setup_cell_checks_the_stack_before_importing_keras():
    import nbformat

    for exercise in grading.exercises():
        setup = next(c for c in nbformat.read(grading.notebook_path(exercise), as_version=4).cells if c.cell_type == "code")
        if "import keras" in setup.source:
            assert setup.source.index("helpers.quiet_tensorflow()") < setup.source.index("import keras"), exercise


def test_dependency_floors_are_the_oldest_tested_stack_and_force_no_upgrade_on_it():
    floors = dict(re.match(r"([a-z]+)>=(.+)", d).groups() for d in
                  tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])
    oldest = {name: version for p in compat.STACKS["colab-2024"] for name, version in [p.split("==")]}
    # click: the `dl-course` command's; Colab has had click 8.1 since 2022 (flask's and dask's), so no upgrade there
    assert floors == {"numpy": oldest["numpy"].rsplit(".", 1)[0], "matplotlib": oldest["matplotlib"], "click": "8.1"}
