"""Exact and MinHash deduplication over datatrove: signature → buckets → cluster → filter."""
