"""Seeded English prose generators for the demo corpus (rewrites, summaries, emails) and their shared pools.

    sample = rewrite_sample(random.Random(0))   # Sample(user, answer, topic, long, context)

Every generator draws from many interchangeable parts (people, places, numbers, phrasings), so two samples
rarely share more than a few 5-word phrases; curation.demo_corpus rejects the ones that still do.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass
class Sample:
    user: str  # the instruction
    answer: str
    topic: str  # a short noun phrase the sample is about (used for low-effort rejected answers)
    long: bool = False  # long enough that changing two words keeps 5-gram Jaccard high (near-dup source)
    context: str = ""  # text the instruction works on (Alpaca's `input`); the user turn is user + "\n\n" + context

    @property
    def prompt(self) -> str:
        return f"{self.user}\n\n{self.context}" if self.context else self.user


def pool(text: str) -> list[str]:
    return [item.strip() for item in text.split("|")]


FEMALE = pool("Ava|Mia|Zoe|Lena|Priya|Sofia|Hana|Chloe|Maya|Nora|Ruth|Elena|Fatima|Grace|Ivy|Julia|Keiko|Laila|"
              "Mei|Olivia|Paula|Rosa|Sara|Tara|Vera|Wendy|Yara|Amara|Bella|Dina|Esther|Farah|Gina")
MALE = pool("Liam|Noah|Omar|Ravi|Diego|Ethan|Felix|Hugo|Isaac|Jamal|Kenji|Leo|Marco|Nikhil|Oscar|Pedro|Quinn|"
            "Sam|Tomas|Victor|Wei|Yusuf|Aaron|Ben|Carlos|Daniel|Eli|Finn|Gabe|Hassan|Ivan|Jonah|Kofi")
SURNAMES = pool("Alvarez|Becker|Chen|Dubois|Eriksen|Fischer|Garcia|Haddad|Ito|Jensen|Kowalski|Lopez|Moreau|"
                "Nakamura|Okafor|Patel|Quinn|Rossi|Santos|Tanaka|Umar|Varga|Weber|Xu|Yilmaz|Zimmer")
CITIES = pool("Lisbon|Denver|Osaka|Nairobi|Leeds|Porto|Austin|Tampere|Cork|Adelaide|Calgary|Bruges|Malmo|"
              "Halifax|Kyoto|Tucson|Ghent|Dundee|Bergen|Perth|Boise|Utrecht|Graz|Oaxaca|Wellington|Savannah")
WEEKDAYS = pool("Monday|Tuesday|Wednesday|Thursday|Friday")
MONTHS = pool("January|February|March|April|May|June|July|August|September|October|November|December")


@dataclass
class Person:
    name: str
    he: str
    his: str

    @property
    def He(self) -> str:
        return self.he.capitalize()


def person(rng: random.Random) -> Person:
    if rng.random() < 0.5:
        return Person(rng.choice(FEMALE), "she", "her")
    return Person(rng.choice(MALE), "he", "his")


def full_name(rng: random.Random) -> str:
    return f"{rng.choice(FEMALE + MALE)} {rng.choice(SURNAMES)}"


# --- rewrites: a casual / wordy / ungrammatical / active sentence and its fixed version -----------------

DOCS = pool("budget draft|slide deck|site plan|invoice|meeting notes|grant report|shift schedule|press release")
EVENTS = pool("team lunch|design review|parents evening|book club|quarterly planning|volunteer briefing|rehearsal")
PLACES = pool("library|community hall|north entrance|rooftop terrace|gym|main lobby|canteen|studio")
THINGS = pool("boxes|folders|chairs|laptops|paint cans|lanterns|sandbags|microphones")
REWRITE_KINDS = {
    "formal": ("Rewrite this message in a more formal tone.", "Here is a more formal version:", [
        ("hey {n1}, can u send me the {doc} by {day}? thx",
         "Hello {n1}, could you please send me the {doc} by {day}? Thank you."),
        ("gonna be late to the {event} today, my bus broke down near {city}, sorry!!",
         "I will be late to the {event} today because my bus broke down near {city}. My apologies."),
        ("{n1} said the {doc} is kinda messy, can we fix it before {day}?",
         "{n1} mentioned that the {doc} needs revision. Could we address it before {day}?"),
        ("no way we finish the {doc} by {day}, we need like {k} more days",
         "We will not be able to finish the {doc} by {day}; we need about {k} more days."),
        ("can we move the {event} to {day}? the {place} is booked lol",
         "Could we move the {event} to {day}? The {place} is already booked."),
        ("{n1} pls remind {n2} about the {doc}, {event} is on {day}!!",
         "{n1}, could you please remind {n2} about the {doc}? The {event} takes place on {day}."),
        ("ok so the {things} for the {event} r still in {city}, cant get them before {month}",
         "The {things} for the {event} are still in {city}, and I cannot collect them before {month}."),
        ("yo {n1}, {n2} wants the {doc} asap, like before {day}",
         "Hello {n1}, {n2} has asked for the {doc} as soon as possible, ideally before {day}.")]),
    "grammar": ("Fix the grammar in this sentence.", "Corrected sentence:", [
        ("{n1} and {n2} was planning to visit {city}, but they was too busy.",
         "{n1} and {n2} were planning to visit {city}, but they were too busy."),
        ("The {doc} on the desk belong to {n1}, who leave it there on {day}.",
         "The {doc} on the desk belongs to {n1}, who left it there on {day}."),
        ("Me and {n1} goes to the {place} every {day}.", "{n1} and I go to the {place} every {day}."),
        ("There is {k} {things} in the {place} that needs to be sorted.",
         "There are {k} {things} in the {place} that need to be sorted."),
        ("{n1} don't know where the {doc} are kept since {day}.",
         "{n1} doesn't know where the {doc} has been kept since {day}.")]),
    "concise": ("Make this sentence shorter without changing its meaning.", "A shorter version:", [
        ("At this point in time we are of the opinion that the {event} should be postponed until {month}.",
         "We think the {event} should wait until {month}."),
        ("Due to the fact that the {place} was closed, {n1} was not able to attend the {event} in {city}.",
         "{n1} missed the {event} in {city} because the {place} was closed."),
        ("In the event that it rains on {day}, the {event} will be moved to the {place}.",
         "If it rains on {day}, the {event} moves to the {place}."),
        ("{n1} made the decision to take a break of {k} weeks from work on the {doc} in order to rest.",
         "{n1} decided to take {k} weeks off from the {doc} to rest.")]),
}
AGENTS = pool("the city council|our design team|a local bakery|the new manager|the volunteers|a student group|"
              "the night crew|the museum staff")
# (past, participle, objects it makes sense with)
VERBS = [("approved", "approved", "the budget proposal|the new parking rules|the school trip"),
         ("repaired", "repaired", "the old footbridge|the harbor wall|the bell tower clock"),
         ("wrote", "written", "the annual report|the welcome speech|the grant application"),
         ("painted", "painted", "the mural on {city} Road|the community hall doors|the old fence"),
         ("organized", "organized", "the spring festival|the charity run|the book fair"),
         ("cancelled", "cancelled", "the evening concert|the harbor tour|the spring festival"),
         ("delivered", "delivered", "the new benches|the donated books|the festival posters"),
         ("rebuilt", "rebuilt", "the playground|the harbor wall|the old footbridge")]
WHENS = pool("last spring|on {day}|in {month}|before the storm|after a long debate|over the weekend|within {k} days")


def slots(rng: random.Random) -> dict:
    n1, n2 = rng.sample(FEMALE + MALE, 2)
    return dict(n1=n1, n2=n2, doc=rng.choice(DOCS), event=rng.choice(EVENTS), place=rng.choice(PLACES),
                things=rng.choice(THINGS), city=rng.choice(CITIES), day=rng.choice(WEEKDAYS),
                month=rng.choice(MONTHS), k=rng.randint(2, 9))


def rewrite_sample(rng: random.Random) -> Sample:
    fill = slots(rng)
    if rng.random() < 0.25:
        (past, participle, objects), agent = rng.choice(VERBS), rng.choice(AGENTS)
        obj, when = rng.choice(pool(objects)).format(**fill), rng.choice(WHENS).format(**fill)
        verb = "were" if obj.endswith(("benches", "books", "posters", "doors", "rules")) else "was"
        source = f"{agent[0].upper()}{agent[1:]} {past} {obj} {when}."
        fixed = f"{obj[0].upper()}{obj[1:]} {verb} {participle} by {agent} {when}."
        instruction, lead = "Rewrite this sentence in the passive voice.", "Passive version:"
        topic = "the passive voice"
        note = f"The object, {obj}, becomes the subject, and {agent} moves into a by-phrase."
    else:
        kind = rng.choice(list(REWRITE_KINDS))
        instruction, lead, pairs = REWRITE_KINDS[kind]
        before, after = rng.choice(pairs)
        source, fixed, topic = before.format(**fill), after.format(**fill), f"{kind} rewriting"
        kept = [fill[k] for k in ("n1", "day", "city", "month") if fill[k] in fixed]
        note = rng.choice(["", f"I kept {' and '.join(kept)} exactly as in the original."]) if kept else ""
    answer = f"{lead}\n\n{fixed}" + (f"\n\n{note}" if note else "")
    return Sample(instruction, answer, topic, context=source)


# --- news summaries: a 120-170 word story built sentence by sentence, then its one-sentence summary ------

def city_story(r: random.Random) -> tuple[list[str], str]:
    city, body = r.choice(CITIES), r.choice(pool("city council|transport board|parks department|water authority"))
    action = r.choice(pool("replace the aging tram fleet|expand the riverside bike network|renovate the central "
                           "library|build two flood barriers|convert an empty warehouse into a youth center|"
                           "plant four thousand street trees|reopen the old ferry line"))
    cost, year, votes = r.randint(3, 95), r.randint(2026, 2031), r.randint(5, 12)
    gain = r.choice(pool("cut commuting times|reduce flooding in low streets|give families more green space|"
                         "create safer routes to school|bring visitors back to the waterfront"))
    alt = r.choice(pool("road repairs|affordable housing|public schools|night bus services|hospital staffing"))
    lead, critic = full_name(r), full_name(r)
    sentences = [f"The {body} of {city} voted {votes} to {r.randint(1, votes - 1)} on {r.choice(WEEKDAYS)} to "
                 f"{action} by {r.choice(MONTHS)} {year}.",
                 f"The plan will cost about {cost} million euros and was approved after {r.randint(3, 18)} months "
                 f"of {r.choice(pool('public hearings|budget talks|environmental reviews|meetings with residents'))}.",
                 f"{lead}, who {r.choice(pool('chairs the committee|led the campaign|represents the east district'))}, "
                 f"said the work would {gain} for roughly {r.randint(10, 90)} thousand people.",
                 f"{critic} of {r.choice(pool('a shop owners group|the neighborhood association|the opposition'))} "
                 f"argued that the money should go to {alt} instead.",
                 f"Work is expected to start in {r.choice(MONTHS)}, with progress reports every "
                 f"{r.choice(pool('quarter|six weeks|two months'))}, and the full budget will be published online."]
    summary = (f"{city}'s {body} approved a plan costing about {cost} million euros to {action} by {year}; "
               f"supporters say it will {gain}, while critics would rather fund {alt}.")
    return sentences, summary


def company_story(r: random.Random) -> tuple[list[str], str]:
    company = f"{r.choice(SURNAMES)} {r.choice(pool('Labs|Works|Systems|Devices|Foods|Outdoor'))}"
    product = r.choice(pool("a solar camping stove|a reading lamp for kids|an electric cargo bike|a smart plant pot|"
                            "a noise-cancelling baby monitor|a foldable kayak|a low-sugar breakfast cereal"))
    city, price, units = r.choice(CITIES), r.randint(19, 900), r.randint(5, 80)
    pro = r.choice(pool("battery life|solid build|simple setup|quiet motor|bright colors|light weight"))
    con = r.choice(pool("the price|a clumsy app|slow shipping|the short warranty|a confusing manual"))
    boss = full_name(r)
    sentences = [f"{company}, a {r.choice(pool('small|family-owned|fast-growing|ten-year-old'))} firm based in "
                 f"{city}, launched {product} on {r.choice(WEEKDAYS)}.",
                 f"It is aimed at {r.choice(pool('young families|weekend campers|city commuters|students|retirees'))}"
                 f" and sells for {price} dollars in stores and online.",
                 f"According to chief executive {boss}, the team spent {r.randint(2, 6)} years on the design and "
                 f"hired {r.randint(4, 60)} engineers along the way.",
                 f"Early reviewers praised its {pro}, although several complained about {con}.",
                 f"The company hopes to sell {units} thousand units in the first year and to open an office in "
                 f"{r.choice(CITIES)} by {r.choice(MONTHS)}; its shares rose {r.randint(2, 19)} percent after "
                 f"the news."]
    summary = (f"{company} of {city} released {product} for {price} dollars; reviewers liked its {pro} but not "
               f"{con}, and the firm aims to sell {units} thousand units in year one.")
    return sentences, summary


STUDY_TOPICS = [("took a short walk after dinner", "develop type 2 diabetes"),
                ("slept at least seven hours", "catch a winter cold"), ("ate fish twice a week", "report memory loss"),
                ("volunteered regularly", "feel lonely"), ("cycled to work", "take sick days"),
                ("read with their children daily", "fall behind in reading at school")]


def study_story(r: random.Random) -> tuple[list[str], str]:
    habit, risk = r.choice(STUDY_TOPICS)
    city, people, years, pct = r.choice(CITIES), r.randint(2, 40) * 100, r.randint(3, 15), r.randint(8, 45)
    group = r.choice(pool("adults over sixty|office workers|nurses|families|teenagers|retired teachers"))
    author = full_name(r)
    sentences = [f"Researchers at the University of {city} followed {people} {group} for {years} years.",
                 f"They found that those who {habit} were {pct} percent less likely to {risk}.",
                 f"The link held after the team accounted for "
                 f"{r.choice(pool('age and income|diet and smoking|job type and sleep'))}.",
                 f"Lead author {author} warned that the study was observational and cannot prove cause and effect.",
                 f"A trial with {r.randint(2, 9) * 50} volunteers will start in {r.choice(MONTHS)}, and the results "
                 f"appeared in the journal "
                 f"{r.choice(pool('Public Health Reports|Sleep Medicine|BMJ Open|Nutrients'))}."]
    summary = (f"A {years}-year study of {people} {group} in {city} found that those who {habit} were {pct} percent "
               f"less likely to {risk}, though the authors stress this is not proof of cause.")
    return sentences, summary


def summary_sample(rng: random.Random) -> Sample:
    sentences, summary = rng.choice([city_story, company_story, study_story])(rng)
    instruction = rng.choice(pool("Summarize the following paragraph in one sentence.|Give me a short summary of "
                                  "this news item.|Condense this article into a single sentence.|What is the main "
                                  "point of the text below? Answer in one sentence."))
    lead = rng.choice(["", "In short: ", "Summary: ", "Here is the gist. "])
    return Sample(instruction, lead + summary, "summarizing news", long=True, context=" ".join(sentences))


# --- emails: subject, greeting, body and sign-off, followed by a short note to the user ----------------

def email_sample(r: random.Random) -> Sample:
    fill, to, sender = slots(r), full_name(r), r.choice(FEMALE + MALE)
    hours = [f"{h}:{m:02d}" for h, m in r.sample([(9, 0), (10, 30), (11, 15), (13, 0), (14, 45), (16, 0)], 2)]
    day2, day3 = r.sample([d for d in WEEKDAYS if d != fill["day"]], 2)
    kinds = [
        (f"asking to move our {fill['event']} from {fill['day']} at {hours[0]} to {day2} at {hours[1]}",
         f"Moving our {fill['event']}",
         f"Would it be possible to move our {fill['event']} from {fill['day']} at {hours[0]} to {day2} at "
         f"{hours[1]}? A conflict came up with the {fill['doc']}, and I would rather not rush our conversation. "
         f"If {day2} does not suit you, I am also free on {day3} morning."),
        (f"requesting the {fill['doc']} for {fill['month']}", f"{fill['doc'].capitalize()} for {fill['month']}",
         f"Could you send me the {fill['doc']} for {fill['month']} when you have a moment? I need it for the "
         f"{fill['event']} on {fill['day']}. If some figures are still missing, a draft is fine for now."),
        (f"thanking them for helping with the {fill['event']} in {fill['city']}", "Thank you",
         f"Thank you so much for your help with the {fill['event']} in {fill['city']}. Your work on the "
         f"{fill['doc']} saved us at least {fill['k']} hours, and the whole team noticed."),
        (f"inviting them to our {fill['event']} on {fill['day']} at {hours[0]} in the {fill['place']}",
         f"Invitation: {fill['event']} on {fill['day']}",
         f"We would love to see you at our {fill['event']} on {fill['day']} at {hours[0]} in the {fill['place']}. "
         f"We expect about {fill['k'] * 5} guests, and there will be coffee and a short talk about the {fill['doc']}."),
    ]
    purpose, subject, body = r.choice(kinds)
    greeting = r.choice(["Hi", "Hello", "Dear"])
    closing = r.choice(["Best regards", "Kind regards", "Many thanks", "All the best"])
    note = r.choice([f"You can adjust the times before sending it to {to.split()[0]}.",
                     "Feel free to make the tone warmer if you know each other well.",
                     f"If {to.split()[0]} prefers a call, the same points work as a short phone script."])
    user = r.choice([f"Write a short email to {to} {purpose}.", f"Can you draft an email to {to} {purpose}?",
                     f"Help me write an email to {to}, {purpose}."])
    answer = (f"Subject: {subject}\n\n{greeting} {to.split()[0]},\n\nI hope you are well. {body}\n\n"
              f"{closing},\n{sender}\n\n{note}")
    return Sample(user, answer, "writing an email")


# --- French, German and Spanish paragraphs (planted for the language filter) ---------------------------

FOREIGN = {
    "fr": dict(
        names=pool("Camille|Julien|Léa|Mathieu|Chloé|Antoine|Manon|Hugo"),
        cities=pool("Lyon|Nantes|Lille|Rennes|Dijon|Brest"),
        foods=pool("crêpes|tartes aux pommes|soupes de légumes|galettes|quiches"),
        jobs=pool("infirmière|boulanger|professeur de musique|architecte|libraire"),
        months=pool("janvier|mars|mai|octobre|novembre"),
        asks=pool("Peux-tu me raconter une journée typique à {city} ?|"
                  "Décris-moi la vie quotidienne de {name} à {city}.|"
                  "Qu'est-ce que {name} aime faire le week-end à {city} ?"),
        first="{name} habite à {city} depuis {n} ans et travaille comme {job} dans le centre-ville.",
        rest=["Chaque matin, {name} prend le tramway vers {h} heures et lit le journal pendant le trajet.",
              "Le samedi, le marché près de la gare propose des {food} et des fromages de la région.",
              "En {month}, il fait souvent frais, donc les habitants sortent avec un manteau et une écharpe.",
              "Le soir, {name} retrouve ses amis dans un petit restaurant où l'on sert des {food} maison.",
              "La ville organise chaque année une grande fête de la musique qui attire environ {v} visiteurs.",
              "Pour se détendre, {name} se promène le long de la rivière avec son chien.",
              "Selon {name}, la vie à {city} est calme, agréable et beaucoup moins chère qu'à Paris."]),
    "de": dict(
        names=pool("Lena|Jonas|Katrin|Lukas|Anna|Felix|Paula|Moritz"),
        cities=pool("Leipzig|Bremen|Freiburg|Kassel|Mainz|Rostock"),
        foods=pool("Käse|Kuchen|Honig|Brezeln|Äpfel"),
        jobs=pool("Lehrerin|Bäcker|Krankenpfleger|Ingenieurin|Buchhändler"),
        months=pool("Januar|Februar|März|Oktober|November"),
        asks=pool("Kannst du mir einen typischen Tag in {city} beschreiben?|Wie verbringt {name} das Wochenende in "
                  "{city}?|Erzähl mir bitte etwas über das Leben von {name} in {city}."),
        first="{name} wohnt seit {n} Jahren in {city} und arbeitet als {job} in der Innenstadt.",
        rest=["Jeden Morgen fährt {name} um {h} Uhr mit dem Fahrrad zur Arbeit, auch wenn es regnet.",
              "Am Samstag gibt es auf dem Marktplatz frisches Gemüse, Brot und {food} aus der Region.",
              "Im {month} ist es oft kalt und windig, deshalb trinken viele Leute abends heißen Tee.",
              "Nach der Arbeit trifft sich {name} gern mit Freunden in einem kleinen Café in der Altstadt.",
              "Jedes Jahr findet ein großes Stadtfest statt, das ungefähr {v} Besucher anzieht.",
              "Am Sonntag wandert {name} oft im Wald oder besucht die Familie auf dem Land.",
              "Nach Meinung von {name} ist das Leben in {city} ruhig, freundlich und nicht zu teuer."]),
    "es": dict(
        names=pool("Lucía|Javier|Carmen|Diego|Elena|Pablo|Sofía|Andrés"),
        cities=pool("Sevilla|Valencia|Granada|Bilbao|Córdoba|Zaragoza"),
        foods=pool("tamales|quesos|churros|dulces|panes"),
        jobs=pool("maestra|panadero|enfermera|ingeniero|librero"), months=pool("enero|marzo|julio|agosto|octubre"),
        asks=pool("¿Puedes describir un día normal en {city}?|¿Cómo pasa {name} el fin de semana en {city}?|"
                  "Cuéntame algo sobre la vida de {name} en {city}, por favor."),
        first="{name} vive en {city} desde hace {n} años y trabaja como {job} en el centro de la ciudad.",
        rest=["Cada mañana toma el autobús a las {h} y lee las noticias durante el camino.",
              "Los sábados, el mercado del barrio vende frutas frescas, pan y {food} de la región.",
              "En {month} suele hacer calor, así que mucha gente pasea por la tarde junto al río.",
              "Por la noche, {name} cena con sus amigos en un pequeño restaurante donde sirven {food} caseros.",
              "Cada año la ciudad celebra una fiesta popular que atrae a unos {v} visitantes.",
              "Los domingos, {name} prefiere descansar, leer un libro o visitar a su familia.",
              "Según {name}, la vida en {city} es tranquila, alegre y mucho más barata que en Madrid."]),
}


def foreign_sample(rng: random.Random, lang: str) -> Sample:
    """A question and a five-sentence answer about daily life in a town, all in `lang` (fr, de or es)."""
    spec = FOREIGN[lang]
    fill = dict(name=rng.choice(spec["names"]), city=rng.choice(spec["cities"]), food=rng.choice(spec["foods"]),
                job=rng.choice(spec["jobs"]), month=rng.choice(spec["months"]), n=rng.randint(2, 30),
                h=rng.randint(6, 9), v=rng.randint(2, 90) * 1000)
    sentences = [spec["first"]] + rng.sample(spec["rest"], 4)
    return Sample(rng.choice(spec["asks"]).format(**fill), " ".join(s.format(**fill) for s in sentences),
                  f"daily life ({lang})")
