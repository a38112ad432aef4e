"""The Formgrader shows what grading knows: flags and their reasons, rejections, students' names.

nbgrader's Formgrader (a Jupyter server extension) renders its pages from its own templates and never
reads the course's grading record, so a flagged submission shows as a green "graded" 15 / 15 and its
reason is nowhere. This Jupyter server extension (enabled for every Jupyter server where the course is
installed: a wheel install puts `jupyter-config/jupyter_server_config.d/dl_course.json` into the environment,
an editable install gets it from `dl-course setup`, `enable_extension`; it does nothing where nbgrader's
Formgrader is not running) adds, without patching nbgrader's files:

- `GET <base_url>dl-course/api/review/<exercise>[?student=ID]`: every student's review status (graded,
  flagged, rejected, missing, the rules of `course.grading.grades.grade_rows`, so the Formgrader and
  `grades.csv` agree), its reason, and the name to show (the roster's, else the id);
- a template in front of nbgrader's `base.tpl` (its Jinja environment gets a loader that looks in
  `formgrader_files/templates` first; the course's `base.tpl` extends nbgrader's), which adds one script
  to every Formgrader page (`formgrader_files/static/review.js`): *Manage Submissions* gets a red
  "flagged" or "rejected" label with the reason on hover and in the row, the student's pages the reason
  next to nbgrader's flag, and "None, None" becomes the student's id;
- the grading view of a notebook (nbgrader's `formgrade` nbconvert template) is rendered with the course's
  `dl_course_formgrade`, which extends it: a banner with every flag above the notebook and each flag's
  reason above the cell it names (`MarkFlaggedCells`, in memory only).
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from jinja2 import ChoiceLoader, FileSystemLoader, PrefixLoader
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from nbconvert.preprocessors import Preprocessor
from tornado import web

from . import records

FILES = Path(__file__).with_name("formgrader_files")
TEMPLATES = FILES / "templates"
STATIC = FILES / "static"
GRADING_VIEW_TEMPLATE = "dl_course_formgrade"
EXTENSION = "course.grading.formgrader"
SERVER_CONFIG = Path("etc", "jupyter", "jupyter_server_config.d", "dl_course.json")


def enable_extension(prefix=sys.prefix):
    """Enable this extension for every Jupyter server of the environment at `prefix` (the file a wheel install
    writes; setuptools' editable installs write no data files). Returns the file, written or already there."""
    path = Path(prefix, SERVER_CONFIG)
    wanted = {"ServerApp": {"jpserver_extensions": {EXTENSION: True}}}
    if not path.is_file() or json.loads(path.read_text() or "{}") != wanted:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(wanted, indent=2) + "\n")
    return path


def _jupyter_server_extension_points():
    return [{"module": EXTENSION}]


def review_statuses(coursedir, exercise, student=None):
    """{student: {"status", "reason", "name"}} of one exercise, from the gradebook and the grading records."""
    from nbgrader.api import Gradebook

    from .grades import grade_rows

    with Gradebook(coursedir.db_url, coursedir.course_id) as gradebook:
        rows = grade_rows(gradebook, coursedir, [exercise], [student] if student else None)
        return {row.student: {"status": row.status, "reason": row.reason,
                              "name": row.display_name} for row in rows}


class ReviewStatusHandler(JupyterHandler):
    """The review status of an exercise's submissions, as JSON, for the Formgrader's pages."""

    @web.authenticated
    def get(self, exercise):
        formgrader = self.settings.get("nbgrader_formgrader")
        if formgrader is None:
            raise web.HTTPError(404, "nbgrader's Formgrader is not running in this server")
        statuses = review_statuses(formgrader.coursedir, exercise, self.get_argument("student", None))
        self.set_header("Content-Type", "application/json")
        self.finish({"exercise": exercise, "students": statuses})


class MarkFlaggedCells(Preprocessor):
    """For the grading view only (the notebook file is not written): each flag's reason on the cell it
    names (`cell.metadata.dl_course_flags`), and every flag and a rejection on the first cell
    (`dl_course_banner`), from the notebook's grading record."""

    def preprocess(self, nb, resources):
        record = records.GradingRecord.load(nb)
        banner = [records.describe(entry) for entry in record.flags]
        if record.rejected:
            banner.insert(0, f"rejected: {record.rejected}")
        for entry in record.flags:
            index = entry.get("cell")
            if isinstance(index, int) and 0 <= index < len(nb.cells):
                nb.cells[index].metadata.setdefault("dl_course_flags", []).append(entry.get("reason") or "")
        if banner and nb.cells:
            nb.cells[0].metadata["dl_course_banner"] = banner
        return nb, resources


def course_template_loader(nbgrader_loader):
    """The course's templates first; `nbgrader/<name>` always reaches nbgrader's own (for `extends`)."""
    return ChoiceLoader([PrefixLoader({"nbgrader": nbgrader_loader}), FileSystemLoader(str(TEMPLATES)),
                         nbgrader_loader])


def grading_view_exporter(exporter):
    """nbgrader's HTMLExporter for the grading view, rendered with the course's template that extends it."""
    from nbconvert.exporters import HTMLExporter

    from nbgrader.server_extensions.formgrader.handlers import template_path

    config = exporter.config.copy()
    config.HTMLExporter.template_name = GRADING_VIEW_TEMPLATE
    config.HTMLExporter.extra_template_basedirs = [str(TEMPLATES), *exporter.extra_template_basedirs]
    # `{% extends 'formgrade/index.html.j2' %}` names nbgrader's template by its folder
    config.HTMLExporter.extra_template_paths = [*exporter.extra_template_paths, template_path]
    course_exporter = HTMLExporter(config=config)
    course_exporter.register_preprocessor(MarkFlaggedCells(), enabled=True)
    return course_exporter


def _load_jupyter_server_extension(serverapp):
    web_app = serverapp.web_app
    base_url = web_app.settings["base_url"]
    web_app.add_handlers(".*$", [
        (url_path_join(base_url, r"dl-course/api/review/([^/]+)"), ReviewStatusHandler),
        (url_path_join(base_url, r"dl-course/static/(.*)"), web.StaticFileHandler, {"path": str(STATIC)}),
    ])


class QuietConfigNotice(logging.Filter):
    """nbgrader's *Manage Assignments* page logs "Formgrader config is not serializable" on every visit under
    jupyter_server 2 (the server's own `jpserver_extensions` is a lazy value json cannot write) and then shows
    the configuration all the same: that one line is dropped."""

    def filter(self, record):
        return record.getMessage() != "Formgrader config is not serializable"


async def _start_jupyter_server_extension(serverapp):
    """After every extension is loaded (nbgrader's Formgrader loads after this one, in name order)."""
    settings = serverapp.web_app.settings
    if "nbgrader_jinja2_env" not in settings:
        serverapp.log.debug("dl-course: nbgrader's Formgrader is not running here; nothing to add")
        return
    serverapp.log.addFilter(QuietConfigNotice())
    env = settings["nbgrader_jinja2_env"]
    env.loader = course_template_loader(env.loader)
    settings["nbgrader_exporter"] = grading_view_exporter(settings["nbgrader_exporter"])
    serverapp.log.info("dl-course: the Formgrader shows flags, reasons and names (course.grading.formgrader)")
