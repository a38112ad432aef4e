"""`dl-course`: the instructor's commands that nbgrader lacks, one verb per task.

    dl-course collect EXERCISE PATH...   LMS / Colab / e-mail uploads into submitted/, with an intake report
    dl-course grade EXERCISE             grade every new or changed submission in parallel (or on a Dask cluster)
    dl-course report EXERCISE            one HTML page: scores, hardest tests, times, flagged/rejected/missing
    dl-course mutants EXERCISE           how many wrong solutions the hidden tests catch
    dl-course similarity EXERCISE        pairs of submissions whose own code is unusually alike (for review)
    dl-course flags EXERCISE             submissions held back for review, with why; --clear after review
    dl-course export EXERCISE... --lms L grades in the file Canvas, Moodle or Blackboard imports
    dl-course return EXERCISE --lms L    feedback packed for the LMS's bulk upload
    dl-course schedule                   due dates and extensions (extensions.csv) into the gradebook, shown
    dl-course links                      README's and docs' Colab links to the repository in nbgrader_config.py
    dl-course docs                       build the course website (docs/ and the release notebooks) offline
    dl-course setup                      once per environment: the Formgrader shows flags; the exchange exists,
                                         with permissions students cannot subvert
    dl-course hub up --roster FILE       a class on a JupyterHub on this machine (accounts, course service,
                                         exchange, proxy); `hub roster FILE` changes its students; `hub down`
                                         removes it again (root)

Everything else is plain nbgrader (`nbgrader generate_assignment`, `autograde`, `generate_feedback`,
`export`, the formgrader), configured by the course's nbgrader_config.py. Run a verb with --help.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from course.coursedir import load_config, put_tools_on_path, require_root, skip_unused_format_grammar


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
    config = load_config(root)
    sandbox, settings = Sandbox(config=config), engine.GradingEngine(config=config)
    remote = args.scheduler or settings.scheduler or settings.cluster   # kernels start on the cluster's workers
    problem = bwrap_problem(sandbox.bwrap) if sandbox.enabled and not remote else None
    if problem:
        raise SandboxUnavailable(f"Grading stopped: {problem}. To grade, {INSTALL_HINT}.")
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


def cmd_flags(args):
    """List the submissions held back for review; clear the flags of the students named after review."""
    from nbgrader.api import Gradebook
    from nbgrader.coursedir import CourseDirectory

    from course.grading.grades import clear_flags, flagged_students

    coursedir = CourseDirectory(config=load_config(require_root(args.course)))
    with Gradebook(coursedir.db_url, coursedir.course_id) as gradebook:
        if args.clear:
            try:
                for student in clear_flags(gradebook, args.exercise, args.clear):
                    print(f"  cleared: {student}")
            except ValueError as error:
                raise SystemExit(f"dl-course flags: {error}") from None
        held = flagged_students(gradebook, coursedir, args.exercise)
    for student, reason in sorted(held.items()):
        print(f"  flagged: {student}: {reason}")
    print(f"{len(held)} submission(s) of {args.exercise} held back for review")
    return 1 if held else 0


def cmd_export(args):
    """Write the grade file an LMS imports; list who is not in it and why."""
    from course.grading.lms import export_grades

    try:
        outcome = export_grades(args.exercise, lms=args.lms, course_root=require_root(args.course), out=args.out)
    except ValueError as error:
        raise SystemExit(f"dl-course export: {error}") from None
    print("\n".join(outcome.lines()))
    return 1 if any("flagged" in why for *_, why in outcome.held_back) else 0


def cmd_return(args):
    """Pack every student's feedback for the LMS's bulk upload; list who is left out and why."""
    from course.grading.lms import return_feedback

    try:
        outcome = return_feedback(args.exercise, lms=args.lms, course_root=require_root(args.course), out=args.out)
    except ValueError as error:
        raise SystemExit(f"dl-course return: {error}") from None
    print("\n".join(outcome.lines()))
    return 0


def cmd_schedule(args):
    """Import the due dates and the extensions into the gradebook and print them."""
    from course.grading.schedule import format_schedule

    try:
        lines = format_schedule(load_config(require_root(args.course)), extensions_file=args.extensions)
    except (ValueError, FileNotFoundError) as error:
        raise SystemExit(f"dl-course schedule: {error}") from None
    print("\n".join(lines))
    return 0


def _fraction(text):
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def cmd_links(args):
    """Point the Colab links of README.md and docs/ at c.ColabLinks.repository and branch; list what is stale."""
    from traitlets import TraitError

    from course.grading.release import ColabLinks, rewrite_pages, stale

    root = require_root(args.course)
    try:
        links = ColabLinks(config=load_config(root))
    except TraitError as error:
        raise SystemExit(f"dl-course links: {error}") from None
    if not args.check:
        for page in rewrite_pages(root, links):
            print(f"  rewritten: {page.relative_to(root)}")
    problems = stale(root, links)
    for problem in problems:
        print(f"  stale: {problem}")
    if any(problem.startswith("release/") for problem in problems):
        print('  release/ is generated: run `nbgrader generate_assignment "*" --force`')
    print(f"{len(problems)} link(s) not pointing at {links.repository}@{links.branch}")
    return 1 if problems else 0


def cmd_setup(args):
    """Enable the course's Formgrader additions in this environment and create the course's exchange."""
    from course.grading.formgrader import enable_extension

    root = require_root(args.course)
    config = load_config(root)   # nbgrader_config.py creates the exchange folder when it is missing
    print(f"Formgrader: flags, reasons and names shown (Jupyter server extension enabled in {enable_extension()})")
    exchange = Path(config.Exchange.root) if "root" in config.Exchange else None
    if exchange is not None:
        from course.grading.exchange import layout_problems, make_layout

        course_id = config.CourseDirectory.course_id
        if exchange.is_dir() and exchange.stat().st_uid == os.geteuid():   # the course's own: the safe layout
            make_layout(exchange, course_id)
        problems = layout_problems(exchange, course_id, instructor=True) if exchange.is_dir() else []
        state = ("missing: create it as its administrator (docs/instructors.md)" if not exchange.is_dir()
                 else "ready (only its owner writes it; students cannot rename or read each other's submissions)"
                 if not problems else "NOT SAFE: " + " ".join(problems))
        print(f"Exchange: {exchange} {state}")
        if problems:
            return 1
    print("Restart a running `jupyter lab` to see the change.")
    return 0


def cmd_hub_up(args):
    """Create the class's accounts, the grader's course root and the exchange; start JupyterHub."""
    from course import hub

    instructors = [name.strip() for name in (args.instructors or "").split(",") if name.strip()]
    try:
        state, passwords = hub.up(require_root(args.course), args.roster, instructors=instructors, port=args.port,
                                  state_dir=args.dir, exchange=args.exchange, data_dir=args.data_dir, ip=args.ip)
    except hub.HubError as error:
        print(f"dl-course hub up: {error}", file=sys.stderr)
        return 1
    if passwords:
        print("Passwords of the new accounts (shown once; each user changes theirs with `passwd` in a terminal):")
        for name, password in passwords.items():
            print(f"  {name}  {password}")
    return 0


def cmd_hub_down(args):
    """Stop the hub and remove the accounts, the exchange and the folders `up` made."""
    from course import hub

    try:
        hub.down(args.dir)
    except hub.HubError as error:
        print(f"dl-course hub down: {error}", file=sys.stderr)
        return 1
    return 0


def cmd_hub_roster(args):
    """Change the students of a running class: add accounts, remove students (files and grades kept)."""
    from course import hub

    try:
        change = hub.roster(args.roster, state_dir=args.dir)
    except hub.HubError as error:
        print(f"dl-course hub roster: {error}", file=sys.stderr)
        return 1
    print(change.summary())
    if change.passwords:
        print("Passwords of the new accounts (shown once; each user changes theirs with `passwd` in a terminal):")
        for name, password in change.passwords.items():
            print(f"  {name}  {password}")
    return 0


def _hub_parser(verbs):
    from course.hub import DEFAULT_DIR, DEFAULT_EXCHANGE   # standard library only

    hub = verbs.add_parser(
        "hub", help="a class on a JupyterHub on this machine: `hub up` starts it, `hub roster` changes its students, "
                    "`hub down` removes it (root)",
        description="A trial class hub on this machine, as root (docs/instructors.md, \"JupyterHub\"): JupyterHub "
                    "with the course's configuration (deploy/jupyterhub/), the course as a hub service whose "
                    "Formgrader runs as the account grader-<course_id>, PAM log-in to Linux accounts, "
                    "configurable-http-proxy from npm at its pinned version.")
    actions = hub.add_subparsers(dest="action", metavar="ACTION")
    up = actions.add_parser(
        "up", help="create the class (accounts, grader, exchange) and start the hub",
        description="Create a Linux account for every student of the roster and every instructor (new accounts "
                    "get a generated password, printed once; existing ones are used as they are), the grader "
                    "account and its copy of the course (with the roster in its gradebook), the shared exchange; "
                    "install configurable-http-proxy from npm (the version deploy/jupyterhub/package-lock.json "
                    "pins) and start JupyterHub in the background. Instructors and TAs (--instructors) may open the "
                    "course's Formgrader; students may not. Then: log in at the printed address. Exit status 0 "
                    "when the hub answers, 1 with the reason otherwise (everything made so far is removed again).")
    up.add_argument("--roster", required=True, help="CSV of students (column id, the account name; optional "
                                                   "first_name, last_name, email)")
    up.add_argument("--instructors", help="comma-separated account names of instructors and TAs")
    up.add_argument("--port", type=int, default=8000, help="the hub's port (default: 8000)")
    up.add_argument("--ip", default="127.0.0.1", help="the address the hub listens on (default: 127.0.0.1; "
                                                      "0.0.0.0 behind TLS only)")
    up.add_argument("--dir", default=DEFAULT_DIR, help=f"the hub's own folder (default: {DEFAULT_DIR})")
    up.add_argument("--exchange", default=DEFAULT_EXCHANGE, help=f"the shared exchange (default: {DEFAULT_EXCHANGE})")
    up.add_argument("--data-dir", help="the dataset mirror for every server (default: $COURSE_DATA_DIR if set)")
    _course_option(up)
    up.set_defaults(func=cmd_hub_up)
    down = actions.add_parser(
        "down", help="stop the hub and remove what `hub up` made",
        description="Stop JupyterHub (which stops every user's server and the course service), then remove "
                    "the accounts, the exchange and the hub's folder that `hub up` created, and nothing else "
                    "(accounts that existed before stay). Exit status 0, or 1 when no hub was started there.")
    down.add_argument("--dir", default=DEFAULT_DIR, help=f"the hub's own folder (default: {DEFAULT_DIR})")
    down.set_defaults(func=cmd_hub_down)
    roster = actions.add_parser(
        "roster", help="change the students of a running class to those of a roster file",
        description="Make the running class's students those of ROSTER: a new student gets an account (a "
                    "generated password, printed once), a hub user in the students' group and a row in the "
                    "gradebook; a student no longer on it can no longer log in (hub user deleted, which stops "
                    "their server; Linux account locked and expired) and keeps their home, submissions and grades "
                    "(adding them again unlocks the account). Exit status 0, or 1 with the reason.")
    roster.add_argument("roster", help="CSV of students (column id, the account name; optional first_name, "
                                       "last_name, email)")
    roster.add_argument("--dir", default=DEFAULT_DIR, help=f"the hub's own folder (default: {DEFAULT_DIR})")
    roster.set_defaults(func=cmd_hub_roster)
    hub.set_defaults(func=lambda args: hub.print_help() or 2)


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

    flags = verbs.add_parser(
        "flags", help="submissions held back for review (flagged), with why; clear them after review",
        description="List the submissions of EXERCISE whose grade is held back for review: flagged by grading "
                    "(tampering found, see the report) or by a grader in the Formgrader. A held-back score is "
                    "written nowhere (grades.csv's score is empty, `dl-course export` leaves it out) until the "
                    "flag is cleared, here with --clear or with the flag in the Formgrader's grading view. "
                    "Grading a submission again flags it again if it still looks like tampering. Exit status 1 "
                    "while any submission is held back.")
    flags.add_argument("exercise", help="the assignment, e.g. ex01_numpy_dnn")
    flags.add_argument("--clear", nargs="+", metavar="STUDENT", help="clear these students' flags (after review)")
    _course_option(flags)
    flags.set_defaults(func=cmd_flags)

    export = verbs.add_parser(
        "export", help="grades in the file Canvas, Moodle or Blackboard imports",
        description="Write the grades of EXERCISE (several for Canvas and Blackboard) in the format the LMS's own "
                    "importer reads: Canvas's gradebook CSV (Grades > Import), Moodle's offline grading worksheet "
                    "(Upload grading worksheet), Blackboard's Grade Center file (Work Offline > Upload; .csv, or "
                    "tab-delimited .xls/.txt). Students are matched by the LMS's ids from the intake "
                    "(`dl-course collect`) or the roster's lms_user_id. Rejected: 0 with the reason; missing: "
                    "nothing (c.LmsExport.missing_as_zero writes 0); flagged: held back until cleared "
                    "(`dl-course flags`). Canvas assignment ids and Blackboard column ids: c.LmsExport in "
                    "nbgrader_config.py. Default file: reports/EXERCISE/LMS-grades.csv. Exit status 1 while a "
                    "flagged student is held back.")
    export.add_argument("exercise", nargs="+", help="the assignment(s), e.g. ex01_numpy_dnn")
    _lms_option(export)
    export.add_argument("--out", help="the file to write")
    _course_option(export)
    export.set_defaults(func=cmd_export)

    give_back = verbs.add_parser(
        "return", help="feedback packed for the LMS's bulk upload (Canvas, Moodle; Blackboard: folders)",
        description="Pack every student's feedback HTML of EXERCISE (from `nbgrader generate_feedback`) the way "
                    "the LMS's bulk upload reads it: Canvas's Re-Upload Submissions zip (names carrying the "
                    "student's user id and the upload's attachment id, from the intake), Moodle's 'Upload "
                    "multiple feedback files in a zip' (one folder per participant as in its download). "
                    "Blackboard has no bulk upload: one folder per student. Students left out (missing, "
                    "rejected, flagged, no feedback or no LMS id) are listed with why. Default: "
                    "reports/EXERCISE/LMS-feedback.zip.")
    give_back.add_argument("exercise", help="the assignment, e.g. ex01_numpy_dnn")
    _lms_option(give_back)
    give_back.add_argument("--out", help="the zip (Blackboard: the folder) to write")
    _course_option(give_back)
    give_back.set_defaults(func=cmd_return)

    plan = verbs.add_parser(
        "schedule", help="due dates and extensions into the gradebook, and shown (checks extensions.csv)",
        description="Import the due dates of c.CourseSchedule.due_dates (nbgrader_config.py) into the gradebook as "
                    "nbgrader's assignment due dates, and the extensions of the extensions file (CSV: "
                    "student,exercise,extra; extra 2d, 36h, 90m, 1d12h or a number of hours; 0 takes one back) "
                    "as nbgrader's extensions of the students who have a submission (the others get theirs when "
                    "graded); print both. Grading does this by itself (`nbgrader autograde`, `dl-course grade`): "
                    "run it to check the file, or before the Formgrader or `nbgrader export` should show a due "
                    "date. A submission graded already keeps its penalty until graded again with --force. Exit "
                    "status 0; a bad due date or CSV row stops it with the line to fix.")
    plan.add_argument("--extensions", metavar="FILE", help="the extensions CSV to read (default: "
                                                           "c.CourseSchedule.extensions_file, extensions.csv)")
    _course_option(plan)
    plan.set_defaults(func=cmd_schedule)

    links = verbs.add_parser(
        "links", help="the README's and docs' Colab links to the repository and branch in nbgrader_config.py",
        description="Rewrite the Colab badges of README.md's exercise table and docs/*.md (and the setup "
                    "cell's `dl-course @ git+https://github.com/...` install and the students' guide's link to the "
                    "README, wherever they stand there) to c.ColabLinks.repository and c.ColabLinks.branch of "
                    "nbgrader_config.py, whatever repository and branch they named before. The release "
                    "notebooks get theirs from `nbgrader generate_assignment` (the ColabLinks preprocessor). "
                    "Then list every link of README.md, docs/ and release/ that does not follow the setting. "
                    "Exit status 0 when every link follows it, 1 otherwise.")
    links.add_argument("--check", action="store_true", help="change nothing, only list the stale links")
    _course_option(links)
    links.set_defaults(func=cmd_links)

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

    setup = verbs.add_parser(
        "setup", help="once per environment: the Formgrader shows flags and reasons; the exchange exists",
        description="Enable the course's Jupyter server extension (course.grading.formgrader) in this "
                    "environment, so that nbgrader's Formgrader shows each submission's flags and their reasons, "
                    "rejections and the students' names (a wheel install of the course enables it by itself; an "
                    "editable install, `pip install -e`, needs this once), and create the exchange folder of "
                    "nbgrader_config.py with nbgrader's permissions when it is missing. Safe to run again. "
                    "Exit status 0.")
    _course_option(setup)
    setup.set_defaults(func=cmd_setup)
    _hub_parser(verbs)
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


def _lms_option(verb):
    """`--lms` of the verbs that write for an LMS (export, return; course.grading.lms.LMS_NAMES, not imported
    here: building the parser must not import nbgrader)."""
    verb.add_argument("--lms", choices=["canvas", "moodle", "blackboard"],
                      help="the LMS (default: the one the exercise was collected from)")


def _course_option(verb):
    """`--course` also after the verb (it keeps the top-level default, the current folder, when left out)."""
    verb.add_argument("--course", default=argparse.SUPPRESS,
                      help="the course root (the folder with nbgrader_config.py; default: the current folder)")


def main(argv=None):
    skip_unused_format_grammar()   # before anything imports nbformat (course.coursedir)
    put_tools_on_path()   # nbgrader runs `alembic` by name, also when the environment is not activated
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
