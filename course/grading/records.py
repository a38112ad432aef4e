"""What grading noticed about one submission, kept in the graded notebook's own metadata.

Every stage writes here (`nb.metadata["dl_course"]`), the next stage and the instructor's tools
read it from `autograde/<student>/<exercise>/<exercise>.ipynb`:

- "rejected": why the file could not be graded at all (corrupt JSON, not a notebook ...);
- "repairs": what the metadata repair restored, cell by cell;
- "flags": tampering found, for review (the grade stays what the tests gave);
- "events": timeouts, kernel deaths, fresh kernels, outputs cut;
- "verdicts": {grade_id: {"passed": bool, "reason": str}}, the executor's verdict per test cell; a failed cell
  that the checker ran also says where it stopped ("failed_in": "visible", a check the student can run in the
  notebook, or "hidden");
- "timing": wall time of the execution.

- "submission_sha256": a digest of the submitted folder (`RecordSubmission`), so that `dl-course grade`
  grades again only what changed.

A repair, flag or event about a cell has its position "cell" (0-based, as nbformat counts) and "cell_name",
how JupyterLab and the feedback name it ("Part 3, test_forward (cell 19)", `notebooks.cell_label`).

The record of an incoming submission is dropped before repair, so a student cannot forge it. Stages write
it through `record`/`note`; the instructor's tools (engine, export, report) read it as a `GradingRecord`,
which also holds the status rules.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import NbGraderPreprocessor

from .notebooks import cell_label

KEY = "dl_course"
# Written by the exchange's collect beside a submission it collected (course.grading.exchange): what the grader
# saw in the exchange that needs a review (a folder made under another student's name). A student's own file of
# that name is never collected, so the note is the collector's alone; each entry becomes a flag.
COLLECT_NOTES = ".dl-course-collect.json"
TIMEOUT_EVENTS = ("timeout", "kernel_replaced")


def record(nb):
    """The grading record of a notebook (created empty when missing)."""
    return nb.metadata.setdefault(KEY, {})


def reset(nb):
    """Start a fresh record (drops whatever the submitted file carried under the key)."""
    nb.metadata[KEY] = {}
    return nb.metadata[KEY]


def note(nb, section, **fields):
    """Append one entry (a dict of fields) to the record's list `section`. An entry about a cell also gets the
    cell's name for humans ("cell_name", see `cell_label`), taken now: later tools may not have this notebook."""
    entry = dict(fields)
    name = cell_label(nb, entry.get("cell"))
    if name:
        entry.setdefault("cell_name", name)
    entries = record(nb).setdefault(section, [])
    entries.append(entry)
    return entries[-1]


def entries(nb, kind):
    """The record's list `kind` ([] when absent)."""
    return list(nb.metadata.get(KEY, {}).get(kind, []))


def cell_name(entry, nb=None):
    """The name of the entry's cell for humans: the one taken when it was noted, else from `nb` (or the 1-based
    position alone, for a record written before names were kept); "" when the entry names no cell."""
    return entry.get("cell_name") or cell_label(nb, entry.get("cell"))


def describe(entry):
    """One line for an entry: its cell (when known) and what happened."""
    name = cell_name(entry)
    where = f"{name}: " if name else ""
    return where + (entry.get("reason") or entry.get("what") or entry.get("detail") or "")


@dataclass(frozen=True)
class GradingRecord:
    """The grading record of one graded notebook, read once, with the status rules every tool uses.

    status: "rejected" (the file could not be graded: zero with the reason), "flagged" (graded, held for
    review) or "graded", as `nbgrader export` writes them (a student with no graded notebook is "missing"
    there); `timeouts`: the cells that ran past their budget or whose kernel was replaced (graded all the same).
    A submission of several notebooks has the record `GradingRecord.combined` of theirs."""

    rejected: str = ""
    repairs: tuple = ()
    flags: tuple = ()
    events: tuple = ()
    verdicts: dict = field(default_factory=dict)
    timing: dict = field(default_factory=dict)
    submission_sha256: str = ""

    @classmethod
    def load(cls, nb):
        data = nb.metadata.get(KEY, {}) if nb is not None else {}
        return cls(rejected=data.get("rejected") or "", repairs=tuple(data.get("repairs", [])),
                   flags=tuple(data.get("flags", [])), events=tuple(data.get("events", [])),
                   verdicts=dict(data.get("verdicts", {})), timing=dict(data.get("timing", {})),
                   submission_sha256=data.get("submission_sha256") or "")

    def save(self, nb):
        """Write this record into a notebook's metadata (replacing what was there)."""
        data = {"repairs": list(self.repairs), "flags": list(self.flags), "events": list(self.events),
                "verdicts": dict(self.verdicts), "timing": dict(self.timing)}
        if self.rejected:
            data["rejected"] = self.rejected
        if self.submission_sha256:
            data["submission_sha256"] = self.submission_sha256
        nb.metadata[KEY] = data
        return nb

    @classmethod
    def combined(cls, parts):
        """One record for the notebooks of one submission: the first rejection, every flag, repair and event."""
        parts = list(parts)
        return cls(rejected=next((p.rejected for p in parts if p.rejected), ""),
                   repairs=sum((p.repairs for p in parts), ()), flags=sum((p.flags for p in parts), ()),
                   events=sum((p.events for p in parts), ()),
                   verdicts={k: v for p in parts for k, v in p.verdicts.items()})

    @property
    def timeouts(self):
        return tuple(e for e in self.events if e.get("kind") in TIMEOUT_EVENTS)

    @property
    def status(self):
        if self.rejected:
            return "rejected"
        return "flagged" if self.flags else "graded"

    @property
    def reason(self):
        """One line saying why the status is what it is ("" when graded)."""
        if self.rejected:
            return self.rejected
        return "; ".join(describe(f) for f in self.flags[:3])


def submission_digest(folder):
    """sha256 over the names and bytes of the files of a submitted folder (timestamp.txt included; links, which
    the exchange never collects, are not followed)."""
    digest = hashlib.sha256()
    folder = Path(folder)
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


class RecordSubmission(NbGraderPreprocessor):
    """Sanitize step: keep the digest of the submitted folder in the grading record, so that
    `dl-course grade` grades again only what changed; the collector's notes (`COLLECT_NOTES`) become flags."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        coursedir = CourseDirectory(config=self.config)
        folder = coursedir.format_path(coursedir.submitted_directory, info["student"], info["assignment"])
        if os.path.isdir(folder):
            record(nb)["submission_sha256"] = submission_digest(folder)
            notes = Path(folder, COLLECT_NOTES)
            if notes.is_file() and not notes.is_symlink():
                try:
                    flags = [str(flag) for flag in json.loads(notes.read_text()).get("flags", [])]
                except (ValueError, AttributeError, UnicodeDecodeError):   # not the collector's: worth a look
                    flags = [f"{COLLECT_NOTES} in the submitted folder is not the collector's note"]
                for flag in flags:
                    note(nb, "flags", kind="exchange", reason=flag)
        return nb, resources
