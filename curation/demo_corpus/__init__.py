"""The embedded demo corpus: ~3000 seeded, realistic chat rows in six input formats with known planted problems.

    from curation.demo_corpus import write_demo_corpus
    info = write_demo_corpus("runs/demo/raw", seed=0, n_records=3000)
    info["planted"]   # {"exact_duplicate": 45, "language:fr": 9, ...}: what curation must remove or quarantine

Files: chat.jsonl (OpenAI messages, some system turns and multi-turn, plus malformed lines), sharegpt.json,
alpaca.jsonl.gz, math.parquet (GSM8K question/answer + gold), prefs.jsonl (TRL prompt/chosen/rejected) and
hh.jsonl (Anthropic HH transcripts). Nothing is downloaded; everything comes from the templates in this package.
"""

from curation.demo_corpus.write import write_demo_corpus

__all__ = ["write_demo_corpus"]
