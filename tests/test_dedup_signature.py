"""The batched MinHash signatures (curation.dedup.signature) equal the one-text definition, text by text."""

import random

import numpy as np

from curation.dedup.signature import (
    BLOCK_SHINGLES,
    MinhashPermutations,
    batch_shingles,
    shingle_words,
    word_bytes,
    word_shingles,
)

WORDS = ("the river engine teacher Garden MARKET naïve café Über straße 42 x_y 3.14 e-mail don't "
         "привет мир 東京 ﬁne").split()


def random_texts(count: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        length = rng.choice([0, 1, 4, 5, 6, 30, 120])  # around n=5: no shingle, exactly one, a few
        separators = [rng.choice([" ", "  ", ", ", "\n", "! ", "-"]) for _ in range(length)]
        texts.append("".join(rng.choice(WORDS) + sep for sep in separators))
    return texts


def test_word_bytes_fast_path_matches_the_regex_words():
    for text in random_texts(300) + ["ASCII only, with_under_score and 123abc!", "", "  \n "]:
        assert word_bytes(text) == [w.encode() for w in shingle_words(text)]


def test_batched_signatures_equal_the_per_text_definition():
    texts = random_texts(1200)
    perms = MinhashPermutations(64, seed=3)
    shingles, counts = batch_shingles(texts, 5)
    assert counts.sum() > 2 * BLOCK_SHINGLES  # several blocks, so block edges are exercised
    signatures = perms.signatures(shingles, counts)
    for text, count, signature in zip(texts, counts, signatures):
        own = word_shingles(text, 5)
        assert count == own.size
        expected = perms.signature(own) if own.size else np.zeros(64, dtype=np.uint32)
        assert np.array_equal(signature, expected)
    assert (counts == 0).any() and (counts == 1).any()


def test_one_text_far_over_a_block_is_one_block():
    text = " ".join(f"w{i}" for i in range(3 * BLOCK_SHINGLES))
    perms = MinhashPermutations(16, seed=1)
    shingles, counts = batch_shingles(["", text, "a b c d e"], 5)
    signatures = perms.signatures(shingles, counts)
    assert np.array_equal(signatures[1], perms.signature(word_shingles(text, 5)))
    assert np.array_equal(signatures[2], perms.signature(word_shingles("a b c d e", 5)))
    assert not signatures[0].any()
