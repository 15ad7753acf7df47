"""How the demo corpus plants each problem into an otherwise clean answer (one problem per row).

    cut_mid_word(rng, answer)              # "... a generous amount of ingre"  -> ends_mid_word
    malformed_line(rng, "invalid_utf8")    # a chat.jsonl line the reader must quarantine

A function returns None when the answer it gets cannot carry the problem; the caller then draws another.
"""

from __future__ import annotations

import json
import random

from curation.demo_corpus.content import slots

REPEATED_LINES = ["I will check the {doc} again and send it to {n1} before {day}.",
                  "The {event} starts at {k} o'clock in the {place}, so please arrive a little early.",
                  "Remember to bring the {doc} to the {event} on {day} and ask {n1} for the key.",
                  "{n1} says the {place} is closed until {month}, so we should plan the {event} elsewhere."]
MOJIBAKE_LINES = ["The poster for the {event} said Ã©tÃ© {k}, which was meant to read summer {k}.",
                  "We met at the cafÃ© near the {place}, and it wasnâ€™t crowded at all.",
                  "{n1}â€™s rÃ©sumÃ© lists {k} years of work on the {doc}."]
REPLACEMENT_LINES = ["I attached the r\ufffdsum\ufffd and the caf\ufffd receipt from {day}.",
                     "The na\ufffdve estimate for the {event} was off by {k} percent.",
                     "{n1}\ufffds notes on the {doc} came through with a few broken characters."]
AI_DISCLAIMERS = ["As an AI language model, I don't have personal opinions, but here is what I can tell you.",
                  "As an AI language model, I can only offer general guidance on this.",
                  "As an AI language model, I do not have feelings, but I am happy to help."]
SWAPS = {"about": "around", "said": "stated", "after": "following", "expected": "scheduled", "several": "many",
         "hopes": "plans", "found": "showed", "roughly": "nearly", "start": "begin", "followed": "tracked",
         "spent": "used", "warned": "noted", "argued": "claimed", "launched": "released", "praised": "liked",
         "approved": "passed", "plan": "proposal", "team": "group", "held": "remained", "aimed": "targeted"}


def cut_mid_word(rng: random.Random, answer: str) -> str | None:
    """The answer cut inside a word of its last line, leaving at least 8 words on that line."""
    head, _, last = answer.rpartition("\n")
    words = last.split()
    spots = [i for i in range(8, len(words) - 1) if words[i].isalpha() and len(words[i]) >= 5]
    if not spots:
        return None
    i = rng.choice(spots)
    line = " ".join(words[:i] + [words[i][:rng.randint(2, len(words[i]) - 2)]])
    return f"{head}\n{line}" if head else line


def unclose_fence(answer: str) -> str | None:
    """The answer without its closing ``` line (the explanation after the code stays)."""
    close = answer.rfind("\n```\n")
    return None if close < 0 else answer[:close] + answer[close + 4:]


def repeated_answer(rng: random.Random) -> str:
    """A degenerate answer: one sentence over and over, one per line."""
    line = rng.choice(REPEATED_LINES).format(**slots(rng))
    return "\n".join([line] * rng.randint(8, 15))


def with_mojibake(rng: random.Random, answer: str) -> str:
    return f"{answer}\n\n{rng.choice(MOJIBAKE_LINES).format(**slots(rng))}"


def with_replacement_chars(rng: random.Random, answer: str) -> str:
    return f"{answer}\n\n{rng.choice(REPLACEMENT_LINES).format(**slots(rng))}"


def blocklisted(rng: random.Random, answer: str) -> str:
    return f"{rng.choice(AI_DISCLAIMERS)}\n\n{answer}"


def with_swapped_words(rng: random.Random, text: str, n_words: int) -> str | None:
    """`text` with `n_words` common words replaced by near-synonyms (a light paraphrase), if it has enough."""
    tokens = text.split(" ")
    spots = [i for i, token in enumerate(tokens) if token.rstrip(".,;") in SWAPS]
    if len(spots) < n_words:
        return None
    for i in rng.sample(spots, n_words):
        word = tokens[i].rstrip(".,;")
        tokens[i] = SWAPS[word] + tokens[i][len(word):]
    return " ".join(tokens)


def malformed_line(rng: random.Random, problem: str) -> bytes:
    """A chat.jsonl line with `problem`: malformed_json, invalid_utf8, wrong_type or unknown_schema."""
    fill = slots(rng)
    question = f"When is the {fill['event']} with {fill['n1']}?"
    answer = f"The {fill['event']} is on {fill['day']} in the {fill['place']}."
    row = {"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]}
    text = json.dumps(row)
    if problem == "malformed_json":
        return rng.choice([text[: rng.randint(20, len(text) - 5)], text[:-1] + ", }", str(row)]).encode()
    if problem == "invalid_utf8":  # Latin-1 / broken bytes inside an otherwise valid JSON line
        return text.replace(fill["place"], fill["place"] + "@@").encode().replace(
            b"@@", rng.choice([b" caf\xe9", b"\xff\xfe", b"\xc3\x28"]))
    if problem == "wrong_type":
        return json.dumps(rng.choice([{"messages": f"user: {question}\nassistant: {answer}"},
                                      {"messages": row["messages"][0]}])).encode()
    if problem == "unknown_schema":
        return json.dumps(rng.choice([{"foo": 1}, {"title": question, "url": f"https://example.com/{fill['k']}"},
                                      {"text_body": answer, "lang": "en"}])).encode()
    raise ValueError(f"unknown malformed-line problem {problem!r}")
