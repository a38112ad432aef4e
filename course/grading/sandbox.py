"""Stage *execute*, part 1: every grading kernel runs inside a bubblewrap sandbox.

`SandboxedKernelManager` is a jupyter_client kernel manager (the `Execute` preprocessor of
`course.grading.execute` uses it) that starts ipykernel under `bwrap`:

- no network (its own network namespace); the notebook client talks to it over ZeroMQ IPC
  sockets in a private folder that is the only thing it shares with the grader;
- its own PID namespace (nothing outlives the kernel; the grader cannot be seen or signalled),
  its own IPC and UTS namespaces, a new session (no terminal injection);
- a file system of its own: read-only the system (`/usr`, `/etc` ...), the Python environment,
  the course package and the dataset mirror or Keras cache; writable only a private copy of the
  submission's folder (at `/submission`, without any notebook) and a size-capped `/tmp`. The
  course root (gradebook, `source/`, `release/`, every student's files, `nbgrader_config.py`)
  does not exist in there;
- as root, the kernel drops to an unprivileged user of its own (one uid per grading process),
  so that the process limit counts only its own processes; as a normal user, bubblewrap's user
  namespace does the same;
- resource limits: processes (`RLIMIT_NPROC`), address space per process (`RLIMIT_AS`), file
  size, no core files, and a watchdog that kills the sandbox when the resident memory of all
  its processes together passes `memory_limit`.

`c.Sandbox.enabled = False` in `nbgrader_config.py` runs kernels the way nbgrader does (with the
grader's rights in the course root). That is unsafe and only meant for a machine where
bubblewrap cannot run; `RequireSandbox` stops grading with a message otherwise.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from functools import lru_cache
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, Float, Integer, List, Unicode
from traitlets.config import Configurable

from nbgrader.preprocessors import NbGraderPreprocessor

INSTALL_HINT = ("install the Debian/Ubuntu package `bubblewrap` (sudo apt-get install bubblewrap), "
                "or set `c.Sandbox.enabled = False` in nbgrader_config.py to grade without a sandbox "
                "(unsafe: student code then runs with your rights in the course root)")
WORKDIR = "/submission"        # the kernel's working directory inside the sandbox
HOME = "/tmp/home"             # its home (inside the private /tmp)
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
HIDDEN_SYSTEM_DIRS = ("/etc/jupyter",)   # system-wide Jupyter/nbgrader configuration
PACKAGE_DIR = "/opt/dl-course"   # the grader's `course` package is bound at PACKAGE_DIR/course, first on the path


class SandboxUnavailable(SystemExit):
    """bubblewrap is missing or cannot start a sandbox here: grading stops (a SystemExit, so that
    nbgrader does not go on to the next student with the same failure)."""


def parse_size(text):
    """Bytes in a size such as "4G", "512M", "1.5G" or "1000000" (binary units)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)i?[bB]?\s*", str(text))
    if not match:
        raise ValueError(f"size {text!r}: expected a number of bytes or a number followed by K, M, G or T")
    number, unit = float(match.group(1)), match.group(2).upper()
    return int(number * 1024 ** " KMGT".index(unit or " "))


@lru_cache(maxsize=None)
def bwrap_problem(bwrap="bwrap", user=None):
    """None when `bwrap` can start a sandbox with the namespaces grading uses, else why not; `user`: as that
    (unprivileged) account instead of this process (root may ask for a grader's, e.g. `dl-course hub up`)."""
    path = shutil.which(bwrap)
    if path is None:
        return f"bubblewrap (`{bwrap}`) is not installed"
    args = [path, "--ro-bind", "/", "/", "--unshare-pid", "--unshare-net", "--die-with-parent"]
    if user is not None:
        args = ["runuser", "-u", user, "--", *args, "--unshare-user"]
    elif os.geteuid() != 0:
        args.append("--unshare-user")
    try:
        proc = subprocess.run([*args, "true"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"`{path}` could not be run: {error}"
    if proc.returncode != 0:
        return f"`{path}` cannot create a sandbox here: {proc.stderr.strip() or proc.returncode}"
    return None


class Sandbox(Configurable):
    """Settings of the grading sandbox (`c.Sandbox.*` in nbgrader_config.py)."""

    enabled = Bool(True, help="Run every grading kernel in a bubblewrap sandbox. False is unsafe: student "
                              "code then runs with the grader's rights in the course root.").tag(config=True)
    bwrap = Unicode("bwrap", help="The bubblewrap executable.").tag(config=True)
    memory_limit = Unicode("6G", help="Resident memory of all the sandbox's processes together; the sandbox "
                                      "is killed above it (the heaviest exercise peaks near 1.1 GiB).").tag(config=True)
    address_space_limit = Unicode("24G", help="RLIMIT_AS of each process in the sandbox (TensorFlow reserves "
                                              "address space well beyond what it uses).").tag(config=True)
    max_processes = Integer(512, help="RLIMIT_NPROC: processes and threads of the sandbox's user "
                                      "(TensorFlow starts a few dozen threads per core).").tag(config=True)
    tmp_size = Unicode("1G", help="Size of the sandbox's private /tmp (memory-backed).").tag(config=True)
    file_size_limit = Unicode("1G", help="RLIMIT_FSIZE: the largest file the kernel may write.").tag(config=True)
    watchdog_interval = Float(0.25, help="Seconds between two checks of the sandbox's memory.").tag(config=True)
    uid_base = Integer(200000, help="When grading as root, kernels run as uid uid_base + (grader pid mod "
                                    "100000): unprivileged and one per grading process.").tag(config=True)
    read_only_paths = List(Unicode(), help="More paths the kernel may read (bound read-only at the same "
                                           "place), e.g. a dataset cache elsewhere.").tag(config=True)
    pass_env = List(Unicode(), [
        "LANG", "LC_ALL", "TZ", "MPLBACKEND", "TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS",
        "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "KERAS_BACKEND", "PYTHONHASHSEED", "PYTHONWARNINGS", "CUDA_VISIBLE_DEVICES",
        "NBGRADER_EXECUTION", "COURSE_DATA_DIR",
    ], help="Environment variables passed into the sandbox; everything else is cleared.").tag(config=True)

    # ------------------------------------------------------------------ what the kernel may read

    def _data_paths(self, env):
        """Dataset locations the notebooks read: the $COURSE_DATA_DIR mirror and the Keras cache."""
        paths = []
        mirror = _mirror(env)
        if mirror and mirror.is_dir():
            paths.append(str(mirror))
        keras_datasets = Path(env.get("KERAS_HOME") or Path.home() / ".keras") / "datasets"
        if keras_datasets.is_dir():
            paths.append(str(keras_datasets.resolve()))
        return paths

    def python_paths(self):
        """The Python environment the kernel runs in (the course package is bound apart: `grader_package`):
        the interpreter's prefixes and every site-packages folder on the path (an environment may add another
        one's, e.g. a shared interpreter over the course's packages). Never the course root."""
        paths = {sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix,
                 str(Path(os.path.realpath(sys.executable)).parent.parent),
                 *(p for p in sys.path if Path(p).name in ("site-packages", "dist-packages"))}
        return sorted(p for p in paths if Path(p).is_dir())

    def read_only(self, env):
        """Every path bound read-only, deduplicated (a path inside another one is dropped)."""
        wanted = sorted({os.path.realpath(p) for p in [*self.python_paths(), *self._data_paths(env),
                                                       *self.read_only_paths] if Path(p).exists()})
        kept = []
        for path in wanted:
            if not any(path == k or path.startswith(k + os.sep) for k in kept):
                kept.append(path)
        return kept

    # ------------------------------------------------------------------ a sandbox's own folders and user

    @staticmethod
    def private_folder(prefix):
        """A new folder for one sandboxed process: `s/` (connection file and sockets), `work/` (its working
        directory) and `home/` with the caches IPython, matplotlib and Keras write. Kept short: Unix socket paths
        are limited to about 100 characters."""
        base = tempfile.gettempdir() if len(tempfile.gettempdir()) < 40 else "/tmp"
        private = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
        for folder in ("s", "work", "home/.cache", "home/.config/matplotlib", "home/.keras/datasets"):
            (private / folder).mkdir(parents=True)
        return private

    def uid(self):
        """The unprivileged uid a sandboxed process drops to when grading as root (None otherwise): one per grading
        process, so that the process limit counts only its own processes."""
        return self.uid_base + os.getpid() % 100000 if os.geteuid() == 0 else None

    @staticmethod
    def hand_over(private, uid):
        """Give a private folder to the uid its process runs as (nothing to do when not grading as root)."""
        if uid is not None:
            for path in [private, *private.rglob("*")]:
                os.chown(path, uid, uid)

    # ------------------------------------------------------------------ the command line

    def command(self, kernel_cmd, workdir, sockdir, home, env, uid=None):
        """The bwrap command line that runs `kernel_cmd` in the sandbox.

        workdir: folder bound writable at /submission (the kernel's working directory);
        sockdir: folder with the connection file and IPC sockets, bound writable at the same path;
        home: an empty folder bound writable as the kernel's home (IPython, matplotlib and font caches);
        env: the environment the kernel would have had (filtered by `pass_env`);
        uid: when set (grading as root), the kernel drops to this uid/gid after the sandbox is made.
        """
        bwrap = shutil.which(self.bwrap) or self.bwrap
        args = [bwrap, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
                "--unshare-cgroup-try", "--hostname", "grading", "--die-with-parent", "--new-session"]
        if uid is None:
            args.append("--unshare-user")
        for path in SYSTEM_DIRS:
            if os.path.islink(path):
                args += ["--symlink", os.readlink(path), path]
            elif os.path.isdir(path):
                args += ["--ro-bind", path, path]
        for path in HIDDEN_SYSTEM_DIRS:
            if os.path.isdir(path):
                args += ["--tmpfs", path]
        # The private /tmp comes before the read-only binds, so that a course, a data mirror or a Python
        # environment that lives under /tmp stays visible on top of it.
        args += ["--proc", "/proc", "--dev", "/dev",
                 "--perms", "1777", "--size", str(parse_size(self.tmp_size)), "--tmpfs", "/tmp"]
        made = {"/tmp"}

        def parents(path):
            out = []
            parts = Path(path).parts
            for i in range(2, len(parts)):
                parent = str(Path(*parts[:i]))
                if parent not in made and parent not in SYSTEM_DIRS:
                    made.add(parent)
                    out += ["--perms", "0755", "--dir", parent]
            return out

        for path in self.read_only(env):
            args += [*parents(path), "--ro-bind", path, path]
        # The `course` package this grading process imported, whatever the kernel's Python would find
        # (another checkout installed in the environment, or none): bound alone and first on the path.
        args += [*parents(f"{PACKAGE_DIR}/course"), "--ro-bind", str(grader_package()), f"{PACKAGE_DIR}/course"]
        args += ["--bind", str(home), HOME,
                 *parents(str(sockdir)), "--bind", str(sockdir), str(sockdir),
                 "--bind", str(workdir), WORKDIR, "--chdir", WORKDIR]
        kernel_env = {name: env[name] for name in self.pass_env if name in env}
        if "COURSE_DATA_DIR" in kernel_env and _mirror(env):
            kernel_env["COURSE_DATA_DIR"] = str(_mirror(env))
        kernel_env.update({
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
            "HOME": HOME, "TMPDIR": "/tmp", "MPLCONFIGDIR": f"{HOME}/.config/matplotlib",
            "XDG_CACHE_HOME": f"{HOME}/.cache",
            "PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": PACKAGE_DIR,
        })
        keras_datasets = Path(env.get("KERAS_HOME") or Path.home() / ".keras") / "datasets"
        if keras_datasets.is_dir():   # the cache is bound where the kernel's Keras looks for it
            args += ["--ro-bind", str(keras_datasets.resolve()), f"{HOME}/.keras/datasets"]
        for cache in matplotlib_font_caches():   # so that matplotlib does not rebuild it in every kernel
            args += ["--ro-bind", str(cache), f"{HOME}/.config/matplotlib/{cache.name}"]
        args.append("--clearenv")
        for name, value in sorted(kernel_env.items()):
            args += ["--setenv", name, value]
        limits = {"RLIMIT_NPROC": self.max_processes, "RLIMIT_AS": parse_size(self.address_space_limit),
                  "RLIMIT_FSIZE": parse_size(self.file_size_limit), "RLIMIT_CORE": 0}
        trampoline = json.dumps({"limits": limits, "uid": uid})
        return [*args, "--", sys.executable, "-S", "-c", TRAMPOLINE, trampoline, *kernel_cmd]


def grader_package():
    """The folder of the `course` package that this grading process imported."""
    import course

    return Path(course.__file__).resolve().parent


def _mirror(env):
    """The dataset mirror of $COURSE_DATA_DIR as an absolute path (relative: to the course root), or None."""
    from course.coursedir import DatasetError, resolve_data_dir

    try:
        return resolve_data_dir(env["COURSE_DATA_DIR"]) if env.get("COURSE_DATA_DIR") else None
    except DatasetError:
        return None


def matplotlib_font_caches():
    """The grader's matplotlib font-list caches (built once; without them every kernel rebuilds one)."""
    try:
        import matplotlib

        return sorted(Path(matplotlib.get_cachedir()).glob("fontlist-*.json"))
    except Exception:   # noqa: BLE001 - no matplotlib, no cache: the kernel builds its own
        return []


# Runs first inside the sandbox: set the limits, drop root, then become the kernel.
TRAMPOLINE = """\
import json, os, resource, sys
spec = json.loads(sys.argv[1])
for name, value in spec["limits"].items():
    resource.setrlimit(getattr(resource, name), (value, value))
if spec["uid"] is not None and os.getuid() == 0:
    os.setgroups([]); os.setgid(spec["uid"]); os.setuid(spec["uid"])
os.execv(sys.argv[2], sys.argv[2:])
"""


class SandboxedKernelManager(AsyncKernelManager):
    """An AsyncKernelManager whose kernels run in the bubblewrap sandbox described above.

    `death_reason` says why the sandbox was killed from outside (memory limit), for the
    executor's message; interrupts go as messages (a signal would reach bwrap, not the kernel).
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.sandbox = Sandbox(parent=self)
        self.transport = "ipc"
        self.death_reason = None
        self.peak_memory = 0
        self._private = None
        self._watchdog = None

    async def _async_pre_start_kernel(self, **kw):
        problem = bwrap_problem(self.sandbox.bwrap)
        if problem:
            raise SandboxUnavailable(f"Grading stopped: {problem}. To grade, {INSTALL_HINT}.")
        self._private = self.sandbox.private_folder("dl-kernel-")
        sockdir, workdir = self._private / "s", self._private / "work"
        copy_submission_files(Path(kw.get("cwd") or os.getcwd()), workdir)
        self.ip = str(sockdir / "k")
        self.connection_file = str(sockdir / "connection.json")
        self.death_reason = None
        return await super()._async_pre_start_kernel(**kw)

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        sockdir, workdir, home = self._private / "s", self._private / "work", self._private / "home"
        uid = self.sandbox.uid()
        self.sandbox.hand_over(self._private, uid)
        env = dict(kw.get("env") or os.environ)
        kw["env"] = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        kw["cwd"] = str(self._private)
        kw["stdout"] = subprocess.DEVNULL   # ipykernel's console banner; errors still reach stderr
        cmd = self.sandbox.command(kernel_cmd, workdir, sockdir, home, env, uid=uid)
        self.log.debug("Sandboxed kernel: %s", cmd)
        await super()._async_launch_kernel(cmd, **kw)
        self._start_watchdog()

    def _start_watchdog(self):
        """Poll the resident memory of the sandbox's processes; kill it above memory_limit."""
        import psutil

        limit = parse_size(self.sandbox.memory_limit)
        process = getattr(self.provisioner, "process", None)
        if process is None:
            return
        self.peak_memory = 0
        stop = threading.Event()

        def watch():
            try:
                root = psutil.Process(process.pid)
            except psutil.Error:
                return
            while not stop.wait(self.sandbox.watchdog_interval):
                try:
                    total = sum(p.memory_info().rss for p in root.children(recursive=True))
                except psutil.Error:
                    continue
                self.peak_memory = max(self.peak_memory, total)
                if total > limit:
                    self.death_reason = (f"the kernel used more than the memory limit of "
                                         f"{self.sandbox.memory_limit} and was stopped")
                    try:
                        os.kill(process.pid, signal.SIGKILL)
                    except OSError:
                        pass
                    return
                if process.poll() is not None:
                    return

        self._watchdog = (stop, threading.Thread(target=watch, name="sandbox-watchdog", daemon=True))
        self._watchdog[1].start()

    async def _async_interrupt_kernel(self):
        if self.has_kernel:
            msg = self.session.msg("interrupt_request", content={})
            self._connect_control_socket()
            self.session.send(self._control_socket, msg)

    async def _async_cleanup_resources(self, restart=False):
        if self._watchdog:
            self._watchdog[0].set()
            self._watchdog = None
        await super()._async_cleanup_resources(restart=restart)
        if self._private and not restart:
            shutil.rmtree(self._private, ignore_errors=True)
            self._private = None

    # AsyncKernelManager binds these public names to the base class's coroutines: rebind them here.
    interrupt_kernel = _async_interrupt_kernel
    cleanup_resources = _async_cleanup_resources


def copy_submission_files(folder, target, max_files=1000, max_bytes=200 << 20):
    """Copy the files of a submission's folder that a notebook may read (data files the student
    submitted or the instructor provided) into `target`: never a notebook (the kernel must not read
    the sanitized notebook with its hidden tests), never a link, never a top-level `course` package or
    module (it would come before the grader's on the kernel's path), at most `max_files` files and
    `max_bytes` bytes; `target` itself (when inside `folder`) is skipped."""
    target.mkdir(parents=True, exist_ok=True)
    if not folder.is_dir():
        return
    count = size = 0
    skip = {target.resolve(), target.resolve().parent}
    for root, dirs, files in os.walk(folder):
        root = Path(root)
        top = root == folder
        dirs[:] = [d for d in dirs if not d.startswith(".ipynb_checkpoints") and (root / d).resolve() not in skip
                   and not (root / d).is_symlink() and not (top and d == "course")]
        for name in files:
            path = root / name
            if path.suffix == ".ipynb" or path.is_symlink() or not path.is_file() or (top and name.startswith("course.")):
                continue
            count, size = count + 1, size + path.stat().st_size
            if count > max_files or size > max_bytes:
                return
            destination = target / path.relative_to(folder)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)


class RequireSandbox(NbGraderPreprocessor):
    """First autograde step: stop at once, with the package to install, when kernels cannot be
    sandboxed (unless `c.Sandbox.enabled = False`)."""

    def preprocess(self, nb, resources):
        sandbox = Sandbox(parent=self)
        if sandbox.enabled:
            problem = bwrap_problem(sandbox.bwrap)
            if problem:
                raise SandboxUnavailable(f"Grading stopped: {problem}. To grade, {INSTALL_HINT}.")
        else:
            self.log.warning("c.Sandbox.enabled is False: student code runs unsandboxed, with your rights "
                             "in the course root (unsafe)")
        return nb, resources
