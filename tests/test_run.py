"""`mixlab run`: pipeline errors, content hashes, a SIGKILL mid-stage then a rerun, recipe edits, a failing stage, and
the 4B course pipeline's --dry-run on CPU. The demo pipeline end to end is tests/test_run_demo.py.

The kill test runs the curation half of configs/demo/pipeline.yaml (--until decontam, a small corpus) for real.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mixlab.cli import main
from mixlab.recipe import RecipeError
from mixlab.run import stop_process_tree
from mixlab.run_pipeline import load_pipeline
from mixlab.run_record import ContentHasher

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "configs" / "demo" / "pipeline.yaml"
COURSE = REPO / "configs" / "qwen3-4b" / "pipeline.yaml"
SMALL_CORPUS = "corpus.records=400"


@pytest.fixture(autouse=True)
def at_repo_root(monkeypatch):
    """Pipeline recipes are paths relative to the repo root, where `make demo` runs."""
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")


def mixlab_run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mixlab.cli", "run", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=300)


def dry_run(capsys, *args: str) -> str:
    """`mixlab run ... --dry-run` in this process (nothing runs, so no subprocess is needed); its stdout."""
    capsys.readouterr()
    assert main(["run", *args, "--dry-run"]) == 0
    return capsys.readouterr().out


def record(out: Path) -> dict:
    return json.loads((out / "run.json").read_text())["stages"]


def actions(stdout: str) -> dict[str, str]:
    """{stage: run|skip|outside} from a --dry-run table."""
    rows = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1] in ("run", "skip", "outside") and line.startswith("  "):
            rows[parts[0]] = parts[1]
    return rows


def progress(stdout: str) -> dict[str, list[str]]:
    """{stage: [skip | running | done | FAILED, ...]} from `mixlab run`'s progress lines."""
    found: dict[str, list[str]] = {}
    for match in re.finditer(r"^\[\s*\d+/\d+\] (\S+)\s+(\S+)", stdout, re.MULTILINE):
        found.setdefault(match[1], []).append(match[2])
    return found


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ---- the pipeline file ---------------------------------------------------------------------------------------------

def test_pipeline_errors_name_the_file_line_and_field(tmp_path):
    bad_field = write(tmp_path / "p1.yaml", "output: runs/x\nstages:\n  - name: a\n    run: curate\n"
                      "    inputs: [x.jsonl]\n  - name: b\n    run: eval\n    modle: ${a}\n")
    with pytest.raises(RecipeError, match=r"p1\.yaml:6: stage 'b': unknown field\(s\) modle"):
        load_pipeline(bad_field)
    later = write(tmp_path / "p2.yaml", "output: runs/x\nstages:\n  - name: a\n    run: eval\n    model: ${b}\n"
                  "  - name: b\n    run: curate\n    inputs: [x]\n")
    with pytest.raises(RecipeError, match=r"p2\.yaml:3: stage 'a': \$\{b\} is not an earlier stage"):
        load_pipeline(later)
    kind = write(tmp_path / "p3.yaml", "output: runs/x\nstages:\n  - name: a\n    run: curat\n")
    with pytest.raises(RecipeError, match="run: 'curat' is not a stage kind"):
        load_pipeline(kind)
    estimate = write(tmp_path / "p4.yaml", "output: runs/x\nstages:\n  - name: a\n    run: curate\n"
                     "    estimate: soon\n")
    with pytest.raises(RecipeError, match=r"p4\.yaml:3: stage 'a': estimate 'soon': a number with s, m or h"):
        load_pipeline(estimate)


def test_references_become_outputs_and_dependencies(tmp_path):
    pipeline = load_pipeline(DEMO, output=str(tmp_path / "out"), overrides=["sft.set=[max_steps=3]"])
    stages = {s.name: s for s in pipeline.stages}
    assert stages["curate"].output == tmp_path / "out" / "curate"
    assert stages["decontam"].deps == ["corpus", "curate", "curate-rl"]
    assert stages["dpo"].field("model") == str(tmp_path / "out" / "sft")
    assert stages["sft"].field("set") == ["max_steps=3"]
    assert stages["eval-sft"].field("env")["HF_HUB_OFFLINE"] == "1"  # the pipeline's env reaches every stage


def test_every_stage_command_parses_with_the_real_cli(tmp_path):
    from mixlab.cli import build_parser
    from mixlab.run_stages import STAGE_KINDS

    synth = write(tmp_path / "synth.yaml", "output: runs/x\nstages:\n  - name: cot\n    run: synth\n"
                  "    task: cot\n    inputs: [a.jsonl, b.jsonl]\n    model: models/tiny\n    args: [--n, '2']\n")
    stages = [s for path in (DEMO, COURSE, synth) for s in load_pipeline(path).stages]
    parser = build_parser()
    for stage in stages:
        kind = STAGE_KINDS[stage.kind]
        if kind.module() != "mixlab.cli":
            continue
        args = parser.parse_args(kind.command(stage, "redo"))
        if stage.kind in ("sft", "dpo", "grpo"):
            assert f"output_dir={stage.output}" in args.overrides
        elif stage.kind == "report":
            assert args.output == str(stage.output / "report")
        else:
            assert args.output == str(stage.output)
    cot = parser.parse_args(STAGE_KINDS["synth"].command(stages[-1], "redo"))
    assert (cot.inputs, cot.model, cot.n, cot.force) == (["a.jsonl", "b.jsonl"], "models/tiny", 2, True)


def test_content_hash_follows_content_not_mtime(tmp_path):
    folder = tmp_path / "model"
    (folder / "checkpoint-5").mkdir(parents=True)
    weights = write(folder / "weights.bin", "abc")
    write(folder / "checkpoint-5" / "state.bin", "x")
    hasher = ContentHasher(tmp_path / "cache.json")
    first = hasher.of(folder)
    os.utime(weights, (1, 1))  # touched, same bytes
    assert hasher.of(folder) == first
    write(folder / "checkpoint-5" / "state.bin", "y")  # checkpoints do not count
    assert hasher.of(folder) == first
    write(weights, "abd")
    os.utime(weights, (1, 1))  # same size, the old mtime: ctime still tells the cache the file was written
    assert hasher.of(folder) != first
    assert hasher.of(tmp_path / "missing") is None


# ---- running -------------------------------------------------------------------------------------------------------

def wait_for_status(out: Path, stage: str, status: str, proc: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"mixlab run ended early: {proc.communicate()}"
        try:
            if record(out).get(stage, {}).get("status") == status:
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"{stage} never reached {status}")


def session_alive(sid: int, grace: float = 10.0) -> list[str]:
    """Live (not zombie) processes of session `sid` still there after `grace` seconds."""
    deadline = time.monotonic() + grace
    while True:
        listed = subprocess.run(["ps", "-o", "pid=,stat=,args=", "-s", str(sid)], capture_output=True,
                                text=True).stdout.splitlines()
        alive = [line for line in listed if line.split()[1][0] != "Z"]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.2)


def test_sigkill_mid_stage_then_rerun_redoes_only_the_killed_stage(tmp_path, capsys):
    out = tmp_path / "demo"
    recipe = shutil.copy(REPO / "configs" / "demo" / "curate_rl.yaml", tmp_path / "curate_rl.yaml")
    args = [str(DEMO), "--until", "decontam", "--output", str(out), "--set", SMALL_CORPUS,
            "--set", f"curate-rl.recipe={recipe}"]
    proc = subprocess.Popen([sys.executable, "-m", "mixlab.cli", "run", *args], cwd=REPO, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wait_for_status(out, "curate-rl", "running", proc)
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole process group: mixlab run and the stage it runs
    proc.communicate()
    assert session_alive(proc.pid) == []
    killed = record(out)
    assert [killed[s]["status"] for s in ("corpus", "curate", "curate-rl")] == ["complete", "complete", "running"]
    assert "decontam" not in killed

    rerun = mixlab_run(*args)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    steps = progress(rerun.stdout)
    assert steps["corpus"] == steps["curate"] == ["skip"]
    assert steps["curate-rl"] == steps["decontam"] == ["running", "done"]
    assert "interrupted earlier; same inputs and config: resuming" in rerun.stdout
    done = record(out)
    assert done["curate"]["started"] == killed["curate"]["started"]  # finished before the kill: not redone
    assert done["curate-rl"]["status"] == done["decontam"]["status"] == "complete"
    assert done["curate-rl"]["mode"] == "resume" and "--force" not in done["curate-rl"]["argv"]
    assert "sft" not in done  # --until decontam
    report = json.loads((out / "decontam" / "report.json").read_text())
    assert report["benchmarks"]["gsm8k"]["items_hit"] >= 4  # the demo test set's planted corpus questions

    assert set(actions(dry_run(capsys, *args)).values()) == {"skip", "outside"}

    recipe.write_text(recipe.read_text() + "# a comment changes no field\n")
    assert actions(dry_run(capsys, *args))["curate-rl"] == "skip"

    recipe.write_text(recipe.read_text().replace("exact: {enabled: true", "exact: {enabled: false"))
    dry = dry_run(capsys, *args)
    plan = actions(dry)
    assert plan["corpus"] == plan["curate"] == "skip"
    assert plan["curate-rl"] == plan["decontam"] == "run"
    assert "recipe or command changed" in dry and "upstream curate-rl reruns" in dry
    assert "--force" in dry  # a redo starts the curated folder over
    assert plan["sft"] == "outside"


def test_sigterm_stops_the_stage_and_says_how_to_resume(tmp_path):
    """What a Slurm time limit does (run.sbatch's --signal=B:TERM): the stage is stopped and marked interrupted."""
    pipeline = write(tmp_path / "p.yaml", f"output: {tmp_path / 'out'}\nstages:\n"
                     "  - name: corpus\n    run: demo-corpus\n    records: 20000\n")
    proc = subprocess.Popen([sys.executable, "-m", "mixlab.cli", "run", str(pipeline)], cwd=REPO,
                            start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_status(tmp_path / "out", "corpus", "running", proc)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)  # to `mixlab run` only: it stops its stage itself
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert "stage 'corpus' interrupted" in stderr and f"resume with: mixlab run {pipeline} --from corpus" in stderr
    assert record(tmp_path / "out")["corpus"]["status"] == "interrupted"
    assert session_alive(proc.pid) == []


def test_stopping_a_stage_stops_the_processes_it_started(tmp_path):
    """A launcher killed alone leaves its workers running (accelerate's ranks); the whole tree must stop."""
    marker = tmp_path / "grandchild.pid"
    launcher = ("import subprocess, sys, time; worker = subprocess.Popen(['sleep', '300']); "
                f"open({str(marker)!r}, 'w').write(str(worker.pid)); time.sleep(300)")
    proc = subprocess.Popen([sys.executable, "-c", launcher])
    deadline = time.monotonic() + 30
    while not (marker.exists() and marker.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    worker = int(marker.read_text())
    stop_process_tree(proc, grace=5)
    assert proc.returncode is not None
    time.sleep(0.2)
    state = subprocess.run(["ps", "-o", "stat=", "-p", str(worker)], capture_output=True, text=True).stdout.strip()
    assert state in ("", "Z"), f"the launcher's worker {worker} survived ({state})"


def test_failed_stage_names_its_log_and_the_resume_command(tmp_path):
    data = tmp_path / "chat.jsonl"
    pipeline = write(tmp_path / "pipeline.yaml", f"output: {tmp_path / 'out'}\nstages:\n"
                     f"  - name: mix\n    run: curate\n    inputs: [{data}]\n    workers: 1\n")
    failed = mixlab_run(str(pipeline))
    assert failed.returncode == 1
    log = tmp_path / "out" / "logs" / "mix.log"
    assert "FAILED" in failed.stdout and str(data) in failed.stdout  # the log's tail: curate's own error
    assert f"stage 'mix' failed; log: {log}" in failed.stderr
    assert f"resume with: mixlab run {pipeline} --from mix" in failed.stderr
    assert record(tmp_path / "out")["mix"]["status"] == "failed"

    data.write_text(json.dumps({"messages": [{"role": "user", "content": "Name a primary colour."},
                                             {"role": "assistant", "content": "Red is a primary colour."}]}) + "\n")
    resumed = mixlab_run(str(pipeline), "--from", "mix")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    entry = record(tmp_path / "out")["mix"]
    assert entry["status"] == "complete" and entry["inputs"][str(data)] is not None
    assert (tmp_path / "out" / "mix" / "datacard.json").is_file()


def test_an_output_folder_not_made_by_the_pipeline_is_refused(tmp_path, capsys):
    (tmp_path / "mine").mkdir()
    write(tmp_path / "mine" / "notes.txt", "")
    pipeline = write(tmp_path / "p.yaml", f"output: {tmp_path}\nstages:\n  - name: mine\n    run: curate\n"
                     "    inputs: [x.jsonl]\n")
    assert main(["run", str(pipeline), "--dry-run"]) == 2
    assert "has no entry in the run record" in capsys.readouterr().err


def test_a_stage_may_not_read_its_own_output(tmp_path, capsys):
    pipeline = write(tmp_path / "p.yaml", f"output: {tmp_path / 'out'}\nstages:\n  - name: report\n"
                     "    run: report\n    inputs: [\"${out}\"]\n")
    assert main(["run", str(pipeline), "--dry-run"]) == 2
    assert "stage 'report': input" in capsys.readouterr().err


def test_one_run_per_folder_at_a_time(tmp_path, capsys):
    import fcntl

    pipeline = write(tmp_path / "p.yaml", f"output: {tmp_path / 'out'}\nstages:\n  - name: mix\n    run: curate\n"
                     "    inputs: [x.jsonl]\n")
    (tmp_path / "out").mkdir()
    with open(tmp_path / "out" / ".run.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert main(["run", str(pipeline)]) == 2
    assert "is in use by another `mixlab run`" in capsys.readouterr().err
    assert not (tmp_path / "out" / "run.json").exists()


# ---- the course pipeline on a machine without its GPUs, weights or data --------------------------------------------

def test_course_pipeline_parses_and_dry_runs_on_cpu(tmp_path, capsys):
    from curation.pipeline import curate

    raw = write(tmp_path / "chat.jsonl", "".join(json.dumps({"messages": [
        {"role": "user", "content": f"Give me tip number {i} for writing clear prose."},
        {"role": "assistant", "content": f"Tip {i}: prefer short sentences and concrete nouns over abstractions."}]})
        + "\n" for i in range(40)))
    mix = tmp_path / "mix"
    curate([str(raw)], str(mix), workers=1)
    out = tmp_path / "course"
    dry = dry_run(capsys, str(COURSE), "--output", str(out), "--set", f"sft.datasets=[{{path: {mix}}}]")
    plan = actions(dry)
    assert list(plan) == [s.name for s in load_pipeline(COURSE).stages]
    assert set(plan.values()) == {"run"}
    assert "mixlab train sft --config configs/qwen3-4b/sft.yaml --num-gpus 4" in dry
    sft_budget = next(line for line in dry.splitlines() if line.startswith("  sft ") and "tokens" in line)
    assert "on 4 x h100" in sft_budget and "/afs/share/Qwen3-4B-Base is not here" in sft_budget
    assert "14,882 tokens/s/GPU" in sft_budget and "fits the 24 h budget" in sft_budget  # bench/RESULTS.md's number
    assert "mixlab plan covers SFT recipes" in dry
    assert not out.exists()  # a dry run writes nothing

    bounded = dry_run(capsys, str(COURSE), "--output", str(out), "--from", "sft", "--until", "grpo")
    plan = actions(bounded)
    assert plan["decontam-sft"] == plan["eval-base"] == "outside" and plan["dpo"] == "run"
    assert "unknown until the mix exists" in bounded
