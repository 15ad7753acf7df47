"""Dedup stage 1: per record, the exact-dedup key and a MinHash signature (datatrove's bucket files + a keys file).

Runs inside `mixlab curate` (stage "prepare"). Differs from datatrove's MinhashDedupSignature in two ways:
shingles come from a regex word split with vectorised n-gram hashing (datatrove's default spaCy tokenizer runs
at ~250 docs/s/core), and the full signature, input order and id of each record are kept in
work/dedup/keys/<rank>.parquet so the cluster stage can keep the earliest copy and confirm LSH candidates.
"""

from __future__ import annotations

import re
import struct
import unicodedata

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import xxhash
from datatrove.io import get_datafolder
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature
from datatrove.utils.text import simplify_text

from mixlab.schema import record_text

WORD_RE = re.compile(r"\w+")
ROLLING_PRIME = np.uint64(0x9E3779B97F4A7C15)


def exact_key(record: dict, key: str) -> int:
    """64-bit hash of the normalised conversation (NFKC, lowercase, whitespace folded) or its first user turn."""
    if key == "first_user_turn":
        text = next((m["content"] for conv in [record.get("messages") or record.get("prompt") or []]
                     for m in conv if m["role"] == "user"), "")
    else:
        text = record_text(record)
    return xxhash.xxh3_64_intdigest(" ".join(unicodedata.normalize("NFKC", text).lower().split()).encode())


def word_shingles(text: str, n: int, norm_config) -> np.ndarray:
    """Hashes of the word n-grams of the simplified text, as a (k, 1) uint64 array (k = 0 when < n words)."""
    words = WORD_RE.findall(simplify_text(text, norm_config))
    if len(words) < n:
        return np.empty((0, 1), dtype=np.uint64)
    word_hashes = np.fromiter((xxhash.xxh3_64_intdigest(w.encode()) for w in words), dtype=np.uint64, count=len(words))
    count = len(words) - n + 1
    shingles = np.zeros(count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(n):
            shingles = shingles * ROLLING_PRIME + word_hashes[k:k + count]
    return np.unique(shingles).reshape(-1, 1)


class DedupSignature(MinhashDedupSignature):
    """Writes bucket_XXX/<rank>.minhash.sig (datatrove's format) and keys/<rank>.parquet; yields nothing."""

    name = "🎯 dedup signatures"

    def __init__(self, output_folder: str, keys_folder: str, config: MinhashConfig, exact_key_mode: str):
        # skip MinhashDedupSignature.__init__: it loads a spaCy word tokenizer this step never uses
        PipelineStep.__init__(self)
        self.output_folder = get_datafolder(output_folder)
        self.config = config
        self.num_hashes = config.num_buckets * config.hashes_per_bucket
        self._parameters = None
        self.keys_folder = get_datafolder(keys_folder)
        self.exact_key_mode = exact_key_mode

    def get_shingles(self, text: str) -> np.ndarray:
        return word_shingles(text, self.config.n_grams, self.config.norm_config)

    def run(self, data, rank: int = 0, world_size: int = 1):
        fmt = f"<{self.config.hashes_per_bucket}{self.config.hash_config.struct_format}I"
        keys = {"idx": [], "order": [], "id": [], "exact": [], "sig": []}
        with self.track_time():
            buckets = [self.output_folder.open(f"bucket_{bi:03d}/{rank:05d}.minhash.sig", mode="wb")
                       for bi in range(self.config.num_buckets)]
            for doc_idx, doc in enumerate(data):
                self.stat_update("total")
                shingles = self.get_shingles(doc.text)
                sig = self.get_signature(shingles) if shingles.size else None
                if sig is not None:
                    for bucket, bucket_sig in zip(buckets, sig):
                        bucket.write(struct.pack(fmt, *bucket_sig, doc_idx))
                keys["idx"].append(doc_idx)
                keys["order"].append(doc.metadata["order"])
                keys["id"].append(doc.id)
                keys["exact"].append(exact_key(doc.metadata["record"], self.exact_key_mode))
                keys["sig"].append(None if sig is None else [h for part in sig for h in part])
            for f in buckets:
                f.close()
            self.sort_buckets(rank)
            self.write_keys(keys, rank)

    def sort_buckets(self, rank: int):
        """datatrove's bucket stage needs each signature file sorted by hash."""
        width = self.config.hashes_per_bucket
        dtype = np.dtype([(f"h{i}", self.config.hash_config.np_dtype) for i in range(width)] + [("doc", "<u4")])
        for bi in range(self.config.num_buckets):
            path = f"bucket_{bi:03d}/{rank:05d}.minhash.sig"
            with self.output_folder.open(path, "rb") as f:
                records = np.frombuffer(f.read(), dtype=dtype).copy()
            records.sort(order=dtype.names)
            with self.output_folder.open(path, "wb") as f:
                f.write(records.tobytes())

    def write_keys(self, keys: dict, rank: int):
        sig_type = pa.list_(pa.uint32() if self.config.hash_config.precision == 32 else pa.uint64())
        table = pa.table({"idx": pa.array(keys["idx"], pa.uint32()), "order": pa.array(keys["order"], pa.int64()),
                          "id": pa.array(keys["id"], pa.string()), "exact": pa.array(keys["exact"], pa.uint64()),
                          "sig": pa.array(keys["sig"], sig_type)})
        with self.keys_folder.open(f"{rank:05d}.parquet", "wb") as f:
            pq.write_table(table, f)
