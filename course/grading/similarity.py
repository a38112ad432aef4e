"""Similar submissions: `dl-course similarity EXERCISE`, pairs of students whose code is unusually alike.

A flag for a human to look at, never a grade change: this module only reads
`submitted/<student>/<exercise>/<exercise>.ipynb` and the release notebook, and writes
`reports/<exercise>/similarity.csv` and `similarity.html`. It never opens the gradebook.

Decisions (nbgrader #1837; the design's "fingerprints of normalized tokens, release code removed first"):

- **Own winnowing, no dependency.** MOSS's winnowing (Schleimer, Wilkerson, Aiken 2003) is about a hundred
  lines; `copydetect` would add a package (and its own tokenizer via pygments) for the same algorithm,
  without knowing notebooks, nbgrader cells or the release's boilerplate.
- **What counts as the student's code.** The code cells of the submission, minus every cell whose text is
  that of a release test or locked cell (the submitted nbgrader metadata is not trusted: it may be missing,
  garbled, or set by a student to hide a cell), minus lines between hidden-test markers (never shown), minus
  IPython magics and `!` shell lines. Then every *line* whose normalized tokens are those of a line of the
  release notebook (stubs, signatures, setup, try-it and test cells) is dropped, and finally every
  fingerprint the release notebook itself has: shared boilerplate does not count, whatever it was renamed to.
- **Tokens.** Python's `tokenize`; comments, docstrings (string statements), NEWLINE/NL/INDENT/DEDENT
  dropped; numbers -> `N`, strings (f-strings included) -> `S`; names -> `V` except keywords, builtins,
  attribute names (after a dot: `np.maximum`, `.T`), keyword-argument names of calls (`axis=`, `keepdims=`)
  and the names the release notebook imports (`np`, `keras`, `helpers` ...). So renamed variables,
  parameters and functions, changed comments and reformatting change nothing; the API a student chose
  (`np.logaddexp` or `1 / (1 + np.exp(-z))`) still does.
- **One spelling for equivalent code.** Before tokenizing, each cell's statements are put in a canonical form
  (`canonical_rows`, on the syntax tree, each statement's tokens kept at its first line so that the listing
  shows the student's own lines): NumPy's arithmetic functions become operators (`np.multiply(a, b)` is
  `a * b`, `np.matmul`/`np.dot` are `@`, `np.transpose(x)` and `x.transpose()` are `x.T`), `dict()`/`dict(a=1)`,
  `list()`, `tuple()` become literals, statements without effect go (an expression without a call, `pass`, an
  assignment to names nothing reads, `if False:`), and helper functions used once (a module-level function with
  plain parameters ending in its only `return`, not one the exercise asks for) are put back where they are
  called. Measured on ex01 (docs/benchmarks.md): copies disguised with NumPy spellings, helpers or dead code
  score 1.00 (0.07, 0.36 and 0.53 without this), all of them with renaming and reordering 0.90; an independent
  solution 0.03.
- **Fingerprints.** k-grams of `k` = 12 normalized tokens (about one or two statements: shorter ones are
  shared by any two correct solutions), hashed with BLAKE2b (the same on every run and machine), winnowed
  with a window of `w` = 6 k-grams (the rightmost minimum of each window). Every common run of at least
  w + k - 1 = 17 tokens is certain to share a fingerprint. A submission is a *set* of fingerprints, so
  reordered functions or cells lose only the few k-grams that straddle a boundary.
- **Score** of a pair = |common fingerprints| / min(|A|, |B|): the share of the smaller submission found in
  the other (a student who copied half of the exercise and wrote nothing else still scores high; Jaccard
  would halve that). The CSV also gives both sizes, so Jaccard can be computed from it.
- **Flagged** when the score is at least `threshold` (0.5) and the smaller side has at least
  `min_fingerprints` (8) fingerprints: a submission that is almost all release code (a stub) or a single
  one-line function cannot be "copied". Measured on ex01_numpy_dnn (tests/test_similarity.py): a copy
  with every parameter and local renamed, functions reordered and comments rewritten scores 0.90 against
  the reference solution (the k-grams across the moved function boundaries are lost); an independently
  written correct solution scores 0.03 against both (k = 8 .. 20 and w = 4 .. 10 keep 0.88-0.91 against
  at most 0.07).
- **Common code.** `common_limit` (MOSS's -m) ignores fingerprints that more than that many submissions
  share (0, the default: none ignored), in the counts and the score alike. Set it for large classes where
  a textbook idiom is everywhere.
- **Cost.** Tokenizing is linear in the code; the pairs are all n (n - 1) / 2 set intersections (in C),
  and the matching lines are worked out for the flagged pairs only. `python -m course.benchmark
  --similarity` measures 200 submissions of the largest exercise.
- **Matching lines.** For a flagged pair, the shared fingerprints are taken in the order of the first
  student's code and merged into passages where they also follow each other in the second's; each passage
  is shown side by side (cell and line numbers, `html.escape`d code) for the first `shown_pairs` pairs.

Settings: `c.Similarity.threshold`, `.k`, `.window`, `.min_fingerprints`, `.common_limit`, `.shown_pairs`
in the course's nbgrader_config.py (read with `course.coursedir.load_config`), `--threshold` on the command line.
"""

from __future__ import annotations

import ast
import builtins
import copy
import csv
import hashlib
import html
import io
import itertools
import keyword
import time
import tokenize
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from traitlets import Float, Integer
from traitlets.config import Configurable

from .notebooks import HIDDEN_BEGIN, HIDDEN_END, SOLUTION_BEGIN, SOLUTION_END, python_source
from .repair import NotGradable, normalized, read_submission

BUILTINS = frozenset(dir(builtins))
SKIPPED = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING,
           tokenize.ENDMARKER}


class Similarity(Configurable):
    """Settings of `dl-course similarity` (`c.Similarity.*` in nbgrader_config.py)."""

    threshold = Float(0.5, help="Flag a pair whose score (common fingerprints / those of the smaller "
                                "submission) is at least this (0..1).").tag(config=True)
    k = Integer(12, help="Tokens per k-gram (shorter common runs are ignored).").tag(config=True)
    window = Integer(6, help="Winnowing window in k-grams: common runs of window + k - 1 tokens are "
                             "always found.").tag(config=True)
    min_fingerprints = Integer(8, help="Never flag a pair whose smaller submission has fewer fingerprints "
                                       "(after the release's code is removed).").tag(config=True)
    common_limit = Integer(0, help="Ignore fingerprints shared by more than this many submissions "
                                   "(0: ignore none).").tag(config=True)
    shown_pairs = Integer(50, help="Flagged pairs shown side by side in similarity.html (all are in the "
                                   "CSV).").tag(config=True)


# ----------------------------------------------------------------------------- tokens

@dataclass
class Code:
    """The code of one notebook as a listing of lines and a stream of normalized tokens."""

    lines: list = field(default_factory=list)    # [(cell index, line number in the cell, text)]
    tokens: list = field(default_factory=list)   # normalized token strings
    where: list = field(default_factory=list)    # per token: its index in `lines`


def _plain_lines(source):
    """[(line number, line)] of a cell without magics, shell lines and hidden-test blocks (blanked, so the
    line numbers stay those of the cell)."""
    if source.lstrip().startswith("%%"):
        return []
    kept, hidden = [], False
    for number, line in enumerate(source.splitlines(), 1):
        stripped = line.strip()
        if HIDDEN_BEGIN in line or HIDDEN_END in line:
            hidden = HIDDEN_BEGIN in line
            kept.append((number, ""))
        elif hidden or stripped.startswith(("%", "!")) or stripped in (SOLUTION_BEGIN, SOLUTION_END):
            kept.append((number, ""))
        else:
            kept.append((number, line))
    return kept


def _raw_tokens(text):
    """tokenize's tokens of `text`; a cell that does not tokenize (IPython syntax, a syntax error) is
    transformed as IPython would, else tokenized line by line, skipping the lines that fail."""
    try:
        return list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    transformed = python_source(text)
    if transformed != text and transformed.count("\n") == text.count("\n"):
        try:
            return list(tokenize.generate_tokens(io.StringIO(transformed).readline))
        except (tokenize.TokenError, IndentationError, SyntaxError):
            pass
    found = []
    for row, line in enumerate(text.splitlines(), 1):
        try:
            tokens = list(tokenize.generate_tokens(io.StringIO(line.strip() + "\n").readline))
        except (tokenize.TokenError, IndentationError, SyntaxError):
            continue
        found += [t._replace(start=(row, t.start[1]), end=(row, t.end[1])) for t in tokens]
    return found


def normalize_tokens(text, keep=frozenset()):
    """[(row, normalized token)] of Python source `text`; `keep`: names kept as they are (imported modules)."""
    raw = [t for t in _raw_tokens(text) if t.type not in (tokenize.COMMENT, tokenize.NL, tokenize.ENCODING)
           and not (t.type == tokenize.ERRORTOKEN and not t.string.strip())]
    out, depth, in_signature, previous = [], 0, False, None
    for i, tok in enumerate(raw):
        if tok.type in SKIPPED:
            previous = tok
            continue
        nxt = raw[i + 1] if i + 1 < len(raw) else None
        if tok.type == tokenize.STRING:
            statement = previous is None or previous.type in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)
            if statement and nxt is not None and nxt.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
                previous = tok    # a docstring or a string standing alone: a comment
                continue
            value = "S"
        elif tok.type == tokenize.NUMBER:
            value = "N"
        elif tok.type == tokenize.NAME:
            if previous is not None and previous.string == "def":
                in_signature = True
            if keyword.iskeyword(tok.string) or tok.string in BUILTINS or tok.string in keep:
                value = tok.string
            elif previous is not None and previous.string == ".":
                value = tok.string   # an attribute: the API used
            elif depth > 0 and not in_signature and nxt is not None and nxt.string == "=":
                value = tok.string   # a keyword argument's name
            else:
                value = "V"
        else:
            value = tok.string
            if value in ("(", "[", "{"):
                depth += 1
            elif value in (")", "]", "}"):
                depth = max(0, depth - 1)
                if depth == 0:
                    in_signature = False
        out.append((tok.start[0], value))
        previous = tok
    return out


def imported_names(cells):
    """Names that the import statements of these code cells bind (`np`, `plt`, `keras`, `helpers` ...)."""
    names = set()
    for cell in cells:
        try:
            tree = ast.parse(python_source(cell.source))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names |= {(a.asname or a.name).split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                names |= {a.asname or a.name for a in node.names if a.name != "*"}
    return frozenset(names)


# ----------------------------------------------------------------------------- one spelling for equivalent code

NUMPY_NAMES = frozenset({"np", "numpy"})
NUMPY_OPERATORS = {"multiply": ast.Mult, "add": ast.Add, "subtract": ast.Sub, "divide": ast.Div,
                   "true_divide": ast.Div, "matmul": ast.MatMult, "dot": ast.MatMult, "power": ast.Pow,
                   "floor_divide": ast.FloorDiv, "mod": ast.Mod, "remainder": ast.Mod}
EMPTY_LITERALS = {"dict": lambda: ast.Dict(keys=[], values=[]), "list": lambda: ast.List(elts=[], ctx=ast.Load()),
                  "tuple": lambda: ast.Tuple(elts=[], ctx=ast.Load())}
COMPOUND = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.For, ast.AsyncFor, ast.While, ast.If, ast.With,
            ast.AsyncWith, ast.Try, ast.TryStar, ast.Match)
BODIES = ("body", "orelse", "finalbody")


def _parse(text):
    try:
        return ast.parse(text)
    except SyntaxError:
        transformed = python_source(text)
        if transformed == text or transformed.count("\n") != text.count("\n"):
            return None
        try:
            return ast.parse(transformed)
        except SyntaxError:
            return None


def _body_without_docstring(function):
    body = function.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    return body


def _helpers(trees, exercise_functions=frozenset()):
    """{name: FunctionDef} of the module-level functions that are used once, in a call, with plain positional
    parameters and one `return` as their last statement (and none elsewhere), other than the functions the
    exercise asks for (`exercise_functions`): a copy split into helpers compares as the function it came from once
    they are put back where they are called."""
    uses, calls, found = {}, {}, {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                uses[node.id] = uses.get(node.id, 0) + 1
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                calls[node.func.id] = calls.get(node.func.id, 0) + 1
        for node in tree.body:
            args = node.args if isinstance(node, ast.FunctionDef) else None
            if args is None or node.name in exercise_functions or node.decorator_list or args.vararg or args.kwarg or args.kwonlyargs or args.defaults \
                    or args.posonlyargs:
                continue
            body = _body_without_docstring(node)
            returns = [n for n in ast.walk(node) if isinstance(n, ast.Return)]
            if body and isinstance(body[-1], ast.Return) and body[-1].value is not None and returns == [body[-1]] \
                    and not any(isinstance(n, (ast.Yield, ast.YieldFrom, ast.Global, ast.Nonlocal)) for n in ast.walk(node)):
                found[node.name] = node
    return {name: node for name, node in found.items() if uses.get(name) == 1 and calls.get(name) == 1
            and not any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(node))}


class _Substitute(ast.NodeTransformer):
    def __init__(self, values):
        self.values = values

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Load) and node.id in self.values:
            return copy.deepcopy(self.values[node.id])
        return node


class _Canonical(ast.NodeTransformer):
    """Equivalent spellings made one: NumPy's arithmetic functions as operators (`np.multiply(a, b)` is `a * b`,
    `np.matmul`/`np.dot` are `@`, `np.transpose(x)` and `x.transpose()` are `x.T`), `dict()`/`list()`/`tuple()`
    and `dict(a=1)` as literals, and the helpers of `_helpers` put back where they are called."""

    def __init__(self, helpers):
        self.helpers = helpers
        self.pending = []   # statements of a helper to put before the statement that called it

    def visit_Call(self, node):
        self.generic_visit(node)
        func, args = node.func, node.args
        plain = not node.keywords and not any(isinstance(a, ast.Starred) for a in args)
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in NUMPY_NAMES and plain:
            if func.attr in NUMPY_OPERATORS and len(args) == 2:
                return ast.copy_location(ast.BinOp(args[0], NUMPY_OPERATORS[func.attr](), args[1]), node)
            if func.attr == "negative" and len(args) == 1:
                return ast.copy_location(ast.UnaryOp(ast.USub(), args[0]), node)
            if func.attr == "transpose" and len(args) == 1:
                return ast.copy_location(ast.Attribute(args[0], "T", ast.Load()), node)
        if isinstance(func, ast.Attribute) and func.attr == "transpose" and not args and not node.keywords:
            return ast.copy_location(ast.Attribute(func.value, "T", ast.Load()), node)
        if isinstance(func, ast.Name) and func.id in EMPTY_LITERALS and not args:
            if not node.keywords:
                return ast.copy_location(EMPTY_LITERALS[func.id](), node)
            if func.id == "dict" and all(k.arg for k in node.keywords):
                return ast.copy_location(ast.Dict(keys=[ast.Constant(k.arg) for k in node.keywords],
                                                  values=[k.value for k in node.keywords]), node)
        if isinstance(func, ast.Name) and func.id in self.helpers and plain:
            helper = self.helpers[func.id]
            params = [a.arg for a in helper.args.args]
            if len(params) == len(args):
                body = [copy.deepcopy(s) for s in _body_without_docstring(helper)]
                values = dict(zip(params, args))
                for statement in body[:-1]:
                    placed = ast.copy_location(_Substitute(values).visit(statement), node)
                    for inner in ast.walk(placed):
                        if hasattr(inner, "lineno"):
                            ast.copy_location(inner, node)
                    self.pending.append(self.visit(placed))
                return self.visit(ast.copy_location(_Substitute(values).visit(body[-1].value), node))
        return node


def _prune(statements, loaded, helpers):
    """Statements without effect dropped (an expression without a call, `pass`, an assignment to names nothing
    reads, `if False:`), the helpers' definitions dropped, recursively; never an empty body."""
    kept = []
    for statement in statements:
        if isinstance(statement, ast.FunctionDef) and statement.name in helpers:
            continue
        if isinstance(statement, ast.Pass):
            continue
        if isinstance(statement, ast.Expr) and not any(isinstance(n, (ast.Call, ast.Await, ast.Yield, ast.YieldFrom))
                                                       for n in ast.walk(statement.value)):
            continue
        if isinstance(statement, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            if all(isinstance(t, ast.Name) and t.id not in loaded for t in targets):
                continue
        if isinstance(statement, ast.If) and isinstance(statement.test, ast.Constant) and not statement.test.value:
            kept += _prune(statement.orelse, loaded, helpers)
            continue
        for name in BODIES:
            if isinstance(getattr(statement, name, None), list) and getattr(statement, name):
                setattr(statement, name, _prune(getattr(statement, name), loaded, helpers) or [ast.Pass()])
        for handler in getattr(statement, "handlers", []):
            handler.body = _prune(handler.body, loaded, helpers) or [ast.Pass()]
        kept.append(statement)
    return kept


def _canonical_statements(statements, canonical):
    """Each statement canonicalized, a helper's statements placed before the statement that called it."""
    out = []
    for statement in statements:
        if isinstance(statement, COMPOUND):
            for name in BODIES:
                if isinstance(getattr(statement, name, None), list):
                    setattr(statement, name, _canonical_statements(getattr(statement, name), canonical))
            for handler in getattr(statement, "handlers", []):
                handler.body = _canonical_statements(handler.body, canonical)
            header = [getattr(statement, field) for field in ("test", "iter", "items", "subject", "decorator_list",
                                                              "args", "bases") if hasattr(statement, field)]
            for part in header:
                for node in (part if isinstance(part, list) else [part]):
                    if isinstance(node, ast.AST):
                        canonical.visit(node)
            out += canonical.pending
            canonical.pending = []
            out.append(statement)
        else:
            statement = canonical.visit(statement)
            out += canonical.pending + [statement]
            canonical.pending = []
    return out


def _header(statement):
    """The source of a compound statement's first line (`def f(a, b):`, `for x in y:`) from the tree."""
    shallow = copy.copy(statement)
    for name in BODIES + ("handlers", "cases"):
        if hasattr(shallow, name):
            setattr(shallow, name, [] if name != "body" else [ast.Pass()])
    if isinstance(shallow, ast.Match):
        shallow.cases = [ast.match_case(pattern=ast.MatchAs(), body=[ast.Pass()])]
    text = ast.unparse(ast.fix_missing_locations(shallow))
    return [line for line in text.splitlines() if not line.startswith("@")][0]


def _statement_rows(statements, keep, rows):
    for statement in statements:
        row = getattr(statement, "lineno", None)
        if row is None:
            continue
        if isinstance(statement, COMPOUND):
            text = _header(statement)
            rows.setdefault(row, []).extend(value for _, value in normalize_tokens(text + "\n    pass\n", keep)[:-1])
            for name in BODIES:
                _statement_rows(getattr(statement, name, None) or [], keep, rows)
            for handler in getattr(statement, "handlers", []):
                rows.setdefault(handler.lineno, []).extend(["except"])
                _statement_rows(handler.body, keep, rows)
            for case in getattr(statement, "cases", []):
                _statement_rows(case.body, keep, rows)
        else:
            rows.setdefault(row, []).extend(value for _, value in normalize_tokens(ast.unparse(statement) + "\n", keep))


def canonical_rows(texts, keep=frozenset(), exercise_functions=frozenset()):
    """{row: [normalized tokens]} of each text (the code cells of one notebook, together: a helper in one cell is
    put back where another calls it): the tokens of each statement's canonical form (`_Canonical`, `_prune`)
    at the statement's first line, so that the listing keeps the student's own lines. A text that does not
    parse gets the tokens of its own lines (`normalize_tokens`)."""
    trees = [_parse(text) for text in texts]
    parsed = [tree for tree in trees if tree is not None]
    helpers = _helpers(parsed, exercise_functions)
    loaded = {node.id for tree in parsed for node in ast.walk(tree) if isinstance(node, ast.Name)
              and isinstance(node.ctx, ast.Load)} | {name for tree in parsed for node in ast.walk(tree)
                                                      if isinstance(node, (ast.Global, ast.Nonlocal)) for name in node.names}
    found = []
    for text, tree in zip(texts, trees):
        rows = {}
        if tree is not None:
            try:
                canonical = _Canonical(helpers)
                statements = _canonical_statements(_prune(tree.body, loaded, helpers), canonical)
                _statement_rows(statements, keep, rows)
            except (RecursionError, ValueError, TypeError, AttributeError, IndexError):   # code no form fits:
                rows, tree = {}, None                                                     # its own tokens
        if tree is None:
            for row, value in normalize_tokens(text, keep):
                rows.setdefault(row, []).append(value)
        found.append(rows)
    return found


def notebook_code(cells, keep=frozenset(), drop_lines=frozenset(), exercise_functions=frozenset()):
    """The Code of these code cells: lines whose normalized tokens are in `drop_lines` left out."""
    code = Code()
    kept_lines = [_plain_lines(cell.source) for _, cell in cells]
    all_rows = canonical_rows(["\n".join(line for _, line in kept) + "\n" for kept in kept_lines], keep,
                              exercise_functions)
    for (index, cell), kept, rows in zip(cells, kept_lines, all_rows):
        texts = {number: line for number, line in kept}
        for row in sorted(rows):
            if tuple(rows[row]) in drop_lines:
                continue
            code.lines.append((index, row, texts.get(row, "")))
            code.tokens += rows[row]
            code.where += [len(code.lines) - 1] * len(rows[row])
    return code


# ----------------------------------------------------------------------------- fingerprints

def kgram_hashes(tokens, k):
    """64-bit BLAKE2b hash of every k-gram of the token list (stable across runs and machines)."""
    joined = ["\x1f".join(tokens[i:i + k]) for i in range(len(tokens) - k + 1)]
    return [int.from_bytes(hashlib.blake2b(g.encode(), digest_size=8).digest(), "big") for g in joined]


def winnow(hashes, window):
    """{hash: [positions]} that winnowing selects: the rightmost minimum of every window of `window` hashes
    (all of them when there are fewer than a window)."""
    selected, queue = {}, deque()   # queue: positions whose hashes increase (a monotone queue)
    last = None
    if len(hashes) < window:
        for position, value in enumerate(hashes):
            selected.setdefault(value, []).append(position)
        return selected
    for position, value in enumerate(hashes):
        while queue and hashes[queue[-1]] >= value:
            queue.pop()
        queue.append(position)
        if queue[0] <= position - window:
            queue.popleft()
        if position >= window - 1 and queue[0] != last:
            last = queue[0]
            selected.setdefault(hashes[last], []).append(last)
    return selected


@dataclass
class Submission:
    student: str
    code: Code
    prints: dict          # {hash: [k-gram start positions]}
    spans: dict = field(default_factory=dict)   # {hash: (first, last) listing indices of its first k-gram}
    rank: dict = field(default_factory=dict)    # {hash: order of its first k-gram in the code}

    def index(self, k):
        """Fill `spans` and `rank` (once: every pair of this submission uses them)."""
        where, last = self.code.where, len(self.code.where) - 1
        firsts = sorted((positions[0], h) for h, positions in self.prints.items())
        self.rank = {h: i for i, (_, h) in enumerate(firsts)}
        self.spans = {h: (where[p], where[min(p + k - 1, last)]) for p, h in firsts}
        return self


@dataclass
class Release:
    keep: frozenset       # names kept as they are
    lines: frozenset      # normalized token tuples of its lines
    prints: frozenset     # its fingerprints (every k-gram)
    texts: frozenset      # normalized text of its code cells (test and locked cells among them)
    functions: frozenset = frozenset()   # the functions its code defines: the exercise's, never inlined


def read_release(nb, k):
    """What a submission shares with every other by construction: the release notebook's code."""
    cells = [c for c in nb.cells if c.cell_type == "code"]
    keep = imported_names(cells)
    lines, prints = set(), set()
    for cell in cells:
        (rows,) = canonical_rows(["\n".join(line for _, line in _plain_lines(cell.source)) + "\n"], keep)
        lines |= {tuple(values) for values in rows.values()}
        prints |= set(kgram_hashes([v for row in sorted(rows) for v in rows[row]], k))
    texts = frozenset(normalized(_without_hidden(c.source)) for c in cells)
    functions = frozenset(node.name for c in cells for tree in [_parse(c.source)] if tree is not None
                          for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)))
    return Release(keep, frozenset(lines), frozenset(prints), texts, functions)


def _without_hidden(source):
    return "\n".join(line for _, line in _plain_lines(source))


def fingerprint(student, nb, release, k, window):
    """The Submission of one student's notebook: its own code's fingerprints, the release's removed. A cell
    with the text of a release code cell (a test or locked cell, a try-it cell left as it was) is left out
    whatever its metadata says; of the other cells, the lines of the release are left out."""
    cells = [(i, c) for i, c in enumerate(nb.cells) if c.get("cell_type") == "code"
             and normalized(_without_hidden(c.source)) not in release.texts]
    code = notebook_code(cells, release.keep, release.lines, release.functions)
    prints = winnow(kgram_hashes(code.tokens, k), window)
    return Submission(student, code, {h: p for h, p in prints.items() if h not in release.prints}).index(k)


# ----------------------------------------------------------------------------- pairs

@dataclass
class Pair:
    a: Submission
    b: Submission
    shared: frozenset
    score: float
    flagged: bool
    passages: list = field(default_factory=list)   # [((first, last) in a, (first, last) in b)] listing indices


def score(shared, size_a, size_b):
    """|shared| / min(|A|, |B|) (0 when either has no fingerprint)."""
    smaller = min(size_a, size_b)
    return shared / smaller if smaller else 0.0


def passages(a, b, shared):
    """Line ranges that match, side by side: [((first, last) in a, (first, last) in b)], the shared
    fingerprints taken in the order of `a`'s code and merged while they also follow each other in `b`'s
    code (or overlap there). Listing indices (`Code.lines`), inclusive."""
    found = []
    spans_a, spans_b = a.spans, b.spans
    a0 = a1 = b0 = b1 = None
    for h in sorted(shared, key=a.rank.__getitem__):
        x0, x1 = spans_a[h]
        y0, y1 = spans_b[h]
        if a0 is not None and x0 <= a1 + 1 and b0 - 1 <= y0 <= b1 + 1:
            if x1 > a1:
                a1 = x1
            if y0 < b0:
                b0 = y0
            if y1 > b1:
                b1 = y1
            continue
        if a0 is not None:
            found.append(((a0, a1), (b0, b1)))
        a0, a1, b0, b1 = x0, x1, y0, y1
    if a0 is not None:
        found.append(((a0, a1), (b0, b1)))
    return found


def compare(submissions, settings):
    """Every pair of submissions with a common fingerprint, highest score first."""
    holders = {}
    for s in submissions:
        for h in s.prints:
            holders[h] = holders.get(h, 0) + 1
    common = {h for h, n in holders.items() if settings.common_limit and n > settings.common_limit}
    sets = [frozenset(s.prints) - common for s in submissions]
    pairs = []
    for (i, a), (j, b) in itertools.combinations(enumerate(submissions), 2):
        shared = sets[i] & sets[j]
        if not shared:
            continue
        value = score(len(shared), len(sets[i]), len(sets[j]))
        flagged = value >= settings.threshold and min(len(sets[i]), len(sets[j])) >= settings.min_fingerprints
        pairs.append(Pair(a, b, shared, value, flagged))
    pairs.sort(key=lambda p: (-p.score, p.a.student, p.b.student))
    for pair in pairs:
        if pair.flagged:
            pair.passages = passages(pair.a, pair.b, pair.shared)
    return pairs


# ----------------------------------------------------------------------------- the course

@dataclass
class Result:
    exercise: str
    settings: Similarity
    submissions: list
    pairs: list
    unreadable: dict      # {student: reason}
    seconds: float
    csv_path: Path | None = None
    html_path: Path | None = None

    @property
    def flagged(self):
        return [p for p in self.pairs if p.flagged]


def settings_for(course_root, **overrides):
    """The course's Similarity settings (nbgrader_config.py), with `overrides` (None values ignored)."""
    from course.coursedir import load_config

    settings = Similarity(config=load_config(course_root))
    for name, value in overrides.items():
        if value is not None:
            setattr(settings, name, value)
    if not 0 <= settings.threshold <= 1:
        raise ValueError(f"the similarity threshold must be between 0 and 1, got {settings.threshold}")
    if settings.k < 1 or settings.window < 1:
        raise ValueError(f"k and window must be at least 1, got k={settings.k}, window={settings.window}")
    return settings


def analyse(exercise, course_root=".", **overrides):
    """Fingerprint every submission of `exercise` and compare all pairs; returns a Result (writes nothing)."""
    from course.coursedir import load_config

    from .engine import course_directory, submitted_students

    start = time.perf_counter()
    settings = settings_for(course_root, **overrides)
    coursedir = course_directory(load_config(course_root))
    release_path = Path(coursedir.format_path(coursedir.release_directory, ".", exercise), f"{exercise}.ipynb")
    if not release_path.is_file():
        raise ValueError(f"unknown exercise {exercise!r}: no release notebook {release_path} "
                         f"(run `nbgrader generate_assignment {exercise}`)")
    release = read_release(read_submission(release_path.read_text()), settings.k)
    students = submitted_students(coursedir, exercise)
    if not students:
        raise ValueError(f"no submissions of {exercise!r} in "
                         f"{coursedir.format_path(coursedir.submitted_directory, '<student>', exercise)}")
    submissions, unreadable = [], {}
    for student in students:
        path = Path(coursedir.format_path(coursedir.submitted_directory, student, exercise), f"{exercise}.ipynb")
        try:
            if not path.is_file():
                raise NotGradable(f"no {path.name} in the submitted folder")
            nb = read_submission(path.read_text(errors="replace"))
        except NotGradable as error:
            unreadable[student] = str(error)
            continue
        submissions.append(fingerprint(student, nb, release, settings.k, settings.window))
    pairs = compare(submissions, settings)
    return Result(exercise, settings, submissions, pairs, unreadable, time.perf_counter() - start)


def _ranges(submission, spans):
    """'cell 7 lines 2-5; cell 12 lines 1-3' of listing ranges."""
    parts = []
    for first, last in spans:
        (c0, l0, _), (c1, l1, _) = submission.code.lines[first], submission.code.lines[last]
        parts.append(f"cell {c0} line {l0}-{l1}" if c0 == c1 else f"cell {c0} line {l0} - cell {c1} line {l1}")
    return "; ".join(parts)


CSV_COLUMNS = ["student_a", "student_b", "score", "shared_fingerprints", "fingerprints_a", "fingerprints_b",
               "flagged", "lines_a", "lines_b"]


def write_csv(result, path):
    """One row per pair with a common fingerprint, highest score first."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for p in result.pairs:
            writer.writerow([p.a.student, p.b.student, f"{p.score:.3f}", len(p.shared), len(p.a.prints),
                             len(p.b.prints), "yes" if p.flagged else "no",
                             _ranges(p.a, [s for s, _ in p.passages]), _ranges(p.b, [s for _, s in p.passages])])


def _listing(submission, first, last):
    rows = []
    for cell, line, text in submission.code.lines[first:last + 1]:
        rows.append(f"<span class='n'>[{cell}] {line:>3}</span> {html.escape(text)}")
    return "<pre>" + "\n".join(rows) + "</pre>"


def anchor(pair):
    """The id of a pair's section in similarity.html."""
    return "pair-" + "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in f"{pair.a.student}--{pair.b.student}")


def render_html(result):
    """similarity.html: the settings, the flagged pairs, and each shown pair's matching lines side by side."""
    s, flagged = result.settings, result.flagged
    parts = [f"<h1>Similar submissions: {html.escape(result.exercise)}</h1>",
             f"<p>{len(result.submissions)} submissions compared ({len(result.pairs)} pairs with common code), "
             f"{len(flagged)} pairs at or above the threshold {s.threshold:g}. The release notebook's code is "
             f"removed first; tokens are normalized (names, numbers, strings), fingerprints are winnowed "
             f"{s.k}-grams (window {s.window}); score = common fingerprints / fingerprints of the smaller "
             f"submission. <b>A flag for review: no grade was changed.</b></p>"]
    if result.unreadable:
        parts.append("<h2>Not compared</h2><ul>" + "".join(
            f"<li>{html.escape(st)}: {html.escape(why)}</li>" for st, why in sorted(result.unreadable.items()))
            + "</ul>")
    if flagged:
        rows = "".join(f"<tr><td><a href='#{anchor(p)}'>{html.escape(p.a.student)} / {html.escape(p.b.student)}</a>"
                       f"</td><td>{p.score:.2f}</td><td>{len(p.shared)}</td><td>{len(p.a.prints)} / {len(p.b.prints)}"
                       f"</td></tr>" for p in flagged)
        parts.append(f"<h2>Flagged pairs ({len(flagged)})</h2><table><tr><th>students</th><th>score</th>"
                     f"<th>common fingerprints</th><th>fingerprints</th></tr>{rows}</table>")
    else:
        parts.append("<h2>Flagged pairs</h2><p>None.</p>")
    for p in flagged[:s.shown_pairs]:
        body = "".join(f"<tr><td>{_listing(p.a, *sa)}</td><td>{_listing(p.b, *sb)}</td></tr>" for sa, sb in p.passages)
        parts.append(f"<h2 id='{anchor(p)}'>{html.escape(p.a.student)} / {html.escape(p.b.student)}: "
                     f"{p.score:.2f}</h2><table class='side'><tr><th>{html.escape(p.a.student)}</th>"
                     f"<th>{html.escape(p.b.student)}</th></tr>{body}</table>")
    if len(flagged) > s.shown_pairs:
        parts.append(f"<p>{len(flagged) - s.shown_pairs} more flagged pairs are in similarity.csv "
                     f"(c.Similarity.shown_pairs).</p>")
    style = ("body{font-family:sans-serif;max-width:80em;margin:2em auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}"
             "table.side td{width:50%}pre{margin:0;white-space:pre-wrap}.n{color:#999}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(result.exercise)} similarity"
            f"</title><style>{style}</style></head><body>{''.join(parts)}</body></html>")


def write(exercise, course_root=".", output_dir=None, **overrides):
    """Analyse the exercise and write similarity.csv and similarity.html (default reports/<exercise>/)."""
    result = analyse(exercise, course_root, **overrides)
    folder = Path(output_dir) if output_dir else Path(course_root, "reports", exercise)
    folder.mkdir(parents=True, exist_ok=True)
    result.csv_path, result.html_path = folder / "similarity.csv", folder / "similarity.html"
    write_csv(result, result.csv_path)
    result.html_path.write_text(render_html(result))
    return result


def format_table(result, limit=20):
    """A short on-screen table of the flagged pairs."""
    flagged = result.flagged
    lines = [f"{result.exercise}: {len(result.submissions)} submissions, {len(flagged)} pairs at or above "
             f"{result.settings.threshold:g} ({result.seconds:.1f} s)"]
    if flagged:
        wa = max([len("student")] + [len(p.a.student) for p in flagged[:limit]])
        wb = max([len("student")] + [len(p.b.student) for p in flagged[:limit]])
        lines.append(f"  {'student':<{wa}}  {'student':<{wb}}  score  common")
        lines += [f"  {p.a.student:<{wa}}  {p.b.student:<{wb}}  {p.score:5.2f}  {len(p.shared):6d}"
                  for p in flagged[:limit]]
        if len(flagged) > limit:
            lines.append(f"  ... and {len(flagged) - limit} more")
    for student, why in sorted(result.unreadable.items()):
        lines.append(f"  not compared: {student}: {why}")
    return "\n".join(lines)
