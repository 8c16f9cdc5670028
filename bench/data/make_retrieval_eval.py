"""Writes bench/data/retrieval_eval.json: a generated (not copied) corpus and its questions, for measuring only.

Fact sheets of fictional companies, bonds, cities and products, 10 passages each (40 passage templates filled with
each subject's own numbers and names, each passage followed by a generic aside that answers nothing), and
near-duplicates that differ in one figure, date or name: an older edition of 4 company sheets (the year-bearing
passages with another year and figure or name; the rest word for word, so either copy answers those), a sibling of
4 bonds (the same issuer, another maturity) and of 4 products (the Pro model). 44 documents, 440 passages; 96
questions, each with the passages that answer it (where a near-duplicate's passage differs, only the right one),
every third paraphrased so that it shares few words with its answer besides the subject's name. Deterministic:
`python bench/data/make_retrieval_eval.py` rewrites the same file.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

# domain -> (subjects, [(passage, question in its words, question in other words)])
QUESTIONS = 96
DOMAINS: dict[str, tuple[list[str], list[tuple[str, str, str]]]] = {
    "company": (
        ["Acme Tooling", "Borealis Foods", "Cobalt Freight", "Dunmore Textiles", "Elmstead Pharma",
         "Fenwick Robotics", "Glenrock Mining", "Halvard Software"],
        [
            ("{E} has its head office at {n1} Harbour Street in {city}, where about {n3} people work on three floors.",
             "Where is the head office of {E}?", "In which town is {E} based?"),
            ("{E} was founded in {year} by {person}, who started it in a rented garage with two partners.",
             "When was {E} founded?", "Who set up {E}, and in what year?"),
            ("The chief executive of {E} in {Y} is {person2}, appointed by the board after a long career in "
             "consulting.", "Who is the chief executive of {E} in {Y}?", "Who ran {E} day to day in {Y}?"),
            ("{E} reported revenue of {n3} million euros for fiscal {Y}, up {n1}% on the year before.",
             "What revenue did {E} report for fiscal {Y}?",
             "How much money did {E} bring in over its {Y} sales year?"),
            ("For {Y} the board of {E} proposes a dividend of {d} euros per share, payable in June to shareholders "
             "on record in May.", "What dividend per share does the board of {E} propose for {Y}?",
             "How much cash will investors in {E} receive for each stock they own, for {Y}?"),
            ("Visitors are welcome at the {E} reception from {h1} to {h2} on weekdays; it stays closed at weekends "
             "and on public holidays.", "When is the {E} reception open to visitors?",
             "At what time can I drop by {E} during the week?"),
            ("Staff of {E} may park in the underground garage; bicycles go in the covered racks next to the north "
             "entrance.", "Where can {E} staff park, and where do bicycles go?",
             "Is there somewhere at {E} to leave my car or bike?"),
            ("In {Y} {E} employees may work from home up to {k} days a week, with the agreement of their team "
             "lead.", "How many days a week may {E} employees work from home in {Y}?",
             "How often was I allowed to do my job remotely at {E} in {Y}?"),
            ("In {Y} every employee of {E} gets {n2} days of paid annual leave, plus one extra day for each five "
             "years of service.", "How many days of paid annual leave does an employee of {E} get in {Y}?",
             "How much vacation time came with a job at {E} in {Y}?"),
            ("To report a lost badge or a security incident at {E}, call the security desk on extension {n3}, which "
             "is staffed around the clock.", "How do I report a lost badge at {E}?",
             "Whom should I phone at {E} if my access card goes missing?"),
        ],
    ),
    "bond": (
        ["Zephyr 2031", "Aurora 2029", "Meridian 2034", "Solstice 2030", "Tidewater 2033", "Kestrel 2028",
         "Larkspur 2035", "Nimbus 2032"],
        [
            ("The {E} bond pays a fixed coupon of {c}% a year, in two equal instalments in March and September.",
             "What coupon does the {E} bond pay?", "How much interest do holders of {E} earn annually?"),
            ("The {E} notes mature on {day} {month}, when the issuer repays the principal at par.",
             "When do the {E} notes mature?", "On what day will investors in {E} get their money back?"),
            ("Two agencies rate the {E} bond {rating}, citing the issuer's stable cash flow and moderate leverage.",
             "What rating do agencies give the {E} bond?", "How creditworthy is {E} considered?"),
            ("The issuer may redeem the {E} bond early from {year2} at 101% of face value, after thirty days' "
             "notice.", "Can the issuer redeem the {E} bond early?", "Is {E} callable before its final date?"),
            ("The {E} issue raised {n3} million euros, sold mostly to pension funds and insurers in Europe.",
             "How much did the {E} issue raise?", "What was the total amount borrowed through {E}?"),
            ("The {E} bond is denominated in euros, with a minimum denomination of 100,000 euros and integral "
             "multiples of 1,000.", "What is the minimum denomination of the {E} bond?",
             "What is the smallest amount of {E} I can buy?"),
            ("The {E} bond is listed on the Luxembourg Stock Exchange and clears through Euroclear and Clearstream.",
             "Where is the {E} bond listed?", "On which market does {E} trade, and how does it settle?"),
            ("Proceeds of the {E} bond finance wind farms and the upgrade of the electricity grid in {region}.",
             "What do the proceeds of the {E} bond finance?", "What will the money raised by {E} be spent on?"),
            ("Under its covenants the {E} issuer must keep net debt below {k} times operating profit and may not "
             "pledge its main assets.", "What covenants apply to the {E} issuer?",
             "What limits on borrowing did the company behind {E} promise to respect?"),
            ("Interest on the {E} bond is paid without withholding tax for investors resident in the European "
             "Union.", "Is interest on the {E} bond subject to withholding tax?",
             "Will anything be deducted for the state from payments on {E}?"),
        ],
    ),
    "city": (
        ["Lisbon", "Porto", "Bergen", "Ghent", "Krakow", "Ljubljana", "Tallinn", "Valencia"],
        [
            ("From {E} airport the metro reaches the old town in about {n2} minutes; a single ticket costs {d} "
             "euros.", "How do I get from {E} airport to the old town?",
             "What is the quickest way into the centre of {E} after my flight lands?"),
            ("{E} is mildest in May and September; July is the hottest month, with afternoons around {t} degrees.",
             "What is the weather like in {E} in July?", "When is the best season to visit {E} if I dislike heat?"),
            ("The {E} city museum is open Tuesday to Sunday from ten until six and is free on the first Sunday of "
             "each month.", "When is the {E} city museum open?",
             "Which days can I see the exhibitions in {E} without paying?"),
            ("The local speciality of {E} is {dish}, best eaten at the covered market near the river.",
             "What is the local speciality of {E}?", "Which dish should I try while travelling in {E}?"),
            ("A 24-hour {E} transport pass costs {d} euros and covers trams, buses and the funicular.",
             "How much is a 24-hour transport pass in {E}?",
             "What does a day of unlimited rides on public vehicles in {E} cost?"),
            ("{E} is generally safe, but pickpockets work the busy tram lines; keep bags closed and in front of you.",
             "Is {E} safe, and what about pickpockets?", "Should I worry about thieves on public transit in {E}?"),
            ("In {E} restaurants a service charge is rarely added; rounding up or leaving about ten percent is "
             "customary.", "Should I tip in {E} restaurants?",
             "How much extra do diners usually leave for the waiter in {E}?"),
            ("A popular day trip from {E} goes to {place}, an hour away by train, known for its castle and "
             "vineyards.", "What is a popular day trip from {E}?",
             "Where can I go for an excursion outside {E} and be back by night?"),
            ("In an emergency in {E} dial 112; the main hospital with an English-speaking casualty ward is "
             "{hospital}.", "What number do I dial in an emergency in {E}?",
             "Whom do I phone in {E} if someone gets badly hurt?"),
            ("Shops in {E} usually open from nine to seven; on Sundays only bakeries and shops in the station "
             "trade.", "When do shops open in {E}?", "Can I buy things in {E} late in the evening or at the weekend?"),
        ],
    ),
    "product": (
        ["Aria kettle", "Brio blender", "Cirrus air purifier", "Dyna drill", "Echo speaker", "Flux e-bike",
         "Glint lamp", "Halo thermostat"],
        [
            ("The {E} comes with a {k}-year warranty covering parts and labour; keep the receipt as proof of "
             "purchase.", "How long is the warranty on the {E}?",
             "If my {E} breaks after a year, will it be fixed for free?"),
            ("A full charge of the {E} battery takes {k} hours and lasts about {n2} hours of normal use.",
             "How long does the {E} battery last on a full charge?", "How often will I need to plug in the {E}?"),
            ("Clean the {E} with a damp cloth only; never immerse the base in water or use abrasive sponges.",
             "How should I clean the {E}?", "Can I wash the {E} under the tap?"),
            ("To reset the {E} to factory settings, hold the power button for ten seconds until the light blinks "
             "twice.", "How do I reset the {E} to factory settings?",
             "My {E} misbehaves: how do I restore it to how it was out of the box?"),
            ("At full speed the {E} produces about {n2} decibels, roughly as loud as a normal conversation.",
             "How many decibels does the {E} produce at full speed?", "Will the {E} disturb a sleeping baby?"),
            ("The {E} weighs {k} kilograms and measures {n2} centimetres at its widest point.",
             "How much does the {E} weigh?", "Is the {E} light enough to carry around easily?"),
            ("Unused {E} units can be returned within 30 days for a full refund; opened ones incur a 10% "
             "restocking fee.", "Can an unused {E} be returned for a refund?",
             "Can I send the {E} back if I change my mind?"),
            ("The {E} draws {n3} watts from a standard mains socket and switches itself off after an hour idle.",
             "How many watts does the {E} draw?", "How much electricity does the {E} consume?"),
            ("The {E} pairs with the companion phone app over Bluetooth, which also installs firmware updates.",
             "Does the {E} pair with a phone app over Bluetooth?", "Can I control the {E} from my smartphone?"),
            ("Keep the {E} out of reach of children and away from heat sources; a thermal fuse cuts power if it "
             "overheats.", "What safety advice and fuse does the {E} have?",
             "Is the {E} dangerous if it gets too hot?"),
        ],
    ),
}
CITIES = ["Leeds", "Aarhus", "Turin", "Lyon", "Graz", "Utrecht", "Bilbao", "Tampere"]
PEOPLE = ["Maria Okafor", "Jonas Lindqvist", "Priya Raman", "Tomasz Nowak", "Elena Costa", "Samuel Achebe",
          "Hannah Weiss", "Luca Romano", "Amira Haddad", "Oliver Grant"]
DISHES = ["grilled sardines", "francesinha", "fish soup", "waterzooi", "pierogi", "struklji", "black bread",
          "paella"]
PLACES = ["Sintra", "Braga", "Voss", "Bruges", "Wieliczka", "Bled", "Haapsalu", "Sagunto"]
REGIONS = ["northern Portugal", "western Norway", "Flanders", "southern Poland", "Slovenia", "Estonia",
           "eastern Spain", "the Baltic states"]
MONTHS = ["January", "March", "April", "June", "July", "September", "October", "December"]
RATINGS = ["A-", "BBB+", "BBB", "BBB-", "BB+", "A", "AA-", "BB"]
HOSPITALS = ["Santa Maria", "São João", "Haukeland", "UZ Gent", "Szpital Uniwersytecki", "UKC Ljubljana",
             "Regional Hospital", "La Fe"]


# A second sentence for each passage, as real pages carry: words shared across documents, no answers.
ASIDES: dict[str, list[str]] = {
    "company": ["Figures in this sheet are unaudited and may be revised.",
                "Questions about this page go to the investor relations team.",
                "This page is reviewed by the company secretary every quarter.",
                "Earlier editions of this sheet are kept in the archive.",
                "Staff handbooks give the full policy and its exceptions.",
                "The group reports in euros and closes its books in December."],
    "bond": ["Terms are summarised here; the prospectus prevails.", "Prices are indicative and change daily.",
             "Investors should read the risk factors before buying.",
             "The paying agent publishes notices on its website.",
             "Figures are as of the last reporting date and unaudited.",
             "The trustee acts for all holders of the notes."],
    "city": ["Opening times may change on public holidays.", "Prices were checked last spring.",
             "The tourist office near the main square has free maps.",
             "Most signs are also written in English.", "Cash is accepted almost everywhere, cards too.",
             "Locals are happy to give directions."],
    "product": ["See the full manual for details and diagrams.", "Specifications may change without notice.",
                "Register the product online to hear about updates.",
                "Accessories are sold separately.", "Contact support if anything is unclear.",
                "Keep this leaflet for future reference."],
}
# Near-duplicates: an older edition of some company sheets (the year-bearing passages differ in the year and one
# figure or name), a sibling of some bonds (another maturity) and of some products (the Pro model): the same
# sentences with one name, date or figure changed, so only the right passage answers.
OLDER_EDITIONS = 4
SIBLINGS = 4
YEAR, OLDER_YEAR = "2025", "2024"


def _values(rng: random.Random, index: int) -> dict[str, str]:
    return {
        "n1": str(rng.randint(2, 40)), "n2": str(rng.randint(12, 90)), "n3": str(rng.randint(120, 980)),
        "k": str(rng.randint(2, 5)), "d": f"{rng.randint(1, 9)}.{rng.randint(10, 95)}",
        "c": f"{rng.randint(2, 7)}.{rng.choice([0, 25, 5, 75]):02d}".rstrip("0").rstrip("."),
        "year": str(rng.randint(1952, 2012)), "year2": str(rng.randint(2015, 2027)),
        "h1": f"{rng.randint(7, 9)}:{rng.choice(['00', '30'])}",
        "h2": f"{rng.randint(16, 19)}:{rng.choice(['00', '30'])}",
        "t": str(rng.randint(24, 34)), "day": str(rng.randint(1, 28)), "month": rng.choice(MONTHS),
        "person": PEOPLE[index % len(PEOPLE)], "person2": PEOPLE[(index + 3) % len(PEOPLE)], "Y": YEAR,
        "city": CITIES[index], "dish": DISHES[index], "place": PLACES[index], "region": REGIONS[index],
        "rating": RATINGS[index], "hospital": HOSPITALS[index],
    }


def _variants(domain: str, index: int, subject: str, values: dict[str, str], rng: random.Random) -> list[dict]:
    """The sheets about one subject: its own, and for the first few an older edition or a sibling's."""
    slug = subject.lower().replace(" ", "-")
    sheets = [{"subject": subject, "values": values, "name": f"{slug}.md", "title": f"{subject} fact sheet",
               "edition": None}]
    fresh = {**_values(rng, index), "person2": PEOPLE[(index + 5) % len(PEOPLE)]}
    if domain == "company" and index < OLDER_EDITIONS:
        older = {**values, **{k: fresh[k] for k in ("n1", "n2", "n3", "k", "d", "person2")}, "Y": OLDER_YEAR}
        sheets.append({"subject": subject, "values": older, "name": f"{slug}-{OLDER_YEAR}.md",
                       "title": f"{subject} fact sheet {OLDER_YEAR}", "edition": OLDER_YEAR})
    if domain == "bond" and index < SIBLINGS:
        name, year = subject.rsplit(" ", 1)
        sibling = f"{name} {int(year) + 5}"
        sheets.append({"subject": sibling, "values": {**fresh, "E": sibling},
                       "name": f"{name.lower()}-{int(year) + 5}.md", "title": f"{sibling} fact sheet", "edition": None})
    if domain == "product" and index < SIBLINGS:
        sibling = f"{subject} Pro"
        sheets.append({"subject": sibling, "values": {**fresh, "E": sibling}, "name": f"{slug}-pro.md",
                       "title": f"{sibling} fact sheet", "edition": None})
    return sheets


def build() -> dict[str, object]:
    rng = random.Random(16)
    documents: list[dict[str, object]] = []
    slots: list[tuple[str, int, dict, int, bool]] = []  # (domain, template, sheet, subject index, near-duplicate)
    answers: dict[tuple[str, int], list[str]] = {}  # (sheet name, template) -> the passages that answer
    for domain, (subjects, templates) in DOMAINS.items():
        for index, subject in enumerate(subjects):
            values = {"E": subject, **_values(rng, index)}
            sheets = _variants(domain, index, subject, values, rng)
            texts: dict[str, list[str]] = {}
            for sheet in sheets:
                passages = []
                texts[sheet["name"]] = []
                for number, (passage, _words, _other) in enumerate(templates):
                    text = passage.format(**{**sheet["values"], "E": sheet["subject"]})
                    texts[sheet["name"]].append(text)
                    passage_id = f"{sheet['name']}#{number}"
                    passages.append({"id": passage_id, "text": f"{text} {rng.choice(ASIDES[domain])}"})
                documents.append({"name": sheet["name"], "title": sheet["title"], "passages": passages})
            for sheet in sheets:
                for number in range(len(templates)):
                    # every sheet whose sentence is the same answers; a changed figure, date or name does not
                    same = [s["name"] for s in sheets if texts[s["name"]][number] == texts[sheet["name"]][number]]
                    answers[(sheet["name"], number)] = [f"{name}#{number}" for name in same]
                    near = len(sheets) > 1 and len(same) < len(sheets)
                    if sheet["edition"] is None or "{Y}" in templates[number][0]:
                        slots.append((domain, number, sheet, index, near))
    chosen = rng.sample(slots, QUESTIONS)
    questions = []
    for number, (domain, template, sheet, _index, near) in enumerate(chosen):
        _subjects, templates = DOMAINS[domain]
        paraphrased = number % 3 == 2
        text = templates[template][2 if paraphrased else 1].format(E=sheet["subject"], Y=sheet["values"]["Y"])
        questions.append({"id": number + 1, "question": text, "answers": answers[(sheet["name"], template)],
                          "paraphrased": paraphrased, "near_duplicate": near})
    return {"about": __doc__.strip().splitlines()[0], "documents": documents, "questions": questions}


if __name__ == "__main__":
    target = Path(__file__).with_name("retrieval_eval.json")
    target.write_text(json.dumps(build(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    data = build()
    passages = sum(len(d["passages"]) for d in data["documents"])  # type: ignore[index, arg-type]
    near = sum(q["near_duplicate"] for q in data["questions"])  # type: ignore[index, union-attr, misc]
    print(f"{target}: {len(data['documents'])} documents, {passages} passages, {len(data['questions'])} questions"
          f" ({near} about near-duplicates)")
