"""What grading noticed about one submission, kept in the graded notebook's own metadata.

Every stage writes here (`nb.metadata["dl_course"]`), the next stage and the instructor's tools
read it from `autograde/<student>/<exercise>/<exercise>.ipynb`:

- "rejected": why the file could not be graded at all (corrupt JSON, not a notebook ...);
- "repairs": what the metadata repair restored, cell by cell;
- "flags": tampering found, for review (the grade stays what the tests gave);
- "events": timeouts, kernel deaths, fresh kernels, outputs cut;
- "verdicts": {grade_id: {"passed": bool, "reason": str}}, the executor's verdict per test cell;
- "timing": wall time of the execution.

The record of an incoming submission is dropped before repair, so a student cannot forge it.
"""

from __future__ import annotations

KEY = "dl_course"


def record(nb):
    """The grading record of a notebook (created empty when missing)."""
    return nb.metadata.setdefault(KEY, {})


def reset(nb):
    """Start a fresh record (drops whatever the submitted file carried under the key)."""
    nb.metadata[KEY] = {}
    return nb.metadata[KEY]


def note(nb, section, **fields):
    """Append one entry (a dict of fields) to the record's list `section`."""
    entries = record(nb).setdefault(section, [])
    entries.append(dict(fields))
    return entries[-1]


def entries(nb, kind):
    """The record's list `kind` ([] when absent)."""
    return list(nb.metadata.get(KEY, {}).get(kind, []))


def describe(entry):
    """One line for an entry: its cell (when known) and what happened."""
    cell = entry.get("cell")
    where = f"cell {cell}: " if cell not in (None, "") else ""
    return where + (entry.get("reason") or entry.get("what") or entry.get("detail") or "")
