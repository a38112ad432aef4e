"""The course directory: the facts every entry point needs, in one place.

- **The course root** is the folder with `nbgrader_config.py` (`find_root` looks upwards from a folder,
  `require_root` checks a folder given on the command line). `PACKAGE_CHECKOUT` is the checkout this
  package was installed from, which is also a course root when the package runs from the repository.
- **The configuration** is nbgrader's own: `nbgrader_config.py`, and `nbgrader_config.json` beside it when
  there is one (traitlets reads both; nbgrader's apps do too). Overrides are traitlets `Config` objects:
  `load_config(root, overrides)` merges them, `write_overrides(root, config)` stores them as that JSON file
  for a temporary course whose nbgrader processes must see them. No Python text is ever appended.
- **The data-path rule**: a relative `COURSE_DATA_DIR` is relative to the course root
  (`resolve_data_dir`, which the dataset loaders of `course.helpers` use too); `absolute_data_dir` makes it
  absolute before work moves to other folders (grading workers, kernels, benchmark runs).
- **The tool PATH**: nbgrader runs `alembic` by name when it creates a gradebook, which must be this
  environment's even when it is not activated (`with_tools`, `put_tools_on_path`).
- **Known third-party warnings**: `quiet_known_warnings` filters the one warning nbgrader itself causes on
  every graded submission (nbgrader_config.py, so every nbgrader command and the formgrader, and each
  `dl-course grade` worker), so that a warning in a log is always worth reading.
- **The exchange**: where it is (`exchange_root`), created writable by its owner only (`ensure_exchange`), and the
  course's exchange steps wired into nbgrader (`use_course_exchange`; course/grading/exchange.py).
- **Start-up**: `skip_unused_format_grammar` spares the course's own processes a 1.3 s import that no
  notebook schema needs.

Light on purpose: only the standard library at import time (nbgrader_config.py imports it).
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path

CONFIG_FILE = "nbgrader_config.py"
OVERRIDES_FILE = "nbgrader_config.json"
DATA_ENV = "COURSE_DATA_DIR"
PACKAGE_CHECKOUT = Path(__file__).resolve().parent.parent


class DatasetError(RuntimeError):
    """A dataset could not be found, downloaded or verified (students meet it as `course.helpers.DatasetError`)."""


class NotACourseRoot(SystemExit):
    """A folder given as the course root has no nbgrader_config.py (a SystemExit: the command stops)."""


def find_root(start=None):
    """The course root above `start` (default: the current folder): the nearest folder with nbgrader_config.py."""
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_FILE).is_file():
            return folder
    return None


def require_root(path, command="dl-course"):
    """`path` as an absolute course root, or NotACourseRoot saying what is expected."""
    root = Path(path).resolve()
    if not (root / CONFIG_FILE).is_file():
        raise NotACourseRoot(f"{command}: {root} is not a course root (no {CONFIG_FILE}); run it in the course "
                             f"folder or give --course")
    return root


def load_config(root, overrides=None):
    """The course's nbgrader configuration (nbgrader_config.py, then nbgrader_config.json), with its root set,
    and `overrides` (a traitlets Config) merged last."""
    from traitlets.config import Config
    from traitlets.config.loader import JSONFileConfigLoader, PyFileConfigLoader

    root = Path(root).resolve()
    if not (root / CONFIG_FILE).is_file():
        raise FileNotFoundError(f"{root} has no {CONFIG_FILE}: not a course root")
    config = PyFileConfigLoader(CONFIG_FILE, path=str(root)).load_config()
    if (root / OVERRIDES_FILE).is_file():
        config.merge(JSONFileConfigLoader(OVERRIDES_FILE, path=str(root)).load_config())
    config.merge(overrides or Config())
    config.CourseDirectory.root = str(root)
    return config


def write_overrides(root, config):
    """Store a traitlets Config as the course's nbgrader_config.json, which nbgrader reads after its .py file."""
    path = Path(root, OVERRIDES_FILE)
    existing = json.loads(path.read_text()) if path.is_file() else {}
    for section, values in config.items():
        existing.setdefault(section, {}).update(dict(values))
    path.write_text(json.dumps(existing, indent=1, sort_keys=True) + "\n")
    return path


def resolve_data_dir(value, start=None):
    """An absolute Path for a $COURSE_DATA_DIR value. A relative one is relative to the course root (the
    folder with nbgrader_config.py above `start`), so it means the same folder from the course root, from
    a notebook's folder and from the test suite; with no course root above, it is refused."""
    path = Path(value).expanduser()
    if path.is_absolute():
        return path.resolve()
    root = find_root(start)
    if root is None:
        raise DatasetError(f"{DATA_ENV}={value!r} is a relative path, and no course root (a folder with "
                           f"nbgrader_config.py) is above {Path(start or os.getcwd()).resolve()} to resolve it "
                           f"against: give an absolute path, e.g. export {DATA_ENV}=\"$PWD/{value}\" in the "
                           f"folder it is relative to.")
    return (root / path).resolve()


def absolute_data_dir(root, env=None):
    """Make $COURSE_DATA_DIR in `env` (default: this process's environment) absolute, relative to `root`."""
    env = os.environ if env is None else env
    if env.get(DATA_ENV):
        env[DATA_ENV] = str(resolve_data_dir(env[DATA_ENV], start=root))
    return env


def with_tools(env=None):
    """A copy of the environment (default: this process's) with this interpreter's scripts folder first on PATH."""
    env = dict(os.environ if env is None else env)
    scripts = str(Path(sys.executable).parent)
    if env.get("PATH", "").split(os.pathsep)[0] != scripts:
        env["PATH"] = os.pathsep.join([scripts, env.get("PATH", "")])
    return env


def put_tools_on_path():
    """This interpreter's scripts folder first on this process's PATH (for the tools nbgrader runs by name)."""
    os.environ["PATH"] = with_tools()["PATH"]


# nbgrader 0.9's `Gradebook.add_submission` (every autograded submission) builds its SubmittedAssignment and
# SubmittedNotebook rows linked to rows of the session, then queries before adding them: SQLAlchemy 2 warns
# "Object of type <SubmittedAssignment> not in session, add operation along 'Assignment.submissions' will
# not proceed" from its autoflush, and nbgrader adds the rows right after, so nothing is lost. Only this
# message is filtered: any other SQLAlchemy warning still shows.
NBGRADER_AUTOFLUSH_WARNING = (r"Object of type <Submitted(Assignment|Notebook)> not in session, add operation along "
                              r"'(Assignment|Student|Notebook)\.submissions' will not proceed")


def quiet_known_warnings():
    """Filter, in this process, the third-party warnings the course cannot fix where they start (above)."""
    try:
        from sqlalchemy.exc import SAWarning
    except ImportError:   # no SQLAlchemy, no nbgrader gradebook: nothing to filter
        return
    warnings.filterwarnings("ignore", message=NBGRADER_AUTOFLUSH_WARNING, category=SAWarning)


# jsonschema (which nbformat and so nbgrader import) compiles a grammar for its "iri" string format when the
# optional `rfc3987_syntax` is installed (jupyter-events pulls it in): 1.3 s of every process that imports
# nbgrader, paid twice at each `dl-course grade` (main process, each worker). Notebook schemas use no string
# format, and jsonschema skips a format whose checker is missing, as documented; so the course's own
# processes (the CLI, the grading workers) skip that import. A process that imported it already keeps it.
UNUSED_FORMAT_GRAMMAR = "rfc3987_syntax"


def skip_unused_format_grammar():
    """Make `import rfc3987_syntax` an ImportError in this process unless it was imported already (above)."""
    sys.modules.setdefault(UNUSED_FORMAT_GRAMMAR, None)


# The exchange root: writable by its owner only (nbgrader makes it 0777, which lets any student rename the course's
# folder away and put one of their own in its place; course.grading.exchange has the whole layout).
EXCHANGE_MODE = 0o755
# nbgrader's exchange steps, each replaced by the course's (course/grading/exchange.py) through nbgrader's
# `c.ExchangeFactory`: the course's nbgrader_config.py and the hub's shared one both use `use_course_exchange`.
EXCHANGE_PLUGINS = {"list": "CourseList", "fetch_assignment": "CourseFetchAssignment",
                    "fetch_feedback": "CourseFetchFeedback", "release_assignment": "CourseReleaseAssignment",
                    "release_feedback": "CourseReleaseFeedback", "submit": "CourseSubmit", "collect": "CourseCollect"}


def use_course_exchange(c):
    """Configure nbgrader (the traitlets Config `c` of a config file) to use the course's exchange steps."""
    for step, plugin in EXCHANGE_PLUGINS.items():
        setattr(c.ExchangeFactory, step, f"course.grading.exchange.{plugin}")


def exchange_root(root):
    """The course's exchange: the one its nbgrader_config.json names (a hub's shared exchange, written by
    `dl-course hub up`), else `exchange/` in the course root, which works on one machine out of the box."""
    overrides = Path(root, OVERRIDES_FILE)
    if overrides.is_file():
        named = json.loads(overrides.read_text()).get("Exchange", {}).get("root")
        if named:
            return str(named)
    return os.path.join(str(root), "exchange")


def ensure_exchange(path):
    """Create the exchange root writable by its owner only when it is missing, so that the Formgrader offers
    Release and Collect before anything was released; an exchange root of this account's that others can write
    (made by nbgrader, or by an earlier version of the course) loses those bits. A folder that cannot be created
    (a shared exchange on a hub, made by root) is left alone: every exchange step checks it. Returns whether the
    folder exists now."""
    path = Path(path)
    try:
        if not path.is_dir():
            path.mkdir(parents=True)
            os.chmod(path, EXCHANGE_MODE)
        elif path.stat().st_uid == os.geteuid() and path.stat().st_mode & 0o022:
            os.chmod(path, path.stat().st_mode & ~0o022 & 0o7777)
    except OSError:
        return path.is_dir()
    return True
