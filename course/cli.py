"""`dl-course`: the instructor's commands that nbgrader lacks, one verb per task.

Everything else is plain nbgrader (`nbgrader generate_assignment`, `autograde`, `generate_feedback`, `export`,
the Formgrader), configured by the course's nbgrader_config.py. `dl-course VERB --help` says what a verb does
and what its exit status means. `--course DIR` (the course root, default: the current folder) goes before or
after any verb.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path

import click

from course.coursedir import load_config, put_tools_on_path, require_root, skip_unused_format_grammar

LMS_NAMES = ("canvas", "moodle", "blackboard")   # course.grading.lms.LMS_NAMES (not imported: nbgrader is heavy)
HUB_DIR, HUB_EXCHANGE = "/srv/dl-course-hub", "/srv/nbgrader/exchange"   # course.hub.DEFAULT_DIR, DEFAULT_EXCHANGE


# ----------------------------------------------------------------------------- options shared by verbs

def _course_root(ctx, param, value):
    """--course of a verb, else the one given before the verb, else the current folder."""
    if value is not None:
        return value
    parent = ctx.find_root()
    return (parent.params.get("course") if parent is not ctx else None) or "."


course_option = click.option("--course", default=None, callback=_course_root, expose_value=True,
                             metavar="DIR", help="the course root (the folder with nbgrader_config.py; default: "
                                                 "the current folder)")
exercise_argument = click.argument("exercise")
lms_option = click.option("--lms", type=click.Choice(LMS_NAMES),
                          help="the LMS (default: the one the exercise was collected from)")
hub_dir_option = click.option("--dir", "state_dir", default=HUB_DIR, show_default=True, help="the hub's own folder")


def verb(group, name=None, exercise=True):
    """Declare a verb of `group`: the handler's docstring is its help (first line: the summary), `--course` is
    accepted after it, EXERCISE is its first argument unless `exercise` is False. The handler returns the exit
    status."""
    def declare(handler):
        command = handler
        command = course_option(command)
        if exercise:
            command = exercise_argument(command)
        return group.command(name or handler.__name__.removeprefix("cmd_").replace("_", "-"))(
            click.pass_context(_exit_status(command)))
    return declare


def _exit_status(handler):
    @functools.wraps(handler)
    def run(ctx, **params):
        ctx.exit(handler(**params) or 0)
    return run


HELP = {"help_option_names": ["-h", "--help"], "max_content_width": 110, "terminal_width": 110}


@click.group(context_settings=HELP,
             help=__doc__.split("\n\n")[0] + "\n\n" + __doc__.split("\n\n")[1])
@click.option("--course", default=".", metavar="DIR", help="the course root (the folder with nbgrader_config.py)")
def cli(course):
    pass


# ----------------------------------------------------------------------------- verbs

@verb(cli)
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--lms", type=click.Choice([*LMS_NAMES, "folders"]),
              help="the LMS whose file names the uploads have (default: recognised from the names; 'folders' = one "
                   "folder per student id)")
@click.option("--roster", type=click.Path(exists=True, dir_okay=False),
              help="CSV of students (id, first_name, last_name, email, lms_user_id) to import into the gradebook first")
def collect(course, exercise, paths, lms, roster):
    """LMS, Colab and e-mail uploads into submitted/, with an intake report.

    Put each student's newest upload of EXERCISE (PATHS: zip files or folders of uploads) at
    submitted/<student>/EXERCISE/, whatever the LMS called it ('Copy of', '(1)', '-1', LATE), and report every
    student's status: collected, unchanged, repaired, rejected (why) or missing (reports/EXERCISE/intake.csv).
    Exit status 1 when a file was rejected.
    """
    from course.grading import intake

    rows = intake.collect(exercise, list(paths), course_root=require_root(course), lms=lms, roster=roster)
    print(intake.format_report(rows))
    print(f"Intake report: {Path(course, 'reports', exercise, 'intake.csv')}")
    # a rejected student, or a newer upload passed over for an older readable one: both need a look
    return 1 if any(r["status"] == "rejected" or "rejected:" in r["detail"] for r in rows) else 0


@verb(cli)
@click.option("--student", multiple=True, help="grade only this student (repeatable)")
@click.option("--workers", type=int, help="local worker processes (default: c.GradingEngine.workers, else the number "
                                          "of CPU cores)")
@click.option("--scheduler", help="grade on the Dask cluster of this scheduler (tcp://host:8786)")
@click.option("--force", is_flag=True, help="grade again what was graded already")
@click.option("--quiet", is_flag=True, help="no progress bar")
def grade(course, exercise, student, workers, scheduler, force, quiet):
    """Autograde new or changed submissions in parallel workers (or on a Dask cluster).

    Grade every submission of EXERCISE in submitted/ that is new or changed since it was last graded, with the
    course's nbgrader configuration (sandbox, repair, verdicts), in long-lived workers. One process writes the
    gradebook; the results are those of `nbgrader autograde`. Exit status: 0 all clean, 1 something needs a look
    (rejected, flagged, timed out), 2 a submission could not be graded.
    """
    from course.grading import engine
    from course.grading.sandbox import INSTALL_HINT, Sandbox, SandboxUnavailable, bwrap_problem

    root = require_root(course)
    config = load_config(root)
    sandbox, settings = Sandbox(config=config), engine.GradingEngine(config=config)
    remote = scheduler or settings.scheduler or settings.cluster   # kernels start on the cluster's workers
    problem = bwrap_problem(sandbox.bwrap) if sandbox.enabled and not remote else None
    if problem:
        raise SandboxUnavailable(f"Grading stopped: {problem}. To grade, {INSTALL_HINT}.")
    summary = engine.grade(exercise, course_root=root, students=list(student) or None, workers=workers,
                           scheduler=scheduler, force=force, progress=not quiet)
    for title, items in (("rejected", summary.rejected), ("flagged for review", summary.flagged),
                         ("timed out or kernel replaced", summary.timed_out), ("grading failed", summary.failed)):
        for name, reason in sorted(items.items()):
            print(f"  {title}: {name}: {reason.strip().splitlines()[-1][:200] if reason.strip() else ''}")
    print(summary.line())
    return 2 if summary.failed else 1 if summary.needs_attention else 0


@verb(cli)
@click.option("--output", type=click.Path(), help="where to write the page (default reports/EXERCISE/report.html)")
def report(course, exercise, output):
    """One HTML page: score histogram, hardest tests, grading times, who needs a look.

    Write reports/EXERCISE/report.html: the score histogram, the pass rate of every test cell (hardest first), the
    grading time per submission, and the flagged, rejected, timed-out and missing submissions with their reasons
    (from the gradebook, autograde/ and the intake report). Exit status 0.
    """
    from course.grading.report import write_report

    print(f"Report: {write_report(exercise, course_root=require_root(course), output=output)}")
    return 0


@verb(cli, exercise=False)
@click.argument("exercise", nargs=-1, required=True)
@click.option("--count", type=int, help="how many mutants per exercise (default: all)")
@click.option("--seed", type=int, default=0, show_default=True, help="which mutants are drawn")
@click.option("--workers", type=int, help="local worker processes (default: CPU cores)")
@click.option("--only", multiple=True, metavar="ID", help="grade only this mutant of the draw (repeatable): after "
                                                          "adding a test for a survivor, check that it is now killed")
def mutants(course, exercise, count, seed, workers, only):
    """How many machine-made wrong solutions the hidden tests catch.

    Make mutants of each EXERCISE's solution cells (operators, comparisons, constants, activations, paddings,
    swapped or dropped calls, dropped statements), grade each as a submission through the parallel engine, and
    print the kill rate per graded function with every survivor as a diff. Mutants acknowledged in
    tests/equivalent_mutants/EXERCISE.txt are counted apart. Runs on the course package's own exercises. Exit
    status 1 when a mutant survived.
    """
    from course.grading import mutants as mutation

    results = [mutation.run(name, count=count, seed=seed, workers=workers, only=list(only) or None)
               for name in exercise]
    for result in results:
        print(mutation.format_run(result))
    return 1 if any(r.survived for r in results) else 0


@verb(cli)
@click.option("--threshold", type=click.FloatRange(0, 1),
              help="flag pairs whose score (share of the smaller submission's fingerprints found in the other, "
                   "0..1) is at least this (default: c.Similarity.threshold, else 0.5)")
def similarity(course, exercise, threshold):
    """Pairs of submissions whose own code is unusually alike, flagged for review.

    Compare the code of every submission of EXERCISE in submitted/ with every other, once the release notebook's
    code (stubs, setup, try-it and test cells) is removed: fingerprints of normalized tokens (winnowing, as MOSS),
    so renamed variables, reordered functions and changed comments do not hide a copy. Writes
    reports/EXERCISE/similarity.csv (every pair with common code) and similarity.html (the matching lines of the
    flagged pairs side by side), and prints the flagged pairs. A flag is for a human to review: no grade changes.
    Settings: c.Similarity.threshold, k, window, min_fingerprints, common_limit. Exit status 0 (flagged pairs
    included), 1 for an unknown exercise or no submissions.
    """
    from course.grading import similarity as compare

    try:
        result = compare.write(exercise, course_root=require_root(course), threshold=threshold)
    except ValueError as error:
        raise SystemExit(f"dl-course similarity: {error}") from None
    print(compare.format_table(result))
    print(f"Similarity report: {result.html_path} (all pairs: {result.csv_path})")
    return 0


@verb(cli)
@click.option("--clear", multiple=True, metavar="STUDENT", help="clear this student's flags after review "
                                                                "(repeatable; several names after one --clear too)")
@click.argument("more", nargs=-1, metavar="")
def flags(course, exercise, clear, more):
    """Submissions held back for review (flagged), with why; clear them after review.

    List the submissions of EXERCISE whose grade is held back for review: flagged by grading (tampering found,
    a folder handed in under another student's name, see the report) or by a grader in the Formgrader. A
    held-back score is written nowhere (grades.csv's score is empty, `dl-course export` leaves it out) until the
    flag is cleared, here with --clear or with the flag in the Formgrader's grading view. Grading a submission
    again flags it again if it still looks like tampering. Exit status 1 while any submission is held back.
    """
    from nbgrader.api import Gradebook
    from nbgrader.coursedir import CourseDirectory

    from course.grading.grades import clear_flags, flagged_students

    if more and not clear:
        raise click.UsageError(f"unexpected extra arguments: {' '.join(more)}")
    coursedir = CourseDirectory(config=load_config(require_root(course)))
    with Gradebook(coursedir.db_url, coursedir.course_id) as gradebook:
        if clear:
            try:
                for student in clear_flags(gradebook, exercise, [*clear, *more]):
                    print(f"  cleared: {student}")
            except ValueError as error:
                raise SystemExit(f"dl-course flags: {error}") from None
        held = flagged_students(gradebook, coursedir, exercise)
    for student, reason in sorted(held.items()):
        print(f"  flagged: {student}: {reason}")
    print(f"{len(held)} submission(s) of {exercise} held back for review")
    return 1 if held else 0


@verb(cli, exercise=False)
@click.argument("exercise", nargs=-1, required=True)
@lms_option
@click.option("--out", type=click.Path(), help="the file to write (default: reports/EXERCISE/LMS-grades.csv)")
def export(course, exercise, lms, out):
    """Grades in the file Canvas, Moodle or Blackboard imports.

    Write the grades of EXERCISE (several for Canvas and Blackboard) in the format the LMS's own importer reads:
    Canvas's gradebook CSV (Grades > Import), Moodle's offline grading worksheet (Upload grading worksheet),
    Blackboard's Grade Center file (Work Offline > Upload). Students are matched by the LMS's ids from the intake
    (`dl-course collect`) or the roster's lms_user_id. Rejected: 0 with the reason; missing: nothing
    (c.LmsExport.missing_as_zero writes 0); flagged: held back until cleared (`dl-course flags`). Canvas
    assignment ids and Blackboard column ids: c.LmsExport in nbgrader_config.py. Exit status 1 while a flagged
    student is held back.
    """
    from course.grading.lms import export_grades

    return _lms_outcome("export", lambda: export_grades(list(exercise), lms=lms, course_root=require_root(course),
                                                        out=out),
                        lambda outcome: 1 if any("flagged" in why for *_, why in outcome.held_back) else 0)


@verb(cli, name="return")
@lms_option
@click.option("--out", type=click.Path(), help="the zip (Blackboard: the folder) to write (default: "
                                               "reports/EXERCISE/LMS-feedback.zip)")
def return_feedback(course, exercise, lms, out):
    """Feedback packed for the LMS's bulk upload (Canvas, Moodle; Blackboard: folders).

    Pack every student's feedback HTML of EXERCISE (from `nbgrader generate_feedback`) the way the LMS's bulk
    upload reads it: Canvas's Re-Upload Submissions zip, Moodle's 'Upload multiple feedback files in a zip'.
    Blackboard has no bulk upload: one folder per student. Students left out (missing, rejected, flagged, no
    feedback or no LMS id) are listed with why. Exit status 0.
    """
    from course.grading.lms import return_feedback as pack

    return _lms_outcome("return", lambda: pack(exercise, lms=lms, course_root=require_root(course), out=out),
                        lambda outcome: 0)


def _lms_outcome(name, make, status):
    """What export and return share: run, stop with one line on a setting the LMS needs, print the outcome."""
    try:
        outcome = make()
    except ValueError as error:
        raise SystemExit(f"dl-course {name}: {error}") from None
    print("\n".join(outcome.lines()))
    return status(outcome)


@verb(cli, exercise=False)
@click.option("--extensions", metavar="FILE", help="the extensions CSV to read (default: "
                                                   "c.CourseSchedule.extensions_file, extensions.csv)")
def schedule(course, extensions):
    """Due dates and extensions into the gradebook, and shown (checks extensions.csv).

    Import the due dates of c.CourseSchedule.due_dates (nbgrader_config.py) into the gradebook as nbgrader's
    assignment due dates, and the extensions of the extensions file (CSV: student,exercise,extra; extra 2d, 36h,
    90m, 1d12h or a number of hours; 0 takes one back) as nbgrader's extensions; print both. Grading does this by
    itself: run it to check the file, or before the Formgrader or `nbgrader export` should show a due date. Exit
    status 0; a bad due date or CSV row stops it with the line to fix.
    """
    from course.grading.schedule import format_schedule

    try:
        lines = format_schedule(load_config(require_root(course)), extensions_file=extensions)
    except (ValueError, FileNotFoundError) as error:
        raise SystemExit(f"dl-course schedule: {error}") from None
    print("\n".join(lines))
    return 0


@verb(cli, exercise=False)
@click.option("--check", is_flag=True, help="change nothing, only list the stale links")
def links(course, check):
    """The README's and docs' Colab links to the repository and branch in nbgrader_config.py.

    Rewrite the Colab badges of README.md's exercise table and docs/*.md (and the setup cell's install line and the
    students' guide's link to the README) to c.ColabLinks.repository and c.ColabLinks.branch; the release
    notebooks get theirs from `nbgrader generate_assignment`. Then list every link of README.md, docs/ and
    release/ that does not follow the setting. Exit status 0 when every link follows it, 1 otherwise.
    """
    from traitlets import TraitError

    from course.grading.release import ColabLinks, rewrite_pages, stale

    root = require_root(course)
    try:
        colab = ColabLinks(config=load_config(root))
    except TraitError as error:
        raise SystemExit(f"dl-course links: {error}") from None
    if not check:
        for page in rewrite_pages(root, colab):
            print(f"  rewritten: {page.relative_to(root)}")
    problems = stale(root, colab)
    for problem in problems:
        print(f"  stale: {problem}")
    if any(problem.startswith("release/") for problem in problems):
        print('  release/ is generated: run `nbgrader generate_assignment "*" --force`')
    print(f"{len(problems)} link(s) not pointing at {colab.repository}@{colab.branch}")
    return 1 if problems else 0


@verb(cli, exercise=False)
@click.option("--out", type=click.Path(), help="the folder for the HTML (default: docs/_build/html)")
def docs(course, out):
    """Build the course website (guides, threat model, benchmarks, design, release notebooks).

    Build the website from docs/ with Sphinx (sphinx-book-theme, myst-nb) into docs/_build/html, the release
    notebooks as pages (never source/: no solution or hidden test is on the site). Offline: no theme or asset is
    fetched. Warnings are errors (a broken internal link fails the build). Exit status 0 when built.
    """
    from sphinx.cmd.build import build_main

    root = require_root(course)
    out = Path(out).resolve() if out else root / "docs" / "_build" / "html"
    code = build_main(["-W", "--keep-going", "-q", "-b", "html", "-d", str(out.parent / "doctrees"),
                       str(root / "docs"), str(out)])
    if code == 0:
        print(f"Website: {out / 'index.html'}")
    return code


@verb(cli, exercise=False)
def setup(course):
    """Once per environment: the Formgrader shows flags and reasons; the exchange, laid out safely.

    Enable the course's Jupyter server extension (course.grading.formgrader) in this environment, so that
    nbgrader's Formgrader shows each submission's flags and their reasons, rejections and the students' names (a
    wheel install enables it by itself; an editable install needs this once), and give the course's own exchange
    the layout students cannot subvert (course/grading/exchange.py). Safe to run again. Exit status 0, 1 when the
    exchange's layout is not safe (what to change is printed).
    """
    from course.grading.exchange import layout_problems, make_layout
    from course.grading.formgrader import enable_extension

    root = require_root(course)
    config = load_config(root)   # nbgrader_config.py creates the exchange folder when it is missing
    print(f"Formgrader: flags, reasons and names shown (Jupyter server extension enabled in {enable_extension()})")
    exchange = Path(config.Exchange.root) if "root" in config.Exchange else None
    if exchange is not None:
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


# ----------------------------------------------------------------------------- the data mirror

@cli.group(context_settings=HELP)
def data():
    """The offline dataset mirror ($COURSE_DATA_DIR): download makes one.

    The tests, and notebooks on a machine without internet, read the data sets from a mirror named by
    $COURSE_DATA_DIR, every file checked against its md5 (docs/testing.md).
    """


@verb(data, exercise=False)
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--only", multiple=True, metavar="NAME", help="make only this data set (repeatable): mnist, cifar10, "
                                                          "tinyshakespeare, surnames")
def download(course, folder, only):
    """Make the dataset mirror in FOLDER from the public sources.

    Download MNIST's official test set, the CIFAR-10 release, tiny Shakespeare and the surnames file, check each
    against its md5, and make the course's samples from them (course/mirror.py says how); MNIST, Shakespeare and
    the surnames are then byte for byte the course's own mirror, CIFAR-10's sample comes from the official release
    and its md5 is recorded in FOLDER/MANIFEST.json. Then: COURSE_DATA_DIR=FOLDER python -m pytest. Exit status 0
    when every data set was made and checked, 1 otherwise (each failure says which source and which md5).
    """
    from course.mirror import make_mirror

    made, failed = make_mirror(folder, names=list(only) or None)
    for name, why in failed.items():
        print(f"  {name}: {why}", file=sys.stderr)
    print(f"{len(made)} data set(s) in {Path(folder).resolve()}" + (f"; {len(failed)} not made" if failed else ""))
    return 1 if failed else 0


# ----------------------------------------------------------------------------- the class hub

@cli.group(context_settings=HELP)
def hub():
    """A class on a JupyterHub on this machine, as root: up, roster, down.

    `hub up` starts it, `hub roster` changes its students while it runs, `hub down` removes it.

    JupyterHub with the course's configuration (deploy/jupyterhub/), the course as a hub service whose Formgrader
    runs as the account grader-<course_id>, PAM log-in to Linux accounts, configurable-http-proxy from npm at its
    pinned version (docs/instructors.md, "JupyterHub").
    """


def _hub_step(name, step):
    """Run a hub step; a HubError is one line on stderr and exit status 1."""
    from course import hub as class_hub

    try:
        return step(class_hub)
    except class_hub.HubError as error:
        print(f"dl-course hub {name}: {error}", file=sys.stderr)
        return None


def _print_passwords(passwords):
    if passwords:
        print("Passwords of the new accounts (shown once; each user changes theirs with `passwd` in a terminal):")
        for name, password in passwords.items():
            print(f"  {name}  {password}")


@verb(hub, exercise=False)
@click.option("--roster", type=click.Path(exists=True, dir_okay=False),
              help="CSV of students (column id, the account name; optional first_name, last_name, email); "
                   "with --lti the class may come from the LMS instead (`dl-course lti roster --hub-dir`)")
@click.option("--instructors", default="", help="comma-separated account names of instructors and TAs")
@click.option("--port", type=int, default=8000, show_default=True, help="the hub's port")
@click.option("--ip", default="127.0.0.1", show_default=True, help="the address the hub listens on (0.0.0.0 behind "
                                                                   "TLS only)")
@hub_dir_option
@click.option("--exchange", default=HUB_EXCHANGE, show_default=True, help="the shared exchange")
@click.option("--data-dir", help="the dataset mirror for every server (default: $COURSE_DATA_DIR if set)")
@click.option("--lti", is_flag=True, help="log in from the LMS by LTI 1.3 (c.Lti13Tool in nbgrader_config.py; "
                                          "docs/lti.md) instead of PAM")
@click.option("--public-url", default="", help="the address users reach the hub at behind a TLS proxy, e.g. "
                                             "https://hub.example.edu/ (an LMS launches https only)")
def up(course, roster, instructors, port, ip, state_dir, exchange, data_dir, lti, public_url):
    """Create the class (accounts, grader, exchange) and start the hub.

    Create a Linux account for every student of the roster and every instructor (new accounts get a generated
    password, printed once; existing ones are used as they are), the grader account and its copy of the course
    (with the roster in its gradebook), the shared exchange with a layout students cannot subvert; install
    configurable-http-proxy from npm and start JupyterHub in the background. Instructors and TAs may open the
    course's Formgrader; students may not. With --lti, users log in from the LMS course instead (LTI 1.3; the
    tool's key pair is made in the grader's course root when the course has none). Exit status 0 when the hub
    answers, 1 with the reason otherwise (everything made so far is removed again).
    """
    names = [name.strip() for name in instructors.split(",") if name.strip()]
    made = _hub_step("up", lambda h: h.up(require_root(course), roster, instructors=names, port=port,
                                          state_dir=state_dir, exchange=exchange, data_dir=data_dir, ip=ip, lti=lti,
                                          public_url=public_url))
    if made is None:
        return 1
    _print_passwords(made[1])
    return 0


@verb(hub, exercise=False)
@click.argument("roster", type=click.Path(exists=True, dir_okay=False))
@hub_dir_option
def roster(course, roster, state_dir):
    """Change the students of a running class to those of a roster file.

    Make the running class's students those of ROSTER (CSV: id, the account name; optional first_name,
    last_name, email): a new student gets an account (a generated password, printed once), a hub user in the
    students' group and a row in the gradebook; a student no longer on it can no longer log in (hub user
    deleted, which stops their server; the account the class made locked and expired) and keeps their home, submissions and
    grades (adding them again unlocks the account). Exit status 0, or 1 with the reason.
    """
    change = _hub_step("roster", lambda h: h.roster(roster, state_dir=state_dir))
    if change is None:
        return 1
    print(change.summary())
    _print_passwords(change.passwords)
    return 0


@verb(hub, exercise=False)
@hub_dir_option
def down(course, state_dir):
    """Stop the hub and remove what `hub up` made.

    Stop JupyterHub (which stops every user's server and the course service), then remove the accounts, the
    exchange and the hub's folder that `hub up` and `hub roster` created, and nothing else (accounts that existed
    before stay). Exit status 0, or 1 when no hub was started there.
    """
    return 0 if _hub_step("down", lambda h: h.down(state_dir) or True) else 1


# ----------------------------------------------------------------------------- LTI 1.3 Advantage

@cli.group(context_settings=HELP)
def lti():
    """The course as an LTI 1.3 tool of an LMS course: keys, roster, scores.

    `lti keys` makes the tool's key pair, `lti roster` reads the class from the LMS (NRPS), `lti scores` posts an
    exercise's scores to the LMS's gradebook (AGS). The LMS's values are c.Lti13Tool settings in
    nbgrader_config.py; docs/lti.md says where Canvas, Moodle and Blackboard show each of them.
    """


def _lti_step(name, step):
    """Run an LTI step; a ValueError (a setting missing, the LMS refusing) is one line and exit status 1."""
    from course.grading import lti as tool

    try:
        return step(tool)
    except ValueError as error:
        print(f"dl-course lti {name}: {error}", file=sys.stderr)
        return None


@verb(lti, exercise=False)
@click.option("--replace", is_flag=True, help="make a new key pair even when the course has one (the LMS must "
                                              "then be given the new public key)")
def keys(course, replace):
    """Make the tool's key pair and print its public key set.

    Write lti/private-key.pem (readable by its owner only; it signs the token requests of `lti roster` and
    `lti scores`) and lti/jwks.json in the course root, unless they exist, and print the public key set (JWKS)
    to paste into the LMS, or serve it: a hub started with `hub up --lti` serves it at /hub/lti13/jwks. Exit
    status 0.
    """
    made = _lti_step("keys", lambda tool: tool.make_keys(require_root(course), replace=replace))
    if made is None:
        return 1
    print(json.dumps(made[1], indent=2))
    print(f"private key: {made[0]} (keep it there; never in a folder students can read)")
    return 0


@verb(lti, name="roster", exercise=False)
@click.option("--hub-dir", type=click.Path(file_okay=False), help="also make a running hub's class these "
                                                                  "students (as `dl-course hub roster`), as root")
def lti_roster(course, hub_dir):
    """Read the class from the LMS (NRPS) into the gradebook.

    Read every page of the LMS course's members, match each to a student of the gradebook (id, e-mail, names,
    as `collect` matches) or give a new one an id (c.Lti13Tool.student_id_from), add the new students and
    write lti/users.csv (LTI user id -> course id, learner or instructor). Report who was added, who left the
    LMS course and who has no usable id. With --hub-dir, the running hub's class becomes the active learners.
    Exit status 0, or 1 when a member has no usable id.
    """
    sync = _lti_step("roster", lambda tool: tool.roster_from_lms(require_root(course), hub_dir=hub_dir))
    if sync is None:
        return 1
    print("\n".join(sync.lines()))
    return 1 if sync.unusable else 0


@verb(lti)
def scores(course, exercise):
    """Post EXERCISE's scores to the LMS's gradebook (AGS).

    Find the exercise's line item in the LMS course (by its resource id, the exercise's name) or create it, and
    post one score per student with the grade files' rules: graded and rejected (0, the reason as comment)
    posted, flagged held back until cleared, missing left alone (c.LmsExport.missing_as_zero posts 0). A score
    the LMS holds already is not posted again. Exit status 0, or 1 while a score is held back for review or
    refused.
    """
    outcome = _lti_step("scores", lambda tool: tool.scores_to_lms(exercise, require_root(course)))
    if outcome is None:
        return 1
    print("\n".join(outcome.lines()))
    return 1 if any("flagged" in why or "refused" in why for _, why in outcome.held_back) else 0


# ----------------------------------------------------------------------------- entry point

def main(argv=None):
    """Run `dl-course` with `argv` (default: the command line); returns the exit status. A usage error prints
    the verb's usage and is exit status 2; a verb that stops with a message raises SystemExit with it."""
    skip_unused_format_grammar()   # before anything imports nbformat (course.coursedir)
    put_tools_on_path()   # nbgrader runs `alembic` by name, also when the environment is not activated
    try:
        return cli.main(args=list(sys.argv[1:] if argv is None else argv), prog_name="dl-course",
                        standalone_mode=False) or 0
    except click.exceptions.NoArgsIsHelpError as error:
        click.echo(error.ctx.get_help() if error.ctx else str(error))
        return 2
    except click.UsageError as error:
        error.show()
        return 2
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.exceptions.Abort:
        return 1


if __name__ == "__main__":
    sys.exit(main())
