"""Real-browser test support: Debian's Chromium driven by Playwright, and a JupyterLab server on a course.

Playwright cannot download its own browser here; it drives `/usr/bin/chromium` (apt package `chromium`,
installed by `.ci/run`). The server is a real `jupyter lab` process with nbgrader's extensions (the
Formgrader, the Assignments tab), on loopback, with a token, in its own HOME so that nothing of the
machine's user configuration leaks in.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("COURSE_TEST_ARTIFACTS", Path(__file__).resolve().parent.parent / "test-artifacts"))


def artifact_dir(name):
    """Where a browser test keeps its screenshots (`test-artifacts/<name>/`, git-ignored; CI can keep it)."""
    folder = ARTIFACTS / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def chromium():
    """A headless Chromium (Playwright's `Browser`); raises with what to install when it is missing."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: `apt-get install chromium` (the real-browser tests use it)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


class LabServer:
    """A running `jupyter lab` on `root`: `url(path)` gives an address with the token."""

    def __init__(self, root, home, port, token, process):
        self.root, self.home, self.port, self.token, self.process = Path(root), Path(home), port, token, process

    def url(self, path=""):
        sep = "&" if "?" in path else "?"
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}{sep}token={self.token}"

    def new_page(self, browser, **options):
        """A page in a fresh browser context that sends the server's token with every request (the Formgrader's
        pages call its API from JavaScript, which a token in the first URL alone does not cover)."""
        context = browser.new_context(extra_http_headers={"Authorization": f"token {self.token}"},
                                      viewport={"width": 1400, "height": 900}, **options)
        return context.new_page()

    def log(self):
        return (self.home / "server.log").read_text(errors="replace")


@contextlib.contextmanager
def jupyter_lab(root, home, env=None, timeout=90):
    """Start JupyterLab serving `root` (also its working directory, where nbgrader finds the course's
    `nbgrader_config.py`); stop it and its kernels afterwards."""
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    port, token = free_port(), secrets.token_hex(16)
    environment = {**os.environ, "HOME": str(home), "JUPYTER_CONFIG_DIR": str(home / ".jupyter"),
                   "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "JUPYTER_DATA_DIR": str(home / "data"),
                   **(env or {})}
    environment.pop("JUPYTER_PLATFORM_DIRS", None)
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
               f"--ServerApp.root_dir={root}", f"--IdentityProvider.token={token}",
               "--ServerApp.disable_check_xsrf=False", "--LabApp.news_url=", "--LabApp.check_for_updates_class="
               "jupyterlab.NeverCheckForUpdate"]
    if os.geteuid() == 0:   # CI runs as root; a server as root needs saying so
        command.append("--allow-root")
    with open(home / "server.log", "w") as log:
        process = subprocess.Popen(command, cwd=root, env=environment, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    server = LabServer(root, home, port, token, process)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {process.returncode}:\n{server.log()}")
            try:
                urllib.request.urlopen(server.url("api/status"), timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"jupyter lab did not answer within {timeout} s:\n{server.log()}")
                time.sleep(0.5)
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 15)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()
