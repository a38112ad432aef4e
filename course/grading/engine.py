"""Stage *gradebook* at class scale: `dl-course grade`, nbgrader autograde in parallel workers.

`nbgrader autograde` grades one submission after another, and each `nbgrader` process pays several
seconds of start-up (nbgrader #174). `grade()` runs the *same* nbgrader `Autograde` converter, with
the course's configuration (sandbox, repair, verdicts ...), in long-lived workers:

- the main process decides what to grade (new or changed submissions, by a digest of the submitted
  folder that the graded notebook records; everything with `force`), and packs one **job** per
  submission: the student's submitted files, the course's nbgrader_config.py, the release notebook
  and source files of the exercise, and a gradebook that holds the assignment only (no student);
- a worker (a local process, or a Dask worker on a cluster) grades the job in a temporary course
  of its own and sends back the graded folder and the scores, comments, flags and penalties its
  private gradebook got. It never sees the real gradebook or another student's files;
- the main process alone writes the real gradebook (SQLite or PostgreSQL), exactly the fields
  nbgrader's autograde writes, and the graded folder into `autograde/`.

Local workers come from a `concurrent.futures.ProcessPoolExecutor`; with `scheduler` (an address,
`tcp://host:8786`) or `c.GradingEngine.cluster` in nbgrader_config.py (a dask-jobqueue or
dask-kubernetes cluster class) the jobs go to a `dask.distributed.Client`, whose futures have the
same interface.
"""

from __future__ import annotations

import concurrent.futures
import glob
import importlib
import io
import json
import logging
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
import traceback
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from course.coursedir import (CONFIG_FILE, OVERRIDES_FILE, absolute_data_dir, load_config, put_tools_on_path,
                              quiet_known_warnings, skip_unused_format_grammar)

# A worker process starts by importing this module (to find its initializer): before nbformat, the grammar
# no notebook needs is skipped (course.coursedir), which halves the time until a worker can grade.
skip_unused_format_grammar()

import nbformat  # noqa: E402
from traitlets import Dict, Integer, Unicode  # noqa: E402
from traitlets.config import Configurable  # noqa: E402

from nbgrader.api import Gradebook  # noqa: E402
from nbgrader.coursedir import CourseDirectory  # noqa: E402

from . import records, schedule  # noqa: E402
from .records import GradingRecord, submission_digest  # noqa: E402


class GradingEngine(Configurable):
    """Settings of `dl-course grade` (`c.GradingEngine.*` in nbgrader_config.py)."""

    workers = Integer(0, help="Local worker processes (0: one per CPU core).").tag(config=True)
    scheduler = Unicode("", help="Address of a Dask scheduler (tcp://host:8786) to grade on.").tag(config=True)
    cluster = Unicode("", help="A Dask cluster class to start, e.g. 'dask_jobqueue.SLURMCluster' or "
                               "'dask_kubernetes.operator.KubeCluster'.").tag(config=True)
    cluster_options = Dict(help="Keyword arguments for the cluster class (cores, memory, queue ...).").tag(config=True)
    cluster_workers = Integer(4, help="How many workers to ask the cluster for.").tag(config=True)


# ----------------------------------------------------------------------------- the course

def course_directory(config):
    return CourseDirectory(config=config)


def submitted_students(coursedir, exercise, students=None):
    """Students with a submitted folder for the exercise (only `students` when given), sorted."""
    pattern = coursedir.format_path(coursedir.submitted_directory, "*", exercise)
    found = sorted(Path(p).parent.name for p in glob.glob(pattern) if os.path.isdir(p))
    if students:
        unknown = sorted(set(students) - set(found))
        if unknown:
            raise ValueError(f"no submission of {exercise} for {', '.join(unknown)} ({pattern})")
        found = [s for s in found if s in students]
    return found


def is_up_to_date(coursedir, exercise, student):
    """Was this submission graded as it is now (same digest in every graded notebook)?"""
    submitted = Path(coursedir.format_path(coursedir.submitted_directory, student, exercise))
    graded = Path(coursedir.format_path(coursedir.autograded_directory, student, exercise))
    notebooks = list(graded.glob("*.ipynb"))
    if not notebooks:
        return False
    digest = submission_digest(submitted)
    for path in notebooks:
        try:
            if GradingRecord.load(nbformat.read(path, as_version=4)).submission_sha256 != digest:
                return False
        except Exception:   # noqa: BLE001 - unreadable: grade again
            return False
    return True


# ----------------------------------------------------------------------------- jobs

@dataclass
class Job:
    """Everything a worker needs to grade one submission (no other student, no real gradebook)."""
    exercise: str
    student: str
    course: bytes        # zip: nbgrader_config.py (and .json), release/<exercise>/, source/<exercise>/ files but notebooks
    gradebook: bytes     # SQLite file with the assignment's definition only
    submission: dict     # relative path -> bytes
    extension: object = None   # the student's extension (timedelta) in the real gradebook (course.grading.schedule)


@dataclass
class Result:
    """What a worker sends back."""
    student: str
    ok: bool
    log: str = ""
    error: str = ""
    files: dict = field(default_factory=dict)       # relative path in autograde/<student>/<exercise>/ -> bytes
    timestamp: object = None
    notebooks: dict = field(default_factory=dict)   # notebook -> {"grades", "comments", "flagged", "late_penalty"}
    wall_s: float = 0.0


def alembic_head():
    """The alembic revision of nbgrader's gradebook schema, read from nbgrader's migration scripts."""
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import ALEMBIC_DIR

    return ScriptDirectory(ALEMBIC_DIR).get_current_head()


def create_empty_gradebook(path):
    """An empty SQLite gradebook as nbgrader creates one: its tables, stamped with its schema revision. nbgrader
    starts an `alembic heads` process for the stamp (3 s of every `dl-course grade` run); the revision is read
    here in this process instead."""
    from nbgrader.api import Base
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{path}")
    try:
        Base.metadata.create_all(bind=engine)
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
            connection.execute(text("INSERT INTO alembic_version (version_num) VALUES (:head)"),
                               {"head": alembic_head()})
    finally:
        engine.dispose()


def assignment_snapshot(coursedir, exercise):
    """The bytes of an SQLite gradebook that holds the course's assignment definition and nothing else."""
    with tempfile.TemporaryDirectory(prefix="dl-gradebook-") as tmp:
        create_empty_gradebook(Path(tmp) / "gradebook.db")
        url = f"sqlite:///{Path(tmp) / 'gradebook.db'}"
        with Gradebook(coursedir.db_url, coursedir.course_id) as source, Gradebook(url, coursedir.course_id) as copy:
            assignment = source.find_assignment(exercise)
            copy.update_or_create_assignment(exercise, duedate=assignment.duedate)
            for notebook in assignment.notebooks:
                copy.update_or_create_notebook(notebook.name, exercise, kernelspec=notebook.kernelspec)
                for cell in notebook.grade_cells:
                    copy.update_or_create_grade_cell(cell.name, notebook.name, exercise, max_score=cell.max_score,
                                                     cell_type=cell.cell_type)
                for cell in notebook.solution_cells:
                    copy.update_or_create_solution_cell(cell.name, notebook.name, exercise)
                for cell in notebook.task_cells:
                    copy.update_or_create_task_cell(cell.name, notebook.name, exercise, max_score=cell.max_score,
                                                    cell_type=cell.cell_type)
                for cell in notebook.source_cells:
                    copy.update_or_create_source_cell(cell.name, notebook.name, exercise, cell_type=cell.cell_type,
                                                      locked=cell.locked, source=cell.source, checksum=cell.checksum)
        return (Path(tmp) / "gradebook.db").read_bytes()


def course_bundle(coursedir, exercise):
    """Zip of what grading reads from the course root: the configuration, the exercise's release
    notebooks and its source files other than notebooks (nbgrader copies those into autograde/)."""
    root = Path(coursedir.root)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name in (CONFIG_FILE, OVERRIDES_FILE):
            if (root / name).is_file():
                bundle.write(root / name, name)
        for kind, keep in ((coursedir.release_directory, lambda p: True),
                           (coursedir.source_directory, lambda p: p.suffix != ".ipynb")):
            folder = Path(coursedir.format_path(kind, ".", exercise))
            for path in sorted(p for p in folder.rglob("*") if p.is_file() and keep(p)):
                if ".ipynb_checkpoints" not in path.parts and "__pycache__" not in path.parts:
                    bundle.write(path, str(Path(kind, exercise, path.relative_to(folder))))
    return buffer.getvalue()


def make_job(coursedir, exercise, student, course, gradebook, extension=None):
    folder = Path(coursedir.format_path(coursedir.submitted_directory, student, exercise))
    files = {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
             if p.is_file() and not p.is_symlink()}   # a link is never followed (the exchange collects none)
    return Job(exercise, student, course, gradebook, files, extension)


# ----------------------------------------------------------------------------- the worker

class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.lines = []
        self.setFormatter(logging.Formatter("[%(name)s | %(levelname)s] %(message)s"))

    def emit(self, record):
        self.lines.append(self.format(record))


def grade_job(job):
    """Grade one Job in a temporary course (in a worker process); returns a Result."""
    from nbgrader.converters import Autograde

    quiet_known_warnings()   # a worker is a process of its own (local or Dask), whatever nbgrader_config.py says
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"dl-grade-{job.student}-") as tmp:
        root = Path(tmp)
        with zipfile.ZipFile(io.BytesIO(job.course)) as bundle:
            bundle.extractall(root)
        (root / "gradebook.db").write_bytes(job.gradebook)
        config = load_config(root)
        config.CourseDirectory.db_url = f"sqlite:///{root / 'gradebook.db'}"
        schedule.prepare_worker(config, job.exercise, job.student, job.extension)   # the extension came with the job
        coursedir = CourseDirectory(config=config)
        submitted = Path(coursedir.format_path(coursedir.submitted_directory, job.student, job.exercise))
        for relative, data in job.submission.items():
            (submitted / relative).parent.mkdir(parents=True, exist_ok=True)
            (submitted / relative).write_bytes(data)
        coursedir.assignment_id, coursedir.student_id = job.exercise, job.student
        capture = _Capture()
        app = Autograde(coursedir=coursedir, config=config)
        app.log.addHandler(capture)
        app.force, app.create_student = True, True
        result = Result(job.student, ok=True)
        try:
            app.start()
        except BaseException as error:   # noqa: BLE001 - the main process reports it; SystemExit included
            result.ok, result.error = False, "".join(traceback.format_exception(error))
        finally:
            app.log.removeHandler(capture)
        result.log = "\n".join(capture.lines)
        graded = Path(coursedir.format_path(coursedir.autograded_directory, job.student, job.exercise))
        if result.ok and graded.is_dir():
            result.files = {str(p.relative_to(graded)): p.read_bytes() for p in sorted(graded.rglob("*")) if p.is_file()}
            _read_scores(coursedir, job, result)
        elif result.ok:
            result.ok, result.error = False, "nbgrader wrote no graded notebook:\n" + result.log
    result.wall_s = time.monotonic() - start
    return result


def _read_scores(coursedir, job, result):
    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        submission = gb.find_submission(job.exercise, job.student)
        result.timestamp = submission.timestamp
        for notebook in submission.notebooks:
            result.notebooks[notebook.name] = {
                "grades": {g.name: g.auto_score for g in notebook.grades},
                "comments": {c.name: c.auto_comment for c in notebook.comments},
                "flagged": bool(notebook.flagged),
                "late_penalty": notebook.late_submission_penalty,
            }


def _ready(index):
    """A task that returns at once: submitted when the pool starts, so that its workers start (and import)
    while the main process still prepares the jobs."""
    return index


# Math libraries start one thread per core in every kernel; with one kernel per worker they would fight over
# the cores. A local pool gives each worker's kernels its share (unless the environment already says).
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _warm_up(threads=None):
    """Worker initializer: import what grading needs once, so no submission pays for it; `threads`: the math
    libraries' threads for this worker's kernels."""
    if threads:
        for name in THREAD_VARIABLES:
            os.environ.setdefault(name, str(threads))
    import nbgrader.converters  # noqa: F401
    import nbgrader.preprocessors  # noqa: F401

    from . import execute, feedback, repair, sandbox, tamper, verdict  # noqa: F401


# ----------------------------------------------------------------------------- the one writer

def apply_result(gb, coursedir, exercise, result):
    """Write a worker's Result into the real gradebook and autograde/, as nbgrader autograde does."""
    dest = Path(coursedir.format_path(coursedir.autograded_directory, result.student, exercise))
    gb.update_or_create_student(result.student)
    if result.timestamp is not None:
        gb.update_or_create_submission(exercise, result.student, timestamp=result.timestamp)
    else:
        gb.update_or_create_submission(exercise, result.student)
    if dest.exists():
        shutil.rmtree(dest)
    if not result.ok:
        return
    for relative, data in result.files.items():
        path = dest / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.chmod(path, 0o664 if coursedir.groupshared else 0o444)
    for notebook, values in result.notebooks.items():
        submitted = gb.find_submission_notebook(notebook, exercise, result.student)
        for name, auto_score in values["grades"].items():
            grade = gb.find_grade(name, notebook, exercise, result.student)
            grade.auto_score = auto_score
            grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None
        for name, auto_comment in values["comments"].items():
            gb.find_comment(name, notebook, exercise, result.student).auto_comment = auto_comment
        if values["flagged"]:
            submitted.flagged = True
        submitted.late_submission_penalty = values["late_penalty"]
    gb.db.commit()


# ----------------------------------------------------------------------------- the run

@dataclass
class Summary:
    exercise: str
    graded: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    failed: dict = field(default_factory=dict)      # student -> error
    rejected: dict = field(default_factory=dict)
    flagged: dict = field(default_factory=dict)
    timed_out: dict = field(default_factory=dict)
    wall_s: float = 0.0
    results: dict = field(default_factory=dict)
    fixed: dict = field(default_factory=dict)   # the run's fixed cost by part, seconds (the benchmark reports it)

    def line(self):
        return (f"{self.exercise}: graded {len(self.graded)}, rejected {len(self.rejected)}, flagged "
                f"{len(self.flagged)}, timed out {len(self.timed_out)}, failed {len(self.failed)}, unchanged "
                f"{len(self.skipped)} — {self.wall_s:.1f} s")

    @property
    def needs_attention(self):
        return bool(self.failed or self.rejected or self.flagged or self.timed_out)


def _executor(engine, workers):
    """(executor with .submit, as_completed function, closer) for the local pool or Dask."""
    if engine.scheduler or engine.cluster:
        from distributed import Client, as_completed

        if engine.scheduler:
            client = Client(engine.scheduler)
            cluster = None
        else:
            module, name = engine.cluster.rsplit(".", 1)
            cluster = getattr(importlib.import_module(module), name)(**engine.cluster_options)
            cluster.scale(engine.cluster_workers)
            client = Client(cluster)

        def close():
            client.close()
            if cluster is not None:
                cluster.close()

        return client, as_completed, close
    threads = max(1, (os.cpu_count() or 1) // workers)
    pool = concurrent.futures.ProcessPoolExecutor(max_workers=workers, initializer=_warm_up, initargs=(threads,),
                                                  mp_context=multiprocessing.get_context("spawn"))
    return pool, concurrent.futures.as_completed, lambda: pool.shutdown(cancel_futures=True)


def grade(exercise, course_root=".", students=None, workers=None, scheduler=None, force=False, progress=True,
          log=None):
    """Grade the new or changed submissions of an exercise; returns a Summary."""
    start = time.monotonic()
    log = log or (lambda message: print(message, file=sys.stderr))
    put_tools_on_path()   # nbgrader runs `alembic` by name
    quiet_known_warnings()   # nbgrader's Gradebook.add_submission (apply_result), harmless (course.coursedir)
    config = load_config(course_root)
    coursedir = course_directory(config)
    engine = GradingEngine(config=config)
    if scheduler:
        engine.scheduler = scheduler
    workers = workers or engine.workers or os.cpu_count() or 1
    absolute_data_dir(coursedir.root)   # workers and kernels run elsewhere: relative to the course root
    summary = Summary(exercise)
    todo = []
    for student in submitted_students(coursedir, exercise, students):
        if not force and is_up_to_date(coursedir, exercise, student):
            summary.skipped.append(student)
        else:
            todo.append(student)
    if todo:
        summary.fixed["setup_s"] = time.monotonic() - start
        mark = time.monotonic()
        pool_size = min(workers, len(todo))
        executor, as_completed, close = _executor(engine, pool_size)
        starting = [executor.submit(_ready, i) for i in range(pool_size)]   # workers start while jobs are made
        bar = _progress(len(todo), exercise, progress)
        try:
            extensions = schedule.import_schedule(config, exercise, todo)   # due date and extensions: real gradebook
            course, snapshot = course_bundle(coursedir, exercise), assignment_snapshot(coursedir, exercise)
            jobs = {s: make_job(coursedir, exercise, s, course, snapshot, extensions.get(s)) for s in todo}
            summary.fixed["jobs_s"] = time.monotonic() - mark
            for ready in starting:
                ready.result()
            summary.fixed["workers_ready_s"] = time.monotonic() - mark
            futures = {executor.submit(grade_job, job): s for s, job in jobs.items()}
            with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
                for future in as_completed(futures):
                    student = futures[future]
                    try:
                        result = future.result()
                    except Exception as error:   # noqa: BLE001 - a lost worker: report, go on
                        result = Result(student, ok=False, error=f"{type(error).__name__}: {error}")
                    apply_result(gb, coursedir, exercise, result)
                    _tally(summary, coursedir, exercise, result)
                    bar.update(1)
        finally:
            bar.close()
            close()
    summary.wall_s = time.monotonic() - start
    for student, error in summary.failed.items():
        log(f"{student}: grading failed: {error.strip().splitlines()[-1] if error.strip() else 'unknown error'}")
    return summary


def _tally(summary, coursedir, exercise, result):
    summary.results[result.student] = result
    if not result.ok:
        summary.failed[result.student] = result.error
        return
    summary.graded.append(result.student)
    for name, data in sorted(result.files.items()):
        if not name.endswith(".ipynb") or "/" in name:   # the graded notebooks, beside each other
            continue
        # the worker's own output, read as JSON: nbformat's validation would take the workers' CPU here
        record = GradingRecord.load(nbformat.from_dict(json.loads(data)))
        if record.rejected:
            summary.rejected[result.student] = record.rejected
        if record.flags:
            summary.flagged[result.student] = records.describe(record.flags[0])
        if record.timeouts:
            summary.timed_out[result.student] = records.describe(record.timeouts[0])


class _NoBar:
    def update(self, n):
        pass

    def close(self):
        pass


def _progress(total, exercise, enabled):
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, desc=f"grading {exercise}", unit="submission", file=sys.stderr)
