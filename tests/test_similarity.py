"""`dl-course similarity`: copies are found through renamed names, reordered functions and new comments;
independent work, the reference solution and the release's own code are not flagged; nothing of the
gradebook or the hidden tests is touched. Fast: submissions are written as files, nothing is executed."""

from __future__ import annotations

import ast
import copy
import csv
import html
import shutil

import nbformat
import numpy as np
import pytest

from course import cli
from course.benchmark import (add_dead_code, disguise, respell_numpy, similarity_batch, similarity_benchmark,
                              split_into_helpers)
from course.grading import ROOT, make_course_copy, nbgrader_meta, notebook_path, secret_lines, similarity
from course.grading.trial import student_form

EXERCISE = "ex01_numpy_dnn"

# How another student solves Exercise 1, written independently of the reference solution (other
# decomposition, other NumPy calls, loops where the reference has comprehensions and back).
INDEPENDENT = {
    "activations": '''
def sigmoid(z):
    z = np.array(z, dtype=float)
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


def relu(z):
    z = np.array(z, dtype=float)
    return np.where(z > 0, z, 0.0)
''',
    "init_params": '''
def init_params(n_x, n_h, n_y=1, seed=0):
    gen = np.random.default_rng(seed)
    first = gen.standard_normal(size=(n_h, n_x))
    second = gen.standard_normal(size=(n_y, n_h))
    params = {}
    params["W1"] = first * (2 / n_x) ** 0.5
    params["b1"] = np.zeros(shape=(n_h, 1))
    params["W2"] = second / np.sqrt(n_h)
    params["b2"] = np.zeros(shape=(n_y, 1))
    return params
''',
    "forward": '''
def forward(X, params):
    W1, b1, W2, b2 = (params[key] for key in ("W1", "b1", "W2", "b2"))
    hidden_pre = np.dot(W1, X) + b1
    hidden = relu(hidden_pre)
    out_pre = np.dot(W2, hidden) + b2
    out = sigmoid(out_pre)
    cache = dict(Z1=hidden_pre, A1=hidden, Z2=out_pre, A2=out)
    return out, cache
''',
    "compute_cost": '''
def compute_cost(Y_hat, Y):
    p = np.clip(Y_hat, 1e-15, 1 - 1e-15)
    losses = np.where(Y == 1, -np.log(p), -np.log(1 - p))
    return float(np.mean(losses))
''',
    "backward": '''
def backward(X, Y, params, cache):
    n = Y.shape[1]
    delta_out = cache["A2"] - Y
    grads = {"dW2": np.dot(delta_out, cache["A1"].T) / n,
             "db2": delta_out.mean(axis=1).reshape(-1, 1)}
    delta_hidden = np.dot(params["W2"].T, delta_out) * np.where(cache["Z1"] > 0, 1.0, 0.0)
    grads["dW1"] = np.dot(delta_hidden, X.T) / n
    grads["db1"] = delta_hidden.mean(axis=1, keepdims=True)
    return grads
''',
    "update_params": '''
def update_params(params, grads, lr):
    new_params = {}
    for key, value in params.items():
        new_params[key] = value - lr * grads["d" + key]
    return new_params
''',
    "train_predict": '''
def train(X, Y, n_h=8, lr=1.0, epochs=2000, seed=0):
    p = init_params(n_x=X.shape[0], n_h=n_h, n_y=Y.shape[0], seed=seed)
    history = []
    epoch = 0
    while epoch < epochs:
        A2, cache = forward(X, p)
        history.append(compute_cost(A2, Y))
        g = backward(X, Y, p, cache)
        p = update_params(p, g, lr=lr)
        epoch += 1
    return p, history


def predict(X, params):
    probabilities, _ = forward(X, params)
    return np.where(probabilities > 0.5, 1, 0).astype(np.int64)
''',
}


def release():
    return nbformat.read(notebook_path(EXERCISE, "release"), as_version=4)


def reference():
    """The reference solution as a student submits it (release notebook, solution cells filled in)."""
    return student_form(nbformat.read(notebook_path(EXERCISE), as_version=4), release())


def with_solutions(nb, solutions):
    """A copy of `nb` whose solution cells hold solutions[grade_id] (changed by a function of the source)."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if meta.get("solution") and meta["grade_id"] in solutions:
            cell.source = solutions[meta["grade_id"]](cell.source)
    return nb


def disguised_copy(nb, seed=7):
    return with_solutions(nb, {nbgrader_meta(c)["grade_id"]: lambda s: disguise(s, seed)
                               for c in nb.cells if nbgrader_meta(c).get("solution")})


def independent():
    return with_solutions(release(), {grade_id: lambda _, code=code: code for grade_id, code in INDEPENDENT.items()})


def course_with(tmp_path, submissions):
    """A course root (config, source, release) with submitted/<student>/EXERCISE/EXERCISE.ipynb files."""
    course = make_course_copy([EXERCISE], target=tmp_path / "course")
    shutil.copytree(ROOT / "release" / EXERCISE, course / "release" / EXERCISE)
    for student, nb in submissions.items():
        folder = course / "submitted" / student / EXERCISE
        folder.mkdir(parents=True)
        if isinstance(nb, bytes):
            (folder / f"{EXERCISE}.ipynb").write_bytes(nb)
        else:
            nbformat.write(nb, folder / f"{EXERCISE}.ipynb")
    return course


def pair(result, a, b):
    found = [p for p in result.pairs if {p.a.student, p.b.student} == {a, b}]
    return found[0] if found else None


def score(result, a, b):
    p = pair(result, a, b)
    return p.score if p else 0.0


def parameters_and_locals(code):
    tree = ast.parse(code)
    return {a.arg for f in ast.walk(tree) if isinstance(f, ast.FunctionDef) for a in f.args.args} | \
        {n.id for f in ast.walk(tree) if isinstance(f, ast.FunctionDef) for n in ast.walk(f)
         if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def function_order(nb):
    return [node.name for c in nb.cells if nbgrader_meta(c).get("solution")
            for node in ast.parse(c.source).body if isinstance(node, ast.FunctionDef)]


def comments(nb):
    return {line.strip() for c in nb.cells if nbgrader_meta(c).get("solution")
            for line in c.source.splitlines() if line.strip().startswith("#")}


def solution_code(nb):
    return "\n\n".join(c.source for c in nb.cells if nbgrader_meta(c).get("solution"))


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    """One course: the reference solution, its disguised copy, an independent solution, two untouched stubs."""
    course = course_with(tmp_path_factory.mktemp("similar"), {
        "reference": reference(), "copier": disguised_copy(reference()), "independent": independent(),
        "stub_a": release(), "stub_b": release()})
    return course, similarity.analyse(EXERCISE, course)


def test_a_copy_with_every_name_renamed_functions_reordered_and_new_comments_is_flagged(analysed):
    _, result = analysed
    original, copied = reference(), disguised_copy(reference())
    names = parameters_and_locals(solution_code(original))
    assert names and not names & parameters_and_locals(solution_code(copied)), "every parameter and local renamed"
    assert function_order(copied) != function_order(original), "functions reordered"
    assert comments(copied) - comments(original), "comments changed"
    found = pair(result, "reference", "copier")
    assert found is not None and found.flagged, f"score {score(result, 'reference', 'copier'):.2f}"
    assert found.score >= 0.85 > result.settings.threshold   # measured: 0.90
    assert result.flagged == [found]


def test_the_reference_and_an_independent_correct_solution_stay_below_the_threshold(analysed):
    _, result = analysed
    for other in ("reference", "copier"):
        value = score(result, "independent", other)
        assert value < 0.2 < result.settings.threshold, f"independent vs {other}: {value:.2f}"   # measured: 0.03
        assert not (pair(result, "independent", other) or similarity.Pair(None, None, (), 0, False)).flagged


DISGUISES = {
    "numpy spellings": [respell_numpy],
    "split into helpers": [split_into_helpers],
    "dead code": [add_dead_code],
    "all combined": [respell_numpy, split_into_helpers, add_dead_code, disguise],
}


@pytest.mark.parametrize("name", list(DISGUISES))
def test_a_copy_disguised_by_rewriting_expressions_helpers_or_dead_code_is_flagged(name, tmp_path):
    """Equivalent NumPy spellings (`np.multiply(a, b)` for `a * b`, `np.transpose(x)`, `np.matmul`, `dict()`),
    the code split into single-use helpers and a statement without effect after every statement, alone and
    combined with renaming, reordering and new comments: the copy is still flagged, and the independent solution
    stays far below the threshold against it."""
    def disguised(code):
        for rewrite in DISGUISES[name]:
            code = rewrite(code)
        return code

    copied = with_solutions(reference(), {nbgrader_meta(c)["grade_id"]: disguised
                                          for c in reference().cells if nbgrader_meta(c).get("solution")})
    code = solution_code(copied)
    assert {"numpy spellings": "np.multiply(", "split into helpers": "_step_0(", "dead code": "if False:",
            "all combined": "np.transpose("}[name] in code, "the disguise did not apply"
    result = similarity.analyse(EXERCISE, course_with(tmp_path, {"reference": reference(), "copier": copied,
                                                                 "independent": independent()}))
    found = pair(result, "reference", "copier")
    assert found is not None and found.flagged and found.score >= 0.6, score(result, "reference", "copier")
    assert score(result, "independent", "copier") < 0.25 < result.settings.threshold


def test_the_independent_solution_computes_what_the_reference_computes():
    from course import helpers

    def functions(code):
        namespace = {"np": np, "helpers": helpers}
        exec(compile(code, "<solution>", "exec"), namespace)
        return namespace

    ours, theirs = functions(solution_code(reference())), functions(solution_code(independent()))
    z = np.random.default_rng(0).normal(scale=30, size=(3, 4))
    for name in ("sigmoid", "relu"):
        assert np.allclose(ours[name](z), theirs[name](z))
        assert np.allclose(ours[name]([[1.0, -2.0]]), theirs[name]([[1.0, -2.0]]))
    p_ours, p_theirs = ours["init_params"](2, 5, 1, seed=4), theirs["init_params"](2, 5, 1, seed=4)
    assert all(np.allclose(p_ours[k], p_theirs[k]) for k in ("W1", "b1", "W2", "b2"))
    X, Y = helpers.make_xor()
    p_ours["b1"] = np.random.default_rng(1).normal(size=(5, 1))   # no Z1 exactly 0, where relu has no slope
    out_ours, cache_ours = ours["forward"](X, p_ours)
    out_theirs, cache_theirs = theirs["forward"](X, p_ours)
    assert np.allclose(out_ours, out_theirs) and all(np.allclose(cache_ours[k], cache_theirs[k]) for k in cache_ours)
    assert np.isclose(ours["compute_cost"](out_ours, Y), theirs["compute_cost"](out_ours, Y))
    g_ours, g_theirs = ours["backward"](X, Y, p_ours, cache_ours), theirs["backward"](X, Y, p_ours, cache_ours)
    assert all(np.allclose(g_ours[k], g_theirs[k]) for k in g_ours)
    new_ours, new_theirs = ours["update_params"](p_ours, g_ours, 0.3), theirs["update_params"](p_ours, g_ours, 0.3)
    assert all(np.allclose(new_ours[k], new_theirs[k]) for k in new_ours)
    trained, costs = theirs["train"](X, Y, n_h=8, lr=1.0, epochs=2000, seed=0)
    assert len(costs) == 2000 and np.array_equal(theirs["predict"](X, trained), Y)


def test_the_release_stubs_are_similar_to_nothing(analysed):
    _, result = analysed
    stubs = [s for s in result.submissions if s.student.startswith("stub")]
    assert len(stubs) == 2 and all(not s.prints and not s.code.tokens for s in stubs), "release code is removed"
    assert not [p for p in result.pairs if {p.a.student, p.b.student} & {"stub_a", "stub_b"}]


def test_garbled_or_missing_nbgrader_metadata_changes_no_fingerprint(tmp_path):
    stripped = copy.deepcopy(reference())
    for cell in stripped.cells:
        cell.metadata.pop("nbgrader", None)
    result = similarity.analyse(EXERCISE, course_with(tmp_path, {"with": reference(), "without": stripped}))
    assert result.submissions[0].prints == result.submissions[1].prints and score(result, "with", "without") == 1.0


def test_hidden_tests_in_a_submission_are_never_written_to_the_similarity_report(tmp_path):
    source = nbformat.read(notebook_path(EXERCISE), as_version=4)   # a leaked instructor notebook, twice
    course = course_with(tmp_path, {"leak_a": source, "leak_b": copy.deepcopy(source),
                                    "copier": disguised_copy(reference())})
    result = similarity.write(EXERCISE, course, threshold=0.0)
    assert result.flagged
    written = result.csv_path.read_text() + result.html_path.read_text()
    hidden = secret_lines(source, hidden_only=True)
    assert hidden and not [line for line in hidden if line in written or html.escape(line) in written]


def test_the_similarity_verb_writes_the_csv_and_the_html_and_exits_0(analysed, tmp_path, capsys):
    course = course_with(tmp_path, {"reference": reference(), "copier": disguised_copy(reference()),
                                    "independent": independent(), "stub": release(), "broken": b"{not json"})
    assert cli.main(["--course", str(course), "similarity", EXERCISE]) == 0
    out = capsys.readouterr().out
    assert "copier" in out and "reference" in out and "not compared: broken" in out and "similarity.html" in out
    folder = course / "reports" / EXERCISE
    with open(folder / "similarity.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == similarity.CSV_COLUMNS
    flagged = [r for r in rows if r["flagged"] == "yes"]
    assert [(r["student_a"], r["student_b"]) for r in flagged] == [("copier", "reference")]
    assert float(flagged[0]["score"]) >= 0.85 and "cell" in flagged[0]["lines_a"] and "cell" in flagged[0]["lines_b"]
    page = (folder / "similarity.html").read_text()
    assert "np.logaddexp" in page and "&quot;W1&quot;" in page, "the matching lines, escaped, side by side"
    assert "no grade was changed" in page
    assert not (course / "gradebook.db").exists(), "the gradebook is not opened"
    assert cli.main(["similarity", EXERCISE, "--course", str(course), "--threshold", "0.01"]) == 0
    assert "independent" in capsys.readouterr().out


def test_an_unknown_exercise_or_no_submission_is_a_clear_error(tmp_path):
    course = course_with(tmp_path, {})
    with pytest.raises(ValueError, match="no submissions of 'ex01_numpy_dnn'"):
        similarity.analyse(EXERCISE, course)
    with pytest.raises(ValueError, match="unknown exercise 'ex99'"):
        similarity.analyse("ex99", course)
    with pytest.raises(SystemExit, match="unknown exercise"):
        cli.main(["--course", str(course), "similarity", "ex99"])


def test_the_threshold_and_the_fingerprint_size_come_from_nbgrader_config(tmp_path):
    course = course_with(tmp_path, {"reference": reference(), "independent": independent()})
    with open(course / "nbgrader_config.py", "a") as config:
        config.write("\nc.Similarity.threshold = 0.01\nc.Similarity.k = 8\nc.Similarity.min_fingerprints = 1\n")
    result = similarity.analyse(EXERCISE, course)
    assert (result.settings.threshold, result.settings.k) == (0.01, 8) and result.flagged
    assert not similarity.analyse(EXERCISE, course, threshold=0.9).flagged


def test_winnowing_finds_every_common_run_of_window_plus_k_minus_1_tokens():
    rng = np.random.default_rng(0)
    k, window = 5, 4
    for _ in range(50):
        a = [str(t) for t in rng.integers(0, 20, size=80)]
        b = [str(t) for t in rng.integers(0, 20, size=80)]
        start = int(rng.integers(0, 60))
        b[10:10 + window + k - 1] = a[start:start + window + k - 1]
        prints_a = similarity.winnow(similarity.kgram_hashes(a, k), window)
        prints_b = similarity.winnow(similarity.kgram_hashes(b, k), window)
        assert set(prints_a) & set(prints_b)
    assert similarity.kgram_hashes(["a", "b", "c"], 2) == similarity.kgram_hashes(["a", "b", "c"], 2)


def test_normalized_tokens_ignore_names_comments_docstrings_and_layout_but_keep_the_api():
    keep = frozenset({"np"})
    one = similarity.normalize_tokens(
        'def f(x, scale=2):\n    """Doc."""\n    # comment\n    return np.sum(x * scale, axis=1)\n', keep)
    two = similarity.normalize_tokens(
        "def g(values, k=3):\n    return np.sum(values * k,\n                  axis=1)  # other\n", keep)
    assert [t for _, t in one] == [t for _, t in two]
    assert [t for _, t in one] == ["def", "V", "(", "V", ",", "V", "=", "N", ")", ":", "return", "np", ".", "sum",
                                   "(", "V", "*", "V", ",", "axis", "=", "N", ")"]
    three = similarity.normalize_tokens("def g(values, k=3):\n    return np.mean(values * k, axis=1)\n", keep)
    assert [t for _, t in three] != [t for _, t in one]


@pytest.mark.filterwarnings("ignore:Object of type <SubmittedAssignment> not in session")
def test_the_report_has_a_similar_pairs_section_linking_the_side_by_side_page(tmp_path):
    from nbgrader.api import Gradebook

    from course.grading.report import write_report

    course = course_with(tmp_path, {"reference": reference(), "copier": disguised_copy(reference()),
                                    "independent": independent()})
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "dl-course") as gb:
        gb.add_assignment(EXERCISE)
        for student in ("reference", "copier", "independent"):
            gb.add_student(student)
            gb.add_submission(EXERCISE, student)
    page = write_report(EXERCISE, course_root=course).read_text()
    section = page[page.index("<h2>Similar pairs"):]
    assert "copier" in section and "reference" in section and "independent" not in section
    assert 'href="similarity.html"' in section and (course / "reports" / EXERCISE / "similarity.html").is_file()


def test_the_benchmark_batch_is_disguised_copies_stubs_and_wrong_solutions():
    batch = similarity_batch(EXERCISE, size=12)
    assert len(batch) == 12
    codes = [solution_code(nb) for nb in batch.values()]
    for code in codes:
        ast.parse(code)
    assert len(set(codes)) >= 6
    row = similarity_benchmark(EXERCISE, size=12)
    assert row["submissions"] == 12 and row["flagged"] > 0 and row["wall_s"] > 0


def test_magics_shell_lines_and_hidden_blocks_are_left_out_and_line_numbers_stay_those_of_the_cell():
    cell = nbformat.v4.new_code_cell("%matplotlib inline\n!pip list\nx = 1\n### BEGIN HIDDEN TESTS\nsecret = 2\n"
                                     "### END HIDDEN TESTS\ny = x + 1\nz = !ls\n")
    code = similarity.notebook_code([(3, cell)])
    assert code.lines == [(3, 3, "x = 1"), (3, 7, "y = x + 1"), (3, 8, "z = !ls")]
    assert code.tokens == ["V", "=", "N", "V", "=", "V", "+", "N", "V", "=", "!", "V"]


def test_code_no_canonical_form_fits_is_compared_by_its_own_tokens_and_stops_nothing():
    """A cell nested deeper than the syntax tree can be rewritten, and one that does not parse: the analysis goes
    on with their own tokens."""
    deep = "x = " + "(" * 300 + "1" + ")" * 300 + "\n"
    broken = "def f(:\n    return 1\n"
    rows = similarity.canonical_rows([deep, broken, "y = np.multiply(a, b)\nprint(y)\n"], frozenset({"np"}))
    assert rows[0] and rows[1] and rows[2][1] == ["V", "=", "V", "*", "V"]
