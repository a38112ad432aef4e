"""Notebooks and feedback in JupyterLab, in a real Chromium: a released notebook opened and closed unchanged
stays unchanged, and feedback renders its math with the Jupyter server's MathJax, no network needed.

JupyterLab writes into the notebook's metadata the `language_info` its kernel reports as soon as the kernel
is up; a notebook committed with less (`{"name": "python"}`) opens modified (the tab's unsaved dot,
`jp-mod-dirty`), and a student who closes it is asked to save a notebook they never touched. The committed
notebooks carry what ipykernel reports on the course's Python (tests/test_notebook_structure.py); on another
Python the `version` differs, JupyterLab changes it, and this test is skipped with that reason.

Feedback (course/grading/mathjax.py) loads MathJax from the Jupyter server that serves it
(jupyter-server-mathjax), the CDN only when there is none; with neither the TeX stays as written.
"""

import json
import re
import platform
import shutil
import time

import pytest

import nbformat

from browser import chromium, jupyter_lab
from course import grading
from course.grading.mathjax import CDN_URL
from course.grading.trial import student_form
from submissions import generate_feedback

EXERCISE = "ex01_numpy_dnn"   # NumPy only: its kernel starts in a second
LOCAL_MATHJAX = "static/jupyter_server_mathjax/MathJax.js"
RENDERED_MATH = ".MathJax, .MathJax_CHTML, .MathJax_SVG, mjx-container"


def test_a_release_notebook_opened_and_closed_in_jupyterlab_is_not_modified(tmp_path):
    notebook = grading.notebook_path(EXERCISE, "release")
    recorded = json.loads(notebook.read_text(encoding="utf-8"))["metadata"]["language_info"].get("version")
    if recorded not in (None, platform.python_version()):
        pytest.skip(f"the notebooks record Python {recorded}, this kernel is {platform.python_version()}: "
                    "JupyterLab writes the running kernel's version into them")
    root = tmp_path / "work"
    root.mkdir()
    shutil.copy(notebook, root / notebook.name)
    before = (root / notebook.name).read_bytes()
    with jupyter_lab(root, tmp_path / "home") as server, chromium() as browser:
        page = server.new_page(browser)
        page.goto(server.url(f"lab/tree/{notebook.name}"))
        tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text=notebook.name)
        tab.wait_for(timeout=60_000)
        # the status bar's "Python 3 (ipykernel) | Idle": the kernel is up and has answered kernel_info
        page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"\| Idle$")).wait_for(timeout=60_000)
        # JupyterLab takes the kernel's language_info from its kernel_info reply, asynchronously: give it time
        # to land in the model (the old metadata turns the tab dirty well within this).
        page.wait_for_timeout(2_000)
        dirty = "jp-mod-dirty" in (tab.get_attribute("class") or "")
        page.screenshot(path=str(tmp_path / "opened.png"))
        tab.locator(".lm-TabBar-tabCloseIcon").click()
        dialog = page.locator(".jp-Dialog")
        answered = None
        deadline = time.monotonic() + 5
        while tab.count() and time.monotonic() < deadline:   # the tab closes, or JupyterLab asks first
            if dialog.count():
                answered = dialog.inner_text()
                page.screenshot(path=str(tmp_path / "dialog.png"))
                dialog.get_by_role("button", name="Save", exact=True).click()   # as a student would: Save
            page.wait_for_timeout(200)
        tab.wait_for(state="detached", timeout=10_000)
    after = (root / notebook.name).read_bytes()
    assert not dirty, "the notebook opened modified (jp-mod-dirty): JupyterLab changed its metadata"
    assert answered is None, f"closing the untouched notebook asked: {answered!r}"
    assert after == before, "closing the notebook in JupyterLab rewrote the file"


@pytest.fixture(scope="module")
def feedback(tmp_path_factory):
    """(course root, feedback HTML path) of ada, who solved ex01 (graded with plain `nbgrader autograde`)."""
    source = nbformat.read(grading.notebook_path(EXERCISE), as_version=4)
    release = nbformat.read(grading.notebook_path(EXERCISE, "release"), as_version=4)
    run = grading.grade_submissions(EXERCISE, {"ada": student_form(source, release)}, engine=False,
                                    course_dir=tmp_path_factory.mktemp("feedback") / "course")
    generate_feedback(run, "ada")
    return run.course_dir, run.course_dir / "feedback" / "ada" / EXERCISE / f"{EXERCISE}.html"


def test_feedback_takes_the_servers_mathjax_first_and_the_cdn_only_as_the_fallback(feedback):
    page = feedback[1].read_text()
    assert page.count(LOCAL_MATHJAX) == 1 and page.count("cdnjs.cloudflare.com") == 1, "one local, one CDN source"
    assert page.index(LOCAL_MATHJAX) < page.index("cdnjs.cloudflare.com"), "the server's MathJax is tried first"
    assert not re.search(r"<script[^>]+src=[\"']https?://", page), "no script of the page loads from the network"
    assert "$x_1$" in page, "the TeX is in the page as written (readable without MathJax)"


def block_the_network(page):
    """Abort every request that leaves the machine; returns the list of what was aborted."""
    aborted = []

    def route(request_route):
        url = request_route.request.url
        if url.startswith(("http://127.0.0.1:", "file://", "data:", "about:")):
            request_route.continue_()
        else:
            aborted.append(url)
            request_route.abort()

    page.route("**/*", route)
    return aborted


def test_feedback_opened_through_jupyterlab_renders_math_with_the_network_blocked(feedback, tmp_path):
    root, html = feedback
    with jupyter_lab(root, tmp_path / "home") as server, chromium() as browser:
        page = server.new_page(browser)
        aborted = block_the_network(page)
        requested = []
        page.on("request", lambda request: requested.append(request.url))
        page.goto(server.url(f"files/{html.relative_to(root).as_posix()}"))
        page.locator(RENDERED_MATH).first.wait_for(state="attached", timeout=30_000)
        page.wait_for_timeout(500)
        page.locator(RENDERED_MATH).first.scroll_into_view_if_needed()
        page.screenshot(path=str(tmp_path / "feedback.png"), full_page=False)
        rendered = page.locator(RENDERED_MATH).count()
    assert rendered > 0
    assert any(LOCAL_MATHJAX in url for url in requested), "MathJax came from the Jupyter server"
    assert not [url for url in requested if "cdnjs" in url], f"the CDN was asked: {aborted}"


def test_feedback_opened_as_a_file_offline_tries_the_cdn_and_keeps_the_tex_readable(feedback, tmp_path):
    html = feedback[1]
    with chromium() as browser:
        page = browser.new_page()
        aborted = block_the_network(page)
        page.goto(html.as_uri())
        page.wait_for_timeout(1_500)
        page.screenshot(path=str(tmp_path / "feedback-offline.png"))
        assert page.locator(RENDERED_MATH).count() == 0
        text = page.inner_text("body")
    assert CDN_URL in aborted, f"a page without a Jupyter server falls back to the CDN: {aborted}"
    assert "$x_1$" in text, "the TeX stays as written"
