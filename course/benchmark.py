"""Execute every solution notebook headless and report wall time, peak memory and the final metric.

    python -m course.benchmark                 # all exercises in source/, Markdown table on stdout
    python -m course.benchmark ex03_cnn_mnist  # some of them
    python -m course.benchmark --budgets       # also write course/grading/budgets.json (grading time budgets)

Each notebook runs in its own process (so peak memory is that run's kernel alone), on a copy in a
temporary folder, top to bottom, hidden tests included. The metric is the `FINAL_METRIC = (name, value)`
that every notebook's closing cell sets.
"""

from __future__ import annotations

import argparse
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


def main(argv=None):
    from course.grading import exercises

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("exercise", nargs="*", help="exercise folder names (default: all in source/)")
    parser.add_argument("--budgets", action="store_true",
                        help="write the solution run times to course/grading/budgets.json (grading time budgets)")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one exercise, print JSON
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one)))
        return 0
    if os.environ.get("COURSE_DATA_DIR"):   # the kernels run in other folders: make the mirror path absolute
        os.environ["COURSE_DATA_DIR"] = str(Path(os.environ["COURSE_DATA_DIR"]).expanduser().resolve())
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
