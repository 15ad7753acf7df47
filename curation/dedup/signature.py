"""Dedup stage 1: per record, the exact-dedup key and a MinHash signature (datatrove's bucket files + a keys file).

Runs inside `mixlab curate` (stage "prepare"). It writes datatrove's bucket_XXX/<rank>.minhash.sig files (32-bit
hashes, sorted) so datatrove's MinhashDedupBuckets finds the candidate pairs, but computes them faster than
datatrove's MinhashDedupSignature: words come from a regex split (datatrove's default spaCy tokenizer runs at ~250
docs/s/core), and the rest runs on batches of BATCH_DOCS records with a few numpy calls per batch (per-record numpy
calls cost more than the arithmetic on short chat records): each distinct word is hashed once, n-grams are hashed
with vectorised rolling arithmetic, the permutations are multiply-shift hashes (no 64-bit modulo) applied to blocks
of about BLOCK_SHINGLES shingles, and np.minimum.reduceat takes each record's minimum. The full signature, input
order, exact key and id of each record go to work/dedup/keys/<rank>.parquet so the cluster stage can keep the
earliest copy and confirm LSH candidates on the whole signature.
"""

from __future__ import annotations

import re
import unicodedata
from itertools import islice

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
# ASCII bytes -> themselves lowercased when \w matches them ([0-9A-Za-z_]), else a space: split() then gives \w+ runs
ASCII_WORDS_LOWER = bytes(c + 32 * (65 <= c <= 90) if chr(c).isalnum() and c < 128 or c == 95 else 32
                          for c in range(256))
BATCH_DOCS = 1024
BLOCK_SHINGLES = 8192  # shingles x num_hashes uint64 per block: ~8 MB at 128 hashes, about what stays in cache


def exact_key(record: dict, key: str, text: str | None = None) -> int:
    """64-bit hash of the normalised conversation (NFKC, lowercase, whitespace folded) or its first user turn.

    `text`: the record's record_text when the caller already has it (a Document's text).
    """
    if key == "first_user_turn":
        turns = record.get("messages") or record.get("prompt") or []
        text = next((m["content"] for m in turns if m["role"] == "user"), "")
    elif text is None:
        text = record_text(record)
    return xxhash.xxh3_64_intdigest(" ".join(unicodedata.normalize("NFKC", text).lower().split()).encode())


def shingle_words(text: str) -> list[str]:
    """Lowercased words with diacritics folded and punctuation dropped (datatrove's simplify_text, numbers kept)."""
    text = text.lower()
    if not text.isascii():
        text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
    return WORD_RE.findall(text)


def word_bytes(text: str) -> list[bytes]:
    """shingle_words(text), UTF-8 encoded; ASCII text (the common case) takes a bytes.translate fast path."""
    if text.isascii():
        return text.encode().translate(ASCII_WORDS_LOWER).split()
    return [word.encode() for word in shingle_words(text)]


def word_hashes(words: list[bytes]) -> np.ndarray:
    """xxh3-64 of each word; arrow's dictionary encoding finds the distinct words, so each is hashed once."""
    if not words:
        return np.empty(0, dtype=np.uint64)
    encoded = pa.array(words, pa.binary()).dictionary_encode()
    distinct = encoded.dictionary.to_pylist()
    hashes = np.fromiter(map(xxhash.xxh3_64_intdigest, distinct), dtype=np.uint64, count=len(distinct))
    return hashes[encoded.indices.to_numpy()]


def rolling_n_grams(hashes: np.ndarray, n: int) -> np.ndarray:
    """A hash for every run of n consecutive word hashes (uint64 arithmetic wraps modulo 2**64, as wanted)."""
    count = len(hashes) - n + 1
    if count <= 0:
        return np.empty(0, dtype=np.uint64)
    shingles = hashes[:count].copy()
    for k in range(1, n):
        shingles *= ROLLING_PRIME
        shingles += hashes[k:k + count]
    return shingles


def word_shingles(text: str, n: int) -> np.ndarray:
    """64-bit hashes of one text's word n-grams, repeats included (a minimum does not care); empty below n words."""
    return rolling_n_grams(word_hashes(word_bytes(text)), n)


def batch_shingles(texts: list[str], n: int) -> tuple[np.ndarray, np.ndarray]:
    """(every text's word_shingles, concatenated; the number of shingles per text)."""
    words, per_text = [], np.empty(len(texts), dtype=np.int64)
    for i, text in enumerate(texts):
        text_words = word_bytes(text)
        words.extend(text_words)
        per_text[i] = len(text_words)
    # n-grams of the concatenation: those that start at least n-1 words before the end of their text are kept
    grams = rolling_n_grams(word_hashes(words), n)
    counts = np.maximum(per_text - n + 1, 0)
    starts = np.cumsum(per_text) - per_text
    keep = np.zeros(len(grams) + 1, dtype=np.int64)  # +1 then -1 marks, cumsum = "inside a kept range"
    np.add.at(keep, starts[counts > 0], 1)
    np.add.at(keep, (starts + counts)[counts > 0], -1)
    return grams[np.cumsum(keep[:-1]) > 0], counts


class MinhashPermutations:
    """num_hashes multiply-shift hash functions h(x) = (a*x + b) >> 32 over uint64 (a odd), seeded."""

    def __init__(self, num_hashes: int, seed: int):
        rng = np.random.RandomState(seed)
        self.a = (rng.randint(0, 2**63, size=num_hashes, dtype=np.uint64) << np.uint64(1)) | np.uint64(1)
        self.b = rng.randint(0, 2**63, size=num_hashes, dtype=np.uint64)

    def signature(self, shingles: np.ndarray) -> np.ndarray:
        """One text's signature (the definition; `signatures` computes the same for many texts at once)."""
        hashed = np.multiply.outer(shingles, self.a)
        hashed += self.b
        hashed >>= np.uint64(32)
        return hashed.min(axis=0).astype(np.uint32)

    def signatures(self, shingles: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """(len(counts), num_hashes) uint32: row i is the signature of the counts[i] shingles after rows < i;
        all zeros for a text without shingles. The shift comes after the minimum (it is monotonic)."""
        out = np.zeros((len(self.a), len(counts)), dtype=np.uint64)
        texts = np.flatnonzero(counts)
        starts = (np.cumsum(counts) - counts)[texts]
        buffer = np.empty(len(self.a) * min(len(shingles), BLOCK_SHINGLES), dtype=np.uint64)  # reused: no page faults
        first = 0
        while first < len(texts):
            # whole texts per block, at least one, up to about BLOCK_SHINGLES shingles
            last = max(first + 1, int(np.searchsorted(starts, starts[first] + BLOCK_SHINGLES, side="right")))
            begin = starts[first]
            end = starts[last] if last < len(texts) else len(shingles)
            if buffer.size < len(self.a) * (end - begin):  # one text longer than a block
                buffer = np.empty(len(self.a) * (end - begin), dtype=np.uint64)
            hashed = buffer[:len(self.a) * (end - begin)].reshape(len(self.a), end - begin)
            np.multiply(self.a[:, None], shingles[None, begin:end], out=hashed)
            hashed += self.b[:, None]
            out[:, texts[first:last]] = np.minimum.reduceat(hashed, starts[first:last] - begin, axis=1)
            first = last
        out >>= np.uint64(32)
        return out.T.astype(np.uint32)


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
        perms = MinhashPermutations(self.num_hashes, self.config.seed)
        keys = {"order": [], "id": [], "exact": []}
        sigs, counts = [], []
        data = iter(data)
        while batch := list(islice(data, BATCH_DOCS)):
            with self.track_time():
                self.stat_update("total", value=len(batch))
                shingles, per_doc = batch_shingles([doc.text for doc in batch], self.config.n_grams)
                sigs.append(perms.signatures(shingles, per_doc))
                counts.append(per_doc)
                for doc in batch:
                    keys["order"].append(doc.metadata["order"])
                    keys["id"].append(doc.id)
                    keys["exact"].append(exact_key(doc.metadata["record"], self.exact_key_mode, doc.text))
        with self.track_time():
            matrix = np.vstack(sigs) if sigs else np.zeros((0, self.num_hashes), dtype=np.uint32)
            keys["has_sig"] = np.concatenate(counts) > 0 if counts else np.zeros(0, dtype=bool)
            self.write_buckets(matrix, keys["has_sig"], rank)
            self.write_keys(keys, matrix, rank)
        return
        yield  # a generator step that yields nothing, like datatrove's signature stage

    def write_buckets(self, matrix: np.ndarray, has_sig: np.ndarray, rank: int):
        """Each bucket file: (hashes_per_bucket x uint32, doc index uint32) records sorted by hash."""
        width = self.config.hashes_per_bucket
        dtype = np.dtype([(f"h{i}", "<u4") for i in range(width)] + [("doc", "<u4")])
        doc_idx = np.flatnonzero(has_sig).astype(np.uint32)
        for bi in range(self.config.num_buckets):
            hashes = matrix[doc_idx, bi * width:(bi + 1) * width]
            # lexsort (last key first) gives the order of a structured sort on (h0, ..., doc), several times faster
            order = np.lexsort([doc_idx, *(hashes[:, i] for i in reversed(range(width)))])
            records = np.empty(len(doc_idx), dtype=dtype)
            for i in range(width):
                records[f"h{i}"] = hashes[order, i]
            records["doc"] = doc_idx[order]
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
