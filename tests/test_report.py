"""The report's figures and the names of cells, without grading anything (course/grading/report.py,
course/grading/notebooks.py `cell_label`). The report of a graded batch, in a real browser, and a cleared
flag are tested in tests/test_engine.py, on that module's graded batch."""

import matplotlib
import nbformat
import pytest

from course import grading
from course.grading import records
from course.grading.notebooks import cell_label, is_test_cell, nbgrader_meta
from course.grading.report import score_bars, time_figure

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - after choosing the backend


def bar_of(score, max_score):
    """The label of the one bar that holds `score` when it is the only score drawn."""
    bars = score_bars([score], max_score)
    assert sum(n for _, n in bars) == 1, bars
    return next(label for label, n in bars if n)


@pytest.mark.parametrize("score, bar", [
    (15, 15),      # full marks in the bar labelled 15 (it fell into "14" with 15 equal-width bins over 0..15)
    (14, 14), (0, 0), (1, 1),
    (13.67, 14),   # partial credit: the nearest point
    (12.5, 13),    # a late penalty of 2.5: halves round up, as bins with edges at k - 0.5 draw them
    (12.4, 12),
])
def test_a_score_is_drawn_in_the_bar_labelled_with_it(score, bar):
    assert bar_of(score, 15) == bar


def test_there_is_one_bar_per_integer_score_up_to_the_maximum():
    assert [label for label, _ in score_bars([], 15)] == list(range(16))
    assert [label for label, _ in score_bars([], 12.5)] == list(range(14))   # a fractional maximum rounds up


def test_the_grading_time_plot_has_a_tick_per_student_named_by_id_fastest_first():
    data = {"students": {"zoe": {"wall_s": 9.5}, "al": {"wall_s": 2.0}, "bo": {"wall_s": None}}}
    fig = time_figure(plt, data)
    try:
        ax = fig.axes[0]
        assert list(ax.get_xticks()) == [0, 1, 2]
        assert [t.get_text() for t in ax.get_xticklabels()] == ["bo", "al", "zoe"]
        assert "seconds" in ax.get_ylabel()
    finally:
        plt.close(fig)


@pytest.fixture(scope="module")
def ex01():
    return nbformat.read(grading.notebook_path("ex01_numpy_dnn"), as_version=4)


def test_the_first_test_cell_of_ex01_is_named_by_part_grade_id_and_jupyterlab_position(ex01):
    index = next(i for i, cell in enumerate(ex01.cells) if is_test_cell(cell))
    grade_id = nbgrader_meta(ex01.cells[index])["grade_id"]
    # JupyterLab counts every cell, markdown included, from 1
    assert cell_label(ex01, index) == f"Part 1, {grade_id} (cell {index + 1})"
    assert cell_label(ex01, index) == "Part 1, test_activations (cell 11)"


def test_a_cell_after_a_heading_that_is_no_part_is_in_no_part():
    nb = nbformat.read(grading.notebook_path("ex09_lstm_autocomplete"), as_version=4)
    # "## A stand-in model for testing" ends Part 3; its code cell has a grade id but is in no part
    index = next(i for i, cell in enumerate(nb.cells) if nbgrader_meta(cell).get("grade_id") == "bigram")
    assert cell_label(nb, index) == f"bigram (cell {index + 1})"


def test_a_cell_without_a_part_or_grade_id_is_named_by_position_alone(ex01):
    assert cell_label(ex01, 3) == "cell 4"
    assert cell_label(None, 3) == "cell 4" and cell_label(ex01, None) == ""


def test_reasons_name_the_cell_as_jupyterlab_does(ex01):
    nb = nbformat.from_dict(ex01)
    records.reset(nb)
    index = next(i for i, cell in enumerate(nb.cells) if is_test_cell(cell))
    entry = records.note(nb, "flags", cell=index, reason="rebinds np.allclose")
    assert records.describe(entry) == "Part 1, test_activations (cell 11): rebinds np.allclose"
    assert records.GradingRecord.load(nb).reason == "Part 1, test_activations (cell 11): rebinds np.allclose"
    # a record written before names were kept still counts from 1
    assert records.describe({"cell": 10, "reason": "x"}) == "cell 11: x"


def _report_data(**more):
    return {"exercise": "ex01_numpy_dnn", "max_score": 15.0, "duedate": None, "cells": [], "cell_labels": {},
            "students": {}, "missing": [], "intake_rejected": {}, "lms_late": [], "similar": [], **more}


def test_without_a_due_date_the_report_says_why_nothing_is_late_in_the_intakes_words():
    from course.grading.intake import LMS_LATE, NO_PENALTY
    from course.grading.report import render

    page = render(_report_data(lms_late=["doejane"]))
    assert "No due date is set for this exercise" in page and "no late penalty applies" in page
    assert "Marked late by the LMS: doejane." in page and LMS_LATE.lower() in page.lower()
    assert "no due date is set for this exercise" in NO_PENALTY   # the intake's words for the same fact
    assert "Late submissions</h2><p>None." not in render(_report_data())
