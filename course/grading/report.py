"""Stage *report*: `dl-course report EXERCISE`, one HTML page for the instructor.

The page (`reports/<exercise>/report.html`, figures embedded as PNG) shows the score histogram
(final scores, after late penalties), the pass rate of every test cell with the hardest parts first,
the grading time per submission, the late submissions (how late, extension, raw score, penalty, final
score), and the submissions that need a human: flagged (cell and reason; a flag the instructor cleared
is listed apart, as cleared), rejected (why), timed out or restarted, the students on the roster who
submitted nothing, and the pairs of submissions whose own code is unusually alike
(`course.grading.similarity`, which writes similarity.csv and similarity.html next to the page; for
review, no grade changes). It reads the gradebook, the grading records in `autograde/`, the intake
report and the submitted notebooks. Cells are named as JupyterLab and the feedback name them
(`notebooks.cell_label`: "Part 3, test_forward (cell 19)").
"""

from __future__ import annotations

import base64
import csv
import html
import io
import math
import os
from pathlib import Path

import nbformat

from nbgrader.api import Gradebook, MissingEntry

from course.coursedir import load_config

from .engine import course_directory
from .grades import review_status
from .intake import LMS_LATE
from .notebooks import cell_labels_by_grade_id
from .records import GradingRecord, cell_name

# The grading-time plot: wide enough for a readable student id under every bar, never wider than a page.
TIME_PLOT_INCHES_PER_STUDENT = 0.35
TIME_PLOT_WIDTH_INCHES = (6, 16)
# Beyond this many score bars, tick only some integers (a 100-point exercise would crowd the axis).
MAX_SCORE_TICKS = 20
# One wording for lateness in the intake report and here (course.grading.intake writes LMS_LATE).
NO_DUE_DATE = ("No due date is set for this exercise (c.CourseSchedule.due_dates), so no submission is late here "
               "and no late penalty applies.")


def gather(exercise, course_root):
    """Per student: score, max, per-cell scores, grading time, flags, rejection, events; plus missing."""
    config = load_config(course_root)
    coursedir = course_directory(config)
    students, cells = {}, []
    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        assignment = gb.find_assignment(exercise)
        maximum = assignment.max_score
        for notebook in assignment.notebooks:
            cells += [(notebook.name, c.name, c.max_score) for c in notebook.grade_cells]
        roster = [s.id for s in gb.students]
        for student in roster:
            try:
                submission = gb.find_submission(exercise, student)
            except MissingEntry:
                continue
            scores = {(nb.notebook.name, g.name): g.score for nb in submission.notebooks for g in nb.grades}
            penalty = submission.late_submission_penalty or 0.0
            students[student] = {"score": max(0.0, submission.score - penalty), "raw_score": submission.score,
                                 "penalty": penalty, "late_s": submission.total_seconds_late,
                                 "extension": submission.extension, "timestamp": submission.timestamp,
                                 "scores": scores, "flags": [], "rejected": None, "events": [], "wall_s": None,
                                 # the gradebook's flag, not the record's, says whether review is still due
                                 "flagged_in_gradebook": any(nb.flagged for nb in submission.notebooks)}
    for student, info in students.items():
        folder = Path(coursedir.format_path(coursedir.autograded_directory, student, exercise))
        parts = []
        for path in sorted(folder.glob("*.ipynb")):
            nb = nbformat.read(path, as_version=4)
            record = GradingRecord.load(nb)
            parts.append(record)
            info["flags"] += [_named(f, nb) for f in record.flags]
            info["events"] += [_named(e, nb) for e in record.events if e.get("kind") != "output_cut"]
            info["rejected"] = info["rejected"] or record.rejected or None
            info["wall_s"] = (info["wall_s"] or 0) + record.timing.get("wall_s", 0)
        combined = GradingRecord.combined(parts)
        info["review"], info["review_reason"] = review_status(combined.status, combined.reason,
                                                              info["flagged_in_gradebook"])
    intake = Path(coursedir.root, "reports", exercise, "intake.csv")
    missing, intake_rejected, lms_late = [s for s in roster if s not in students], {}, []
    if intake.is_file():
        with open(intake, newline="") as handle:
            for row in csv.DictReader(handle):
                if row["status"] == "rejected" and row["student"] not in students:
                    intake_rejected[row["student"] or row["file"]] = row["detail"]
                if LMS_LATE in row["detail"]:
                    lms_late.append(row["student"])
    missing = [s for s in missing if s not in intake_rejected]
    return {"exercise": exercise, "max_score": maximum, "duedate": assignment.duedate, "cells": cells,
            "cell_labels": release_cell_labels(coursedir, exercise, {nb for nb, _, _ in cells}),
            "students": students,
            "missing": missing, "intake_rejected": intake_rejected, "lms_late": lms_late,
            "similar": similar_pairs(exercise, course_root)}


def _named(entry, nb):
    """A record entry with its cell's name for humans (kept in the record, else from the graded notebook)."""
    return {**entry, "cell_name": cell_name(entry, nb)}


def release_cell_labels(coursedir, exercise, notebooks):
    """{(notebook, grade_id): cell label} from the release notebooks, the positions every student starts from."""
    labels = {}
    for notebook in notebooks:
        path = Path(coursedir.format_path(coursedir.release_directory, ".", exercise), f"{notebook}.ipynb")
        if path.is_file():
            labels.update({(notebook, grade_id): label for grade_id, label
                           in cell_labels_by_grade_id(nbformat.read(path, as_version=4)).items()})
    return labels


def similar_pairs(exercise, course_root):
    """The flagged pairs of `dl-course similarity` (run here: it writes reports/<exercise>/similarity.*)."""
    from . import similarity

    try:
        result = similarity.write(exercise, course_root)
    except ValueError as error:
        return {"pairs": [], "html": None, "threshold": None, "note": str(error)}
    return {"pairs": [(p.a.student, p.b.student, p.score, len(p.shared)) for p in result.flagged],
            "html": result.html_path, "link": result.html_path.name, "threshold": result.settings.threshold,
            "compared": len(result.submissions), "note": ""}


def similar_section(similar):
    """The report's "Similar pairs" section (empty when the data has no similarity results)."""
    if not similar:
        return ""
    if similar["html"] is None:
        return f"<h2>Similar pairs</h2><p>Not compared: {html.escape(similar['note'])}</p>"
    rows = [(a, b, f"{score:.2f}", shared) for a, b, score, shared in similar["pairs"]]
    table = _table("Similar pairs", ["student", "student", "score", "common fingerprints"], rows)
    link = html.escape(similar.get("link") or similar["html"].name)
    return (table + f"<p>{similar['compared']} submissions compared, release code removed; pairs whose score is "
                    f"at least {similar['threshold']:g} are listed, for review (no grade was changed). "
                    f"<a href=\"{link}\">Matching lines side by side</a>; every pair in similarity.csv.</p>")


def late_rows(data):
    """[(student, handed in, late by, extension, raw score, penalty, final score)] of the late submissions."""
    from .schedule import describe_duration

    rows = []
    for student, info in sorted(data["students"].items()):
        if not info.get("late_s") and not info.get("penalty"):
            continue
        extension = info.get("extension")
        rows.append((student, f"{info['timestamp']:%Y-%m-%d %H:%M:%S} UTC" if info.get("timestamp") else "",
                     describe_duration(info["late_s"]), describe_duration(extension.total_seconds()) if extension
                     else "", f"{info['raw_score']:g}", f"{info['penalty']:g}", f"{info['score']:g}"))
    return rows


def _png(fig):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode()


def pass_rates(data):
    """[(test cell, points, share of graded submissions with full points)], hardest first; the test cell by
    its label in the release notebook ("Part 3, test_forward (cell 19)"), else by its grade id."""
    graded = [i for i in data["students"].values() if not i["rejected"]]
    labels = data.get("cell_labels", {})
    rates = []
    for notebook, cell, points in data["cells"]:
        got = [i["scores"].get((notebook, cell)) for i in graded]
        rates.append((labels.get((notebook, cell), cell), points,
                      sum(1 for g in got if g is not None and g >= points) / max(len(got), 1)))
    return sorted(rates, key=lambda r: (r[2], r[0]))


def score_bar(score, top):
    """The histogram bar (an integer score) that `score` is drawn in: the nearest integer, halves up (bins
    with edges at k - 0.5), so that 15 of 15 stands in the bar labelled 15 and 12.5 (a late penalty, partial
    credit) at 13."""
    return min(max(math.floor(score + 0.5), 0), top)


def score_bars(scores, max_score):
    """[(score, submissions)]: one bar per integer score from 0 to the maximum (rounded up)."""
    top = math.ceil(max_score)
    counts = [0] * (top + 1)
    for score in scores:
        counts[score_bar(score, top)] += 1
    return list(enumerate(counts))


def time_bars(data):
    """[(student, grading seconds)], fastest first (a student not timed counts 0 s)."""
    return sorted(((s, i["wall_s"] or 0) for s, i in data["students"].items()), key=lambda b: (b[1], b[0]))


def histogram_figure(plt, data):
    from matplotlib.ticker import MaxNLocator

    graded = [i["score"] for i in data["students"].values() if not i["rejected"]]
    bars = score_bars(graded, data["max_score"])
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.bar([k for k, _ in bars], [n for _, n in bars], width=0.9, color="tab:blue")
    if len(bars) <= MAX_SCORE_TICKS:
        ax.set_xticks([k for k, _ in bars])   # every bar's score under it
    else:
        ax.xaxis.set_major_locator(MaxNLocator(nbins=MAX_SCORE_TICKS, integer=True))
    ax.set_xlim(-0.6, bars[-1][0] + 0.6)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))   # a count of submissions
    ax.set_xlabel(f"final score (of {data['max_score']:g}), to the nearest point")
    ax.set_ylabel("submissions")
    ax.set_title(f"{len(graded)} graded submissions")
    return fig


def pass_rate_figure(plt, data):
    rates = [(rate, cell) for cell, _, rate in pass_rates(data)]
    fig, ax = plt.subplots(figsize=(6, 0.35 * len(rates) + 1))
    ax.barh([cell for _, cell in rates], [rate for rate, _ in rates], color="tab:orange")
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.set_xlabel("share of submissions with full points")
    ax.set_title("Pass rate per test cell (hardest first)")
    return fig


def time_figure(plt, data):
    from matplotlib.ticker import StrMethodFormatter

    bars = time_bars(data)
    low, high = TIME_PLOT_WIDTH_INCHES
    fig, ax = plt.subplots(figsize=(min(high, max(low, TIME_PLOT_INCHES_PER_STUDENT * len(bars))), 3))
    ax.bar(range(len(bars)), [t for _, t in bars], color="tab:green")
    # one tick per bar, named by the student: the positions 0 .. n-1 mean nothing to the reader
    ax.set_xticks(range(len(bars)), [s for s, _ in bars], rotation=60 if len(bars) > 4 else 0,
                  ha="right" if len(bars) > 4 else "center")
    ax.set_xlim(-0.6, len(bars) - 0.4)
    ax.yaxis.set_major_formatter(StrMethodFormatter("{x:g} s"))
    ax.set_xlabel("student, fastest first")
    ax.set_ylabel("grading time (seconds)")
    ax.set_title("Grading time per submission (kernel, all cells)")
    return fig


FIGURES = {"Score histogram": histogram_figure, "Pass rate per test cell": pass_rate_figure,
           "Grading time per submission": time_figure}


def figures(data):
    """{title: base64 PNG} of the three figures."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = {}
    for title, draw in FIGURES.items():
        fig = draw(plt, data)
        out[title] = _png(fig)
        plt.close(fig)
    return out


def _table(title, header, rows):
    if not rows:
        return f"<h2>{html.escape(title)}</h2><p>None.</p>"
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f"<h2>{html.escape(title)} ({len(rows)})</h2><table><tr>{head}</tr>{body}</table>"


def review_rows(students, status):
    """[(student, cell, reason)] of the submissions whose status after review is `status` ("flagged": still
    held for review; "graded": the flags the instructor cleared), a row per flag; a submission flagged in the
    Formgrader without a recorded flag has one row with the gradebook's reason."""
    rows = []
    for student, info in sorted(students.items()):
        if info.get("review", "flagged" if info["flags"] else "graded") != status:
            continue
        rows += [(student, f.get("cell_name", ""), f.get("reason", "")) for f in info["flags"]]
        if status == "flagged" and not info["flags"]:
            rows.append((student, "", info.get("review_reason", "")))
    return rows


def render(data):
    """The report page's HTML."""
    students = data["students"]
    flagged = review_rows(students, "flagged")
    cleared = review_rows(students, "graded")
    rejected = [(s, i["rejected"]) for s, i in sorted(students.items()) if i["rejected"]]
    rejected += sorted(data["intake_rejected"].items())
    events = [(s, e.get("cell_name", ""), e.get("kind", ""), e.get("detail", ""))
              for s, i in sorted(students.items()) for e in i["events"]]
    graded = [i["score"] for i in students.values() if not i["rejected"]]
    mean = sum(graded) / len(graded) if graded else 0
    raw = [i.get("raw_score", i["score"]) for i in students.values() if not i["rejected"]]
    raw_mean = sum(raw) / len(raw) if raw else 0
    due = data.get("duedate")
    parts = [f"<h1>Grading report: {html.escape(data['exercise'])}</h1>",
             f"<p>{len(students)} submissions ({len(graded)} graded, {len(rejected)} rejected, "
             f"{len({s for s, *_ in flagged})} flagged), {len(data['missing'])} missing; mean score "
             f"{mean:.2f} of {data['max_score']:g}"
             + (f" after late penalties (raw {raw_mean:.2f})" if raw_mean != mean else "") + "; "
             + (f"due {due:%Y-%m-%d %H:%M:%S} UTC" if due else "no due date") + ".</p>"]
    for title, png in figures(data).items():
        parts.append(f'<h2>{html.escape(title)}</h2><img alt="{html.escape(title)}" src="data:image/png;base64,{png}">')
    parts.append(_table("Pass rate per test cell, hardest first", ["test cell", "points", "full points"],
                        [(cell, f"{points:g}", f"{rate:.0%}") for cell, points, rate in pass_rates(data)]))
    if due or late_rows(data):
        parts.append(_table("Late submissions", ["student", "handed in", "late by (after extension)", "extension",
                                                 "raw score", "late penalty", "final score"], late_rows(data)))
    else:   # the words of the intake report: the LMS may call an upload late, the course has no due date to apply
        marked = data.get("lms_late") or []
        parts.append("<h2>Late submissions</h2><p>" + html.escape(
            NO_DUE_DATE + (f" {LMS_LATE[0].upper() + LMS_LATE[1:]}: {', '.join(marked)}." if marked else "")) + "</p>")
    parts.append(_table("Flagged for review", ["student", "cell", "reason"], flagged))
    if cleared:   # reviewed: no longer anyone's to-do, shown so that the instructor sees what was cleared
        parts.append(_table("Flags cleared after review", ["student", "cell", "reason"], cleared))
    parts.append(_table("Rejected", ["student or file", "reason"], rejected))
    parts.append(_table("Timed out, kernel replaced or not run", ["student", "cell", "event", "detail"], events))
    parts.append(_table("Missing (on the roster, nothing submitted)", ["student"], [(s,) for s in data["missing"]]))
    parts.append(similar_section(data.get("similar")))
    style = ("body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(data['exercise'])} report</title>"
            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>")


def write_report(exercise, course_root=".", output=None):
    """Write the report page; returns its path."""
    data = gather(exercise, course_root)
    path = Path(output) if output else Path(course_root, "reports", exercise, "report.html")
    path.parent.mkdir(parents=True, exist_ok=True)
    if data["similar"].get("html"):
        data["similar"]["link"] = os.path.relpath(Path(data["similar"]["html"]).resolve(), path.resolve().parent)
    path.write_text(render(data))
    return path
