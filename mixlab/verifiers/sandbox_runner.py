"""Inside the code sandbox: a supervisor that runs the untrusted program under a guard, then kills all it started.

Not imported by mixlab: `mixlab/verifiers/sandbox.py` copies this file into each run's folder and starts it as

    python -I -S -B -X utf8 RUN/runner.py supervise CONFIG

The supervisor is pid 1 of the sandbox's pid namespace, or else a child subreaper, so orphaned descendants come
back to it. It forks the program's process, which sets the rlimits, installs the Python guard (an audit hook, see
`install_guard`) and runs RUN/solution.py as a fresh `__main__` module. The supervisor enforces the wall clock and
an aggregate memory budget (RSS summed over all descendants), then SIGKILLs every descendant until none is left
and writes its report (a dict's repr) to the inherited pipe CONFIG["report_fd"]. Standard library only (`-S`).
"""

import os
import resource
import select
import sys
import time

PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
WATCH_INTERVAL_S = 0.1
KILL_ROUNDS = 200
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
SIGKILL = 9  # Linux; importing `signal` pulls in enum, 20 ms of every run


def main(argv: list[str]) -> None:
    if argv[1:2] != ["supervise"]:
        raise SystemExit("usage: runner.py supervise CONFIG")
    # CONFIG is the repr() of a dict of literals written by sandbox.py; json would cost 30 ms of imports per run
    supervise(eval(argv[2], {"__builtins__": {}}))


# ---------------------------------------------------------------- supervisor


def prctl(option: int, value: int) -> None:
    """Best effort prctl(2) through libc: without it the sandbox still works, orphans just escape to init."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def supervise(config: dict) -> None:
    if config["subreaper"]:  # in a pid namespace we are pid 1 and orphans come to us anyway
        prctl(PR_SET_CHILD_SUBREAPER, 1)
        prctl(PR_SET_DUMPABLE, 0)  # the program (same uid) may not ptrace its supervisor
    report_fd = config["report_fd"]
    os.set_inheritable(report_fd, False)
    done_read, done_write = os.pipe()  # the program's process writes one byte once the source ran to its end
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.close(report_fd)
        os.close(done_read)
        if config["subreaper"]:
            prctl(PR_SET_DUMPABLE, 1)  # the program may read its own /proc files
        run_child(config, done_write)
        return  # the interpreter exits as after any script: atexit, thread joins, traceback and exit code
    os.close(done_write)
    outcome, status, usage = watch(pid, started + config["timeout"], config["memory_bytes"])
    leftovers = kill_descendants()
    os.set_blocking(done_read, False)
    try:
        completed = os.read(done_read, 1) == b"1"
    except BlockingIOError:
        completed = False
    report = {"outcome": outcome, "wall_s": time.monotonic() - started, "leftovers_killed": leftovers,
              "completed": completed}
    if status is not None:
        report["returncode"] = os.waitstatus_to_exitcode(status)
        report["cpu_s"] = usage.ru_utime + usage.ru_stime
    os.write(report_fd, repr(report).encode())
    os.close(report_fd)


def watch(pid: int, deadline: float, memory_bytes: int):
    """Wait for `pid` until `deadline`; ("exited", status, rusage) | ("timeout"|"memory", None, None)."""
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    next_check = time.monotonic() + WATCH_INTERVAL_S
    while True:
        waited, status, usage = os.wait4(pid, os.WNOHANG)
        if waited == pid:
            return "exited", status, usage
        now = time.monotonic()
        if now >= deadline:
            return "timeout", None, None
        if now >= next_check:
            if descendants_rss(descendants()) > memory_bytes:
                return "memory", None, None
            next_check = now + WATCH_INTERVAL_S
        pause = min(deadline, next_check) - now
        if pidfd is None:
            time.sleep(min(pause, 0.005))
        else:
            select.select([pidfd], [], [], pause)


def process_table() -> dict[int, int]:
    """{pid: parent pid} for every process visible in /proc."""
    parents = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue  # exited meanwhile
        fields = stat.rsplit(b")", 1)[1].split()  # the command name may hold spaces and parentheses
        parents[int(entry)] = int(fields[1])
    return parents


def descendants() -> list[int]:
    """Every process below this one (orphans re-parent to us: we are a subreaper or the namespace's init)."""
    children: dict[int, list[int]] = {}
    for pid, parent in process_table().items():
        children.setdefault(parent, []).append(pid)
    found, frontier = [], [os.getpid()]
    while frontier:
        below = children.get(frontier.pop(), [])
        found.extend(below)
        frontier.extend(below)
    return found


def descendants_rss(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm", "rb") as handle:
                total += int(handle.read().split()[1]) * PAGE_BYTES
        except (OSError, IndexError, ValueError):
            continue
    return total


def kill_descendants() -> int:
    """SIGKILL every descendant and reap them, round after round until none is left; how many were killed."""
    if reap():
        return 0  # no child at all means no descendant: orphans would have been re-parented to us
    killed = set()
    for _ in range(KILL_ROUNDS):
        pids = descendants()
        for pid in pids:
            try:
                os.kill(pid, SIGKILL)
                killed.add(pid)
            except ProcessLookupError:
                pass
        reaped_all = reap()
        if not pids and reaped_all:
            break
        time.sleep(0.002)
    return len(killed)


def reap() -> bool:
    """Collect exited children; True when no child is left at all."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return True
        if pid == 0:
            return False


# ---------------------------------------------------------------- the program's process


def run_child(config: dict, done_fd: int) -> None:
    """In the forked program process: rlimits, the guard, then solution.py as `__main__`; `done_fd` gets a byte
    when the source ran to its end (not on sys.exit or os._exit, which would otherwise pass for success)."""
    for name, value in config["limits"].items():
        hard = value + 1 if name == "RLIMIT_CPU" else value  # SIGXCPU at the soft limit, SIGKILL at the hard one
        resource.setrlimit(getattr(resource, name), (value, hard))
    with open(config["solution"], encoding="utf-8") as handle:
        source = handle.read()
    if config["guard"]:
        install_guard(config["work"])
    import types

    module = types.ModuleType("__main__")
    module.__file__ = config["solution"]
    sys.modules["__main__"] = module
    try:
        exec(compile(source, config["solution"], "exec"), module.__dict__)
        os.write(done_fd, b"1")
    except SystemExit:
        raise
    except BaseException as err:  # noqa: BLE001 - print it as Python would, without the supervisor's frames
        import traceback

        traceback.print_exception(type(err), err, err.__traceback__.tb_next)
        raise SystemExit(1) from None


def install_guard(work: str) -> None:
    """Audit hook refusing, with PermissionError: sockets, process spawning (exec, spawn, system, Popen), signals
    to other processes, reading other processes' /proc files, ctypes, gc introspection, replacing a function's
    code, and file writes or metadata changes outside `work`.

    Forks stay allowed (the child keeps the hook; the process limit bounds them). A Python-level hook is a
    speed bump, not a wall: code that reaches native calls another way can get past it.
    """
    realpath, fspath = os.path.realpath, os.fspath
    root = realpath(work)
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    refused = frozenset({"os.exec", "os.posix_spawn", "os.spawn", "os.system", "subprocess.Popen", "os.forkpty",
                         "os.killpg", "gc.get_objects", "gc.get_referrers", "gc.get_referents",
                         "os.setxattr", "os.removexattr", "os.chflags", "os.lchflags", "os.lchmod"})
    refused_prefixes = ("socket.", "ctypes.")
    refused_imports = frozenset({"_posixsubprocess", "_ctypes"})
    # event -> (index of a path argument that must stay inside `work`, index of the dir_fd it is relative to)
    path_args = {"os.remove": ((0, 1),), "os.rmdir": ((0, 1),), "os.mkdir": ((0, 2),), "os.chmod": ((0, 2),),
                 "os.rename": ((0, 2), (1, 3)), "os.link": ((0, 2), (1, 3)), "os.symlink": ((1, 2),),
                 "os.chown": ((0, 3),), "os.utime": ((0, 3),), "os.truncate": ((0, None),),
                 "sqlite3.connect": ((0, None),)}

    def inside(path, dir_fd=-1) -> bool:
        if isinstance(path, int):
            return True  # an already open descriptor: opening it was checked
        path = fspath(path)
        if isinstance(path, bytes):
            path = path.decode("utf-8", "surrogateescape")
        if path == ":memory:" or path == "/dev/null":
            return True
        if isinstance(dir_fd, int) and dir_fd >= 0 and not path.startswith("/"):
            path = f"/proc/self/fd/{dir_fd}/{path}"
        resolved = realpath(path)
        return resolved == root or resolved.startswith(root + os.sep)

    def other_process(path) -> bool:
        """/proc/<pid>/... of a process other than this one (its environment, memory, command line)."""
        path = fspath(path)
        if isinstance(path, bytes):
            path = path.decode("utf-8", "surrogateescape")
        parts = realpath(path).split("/")
        return len(parts) > 2 and parts[1] == "proc" and parts[2].isdigit() and int(parts[2]) != os.getpid()

    def refuse(what: str) -> None:
        raise PermissionError(f"sandbox: {what} is not allowed")

    def hook(event: str, args: tuple) -> None:
        if event == "open":
            path, mode, flags = args
            writes = any(c in mode for c in "wax+") if isinstance(mode, str) else bool(flags & write_flags)
            if writes and not inside(path):
                refuse(f"writing outside the sandbox directory ({path!r})")
            if not isinstance(path, int) and other_process(path):
                refuse(f"reading another process's files ({path!r})")
        elif event in path_args:
            for path_index, dir_fd_index in path_args[event]:
                dir_fd = -1 if dir_fd_index is None else args[dir_fd_index]
                if not inside(args[path_index], dir_fd):
                    refuse(f"{event} outside the sandbox directory ({args[path_index]!r})")
        elif event == "os.kill":
            if args[0] != os.getpid():
                refuse("signalling other processes")
        elif event == "import":
            if args[0] in refused_imports:
                refuse(f"importing {args[0]}")
        elif event == "object.__setattr__":
            if args[1] == "__code__":
                refuse("replacing a function's code")
        elif event in refused or event.startswith(refused_prefixes):
            refuse(event)

    sys.addaudithook(hook)
    guard_dir_fd_open(write_flags, refuse)


def guard_dir_fd_open(write_flags: int, refuse) -> None:
    """The "open" audit event does not carry os.open's dir_fd: refuse relative writes through one outright."""
    import posix

    real_open = posix.open

    def guarded_open(path, flags, mode=0o777, *, dir_fd=None):
        if dir_fd is not None and flags & write_flags and not os.fsdecode(path).startswith("/"):
            refuse("os.open for writing relative to a dir_fd")
        return real_open(path, flags, mode, dir_fd=dir_fd)

    os.open = posix.open = guarded_open


if __name__ == "__main__":
    main(sys.argv)
