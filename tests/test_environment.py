"""Dependencies are pinned once, in pyproject.toml; environment.yml must repeat the same pins."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?\s*==\s*([^;\s]+)\s*(?:;\s*(.+))?$")


def pins(requirements):
    """{name: version} of 'name[extra]==version; marker' strings (other lines ignored)."""
    found = {}
    for requirement in requirements:
        match = REQUIREMENT.match(requirement)
        if match:
            name, version = match.group(1).lower().replace("_", "-"), match.group(2)
            assert found.get(name, version) == version, f"{name} pinned twice with different versions"
            found[name] = version
    return found


def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def environment_pip():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    return next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d), env


TEST_TOOLS = {"pytest", "pytest-xdist", "pyyaml", "uv", "playwright",   # the test suite's own tools (uv: the
              "lti1p3platform", "lti-provider-mock", "fastapi", "uvicorn"}   # compatibility run; playwright: the
# real-browser tests; the LTI platforms of tests/test_lti.py)
DOCS_TOOLS = {"sphinx", "sphinx-book-theme", "myst-nb"}    # the website's build (instructors, not the GPU environment)
HUB_TOOLS = {"jupyterhub", "jupyterhub-ltiauthenticator"}   # a class hub (`dl-course hub up`), on a server: not the students' GPU environment


SELF = re.compile(r"^dl-course\[([^\]]+)\]$")


def resolved(group, extras=None):
    """The requirements of an extra with the course's own extras it names (`dl-course[a,b]`) expanded."""
    extras = extras or pyproject()["optional-dependencies"]
    found = []
    for requirement in extras[group]:
        match = SELF.match(requirement)
        if match:
            for inner in match.group(1).split(","):
                found += resolved(inner.strip(), extras)
        else:
            found.append(requirement)
    return found


def test_the_dev_install_pins_every_dependency_exactly():
    project = pyproject()
    extras = project["optional-dependencies"]
    pinned = pins(resolved("dev"))
    for requirement in project["dependencies"]:
        name = re.split(r"[<>=\[ ;]", requirement)[0].lower()
        assert name in pinned, f"{name} has no exact pin in the dev extra"
    assert pins([r for group in extras for r in resolved(group)]).keys() <= pinned.keys(), "an extra dev leaves out"
    for group in extras:
        for requirement in extras[group]:
            assert "==" in requirement or SELF.match(requirement), f"{group}: {requirement} is not pinned"


def test_the_students_install_has_the_exercises_and_no_instructor_tools():
    """A student's JupyterLab shows no nbgrader menus, Formgrader or Create Assignment: nbgrader is not in it."""
    student = pins(resolved("student"))
    assert {"jupyterlab", "ipykernel", "tensorflow", "keras", "numpy", "matplotlib"} <= student.keys()
    assert not {"nbgrader", "jupyterhub", "dask", "psycopg"} & student.keys()
    readme = (ROOT / "README.md").read_text()
    assert 'pip install -e ".[student]"' in readme and 'pip install -e ".[student]"' in (ROOT / "docs" / "students.md").read_text()


def test_environment_yml_names_the_same_packages_and_versions_as_pyproject():
    extras = pyproject()["optional-dependencies"]
    wanted = pins([r for group in extras.values() for r in group])
    pip_requirements, _ = environment_pip()
    assert pins(pip_requirements) == {name: v for name, v in wanted.items() if name not in TEST_TOOLS | DOCS_TOOLS | HUB_TOOLS}


def test_environment_yml_is_the_gpu_environment_with_the_course_package():
    pip_requirements, env = environment_pip()
    assert "conda-forge" in env["channels"]
    assert "python=3.11" in env["dependencies"]
    assert any(r.startswith("tensorflow[and-cuda]==") and 'sys_platform == "linux"' in r for r in pip_requirements)
    assert "-e ." in pip_requirements
