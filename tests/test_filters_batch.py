"""The repetition filter's batch path (a pipeline's filter_batch) gives the same verdicts as check() one record at a
time, on generated responses that hit every ratio, ties between top n-grams included."""

import random

import pytest

from curation.filters.repetition import NGramCounts, RepetitionFilter, top_n_gram_size, words_of
from mixlab.schema import record_to_document

VOCABULARY = "the cat sat on mat and we go to market buy bread milk naïve café straße 42".split()


def response(rng: random.Random) -> str:
    phrase = " ".join(rng.choice(VOCABULARY) for _ in range(rng.choice([1, 2, 3, 4, 6])))
    body = " ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(0, 60)))
    loop = (phrase + rng.choice([" ", ". ", "\n", "\n\n"])) * rng.randint(1, 12)
    code = "\n```python\nprint(1)\nprint(1)\n```\n" if rng.random() < 0.1 else ""
    return rng.choice(["", body + " "]) + loop + code + body


def records(count: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        if i % 3 == 2:  # preference records: two responses each
            out.append({"id": f"p{i}", "source": "t", "prompt": [{"role": "user", "content": "q"}],
                        "chosen": [{"role": "assistant", "content": response(rng)}],
                        "rejected": [{"role": "assistant", "content": response(rng)}], "meta": {}})
        else:
            turns = [{"role": r, "content": response(rng) if r == "assistant" else "q"}
                     for r in ["user", "assistant"] * rng.choice([1, 2])]
            out.append({"id": f"s{i}", "source": "t", "messages": turns, "meta": {}})
    return out


@pytest.mark.parametrize("options", [{}, {"min_top_repeats": 1}, {"min_words": 3}])
def test_batch_verdicts_equal_one_record_at_a_time(options):
    recs = records(900)
    filt = RepetitionFilter(**options)
    one_by_one = [filt.check(r) for r in recs]
    docs = [record_to_document(r, i) for i, r in enumerate(recs)]
    batched = [v for i in range(0, len(docs), 256) for v in filt.filter_batch(docs[i:i + 256])]
    assert batched == one_by_one
    reasons = {v[1] for v in one_by_one if v is not True}
    assert {"repetition:top_2_gram", "repetition:top_3_gram", "repetition:dup_line_frac",
            "repetition:duplicated_5_gram"} <= reasons
    dropped = [d for d, v in zip(docs, batched) if v is not True]
    assert all(d.metadata["removed_by"] == "filter:repetition" and d.metadata["reason"].startswith("repetition:")
               for d in dropped)


def test_top_n_gram_ties_go_to_the_first_seen():
    texts = ["b a b a c d c d", "x y x y x y z z z z", "", "one", "p q r p q r p q"]
    counts = NGramCounts(texts, [words_of(t) for t in texts], (2, 3, 4), 5)
    for i, text in enumerate(texts):
        for n in (2, 3, 4):
            assert counts.of(i).top[n] == top_n_gram_size(words_of(text), n), (text, n)
