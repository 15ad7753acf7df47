"""Table tests for the chat filters on real fastText, tokenizers, datatrove: `pytest tests/test_filters.py`.

Each filter gets records it must drop (with the exact reason) and near misses it must keep; one test runs
filters in a real LocalPipelineExecutor and reads the removed parquet back.
"""

from __future__ import annotations

import inspect
import json
import os
import pickle

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import polars as pl
import pytest
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.filters.gopher_repetition_filter import GopherRepetitionFilter

from curation.filters import FILTERS, build_filters
from curation.filters.blocklist import BlocklistFilter
from curation.filters.empty_turns import EmptyTurnsFilter
from curation.filters.language import LanguageFilter
from curation.filters.last_turn import LastTurnFilter
from curation.filters.mojibake import MojibakeFilter
from curation.filters.repetition import DUP_N_GRAMS, TOP_N_GRAMS, RepetitionFilter
from curation.filters.response_length import ResponseLengthFilter
from curation.filters.truncated import TruncatedFilter
from curation.writers import RemovedWriter
from mixlab.schema import record_to_document


def msg(role: str, content: str) -> dict:
    return {"role": role, "content": content}


def sft(*turns: str, system: str | None = None, rid: str = "r") -> dict:
    """Alternating user/assistant turns, starting with the user."""
    messages = [msg("system", system)] if system is not None else []
    messages += [msg("user" if i % 2 == 0 else "assistant", t) for i, t in enumerate(turns)]
    return {"id": rid, "source": "test", "messages": messages, "meta": {}}


def pref(prompt: str, chosen: str, rejected: str, rid: str = "p") -> dict:
    return {"id": rid, "source": "test", "prompt": [msg("user", prompt)],
            "chosen": [msg("assistant", chosen)], "rejected": [msg("assistant", rejected)], "meta": {}}


def rl(prompt: str, rid: str = "q") -> dict:
    return {"id": rid, "source": "test", "prompt": [msg("user", prompt)],
            "verifier": {"name": "math", "answer": "4"}, "meta": {}}


def verdict(filt, record: dict) -> str | None:
    """None when kept, the reason when dropped; goes through datatrove's filter() on a real Document."""
    result = filt.filter(record_to_document(record, 0))
    return None if result is True else result[1]


def assert_table(filt, drops: dict[str, tuple[dict, str]], keeps: dict[str, dict]):
    got = {name: verdict(filt, record) for name, (record, _) in drops.items()}
    assert got == {name: reason for name, (_, reason) in drops.items()}
    got = {name: verdict(filt, record) for name, record in keeps.items()}
    assert got == dict.fromkeys(keeps)


def test_empty_turns():
    assert_table(EmptyTurnsFilter(), drops={
        "empty_assistant": (sft("Hi?", ""), "empty_turn"),
        "whitespace_user": (sft(" \n\t", "Hello!"), "empty_turn"),
        "empty_system": (sft("Hi?", "Hello!", system=""), "empty_turn"),
        "empty_rejected": (pref("Hi?", "Hello!", "   "), "empty_turn"),
        "empty_rl_prompt": (rl(""), "empty_turn"),
    }, keeps={"sft": sft("Hi?", "Hello!", system="Be brief."), "pref": pref("Hi?", "Hello!", "Go away."),
              "rl": rl("What is 2+2?"), "single_char": sft("?", "0")})


def test_last_turn():
    chosen_ends_with_user = {**pref("Hi?", "a", "b"), "chosen": [msg("assistant", "a"), msg("user", "?")]}
    assert_table(LastTurnFilter(), drops={
        "ends_with_user": (sft("Hi?", "Hello!", "And you?"), "last_turn_not_assistant"),
        "only_user": (sft("Hi?"), "last_turn_not_assistant"),
        "no_messages": ({"id": "e", "source": "t", "messages": [], "meta": {}}, "last_turn_not_assistant"),
        "chosen_ends_with_user": (chosen_ends_with_user, "last_turn_not_assistant"),
        "rejected_empty": ({**pref("Hi?", "a", "b"), "rejected": []}, "last_turn_not_assistant"),
    }, keeps={"sft": sft("Hi?", "Hello!"), "multi_turn": sft("Hi?", "Hello!", "More?", "Sure."),
              "pref": pref("Hi?", "Hello!", "Bye."), "rl": rl("What is 2+2?")})


@pytest.fixture(scope="module")
def word_tokenizer(tmp_path_factory):
    """A WordLevel tokenizer trained here; its pre-tokenizer splits punctuation, so tokens > words."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.train_from_iterator(["Hello, world!", "The cat sat on the mat.", "Yes."],
                                  trainers.WordLevelTrainer(special_tokens=["[UNK]"]))
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    tokenizer.save(str(path))
    return path


def test_response_length_in_words():
    filt = ResponseLengthFilter(min_length=2, max_length=6)
    assert_table(filt, drops={
        "one_word": (sft("Hi?", "Yes."), "response_too_short"),
        "seven_words": (sft("Hi?", "one two three four five six seven"), "response_too_long"),
        "rejected_too_long": (pref("Hi?", "Fine thanks.", "a b c d e f g h"), "response_too_long"),
        "any_turn_counts": (sft("Hi?", "Hello there.", "And?", "No."), "response_too_short"),
    }, keeps={"two_words": sft("Hi?", "Hello, world!"),
              "six_words": sft("Hi?", "one two three four five six"),
              "rl_has_no_response": rl("What is 2+2?")})
    assert verdict(ResponseLengthFilter(), sft("Hi?", "word " * 8193)) == "response_too_long"
    assert verdict(ResponseLengthFilter(max_length=None), sft("Hi?", "word " * 9000)) is None


def test_response_length_with_tokenizer_json(word_tokenizer):
    record = sft("Hi?", "Hello, world!")  # 2 words, 4 tokens: Hello , world !
    assert verdict(ResponseLengthFilter(max_length=3), record) is None
    path = str(word_tokenizer)
    filt = ResponseLengthFilter(max_length=3, tokenizer=path)
    assert verdict(filt, record) == "response_too_long"
    assert verdict(ResponseLengthFilter(min_length=5, tokenizer=path), record) == "response_too_short"
    assert verdict(ResponseLengthFilter(min_length=4, max_length=4, tokenizer=path), record) is None
    # a filter that already loaded its tokenizer still pickles (datatrove ships steps to workers)
    assert verdict(pickle.loads(pickle.dumps(filt)), record) == "response_too_long"


def test_response_length_with_tokenizer_folder(word_tokenizer, tmp_path):
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_file(str(word_tokenizer))).save_pretrained(tmp_path)
    filt = ResponseLengthFilter(max_length=3, tokenizer=str(tmp_path))
    assert verdict(filt, sft("Hi?", "Hello, world!")) == "response_too_long"
    assert verdict(filt, sft("Hi?", "Yes.")) is None


def test_response_length_rejects_missing_tokenizer():
    with pytest.raises(ValueError, match="not a local tokenizer"):
        ResponseLengthFilter(tokenizer="Qwen/Qwen2.5-0.5B-Instruct")


MATH_STEPS = ("To find the total cost, we need to follow these steps.\n"
              "Step 1: Calculate the cost of the apples. 5 apples at $2 each cost 5 * 2 = $10.\n"
              "Step 2: Calculate the cost of the oranges. 3 oranges at $1 each cost 3 * 1 = $3.\n"
              "Step 3: Add the two amounts together. 10 + 3 = 13.\nSo the total cost is $13.\n#### 13")
GSM8K = ("Janet's ducks lay 16 eggs per day.\n"
         "She eats 3 for breakfast, so she has 16 - 3 = <<16-3=13>>13 eggs.\n"
         "She bakes muffins with 4, so she has 13 - 4 = <<13-4=9>>9 eggs left.\n"
         "She sells the remaining 9 eggs at $2 each, so she makes 9 * 2 = $<<9*2=18>>18 every day.\n#### 18")
EQUATIONS = ("Let B be the number of boys and G the number of girls.\n\n"
             "There are 30 students, so:\nB + G = 30\n\n"
             "There are 4 more girls than boys, so:\nG = B + 4\n\nSubstituting gives:\nB + (B + 4) = 30\n"
             "2B + 4 = 30\n2B = 26\nB = 13\n\nSo there are 13 boys, and G = 13 + 4 = 17 girls.")
LATEX = ("Let $r$ be the common ratio. Then $ar = 6$ and $ar^3 = 54$, so $r^2 = \\frac{54}{6} = 9$ "
         "and $r = 3$ "
         "(since the terms are positive). Therefore $a = \\frac{6}{3} = 2$, and the fifth term is "
         "$ar^4 = 2 \\cdot 3^4 = 2 \\cdot 81 = \\boxed{162}$.")
FENCED_CODE = ("Here is a function that does it:\n\n```js\nfunction f(a) {\n  if (a) {\n    return 1;\n  }\n"
               "  if (!a) {\n    return 1;\n  }\n}\n```\n\n"
               "It returns one in both cases, so you can simplify it to a single return statement.")
UNFENCED_CODE = "".join(f"def {op}(a, b):\n    return a {sym} b\n\n" for op, sym in
                        [("add", "+"), ("sub", "-"), ("mul", "*"), ("div", "/"), ("mod", "%")])
TICKETS = ("Adult tickets cost 1 * 18 = 18 dollars.\nChild tickets cost 1 * 10 = 10 dollars.\n"
           "The total is 18 + 10 = 28 dollars.\n#### 28")
WAGES = ("On weekdays he works 5 * 4 = 20 hours.\nThe week has 20 + 2 = 22 hours in total.\n"
         "He earns 22 * 15 = 330.\n#### 330")
PROSE = ("Photosynthesis is the process by which green plants use sunlight to synthesize foods from carbon "
         "dioxide and water. It generally involves the green pigment chlorophyll and generates oxygen as a "
         "byproduct. The light reactions take place in the thylakoid membranes, while the Calvin cycle "
         "occurs in the stroma of the chloroplast.")


def test_repetition_uses_gophers_default_thresholds():
    defaults = {k: p.default for k, p in inspect.signature(GopherRepetitionFilter).parameters.items()}
    ours = {k: p.default for k, p in inspect.signature(RepetitionFilter).parameters.items()}
    for ratio in ("dup_line_frac", "dup_para_frac", "dup_line_char_frac", "dup_para_char_frac"):
        assert ours[ratio] == defaults[ratio]
    assert TOP_N_GRAMS == defaults["top_n_grams"] and DUP_N_GRAMS == defaults["dup_n_grams"]


def test_repetition():
    filt = RepetitionFilter()
    assert_table(filt, drops={
        "repeated_paragraphs": (sft("Q?", "The answer is yes.\n\n" + "I hope this helps you today.\n\n" * 5),
                                "repetition:dup_para_frac"),
        "repeated_lines": (sft("Q?", "The answer is yes.\n" + "I hope this helps you with homework.\n" * 6),
                           "repetition:dup_line_frac"),
        "stuttering": (sft("Q?", "I think " + "the the the the " * 20 + "end."), "repetition:top_2_gram"),
        "sentence_loop": (sft("Q?", "Sure, here is the plan. " + "We go to the market and buy bread. " * 6),
                          "repetition:top_3_gram"),
        "loop_in_rejected": (pref("Q?", PROSE, "Well. " + "We go to the market and buy bread. " * 6),
                             "repetition:top_3_gram"),
    }, keeps={"math_steps": sft("Q?", MATH_STEPS), "gsm8k": sft("Q?", GSM8K),
              "equations": sft("Q?", EQUATIONS),
              "latex": sft("Q?", LATEX), "fenced_code": sft("Q?", FENCED_CODE),
              "unfenced_code": sft("Q?", UNFENCED_CODE), "prose": sft("Q?", PROSE),
              "short_answer": sft("Q?", "yes yes yes yes yes yes"), "phrase_twice": sft("Q?", TICKETS),
              "short_wages": sft("Q?", WAGES),
              "repetitive_user": sft("Say it again. " * 30, PROSE)})
    # Gopher's raw top n-gram ratio flags short answers whose top 4-gram occurs once
    assert RepetitionFilter(min_top_repeats=1).repeated_ratio(WAGES) == "top_4_gram"
    long_ngram_loop = "We go to the market and buy bread and milk and eggs today, " * 3 + PROSE
    assert filt.repeated_ratio(long_ngram_loop) == "duplicated_5_gram"
    assert RepetitionFilter(min_words=200).repeated_ratio(long_ngram_loop) is None


FRENCH = ("Quelle est la capitale de la France ?",
          "La capitale de la France est Paris, une ville célèbre pour la tour Eiffel et ses nombreux musées.")
GERMAN = ("Wie spät ist es?", "Es ist drei Uhr nachmittags, und wir sollten bald nach Hause gehen.")
SPANISH = ("¿Cuál es la capital de España?",
           "La capital de España es Madrid, una ciudad muy bonita y antigua.")
CHINESE = ("中国的首都是哪里？", "中国的首都是北京，它是一座历史悠久的城市，有很多名胜古迹。")
ENGLISH = ("What is the capital of France?", "The capital of France is Paris, famous for the Eiffel Tower.")


def lang_counts(filt) -> dict[str, int]:
    return {k: v.total for k, v in filt.stats.stats.items() if k.startswith("lang_")}


def test_language():
    filt = LanguageFilter()
    assert_table(filt, drops={
        "french": (sft(*FRENCH), "language:fr"), "german": (sft(*GERMAN), "language:de"),
        "spanish": (sft(*SPANISH), "language:es"), "chinese": (sft(*CHINESE), "language:zh"),
        "french_preference": (pref(FRENCH[0], FRENCH[1], "Je ne sais pas, désolé."), "language:fr"),
    }, keeps={
        "english": sft(*ENGLISH), "short_english": sft("Hi!", "Hello there."), "too_short": sft("Ok", "ok"),
        "english_with_code": sft("How do I reverse a list in Python?", "Use slicing:\n```python\n"
                                 "xs = [1, 2, 3]\nprint(xs[::-1])\n```\nor xs.reverse()."),
        "english_math": sft("Solve 3x + 5 = 20.", "Subtract 5: 3x = 15. Divide by 3: x = 5.\n#### 5"),
        "english_system_prompt_ignored": sft(*ENGLISH, system="Tu es un assistant très serviable et poli."),
    })
    counts = lang_counts(filt)
    assert counts["lang_en"] >= 3 and counts["lang_und"] >= 1
    assert {k: counts[k] for k in ("lang_fr", "lang_de", "lang_es", "lang_zh")} == {
        "lang_fr": 2, "lang_de": 1, "lang_es": 1, "lang_zh": 1}
    assert sum(counts.values()) == 11  # one count per record seen, kept or not


def test_language_other_allowed_and_pickled():
    filt = pickle.loads(pickle.dumps(LanguageFilter(languages=["fr", "de"])))
    assert verdict(filt, sft(*FRENCH)) is None and verdict(filt, sft(*GERMAN)) is None
    assert verdict(filt, sft(*ENGLISH)) == "language:en"
    strict = LanguageFilter(min_score=0.999)  # nothing is that certain: unsure foreign text is kept
    assert verdict(strict, sft(*SPANISH)) is None and lang_counts(strict) == {"lang_und": 1}


def garble(text: str) -> str:
    return text.encode("utf-8").decode("cp1252")


def test_mojibake():
    filt = MojibakeFilter()
    assert_table(filt, drops={
        "replacement_char": (sft("Hi?", "Caf\ufffd au lait."), "replacement_char"),
        "replacement_in_user": (sft("Na\ufffdve question?", "Sure."), "replacement_char"),
        "e_acute": (sft("Hi?", "CafÃ© au lait."), "mojibake"),
        "apostrophe": (sft("Hi?", "Itâ€™s fine."), "mojibake"),
        "quotes": (sft("Hi?", "He said â€œhelloâ€."), "mojibake"),
        "umlauts": (sft("Hi?", "Ã¤rger und Ã¼ber"), "mojibake"),
        "garbled_cyrillic": (sft("Hi?", garble("Привет")), "mojibake"),
        "garbled_chinese": (sft("Hi?", garble("你好")), "mojibake"),
        "garbled_emoji": (sft("Hi?", garble("Nice 😀")), "mojibake"),
        "latin1_decoded": (sft("Hi?", "It’s".encode().decode("latin-1")), "mojibake"),
    }, keeps={
        "french": sft("Ça va ?", "Très bien, merci ! «Café» et voilà… À\u00a0bientôt, naïve Noël."),
        "german_spanish": sft("Grüße", "Ärger über Öl, ß. Mañana en España, AÑO, ¿qué?"),
        "caps": sft("Hi", "SÃO PAULO, IRMÃ, ÎLE, ÅSA, ØRESUND, CAFÉ’S"),
        "cjk_emoji": sft("你好吗？", "我很好，谢谢！日本語 한국어 😀🎉👍🏽 ❤️"),
        "symbols": sft("Price?", "5 € or £4, ©2024, ½ cup at 25°C ±3, x², “quotes” — ‘single’ • bullet"),
        "greek_cyrillic_icelandic": sft("Привет", "Ελληνικά, Þór og Guðrún fóru… «Að»"),
    })
    assert verdict(MojibakeFilter(max_replacement_chars=1), sft("Hi?", "Caf\ufffd.")) is None
    assert verdict(MojibakeFilter(max_mojibake=1), sft("Hi?", "CafÃ© au lait.")) is None


def test_truncated():
    cut = "The main reason this happens is that the cache is invalidated whenever the"
    assert_table(TruncatedFilter(), drops={
        "unclosed_fence": (sft("Code?", "Here:\n```python\nprint('hi')\n"), "unbalanced_code_fence"),
        "three_fences": (sft("Code?", "```\na\n```\ntext\n```\nb"), "unbalanced_code_fence"),
        "cut_sentence": (sft("Why?", cut), "ends_mid_word"),
        "cut_after_paragraph": (sft("Why?", "Good question.\n\n" + cut), "ends_mid_word"),
        "cut_rejected": (pref("Why?", "Because.", cut), "ends_mid_word"),
    }, keeps={
        "period": sft("Why?", cut + " cold."), "question": sft("Why?", cut + " cache?"),
        "closed_fence": sft("Code?", "Here:\n```python\nprint('hi')\n```"),
        "number": sft("How many?", "After adding them all up the total number of apples is 42"),
        "gsm8k_answer": sft("How many?", GSM8K), "boxed": sft("Solve.", LATEX),
        "list_item": sft("Tips?", "Some tips:\n- drink water and sleep at least eight hours every night"),
        "numbered_item": sft("Steps?", "1. open the settings menu and then select the privacy tab"),
        "heading": sft("Title?", "# A short guide to the many ways of making good bread at home"),
        "indented_code": sft("Code?", "Run:\n\n    python -m pip install the package from the local mirror"),
        "short_last_line": sft("Hi?", "Hello there my friend"),
        "chinese": sft("为什么？", "因为缓存在每次更新时都会失效"),
        "url": sft("Where?", "You can find the full documentation for this project at docs.example.com"),
        "earlier_turn_cut": sft("Why?", cut, "Go on.", "It is invalidated on every write."),
        "rl_prompt": rl(cut),
    })


def test_blocklist():
    assert_table(BlocklistFilter(), drops={
        "as_an_ai": (sft("Who are you?", "As an AI language model, I cannot do that."), "blocklist:as_an_ai"),
        "cutoff": (sft("News?", "My knowledge cut-off is 2021."), "blocklist:knowledge_cutoff"),
        "internet": (sft("Weather?", "I can’t browse the internet."), "blocklist:no_internet_access"),
        "openai": (pref("Who?", "I am Mixlab.", "I was trained by OpenAI."), "blocklist:trained_by_openai"),
    }, keeps={"user_says_it": sft("Answer as an AI model would.", "Sure, here it is."),
              "refusal": sft("Help me hack a bank.", "I'm sorry, but I can't help with that."),
              "ai_topic": sft("What is AI?", "AI models learn patterns from data.")})
    custom = BlocklistFilter(patterns={"lorem": r"lorem\s+ipsum"})
    assert verdict(custom, sft("Text?", "LOREM  Ipsum dolor")) == "blocklist:lorem"
    assert verdict(custom, sft("Who?", "As an AI language model, no.")) is None
    assert verdict(BlocklistFilter(patterns={}), sft("Who?", "As an AI language model, no.")) is None
    with pytest.raises(ValueError, match="'broken'"):
        BlocklistFilter(patterns={"broken": "(unclosed"})


def test_build_filters():
    made = []
    filters = build_filters({"language": {"languages": ["fr"]}, "empty_turns": None,
                             "response_length": {"max_length": 10}},
                            tokenizer="/", exclusion_writer_factory=lambda name: made.append(name) or name)
    assert [f.name for f in filters] == ["language", "empty_turns", "response_length"] == made
    assert [f.exclusion_writer for f in filters] == made
    assert filters[0].languages == {"fr"} and filters[2].tokenizer == "/" and filters[2].max_length == 10
    assert sorted(FILTERS) == sorted(["empty_turns", "last_turn", "response_length", "repetition", "language",
                                      "mojibake", "truncated", "blocklist"])
    with pytest.raises(ValueError, match="unknown filter 'lang'.*valid filters: empty_turns"):
        build_filters({"lang": None}, tokenizer=None, exclusion_writer_factory=None)
    with pytest.raises(ValueError, match="'mojibake' has no option.*max_chars.*valid options: max_repl"):
        build_filters({"mojibake": {"max_chars": 3}}, tokenizer=None, exclusion_writer_factory=None)
    with pytest.raises(ValueError, match="exclusion_writer"):
        build_filters({"empty_turns": {"exclusion_writer": 1}}, tokenizer=None, exclusion_writer_factory=None)


def test_filters_in_datatrove_pipeline(tmp_path):
    records = [sft(*ENGLISH, rid="good"), sft("Hi?", "", rid="empty"), sft(*FRENCH, rid="french"),
               sft(*GERMAN, rid="german"), sft("Hi?", "As an AI language model, I am fine.", rid="ai"),
               pref(*ENGLISH, ENGLISH[1].replace("Paris", "Lyon"), rid="pref_good"),
               rl("What is 2+2?", rid="rl")]
    documents = [record_to_document(r, i) for i, r in enumerate(records)]
    kept = []
    filters = build_filters({"empty_turns": None, "language": None, "blocklist": None}, tokenizer=None,
                            exclusion_writer_factory=lambda name: RemovedWriter(str(tmp_path / "removed"),
                                                                                prefix=f"filter-{name}"))

    def collect(data, rank=0, world_size=1):
        kept.extend(doc.id for doc in data)
        return iter(())

    LocalPipelineExecutor(pipeline=[documents, *filters, collect], tasks=1, workers=1,
                          logging_dir=str(tmp_path / "logs")).run()
    assert kept == ["good", "pref_good", "rl"]
    removed = pl.read_parquet(tmp_path / "removed" / "*.parquet").sort("id")
    assert removed.select("id", "kind", "removed_by", "reason").rows() == [
        ("ai", "sft", "filter:blocklist", "blocklist:as_an_ai"),
        ("empty", "sft", "filter:empty_turns", "empty_turn"),
        ("french", "sft", "filter:language", "language:fr"),
        ("german", "sft", "filter:language", "language:de"),
    ]
    assert removed.filter(pl.col("id") == "french")["messages"][0][1]["content"] == FRENCH[1]
    stats = json.loads((tmp_path / "logs" / "stats.json").read_text())
    language_stats = next(step["stats"] for step in stats if step["name"].endswith("language"))
    # datatrove writes a plain counter as an int, a valued metric as {"total": ...}
    assert {k: v if isinstance(v, int) else v["total"] for k, v in language_stats.items()
            if k.startswith("lang_")} == {
        "lang_en": 3, "lang_und": 1, "lang_fr": 1, "lang_de": 1}
