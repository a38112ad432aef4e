"""Shared fixtures. Tests run offline: COURSE_DATA_DIR must point at the dataset mirror."""

import os
from pathlib import Path

import pytest

from course import grading
from course.grading.execute import load_budgets
from course.coursedir import absolute_data_dir, quiet_known_warnings

ROOT = grading.ROOT
EXERCISES = grading.exercises()
BUDGETS = load_budgets()

# Notebook kernels run in other directories: a relative mirror path means the course root's, as everywhere.
absolute_data_dir(ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def _nbgraders_known_warning_filtered():
    """In-process gradebook work in a test filters nbgrader's own harmless SQLAlchemy warning, as every
    nbgrader command and `dl-course grade` worker does (course.coursedir.quiet_known_warnings; pytest
    resets warning filters for each test)."""
    quiet_known_warnings()


@pytest.fixture(scope="session")
def data_dir():
    """The dataset mirror; tests that need data are skipped with a reason when it is not configured."""
    value = os.environ.get("COURSE_DATA_DIR")
    if not value or not Path(value).is_dir():
        pytest.skip("COURSE_DATA_DIR does not point at the dataset mirror (see docs/testing.md: set-up and the test command)")
    return Path(value)


# Parallel runs (pytest-xdist, `-n 2` in pyproject.toml): tests that share one graded batch (a module-scoped
# fixture) go to the same worker, so that no batch is graded twice; test_grading's batches are one per
# exercise, so its exercises spread over the workers. (A scheduler of our own: xdist's `loadgroup` marks
# are lost under pytest 9, which no longer reads the node id xdist rewrites.)
SHARED_BATCH_MODULES = {"test_hostile_grading.py", "test_engine.py", "test_intake.py", "test_postgres_gradebook.py",
                        "test_formgrader.py", "test_browser_notebooks.py", "test_hub.py", "test_docs.py",
                        "test_release.py", "test_exchange.py", "test_lms.py", "test_schedule.py",
                        "test_exchange_rules.py"}   # its Linux accounts: made and removed once, by one worker
# The modules that start a class hub share one worker and run one after the other: each opens the folders above
# the interpreter to every account while its hub runs and gives them back after (tests/accounts.py).
HUB_MODULES = {"test_hub.py", "test_lti.py"}


def batch_of(nodeid):
    """The unit of work a test belongs to: its graded batch, or the test alone (named by its file)."""
    module, _, rest = nodeid.partition("::")
    module = module.rsplit("/", 1)[-1]
    if module in HUB_MODULES:
        return "hub"
    if module == "test_grading.py":
        return f"{module}[{nodeid.rpartition('[')[2]}"
    return module if module in SHARED_BATCH_MODULES else f"{module}::{rest}"


def expected_cost(unit):
    """A rough order of how long a unit of work takes, so that the longest start first and the short ones
    fill the end: the compatibility run, the hostile batch, then each exercise's graded batch (solution,
    stub, wrong solutions, CI mutants) by the solution's measured run time (course/grading/budgets.json),
    then the rest in collection order."""
    if unit.startswith("test_compat.py"):
        return 3000.0 if "colab_like_stack" in unit else 300.0
    if unit == "test_hostile_grading.py":
        return 2000.0
    exercise = unit.rpartition("[")[2].rstrip("]")
    if unit.startswith("test_grading.py[") and exercise in BUDGETS:
        return 4.5 * BUDGETS[exercise]["total_s"]
    return 200.0 if unit in SHARED_BATCH_MODULES or unit == "hub" else 0.0


# The quick tier, `pytest -m "not slow"` (docs/testing.md): everything but what executes notebooks (the `grading`
# and `compat` marks) and the modules that start a server, a browser, a site build or a package install.
SLOW_MODULES = {"test_hub.py", "test_lti.py", "test_formgrader.py", "test_browser_notebooks.py", "test_docs.py",
                "test_colab_install.py", "test_release.py", "test_newcomer.py", "test_sandbox.py"}


@pytest.hookimpl(tryfirst=True)
def pytest_itemcollected(item):
    module = item.nodeid.partition("::")[0].rsplit("/", 1)[-1]
    if item.get_closest_marker("grading") or item.get_closest_marker("compat") or module in SLOW_MODULES:
        item.add_marker(pytest.mark.slow)


@pytest.hookimpl(trylast=True)   # after pytest grouped the items of each module-scoped fixture
def pytest_collection_modifyitems(items):
    """Longest units of work first (a stable sort: the items of one unit stay together and in order)."""
    items.sort(key=lambda item: -expected_cost(batch_of(item.nodeid)))


@pytest.hookimpl(optionalhook=True)   # a hook of pytest-xdist's: `pytest -p no:xdist` runs without it
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class BatchScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return batch_of(nodeid)

    config.option.loadscopereorder = False   # keep the order above, not xdist's "most tests first"
    return BatchScheduling(config, log)

