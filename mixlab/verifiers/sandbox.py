"""Run untrusted Python (generated code plus its tests) in the strongest sandbox this host offers.

    from mixlab.verifiers.sandbox import run_python, isolation_level
    result = run_python("print(6 * 7)", timeout=3, memory_mb=256)
    result.passed, result.status, result.stdout, result.isolation   # True, "ok", "42\\n", "bwrap"

Every run, whatever the level:
- a fresh run folder: the program's working directory (also its HOME and TMPDIR) is an empty folder inside it,
  deleted afterwards; stdin is /dev/null; the environment is rebuilt from scratch (PATH, HOME, TMPDIR, LANG only,
  nothing of the caller's); the interpreter runs isolated (`-I -S -B`: no site-packages, no PYTHON* variables);
- its own session and process group, under a supervisor (sandbox_runner.py) that is a child subreaper: it enforces
  the wall clock, SIGKILLs every descendant (double-forked and setsid'd ones too) when the program ends or times
  out, and watches the summed RSS of all of them;
- rlimits on the program: RLIMIT_CPU (CPU seconds), RLIMIT_AS (address space), RLIMIT_FSIZE (largest file,
  stdout/stderr included), RLIMIT_CORE = 0, RLIMIT_NOFILE and RLIMIT_NPROC (fork bombs);
- run as root, the whole sandbox runs as its own throwaway uid (one per concurrent run), so file permissions
  protect the host, RLIMIT_NPROC is enforced (root is exempt from it) and counts only this run's processes, and
  leftovers can be found by uid. This needs an interpreter that uid can run: sys.executable, else /usr/bin/python3.
- a Python guard (an audit hook installed before the program runs): refuses sockets, exec/spawn/system/Popen,
  signals to other processes, ctypes, gc introspection, and writes, renames, deletions or metadata changes
  outside the working directory. A determined program can get past a Python-level hook (for instance by
  writing a compiled extension into its working directory and importing it); the levels below are what stops it.

Isolation levels (`isolation_level()` picks the strongest that works here; MIXLAB_SANDBOX_ISOLATION forces one):
- "bwrap" (bubblewrap on PATH, or MIXLAB_BWRAP): new user, pid, net, ipc, uts and cgroup namespaces; the root
  filesystem read-only; private empty /tmp, /var/tmp, /run and /dev; only the working directory writable; no
  capabilities; no nested user namespaces; no network at all; killing the sandbox kills all inside.
- "unshare" (util-linux unshare with unprivileged user namespaces): new user, pid, net, ipc and uts namespaces
  and a private /proc: no network at all and no view of or signals to host processes, everything dies with the
  namespace; files are protected by ordinary permissions (and the guard), so world-writable host folders such as
  /tmp stay writable to code that gets past the guard.
- "rlimits": no namespaces; processes, rlimits and the guard only. Network and file writes are stopped by the
  guard alone (plus file permissions when run as root), which is bypassable. As a non-root user RLIMIT_NPROC
  counts all of that user's processes, so the limit is set to their current count plus `max_processes`.
"""

from __future__ import annotations

import ast
import os
import queue
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

LEVELS = ("bwrap", "unshare", "rlimits")
LEVEL_SUMMARY = {
    "bwrap": "bwrap: user/pid/net/ipc/uts namespaces, read-only filesystem except the work dir, rlimits, guard",
    "unshare": "unshare: user/pid/net/ipc/uts namespaces (no network), rlimits, file permissions, guard",
    "rlimits": "rlimits: process limits, file permissions and a Python guard only (no namespaces)",
}
RUNNER = Path(__file__).with_name("sandbox_runner.py")
UID_BASE, UID_SLOTS, PID_SPAN = 1_000_000_000, 64, 1 << 22  # throwaway uids stay below 2**31
STARTUP_ALLOWANCE_S = 10.0  # beyond the program's timeout, before the caller kills the whole sandbox
TAIL_CHARS = 4000
OPEN_FILES = 256
PROCESS_OVERHEAD = 4  # supervisor, bwrap's own processes
SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"


class SandboxUnavailable(RuntimeError):
    """No way to run the sandbox here (no usable interpreter, or a requested isolation level that does not work)."""


@dataclass(frozen=True)
class SandboxResult:
    """How a sandboxed run ended. status: ok | failed | timeout | memory | output_limit | killed | error.

    `completed`: the source ran to its end (False after sys.exit()/os._exit(), even with exit status 0).
    """

    status: str
    returncode: int | None
    stdout: str
    stderr: str
    isolation: str
    wall_s: float
    cpu_s: float | None
    run_id: str  # appears in the command line of every process of the run
    completed: bool = False

    @property
    def passed(self) -> bool:
        return self.status == "ok"


def run_python(source: str, *, timeout: float = 10.0, memory_mb: int = 512, max_processes: int = 16,
               max_output_bytes: int = 1 << 20, isolation: str | None = None, guard: bool = True) -> SandboxResult:
    """Run `source` as `__main__` in a sandbox; never raises for anything the program does."""
    if timeout <= 0 or memory_mb <= 0 or max_processes <= 0 or max_output_bytes <= 0:
        raise ValueError("timeout, memory_mb, max_processes and max_output_bytes must be positive")
    level = isolation or isolation_level()
    if level not in LEVELS:
        raise ValueError(f"unknown isolation level {level!r} (known: {', '.join(LEVELS)})")
    with sandbox_uid() as uid:
        run_dir = make_run_dir(source, uid)
        try:
            return launch(run_dir, level, uid, timeout=timeout, memory_mb=memory_mb, max_processes=max_processes,
                          max_output_bytes=max_output_bytes, guard=guard)
        finally:
            remove_tree(run_dir)


# ---------------------------------------------------------------- identity and interpreter


_free_slots: queue.Queue = queue.Queue()
for _slot in range(UID_SLOTS):
    _free_slots.put(_slot)


@contextmanager
def sandbox_uid():
    """A throwaway uid for one run when running as root (unique per process and concurrent run), else None."""
    if os.geteuid() != 0:
        yield None
        return
    slot = _free_slots.get()
    try:
        yield UID_BASE + (os.getpid() % PID_SPAN) * UID_SLOTS + slot
    finally:
        _free_slots.put(slot)


_cache: dict = {}
_cache_lock = threading.Lock()
_probe_lock = threading.Lock()  # separate: probing runs the sandbox, which takes _cache_lock


def sandbox_python() -> str:
    """The interpreter the sandbox runs: ours, unless we are root and the throwaway uid cannot execute it."""
    with _cache_lock:
        if "python" not in _cache:
            _cache["python"] = find_python()
        return _cache["python"]


def find_python() -> str:
    if os.geteuid() != 0:
        return sys.executable
    candidates = [sys.executable, "/usr/bin/python3", "/usr/local/bin/python3", shutil.which("python3")]
    probe_uid = UID_BASE - 1
    for candidate in dict.fromkeys(c for c in candidates if c):
        try:
            check = "import os, resource, select; os.waitstatus_to_exitcode"
            done = subprocess.run([candidate, "-I", "-S", "-c", check],
                                  user=probe_uid, group=probe_uid, extra_groups=[], cwd="/", env={},
                                  stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            continue
        if done.returncode == 0:
            return candidate
    raise SandboxUnavailable("running as root, but no Python interpreter is executable by an unprivileged uid "
                             f"(tried {', '.join(c for c in candidates if c)})")


# ---------------------------------------------------------------- isolation levels


def bwrap_path() -> str | None:
    return os.environ.get("MIXLAB_BWRAP") or shutil.which("bwrap")


def available_levels() -> tuple[str, ...]:
    """The isolation levels that really work on this host, strongest first (probed once, each with a real run)."""
    with _probe_lock:
        if "levels" not in _cache:
            _cache["levels"] = tuple(level for level in LEVELS if probe(level))
        return _cache["levels"]


def probe(level: str) -> bool:
    if level == "bwrap" and not bwrap_path():
        return False
    if level == "unshare" and not shutil.which("unshare"):
        return False
    result = run_python("print('sandbox ok')", timeout=20, memory_mb=256, isolation=level)
    works = result.status == "ok" and result.stdout.strip() == "sandbox ok"
    if level == "rlimits" and not works:  # the baseline must work, or no code can be checked here
        raise SandboxUnavailable(f"the code sandbox does not run on this host ({result.status}): "
                                 f"{result.stderr.strip()[-500:]}")
    return works


def isolation_level() -> str:
    """The level runs use by default: MIXLAB_SANDBOX_ISOLATION when set (it must work here), else the strongest."""
    levels = available_levels()
    forced = os.environ.get("MIXLAB_SANDBOX_ISOLATION")
    if forced:
        if forced not in levels:
            raise SandboxUnavailable(f"MIXLAB_SANDBOX_ISOLATION={forced} does not work on this host "
                                     f"(available: {', '.join(levels)})")
        return forced
    return levels[0]


def describe_isolation(level: str | None = None) -> str:
    """One line naming the active level and what it enforces."""
    level = level or isolation_level()
    who = "a throwaway uid" if os.geteuid() == 0 else f"uid {os.geteuid()}"
    return f"{LEVEL_SUMMARY[level]}; runs as {who}"


def wrapper_command(level: str, run_dir: Path, work: Path, uid: int | None) -> list[str]:
    """The namespace launcher put in front of the supervisor (nothing for "rlimits")."""
    if level == "bwrap":
        return [bwrap_path(), "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
                "--as-pid-1", "--new-session", "--hostname", "sandbox", "--ro-bind", "/", "/", "--dev", "/dev",
                "--proc", "/proc", "--tmpfs", "/tmp", "--tmpfs", "/var/tmp", "--tmpfs", "/run",
                "--ro-bind", str(run_dir), str(run_dir), "--bind", str(work), str(work), "--chdir", str(work)]
    if level == "unshare":
        inner = os.getuid() if uid is None else uid
        inner_gid = os.getgid() if uid is None else uid
        return [shutil.which("unshare"), "--user", f"--map-user={inner}", f"--map-group={inner_gid}", "--net",
                "--pid", "--fork", "--kill-child", "--mount-proc", "--ipc", "--uts"]
    return []


# ---------------------------------------------------------------- one run


def make_run_dir(source: str, uid: int | None) -> Path:
    """RUN/ (readable, not writable, by the sandbox) with runner.py and solution.py, and RUN/work/ (its cwd)."""
    run_dir = Path(tempfile.mkdtemp(prefix="mixlab-sandbox-", dir=run_base(uid)))
    run_dir.chmod(0o755)
    shutil.copyfile(RUNNER, run_dir / "runner.py")
    (run_dir / "solution.py").write_text(source, encoding="utf-8")
    work = run_dir / "work"
    work.mkdir(mode=0o700)
    if uid is not None:
        os.chown(work, uid, uid)
    return run_dir


def run_base(uid: int | None) -> str:
    """Where run folders go: the temp dir, unless a throwaway uid could not reach it (then /tmp)."""
    base = tempfile.gettempdir()
    if uid is None:
        return base
    for candidate in (base, "/tmp"):
        path = Path(candidate).resolve()
        if all(os.stat(folder).st_mode & 0o001 for folder in (path, *path.parents)):
            return str(path)
    raise SandboxUnavailable(f"no temp folder the sandbox's throwaway uid can enter (TMPDIR={base})")


def process_limit(level: str, uid: int | None, max_processes: int) -> int:
    """RLIMIT_NPROC for the program: its own budget where the count is per run, else the user's count plus it."""
    if uid is not None or level != "rlimits":
        return max_processes + PROCESS_OVERHEAD
    return sum(tasks_of_uid(os.getuid()).values()) + max_processes + PROCESS_OVERHEAD


def tasks_of_uid(uid: int) -> dict[int, int]:
    """{pid: threads} of every process whose real uid is `uid` (RLIMIT_NPROC counts threads)."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue  # /proc/self and friends
        try:
            with open(f"/proc/{entry}/status", encoding="utf-8", errors="replace") as handle:
                status = dict(line.split(":\t", 1) for line in handle.read().splitlines() if ":\t" in line)
        except (OSError, ValueError):
            continue  # gone meanwhile
        if status.get("Uid", "").split()[:1] == [str(uid)]:
            found[int(entry)] = int(status.get("Threads", "1"))
    return found


def launch(run_dir: Path, level: str, uid: int | None, *, timeout: float, memory_mb: int, max_processes: int,
           max_output_bytes: int, guard: bool) -> SandboxResult:
    work = run_dir / "work"
    python = sandbox_python()
    report_read, report_write = os.pipe()
    config = {"timeout": timeout, "memory_bytes": memory_mb << 20, "report_fd": report_write, "guard": guard,
              "subreaper": level == "rlimits",
              "solution": str(run_dir / "solution.py"), "work": str(work),
              "limits": {"RLIMIT_AS": memory_mb << 20, "RLIMIT_CPU": max(1, int(timeout + 0.999)),
                         "RLIMIT_FSIZE": max_output_bytes, "RLIMIT_CORE": 0, "RLIMIT_NOFILE": OPEN_FILES,
                         "RLIMIT_NPROC": process_limit(level, uid, max_processes)}}
    command = [*wrapper_command(level, run_dir, work, uid), python, "-I", "-S", "-B", "-X", "utf8",
               str(run_dir / "runner.py"), "supervise", repr(config)]
    env = {"PATH": SAFE_PATH, "HOME": str(work), "TMPDIR": str(work), "LANG": "C.UTF-8"}
    identity = {}
    if uid is not None and shutil.which("setpriv"):
        # Popen(user=...) forks the whole caller (slow from a multi-GB trainer); without it Popen uses vfork
        command = [shutil.which("setpriv"), f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--", *command]
    elif uid is not None:
        identity = {"user": uid, "group": uid, "extra_groups": []}
    started = time.monotonic()
    try:
        with open(run_dir / "stdout", "wb") as out, open(run_dir / "stderr", "wb") as err:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=work, env=env,
                                       pass_fds=(report_write,), start_new_session=True, **identity)
        os.close(report_write)
        report_write = None
        hard_killed = wait_or_kill(process, timeout + STARTUP_ALLOWANCE_S)
        report = read_report(report_read)
    finally:
        os.close(report_read)
        if report_write is not None:
            os.close(report_write)
    if report is None:
        kill_leftovers(process.pid, uid)
    stdout, stderr = tail(run_dir / "stdout"), tail(run_dir / "stderr")
    capped = any((run_dir / name).stat().st_size >= max_output_bytes for name in ("stdout", "stderr"))
    status, returncode = classify(report, stderr, hard_killed, capped, config["limits"]["RLIMIT_CPU"])
    return SandboxResult(status=status, returncode=returncode, stdout=stdout, stderr=stderr, isolation=level,
                         wall_s=round(time.monotonic() - started, 4), cpu_s=(report or {}).get("cpu_s"),
                         run_id=run_dir.name, completed=bool((report or {}).get("completed")))


def wait_or_kill(process: subprocess.Popen, limit: float) -> bool:
    """Wait for the sandbox; past `limit` kill its whole process group. True when it had to be killed."""
    deadline = time.monotonic() + limit
    try:
        with os.fdopen(os.pidfd_open(process.pid)) as pidfd:  # wakes at the exit; Popen.wait polls every 50 ms
            select.select([pidfd], [], [], limit)
    except (AttributeError, OSError):
        pass
    try:
        process.wait(timeout=max(0.01, deadline - time.monotonic()))
        return False
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()
        return True


def read_report(fd: int) -> dict | None:
    """The supervisor's report, or None when it died before writing one (never blocks)."""
    os.set_blocking(fd, False)
    data = b""
    try:
        while chunk := os.read(fd, 65536):
            data += chunk
    except BlockingIOError:
        pass  # a leftover process still holds the pipe open
    try:
        return ast.literal_eval(data.decode()) if data else None
    except (ValueError, SyntaxError, UnicodeDecodeError):
        return None


def kill_leftovers(pgid: int, uid: int | None) -> None:
    """The supervisor did not finish its own cleanup: kill its process group and, as root, everything of the uid."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for _ in range(100 if uid is not None else 0):
        pids = tasks_of_uid(uid)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.01)


def classify(report: dict | None, stderr: str, hard_killed: bool, capped: bool,
             cpu_limit: int) -> tuple[str, int | None]:
    """(status, returncode) from the supervisor's report; `capped`: stdout or stderr reached RLIMIT_FSIZE."""
    if report is None:
        return ("timeout" if hard_killed else "error"), None
    if report["outcome"] in ("timeout", "memory"):
        return report["outcome"], None
    code = report["returncode"]
    if code == 0:
        return "ok", code
    if code == -signal.SIGXCPU or (code == -signal.SIGKILL and report.get("cpu_s", 0) >= cpu_limit):
        return "timeout", code  # the CPU-time limit: SIGXCPU at the soft limit, SIGKILL at the hard one
    if code == -signal.SIGXFSZ or capped:
        return "output_limit", code  # Python ignores SIGXFSZ: the write fails with EFBIG instead
    if code < 0:
        return "killed", code
    if "MemoryError" in stderr[-1000:]:
        return "memory", code
    return "failed", code


def tail(path: Path) -> str:
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        handle.seek(max(0, handle.tell() - 4 * TAIL_CHARS))
        return handle.read().decode("utf-8", "replace")[-TAIL_CHARS:]


def remove_tree(path: Path) -> None:
    """Delete a run folder even where the program removed its own permissions on subfolders."""
    for root, dirs, _ in os.walk(path):
        for name in dirs:
            try:
                os.chmod(os.path.join(root, name), 0o700, follow_symlinks=False)
            except OSError:
                pass
    shutil.rmtree(path, ignore_errors=True)
