"""The instructors' side of the course: grading that a student cannot game or break.

One module per stage of a submission's way (docs/design.md draws the pipeline):

| module | stage |
| --- | --- |
| `release` | the released notebooks' Colab badge and `%pip install` point at one repository and branch; `dl-course links` |
| `intake` | LMS, Colab and e-mail uploads into submitted/, roster, the intake report; nbgrader's zip_collect plugin |
| `repair` | nbgrader metadata restored by matching the release notebook; unreadable files rejected |
| `tamper` | student code that reaches for the grading machinery: flags |
| `sandbox` | bubblewrap around every grading kernel (no network, no course files, limits) |
| `checker`, `wire`, `bridge` | the trusted checker where test cells run; the data format across; the kernel's side |
| `guard` | kernel side: undo what student code bent before each test cell; partial credit |
| `execute` | run the notebook; verdict per test cell; budgets; fresh kernel after a death |
| `verdict` | points from the verdict, flags into the gradebook |
| `sanitize` | student HTML and JavaScript made inert |
| `feedback` | hidden tests out of everything returned to students |
| `schedule` | due dates, extensions (extensions.csv) and the per-day late penalty, in nbgrader's own fields |
| `engine` | `dl-course grade`: parallel (or Dask) grading, one gradebook writer |
| `grades` | the status of every grade (graded, flagged and held back, rejected, missing), for every export |
| `report`, `similarity`, `export` | the instructor's report, similar pairs, grades.csv with statuses (`nbgrader export`) |
| `lms` | grades and feedback back into Canvas, Moodle and Blackboard, in the files their importers read |
| `formgrader` | nbgrader's Formgrader shows flags, reasons and names (a Jupyter server extension; `dl-course setup`) |
| `mutants` | how strong the hidden tests are |
| `records`, `notebooks` | what grading noticed (in the graded notebook); small facts about course notebooks |
| `trial` | the nbgrader pipeline on a throw-away copy of the course (`dl-course mutants`, the benchmark, the tests) |

The stages are nbgrader preprocessors and a kernel manager wired in `nbgrader_config.py`, so the
plain `nbgrader autograde` and `nbgrader generate_feedback` commands use them.
"""

import importlib

# Names kept at the package level for `from course.grading import ...`, imported on first use (PEP 562):
# every grading kernel imports `course.grading.guard`, and importing the trial grader (nbformat and its JSON
# schema validator) would add about two seconds of CPU to each kernel's start.
_EXPORTS = {
    "notebooks": ["HIDDEN_BEGIN", "HIDDEN_END", "ROOT", "SOLUTION_BEGIN", "SOLUTION_END", "exercises",
                  "graded_cells", "is_test_cell", "nbgrader_meta", "notebook_path", "secret_lines"],
    "trial": ["GradingRun", "grade_submissions", "make_course_copy", "nbgrader", "student_form"],
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name):
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_MODULE_OF[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_MODULE_OF))
