"""GSM8K-style arithmetic word problems for the demo corpus: many templates, people, objects and numbers.

    problem = math_problem(random.Random(0))   # MathProblem(question, answer, gold)

Each answer is a few step lines whose arithmetic reads "a op b = c" (checked by the tests) and ends
with "#### <gold>", the way GSM8K does.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from curation.demo_corpus.content import Sample, person, pool


@dataclass
class MathProblem:
    question: str
    answer: str
    gold: int


# --- GSM8K-style word problems: each template returns (question, steps, gold); steps hold "a op b = c" ----

def m_change(r, p):
    items = r.choice(pool("notebooks|pens|candles|mugs|postcards|plant pots|jars of honey|tennis balls|picture frames"))
    shop = r.choice(pool("the market|a corner shop|the school fair|a garden center|the bookstore|a craft fair"))
    n, price = r.randint(3, 9), r.randint(2, 14)
    cost = n * price
    bill = next(b for b in (20, 50, 100, 200) if b > cost)
    q = (f"{p.name} buys {n} {items} at {shop} for ${price} each and pays with a ${bill} bill. How much change "
         f"should {p.he} get?")
    return q, [f"The {items} cost {n} * {price} = {cost} dollars.",
               f"{p.name} gets {bill} - {cost} = {bill - cost} dollars in change."], bill - cost


def m_savings(r, p):
    weekly, weeks = r.randint(4, 25), r.randint(3, 12)
    goal = r.choice(pool("a bicycle helmet|a concert ticket|a pair of hiking boots|a keyboard|a board game|a tent"))
    spent = r.randint(5, weekly * weeks - 1)
    q = (f"{p.name} saves ${weekly} every week for {weeks} weeks. Then {p.he} spends ${spent} on {goal}. "
         f"How much money does {p.he} have left?")
    saved = weekly * weeks
    return q, [f"After {weeks} weeks {p.he} has saved {weekly} * {weeks} = {saved} dollars.",
               f"After buying {goal}, {p.he} has {saved} - {spent} = {saved - spent} dollars left."], saved - spent


def m_recipe(r, p):
    food = r.choice(pool("pancakes|muffins|cookies|dumplings|scones|waffles|tortillas|biscuits"))
    ing = r.choice(pool("flour|sugar|milk|oats|butter|yogurt|rice flour"))
    base, amount, factor = r.choice([4, 6, 8, 10, 12]), r.randint(1, 5), r.randint(2, 6)
    q = (f"A recipe for {base} {food} calls for {amount} cups of {ing}. {p.name} wants to make {base * factor} "
         f"{food} for a party. How many cups of {ing} does {p.he} need?")
    return q, [f"{base * factor} {food} is {base * factor} / {base} = {factor} times the recipe.",
               f"So {p.he} needs {amount} * {factor} = {amount * factor} cups of {ing}."], amount * factor


def m_trip(r, p):
    speed, hours, walk = r.choice([40, 45, 50, 60, 65, 70, 80]), r.randint(2, 6), r.randint(2, 15)
    dest = r.choice(pool("a lake cabin|a mountain village|the coast|a music festival|a national park|an old castle"))
    q = (f"{p.name} drives to {dest} at {speed} km per hour for {hours} hours and then hikes the last {walk} km. "
         f"How many kilometers does {p.he} travel in total?")
    return q, [f"Driving covers {speed} * {hours} = {speed * hours} km.",
               f"Adding the hike gives {speed * hours} + {walk} = {speed * hours + walk} km."], speed * hours + walk


def m_garden(r, p):
    plant = r.choice(pool("tomato plants|lettuce heads|sunflowers|pepper plants|strawberry plants|bean plants"))
    rows, per_row = r.randint(3, 12), r.randint(4, 15)
    lost = r.randint(1, rows * per_row // 3)
    cause = r.choice(pool("rabbits eat|a late frost kills|snails ruin|a storm flattens|a dry week wilts"))
    q = (f"{p.name} plants {rows} rows of {plant} with {per_row} in each row. Then {cause} {lost} of them. "
         f"How many {plant} are left?")
    return q, [f"{p.name} planted {rows} * {per_row} = {rows * per_row} {plant}.",
               f"That leaves {rows * per_row} - {lost} = {rows * per_row - lost} {plant}."], rows * per_row - lost


def m_share(r, p):
    thing = r.choice(pool("stickers|marbles|trading cards|chocolates|seashells|comic books|crayons"))
    friends, each, kept = r.randint(2, 8), r.randint(3, 12), r.randint(2, 10)
    total = friends * each + kept
    q = (f"{p.name} has {total} {thing}. {p.He} keeps {kept} for {p.his} own collection and shares the rest "
         f"equally among {friends} friends. How many {thing} does each friend get?")
    return q, [f"{p.He} shares {total} - {kept} = {total - kept} {thing}.",
               f"Each friend gets {total - kept} / {friends} = {each} {thing}."], each


def m_discount(r, p):
    item = r.choice(pool("jacket|lamp|backpack|blender|desk chair|rain coat|camera bag|coffee grinder"))
    price, pct = r.choice([40, 60, 80, 120, 140, 160, 200, 240]), r.choice([10, 20, 25, 50, 15, 5])
    off = price * pct // 100
    q = f"A {item} costs ${price}. It is on sale for {pct}% off. What price does {p.name} pay for the {item}?"
    return q, [f"The discount is {price} * {pct} / 100 = {off} dollars.",
               f"{p.name} pays {price} - {off} = {price - off} dollars."], price - off


def m_wages(r, p):
    rate, hours, sat = r.randint(11, 28), r.randint(3, 8), r.randint(2, 6)
    job = r.choice(pool("at a bakery|as a lifeguard|at a bike repair shop|as a tutor|at the library|at a florist"))
    week = rate * (5 * hours + sat)
    q = (f"{p.name} works {job} and earns ${rate} an hour. {p.He} works {hours} hours each weekday and {sat} hours "
         f"on Saturday. How much does {p.he} earn in a week?")
    return q, [f"On weekdays {p.he} works 5 * {hours} = {5 * hours} hours.",
               f"The week has {5 * hours} + {sat} = {5 * hours + sat} hours in total.",
               f"{p.He} earns {5 * hours + sat} * {rate} = {week} dollars."], week


def m_reading(r, p):
    per_day, days = r.randint(8, 40), r.randint(3, 14)
    pages = per_day * days + r.randint(10, 200)
    book = r.choice(pool("a mystery novel|a biography|a fantasy book|a history book|a travel memoir|a cookbook"))
    q = (f"{p.name} is reading {book} with {pages} pages. {p.He} reads {per_day} pages a day for {days} days. "
         f"How many pages are still left?")
    return q, [f"{p.He} reads {per_day} * {days} = {per_day * days} pages.",
               f"There are {pages} - {per_day * days} = {pages - per_day * days} pages left."], pages - per_day * days


def m_ages(r, p):
    sibling = r.choice(pool("brother|sister|cousin"))
    young, gap, later = r.randint(3, 20), r.randint(2, 9), r.randint(2, 10)
    total = (young + gap + later) + (young + later)
    q = (f"{p.name} is {gap} years older than {p.his} {sibling}, who is {young}. What will the sum of their ages "
         f"be in {later} years?")
    return q, [f"{p.name} is {young} + {gap} = {young + gap} years old now.",
               f"In {later} years they will be {young + gap} + {later} = {young + gap + later} and "
               f"{young} + {later} = {young + later}.",
               f"The sum is {young + gap + later} + {young + later} = {total}."], total


def m_bake_sale(r, p):
    a_item, b_item = r.sample(pool("brownies|cupcakes|lemon bars|cookies|muffins|cinnamon rolls"), 2)
    a_n, a_price, b_n, b_price = r.randint(8, 30), r.randint(1, 4), r.randint(5, 20), r.randint(2, 5)
    total = a_n * a_price + b_n * b_price
    q = (f"At a bake sale {p.name} sells {a_n} {a_item} for ${a_price} each and {b_n} {b_item} for ${b_price} "
         f"each. How much money does {p.he} raise?")
    return q, [f"The {a_item} bring in {a_n} * {a_price} = {a_n * a_price} dollars.",
               f"The {b_item} bring in {b_n} * {b_price} = {b_n * b_price} dollars.",
               f"Together that is {a_n * a_price} + {b_n * b_price} = {total} dollars."], total


def m_collection(r, p):
    thing = r.choice(pool("stamps|coins|postcards|pins|badges|bottle caps"))
    start, packs, per_pack, gift = r.randint(10, 60), r.randint(2, 6), r.randint(4, 12), r.randint(3, 15)
    q = (f"{p.name} collects {thing} and has {start}. {p.He} buys {packs} packs with {per_pack} {thing} in each, "
         f"then gives {gift} to a friend. How many {thing} does {p.he} have now?")
    return q, [f"The packs hold {packs} * {per_pack} = {packs * per_pack} {thing}.",
               f"{p.He} then has {start} + {packs * per_pack} = {start + packs * per_pack}.",
               f"After the gift {p.he} has {start + packs * per_pack} - {gift} = {start + packs * per_pack - gift} "
               f"{thing}."], start + packs * per_pack - gift


def m_fence(r, p):
    length, width, price = r.randint(5, 30), r.randint(3, 20), r.randint(3, 15)
    area = r.choice(pool("vegetable garden|dog run|chicken yard|play area|herb patch"))
    perimeter = 2 * (length + width)
    q = (f"{p.name} wants to fence a rectangular {area} that is {length} meters long and {width} meters wide. "
         f"Fencing costs ${price} per meter. How much will the fence cost?")
    return q, [f"The perimeter is {length} + {width} + {length} + {width} = {perimeter} meters.",
               f"The fence costs {perimeter} * {price} = {perimeter * price} dollars."], perimeter * price


def m_laps(r, p):
    lap, laps, days = r.choice([200, 250, 400, 500]), r.randint(3, 12), r.randint(2, 7)
    place = r.choice(pool("the school track|a park loop|the stadium track|the pool|a forest trail"))
    q = (f"{p.name} runs {laps} laps of {place} every day. One lap is {lap} meters. How many meters does "
         f"{p.he} run in {days} days?")
    return q, [f"Each day {p.he} runs {laps} * {lap} = {laps * lap} meters.",
               f"In {days} days that is {laps * lap} * {days} = {laps * lap * days} meters."], laps * lap * days


def m_tickets(r, p):
    adults, kids, a_price, k_price = r.randint(1, 4), r.randint(1, 5), r.randint(13, 25), r.randint(4, 12)
    event = r.choice(pool("the zoo|a science museum|the aquarium|a puppet show|a planetarium show|a boat tour"))
    total = adults * a_price + kids * k_price
    q = (f"Tickets for {event} cost ${a_price} for adults and ${k_price} for children. {p.name} buys tickets "
         f"for {adults} adults and {kids} children. What is the total cost?")
    return q, [f"Adult tickets cost {adults} * {a_price} = {adults * a_price} dollars.",
               f"Child tickets cost {kids} * {k_price} = {kids * k_price} dollars.",
               f"The total is {adults * a_price} + {kids * k_price} = {total} dollars."], total


MATH_TEMPLATES = [m_change, m_savings, m_recipe, m_trip, m_garden, m_share, m_discount, m_wages, m_reading,
                  m_ages, m_bake_sale, m_collection, m_fence, m_laps, m_tickets]


def math_problem(rng: random.Random) -> MathProblem:
    question, steps, gold = rng.choice(MATH_TEMPLATES)(rng, person(rng))
    return MathProblem(question, "\n".join(steps) + f"\n#### {gold}", gold)


def mean_question(r: random.Random) -> tuple[str, str]:
    what = r.choice(pool("test scores|daily step counts in thousands|delivery times in minutes|weekly sales|"
                         "rainfall totals in millimeters|heights of seedlings in centimeters"))
    nums = [r.randint(5, 99) for _ in range(r.randint(4, 7))]
    total, k = sum(nums), len(nums)
    mean = f"{total // k}" if total % k == 0 else f"{total / k:.2f}"
    listed = ", ".join(map(str, nums))
    q = r.choice([f"What is the average of these {what}: {listed}?", f"Find the mean of the following {what}: "
                  f"{listed}.", f"My {what} were {listed}. What is the mean?"])
    check = r.choice(["", f" As a sanity check, the mean lies between the smallest value, {min(nums)}, and the "
                      f"largest, {max(nums)}."])
    return q, (f"Add the values first: {' + '.join(map(str, nums))} = {total}. There are {k} values, so the "
               f"mean is {total} / {k} = {mean}.{check}")


def percent_question(r: random.Random) -> tuple[str, str]:
    old, pct = r.randint(2, 60) * 10, r.choice([5, 10, 15, 20, 25, 30, 40, 50])
    change = old * pct // 100
    up = r.random() < 0.5
    new = old + change if up else old - change
    what = r.choice(pool("monthly rent|a club's membership|the price of a concert ticket|a town's bus fleet|"
                         "the number of visitors to a museum|a bakery's daily bread order"))
    q = f"{what[0].upper() + what[1:]} went from {old} to {new}. By what percent did it {'rise' if up else 'fall'}?"
    return q, (f"The change is {abs(new - old)}, since {max(old, new)} - {min(old, new)} = {change}. Divide by "
               f"the starting value: {change} / {old} = {change / old:g}, which is {pct} percent. So it "
               f"{'rose' if up else 'fell'} by {pct}%.")


def stats_sample(rng: random.Random) -> Sample:
    question, answer = rng.choice([mean_question, percent_question])(rng)
    return Sample(question, answer, "basic statistics")


def math_sample(rng: random.Random) -> Sample:
    problem = math_problem(rng)
    return Sample(problem.question, problem.answer, "a word problem")
