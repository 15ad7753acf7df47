"""What one chunk of prompts produces: kept records per kind, removed rows, per-source counts and token lengths.

    result = ChunkResult()
    samples = draw(engine, settings, [prompt_a, prompt_b], result, sources=["gsm8k", "gsm8k"])  # counts samples
    result.keep(Kind.sft, record); result.remove(record, "synth:verifier", "verifier_rejected")

Every candidate (a sample, a generated pair, an rl prompt, or an input record a task cannot use) ends up exactly
once in kept or removed, so a synth folder's counts reconcile like a curated one's: in = kept + removed (+ the
quarantined input rows).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

from mixlab.schema import REMOVED_SCHEMA, Kind, encode_row, record_kind, stable_id
from mixlab.verifiers import VerifierError, verify

STAT_FIELDS = ("prompts", "samples", "accepted", "kept", "removed")


@dataclass(frozen=True)
class Settings:
    """One synth run's settings: the manifest's recipe and every output record's provenance."""

    task: str
    model: str
    engine: str
    n: int = 1
    temperature: float = 0.7
    max_new_tokens: int = 1024
    seed: int = 0
    keep: str = "all"
    respond: bool = False
    chunk_size: int = 256

    def provenance(self, template: str, chat_template: str | None, chunk_seed: int, sample: int | None) -> dict:
        """meta["synth"] of an output record: how exactly it was made."""
        info = {"task": self.task, "model": self.model, "engine": self.engine, "n": self.n,
                "temperature": self.temperature, "top_p": 1.0, "max_new_tokens": self.max_new_tokens,
                "seed": self.seed, "chunk_seed": chunk_seed, "template": template}
        if chat_template is not None:
            info["chat_template_sha256"] = chat_template
        if sample is not None:
            info["sample"] = sample
        return info

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class ChunkResult:
    kept: dict[str, list[dict]] = field(default_factory=dict)
    removed: list[dict] = field(default_factory=list)
    by_source: dict[str, Counter] = field(default_factory=dict)
    tokens: dict[str, list[int]] = field(default_factory=lambda: {"prompt": [], "sample": [], "accepted": []})

    def count(self, source: str, stat: str, n: int = 1) -> None:
        self.by_source.setdefault(source, Counter())[stat] += n

    def keep(self, kind: Kind, record: dict) -> None:
        self.kept.setdefault(kind.value, []).append(record)
        self.count(record["source"], "kept")

    def remove(self, record: dict, removed_by: str, reason: str) -> None:
        row = {name: None for name in REMOVED_SCHEMA.names}
        row.update(encode_row(record), kind=record_kind(record).value, removed_by=removed_by, reason=reason)
        self.removed.append(row)
        self.count(record["source"], "removed")

    def stats(self) -> dict:
        return {"by_source": {src: {f: c[f] for f in STAT_FIELDS} for src, c in sorted(self.by_source.items())},
                "tokens": self.tokens}


@dataclass(frozen=True)
class Sample:
    text: str
    tokens: int  # by the model's tokenizer


def count_tokens(tokenizer, texts: list[str]) -> list[int]:
    if not texts:
        return []
    return [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]


def draw(engine, settings: Settings, prompts: list[list[dict]], sources: list[str], seed: int,
         result: ChunkResult) -> list[list[Sample]]:
    """settings.n samples for each prompt; counts prompts, samples and their token lengths into `result`."""
    from synth.engines import render_prompt

    if not prompts:
        return []
    texts = engine.generate(prompts, n=settings.n, temperature=settings.temperature,
                            max_new_tokens=settings.max_new_tokens, seed=seed)
    result.tokens["prompt"] += count_tokens(engine.tokenizer, [render_prompt(engine.tokenizer, p) for p in prompts])
    lengths = iter(count_tokens(engine.tokenizer, [t for group in texts for t in group]))
    samples = [[Sample(t, next(lengths)) for t in group] for group in texts]
    for source, group in zip(sources, samples):
        result.count(source, "prompts")
        result.count(source, "samples", len(group))
        result.tokens["sample"] += [s.tokens for s in group]
    return samples


def count_accepted(result: ChunkResult, source: str, sample: Sample) -> None:
    result.count(source, "accepted")
    result.tokens["accepted"].append(sample.tokens)


def score(verifier: dict, response: str) -> tuple[float, str | None]:
    """(score, None), or (0.0, "verifier_error: ...") when the record's verifier spec cannot be checked."""
    try:
        return verify(verifier, response).score, None
    except VerifierError as err:
        return 0.0, f"verifier_error: {err}"


def sample_record(record: dict, task: str, prompt: list[dict], response: str, meta: dict, sample: int) -> dict:
    """An sft record: the prompt as sent plus one generated assistant turn (stripped), with a stable id."""
    return {"id": stable_id(f"synth:{task}:{record['id']}", sample), "source": record["source"],
            "messages": [*prompt, {"role": "assistant", "content": response.strip()}],
            "meta": {**(record.get("meta") or {}), **meta, "prompt_id": record["id"]}}
