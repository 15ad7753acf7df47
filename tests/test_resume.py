"""SIGKILL mid-run, rerun the same command: the output equals an uninterrupted run byte for byte."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from curation.demo_corpus import write_demo_corpus

pytestmark = pytest.mark.slow


def curate_cmd(inputs, out):
    return [sys.executable, "-m", "mixlab.cli", "curate", *inputs, "--output", str(out), "--workers", "1"]


def files_under(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes()
            for sub in ("data", "removed", "quarantine") for p in sorted((out / sub).rglob("*")) if p.is_file()}


def kill_when(proc, condition, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if condition():
            os.killpg(proc.pid, signal.SIGKILL)  # the whole job, worker processes included
            proc.wait()
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("stage", ["prepare", "finalize"])
def test_sigkill_then_rerun_is_byte_identical(tmp_path, stage):
    corpus = write_demo_corpus(tmp_path / "raw", seed=3, n_records=1500)
    inputs = [str(tmp_path / "raw" / f) for f in corpus["files"]]
    reference, resumed = tmp_path / "reference", tmp_path / "resumed"
    subprocess.run(curate_cmd(inputs, reference), check=True, capture_output=True)

    completions = resumed / "logs" / stage / "completions"
    proc = subprocess.Popen(curate_cmd(inputs, resumed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    killed = kill_when(proc, lambda: completions.is_dir() and any(completions.iterdir()))
    assert killed, f"the run finished before a {stage} task completed; nothing was interrupted"
    assert json.loads((resumed / "manifest.json").read_text())["status"] == "running"

    subprocess.run(curate_cmd(inputs, resumed), check=True, capture_output=True)
    assert json.loads((resumed / "manifest.json").read_text())["status"] == "complete"
    assert files_under(resumed) == files_under(reference)
    card = json.loads((resumed / "datacard.json").read_text())
    assert card["counts"]["total"]["in"] == corpus["records"]
