"""The course website: it builds offline with no warning, every internal link resolves, every release notebook
is a page, and no line of a solution or a hidden test is anywhere in it. The README is its front page."""

import html
import re
import subprocess
import sys
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

import nbformat
import pytest

from conftest import EXERCISES, ROOT
from course.grading.notebooks import notebook_path, secret_lines


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site") / "html"
    proc = subprocess.run([sys.executable, "-m", "course.cli", "docs", "--out", str(out), "--course", str(ROOT)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"the website did not build without warnings:\n{proc.stdout}\n{proc.stderr}"
    assert "WARNING" not in proc.stdout + proc.stderr
    return out


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        for name in ("href", "src"):
            if attrs.get(name):
                self.links.append(attrs[name])


def parse(page):
    parser = Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def test_every_release_notebook_is_a_page_of_the_site(site):
    for exercise in EXERCISES:
        page = site / "exercises" / f"{exercise}.html"
        assert page.is_file(), f"no page for {exercise}"
    assert {"students.html", "instructors.html", "threat-model.html", "hidden-tests.html", "testing.html",
            "benchmarks.html", "design.html", "changelog.html"} <= {p.name for p in site.glob("*.html")}


def test_every_internal_link_of_the_site_resolves(site):
    pages = {page: parse(page) for page in site.rglob("*.html") if "_static" not in page.relative_to(site).parts}
    broken = []
    for page, parsed in pages.items():
        for link in parsed.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith(("mailto:", "javascript:", "data:")):
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if not target.exists():
                broken.append((page.relative_to(site), link))
            elif parts.fragment and target.suffix == ".html" and target in pages and \
                    parts.fragment not in pages[target].ids:
                broken.append((page.relative_to(site), link))
    assert not broken, f"broken internal links: {broken[:10]}"


def site_lines(site):
    """Every stripped line of text the site holds: its pages with the tags removed, and the sources it ships."""
    lines = set()
    for path in site.rglob("*"):
        if not path.is_file():
            continue
        if path.name.endswith(".ipynb"):
            texts = [cell.source for cell in nbformat.read(path, as_version=4).cells]
        elif path.suffix in (".html", ".txt", ".md", ".js", ".json"):
            text = path.read_text(encoding="utf-8", errors="replace")
            texts = [html.unescape(re.sub(r"<[^>]*>", "", text)) if path.suffix == ".html" else text]
        else:
            continue
        lines |= {line.strip() for text in texts for line in text.splitlines()}
    return lines


def test_no_solution_or_hidden_test_line_is_anywhere_on_the_site(site):
    """Lines that stand only in solutions or hidden tests, and in no release notebook (a line another exercise
    shows its students is no secret), are nowhere on the site."""
    lines = site_lines(site)
    public = {line.strip() for exercise in EXERCISES for c in nbformat.read(notebook_path(exercise, "release"),
                                                                            as_version=4).cells
              for line in c.source.splitlines()}
    for exercise in EXERCISES:
        source = nbformat.read(notebook_path(exercise), as_version=4)
        secrets = secret_lines(source) - public
        assert secrets, exercise
        shown = sorted(secrets & lines)
        assert not shown, f"{exercise}: the site shows solution or hidden-test lines {shown[:3]}"
        release = nbformat.read(notebook_path(exercise, "release"), as_version=4)
        visible = {line.strip() for c in release.cells if c.cell_type == "code" for line in c.source.splitlines()
                   if len(line.strip()) >= 20}
        assert visible & lines, f"{exercise}: the check must see the release notebook's own code on the site"


def test_the_readme_is_a_front_page_that_points_into_the_docs():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 150
    assert not re.search(r"\b(issue|stop) \d+\b", readme), "no internal work items in the README"
    links = re.findall(r"\]\(((?:docs/)?[\w./-]+\.md)(?:#[\w-]+)?\)", readme)
    assert {"docs/students.md", "docs/instructors.md", "docs/threat-model.md", "docs/testing.md"} <= set(links)
    assert all((ROOT / link).is_file() for link in links), links
    assert "COURSE_DATA_DIR=../shared/datasets python -m pytest" in readme
    assert "COURSE_DATA_DIR=../shared/datasets python -m pytest" in (ROOT / ".ci" / "run").read_text()
