"""The setup cell's `%pip install` works: the course installs from its git repository at the configured branch
into a clean environment, and `course.helpers` imports from there.

Nothing comes from GitHub: the repository's committed HEAD is cloned to a temporary bare repository and the
setup cell's requirement is given with that clone's `git+file://` URL in place of `git+https://github.com/...`
(git may use the file transport only: GIT_ALLOW_PROTOCOL=file). `--no-deps`: Colab already has TensorFlow,
Keras, NumPy and Matplotlib, and the import then sees this environment's NumPy as Colab's. pip builds the
course as on Colab, with build isolation: the build backend of pyproject.toml (setuptools>=77, for its
PEP 639 license field) comes from the package index pip is configured with; the setuptools on this machine
(65.5 in the interpreter and the environment) cannot build the course, so `--no-build-isolation` is no way
around that. The pip is this environment's (a current one, as on Colab) running for the clean interpreter
(`pip --python`): the pip 23.2 that `python -m venv` bundles refuses a PEP 508 `git+file:///` URL (no host).
"""

import json
import os
import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path

import nbformat

from conftest import ROOT
from course.coursedir import load_config
from course.grading.release import INSTALL, ColabLinks


def run(*cmd, **kw):
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=300, **kw)
    assert proc.returncode == 0, f"{shlex.join(map(str, cmd))} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def test_the_setup_cells_pip_install_from_git_gives_a_clean_environment_the_course_helpers(tmp_path):
    links = ColabLinks(config=load_config(ROOT))
    nb = nbformat.read(ROOT / "release" / "ex01_numpy_dnn" / "ex01_numpy_dnn.ipynb", as_version=4)
    setup = next(c.source for c in nb.cells if c.cell_type == "code")
    line = next(line.strip() for line in setup.splitlines() if INSTALL.search(line))
    assert line == f'%pip install -q "{links.install_requirement()}"'

    clone = tmp_path / "course.git"
    run("git", "clone", "--quiet", "--bare", ROOT, clone)
    run("git", "--git-dir", clone, "update-ref", f"refs/heads/{links.branch}", "HEAD")   # the branch, at HEAD
    head = run("git", "--git-dir", clone, "rev-parse", "HEAD").strip()

    venv = tmp_path / "colab"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    args = shlex.split(line.removeprefix("%pip "))          # install -q "dl-course @ git+https://github.com/...@branch"
    args[-1] = args[-1].replace(f"git+https://github.com/{links.repository}@", f"git+file://{clone}@")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env.update(GIT_ALLOW_PROTOCOL="file", GIT_TERMINAL_PROMPT="0", PIP_NO_INPUT="1")
    run(sys.executable, "-m", "pip", "--python", python, *args, "--no-deps", env=env, cwd=tmp_path)

    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip())
    installed = json.loads(next(site.glob("dl_course-*.dist-info")).joinpath("direct_url.json").read_text())
    assert installed["vcs_info"] == {"vcs": "git", "requested_revision": links.branch, "commit_id": head}
    # What Colab ships (NumPy, Matplotlib): this environment's packages, behind the clean one's own.
    (site / "colab_stack.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    where = run(python, "-c", "import course, course.helpers; print(course.__file__); print(course.helpers.__file__)",
                env=env, cwd=outside).split()
    assert all(Path(path).is_relative_to(site / "course") for path in where), where
    assert not any(Path(path).resolve().is_relative_to(ROOT) for path in where), where
