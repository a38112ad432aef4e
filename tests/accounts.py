"""A Python environment that every account of a test hub can run (tests/test_hub.py, tests/test_lti.py).

The hub tests run on one worker, one after the other (tests/conftest.py, `HUB_MODULES`): each changes the
folders' modes while its hub runs and gives them back after."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest


def account(name):
    """The Linux account `name` (pwd's entry), or None."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


def missing_for_a_hub(accounts, what="the hub test"):
    """Why a hub test cannot run on this machine (None when it can): root, the tools, its account names free."""
    if os.geteuid() != 0:
        return f"{what} creates Linux accounts: it needs root"
    for tool in ("useradd", "userdel", "runuser", "npm", "bwrap"):
        if not shutil.which(tool):
            return f"`{tool}` is not installed"
    if not Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium is missing (apt-get install chromium)"
    taken = [name for name in accounts if account(name)]
    if taken:
        return f"accounts {', '.join(taken)} exist on this machine already (another hub?)"
    return None


def _readable_by_others(python):
    probe = subprocess.run(["runuser", "-u", "nobody", "--", python, "-c", "import course, jupyterhub"],
                           capture_output=True, cwd="/")
    return probe.returncode == 0


@contextlib.contextmanager
def environment_everyone_can_run():
    """This Python environment, runnable by every account while the hub runs: the folders above the
    interpreter and the environment that others cannot enter (here root's home, where pyenv keeps Python)
    get the execute bit for others, which lets them pass through (not list), and get their mode back after."""
    changed = {}
    for path in {os.path.realpath(sys.executable), sys.prefix, os.path.realpath(sys.base_prefix)}:
        for folder in Path(path).parents:
            mode = folder.stat().st_mode
            if not mode & stat.S_IXOTH and folder not in changed:
                changed[folder] = stat.S_IMODE(mode)
                os.chmod(folder, stat.S_IMODE(mode) | stat.S_IXOTH)
    try:
        if not _readable_by_others(sys.executable):
            pytest.skip(f"other accounts cannot run {sys.executable} with the course")
        yield sys.executable
    finally:
        for folder, mode in changed.items():
            os.chmod(folder, mode)
