"""Dedup stage 1: per record, the exact-dedup key and a MinHash signature (datatrove's bucket files + a keys file).

Runs inside `mixlab curate` (stage "prepare"). It writes datatrove's bucket_XXX/<rank>.minhash.sig files (32-bit
hashes, sorted) so datatrove's MinhashDedupBuckets finds the candidate pairs, but computes them faster than
datatrove's MinhashDedupSignature: words come from a regex split (datatrove's default spaCy tokenizer runs at
~250 docs/s/core), n-grams are hashed with vectorised rolling arithmetic, the permutations are multiply-shift
hashes (no 64-bit modulo), and buckets are sorted in memory. The full signature, input order, exact key and id
of each record go to work/dedup/keys/<rank>.parquet so the cluster stage can keep the earliest copy and
confirm LSH candidates on the whole signature.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import xxhash
from datatrove.io import get_datafolder
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.dedup.minhash import MinhashConfig

from mixlab.schema import record_text

WORD_RE = re.compile(r"\w+")
ROLLING_PRIME = np.uint64(0x9E3779B97F4A7C15)


def exact_key(record: dict, key: str) -> int:
    """64-bit hash of the normalised conversation (NFKC, lowercase, whitespace folded) or its first user turn."""
    if key == "first_user_turn":
        turns = record.get("messages") or record.get("prompt") or []
        text = next((m["content"] for m in turns if m["role"] == "user"), "")
    else:
        text = record_text(record)
    return xxhash.xxh3_64_intdigest(" ".join(unicodedata.normalize("NFKC", text).lower().split()).encode())


def shingle_words(text: str) -> list[str]:
    """Lowercased words with diacritics folded and punctuation dropped (datatrove's simplify_text, numbers kept)."""
    text = text.lower()
    if not text.isascii():
        text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
    return WORD_RE.findall(text)


WORD_HASHES: dict[str, int] = {}  # per process: a dict hit is several times cheaper than hashing the word again


def word_hash(word: str) -> int:
    value = WORD_HASHES.get(word)
    if value is None:
        value = xxhash.xxh3_64_intdigest(word.encode())
        if len(WORD_HASHES) < 2_000_000:
            WORD_HASHES[word] = value
    return value


def word_shingles(text: str, n: int) -> np.ndarray:
    """64-bit hashes of the word n-grams, repeats included (a minimum does not care); empty below n words."""
    words = shingle_words(text)
    if len(words) < n:
        return np.empty(0, dtype=np.uint64)
    word_hashes = np.fromiter(map(word_hash, words), dtype=np.uint64, count=len(words))
    count = len(words) - n + 1
    shingles = word_hashes[:count].copy()
    for k in range(1, n):  # uint64 array arithmetic wraps silently (modulo 2**64), which is what we want
        shingles *= ROLLING_PRIME
        shingles += word_hashes[k:k + count]
    return shingles


class MinhashPermutations:
    """num_hashes multiply-shift hash functions h(x) = (a*x + b) >> 32 over uint64 (a odd), seeded."""

    def __init__(self, num_hashes: int, seed: int):
        rng = np.random.RandomState(seed)
        self.a = (rng.randint(0, 2**63, size=num_hashes, dtype=np.uint64) << np.uint64(1)) | np.uint64(1)
        self.b = rng.randint(0, 2**63, size=num_hashes, dtype=np.uint64)

    def signature(self, shingles: np.ndarray) -> np.ndarray:
        hashed = np.multiply.outer(shingles, self.a)
        hashed += self.b
        hashed >>= np.uint64(32)
        return hashed.min(axis=0).astype(np.uint32)


class DedupSignature(PipelineStep):
    """Writes bucket_XXX/<rank>.minhash.sig (datatrove's format, 32-bit) and keys/<rank>.parquet; yields nothing."""

    type = "🫂 - DEDUP"
    name = "🎯 dedup signatures"

    def __init__(self, output_folder: str, keys_folder: str, config: MinhashConfig, exact_key_mode: str,
                 verify_hashes: int = 128):
        super().__init__()
        assert config.hash_config.precision == 32, "signatures are 32-bit"
        self.output_folder = get_datafolder(output_folder)
        self.keys_folder = get_datafolder(keys_folder)
        self.config = config
        self.exact_key_mode = exact_key_mode
        # the LSH bands use the first num_buckets*hashes_per_bucket hashes; the cluster stage confirms candidates
        # on all of them, so the bands can stay few (a cheap bucket stage) while the estimate stays precise
        self.num_hashes = max(verify_hashes, config.num_buckets * config.hashes_per_bucket)

    def run(self, data, rank: int = 0, world_size: int = 1):
        num_hashes = self.num_hashes
        perms = MinhashPermutations(num_hashes, self.config.seed)
        empty = np.zeros(num_hashes, dtype=np.uint32)
        keys = {"order": [], "id": [], "exact": [], "has_sig": []}
        sigs = []
        for doc in data:
            with self.track_time():
                self.stat_update("total")
                shingles = word_shingles(doc.text, self.config.n_grams)
                sigs.append(perms.signature(shingles) if shingles.size else empty)
                keys["has_sig"].append(bool(shingles.size))
                keys["order"].append(doc.metadata["order"])
                keys["id"].append(doc.id)
                keys["exact"].append(exact_key(doc.metadata["record"], self.exact_key_mode))
        with self.track_time():
            matrix = np.vstack(sigs) if sigs else np.zeros((0, num_hashes), dtype=np.uint32)
            self.write_buckets(matrix, np.asarray(keys["has_sig"], dtype=bool), rank)
            self.write_keys(keys, matrix, rank)
        return
        yield  # a generator step that yields nothing, like datatrove's signature stage

    def write_buckets(self, matrix: np.ndarray, has_sig: np.ndarray, rank: int):
        """Each bucket file: (hashes_per_bucket x uint32, doc index uint32) records sorted by hash."""
        width = self.config.hashes_per_bucket
        dtype = np.dtype([(f"h{i}", "<u4") for i in range(width)] + [("doc", "<u4")])
        doc_idx = np.flatnonzero(has_sig).astype(np.uint32)
        for bi in range(self.config.num_buckets):
            records = np.empty(len(doc_idx), dtype=dtype)
            for i in range(width):
                records[f"h{i}"] = matrix[doc_idx, bi * width + i]
            records["doc"] = doc_idx
            records.sort(order=dtype.names)
            with self.output_folder.open(f"bucket_{bi:03d}/{rank:05d}.minhash.sig", "wb") as f:
                f.write(records.tobytes())

    def write_keys(self, keys: dict, matrix: np.ndarray, rank: int):
        sig = pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1), pa.uint32()), matrix.shape[1])
        table = pa.table({"idx": pa.array(np.arange(len(keys["id"]), dtype=np.uint32)),
                          "order": pa.array(keys["order"], pa.int64()), "id": pa.array(keys["id"], pa.string()),
                          "exact": pa.array(keys["exact"], pa.uint64()),
                          "has_sig": pa.array(keys["has_sig"], pa.bool_()), "sig": sig})
        with self.keys_folder.open(f"{rank:05d}.parquet", "wb") as f:
            pq.write_table(table, f)
