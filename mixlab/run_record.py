"""What `mixlab run` remembers between invocations: OUT/run.json (one entry per stage) and content hashes of inputs.

    record = RunRecord.load(Path("runs/demo"))     # OUT/run.json, empty on a first run
    hasher = ContentHasher(Path("runs/demo/.hash-cache.json"))
    hasher.of("runs/demo/curated")                 # sha256 over the folder's files (relative path + content)
    record.start("sft", command=..., argv=[...], inputs={...}, config_sha256=..., output=..., log=...)
    record.finish("sft", "complete", exit_code=0)

Hashes are of file contents (sha256, streamed); a file's size, mtime and ctime are only the key of a cache
(OUT/.hash-cache.json), so an unchanged file is not read again and a touched but unchanged file still matches.
A folder's hash skips what stages write beside their results: checkpoint-*/, logs/, work/, runs/ (TensorBoard),
plots/, samples/, tasks/ and hidden entries.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

SKIPPED_DIRS = frozenset({"logs", "work", "runs", "plots", "samples", "tasks"})
STATUSES = ("running", "complete", "failed", "interrupted")


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def write_json_atomic(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)


def hashed_files(folder: Path) -> list[Path]:
    """The files of `folder` that count for its hash, in a stable order."""
    found = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        if path.is_dir():
            if path.name in SKIPPED_DIRS or path.name.startswith("checkpoint-"):
                continue
            found += hashed_files(path)
        elif path.is_file():
            found.append(path)
    return found


class ContentHasher:
    """sha256 of files and folders, each file read once per (size, mtime, ctime) thanks to an on-disk cache."""

    def __init__(self, cache_path: Path):
        self.cache_path = cache_path
        self.cache: dict[str, list] = {}
        if cache_path.is_file():
            try:
                self.cache = json.loads(cache_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):  # a damaged cache only costs re-reading the files
                self.cache = {}

    def file(self, path: Path) -> str:
        stat = path.stat()
        key = str(path.resolve())
        stamp = [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns]  # ctime: a write that restores mtime shows
        cached = self.cache.get(key)
        if cached and cached[:3] == stamp:
            return cached[3]
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 22), b""):
                digest.update(chunk)
        self.cache[key] = [*stamp, digest.hexdigest()]
        return digest.hexdigest()

    def of(self, path: str | Path) -> str | None:
        """The content hash of a file or folder; None when it does not exist."""
        path = Path(path)
        if path.is_file():
            return self.file(path)
        if not path.is_dir():
            return None
        digest = hashlib.sha256()
        for file in hashed_files(path):
            digest.update(f"{file.relative_to(path).as_posix()}\0{self.file(file)}\n".encode())
        return digest.hexdigest()

    def save(self) -> None:
        write_json_atomic(self.cache_path, self.cache)


class RunRecord:
    """OUT/run.json: per stage the command, input hashes, config hash, status, start/end and elapsed seconds."""

    def __init__(self, path: Path, data: dict):
        self.path = path
        self.data = data

    @classmethod
    def load(cls, out: Path) -> RunRecord:
        path = out / "run.json"
        data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        data.setdefault("stages", {})
        return cls(path, data)

    def stage(self, name: str) -> dict | None:
        return self.data["stages"].get(name)

    def start(self, name: str, **fields) -> None:
        previous = self.stage(name) or {}
        self.data["stages"][name] = {
            **fields, "status": "running", "started": now_iso(), "started_at": time.time(), "ended": None,
            "elapsed_s": None, "exit_code": None, "last_elapsed_s": previous.get("last_elapsed_s")}
        self.write()

    def finish(self, name: str, status: str, exit_code: int | None) -> float:
        """Close the stage's entry; returns its elapsed seconds."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        entry = self.data["stages"][name]
        elapsed = time.time() - entry["started_at"]
        entry.update(status=status, ended=now_iso(), elapsed_s=round(elapsed, 1), exit_code=exit_code)
        if status == "complete":
            entry["last_elapsed_s"] = entry["elapsed_s"]
        self.write()
        return elapsed

    def write(self) -> None:
        write_json_atomic(self.path, self.data)
