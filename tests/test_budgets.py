"""The notebook's time budget, end to end: a notebook that keeps every cell under the cell budget but runs
past the notebook's total is cut off there; the tests it reached keep their points, the rest score zero
with the reason. (Sleeping cells: the check costs wall time, almost no CPU.)"""

import json
import shutil

import nbformat
import pytest
from traitlets.config import Config

from course import grading
from course.grading import records
from course.grading.notebooks import nbgrader_meta
from course.grading.trial import student_form

pytestmark = pytest.mark.grading

EXERCISE = "ex01_numpy_dnn"


def test_a_notebook_past_its_time_budget_is_cut_off_and_the_tests_it_did_not_reach_score_zero(data_dir, tmp_path):
    source = nbformat.read(grading.notebook_path(EXERCISE), as_version=4)
    slow = student_form(source, nbformat.read(grading.notebook_path(EXERCISE, "release"), as_version=4))
    after = next(i for i, c in enumerate(slow.cells) if nbgrader_meta(c).get("grade_id") == "test_update_params")
    for offset in range(1, 5):   # 4 x 20 s: each under the 30 s cell budget, together past the 60 s notebook budget
        slow.cells.insert(after + offset, nbformat.v4.new_code_cell("import time\ntime.sleep(20)"))
    budgets = tmp_path / "budgets.json"
    budgets.write_text(json.dumps({"exercises": {EXERCISE: {"total_s": 0.0, "slowest_cell_s": 0.0}}}))
    overrides = Config({"GradingExecute": {"budget_file": str(budgets), "min_notebook_budget": 0}})
    run = grading.grade_submissions(EXERCISE, {"slow": slow}, course_dir=tmp_path / "course", config=overrides)
    # the budget is then 60 s (factor x 0 s + 60 s)
    verdicts = records.record(run.autograded_notebook("slow"))["verdicts"]
    assert verdicts["test_update_params"]["passed"], verdicts["test_update_params"]
    assert verdicts["test_train_predict"]["reason"] == "not run: the notebook used up its time budget of 60 s"
    assert run.scores["slow"]["test_train_predict"][0] == 0
    assert run.scores["slow"]["test_update_params"][0] == run.scores["slow"]["test_update_params"][1]
    shutil.rmtree(run.course_dir, ignore_errors=True)
