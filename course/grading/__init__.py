"""The instructors' side of the course: grading that a student cannot game or break.

One module per stage of a submission's way (see ../shared/GRADING_DESIGN.md, README "Grading"):

| module | stage |
| --- | --- |
| `sandbox` | bubblewrap around every grading kernel (no network, no course files, limits) |
| `guard` | kernel side: undo what student code bent before each test cell |
| `execute` | run the notebook; verdict per test cell; budgets; fresh kernel after a death |
| `verdict` | points from the verdict, flags into the gradebook |
| `feedback` | hidden tests out of everything returned to students |
| `records` | what grading noticed, kept in the graded notebook's metadata |
| `runner` | the nbgrader pipeline on a temporary copy of the course (tests, `python -m course.grading`) |

The stages are nbgrader preprocessors and a kernel manager wired in `nbgrader_config.py`, so the
plain `nbgrader autograde` and `nbgrader generate_feedback` commands use them.
"""

from .notebooks import (HIDDEN_BEGIN, HIDDEN_END, ROOT, SOLUTION_BEGIN, SOLUTION_END, exercises,  # noqa: F401
                        graded_cells, is_test_cell, nbgrader_meta, notebook_path, secret_lines)
from .runner import (GradingRun, apply_wrong_solution, generate_feedback, grade_submissions,  # noqa: F401
                     load_wrong_solutions, make_course_copy, nbgrader, standard_submissions, stderr_outputs)
