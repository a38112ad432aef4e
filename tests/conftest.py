"""Shared fixtures. Tests run offline: COURSE_DATA_DIR must point at the dataset mirror."""

import os
from pathlib import Path

import pytest

from course import grading
from course.helpers import resolve_data_dir

ROOT = grading.ROOT
EXERCISES = grading.exercises()

# Notebook kernels run in other directories: a relative mirror path means the course root's, as everywhere.
if os.environ.get("COURSE_DATA_DIR"):
    os.environ["COURSE_DATA_DIR"] = str(resolve_data_dir(os.environ["COURSE_DATA_DIR"], start=ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def data_dir():
    """The dataset mirror; tests that need data are skipped with a reason when it is not configured."""
    value = os.environ.get("COURSE_DATA_DIR")
    if not value or not Path(value).is_dir():
        pytest.skip("COURSE_DATA_DIR does not point at the dataset mirror (see README: running the tests)")
    return Path(value)
