"""`dl-course`: the instructor's commands that nbgrader lacks, one verb per task.

    dl-course collect EXERCISE PATH...   LMS / Colab / e-mail uploads into submitted/, with an intake report
    dl-course grade EXERCISE             grade every new or changed submission in parallel (or on a Dask cluster)
    dl-course report EXERCISE            one HTML page: scores, hardest tests, times, flagged/rejected/missing
    dl-course mutants EXERCISE           how many wrong solutions the hidden tests catch
    dl-course similarity EXERCISE        pairs of submissions whose own code is unusually alike (for review)
    dl-course docs                       build the course website (docs/ and the release notebooks) offline

Everything else is plain nbgrader (`nbgrader generate_assignment`, `autograde`, `generate_feedback`,
`export`, the formgrader), configured by the course's nbgrader_config.py. Run a verb with --help.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from course.coursedir import load_config, put_tools_on_path, require_root


def cmd_collect(args):
    """Collect uploads (zip files and folders from Canvas, Moodle, Blackboard, Colab or e-mail) into submitted/."""
    from course.grading import intake

    rows = intake.collect(args.exercise, args.paths, course_root=require_root(args.course), lms=args.lms,
                          roster=args.roster)
    print(intake.format_report(rows))
    print(f"Intake report: {Path(args.course, 'reports', args.exercise, 'intake.csv')}")
    # a rejected student, or a newer upload passed over for an older readable one: both need a look
    return 1 if any(r["status"] == "rejected" or "rejected:" in r["detail"] for r in rows) else 0


def cmd_grade(args):
    """Grade new or changed submissions in parallel; one summary line; exit 1 when something needs a look."""
    from course.grading import engine
    from course.grading.sandbox import Sandbox, SandboxUnavailable, bwrap_problem, INSTALL_HINT

    root = require_root(args.course)
    sandbox = Sandbox(config=load_config(root))
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

    path = write_report(args.exercise, course_root=require_root(args.course), output=args.output)
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


def cmd_similarity(args):
    """Write the similarity CSV and HTML of an exercise; print the flagged pairs. Grades are not touched."""
    from course.grading import similarity

    try:
        result = similarity.write(args.exercise, course_root=require_root(args.course), threshold=args.threshold)
    except ValueError as error:
        raise SystemExit(f"dl-course similarity: {error}") from None
    print(similarity.format_table(result))
    print(f"Similarity report: {result.html_path} (all pairs: {result.csv_path})")
    return 0


def _fraction(text):
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


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

    similar = verbs.add_parser(
        "similarity", help="pairs of submissions whose own code is unusually alike, flagged for review",
        description="Compare the code of every submission of EXERCISE in submitted/ with every other, once the "
                    "release notebook's code (stubs, setup, try-it and test cells) is removed: fingerprints of "
                    "normalized tokens (winnowing, as MOSS), so renamed variables, reordered functions and "
                    "changed comments do not hide a copy. Writes reports/EXERCISE/similarity.csv (every pair "
                    "with common code: score, shared fingerprints, matching lines) and similarity.html (the "
                    "matching lines of the flagged pairs side by side), and prints the flagged pairs. A flag "
                    "is for a human to review: no grade and nothing in the gradebook changes. Settings: "
                    "c.Similarity.threshold, k, window, min_fingerprints, common_limit in nbgrader_config.py. "
                    "Exit status 0 (flagged pairs included: they are for review), 1 for an unknown exercise or "
                    "no submissions.")
    similar.add_argument("exercise", help="the assignment, e.g. ex01_numpy_dnn")
    similar.add_argument("--threshold", type=_fraction,
                         help="flag pairs whose score (share of the smaller submission's fingerprints found in the "
                              "other, 0..1) is at least this (default: c.Similarity.threshold, else 0.5)")
    _course_option(similar)
    similar.set_defaults(func=cmd_similarity)

    docs = verbs.add_parser(
        "docs", help="build the course website (guides, threat model, benchmarks, design, release notebooks)",
        description="Build the website from docs/ with Sphinx (sphinx-book-theme, myst-nb) into "
                    "docs/_build/html: the students' and instructors' guides, the threat model, the hidden-test "
                    "strength, testing, benchmarks, the design, and the release notebooks as pages (never "
                    "source/: no solution or hidden test is on the site). Offline: no theme or asset is fetched. "
                    "Warnings are errors (a broken internal link fails the build). Exit status 0 when built.")
    docs.add_argument("--out", help="the folder for the HTML (default: docs/_build/html)")
    _course_option(docs)
    docs.set_defaults(func=cmd_docs)
    return parser


def cmd_docs(args):
    """Build the website with Sphinx: warnings are errors, nothing is fetched, source/ is never read."""
    from sphinx.cmd.build import build_main

    root = require_root(args.course)
    out = Path(args.out).resolve() if args.out else root / "docs" / "_build" / "html"
    code = build_main(["-W", "--keep-going", "-q", "-b", "html", "-d", str(out.parent / "doctrees"),
                       str(root / "docs"), str(out)])
    if code == 0:
        print(f"Website: {out / 'index.html'}")
    return code


def _course_option(verb):
    """`--course` also after the verb (it keeps the top-level default, the current folder, when left out)."""
    verb.add_argument("--course", default=argparse.SUPPRESS,
                      help="the course root (the folder with nbgrader_config.py; default: the current folder)")


def main(argv=None):
    put_tools_on_path()   # nbgrader runs `alembic` by name, also when the environment is not activated
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
