"""nbgrader configuration; the repository root is the course root."""
import os

from course.coursedir import (ensure_exchange, exchange_root, put_tools_on_path, quiet_known_warnings,
                             use_course_exchange)

c = get_config()  # noqa: F821  (provided by nbgrader)

# nbgrader runs `alembic` by name when it creates a gradebook: take this environment's, also when the
# environment is not activated (`.venv/bin/nbgrader ...`, `.venv/bin/jupyter lab`).
put_tools_on_path()
# The one warning nbgrader itself prints for every graded submission (SQLAlchemy 2 on nbgrader 0.9's
# Gradebook.add_submission, harmless), filtered by its message; every other warning still shows.
quiet_known_warnings()

c.CourseDirectory.course_id = "dl-course"             # course name in the exchange and the gradebook
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))  # this folder (source/, release/, ...)
c.CourseDirectory.source_directory = "source"         # instructor notebooks with solutions and hidden tests
c.CourseDirectory.release_directory = "release"       # generated student notebooks (committed)
c.CourseDirectory.submitted_directory = "submitted"   # collected or uploaded submissions (not committed)
c.CourseDirectory.autograded_directory = "autograde"  # nbgrader autograde output (not committed)
c.CourseDirectory.feedback_directory = "feedback"     # HTML feedback for students (not committed)
# SQLite gradebook in the course root (not committed), by absolute path so that every tool finds the
# same one wherever it runs; PostgreSQL for a shared hub: "postgresql+psycopg://user@host/dbname" (psycopg 3,
# installed with the course; docs/instructors.md "PostgreSQL").
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(c.CourseDirectory.root, "gradebook.db")

c.Execute.timeout = 300           # seconds per cell; the heaviest training cell takes well under 100 s on a 2-core CPU
c.Execute.startup_timeout = 120   # kernel start-up, which imports TensorFlow in later exercises

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# Autograde: student code runs sandboxed, grades come from the kernel's verdict (course/grading/).
c.Autograde.exporter_class = "course.grading.repair.TolerantNotebookExporter"  # unreadable files: rejected
c.Autograde.sanitize_preprocessors = [
    "course.grading.sandbox.RequireSandbox",
    "course.grading.repair.RepairMetadata",
    "course.grading.tamper.FlagTampering",
    "course.grading.records.RecordSubmission",
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "nbgrader.preprocessors.OverwriteCells",
    "nbgrader.preprocessors.CheckCellMetadata",
]
c.Autograde.autograde_preprocessors = [
    "course.grading.execute.GradingExecute",
    "course.grading.sanitize.SanitizeStudentHTML",
    "nbgrader.preprocessors.IgnorePattern",
    "nbgrader.preprocessors.LimitOutput",
    "course.grading.feedback.DescribeImages",         # alt text on images (feedback, formgrader)
    "course.grading.verdict.SaveVerdicts",
    "course.grading.schedule.ApplySchedule",          # due date and the student's extension into the gradebook
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]

# Feedback shows hidden-test cells without their hidden code and without tracebacks.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "course.grading.schedule.ExplainLatePenalty",     # a late notebook: how late, raw score, penalty, final score
    "course.grading.feedback.HideHiddenTests",
    "course.grading.feedback.ScrubHiddenTests",
    "course.grading.sanitize.SanitizeStudentHTML",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
# Feedback math: MathJax from the Jupyter server that serves the page (jupyter-server-mathjax), else the CDN,
# else the TeX as written (course/grading/mathjax.py; docs/instructors.md).
c.GenerateFeedback.exporter_class = "course.grading.mathjax.FeedbackHTMLExporter"

# Due dates, late penalties and extensions (course/grading/schedule.py; docs/instructors.md "Due dates, late
# penalties and extensions"). This repository is the template: it sets no due date, so release/ shows none.
# A term's copy names them, in UTC, an IANA time zone or an offset, and the released notebooks show them:
# c.CourseSchedule.due_dates = {"ex01_numpy_dnn": "2027-01-15 23:59 UTC",
#                               "ex02_keras_dnn": "2027-01-22 23:59 Europe/Berlin"}
# Extensions: extensions.csv in the course root, columns student,exercise,extra (2d, 36h, 90m or hours).
c.CourseSchedule.extensions_file = "extensions.csv"
c.AssignLatePenalties.plugin_class = "course.grading.schedule.PerDayLatePenalty"
c.PerDayLatePenalty.share_per_day = 0.10   # of the notebook's score, per started day after the (extended) due date
c.PerDayLatePenalty.cap = 0.50             # at most half the score, however late
c.PerDayLatePenalty.grace_minutes = 15     # handed in up to 15 min after the due date: on time
c.GenerateAssignment.preprocessors = [     # nbgrader's default list, with the due date written first
    "course.grading.schedule.ShowDueDate",
    "nbgrader.preprocessors.IncludeHeaderFooter",
    "course.grading.release.ColabLinks",       # before the checksums: the gradebook holds the released links
    "nbgrader.preprocessors.InstantiateTests",
    "nbgrader.preprocessors.LockCells",
    "nbgrader.preprocessors.ClearSolutions",
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.CheckCellMetadata",
    "nbgrader.preprocessors.ComputeChecksums",
    "nbgrader.preprocessors.SaveCells",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbgrader.preprocessors.ClearMarkScheme",
    "nbgrader.preprocessors.ComputeChecksums",
    "nbgrader.preprocessors.CheckCellMetadata",
]

# The Colab badge and the setup cell's `%pip install` of every released notebook point at this GitHub
# repository and branch (course/grading/release.py; docs/instructors.md "Your own repository (Colab links)").
# A term's copy names its own, then runs `nbgrader generate_assignment "*" --force` and `dl-course links`
# (README.md's table and docs/). This repository is the template: the course's own repository.
c.ColabLinks.repository = "dl-course/dl-course"   # "owner/name" on GitHub
c.ColabLinks.branch = "main"                      # the branch students open release/ from and install from

# `nbgrader zip_collect` reads LMS downloads with the course's file-name presets (Canvas, Moodle,
# Blackboard, one folder per student): no regular expression to write (course/grading/intake.py).
c.ZipCollectApp.collector_plugin = "course.grading.intake.LMSCollectorPlugin"

# `nbgrader export` writes grades.csv with a status column: graded, flagged, rejected or missing.
c.ExportApp.plugin_class = "course.grading.export.StatusCsvExport"

# `dl-course export --lms` / `dl-course return`: what only the LMS knows (docs/instructors.md, "Returning
# grades and feedback to the LMS"), e.g.
# c.LmsExport.canvas_assignment_ids = {"ex01_numpy_dnn": 123456}   # /courses/<course>/assignments/<id>
# c.LmsExport.blackboard_column_ids = {"ex01_numpy_dnn": 880123}   # the number after "|" in a column header
c.LmsExport.missing_as_zero = False   # a student who submitted nothing: no grade written (True: 0)

# The exchange (release_assignment, fetch_assignment, submit, collect, feedback) lives in the course
# folder, so that it works on one machine out of the box (git-ignored). On a JupyterHub it is a folder every
# user can reach, named in the course's nbgrader_config.json (`dl-course hub up` writes it; docs/instructors.md:
# "The exchange", "JupyterHub").
c.Exchange.root = exchange_root(c.CourseDirectory.root)
c.Exchange.timezone = "UTC"
# Created here, writable by its owner only, so that the Formgrader shows Release and Collect from its first
# page (nbgrader itself creates it only on the first `nbgrader release_assignment`, writable by everyone).
ensure_exchange(c.Exchange.root)
# Every exchange step trusts no file a student can write (course/grading/exchange.py; docs/threat-model.md,
# "The exchange"): it refuses an exchange whose permissions a student could subvert; collect takes a folder only
# from the student it names, never follows a link, limits each submission on its own and replaces atomically.
use_course_exchange(c)
c.CourseDirectory.max_dir_size = 100_000   # kB: a larger submission is rejected (that student alone)
c.CourseDirectory.max_file_size = 100_000  # kB: a larger file is left out of a submission
c.ExchangeCollect.max_files = 1000         # files and folders in one submission; more: rejected (that student)
