"""Hand-written knowledge for the demo corpus: definitions, how-to steps, tips, packing lists, review labels.

    sample = knowledge_sample(random.Random(0))   # Sample(user, answer, topic, ...)

The facts are fixed; which ones a sample uses, their order and the framing around them vary, and the
corpus writer rejects samples too close to one it already has (so each fact set appears only a few times).
"""

from __future__ import annotations

import random

from curation.demo_corpus.content import CITIES, FEMALE, MALE, MONTHS, Sample, pool

GLOSSARY = [
    ("photosynthesis", "biology", "Photosynthesis is the process plants, algae and some bacteria use to turn light, "
     "water and carbon dioxide into sugar and oxygen.", "A leaf in sunlight is doing it right now."),
    ("inflation", "economics", "Inflation is the general rise in prices over time, which means each unit of money "
     "buys a little less than before.", "If a loaf of bread cost 2 dollars last year and 2.10 now, that is 5 percent."),
    ("a hash table", "computer science", "A hash table stores key-value pairs and uses a hash function to jump "
     "almost directly to the slot where a key lives.", "Python dictionaries are built on this idea."),
    ("an API", "software", "An API is a defined set of requests one program can make to another, with agreed "
     "inputs and outputs.", "A weather app asks a forecast service for tomorrow's data through one."),
    ("compound interest", "finance", "Compound interest is interest earned on both the original deposit and on "
     "the interest already added.", "Over decades it makes savings grow much faster than simple interest."),
    ("erosion", "geology", "Erosion is the slow removal of soil and rock by water, wind or ice.",
     "River canyons are carved this way over thousands of years."),
    ("a metaphor", "writing", "A metaphor describes one thing as if it were another to highlight a shared quality.",
     "Calling a busy office a beehive is a familiar case."),
    ("latency", "networking", "Latency is the delay between sending a request and the first response arriving.",
     "A video call feels laggy when it climbs above a few hundred milliseconds."),
    ("an enzyme", "chemistry", "An enzyme is a protein that speeds up a chemical reaction without being used up.",
     "Amylase in saliva starts breaking down starch while you chew."),
    ("opportunity cost", "economics", "Opportunity cost is the value of the best option you give up when you "
     "choose something else.", "An evening spent gaming costs the study time you could have had."),
    ("version control", "software", "Version control records every change to a set of files so you can compare, "
     "undo or merge work.", "Git is the tool most teams use for it."),
    ("a food web", "ecology", "A food web maps who eats whom in an ecosystem, linking many food chains.",
     "Removing wolves from a park can ripple through it down to the riverbanks."),
    ("a sonnet", "poetry", "A sonnet is a fourteen-line poem with a strict rhyme scheme, often ending with a turn.",
     "Shakespeare wrote 154 of them."),
    ("a recession", "economics", "A recession is a significant, widespread decline in economic activity lasting "
     "more than a few months.", "Rising unemployment and falling retail sales are typical signs."),
    ("machine learning", "computer science", "Machine learning is a way of building programs that improve at a "
     "task by learning patterns from data instead of following hand-written rules.", "Spam filters learn from "
     "messages that users mark as junk."),
    ("a watershed", "geography", "A watershed is the area of land where all the rain drains into the same river, "
     "lake or sea.", "Everything upstream of a town's river belongs to its watershed."),
    ("fermentation", "cooking", "Fermentation is the breakdown of sugars by yeast or bacteria, often producing "
     "acids, gas or alcohol.", "It is what turns cabbage into sauerkraut and makes bread dough rise."),
    ("a firewall", "security", "A firewall filters network traffic and blocks connections that break its rules.",
     "Home routers include a simple one by default."),
]
DEFINE_ASKS = pool("What is {t}?|Can you explain what {t} means?|Define {t} in plain language.|"
                   "I keep hearing about {t}. What is it?|Give me a short explanation of {t}.")


def definition_sample(r: random.Random) -> Sample:
    term, field, definition, example = r.choice(GLOSSARY)
    extra = r.choice(["", f" It is a core idea in {field}, so it is worth learning early.",
                      f" You will meet the term in almost any introduction to {field}."])
    answer = f"{definition} For example: {example}{extra}"
    return Sample(r.choice(DEFINE_ASKS).format(t=term), answer, term)


HOWTOS = {
    "change a flat bicycle tire": ["Shift to the smallest gear and remove the wheel.", "Use tire levers to pry "
        "one side of the tire off the rim.", "Pull out the tube and run your fingers inside the tire to find "
        "anything sharp.", "Slightly inflate the new tube and tuck it into the tire.", "Work the tire bead back "
        "onto the rim with your thumbs.", "Pump the tire to the pressure printed on its sidewall."],
    "make a simple budget": ["List every source of monthly income after tax.", "Write down fixed costs such as "
        "rent, insurance and loan payments.", "Track variable spending like food and transport for a month.",
        "Set a savings target before planning the fun money.", "Compare the totals and trim categories that "
        "run over.", "Review the budget at the end of each month."],
    "repot a houseplant": ["Water the plant a day before so the roots slide out easily.", "Pick a pot one size "
        "larger with a drainage hole.", "Add fresh potting mix to the bottom of the new pot.", "Ease the plant "
        "out and loosen circling roots.", "Set it at the same depth as before and fill around it.", "Water "
        "well and keep it out of strong sun for a week."],
    "prepare for a job interview": ["Research the company, its products and recent news.", "Reread the job "
        "description and match each requirement to an example from your work.", "Practice answering common "
        "questions out loud.", "Prepare two or three thoughtful questions for the interviewer.", "Plan your "
        "route or test your video setup the day before.", "Send a short thank-you note afterwards."],
    "brew pour-over coffee": ["Heat water to just below boiling.", "Grind the beans to a medium-fine texture.",
        "Rinse the paper filter with hot water and discard that water.", "Add the grounds and pour a little "
        "water to let them bloom for thirty seconds.", "Pour the rest slowly in circles over two to three "
        "minutes.", "Remove the dripper and taste, then adjust the grind next time."],
    "back up a laptop": ["Decide what matters most: documents, photos and project folders.", "Buy an external "
        "drive at least twice the size of your data.", "Turn on the built-in backup tool of your operating "
        "system.", "Add a cloud backup for an off-site copy.", "Schedule backups to run automatically.",
        "Restore one file now and then to prove the backup works."],
    "start running as a beginner": ["Get comfortable shoes that fit well.", "Begin with intervals of one minute "
        "running and two minutes walking.", "Run three times a week with a rest day between sessions.", "Add a "
        "little running time each week rather than speed.", "Stretch gently after each session.", "Listen to "
        "your body and rest if something hurts."],
    "write a cover letter": ["Address it to a named person if you can find one.", "Open with the role and one "
        "sentence on why you want it.", "Pick two achievements that match the job and describe their results.",
        "Explain what you would bring to the team in its first months.", "Close with a polite call to action.",
        "Keep it under one page and proofread it twice."],
}
TIPS = {
    "sleeping better": ["Go to bed and wake up at the same time every day.", "Keep the bedroom cool, dark and "
        "quiet.", "Avoid caffeine after early afternoon.", "Put screens away half an hour before bed.", "Get "
        "daylight soon after waking up.", "Keep naps short and early.", "Write tomorrow's worries on paper "
        "before lights out."],
    "studying for exams": ["Spread sessions over several days instead of cramming.", "Test yourself with past "
        "papers rather than rereading notes.", "Explain each topic aloud as if teaching a friend.", "Work in "
        "focused blocks of about forty minutes.", "Mix different subjects in one session.", "Sleep well the "
        "night before the exam.", "Make a one-page summary for each chapter."],
    "saving money on groceries": ["Plan meals for the week before shopping.", "Shop with a list and stick to it.",
        "Compare unit prices rather than package prices.", "Buy seasonal produce.", "Cook larger batches and "
        "freeze portions.", "Try store brands for staples.", "Never shop while hungry."],
    "keeping houseplants alive": ["Check the soil with a finger before watering.", "Match each plant to the "
        "light in the room.", "Use pots with drainage holes.", "Water less in winter.", "Wipe dust off large "
        "leaves.", "Feed them lightly during the growing season.", "Turn pots every few weeks for even growth."],
    "working from home": ["Set up a dedicated work spot.", "Keep regular start and finish times.", "Take a short "
        "walk at lunch.", "Use a headset for calls.", "Block focus time in your calendar.", "Close work apps "
        "at the end of the day.", "Check in with colleagues by video now and then."],
    "learning a new language": ["Practice a little every day.", "Learn the most common words first.", "Listen to "
        "podcasts made for learners.", "Speak from the first week, even with mistakes.", "Label objects at "
        "home with their names.", "Find a conversation partner online.", "Read short children's books."],
}
TRIPS = {"beach": pool("sunscreen|a sun hat|swimwear|a light beach towel|flip-flops|a reusable water bottle"),
         "hiking": pool("a rain jacket|a first-aid kit|a headlamp|blister plasters|trail snacks|a paper map"),
         "business": pool("a laptop charger|two pressed shirts|business cards|a travel adapter|a notebook"),
         "ski": pool("thermal base layers|ski goggles|warm gloves|lip balm with SPF|a neck gaiter"),
         "city": pool("comfortable walking shoes|a compact umbrella|a day bag|a phone power bank|a light scarf")}


def howto_sample(r: random.Random) -> Sample:
    task = r.choice(list(HOWTOS))
    steps = HOWTOS[task]
    skip = r.randrange(len(steps)) if r.random() < 0.6 else None
    steps = [s for i, s in enumerate(steps) if i != skip]
    ask = r.choice([f"How do I {task}?", f"What are the steps to {task}?", f"Walk me through how to {task}."])
    intro = r.choice(["Here is a simple way to do it:", "Follow these steps:", f"To {task}, work through this list:"])
    outro = r.choice(["Take your time on the first attempt; it gets much quicker after that.",
                      "If something goes wrong, go back one step and try again.", "That's all there is to it."])
    body = "\n".join(f"{i}. {step}" for i, step in enumerate(steps, 1))
    return Sample(ask, f"{intro}\n\n{body}\n\n{outro}", task)


def tips_sample(r: random.Random) -> Sample:
    topic = r.choice(list(TIPS))
    tips = r.sample(TIPS[topic], r.randint(3, 5))
    ask = r.choice([f"Give me {len(tips)} tips for {topic}.", f"What helps with {topic}? List {len(tips)} ideas.",
                    f"I need some advice on {topic}. Can you suggest {len(tips)} things to try?"])
    bullet = r.choice(["- ", "* "])
    body = "\n".join(bullet + tip for tip in tips)
    outro = r.choice(["Start with one or two of these and add the rest once they feel natural.",
                      "Small changes add up, so pick whichever seems easiest first.", ""])
    return Sample(ask, f"Here are {len(tips)} ideas:\n\n{body}" + (f"\n\n{outro}" if outro else ""), topic)


def packing_sample(r: random.Random) -> Sample:
    trip, days, city = r.choice(list(TRIPS)), r.randint(2, 14), r.choice(CITIES)
    month = r.choice(MONTHS)
    trousers = max(1, days // 4)
    items = [f"{days + 1} pairs of socks", f"{min(days, 7)} T-shirts",
             f"{trousers} pair{'s' if trousers > 1 else ''} of trousers"]
    items += r.sample(TRIPS[trip], r.randint(3, 5))
    r.shuffle(items)
    ask = r.choice([f"What should I pack for a {days}-day {trip} trip to {city} in {month}?",
                    f"Make me a packing list for {days} days of {trip} travel around {city} in {month}."])
    body = "\n".join(f"{i}. {item[0].upper()}{item[1:]}" for i, item in enumerate(items, 1))
    outro = r.choice([f"Check the forecast for {city} a few days before you leave and adjust the layers.",
                      "Roll clothes instead of folding them to save space.",
                      f"For {days} days you can also plan one laundry stop and pack less."])
    return Sample(ask, f"Here is a packing list for {days} days:\n\n{body}\n\n{outro}", f"packing for {trip}")


PRODUCTS = pool("blender|desk lamp|rice cooker|wireless speaker|backpack|kettle|office chair|tent|toaster")
PRAISE = pool("works exactly as described|was easy to set up|feels sturdy|arrived a day early|is very quiet")
COMPLAINTS = pool("stopped working after a week|arrived scratched|is much louder than advertised|"
                  "came without the manual|broke on the second day|smells of plastic")
NEUTRAL = pool("does the job, nothing more|is fine for the price|looks like the photos")


def reviews_sample(r: random.Random) -> Sample:
    labels = r.sample(["positive", "negative", "neutral", r.choice(["positive", "negative"])], r.randint(3, 4))
    reviews, lines = [], []
    leads = r.sample(["the reviewer says", "{who} reports that", "the customer notes that", "according to {who},"],
                     len(labels))  # a different lead per line: one repeated 3-gram would trip Gopher's ratios
    products, people = r.sample(PRODUCTS, len(labels)), r.sample(FEMALE + MALE, len(labels))
    phrases = {"positive": r.sample(PRAISE, 2), "negative": r.sample(COMPLAINTS, 2), "neutral": r.sample(NEUTRAL, 1)}
    for i, (label, lead, product, who) in enumerate(zip(labels, leads, products, people, strict=True), 1):
        phrase = phrases[label].pop()
        reviews.append(f'{i}. "{who}: The {product} {phrase}."')
        lines.append(f"{i}. {label.capitalize()}: {lead.format(who=who)} the {product} {phrase}.")
    ask = r.choice(["Classify the sentiment of each review as positive, negative, or neutral.",
                    "Label each of these customer reviews as positive, negative or neutral."])
    return Sample(ask, "\n".join(lines), "review sentiment", context="\n".join(reviews))


KNOWLEDGE_FAMILIES = [definition_sample, howto_sample, tips_sample, packing_sample, reviews_sample]


def knowledge_sample(rng: random.Random) -> Sample:
    return rng.choice(KNOWLEDGE_FAMILIES)(rng)
