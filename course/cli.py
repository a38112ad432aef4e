"""`dl-course`: the instructor's commands that nbgrader lacks, one verb per task.

    dl-course collect EXERCISE PATH...   LMS / Colab / e-mail uploads into submitted/, with an intake report
    dl-course grade EXERCISE             grade every new or changed submission in parallel (or on a Dask cluster)
    dl-course report EXERCISE            one HTML page: scores, hardest tests, times, flagged/rejected/missing
    dl-course mutants EXERCISE           how many wrong solutions the hidden tests catch

Everything else is plain nbgrader (`nbgrader generate_assignment`, `autograde`, `generate_feedback`,
`export`, the formgrader), configured by the course's nbgrader_config.py. Run a verb with --help.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def _course_root(path):
    root = Path(path).resolve()
    if not (root / "nbgrader_config.py").is_file():
        raise SystemExit(f"dl-course: {root} is not a course root (no nbgrader_config.py); run it in the course "
                         f"folder or give --course")
    return root


def cmd_collect(args):
    """Collect uploads (zip files and folders from Canvas, Moodle, Blackboard, Colab or e-mail) into submitted/."""
    from course.grading import intake

    rows = intake.collect(args.exercise, args.paths, course_root=_course_root(args.course), lms=args.lms,
                          roster=args.roster)
    print(intake.format_report(rows))
    print(f"Intake report: {Path(args.course, 'reports', args.exercise, 'intake.csv')}")
    return 1 if any(r["status"] == "rejected" for r in rows) else 0


def cmd_grade(args):
    """Grade new or changed submissions in parallel; one summary line; exit 1 when something needs a look."""
    from course.grading import engine
    from course.grading.sandbox import Sandbox, SandboxUnavailable, bwrap_problem, INSTALL_HINT

    root = _course_root(args.course)
    sandbox = Sandbox(config=engine.load_config(root))
    if sandbox.enabled and not args.scheduler and bwrap_problem(sandbox.bwrap):
        raise SandboxUnavailable(f"Grading stopped: {bwrap_problem(sandbox.bwrap)}. To grade, {INSTALL_HINT}.")
    summary = engine.grade(args.exercise, course_root=root, students=args.student or None, workers=args.workers,
                           scheduler=args.scheduler, force=args.force, progress=not args.quiet)
    for title, items in (("rejected", summary.rejected), ("flagged for review", summary.flagged),
                         ("timed out or kernel replaced", summary.timed_out), ("grading failed", summary.failed)):
        for student, reason in sorted(items.items()):
            print(f"  {title}: {student}: {reason.strip().splitlines()[-1][:200] if reason.strip() else ''}")
    print(summary.line())
    return 2 if summary.failed else 1 if summary.needs_attention else 0


def cmd_report(args):
    """Write the instructor's HTML report of an exercise."""
    from course.grading.report import write_report

    path = write_report(args.exercise, course_root=_course_root(args.course), output=args.output)
    print(f"Report: {path}")
    return 0


def cmd_mutants(args):
    """Grade machine-made wrong solutions; print the kill rate per graded function and every survivor."""
    from course.grading import mutants

    results = [mutants.run(exercise, count=args.count, seed=args.seed, workers=args.workers, only=args.only)
               for exercise in args.exercise]
    for result in results:
        print(mutants.format_run(result))
    return 1 if any(r.survived for r in results) else 0


def build_parser():
    parser = argparse.ArgumentParser(prog="dl-course", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--course", default=".", help="the course root (the folder with nbgrader_config.py)")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")

    collect = verbs.add_parser(
        "collect", help="LMS, Colab and e-mail uploads into submitted/ (intake report)",
        description="Put each student's newest upload of EXERCISE at submitted/<student>/EXERCISE/, whatever "
                    "the LMS called it ('Copy of', '(1)', '-1', LATE), and report every student's status: "
                    "collected, unchanged, repaired, rejected (why) or missing. Exit status 1 when a file "
                    "was rejected.")
    collect.add_argument("exercise", help="the assignment, e.g. ex01_numpy_dnn")
    collect.add_argument("paths", nargs="+", help="zip files or folders of uploads")
    collect.add_argument("--lms", choices=["canvas", "moodle", "blackboard", "folders"],
                         help="the LMS whose file names the uploads have (default: recognised from the names; "
                              "'folders' = one folder per student id)")
    collect.add_argument("--roster", help="CSV of students (id, first_name, last_name, email, lms_user_id) to "
                                          "import into the gradebook first")
    collect.set_defaults(func=cmd_collect)

    grade = verbs.add_parser(
        "grade", help="autograde new or changed submissions in parallel workers (or on a Dask cluster)",
        description="Grade every submission of EXERCISE in submitted/ that is new or changed since it was last "
                    "graded, with the course's nbgrader configuration (sandbox, repair, verdicts), in long-lived "
                    "workers. One process writes the gradebook; the results are those of `nbgrader autograde`. "
                    "Exit status: 0 all clean, 1 something needs a look (rejected, flagged, timed out), 2 a "
                    "submission could not be graded.")
    grade.add_argument("exercise", help="the assignment, e.g. ex01_numpy_dnn")
    grade.add_argument("--student", action="append", help="grade only this student (repeatable)")
    grade.add_argument("--workers", type=int, help="local worker processes (default: c.GradingEngine.workers, "
                                                   "else the number of CPU cores)")
    grade.add_argument("--scheduler", help="grade on the Dask cluster of this scheduler (tcp://host:8786)")
    grade.add_argument("--force", action="store_true", help="grade again what was graded already")
    grade.add_argument("--quiet", action="store_true", help="no progress bar")
    grade.set_defaults(func=cmd_grade)

    report = verbs.add_parser(
        "report", help="one HTML page: score histogram, hardest tests, grading times, who needs a look",
        description="Write reports/EXERCISE/report.html: the score histogram, the pass rate of every test cell "
                    "(hardest first), the grading time per submission, and the flagged, rejected, timed-out and "
                    "missing submissions with their reasons (from the gradebook, autograde/ and the intake report).")
    report.add_argument("exercise", help="the assignment, e.g. ex01_numpy_dnn")
    report.add_argument("--output", help="where to write the page (default reports/EXERCISE/report.html)")
    report.set_defaults(func=cmd_report)

    mutate = verbs.add_parser(
        "mutants", help="how many machine-made wrong solutions the hidden tests catch",
        description="Make mutants of EXERCISE's solution cells (operators, comparisons, constants, activations, "
                    "paddings, swapped or dropped calls, dropped statements), grade each as a submission through "
                    "the parallel engine, and print the kill rate per graded function with every survivor as a "
                    "diff. Mutants acknowledged in tests/equivalent_mutants/EXERCISE.txt are counted apart. "
                    "Exit status 1 when a mutant survived. Runs on the course package's own exercises.")
    mutate.add_argument("exercise", nargs="+", help="one or more assignments, e.g. ex01_numpy_dnn")
    mutate.add_argument("--count", type=int, help="how many mutants per exercise (default: all)")
    mutate.add_argument("--seed", type=int, default=0, help="which mutants are drawn (default 0)")
    mutate.add_argument("--workers", type=int, help="local worker processes (default: CPU cores)")
    mutate.add_argument("--only", action="append", metavar="ID",
                        help="grade only this mutant of the draw (repeatable): after adding a test for a survivor, "
                             "check that it is now killed")
    mutate.set_defaults(func=cmd_mutants)
    return parser


def main(argv=None):
    from course.grading.runner import interpreter_env

    os.environ["PATH"] = interpreter_env()["PATH"]   # nbgrader runs `alembic` by name, also when not activated
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
