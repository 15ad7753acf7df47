"""Small programming requests for the demo corpus: one fenced code block plus a worked explanation.

    sample = code_sample(random.Random(0))   # Sample(user=request, answer=intro + ``` block + explanation)

Function names, variable names, constants and examples vary per sample, and every example result in the
explanation is computed, so it is correct.
"""

from __future__ import annotations

import random
from collections import Counter

from curation.demo_corpus.content import CITIES, FEMALE, MALE, SURNAMES, Sample, pool

ASKS = pool("Write a Python function that|Can you write a Python function which|I need a Python function that|"
            "Show me a Python function that|Please write a small Python function that")
INTROS = pool("Here is a simple implementation:|Sure, here is one way to write it:|A short function is enough:|"
              "This version keeps the logic easy to follow:|Here is a clean way to do it:|One readable option:")
LIST_NAMES = pool("numbers|values|nums|readings|scores|data|samples|measurements")
ITEM_NAMES = pool("n|x|value|num|item|v")


CLOSINGS = ["", "", "Add a docstring if the function goes into a shared codebase.",
            "A couple of unit tests with edge cases, such as an empty input, would be worth adding.",
            "Type hints are easy to add if your project uses a checker such as mypy.",
            "For very large inputs the same idea works, but measure before optimizing anything.",
            "Rename the parameters if your codebase has its own naming conventions."]


def fenced(rng: random.Random, lang: str, code: str, explanation: str) -> str:
    closing = rng.choice(CLOSINGS)
    return f"{rng.choice(INTROS)}\n\n```{lang}\n{code}\n```\n\n{explanation}" + (f" {closing}" if closing else "")


def c_squares(r):
    k = r.randint(1, 6)
    name, test, keep = r.choice([("even", "{v} % 2 == 0", lambda x: x % 2 == 0),
                                 ("odd", "{v} % 2 != 0", lambda x: x % 2 != 0),
                                 ("positive", "{v} > 0", lambda x: x > 0), ("negative", "{v} < 0", lambda x: x < 0),
                                 (f"greater than {k}", f"{{v}} > {k}", lambda x: x > k)])
    fname = r.choice(pool("sum_of_squares|square_total|squared_sum|add_squares")) + "_" + name.split()[0]
    arg, v = r.choice(LIST_NAMES), r.choice(ITEM_NAMES)
    example = [r.randint(-6, 12) for _ in range(r.randint(4, 6))]
    code = (f"def {fname}({arg}):\n    total = 0\n    for {v} in {arg}:\n        if {test.format(v=v)}:\n"
            f"            total += {v} ** 2\n    return total")
    text = (f"The loop visits every element of `{arg}`, skips anything that is not {name}, and adds the square of "
            f"each remaining number to `total`. For example, `{fname}({example})` returns "
            f"{sum(x * x for x in example if keep(x))}.")
    return Sample(f"{r.choice(ASKS)} returns the sum of the squares of the {name} numbers in a list.",
                  fenced(r, "python", code, text), f"summing squares of {name} numbers")


def c_letter_words(r):
    letter = r.choice("bcdfghlmprstw")
    words = pool("bright|silver|canal|dusty|harbor|lantern|meadow|pepper|tower|willow|basket|candle|garden|"
                 "hollow|market|river|stone|timber|walnut|copper|falcon|marble|sparrow|thunder|window|bridge")
    sentence = " ".join(r.sample(words, r.randint(6, 9)))
    fname = r.choice([f"count_{letter}_words", f"words_starting_with_{letter}", f"{letter}_word_count"])
    code = (f"def {fname}(text):\n    words = text.lower().split()\n"
            f'    return sum(1 for w in words if w.startswith("{letter}"))')
    count = sum(1 for w in sentence.split() if w.startswith(letter))
    text = (f"Lowercasing first means capitalized words that start with '{letter.upper()}' are counted too. "
            f'On the text "{sentence}" the function returns {count}.')
    return Sample(f"{r.choice(ASKS)} counts how many words in a string start with the letter '{letter}'.",
                  fenced(r, "python", code, text), f"counting words that start with {letter}")


RECORD_TABLES = [("products", "price", "name", pool("kettle|lamp|stool|rug|clock|vase")),
                 ("students", "score", "name", FEMALE[:12] + MALE[:12]),
                 ("cities", "population", "city", CITIES),
                 ("books", "pages", "title", pool("Dune|Emma|Ulysses|Beloved")),
                 ("employees", "salary", "name", SURNAMES),
                 ("trails", "length_km", "trail", pool("Ridge|Creek|Pine|Fox")),
                 ("rooms", "capacity", "room", pool("A1|B2|C3|D4|E5|F6"))]


def c_filter_records(r):
    table, field, key, names = r.choice(RECORD_TABLES)
    limit = r.choice([10, 25, 50, 100, 250, 400])
    rows = [(n, r.randint(limit // 2, limit * 2)) for n in r.sample(names, 3)]
    fname = r.choice([f"{table}_above", f"filter_{table}", f"large_{table}", f"select_{table}"])
    code = (f"def {fname}({table}, threshold={limit}):\n"
            f'    return [row["{key}"] for row in {table} if row["{field}"] > threshold]')
    example = ", ".join(f'{{"{key}": "{n}", "{field}": {value}}}' for n, value in rows)
    kept = [n for n, value in rows if value > limit]
    why = r.choice([f"The list comprehension keeps only the rows whose `{field}` exceeds the threshold and returns "
                    f"their `{key}` values.", f"Each dictionary is checked once; `threshold` defaults to {limit} but "
                    f"callers can pass their own value."])
    text = f"{why} Given [{example}], it returns {kept}."
    return Sample(f"{r.choice(ASKS)} takes a list of {table} as dictionaries and returns the {key} of every one "
                  f"whose {field} is above {limit}.", fenced(r, "python", code, text), f"filtering {table}")


def c_convert(r):
    src, dst, factor, const = r.choice([("kilometers", "miles", 0.621371, "MILES_PER_KM"),
                                        ("kilograms", "pounds", 2.20462, "POUNDS_PER_KG"),
                                        ("liters", "US gallons", 0.264172, "GALLONS_PER_LITER"),
                                        ("inches", "centimeters", 2.54, "CM_PER_INCH"),
                                        ("meters", "feet", 3.28084, "FEET_PER_METER")])
    digits, arg = r.randint(1, 3), r.choice(LIST_NAMES)
    fname = r.choice([f"to_{dst.split()[-1]}", f"{src}_to_{dst.split()[-1]}", f"convert_{src}"])
    example = [r.randint(1, 90) for _ in range(3)]
    code = f"{const} = {factor}\n\n\ndef {fname}({arg}):\n    return [round(x * {const}, {digits}) for x in {arg}]"
    text = (f"Keeping the factor in a named constant makes the intent clear, and rounding to {digits} decimal "
            f"place{'s' if digits > 1 else ''} keeps the output readable. For {example} {src} it gives "
            f"{[round(x * factor, digits) for x in example]} {dst}.")
    return Sample(f"{r.choice(ASKS)} converts a list of distances or weights from {src} to {dst}.",
                  fenced(r, "python", code, text), f"converting {src} to {dst}")


TEXT_WORDS = pool("river|garden|market|window|lantern|harbor|winter|silver|meadow|stone|bridge|candle|forest|"
                  "pepper|copper|island|valley|thunder|willow|sparrow")


def c_top_words(r):
    k, shortest = r.randint(2, 4), r.randint(4, 6)
    fname = r.choice(pool("top_words|most_common_words|frequent_words|word_ranking|popular_words"))
    vocabulary = r.sample(TEXT_WORDS, 6)
    example = " ".join(r.choice(vocabulary) + r.choice(["", "", ",", "."]) for _ in range(r.randint(9, 14)))
    counts = Counter(w.strip(".,").lower() for w in example.split() if len(w.strip(".,")) >= shortest)
    code = (f"from collections import Counter\n\n\ndef {fname}(text, k={k}):\n"
            f'    words = [w.strip(".,!?;:").lower() for w in text.split()]\n'
            f"    return Counter(w for w in words if len(w) >= {shortest}).most_common(k)")
    why = r.choice([f"Stripping punctuation first means that '{vocabulary[0]},' and '{vocabulary[0]}' count as the "
                    f"same word, and words shorter than {shortest} letters are skipped.",
                    f"Words under {shortest} letters are ignored, which drops most filler words, and `most_common` "
                    f"sorts the rest by frequency."])
    text = f'{why} For the text "{example}" it returns {counts.most_common(k)}.'
    return Sample(f"{r.choice(ASKS)} returns the {k} most frequent words of at least {shortest} letters in a text.",
                  fenced(r, "python", code, text), "finding frequent words")


def c_fizzbuzz(r):
    a, b = r.choice([(2, 3), (3, 5), (2, 5), (3, 7), (4, 5), (5, 7), (2, 7), (3, 4)])
    wa, wb = r.sample(pool("Fizz|Buzz|Ping|Pong|Tick|Tock|Zip|Zap|Boom|Bang"), 2)
    limit = r.randint(15, 60)
    fname = r.choice(pool("play_game|count_aloud|print_sequence|fizz_game"))
    code = (f"def {fname}(limit={limit}):\n    for i in range(1, limit + 1):\n        if i % {a * b} == 0:\n"
            f'            print("{wa}{wb}")\n        elif i % {a} == 0:\n            print("{wa}")\n'
            f'        elif i % {b} == 0:\n            print("{wb}")\n        else:\n            print(i)')
    first = [f"{wa}{wb}" if i % (a * b) == 0 else wa if i % a == 0 else wb if i % b == 0 else str(i)
             for i in range(1, 8)]
    text = (f"The check for {a * b} comes first because a multiple of both {a} and {b} would otherwise stop at "
            f"the first branch. The output starts with {', '.join(first)} and continues up to {limit}.")
    return Sample(f"{r.choice(ASKS)} prints the numbers from 1 to {limit}, but prints {wa} for multiples of {a}, "
                  f"{wb} for multiples of {b}, and {wa}{wb} for multiples of both.",
                  fenced(r, "python", code, text), f"a {wa}{wb} counting game")


def c_javascript(r):
    arg = r.choice(pool("items|list|values|entries|tags"))
    kind = r.randrange(3)
    if kind == 0:
        fname = r.choice(pool("unique|dedupe|removeDuplicates|distinct"))
        task = "removes duplicate values from an array"
        body, example = f"  return [...new Set({arg})];", [r.choice("abcde") for _ in range(6)]
        result = list(dict.fromkeys(example))
    elif kind == 1:
        fname, task = r.choice(pool("titleCase|capitalizeWords|toTitle")), "capitalizes the first letter of each word"
        body = f"  return {arg}.split(' ').map(w => w.charAt(0).toUpperCase() + w.slice(1)).join(' ');"
        example = " ".join(r.sample(pool("quiet|river|under|paper|moon|green|street|north|silver"), 3))
        result = " ".join(w.capitalize() for w in example.split())
    else:
        fname, task = r.choice(pool("total|sumAll|addUp|sumValues")), "adds up all the numbers in an array"
        body, example = f"  return {arg}.reduce((sum, x) => sum + x, 0);", [r.randint(1, 40) for _ in range(4)]
        result = sum(example)
    code = f"function {fname}({arg}) {{\n{body}\n}}"
    text = (f"The function does its work in one expression and does not modify its input. Calling "
            f"`{fname}({example!r})` returns {result!r}, and it works the same in Node and in the browser.")
    return Sample(f"How do I write a JavaScript function that {task}?", fenced(r, "javascript", code, text),
                  f"a JavaScript function that {task}")


def c_sql(r):
    table, name_col, metric = r.choice([("orders", "customer_name", "total_amount"), ("songs", "title", "play_count"),
                                        ("stores", "store_name", "revenue"), ("players", "player", "goals"),
                                        ("courses", "course_title", "enrollments"), ("hotels", "hotel", "rating")])
    k, year = r.randint(3, 20), r.randint(2015, 2024)
    order = r.choice([("highest", "DESC"), ("lowest", "ASC")])
    code = f"SELECT {name_col}, {metric}\nFROM {table}\nWHERE year = {year}\nORDER BY {metric} {order[1]}\nLIMIT {k};"
    text = (f"The WHERE clause restricts the rows to {year} before sorting, ORDER BY {metric} {order[1]} puts the "
            f"{order[0]} values first, and LIMIT {k} keeps only that many rows. An index on (year, {metric}) "
            f"will make the query fast on a large {table} table.")
    return Sample(f"Write a SQL query that returns the {k} {table} with the {order[0]} {metric.replace('_', ' ')} "
                  f"in {year}.", fenced(r, "sql", code, text), f"a SQL query over {table}")


CODE_TASKS = [c_squares, c_letter_words, c_filter_records, c_convert, c_top_words, c_fizzbuzz, c_javascript, c_sql]


def code_sample(rng: random.Random) -> Sample:
    return rng.choice(CODE_TASKS)(rng)
