"""Dedup stage 3 (one task): decide which records are exact or near duplicates, always keeping the earliest copy.

Runs inside `mixlab curate` (stage "dedup_cluster"), after datatrove's MinhashDedupBuckets. Exact groups come
from the keys files; MinHash candidate pairs from datatrove's .dups files are confirmed on the full signature
(estimated Jaccard >= threshold) before they join a cluster. The earliest record (input order) of each group is
kept; every other member gets removed_by/reason/dup_of in work/dedup/decisions/<rank>.parquet.
"""

from __future__ import annotations

import json
from collections import Counter
from itertools import islice

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from datatrove.io import get_datafolder
from datatrove.pipeline.base import PipelineStep
from datatrove.utils.binaryio import read_tuples_from_file

MAX_EXAMPLES = 5


class UnionFind:
    def __init__(self, size: int):
        self.parent = list(range(size))

    def find(self, x: int) -> int:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: int, b: int):
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def roots(self) -> np.ndarray:
        """Every element's root (the smallest element of its set), by pointer jumping."""
        roots = np.asarray(self.parent)
        while True:
            jumped = roots[roots]
            if np.array_equal(jumped, roots):
                return roots
            roots = jumped


class DedupClusterer(PipelineStep):
    type = "🫂 - DEDUP"
    name = "🎯 dedup clusters (earliest kept)"

    def __init__(self, keys_folder: str, dups_folder: str | None, output_folder: str, threshold: float,
                 exact: bool, world_size: int):
        super().__init__()
        self.keys_folder = get_datafolder(keys_folder)
        self.dups_folder = get_datafolder(dups_folder) if dups_folder else None
        self.output_folder = get_datafolder(output_folder)
        self.threshold = threshold
        self.exact = exact
        self.prepare_tasks = world_size

    def load_keys(self) -> tuple[pl.DataFrame, np.ndarray]:
        """Every record that reached dedup (`node` = row number in rank, idx order) and its signature matrix."""
        frames, sigs = [], []
        for rank in range(self.prepare_tasks):
            with self.keys_folder.open(f"{rank:05d}.parquet", "rb") as f:
                table = pq.ParquetFile(f).read()  # read_table would import pyarrow.dataset (~0.6 s)
            sig = table.column("sig").combine_chunks()
            sigs.append(sig.flatten().to_numpy().reshape(len(table), sig.type.list_size))
            frames.append(pl.from_arrow(table.drop_columns("sig")).with_columns(pl.lit(rank, pl.UInt32).alias("rank")))
        return pl.concat(frames).with_row_index("node"), np.vstack(sigs)

    def candidate_pairs(self):
        if self.dups_folder is None:
            return
        for path in self.dups_folder.list_files(glob_pattern="*.dups"):
            with self.dups_folder.open(path, "rb") as f:
                yield from read_tuples_from_file(f, "4I", lines_to_buffer=1000)

    def candidate_blocks(self, size: int = 65536):
        """The candidate pairs as (n, 4) int64 arrays (rank1, doc1, rank2, doc2) of at most `size` rows."""
        pairs = self.candidate_pairs()
        while block := list(islice(pairs, size)):
            yield np.asarray(block, dtype=np.int64)

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        assert world_size == 1, "the dedup cluster stage runs as one task"
        with self.track_time():
            keys, sigs = self.load_keys()
            offsets = keys.group_by("rank").agg(pl.col("node").min()).sort("rank")
            node_of = dict(zip(offsets["rank"].to_list(), offsets["node"].to_list()))
            order = keys["order"].to_numpy()
            ids = keys["id"].to_list()
            exact_keeper = self.exact_keepers(keys)
            near = UnionFind(len(keys))
            first_node = np.zeros(max(node_of, default=0) + 1, dtype=np.int64)
            first_node[list(node_of)] = list(node_of.values())
            for pairs in self.candidate_blocks():
                a = exact_keeper[first_node[pairs[:, 0]] + pairs[:, 1]]
                b = exact_keeper[first_node[pairs[:, 2]] + pairs[:, 3]]
                close = (a != b) & ((sigs[a] == sigs[b]).mean(axis=1) >= self.threshold)
                for x, y in zip(a[close].tolist(), b[close].tolist()):
                    near.union(x, y)
            decisions, sizes = self.decide(order, ids, exact_keeper, near)
            self.write(keys, decisions, sizes)

    def exact_keepers(self, keys: pl.DataFrame) -> np.ndarray:
        """node -> the earliest node with the same exact key (itself when unique or exact dedup is off)."""
        keeper = np.arange(len(keys))
        if not self.exact:
            return keeper
        first = keys.sort("order").group_by("exact", maintain_order=True).agg(pl.col("node").first().alias("k"))
        mapping = keys.join(first, on="exact", how="left").sort("node")["k"].to_numpy()
        return mapping.astype(np.int64)

    def decide(self, order, ids, exact_keeper, near) -> tuple[dict[int, tuple[str, str, str]], dict]:
        """Per node: (removed_by, reason, dup_of) for every record that is not its group's earliest member; and the
        cluster-size histograms with a few examples (work/dedup/clusters.json)."""
        nodes = np.arange(len(order))
        decisions = {node: ("dedup:exact", "exact_duplicate", ids[keeper]) for node, keeper in
                     zip(np.flatnonzero(exact_keeper != nodes).tolist(), exact_keeper[exact_keeper != nodes].tolist())}
        # near groups among exact keepers: the earliest keeper (input order) of each group stays
        keepers = nodes[exact_keeper == nodes]
        keepers = keepers[np.argsort(order[keepers], kind="stable")]
        roots = near.roots()[keepers]
        _, first, group, members = np.unique(roots, return_index=True, return_inverse=True, return_counts=True)
        kept = keepers[first][group]
        for node, first_node in zip(keepers[kept != keepers].tolist(), kept[kept != keepers].tolist()):
            decisions[node] = ("dedup:minhash", "near_duplicate", ids[first_node])
        exact_sizes = Counter(Counter(exact_keeper.tolist()).values())
        near_sizes = Counter(members.tolist())
        sizes = {"exact": {str(k): v for k, v in sorted(exact_sizes.items()) if k > 1},
                 "minhash": {str(k): v for k, v in sorted(near_sizes.items()) if k > 1},
                 "examples": self.examples(decisions, ids)}
        return decisions, sizes

    @staticmethod
    def examples(decisions: dict, ids: list[str]) -> list[dict]:
        """A few clusters per dedup kind: the kept id and up to MAX_EXAMPLES removed ids."""
        groups: dict[tuple, list[str]] = {}
        for node, (removed_by, _, dup_of) in sorted(decisions.items()):
            key = (removed_by, dup_of)
            per_kind = sum(1 for k in groups if k[0] == removed_by)
            if key in groups or per_kind < MAX_EXAMPLES:
                groups.setdefault(key, []).append(ids[node])
        return [{"removed_by": rb, "kept": kept, "removed": removed[:MAX_EXAMPLES]}
                for (rb, kept), removed in groups.items()]

    def write(self, keys: pl.DataFrame, decisions: dict, sizes: dict):
        rows = keys.select("node", "rank", "idx").filter(pl.col("node").is_in(list(decisions)))
        for rank in range(self.prepare_tasks):
            mine = rows.filter(pl.col("rank") == rank).sort("idx")
            nodes = mine["node"].to_list()
            table = pa.table({
                "idx": pa.array(mine["idx"].to_list(), pa.uint32()),
                "removed_by": pa.array([decisions[n][0] for n in nodes], pa.string()),
                "reason": pa.array([decisions[n][1] for n in nodes], pa.string()),
                "dup_of": pa.array([decisions[n][2] for n in nodes], pa.string()),
            })
            with self.output_folder.open(f"decisions/{rank:05d}.parquet", "wb") as f:
                pq.write_table(table, f)
        with self.output_folder.open("clusters.json", "w") as f:
            f.write(json.dumps(sizes, indent=2, sort_keys=True))
        self.stat_update("dedup_exact", value=sum(1 for d in decisions.values() if d[0] == "dedup:exact"))
        self.stat_update("dedup_minhash", value=sum(1 for d in decisions.values() if d[0] == "dedup:minhash"))
