"""Read synth inputs (curated folders or any file `mixlab curate` reads) as canonical records, in a fixed order.

    records = iter_records(["runs/gsm8k-clean", "data/prompts.jsonl"], out=Path("runs/synth"), prefer_rl=True)
    prompt = prompt_messages(record)     # the messages a response is generated for (None: the record has none)

Reading goes through curation.read (format detection, normalisation, quarantine/<rank>.jsonl for bad rows,
per-source row counts in DIR/work/input_counts). `prefer_rl` reads formats that can carry a gold answer
(question/answer, rl) as rl records with a verifier, which cot and preference need.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from curation.read import ChatRecordReader, InputSpec, detect_formats, discover_inputs
from decontam.run import resolve_inputs
from mixlab.formats import FORMAT_KINDS
from mixlab.schema import Kind, document_to_record, record_kind

INPUT_COUNTS = Path("work") / "input_counts"


class PromptReader(ChatRecordReader):
    """The curation reader, reading each file as an rl record when its format allows and `prefer_rl` is set."""

    name = "💬 synth prompts"

    def __init__(self, *args, prefer_rl: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.prefer_rl, self.base_spec = prefer_rl, self.spec

    def _read_file(self, f, counts, quarantine):
        can_rl = "rl" in FORMAT_KINDS[self.formats[f.path]]
        self.spec = replace(self.base_spec, kind="rl" if self.prefer_rl and can_rl else None)
        yield from super()._read_file(f, counts, quarantine)


def input_files(inputs: list[str]) -> list[str]:
    """The paths a run reads (a curated folder stands for its data/): what the manifest hashes."""
    return [f.path for f in discover_inputs(resolve_inputs(inputs))]


def iter_records(inputs: list[str], out: Path, prefer_rl: bool) -> Iterator[dict]:
    """Every readable input record in input order; unreadable rows go to out/quarantine."""
    files = discover_inputs(resolve_inputs(inputs))
    formats = detect_formats(files, InputSpec())
    reader = PromptReader(files, formats, InputSpec(), quarantine_dir=str(out / "quarantine"),
                          counts_dir=str(out / INPUT_COUNTS), prefer_rl=prefer_rl)
    for doc in reader.run(rank=0, world_size=1):
        yield document_to_record(doc)


def prompt_messages(record: dict) -> list[dict] | None:
    """The conversation a response continues: an sft record up to its last user turn, else its prompt.

    None when there is no user turn to answer (nothing to generate for)."""
    messages = record["messages"] if record_kind(record) == Kind.sft else record["prompt"]
    last_user = max((i for i, m in enumerate(messages) if m["role"] == "user"), default=None)
    return None if last_user is None else [dict(m) for m in messages[:last_user + 1]]


def with_instruction(messages: list[dict], instruction: str) -> list[dict]:
    """`messages` with `instruction` appended to the last user turn (a new list; the input is untouched)."""
    if not instruction:
        return [dict(m) for m in messages]
    out = [dict(m) for m in messages]
    out[-1]["content"] = f"{out[-1]['content'].rstrip()}\n\n{instruction}"
    return out
