"""BenchmarkIndex: which benchmark item does a training record contain? (Tülu 3's n-gram overlap over item segments).

    index = BenchmarkIndex.build({"gsm8k": items, "mmlu": items}, ngram=8)
    index.save("DIR/work/decontam/index"); index = BenchmarkIndex.load("DIR/work/decontam/index")
    index.match(["user turn", "assistant turn"], threshold=0.5)   # Match(task, item_id, overlap) | None

The rule: n-grams are taken within each segment of an item (decontam.items). A segment of >= n words is covered
where its n-gram windows occur among the record's n-grams; a shorter segment is covered wholly iff it occurs as a
contiguous word run in one of the record's texts. coverage = covered words / words; overlap = max(coverage of the
prompt, coverage of prompt + gold); a record contaminates an item iff overlap > threshold. N-grams never span two
texts (turns) of a record, but every text of the record counts.

Candidates: the index holds the n-gram hashes of long segments (and, for an item with no long segment, the whole-run
hash of each of its segments) in sorted uint64 keys with CSR postings. An item with a long segment therefore
becomes a candidate only through one of its long segments' n-grams: its short segments (options, say) alone never
make it a match, however much of the item they are. matches_batch works on a whole batch of records with numpy:
word runs are hashed in one pass, screened by a bitmap over the keys' top bits, and only survivors are
binary-searched; the candidates' covered words come straight from the postings (each posting is one window), and
the unindexed short segments (options) of candidates that could still pass the threshold are looked up last.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from curation.dedup.signature import ROLLING_PRIME
from decontam.items import BenchmarkItem
from decontam.normalise import normalised_bytes, word_hashes

# a word no normalised text contains, put after each text of a record: runs across two texts match no key
TEXT_SEPARATOR = b"\x01"
RECORD_TAG = np.uint64(0xD6E8FEB86659FD93)  # odd: (run hash + record * tag) tells records apart in one array
HASH_CHUNK_BYTES = 1 << 20  # the build hashes segment words in chunks of this size (bounded temporaries)
STORED_ARRAYS = ("keys", "key_offsets", "post_unit", "unit_seg", "unit_start", "seg_item", "seg_len", "seg_gold",
                 "seg_hash", "item_task")


@dataclass
class Match:
    task: str
    item_id: str
    overlap: float


def run_hashes(values: np.ndarray, length: int) -> np.ndarray:
    """Hash of each run of `length` consecutive words (entry p: words p .. p+length-1); uint64 arithmetic wraps."""
    count = len(values) - length + 1
    if count <= 0:
        return np.empty(0, dtype=np.uint64)
    out = values[:count].copy()
    for k in range(1, length):
        out *= ROLLING_PRIME
        out += values[k:k + count]
    return out


def overlaps(cover_prompt: np.ndarray, cover_gold: np.ndarray, prompt_words: np.ndarray, gold_words: np.ndarray):
    """max(coverage(prompt), coverage(prompt + gold)) of each candidate."""
    prompt = np.where(prompt_words > 0, cover_prompt / np.maximum(prompt_words, 1), 0.0)
    return np.maximum(prompt, (cover_prompt + cover_gold) / np.maximum(prompt_words + gold_words, 1))


def sorted_unique(values: np.ndarray) -> np.ndarray:
    values = np.sort(values)
    return values[np.concatenate([[True], values[1:] != values[:-1]])] if values.size else values


class HashSet:
    """Sorted unique uint64 hashes plus a bitmap of their top bits (~32 bits per key, so ~3% of the non-keys get
    past it): most queries are rejected by one gather, only the rest are binary-searched."""

    def __init__(self, keys: np.ndarray):
        self.keys = keys
        bits_log2 = int(min(30, max(12, np.ceil(np.log2(max(len(keys), 1) * 32)))))
        self.shift = np.uint64(64 - bits_log2)
        slots = keys >> self.shift
        self.bitmap = np.zeros(1 << (bits_log2 - 6), dtype=np.uint64)
        np.bitwise_or.at(self.bitmap, (slots >> np.uint64(6)).astype(np.int64), np.uint64(1) << (slots & np.uint64(63)))

    def find(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(index into queries, index into keys) of every query that is a key."""
        if not self.keys.size:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        slots = queries >> self.shift
        maybe = np.flatnonzero((self.bitmap[slots >> np.uint64(6)] >> (slots & np.uint64(63))) & np.uint64(1))
        found = np.minimum(np.searchsorted(self.keys, queries[maybe]), len(self.keys) - 1)
        hit = self.keys[found] == queries[maybe]
        return maybe[hit], found[hit]


class BenchmarkIndex:
    """Segments, n-gram postings and item tables of a set of benchmark items; build() or load(), then match()."""

    def __init__(self, ngram: int, tasks: list[str], item_ids: list[str], items_per_task: dict[str, int],
                 arrays: dict[str, np.ndarray]):
        self.ngram = ngram
        self.tasks = tasks
        self.item_ids = item_ids
        self.items_per_task = items_per_task
        self.arrays = arrays  # STORED_ARRAYS: what save() writes; the rest below is derived from them
        self.keys, self.key_offsets, self.post_unit = arrays["keys"], arrays["key_offsets"], arrays["post_unit"]
        self.unit_seg, self.unit_start = arrays["unit_seg"], arrays["unit_start"]
        self.seg_item, self.seg_len, self.seg_gold = arrays["seg_item"], arrays["seg_len"], arrays["seg_gold"]
        self.seg_hash, self.item_task = arrays["seg_hash"], arrays["item_task"]
        self.unit_len = np.minimum(self.seg_len[self.unit_seg], ngram)
        n_items = len(item_ids)
        long = self.seg_len >= ngram
        has_long = np.bincount(self.seg_item[long], minlength=n_items) > 0
        # an item made only of short segments matches on whole containment: every prompt segment must be present
        # (partial cover of e.g. "-4 + (-3) =" / "7" / "1" by ordinary arithmetic text is not contamination)
        self.whole_containment = ~has_long
        gold, words = self.seg_gold, self.seg_len.astype(np.float64)
        self.item_prompt_words = np.bincount(self.seg_item, weights=words * ~gold, minlength=n_items)
        self.item_gold_words = np.bincount(self.seg_item, weights=words * gold, minlength=n_items)
        # short segments of items that have a long one are not keys: checked only for candidates that need them
        unchecked = ~long & has_long[self.seg_item]
        self.item_unchecked_prompt = np.bincount(self.seg_item, weights=words * (unchecked & ~gold), minlength=n_items)
        self.item_unchecked_gold = np.bincount(self.seg_item, weights=words * (unchecked & gold), minlength=n_items)
        self.unchecked_segs = np.flatnonzero(unchecked)  # grouped by item, as segments are
        self.unchecked_offsets = np.searchsorted(self.seg_item[self.unchecked_segs], np.arange(n_items + 1))
        self.query_lengths = sorted({ngram, *np.unique(self.seg_len[~long & ~has_long[self.seg_item]]).tolist()})
        self.key_set = HashSet(self.keys)

    @classmethod
    def build(cls, items: dict[str, list[BenchmarkItem]], ngram: int = 8) -> BenchmarkIndex:
        if ngram < 1:
            raise ValueError(f"ngram must be at least 1, not {ngram}")
        pieces: list[bytes] = []
        seg_item, seg_len, seg_gold, item_task, item_ids = [], [], [], [], []
        for task_index, task in enumerate(items):
            for item in items[task]:
                for gold, text in indexable_segments(item, ngram):
                    piece = normalised_bytes(text)
                    n_words = len(piece.split())
                    if n_words:
                        pieces.append(piece)
                        seg_item.append(len(item_ids))
                        seg_len.append(n_words)
                        seg_gold.append(gold)
                item_task.append(task_index)
                item_ids.append(item.item_id)
        values = hash_in_chunks(pieces)
        arrays = segment_arrays(values, np.asarray(seg_item, dtype=np.int32), np.asarray(seg_len, dtype=np.int32),
                                np.asarray(seg_gold, dtype=bool), len(item_ids), ngram)
        arrays["item_task"] = np.asarray(item_task, dtype=np.int32)
        return cls(ngram, list(items), item_ids, {task: len(task_items) for task, task_items in items.items()},
                   arrays)

    def save(self, path) -> None:
        """Writes path/index.npz (the arrays) and path/index.json (n, tasks, item ids)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        np.savez(path / "index.npz", **{name: self.arrays[name] for name in STORED_ARRAYS})
        meta = {"ngram": self.ngram, "tasks": self.tasks, "items_per_task": self.items_per_task,
                "item_ids": self.item_ids}
        (path / "index.json").write_text(json.dumps(meta, ensure_ascii=False))

    @classmethod
    def load(cls, path) -> BenchmarkIndex:
        path = Path(path)
        meta = json.loads((path / "index.json").read_text())
        with np.load(path / "index.npz") as npz:
            arrays = {name: npz[name] for name in STORED_ARRAYS}
        return cls(meta["ngram"], meta["tasks"], meta["item_ids"], meta["items_per_task"], arrays)

    def match(self, texts: list[str], threshold: float = 0.5) -> Match | None:
        """The best item the texts (one record's turns) contaminate: highest overlap, ties to the earliest item."""
        return best_match(self.matches_batch([texts], threshold)[0])

    def matches_batch(self, records: list[list[str]], threshold: float = 0.5) -> list[list[Match]]:
        """Every item each record contaminates (overlap > threshold), in task then item order."""
        values, starts = self.encode(records)
        rec, item, cover_prompt, cover_gold = self.item_cover(values, starts)
        out: list[list[Match]] = [[] for _ in records]
        if not rec.size:
            return out
        prompt_words, gold_words = self.item_prompt_words[item], self.item_gold_words[item]
        # only candidates that would pass with all their unchecked short segments present get those checked
        best_case = overlaps(cover_prompt + self.item_unchecked_prompt[item],
                             cover_gold + self.item_unchecked_gold[item], prompt_words, gold_words)
        keep = best_case > threshold
        rec, item, cover_prompt, cover_gold, prompt_words, gold_words = (
            a[keep] for a in (rec, item, cover_prompt, cover_gold, prompt_words, gold_words))
        short_prompt, short_gold = self.short_cover(values, starts, rec, item)
        overlap = overlaps(cover_prompt + short_prompt, cover_gold + short_gold, prompt_words, gold_words)
        partial = self.whole_containment[item] & (cover_prompt + short_prompt < prompt_words)
        overlap[partial] = 0.0
        for i in np.flatnonzero(overlap > threshold).tolist():
            it = item[i]
            out[rec[i]].append(Match(self.tasks[self.item_task[it]], self.item_ids[it], float(overlap[i])))
        return out

    def candidates(self, texts: list[str]) -> list[tuple[str, str]]:
        """(task, item_id) of every item sharing an indexed key with the texts: the items match() scores."""
        _, item, _, _ = self.item_cover(*self.encode([texts]))
        return [(self.tasks[self.item_task[it]], self.item_ids[it]) for it in item.tolist()]

    def encode(self, records: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
        """Word hashes of all records, each text followed by a separator; starts[r] is record r's first word."""
        pieces, record_offsets, offset = [], [0], 0
        for texts in records:
            for text in texts:
                piece = normalised_bytes(text)
                pieces += (piece, TEXT_SEPARATOR)
                offset += len(piece) + len(TEXT_SEPARATOR) + 2  # + the two spaces join() puts after them
            record_offsets.append(offset)
        values, word_offsets = word_hashes(b" ".join(pieces))
        return values, np.searchsorted(word_offsets, record_offsets)

    def key_hits(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(word position, key index) of every run of a queried length whose hash is a key (one lookup for all)."""
        queried = []
        runs = values
        for length in range(1, self.query_lengths[-1] + 1):
            if length > 1:
                runs = runs[:-1] * ROLLING_PRIME + values[length - 1:]
            if length in self.query_lengths:
                queried.append(runs)
        found_at, key_index = self.key_set.find(np.concatenate(queried))
        firsts = np.cumsum([0] + [len(runs) for runs in queried])  # where each length's runs begin
        return found_at - firsts[np.searchsorted(firsts, found_at, side="right") - 1], key_index

    def item_cover(self, values: np.ndarray, starts: np.ndarray):
        """Per (record, candidate item), sorted: record, item, covered prompt words, covered gold words."""
        positions, key_index = self.key_hits(values)
        if not positions.size:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty, empty.astype(np.float64), empty.astype(np.float64)
        rec = np.searchsorted(starts, positions, side="right") - 1
        n_keys, n_units, n_items = len(self.keys), len(self.unit_seg), len(self.item_ids)
        pairs = sorted_unique(rec * n_keys + key_index)
        rec, key_index = pairs // n_keys, pairs % n_keys
        first = self.key_offsets[key_index]
        counts = self.key_offsets[key_index + 1] - first
        posting = np.arange(counts.sum()) + np.repeat(first - (np.cumsum(counts) - counts), counts)
        # units are numbered by (segment, start) and segments by item: sorted pairs come grouped by record and item
        pairs = sorted_unique(np.repeat(rec, counts) * n_units + self.post_unit[posting])
        rec, unit = pairs // n_units, pairs % n_units
        seg, start, length = self.unit_seg[unit], self.unit_start[unit], self.unit_len[unit]
        # the words a hit unit adds to its segment's cover: up to the next hit unit of the same segment
        cover = length.astype(np.float64)
        same_seg = (rec[1:] == rec[:-1]) & (seg[1:] == seg[:-1])
        cover[:-1] = np.where(same_seg, np.minimum(length[:-1], start[1:] - start[:-1]), length[:-1])
        group = rec * n_items + self.seg_item[seg]
        group_starts = np.flatnonzero(np.concatenate([[True], group[1:] != group[:-1]]))
        cover_gold = np.add.reduceat(cover * self.seg_gold[seg], group_starts)
        cover_prompt = np.add.reduceat(cover, group_starts) - cover_gold
        group = group[group_starts]
        return group // n_items, group % n_items, cover_prompt, cover_gold

    def short_cover(self, values: np.ndarray, starts: np.ndarray, rec: np.ndarray, item: np.ndarray):
        """Covered (prompt, gold) words of each candidate's unchecked short segments: a segment counts wholly when
        one of its record's texts holds it as a word run. Vectorised over the batch, one pass per segment length."""
        first = self.unchecked_offsets[item]
        counts = self.unchecked_offsets[item + 1] - first
        owner = np.repeat(np.arange(len(item)), counts)  # the candidate each wanted segment belongs to
        seg = self.unchecked_segs[np.arange(counts.sum()) + np.repeat(first - (np.cumsum(counts) - counts), counts)]
        found = np.zeros(len(seg), dtype=bool)
        if len(seg):
            # only the words of the records concerned; a tag adds the record to each run hash
            record_of_word = np.repeat(np.arange(len(starts) - 1), np.diff(starts))
            concerned = np.zeros(len(starts) - 1, dtype=bool)
            concerned[rec[owner]] = True
            words = np.flatnonzero(concerned[record_of_word])
            sub_values, sub_tags = values[words], record_of_word[words].astype(np.uint64) * RECORD_TAG
            wanted_tags = self.seg_hash[seg] + rec[owner].astype(np.uint64) * RECORD_TAG
            lengths = self.seg_len[seg]
            for length in np.unique(lengths).tolist():
                sel = np.flatnonzero(lengths == length)
                wanted, slot = np.unique(wanted_tags[sel], return_inverse=True)
                runs = run_hashes(sub_values, length)
                runs += sub_tags[:len(runs)]
                present = np.zeros(len(wanted), dtype=bool)
                present[HashSet(wanted).find(runs)[1]] = True
                found[sel] = present[slot]
        covered = found * self.seg_len[seg].astype(np.float64)
        gold = self.seg_gold[seg]
        return (np.bincount(owner, weights=covered * ~gold, minlength=len(item)),
                np.bincount(owner, weights=covered * gold, minlength=len(item)))


MIN_SHORT_ITEM_LETTER_WORDS = 3


def indexable_segments(item: BenchmarkItem, ngram: int) -> list[tuple[bool, str]]:
    """(is_gold, text) of the item's segments; none for an item too bare to attribute a match to.

    An item made only of short segments matches on whole containment, and after normalisation an arithmetic item
    such as "−4 + (−3) =" / "−7" / "−1" / "1" / "7" is the word runs "4 3", "7", "1": text any maths answer holds.
    Such an item needs at least MIN_SHORT_ITEM_LETTER_WORDS words with a letter to be matchable at all; it still
    counts in its benchmark's item total."""
    segments = [(False, s) for s in item.prompt] + [(True, s) for s in item.gold]
    words = [normalised_bytes(text).split() for _, text in segments]
    if all(len(w) < ngram for w in words):
        letter_words = sum(1 for w in words[:len(item.prompt)] for word in w if not word.isdigit())
        if letter_words < MIN_SHORT_ITEM_LETTER_WORDS:
            return []
    return segments


def hash_in_chunks(pieces: list[bytes]) -> np.ndarray:
    """word_hashes of the pieces' words in order, a few MB of text at a time."""
    chunks, chunk, size = [], [], 0
    for piece in pieces:
        chunk.append(piece)
        size += len(piece)
        if size >= HASH_CHUNK_BYTES:
            chunks.append(word_hashes(b" ".join(chunk))[0])
            chunk, size = [], 0
    chunks.append(word_hashes(b" ".join(chunk))[0])
    return np.concatenate(chunks)


def best_match(matches: list[Match]) -> Match | None:
    """Highest overlap; the list is in task then item order and max() keeps the first of equals."""
    return max(matches, key=lambda m: m.overlap, default=None)


def segment_arrays(values: np.ndarray, seg_item: np.ndarray, seg_len: np.ndarray, seg_gold: np.ndarray,
                   n_items: int, ngram: int) -> dict[str, np.ndarray]:
    """Units (n-gram windows of long segments; whole short segments of items without a long one) and their keys."""
    seg_start = np.concatenate([[0], np.cumsum(seg_len, dtype=np.int64)[:-1]])
    long = seg_len >= ngram
    has_long = np.bincount(seg_item[long], minlength=n_items) > 0
    seg_hash = np.zeros(len(seg_len), dtype=np.uint64)
    short = np.flatnonzero(~long)
    seg_hash[short] = values[seg_start[short]]
    for k in range(1, ngram - 1):  # whole-run hashes of the short segments, all lengths at once
        grow = short[seg_len[short] > k]
        seg_hash[grow] = seg_hash[grow] * ROLLING_PRIME + values[seg_start[grow] + k]
    long_segs = np.flatnonzero(long)
    windows = (seg_len[long_segs] - ngram + 1).astype(np.int64)
    window_seg = np.repeat(long_segs, windows)
    window_start = np.arange(windows.sum()) - np.repeat(np.cumsum(windows) - windows, windows)
    whole = short[~has_long[seg_item[short]]]
    unit_seg = np.concatenate([window_seg, whole])
    unit_start = np.concatenate([window_start, np.zeros(len(whole), dtype=np.int64)])
    unit_keys = np.concatenate([run_hashes(values, ngram)[seg_start[window_seg] + window_start], seg_hash[whole]])
    order = np.lexsort((unit_start, unit_seg))
    unit_seg, unit_start, unit_keys = unit_seg[order], unit_start[order], unit_keys[order]
    post_unit = np.argsort(unit_keys, kind="stable")
    sorted_keys = unit_keys[post_unit]
    first = np.flatnonzero(np.concatenate([[True], sorted_keys[1:] != sorted_keys[:-1]])) if len(sorted_keys) \
        else np.empty(0, dtype=np.int64)
    return {"keys": sorted_keys[first], "key_offsets": np.append(first, len(sorted_keys)),
            "post_unit": post_unit.astype(np.int32), "unit_seg": unit_seg.astype(np.int32),
            "unit_start": unit_start.astype(np.int32), "seg_item": seg_item, "seg_len": seg_len,
            "seg_gold": seg_gold, "seg_hash": seg_hash}
