"""One setting (c.ColabLinks.repository and branch) says where the Colab links and the setup cell's install
point: every release notebook and README.md follow it, and `nbgrader generate_assignment` and
`dl-course links` move every link, old ones included, to a new setting."""

import shutil

import nbformat
import pytest
from nbgrader.converters.generate_assignment import GenerateAssignment
from nbgrader.utils import compute_checksum
from traitlets import TraitError
from traitlets.config import Config

from conftest import ROOT
from course import cli
from course.coursedir import load_config, write_overrides
from course.grading.release import ColabLinks, stale
from course.grading.trial import make_course_copy, nbgrader


def test_readme_docs_and_every_release_notebook_follow_the_configured_repository_and_branch():
    links = ColabLinks(config=load_config(ROOT))
    assert stale(ROOT, links) == []
    readme = (ROOT / "README.md").read_text()
    for exercise in sorted(p.name for p in (ROOT / "release").iterdir() if p.is_dir()):
        assert links.colab_url(f"release/{exercise}/{exercise}.ipynb") in readme, exercise


def test_the_setting_is_explicit_and_links_are_written_before_nbgrader_checksums_and_saves_the_cells():
    config = load_config(ROOT)
    assert {"repository", "branch"} <= set(config.ColabLinks), "nbgrader_config.py sets both explicitly"
    steps = list(config.GenerateAssignment.preprocessors)
    assert "course.grading.release.ColabLinks" in steps
    names = [step.rsplit(".", 1)[-1] for step in steps]
    assert names.index("ColabLinks") < names.index("ComputeChecksums") and names.index("ColabLinks") < names.index(
        "SaveCells")
    nbgrader_defaults = [cls.__name__ for cls in GenerateAssignment.class_traits()["preprocessors"].default()]
    assert [n for s, n in zip(steps, names) if not s.startswith("course.")] == nbgrader_defaults, (
        "nbgrader's own steps are all kept, in their order")


@pytest.mark.parametrize("trait, value, form", [
    ("repository", "dl-course", "'owner/name'"), ("repository", "https://github.com/me/course", "'owner/name'"),
    ("repository", "me/course.git", "'owner/name'"), ("repository", "me/course/extra", "'owner/name'"),
    ("branch", "term/2027", "no '/'"), ("branch", "", "no '/'"), ("branch", "-x", "no '/'"),
])
def test_a_bad_setting_is_refused_saying_the_expected_form(trait, value, form):
    with pytest.raises(TraitError, match=f"c.ColabLinks.{trait} must be .*{form}.*got {value!r}"):
        ColabLinks(config=Config({"ColabLinks": {trait: value}}))


def test_generate_assignment_and_dl_course_links_move_old_links_to_a_new_repository_and_branch(tmp_path, capsys):
    exercise = "ex01_numpy_dnn"
    course = make_course_copy([exercise], target=tmp_path / "course")
    source = course / "source" / exercise / f"{exercise}.ipynb"
    old_badge = f"https://colab.research.google.com/github/old-owner/old-name/blob/term-2026/release/{exercise}/{exercise}.ipynb"
    text = source.read_text()
    default_badge = f"https://colab.research.google.com/github/dl-course/dl-course/blob/main/release/{exercise}/{exercise}.ipynb"
    assert default_badge in text
    source.write_text(text.replace(default_badge, old_badge))   # a previous term's badge; the install stays the default
    write_overrides(course, Config({"ColabLinks": {"repository": "someone/else", "branch": "term-2027"}}))
    links = ColabLinks(config=load_config(course))
    assert (links.repository, links.branch) == ("someone/else", "term-2027")

    nbgrader(course, "generate_assignment", exercise, "--force")
    release = nbformat.read(course / "release" / exercise / f"{exercise}.ipynb", as_version=4)
    title = release.cells[0]
    assert f"(https://colab.research.google.com/github/someone/else/blob/term-2027/release/{exercise}/{exercise}.ipynb)" \
        in title.source
    setup = next(c.source for c in release.cells if c.cell_type == "code")
    assert '%pip install -q "dl-course @ git+https://github.com/someone/else@term-2027"' in setup
    assert "old-owner" not in title.source and "dl-course/dl-course" not in setup
    assert title.metadata.nbgrader["checksum"] == compute_checksum(title), "checksummed after the rewrite"
    assert stale(course, links) == []

    # README.md's table and the students' guide, with the links they have in this repository
    (course / "docs").mkdir()
    shutil.copy(ROOT / "README.md", course)
    shutil.copy(ROOT / "docs" / "students.md", course / "docs")
    capsys.readouterr()
    assert cli.main(["--course", str(course), "links", "--check"]) == 1
    assert "README.md: Colab link" in capsys.readouterr().out
    assert cli.main(["--course", str(course), "links"]) == 0
    out = capsys.readouterr().out
    assert "rewritten: README.md" in out and "rewritten: docs/students.md" in out, out
    readme = (course / "README.md").read_text()
    assert readme.count("https://colab.research.google.com/github/someone/else/blob/term-2027/release/") == \
        (ROOT / "README.md").read_text().count("https://colab.research.google.com/github/") >= 9
    assert "https://github.com/someone/else/tree/term-2027#readme" in (course / "docs" / "students.md").read_text()
    assert stale(course, links) == []
    # every other line of the README is as it was
    assert [line for line in readme.splitlines() if "someone/else" not in line] == \
        [line for line in (ROOT / "README.md").read_text().splitlines() if "colab.research.google.com/github" not in line]
