"""The compatibility run: every source notebook (hidden tests included) on each Colab-like stack, each in
a fresh environment that installing the course leaves as it was; an old Keras 2 runtime gets the
one-sentence StackError. Needs the package registry (pip/uv); skipped with the reason without it."""

import socket
import tempfile

import pytest

from course import compat
from course.grading import exercises

pytestmark = pytest.mark.compat


@pytest.fixture(scope="module")
def registry():
    try:
        socket.create_connection(("pypi.org", 443), timeout=5).close()
    except OSError as error:
        pytest.skip(f"no package registry to build the stacks from ({error})")


def test_an_old_keras_2_runtime_gets_the_one_sentence_stack_message(registry):
    with tempfile.TemporaryDirectory(prefix="dl-compat-") as folder:
        old = compat.run_old_stack(folder)
    assert old["versions"]["keras"].startswith("2.")
    assert old["message"].startswith("course.helpers.StackError: This course needs Keras 3"), old["message"]


@pytest.mark.parametrize("stack", list(compat.STACKS))
def test_every_source_notebook_runs_on_the_colab_like_stack(registry, data_dir, stack):
    with tempfile.TemporaryDirectory(prefix="dl-compat-") as folder:
        result = compat.run_stack(stack, exercises(), folder)
    assert not result["changed"], f"installing the course changed {result['changed']}"
    wanted = {name: version for p in compat.STACKS[stack] for name, version in [p.split("==")]}
    assert all(result["versions"][name] == version for name, version in wanted.items()), result["versions"]
    failed = {ex: outcome["errors"] for ex, outcome in result["notebooks"].items() if outcome["errors"]}
    assert not failed, failed
