"""The numpy bucket stage (curation.dedup.buckets) writes the same .dups bytes as datatrove's MinhashDedupBuckets."""

import random

import numpy as np
from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupBuckets
from datatrove.utils.hashing import HashConfig

from curation.dedup.buckets import DedupBuckets, band_records

CONFIG = MinhashConfig(n_grams=5, num_buckets=3, hashes_per_bucket=2, hash_config=HashConfig(precision=32))


def write_signature_files(folder, ranks: int, docs: int, seed: int = 0):
    """Sorted signature files with many collisions: hashes from a tiny alphabet, some ranks empty."""
    rng = random.Random(seed)
    dtype = band_records(CONFIG.hashes_per_bucket)
    for band in range(CONFIG.num_buckets):
        (folder / f"bucket_{band:03d}").mkdir(parents=True)
        for rank in range(ranks):
            count = 0 if rank == 2 else docs
            records = np.zeros(count, dtype=dtype)
            for i in range(CONFIG.hashes_per_bucket):
                records[f"h{i}"] = [rng.choice([0, 1, 7, 2**32 - 1]) for _ in range(count)]
            records["doc"] = rng.sample(range(10 * docs), count)
            records.sort(order=[*(f"h{i}" for i in range(CONFIG.hashes_per_bucket)), "doc"])
            (folder / f"bucket_{band:03d}" / f"{rank:05d}.minhash.sig").write_bytes(records.tobytes())


def test_pairs_equal_datatrove_bucket_stage(tmp_path):
    write_signature_files(tmp_path / "sigs", ranks=12, docs=40)
    for band in range(CONFIG.num_buckets):
        MinhashDedupBuckets(str(tmp_path / "sigs"), str(tmp_path / "datatrove"), config=CONFIG).run(
            None, band, CONFIG.num_buckets)
        DedupBuckets(str(tmp_path / "sigs"), str(tmp_path / "numpy"), CONFIG).run(None, band, CONFIG.num_buckets)
        name = f"{band:05d}_00.dups"
        expected = (tmp_path / "datatrove" / name).read_bytes()
        assert len(expected) > 16 * 100  # many pairs, runs longer than two records
        assert (tmp_path / "numpy" / name).read_bytes() == expected
