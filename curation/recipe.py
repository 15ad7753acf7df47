"""The curation recipe: what `mixlab curate --recipe FILE` reads (see configs/curation/sft.yaml).

    from curation.recipe import CurationRecipe
    from mixlab.recipe import load_recipe
    recipe = load_recipe(CurationRecipe, "configs/curation/sft.yaml")
"""

from __future__ import annotations

from dataclasses import dataclass, field

from decontam.items import MISSION_TASKS


def default_filters() -> dict:
    return {
        "empty_turns": {},
        "last_turn": {},
        "response_length": {"min_length": 1, "max_length": 8192},
        "repetition": {},
        "language": {"languages": ["en"]},
        "mojibake": {},
        "truncated": {},
        "blocklist": {},
    }


@dataclass
class InputSection:
    format: str = "auto"          # auto | messages | sharegpt | alpaca | prompt_response | ... (mixlab.formats)
    field_map: dict = field(default_factory=dict)   # canonical field -> input field, e.g. {messages: conversation}
    source: str | None = None     # force one source name for every input
    kind: str | None = None       # force "rl" for question/answer inputs


@dataclass
class ExactDedupSection:
    enabled: bool = True
    key: str = "conversation"     # conversation | first_user_turn


@dataclass
class MinhashSection:
    enabled: bool = True
    n_grams: int = 5
    num_buckets: int = 10         # LSH bands: P(candidate) = 1-(1-J^5)^10: 0.98 at J=0.8, 0.27 at J=0.5
    hashes_per_bucket: int = 5
    verify_hashes: int = 128      # signature length the candidates are confirmed on
    # LSH candidates are confirmed on the full signature: estimated Jaccard must reach this.
    threshold: float = 0.7
    seed: int = 1


@dataclass
class SemanticDedupSection:
    """Embedding near-duplicates of the first user turn (curation.selection.semantic); off by default."""
    enabled: bool = False
    model: str | None = None      # a local sentence-transformers folder; default all-MiniLM-L6-v2 (packaged)
    threshold: float = 0.9        # cosine at or above which two prompts are duplicates
    batch_size: int = 64
    cluster_size: int = 5000      # k-means partitions of about this many records; one partition = exact search
    cache: str | None = None      # embedding cache folder; default $XDG_CACHE_HOME/mixlab/embeddings (shared)


@dataclass
class DedupSection:
    exact: ExactDedupSection = field(default_factory=ExactDedupSection)
    minhash: MinhashSection = field(default_factory=MinhashSection)
    semantic: SemanticDedupSection = field(default_factory=SemanticDedupSection)


@dataclass
class QualitySection:
    """A fastText quality classifier (`mixlab quality train`) scoring every record; off by default."""
    enabled: bool = False
    model: str | None = None      # MODEL.bin from `mixlab quality train`
    threshold: float | None = None      # drop records scoring below this
    top_fraction: float | None = None   # or keep only this fraction of the best-scored records
    field: str = "quality"        # the meta key the score is written to


@dataclass
class SelectSection:
    """Reach a record or token budget, split over sources by mixture weights, best-scored first; off by default."""
    enabled: bool = False
    target_records: int | None = None
    target_tokens: int | None = None    # tokens with --tokenizer / recipe tokenizer, else words
    weights: dict = field(default_factory=dict)   # source -> weight; empty: each source's share of what is left
    by: str = "quality"           # quality (needs the quality step) | order (earliest first) | random
    seed: int = 0                 # for by: random


@dataclass
class DecontamSection:
    enabled: bool = False
    benchmarks: list = field(default_factory=lambda: list(MISSION_TASKS))
    benchmark_dir: str | None = None   # BDIR/<task>.jsonl[.gz]|.parquet; default: lm-eval's tasks via the HF cache
    ngram: int = 8
    threshold: float = 0.5
    mode: str = "remove"               # remove | flag
    semantic: bool = False             # also flag likely paraphrases by embedding similarity (report only)
    semantic_threshold: float = 0.9
    semantic_model: str | None = None  # a local sentence-transformers folder; default all-MiniLM-L6-v2 (packaged)


@dataclass
class ExecutorSection:
    type: str = "local"           # local | slurm | ray
    tasks: int | None = None      # default: one task per input file, at most max_tasks
    max_tasks: int = 64
    options: dict = field(default_factory=dict)   # passed to datatrove's Slurm/Ray executor


@dataclass
class CardSection:
    license: str = "other"
    pretty_name: str | None = None


@dataclass
class CurationRecipe:
    input: InputSection = field(default_factory=InputSection)
    filters: dict = field(default_factory=default_filters)   # ordered: name -> options
    dedup: DedupSection = field(default_factory=DedupSection)
    decontam: DecontamSection = field(default_factory=DecontamSection)   # runs after the filters, before dedup
    quality: QualitySection = field(default_factory=QualitySection)      # after exact/minhash dedup
    select: SelectSection = field(default_factory=SelectSection)         # last: after quality and dedup.semantic
    executor: ExecutorSection = field(default_factory=ExecutorSection)
    card: CardSection = field(default_factory=CardSection)
    tokenizer: str | None = None  # HF tokenizer folder or tokenizer.json for token counts
