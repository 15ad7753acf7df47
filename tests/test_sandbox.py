"""The code sandbox contains what generated code may do: loops, memory and fork bombs, writes, sockets, env reads.

    pytest -q tests/test_sandbox.py

Real processes, no mocks. Each containment test runs at every isolation level this host offers (always
"rlimits"; "unshare" and "bwrap" where they work) and, where the OS layer alone must hold, with the Python guard
switched off. Limits are small (1-3 s, <= 8 processes, <= 256 MB) so a bomb cannot hurt a shared 2-core machine.
"""

import ast
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mixlab.verifiers import sandbox
from mixlab.verifiers.sandbox import PROCESS_OVERHEAD, run_python

LEVELS = sandbox.available_levels()
NAMESPACED = [level for level in LEVELS if level != "rlimits"]
AS_ROOT = os.geteuid() == 0
RUN_TAG = re.compile(rb"mixlab-sandbox-[\w-]+")


def processes_of(run_id: str) -> list[int]:
    """Host pids whose command line names this run's folder (every sandbox process does, forks included)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if run_id.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                    found.append(int(entry))
            except OSError:
                pass
    return found


class PeakProcesses:
    """Counts, while a run is going on, the most processes seen at once for each sandbox run folder."""

    def __init__(self):
        self.peak: dict[str, int] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.watch, daemon=True)

    def watch(self):
        while not self.stop.is_set():
            counts: dict[str, int] = {}
            for entry in os.listdir("/proc"):
                try:
                    tag = RUN_TAG.search(Path(f"/proc/{entry}/cmdline").read_bytes()) if entry.isdigit() else None
                except OSError:
                    tag = None
                if tag:
                    counts[tag.group().decode()] = counts.get(tag.group().decode(), 0) + 1
            for run, count in counts.items():
                self.peak[run] = max(self.peak.get(run, 0), count)
            time.sleep(0.02)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def test_levels_are_probed_and_reported(monkeypatch):
    assert LEVELS[-1] == "rlimits" and set(LEVELS) <= set(sandbox.LEVELS)
    assert sandbox.isolation_level() == LEVELS[0]
    assert sandbox.describe_isolation().startswith(LEVELS[0] + ":")
    monkeypatch.setenv("MIXLAB_SANDBOX_ISOLATION", "rlimits")
    assert sandbox.isolation_level() == "rlimits"
    assert run_python("pass").isolation == "rlimits"
    monkeypatch.setenv("MIXLAB_SANDBOX_ISOLATION", "chroot")
    with pytest.raises(sandbox.SandboxUnavailable, match="does not work on this host"):
        sandbox.isolation_level()


@pytest.mark.parametrize("level", LEVELS)
def test_program_runs_and_exit_status_decides(level):
    ok = run_python("import sys\nprint(sum(range(10)))\nprint('warn', file=sys.stderr)", timeout=5, isolation=level)
    assert (ok.passed, ok.status, ok.returncode, ok.stdout, ok.stderr) == (True, "ok", 0, "45\n", "warn\n")
    assert ok.isolation == level and ok.cpu_s is not None
    raised = run_python("def f():\n    raise ValueError('boom')\nf()", timeout=5, isolation=level)
    assert (raised.passed, raised.status, raised.returncode) == (False, "failed", 1)
    assert raised.stderr.splitlines()[-1] == "ValueError: boom" and "supervise" not in raised.stderr
    assert ok.completed and not raised.completed
    assert run_python("import sys; sys.exit(3)", timeout=5, isolation=level).returncode == 3
    for early_exit in ("import sys; sys.exit(0)\nprint('after')", "import os; os._exit(0)\nprint('after')"):
        result = run_python(early_exit, timeout=5, isolation=level)
        assert (result.status, result.completed, result.stdout) == ("ok", False, "")
    assert run_python("input()", timeout=5, isolation=level).status == "failed"  # stdin is closed: EOFError


@pytest.mark.parametrize("level", LEVELS)
def test_infinite_loop_is_killed_with_all_its_processes(level):
    # daemons that double-fork and setsid escape a process group; the supervisor must still find them
    program = ("import os, time\n"
               "for _ in range(2):\n"
               "    if os.fork() == 0:\n"
               "        os.setsid()\n"
               "        if os.fork() == 0:\n"
               "            time.sleep(600)\n"
               "        os._exit(0)\n"
               "while True:\n"
               "    pass\n")
    started = time.monotonic()
    result = run_python(program, timeout=1, isolation=level)
    assert result.status == "timeout" and not result.passed
    assert time.monotonic() - started < 5
    assert processes_of(result.run_id) == []
    assert not (Path(tempfile.gettempdir()) / result.run_id).exists()


def test_cpu_time_limit_ends_a_busy_program():
    # the program lowers its own RLIMIT_CPU to 1 s (the sandbox sets it to the timeout), then spins
    program = ("import resource\n"
               "resource.setrlimit(resource.RLIMIT_CPU, (1, 2))\n"
               "while True:\n"
               "    pass\n")
    result = run_python(program, timeout=8)
    assert (result.status, result.returncode) == ("timeout", -signal.SIGXCPU)
    assert result.cpu_s > 0.5 and result.wall_s < 8


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("program", [
    "x = bytearray(8 * 2**30)",
    "blocks = []\nwhile True:\n    blocks.append(bytearray(2**20))",
])
def test_memory_bomb_is_contained(level, program):
    result = run_python(program, timeout=5, memory_mb=128, isolation=level)
    assert result.status == "memory"


@pytest.mark.parametrize("level", LEVELS)
def test_memory_spread_over_processes_is_contained(level):
    # 6 processes of 80 MB each stay under a per-process limit of 128 MB; their sum is over the budget
    program = ("import os, time\n"
               "for _ in range(5):\n"
               "    if os.fork() == 0:\n"
               "        break\n"
               "block = b'x' * (80 * 2**20)\n"
               "time.sleep(10)\n")
    result = run_python(program, timeout=3, memory_mb=128, guard=False, isolation=level)
    assert result.status == "memory" and result.wall_s < 2.5
    assert processes_of(result.run_id) == []


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("guard", [True, False])
def test_fork_bomb_is_contained(level, guard):
    program = ("import os\n"
               "while True:\n"
               "    try:\n"
               "        os.fork()\n"
               "    except OSError:\n"
               "        pass\n")
    with PeakProcesses() as watcher:
        result = run_python(program, timeout=1.5, max_processes=8, memory_mb=128, guard=guard, isolation=level)
    assert result.status == "timeout"
    wrappers = {"bwrap": 2, "unshare": 1, "rlimits": 0}[level]  # launcher processes outside the limit
    assert 2 < watcher.peak[result.run_id] <= 8 + PROCESS_OVERHEAD + wrappers
    assert processes_of(result.run_id) == []
    after = run_python("print('fine')", timeout=5, isolation=level)
    assert after.passed and after.stdout == "fine\n"


@pytest.mark.parametrize("level", LEVELS)
def test_writes_outside_the_work_dir_are_refused(level, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    target = tmp_path / "created.txt"
    attempts = {
        "open": f"open({str(target)!r}, 'w').write('x')",
        "os.open": f"import os; os.open({str(target)!r}, os.O_WRONLY | os.O_CREAT)",
        "remove": f"import os; os.remove({str(victim)!r})",
        "rename": f"import os; os.rename({str(victim)!r}, 'stolen.txt')",
        "symlink": f"import os; os.symlink({str(target)!r}, 'link'); open('link', 'w').write('x')",
        "append": f"open({str(victim)!r}, 'a').write('x')",
        "dir_fd": "import os; fd = os.open('/', os.O_RDONLY)\n"  # a folder every level shows
                  "os.open('mixlab-sandbox-test.txt', os.O_WRONLY | os.O_CREAT, dir_fd=fd)",
    }
    for name, program in attempts.items():
        result = run_python(program, timeout=5, isolation=level)
        assert result.status == "failed" and "PermissionError" in result.stderr, name
    assert not target.exists() and victim.read_text() == "keep"
    assert not Path("/mixlab-sandbox-test.txt").exists()
    inside = run_python("open('scratch.txt', 'w').write('x')\nimport os\nos.rename('scratch.txt', 'b.txt')\n"
                        "print(open('b.txt').read(), os.getcwd() == os.environ['HOME'])", timeout=5, isolation=level)
    assert inside.passed and inside.stdout == "x True\n"


@pytest.mark.parametrize("level", [lvl for lvl in LEVELS if lvl == "bwrap" or AS_ROOT])
def test_writes_outside_fail_without_the_guard(level, tmp_path):
    # bwrap: read-only mounts and a private /tmp; as root: the sandbox's throwaway uid may not write here
    target = tmp_path / "created.txt"
    result = run_python(f"open({str(target)!r}, 'w').write('x')", timeout=5, guard=False, isolation=level)
    assert result.status == "failed" and "Error" in result.stderr
    assert not target.exists()


@pytest.fixture()
def listener():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.3)
    yield server
    server.close()


def connection_arrived(server: socket.socket) -> bool:
    try:
        connection, _ = server.accept()
    except TimeoutError:
        return False
    connection.close()
    return True


def connect_program(port: int) -> str:
    return f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1).sendall(b'leak')\n"


@pytest.mark.parametrize("level", LEVELS)
def test_sockets_are_refused(level, listener):
    result = run_python(connect_program(listener.getsockname()[1]), timeout=5, isolation=level)
    assert result.status == "failed" and "PermissionError: sandbox: socket" in result.stderr
    assert not connection_arrived(listener)


@pytest.mark.parametrize("level", NAMESPACED)
def test_network_namespace_holds_without_the_guard(level, listener):
    result = run_python(connect_program(listener.getsockname()[1]), timeout=5, guard=False, isolation=level)
    assert result.status == "failed"
    assert not connection_arrived(listener)


@pytest.mark.parametrize("level", LEVELS)
def test_parent_environment_is_not_visible(level, monkeypatch):
    secret = "mixlab-test-secret-4c1d"
    monkeypatch.setenv("MIXLAB_TEST_SECRET", secret)
    program = ("import os\n"
               "print(sorted(os.environ))\n"
               "print(open('/proc/self/environ', 'rb').read())\n"
               f"for pid in (os.getppid(), {os.getpid()}):\n"
               "    try:\n"
               "        print(open(f'/proc/{pid}/environ', 'rb').read())\n"
               "    except OSError as err:\n"
               "        print(type(err).__name__)\n")
    result = run_python(program, timeout=5, isolation=level)
    assert result.passed, result.stderr
    assert secret not in result.stdout
    assert set(ast.literal_eval(result.stdout.splitlines()[0])) <= {"PATH", "HOME", "TMPDIR", "LANG", "PWD"}


@pytest.mark.parametrize("level", LEVELS)
def test_process_spawning_and_signals_are_refused(level):
    for program in ("import os; os.system('true')", "import subprocess; subprocess.run(['true'])",
                    "import os; os.execv('/bin/true', ['true'])", "import os; os.kill(1, 0)",
                    "import ctypes; ctypes.CDLL(None)"):
        result = run_python(program, timeout=5, isolation=level)
        assert result.status == "failed" and "sandbox:" in result.stderr, program


@pytest.mark.parametrize("level", LEVELS)
def test_output_is_capped(level):
    result = run_python("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)", timeout=5,
                        max_output_bytes=1 << 20, isolation=level)
    assert result.status == "output_limit"
    assert len(result.stdout) <= sandbox.TAIL_CHARS


def test_concurrent_runs_are_independent():
    programs = [f"import time; time.sleep(0.05); print({i} * {i})" for i in range(8)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda source: run_python(source, timeout=10), programs))
    assert [r.stdout for r in results] == [f"{i * i}\n" for i in range(8)]
    assert len({r.run_id for r in results}) == 8


def test_bad_limits_are_rejected():
    with pytest.raises(ValueError, match="must be positive"):
        run_python("pass", timeout=0)
    with pytest.raises(ValueError, match="unknown isolation level"):
        run_python("pass", isolation="docker")


NON_ROOT_CALLER = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("sandbox", sys.argv[1])
sandbox = importlib.util.module_from_spec(spec)
sys.modules["sandbox"] = sandbox
spec.loader.exec_module(sandbox)
loop = "import os, time\\nif os.fork() == 0:\\n    os.setsid()\\n    time.sleep(600)\\nwhile True:\\n    pass\\n"
bomb = "import os\\nwhile True:\\n    try:\\n        os.fork()\\n    except OSError:\\n        pass\\n"
out = {"levels": sandbox.available_levels()}
for level in out["levels"]:
    out[level] = [sandbox.run_python(loop, timeout=1, guard=False, isolation=level).status,
                  sandbox.run_python(bomb, timeout=1, max_processes=8, guard=False, isolation=level).status,
                  sandbox.run_python("open('/etc/mixlab-test', 'w')", timeout=5, isolation=level).status,
                  sandbox.run_python("print(6 * 7)", timeout=5, isolation=level).stdout]
print(json.dumps(out))
"""


@pytest.mark.skipif(not AS_ROOT or not shutil.which("setpriv"), reason="needs root to become another user")
def test_a_non_root_caller_gets_the_same_containment():
    # CI runs as a normal user: no throwaway uids, RLIMIT_NPROC over all of the user's processes
    uid = sandbox.UID_BASE - 2
    done = subprocess.run([shutil.which("setpriv"), f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                           sandbox.sandbox_python(), "-I", "-c", NON_ROOT_CALLER, str(Path(sandbox.__file__))],
                          env={"PATH": sandbox.SAFE_PATH, "TMPDIR": "/tmp"}, cwd="/", capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert "rlimits" in out["levels"]
    for level in out["levels"]:
        assert out[level] == ["timeout", "timeout", "failed", "42\n"], level
    assert sandbox.tasks_of_uid(uid) == {}
