"""Execute every solution notebook headless and report wall time, peak memory and the final metric.

    python -m course.benchmark                 # all exercises in source/, Markdown table on stdout
    python -m course.benchmark ex03_cnn_mnist  # some of them
    python -m course.benchmark --budgets       # also write course/grading/budgets.json (grading time budgets)
    python -m course.benchmark --grading       # serial nbgrader autograde vs dl-course grade, sandbox cost
    python -m course.benchmark --mutants       # kill rate of the hidden tests on 40 mutants per exercise
    python -m course.benchmark --similarity    # `dl-course similarity` on 200 submissions of the largest exercise

Each notebook runs in its own process (so peak memory is that run's kernel alone), on a copy in a
temporary folder, top to bottom, hidden tests included. The metric is the `FINAL_METRIC = (name, value)`
that every notebook's closing cell sets.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

METRIC_CELL = 'import json; print("FINAL_METRIC_JSON=" + json.dumps([FINAL_METRIC[0], float(FINAL_METRIC[1])]))'


def run_one(exercise, timeout=900):
    """Execute one source notebook in this process; returns {"wall_s", "peak_mb", "metric", "value", "errors"}."""
    import nbformat
    from nbclient import NotebookClient

    from course.grading import notebook_path

    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{exercise}-"))
    try:
        nb = nbformat.read(notebook_path(exercise), as_version=4)
        nb.cells.append(nbformat.v4.new_code_cell(METRIC_CELL))
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                                resources={"metadata": {"path": str(workdir)}})
        start = time.perf_counter()
        client.execute()
        wall = time.perf_counter() - start
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    errors = [f"{o.ename}: {o.evalue}" for c in nb.cells if c.cell_type == "code"
              for o in c.outputs if o.output_type == "error"]
    cell_seconds = [cell_duration(c) for c in nb.cells if c.cell_type == "code"]
    metric, value = "-", float("nan")
    for output in nb.cells[-1].outputs:
        if output.get("name") == "stdout" and "FINAL_METRIC_JSON=" in output.text:
            metric, value = json.loads(output.text.split("FINAL_METRIC_JSON=")[1])
    # The kernel was a child of this process and has been waited for: its peak RSS is here (KiB on Linux).
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"exercise": exercise, "wall_s": wall, "peak_mb": peak_mb, "metric": metric, "value": value,
            "errors": errors, "slowest_cell_s": max(cell_seconds, default=0.0)}


def cell_duration(cell):
    """Seconds from a cell's execute_input to its execute_reply (nbclient's timing metadata), 0 if unknown."""
    from datetime import datetime

    timing = cell.get("metadata", {}).get("execution", {})
    try:
        start, end = (datetime.fromisoformat(timing[k].replace("Z", "+00:00"))
                      for k in ("iopub.execute_input", "shell.execute_reply"))
    except (KeyError, ValueError):
        return 0.0
    return max(0.0, (end - start).total_seconds())


def write_budgets(rows, path=None):
    """Record each exercise's solution run time, from which grading derives its time budgets."""
    from course.grading.execute import BUDGETS_FILE

    path = Path(path or BUDGETS_FILE)
    data = json.loads(path.read_text()) if path.is_file() else {"exercises": {}}
    data["measured_on"] = f"{cpu_name()}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}"
    for r in rows:
        data["exercises"][r["exercise"]] = {"total_s": round(r["wall_s"], 1), "slowest_cell_s": round(r["slowest_cell_s"], 1)}
    data["exercises"] = dict(sorted(data["exercises"].items()))
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def cpu_name():
    """The processor's model name (Linux), else the machine type."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def markdown_table(rows):
    """The benchmark rows as a Markdown table."""
    lines = ["| exercise | wall s | peak MiB | final metric |", "| --- | ---: | ---: | --- |"]
    for r in rows:
        status = "" if not r["errors"] else f" — {len(r['errors'])} error(s): {r['errors'][0][:80]}"
        lines.append(f"| {r['exercise']} | {r['wall_s']:.1f} | {r['peak_mb']:.0f} | {r['metric']} {r['value']:.4f}{status} |")
    return "\n".join(lines)


GRADING_BATCH = {"ex01_numpy_dnn": 24, "ex08_embedding": 8}
MUTANTS_PER_BATCH = 10   # wrong submissions in a batch: mutants of the solution, drawn with seed 0


def wrong_submissions(exercise, count=MUTANTS_PER_BATCH):
    """{name: notebook}: `count` mutants of the exercise's solution (`course.grading.mutants`, seed 0), spread
    over its solution cells: what a class's wrong answers look like to the grader."""
    from course.grading import mutants

    return {f"mutant_{m.id}": mutants.mutant_notebook(m)
            for m in mutants.draw(mutants.all_mutants(exercise), count, seed=0)}


def grading_batch(exercise, size):
    """`size` submissions cycling through the solution, the stub and the drawn mutants."""
    import nbformat

    from course.grading import notebook_path

    standard = [("solution", nbformat.read(notebook_path(exercise), as_version=4)),
                ("stub", nbformat.read(notebook_path(exercise, "release"), as_version=4)),
                *wrong_submissions(exercise).items()]
    return {f"{name}_{i:02d}": nb for i in range(size) for name, nb in [standard[i % len(standard)]]}


def _course_with(exercise, submissions, sandbox=True, checker=True):
    from course.grading import make_course_copy, nbgrader

    import nbformat

    from traitlets.config import Config

    from course.coursedir import write_overrides

    course = make_course_copy([exercise])
    if not sandbox:   # benchmark only: grading without the sandbox
        write_overrides(course, Config({"Sandbox": {"enabled": False}}))
    if not checker:   # the baseline: tests in the student's kernel, as plain nbgrader runs them
        write_overrides(course, Config({"GradingExecute": {"in_kernel_exercises": [exercise]}}))
    nbgrader(course, "generate_assignment", exercise, "--force")
    for student, nb in submissions.items():
        folder = course / "submitted" / student / exercise
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{exercise}.ipynb")
    return course


def _executions(course, exercise, key="wall_s"):
    """{student: seconds} from the grading records: the notebook's execution ("wall_s") or the checker's own
    part of it ("checker_s": its start, the tests' code and the data across, not the student's calls)."""
    import nbformat

    from course.grading import records

    return {p.parent.parent.name: records.record(nbformat.read(p, as_version=4))["timing"].get(key, 0.0)
            for p in (course / "autograde").glob(f"*/{exercise}/{exercise}.ipynb")}


def grading_benchmark(batch=GRADING_BATCH, workers=None):
    """Rows: serial `nbgrader autograde` with the tests in the student's kernel (no checker, the baseline) vs
    `dl-course grade` with the checker on the same batch, measured in one run; the checker's own seconds per
    notebook; and the mean execution of a notebook with and without the sandbox."""
    from course.grading import engine, nbgrader

    workers = workers or os.cpu_count() or 1
    rows = []
    for exercise, size in batch.items():
        submissions = grading_batch(exercise, size)
        serial_course = _course_with(exercise, submissions, checker=False)
        start = time.perf_counter()
        nbgrader(serial_course, "autograde", exercise)
        serial = time.perf_counter() - start
        serial_exec = _executions(serial_course, exercise)
        parallel_course = _course_with(exercise, submissions)
        start = time.perf_counter()
        summary = engine.grade(exercise, course_root=parallel_course, workers=workers, progress=False)
        parallel = time.perf_counter() - start
        parallel_exec = _executions(parallel_course, exercise)
        checker = _executions(parallel_course, exercise, "checker_s")
        worker_overhead = [summary.results[s].wall_s - parallel_exec[s] for s in parallel_exec]
        few = dict(list(submissions.items())[:max(2, size // 4)])   # the sandbox's cost, one at a time
        bare_course, boxed_course = _course_with(exercise, few, sandbox=False), _course_with(exercise, few)
        engine.grade(exercise, course_root=bare_course, workers=1, progress=False)
        engine.grade(exercise, course_root=boxed_course, workers=1, progress=False)
        bare_exec = _executions(bare_course, exercise)
        sandboxed = list(_executions(boxed_course, exercise).values())
        rows.append({"exercise": exercise, "submissions": size, "workers": workers, "serial_s": serial,
                     "parallel_s": parallel, "ratio": serial / parallel,
                     "notebook_s": sum(parallel_exec.values()) / len(parallel_exec),
                     "checker_s": sum(checker.values()) / len(checker),
                     "serial_overhead_s": (serial - sum(serial_exec.values())) / size,
                     "parallel_overhead_s": sum(worker_overhead) / len(worker_overhead),
                     "sandboxed_s": sum(sandboxed) / len(sandboxed),
                     "unsandboxed_s": sum(bare_exec.values()) / len(bare_exec), "failed": sorted(summary.failed),
                     # the run's fixed cost: jobs made (config, schedule, snapshot, bundle) while the workers
                     # start; the first submission can start when both are done
                     "jobs_s": summary.fixed.get("jobs_s", 0.0), "workers_ready_s": summary.fixed.get("workers_ready_s", 0.0)})
        for course in (serial_course, parallel_course, bare_course, boxed_course):
            shutil.rmtree(course, ignore_errors=True)
        print(f"{exercise}: serial {serial:.1f} s, parallel {parallel:.1f} s", file=sys.stderr)
    return rows


def grading_table(rows):
    lines = ["| exercise | submissions | serial `nbgrader autograde` s | `dl-course grade` s | ratio | overhead per "
             "submission s (serial / workers) | fixed s: jobs made / workers ready | notebook s sandboxed / unsandboxed "
             "| checker s of a notebook's s |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        lines.append(f"| {r['exercise']} | {r['submissions']} | {r['serial_s']:.1f} | {r['parallel_s']:.1f} "
                     f"({r['workers']} workers) | {r['ratio']:.2f}× | {r['serial_overhead_s']:.2f} / "
                     f"{r['parallel_overhead_s']:.2f} | {r['jobs_s']:.1f} / {r['workers_ready_s']:.1f} | "
                     f"{r['sandboxed_s']:.2f} / {r['unsandboxed_s']:.2f} | {r['checker_s']:.2f} of "
                     f"{r['notebook_s']:.2f} |")
    return "\n".join(lines)


def mutation_table(exercises_to_run, count=None):
    """Markdown table of the kill rate per exercise (`count` mutants each, the benchmark's draw)."""
    from course.grading import mutants

    count = count or mutants.BENCHMARK_COUNT
    lines = ["| exercise | mutants | killed | by a visible check | equivalent | kill rate | wall s |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for exercise in exercises_to_run:
        start = time.perf_counter()
        result = mutants.run(exercise, count=count, seed=mutants.SEED)
        counted = len(result.killed) + len(result.survived)
        lines.append(f"| {exercise} | {counted + len(result.acknowledged)} | {len(result.killed)} | "
                     f"{len(result.caught_visibly)} | {len(result.acknowledged)} | {result.kill_rate:.0%} | {time.perf_counter() - start:.0f} |")
        print(mutants.format_run(result), file=sys.stderr)
    return "\n".join(lines)


# ----------------------------------------------------------------------------- similarity

SIMILARITY_BATCH = 200


def _local_names(function):
    """Parameters and names a function assigns (its local variables), not those of nested functions' bodies."""
    args = function.args
    names = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
    names |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


def _renamed(lines, first, last, mapping):
    """Lines first..last (1-based) with the names of `mapping` renamed where they are variables (not
    attributes, not keyword-argument names of calls)."""
    import io
    import tokenize

    chunk = "".join(lines[first - 1:last])
    tokens = [t for t in tokenize.generate_tokens(io.StringIO(chunk).readline)
              if t.type not in (tokenize.NL, tokenize.COMMENT)]
    edits, depth, signature = [], 0, False
    for i, tok in enumerate(tokens):
        before = tokens[i - 1].string if i else ""
        after = tokens[i + 1].string if i + 1 < len(tokens) else ""
        if tok.type == tokenize.NAME and before == "def":
            signature = True
        if tok.string in "([{" and tok.type == tokenize.OP:
            depth += 1
        elif tok.string in ")]}" and tok.type == tokenize.OP:
            depth -= 1
            signature = signature and depth > 0
        if tok.type == tokenize.NAME and tok.string in mapping and before != "." \
                and not (depth > 0 and after == "=" and not signature):
            edits.append(tok)
    out = chunk.splitlines(keepends=True)
    for tok in sorted(edits, key=lambda t: t.start, reverse=True):
        row, col = tok.start
        out[row - 1] = out[row - 1][:col] + mapping[tok.string] + out[row - 1][tok.end[1]:]
    return out


def disguise(source, seed=0):
    """A solution cell as a student who copied it would hand it in: every parameter and local variable
    renamed, the cell's functions in the reverse order, comments rewritten. Source that does not parse is
    returned as it is."""
    import random

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    rng = random.Random(seed)
    lines = source.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    pieces, start = [], 1   # top-level statements with the lines before them
    for node in tree.body:
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            mapping = {name: f"{rng.choice(['val', 'tmp', 'my', 'q', 'arg'])}_{name.lower()}_{rng.randrange(100)}"
                       for name in sorted(_local_names(node))}
            body = _renamed(lines, first, node.end_lineno, mapping)
        else:
            body = lines[first - 1:node.end_lineno]
        before = lines[start - 1:first - 1]
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            pieces.append(("def", ["\n", "\n"] + [line for line in before if line.strip()] + body))
        else:
            pieces.append(("other", before + body))
        start = node.end_lineno + 1
    functions = [p for kind, p in pieces if kind == "def"][::-1]
    ordered = [functions.pop(0) if kind == "def" else p for kind, p in pieces]
    text = "".join(line for piece in ordered for line in piece)
    text = "\n".join(_recomment(line, rng) for line in text.splitlines())
    return "# my solution, worked out at night\n" + text + "\n"


# Rewrites a copier uses to hide a copy from a token comparison, each keeping what the code computes
# (tests/test_similarity.py combines them with `disguise`; dl-course similarity must still find the copy).
NUMPY_SPELLINGS = {ast.Mult: "multiply", ast.Add: "add", ast.Sub: "subtract", ast.Div: "divide", ast.MatMult: "matmul"}


class _NumpySpellings(ast.NodeTransformer):
    """`a * b` -> `np.multiply(a, b)` (and +, -, /, @), `x.T` -> `np.transpose(x)`, `{}` and `{"k": v}` -> `dict(...)`."""

    def visit_BinOp(self, node):
        self.generic_visit(node)
        name = NUMPY_SPELLINGS.get(type(node.op))
        if name is None:
            return node
        function = ast.Attribute(ast.Name("np", ast.Load()), name, ast.Load())
        return ast.copy_location(ast.Call(function, [node.left, node.right], []), node)

    def visit_Attribute(self, node):
        self.generic_visit(node)
        if node.attr == "T" and isinstance(node.ctx, ast.Load):
            return ast.copy_location(ast.Call(ast.Attribute(ast.Name("np", ast.Load()), "transpose", ast.Load()),
                                              [node.value], []), node)
        return node

    def visit_Dict(self, node):
        self.generic_visit(node)
        if all(isinstance(k, ast.Constant) and isinstance(k.value, str) and k.value.isidentifier() for k in node.keys):
            return ast.copy_location(ast.Call(ast.Name("dict", ast.Load()), [],
                                              [ast.keyword(k.value, v) for k, v in zip(node.keys, node.values)]), node)
        return node


def respell_numpy(source):
    """Every operator NumPy has a function for as that function, `.T` as np.transpose, dicts as dict()."""
    tree = ast.parse(source)
    return ast.unparse(ast.fix_missing_locations(_NumpySpellings().visit(tree))) + "\n"


def split_into_helpers(source):
    """Every assignment inside a function whose value is a computation (a binary operation or a call) becomes a
    call of a new module-level helper `_<function>_step_N(names)` that returns that value."""
    tree = ast.parse(source)
    helpers = []
    for function in [n for n in tree.body if isinstance(n, ast.FunctionDef)]:
        for node in ast.walk(function):
            if isinstance(node, ast.Assign) and isinstance(node.value, (ast.BinOp, ast.Call)):
                names = sorted({n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)
                                and isinstance(n.ctx, ast.Load) and n.id not in ("np", "range", "len", "float")})
                name = f"_{function.name}_step_{len(helpers)}"
                helpers.append(ast.FunctionDef(name=name, args=ast.arguments(posonlyargs=[], args=[ast.arg(n) for n in names],
                                                                        kwonlyargs=[], kw_defaults=[], defaults=[]),
                                               body=[ast.Return(node.value)], decorator_list=[]))
                node.value = ast.Call(ast.Name(name, ast.Load()), [ast.Name(n, ast.Load()) for n in names], [])
    tree.body = helpers + tree.body
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def add_dead_code(source):
    """A statement that does nothing after every statement of every function body: an unused assignment, a bare
    name or number, `pass`, or an `if False:` block, in turn."""
    tree = ast.parse(source)
    fillers = ["_unused = 0", "None", "pass", "if False:\n    print('never')", "_spare = [0, 1]", "0.5"]
    count = 0
    for node in ast.walk(tree):
        for field in ("body", "orelse"):
            body = getattr(node, field, None)
            if not isinstance(body, list) or not body or isinstance(node, ast.Module):
                continue
            padded = []
            for statement in body:
                padded.append(statement)
                if not isinstance(statement, (ast.Return, ast.Raise, ast.Continue, ast.Break)):
                    padded += ast.parse(fillers[count % len(fillers)]).body
                    count += 1
            setattr(node, field, padded)
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def _recomment(line, rng):
    """A line with its comment (a `#` outside strings) replaced."""
    import io
    import tokenize

    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(line + "\n").readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return line
    for tok in tokens:
        if tok.type == tokenize.COMMENT and "###" not in tok.string:
            return line[:tok.start[1]] + rng.choice(["# this works", "# see lecture 3", "# fixed the shapes"])
    return line


def similarity_batch(exercise, size=SIMILARITY_BATCH, seed=0):
    """{student: notebook}: `size` submissions of the exercise in student form (release notebook with
    solutions): most disguised copies of the solution (renamed, reordered, re-commented), the rest the
    stub and the drawn mutants (`wrong_submissions`), some of those disguised too."""
    import copy
    import nbformat

    from course.grading import notebook_path, student_form

    source = nbformat.read(notebook_path(exercise), as_version=4)
    release = nbformat.read(notebook_path(exercise, "release"), as_version=4)
    variants = [student_form(source, release), release]
    variants += [student_form(nb, release) for nb in wrong_submissions(exercise).values()]
    batch = {}
    for i in range(size):
        nb = copy.deepcopy(variants[i % len(variants)] if i % 3 else variants[0])
        if i % 2:
            for cell in nb.cells:
                if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
                    cell.source = disguise(cell.source, seed=seed * 100003 + i)
        batch[f"student{i:03d}"] = nb
    return batch


def largest_exercise():
    """The exercise with the most solution code (characters in its solution cells)."""
    import nbformat

    from course.grading import exercises, nbgrader_meta, notebook_path

    def size(exercise):
        nb = nbformat.read(notebook_path(exercise), as_version=4)
        return sum(len(c.source) for c in nb.cells if nbgrader_meta(c).get("solution"))

    return max(exercises(), key=size)


def similarity_benchmark(exercise=None, size=SIMILARITY_BATCH):
    """Wall and CPU time of `dl-course similarity` (fingerprints, all pairs, CSV and HTML) on `size` synthetic
    submissions (written first, not timed). It runs in one process: a second core does not change it."""
    import nbformat

    from course.grading import make_course_copy, similarity
    from course.grading.notebooks import ROOT

    exercise = exercise or largest_exercise()
    course = make_course_copy([exercise])
    try:
        shutil.copytree(Path(ROOT, "release", exercise), course / "release" / exercise)
        for student, nb in similarity_batch(exercise, size).items():
            folder = course / "submitted" / student / exercise
            folder.mkdir(parents=True)
            nbformat.write(nb, folder / f"{exercise}.ipynb")
        start, cpu = time.perf_counter(), time.process_time()
        result = similarity.write(exercise, course_root=course)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    finally:
        shutil.rmtree(course, ignore_errors=True)
    return {"exercise": exercise, "submissions": len(result.submissions), "pairs": len(result.pairs),
            "flagged": len(result.flagged), "wall_s": wall, "cpu_s": cpu}


def main(argv=None):
    from course.grading import ROOT, exercises

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("exercise", nargs="*", help="exercise folder names (default: all in source/)")
    parser.add_argument("--budgets", action="store_true",
                        help="write the solution run times to course/grading/budgets.json (grading time budgets)")
    parser.add_argument("--grading", action="store_true",
                        help="grade a batch of Exercise 1 and 8 submissions with serial nbgrader autograde and with "
                             "dl-course grade, in one run; print wall times, ratios and the sandbox's cost")
    parser.add_argument("--mutants", action="store_true",
                        help="grade the benchmark's draw of mutants per exercise; print the kill-rate table")
    parser.add_argument("--count", type=int, default=None,
                        help="with --mutants: mutants per exercise (default: the benchmark's 40; the first N of its draw)")
    parser.add_argument("--similarity", action="store_true",
                        help="time `dl-course similarity` on 200 synthetic submissions of the exercise with the most "
                             "solution code (or of the exercise given)")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one exercise, print JSON
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one)))
        return 0
    from course.coursedir import absolute_data_dir

    absolute_data_dir(ROOT)   # the kernels run in other folders: relative to the course root
    if args.similarity:
        row = similarity_benchmark(args.exercise[0] if args.exercise else None)
        print(f"Similarity benchmark: {cpu_name()}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}: "
              f"{row['submissions']} submissions of {row['exercise']}, {row['pairs']} pairs with common code, "
              f"{row['flagged']} flagged: {row['wall_s']:.1f} s wall, {row['cpu_s']:.1f} s CPU (one process)")
        return 0
    if args.mutants:
        print(f"Mutation benchmark: {cpu_name()}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}\n")
        print(mutation_table(args.exercise or exercises(), count=args.count))
        return 0
    if args.grading:
        rows = grading_benchmark()
        print(f"Grading benchmark: {cpu_name()}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}\n")
        print(grading_table(rows))
        return 1 if any(r["failed"] for r in rows) else 0
    rows = []
    for exercise in args.exercise or exercises():
        proc = subprocess.run([sys.executable, "-m", "course.benchmark", "--one", exercise],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return proc.returncode
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(f"{exercise}: {rows[-1]['wall_s']:.1f} s", file=sys.stderr)
    print(f"Benchmark: {cpu_name()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d')}\n")
    print(markdown_table(rows))
    if args.budgets and not any(r["errors"] for r in rows):
        print(f"\nTime budgets written to {write_budgets(rows)}", file=sys.stderr)
    return 1 if any(r["errors"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
