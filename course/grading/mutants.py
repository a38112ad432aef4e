"""How strong are the hidden tests? `dl-course mutants EXERCISE`: wrong solutions made by machine.

A *mutant* is the solution notebook with one small change inside a `### BEGIN SOLUTION` region: an
operator or comparison swapped, a constant, string or flag changed (activations, losses, paddings,
axes), a call swapped for its twin (max/min, sum/mean ...) or dropped, a statement dropped. Each
mutant is graded as a submission through the parallel engine; it is *killed* when it loses a point.
A mutant that survives is either a wrong solution the tests let through (print it, then add a hidden
test that pins the contract it breaks) or an *equivalent* mutant (it computes the same thing, e.g. a
changed `verbose=`), acknowledged in `tests/equivalent_mutants/<exercise>.txt`, one line each:

    <mutant id>  <why it is equivalent>

Equivalent mutants are counted apart; the kill rate is over the others. Mutants are drawn with a
seed, spread over the graded functions, so the same `--count` and `--seed` give the same mutants,
and a smaller count with the same seed draws the first of them (the CI sample is part of the
benchmark's).
"""

from __future__ import annotations

import ast
import copy
import difflib
import hashlib
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .notebooks import ROOT, SOLUTION_BEGIN, SOLUTION_END, between_markers, nbgrader_meta, notebook_path

CI_COUNT, BENCHMARK_COUNT, SEED = 4, 40, 0   # mutants per exercise in the test suite and in the benchmark

BINARY = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.FloorDiv: ast.Div,
          ast.Pow: ast.Mult, ast.MatMult: ast.Mult, ast.Mod: ast.FloorDiv}
COMPARE = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
           ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In}
STRING_GROUPS = [
    ["relu", "sigmoid", "tanh", "softmax", "linear", "elu"],
    ["same", "valid", "causal"],
    ["binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy", "mse"],
    ["adam", "sgd", "rmsprop"],
    ["max", "min", "mean", "sum"],
    ["pre", "post"],
    ["float32", "float64", "int32", "int64", "uint8"],
]
CALL_TWINS = {"max": "min", "min": "max", "argmax": "argmin", "argmin": "argmax", "sum": "mean", "mean": "sum",
              "maximum": "minimum", "minimum": "maximum", "exp": "log", "log": "exp", "zeros": "ones",
              "ones": "zeros", "MaxPooling2D": "AveragePooling2D", "AveragePooling2D": "MaxPooling2D",
              "MaxPooling1D": "AveragePooling1D", "GlobalMaxPooling1D": "GlobalAveragePooling1D",
              "GlobalMaxPooling2D": "GlobalAveragePooling2D", "LSTM": "GRU", "GRU": "LSTM", "floor": "ceil",
              "ceil": "floor", "concatenate": "stack", "vstack": "hstack", "hstack": "vstack", "cumsum": "cumprod",
              "sort": "argsort", "argsort": "sort", "tanh": "sigmoid", "sigmoid": "tanh", "relu": "sigmoid"}
DROPPABLE_CALLS = {"asarray", "array", "float", "int", "abs", "sqrt", "exp", "log", "round", "squeeze", "ravel",
                   "flatten", "copy", "sorted", "list", "clip", "reshape", "transpose", "astype"}


@dataclass
class Mutant:
    exercise: str
    cell: str           # grade id of the solution cell
    operator: str       # what kind of change
    line: int           # line in the cell (1-based)
    before: str         # the cell's source
    after: str          # the mutated source

    @property
    def id(self):
        """Stable while the changed lines and the change stay the same (edits elsewhere do not matter)."""
        before = self.before.splitlines()
        changed = [line[0] + line[1:].strip() for line in difflib.unified_diff(
            before, self.after.splitlines(), lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]
        first = next(i for i, (a, b) in enumerate(zip(before, self.after.splitlines() + [None] * len(before))) if a != b)
        twin = sum(1 for line in before[:first] if line.strip() == before[first].strip())   # the same line again
        return hashlib.sha1("\0".join([self.cell, self.operator, str(twin), *changed]).encode()).hexdigest()[:10]

    def diff(self):
        return "".join(difflib.unified_diff(self.before.splitlines(True), self.after.splitlines(True),
                                            f"{self.cell} (solution)", f"{self.cell} (mutant {self.id})", n=1))


def solution_lines(source):
    """Line numbers (1-based) of a cell that stand between solution markers."""
    return {number for number, _ in between_markers(source, SOLUTION_BEGIN, SOLUTION_END)}


def _replace(source, node, text):
    """The source with node's span replaced by text."""
    lines = source.splitlines(True)
    start = sum(len(l) for l in lines[:node.lineno - 1]) + _byte_to_char(lines[node.lineno - 1], node.col_offset)
    end = sum(len(l) for l in lines[:node.end_lineno - 1]) + _byte_to_char(lines[node.end_lineno - 1], node.end_col_offset)
    return source[:start] + text + source[end:]


def _byte_to_char(line, offset):
    return len(line.encode()[:offset].decode(errors="ignore"))


def _variants(node):
    """(operator name, replacement text) of each mutation of one node."""
    if isinstance(node, ast.BinOp) and type(node.op) in BINARY:
        yield "binary operator", ast.unparse(ast.BinOp(node.left, BINARY[type(node.op)](), node.right))
    elif isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in COMPARE:
        yield "comparison", ast.unparse(ast.Compare(node.left, [COMPARE[type(node.ops[0])]()], node.comparators))
    elif isinstance(node, ast.BoolOp):
        yield "boolean operator", ast.unparse(ast.BoolOp(ast.Or() if isinstance(node.op, ast.And) else ast.And(),
                                                         node.values))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Not)):
        yield "unary operator dropped", ast.unparse(node.operand)
    elif isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool):
            yield "flag", repr(not value)
        elif isinstance(value, int):
            yield "constant", repr(value + 1)
            if value != 0:
                yield "constant", repr(value - 1)
        elif isinstance(value, float):
            yield "constant", repr(value * 2 if value else 1.0)
        elif isinstance(value, str):
            for group in STRING_GROUPS:
                if value in group:
                    yield "string", repr(group[(group.index(value) + 1) % len(group)])
    elif isinstance(node, ast.Call):
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
        if name in CALL_TWINS:
            func = copy.deepcopy(node.func)
            if isinstance(func, ast.Attribute):
                func.attr = CALL_TWINS[name]
            else:
                func.id = CALL_TWINS[name]
            yield "swapped call", ast.unparse(ast.Call(func, node.args, node.keywords))
        if name in DROPPABLE_CALLS:
            target = node.func.value if isinstance(node.func, ast.Attribute) and name in (
                "squeeze", "ravel", "flatten", "copy", "reshape", "transpose", "astype") else (
                node.args[0] if node.args else None)
            if target is not None and not (isinstance(node.func, ast.Attribute) and isinstance(target, ast.Name)
                                           and target.id in ("np", "numpy", "math", "keras", "layers", "tf")):
                yield "call dropped", ast.unparse(target)
    elif isinstance(node, ast.Attribute) and node.attr == "T":
        yield "transpose dropped", ast.unparse(node.value)


def cell_mutants(exercise, grade_id, source):
    """Every mutant of one solution cell (changes inside its solution region only)."""
    allowed = solution_lines(source)
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found, seen = [], set()
    for node in ast.walk(tree):
        if not hasattr(node, "lineno") or node.lineno not in allowed or node.end_lineno not in allowed:
            continue
        variants = list(_variants(node))
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.Expr, ast.AnnAssign)) and not (
                isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):
            variants.append(("statement dropped", "pass"))
        for operator, text in variants:
            after = _replace(source, node, text)
            if after == source or after in seen:
                continue
            try:
                ast.parse(after)
            except SyntaxError:
                continue
            seen.add(after)
            found.append(Mutant(exercise, grade_id, operator, node.lineno, source, after))
    return found


def all_mutants(exercise, root=ROOT):
    """Every mutant of the exercise's solution cells, in a stable order."""
    nb = nbformat.read(notebook_path(exercise, root=root), as_version=4)
    mutants = []
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if meta.get("solution") and SOLUTION_BEGIN in cell.source:
            mutants += cell_mutants(exercise, meta["grade_id"], cell.source)
    return mutants


def draw(mutants, count, seed):
    """`count` mutants spread over the solution cells, drawn with `seed` (all when count is None)."""
    if count is None or count >= len(mutants):
        return list(mutants)
    rng = random.Random(seed)
    by_cell = {}
    for mutant in mutants:
        by_cell.setdefault(mutant.cell, []).append(mutant)
    for group in by_cell.values():
        rng.shuffle(group)
    chosen, cells = [], sorted(by_cell)
    while len(chosen) < count:
        for cell in cells:
            if by_cell[cell] and len(chosen) < count:
                chosen.append(by_cell[cell].pop())
    return chosen


def equivalent(exercise, root=ROOT):
    """{mutant id: reason} acknowledged as equivalent for an exercise."""
    path = Path(root, "tests", "equivalent_mutants", f"{exercise}.txt")
    if not path.is_file():
        return {}
    found = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            mutant_id, _, reason = line.strip().partition(" ")
            if not reason.strip():
                raise ValueError(f"{path}: {mutant_id} needs a reason (one line: id, then why it is equivalent)")
            found[mutant_id] = reason.strip()
    return found


def mutant_notebook(mutant, root=ROOT):
    nb = nbformat.read(notebook_path(mutant.exercise, root=root), as_version=4)
    for cell in nb.cells:
        if nbgrader_meta(cell).get("grade_id") == mutant.cell:
            cell.source = mutant.after
    return nb


@dataclass
class MutationRun:
    exercise: str
    killed: list
    survived: list
    acknowledged: list
    caught_visibly: list = field(default_factory=list)   # killed by a check the student can run in the notebook

    @property
    def kill_rate(self):
        counted = len(self.killed) + len(self.survived)
        return len(self.killed) / counted if counted else 1.0

    def per_cell(self):
        """{cell: (killed, counted, killed by a visible check)} over the mutants not acknowledged as equivalent."""
        table = {}
        visibly = {m.id for m in self.caught_visibly}
        for mutant, killed in [(m, True) for m in self.killed] + [(m, False) for m in self.survived]:
            done, total, seen = table.get(mutant.cell, (0, 0, 0))
            table[mutant.cell] = (done + killed, total + 1, seen + (mutant.id in visibly))
        return dict(sorted(table.items()))


def select(exercise, count=None, seed=0, root=ROOT, only=None):
    """(to grade, acknowledged): the drawn mutants split into those to grade and those acknowledged as
    equivalent. Acknowledged mutants are drawn (so the draw does not depend on the acknowledgements) but
    not graded: they would run the whole notebook to learn what their line already says. `only`: just
    these mutant ids of the draw (to check that the tests added for survivors now kill them)."""
    mutants = draw(all_mutants(exercise, root=root), count, seed)
    if only:
        only = set(only)
        unknown = sorted(only - {m.id for m in mutants})
        if unknown:
            raise ValueError(f"{exercise}: no mutant {', '.join(unknown)} in the draw of {count or 'all'} "
                             f"(seed {seed}); the ids are the ones `dl-course mutants` prints")
        mutants = [m for m in mutants if m.id in only]
    acknowledged = equivalent(exercise, root=root)
    return [m for m in mutants if m.id not in acknowledged], [m for m in mutants if m.id in acknowledged]


def student_id(mutant):
    """The student id a mutant is graded under."""
    return f"mutant_{mutant.id}"


def submissions(mutants, root=ROOT):
    """{student id: notebook} of the mutants, to grade with `stop_at_first_failure` on those ids."""
    return {student_id(m): mutant_notebook(m, root=root) for m in mutants}


def tally(exercise, graded, mutants, acknowledged):
    """The MutationRun of mutants graded in a GradingRun: a mutant is killed when it lost points."""
    killed, survived, visibly = [], [], []
    for mutant in mutants:
        score, maximum = graded.total(student_id(mutant))
        (killed if score < maximum else survived).append(mutant)
        if score < maximum and graded.caught_by(student_id(mutant)) == "visible":
            visibly.append(mutant)
    return MutationRun(exercise, killed, survived, acknowledged, visibly)


def run(exercise, count=None, seed=0, workers=None, root=ROOT, course_dir=None, only=None):
    """Grade the drawn mutants (see `select`) through the engine, each until its first failed test cell;
    returns a MutationRun."""
    from .trial import grade_submissions

    graded_mutants, acknowledged = select(exercise, count, seed, root=root, only=only)
    if not graded_mutants:
        return MutationRun(exercise, [], [], acknowledged)
    students = submissions(graded_mutants, root=root)
    graded = grade_submissions(exercise, students, course_dir=course_dir, root=root, workers=workers,
                               stop_at_first_failure=list(students))
    result = tally(exercise, graded, graded_mutants, acknowledged)
    shutil.rmtree(graded.course_dir, ignore_errors=True)
    return result


def format_run(result):
    lines = [f"{result.exercise}: {len(result.killed)} of {len(result.killed) + len(result.survived)} mutants killed "
             f"({result.kill_rate:.0%}): {len(result.caught_visibly)} by a check the student can run in the notebook, "
             f"{len(result.killed) - len(result.caught_visibly)} by hidden checks alone; "
             f"{len(result.acknowledged)} acknowledged as equivalent"]
    for cell, (killed, total, visibly) in result.per_cell().items():
        lines.append(f"  {cell:28s} {killed}/{total} killed, {visibly} by a visible check")
    for mutant in result.survived:
        lines.append(f"\nSURVIVED {mutant.id} ({mutant.operator}):\n{mutant.diff()}")
    return "\n".join(lines)

