"""What the instructor sees in nbgrader's Formgrader, in a real Chromium: the exchange is there from the first
page (Release and Collect, no warning), a flagged submission is held back with its reason on *Manage
Submissions*, on the student's page and next to the cell in the grading view, and students have names.

A class of three graded with `dl-course grade` on a fresh course copy: ada (solved, named on the roster),
bo (the unsolved release notebook, no roster name) and cy (solved, but its code reaches into IPython: flagged).
The Formgrader runs in a real `jupyter lab` with the course's server extension enabled the way
`dl-course setup` enables it (course.grading.formgrader.enable_extension), in a config path of the test's own.
"""

import json
import stat
import urllib.request

import nbformat
import pytest
from nbgrader.api import Gradebook

from browser import artifact_dir, chromium, jupyter_lab
from course import cli, grading
from course.grading.formgrader import enable_extension
from course.grading.trial import student_form
from submissions import flagged_submission

EXERCISE = "ex01_numpy_dnn"
FLAG_REASON = "reaches into the IPython shell"


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = grading.make_course_copy([EXERCISE], target=tmp_path_factory.mktemp("formgrader") / "course")
    fresh_exchange = (root / "exchange").exists()
    grading.nbgrader(root, "generate_assignment", EXERCISE, "--force")
    source = nbformat.read(grading.notebook_path(EXERCISE), as_version=4)
    release = nbformat.read(grading.notebook_path(EXERCISE, "release"), as_version=4)
    flagged = flagged_submission(source, release)
    for student, nb in {"ada": student_form(source, release), "bo": release, "cy": flagged}.items():
        folder = root / "submitted" / student / EXERCISE
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{EXERCISE}.ipynb")
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        gb.update_or_create_student("ada", first_name="Ada", last_name="Lovelace")
    assert cli.main(["--course", str(root), "grade", EXERCISE, "--quiet"]) == 1   # cy is flagged
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        submission_id = gb.find_submission_notebook(EXERCISE, EXERCISE, "cy").id
    return root, fresh_exchange, submission_id


@pytest.fixture(scope="module")
def formgrader(course, tmp_path_factory):
    """(page, server) of a Chromium page on a JupyterLab serving the graded course."""
    root = course[0]
    config = tmp_path_factory.mktemp("jupyter-prefix")
    enable_extension(prefix=config)
    home = tmp_path_factory.mktemp("home")
    with jupyter_lab(root, home, env={"JUPYTER_CONFIG_PATH": str(config / "etc" / "jupyter")}) as server:
        with chromium() as browser:
            page = server.new_page(browser)
            yield page, server


def test_the_exchange_exists_writable_by_its_owner_only_once_a_course_command_ran(course):
    root, fresh_exchange, _ = course
    assert not fresh_exchange, "a fresh course copy has no exchange folder yet"
    mode = stat.S_IMODE((root / "exchange").stat().st_mode)
    assert mode == 0o755, f"exchange folder mode {oct(mode)}: others must not rename or replace the course's folder"


def test_the_formgraders_first_page_offers_release_and_collect_without_a_warning(formgrader):
    page, server = formgrader
    page.goto(server.url("formgrader/manage_assignments"))
    row = page.locator("#main-table tr", has_text=EXERCISE)
    row.locator("td.release a").wait_for(timeout=30_000)
    page.screenshot(path=str(artifact_dir("formgrader") / "1-manage-assignments.png"), full_page=True)
    assert page.locator("#warning-exchange").count() == 0, page.locator("#warning-exchange").inner_text()
    assert "does not exist" not in page.inner_text("body")
    row.locator("td.release a").click()   # Release: the assignment goes to the exchange ...
    row.locator("td.collect a").wait_for(timeout=30_000)   # ... and Collect is offered
    assert "released" in row.locator("td.status").inner_text()
    page.screenshot(path=str(artifact_dir("formgrader") / "2-released.png"), full_page=True)


def test_manage_submissions_shows_the_flag_with_its_reason_and_a_name_for_everyone(formgrader):
    page, server = formgrader
    page.goto(server.url(f"formgrader/manage_submissions/{EXERCISE}"))
    flagged = page.locator("#main-table tr", has_text="cy")
    label = flagged.locator(".dl-course-review")
    label.wait_for(timeout=30_000)
    page.screenshot(path=str(artifact_dir("formgrader") / "3-manage-submissions.png"), full_page=True)
    assert "flagged" in label.inner_text()
    assert FLAG_REASON in label.get_attribute("title")
    assert FLAG_REASON in flagged.locator(".dl-course-reason").inner_text()
    assert flagged.locator("td.status .label-success").count() == 0, "a flagged submission must not read 'graded'"
    names = {row.locator("td.student-id").inner_text(): row.locator("td.student-name").inner_text()
             for row in page.locator("#main-table tr").all()}
    assert names == {"ada": "Lovelace, Ada", "bo": "bo", "cy": "cy"}
    solved = page.locator("#main-table tr", has_text="ada")
    assert solved.locator(".dl-course-review").count() == 0
    assert solved.locator("td.status .label-success").count() == 1


def test_the_students_page_shows_the_reason_beside_nbgraders_flag(formgrader):
    page, server = formgrader
    page.goto(server.url(f"formgrader/manage_students/cy/{EXERCISE}"))
    reason = page.locator("td.flagged .dl-course-reason")
    reason.wait_for(timeout=30_000)
    assert FLAG_REASON in reason.inner_text()
    assert page.locator("td.flagged .glyphicon-flag").count() == 1
    page.screenshot(path=str(artifact_dir("formgrader") / "4-student-page.png"), full_page=True)


def test_the_grading_view_shows_every_flag_above_and_the_reason_at_its_cell(formgrader, course):
    page, server = formgrader
    page.goto(server.url(f"formgrader/submissions/{course[2]}/"))
    banner = page.locator("#dl-course-flags")
    banner.wait_for(timeout=30_000)
    assert FLAG_REASON in banner.inner_text()
    note = page.locator(".dl-course-cell-flag")
    assert note.count() == 1 and FLAG_REASON in note.inner_text()
    # the note stands right above the cell that holds the flagged line
    cell_text = note.locator("xpath=following-sibling::div[1]").inner_text()
    assert "get_ipython" in cell_text
    page.screenshot(path=str(artifact_dir("formgrader") / "5-grading-view.png"), full_page=True)


def test_the_review_api_answers_only_a_logged_in_grader(formgrader):
    page, server = formgrader
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/dl-course/api/review/{EXERCISE}") as response:
        assert "/login" in response.url and "reaches into" not in response.read().decode()
    with urllib.request.urlopen(server.url(f"dl-course/api/review/{EXERCISE}")) as response:
        statuses = json.load(response)["students"]
    assert statuses["cy"]["status"] == "flagged" and FLAG_REASON in statuses["cy"]["reason"]
    assert statuses["ada"] == {"status": "graded", "reason": "", "name": "Lovelace, Ada"}


def test_the_formgrader_session_logged_no_warning(formgrader):
    """After every page above: the server's log (nbgrader, the course's extension, its configuration) has no
    warning line. Runs last in this module."""
    _, server = formgrader
    warnings = [line for line in server.log().splitlines()
                if line.startswith(("[W ", "[E ", "[C ")) or "Warning" in line or "WARNING" in line]
    assert not warnings, "\n".join(warnings)
