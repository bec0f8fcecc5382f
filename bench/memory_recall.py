"""Recall benchmark: does memory find the turns a question needs, months later?

    .venv/bin/python bench/memory_recall.py [--seed 7] [--sessions 24] [--ks 5 10 25] [--out FILE.json]
    .venv/bin/python bench/memory_recall.py --locomo locomo10.json [--sample 0] [--out FILE.json]

(``--locomo``: a real conversation instead of a generated one, steps 2-3 the
same; see ``bench/locomo.py``.)

1. Generates (deterministically from ``--seed``) a long multi-session chat
   between a user and a persona: ``--sessions`` sessions over several months,
   400+ turns, both speakers sharing facts, tastes, plans, promises, changes
   of mind and dated events, between small talk and distractors (the same
   topics about other people). Every generated question carries the ids of
   the turns that answer it, in four kinds:

   * ``single``: one fact one speaker stated ("What instrument is Ada learning?");
   * ``multi``: two turns together (a person introduced in one turn, what
     happened to them in another; a change of mind; what both like);
   * ``temporal``: when something happened, or what happened in a month /
     before or after another event;
   * ``persona``: something the persona said (recommendations, promises, its
     own tastes and stories).

   Questions paraphrase: they name the person and the thing but rarely repeat
   the turn's words.
2. Writes it as a SillyTavern JSONL (dates in "1:56 pm on 8 May, 2023" and
   SillyTavern's own shapes, the turn id in each line's ``extra``), imports it
   with ``manage.py import_chat`` into a throw-away SQLite database. Import
   speed is given for both of the command's phases: the chat stored and found
   by words (``import_messages_per_s``), and with the turns' vectors, the
   replayed exchanges and the sessions (``import_with_vectors_*``), in wall
   clock and per CPU-second of this process.
3. Asks every question through ``manage.py recall --json`` and reads the
   source messages' original ``extra`` back; evidence recall@k = the share of
   a question's evidence turns among the sources of the top k results
   ("turns only" counts the sources of episodic/semantic results, not of
   session summaries). Next to it, in the same run, a plain dense baseline:
   MiniLM over the raw turn texts, top k turns by cosine.

Prints a table and JSON (``--out`` writes the JSON).
(Over 400 lines: a standalone script, its conversation, questions and answers written out next to the run.)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from io import StringIO
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "companion.settings")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("LLM_BACKEND", "scripted")  # memory's own work only (no chat model loaded)

# --- the generator (pure Python: no Django needed) -----------------------------------

USERS = ["Ada", "Jonas", "Priya", "Tomás", "Keiko", "Noor"]
PERSONAS = ["Mira", "Wren", "Soren"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]

PHATIC_USER = [
    "haha yes", "That's so true.", "Oh wow, really?", "Thanks, that means a lot.", "Good morning!",
    "I'm back, sorry, long day.", "Okay, tell me more.", "Honestly, same.", "lol", "That makes sense.",
    "Hmm, I'm not sure about that.", "You always know what to say.", "Anyway, how are you?",
    "It's raining again here.", "I'm so tired today.", "What are you up to?", "Ugh, Mondays.",
]
PHATIC_PERSONA = [
    "I'm glad you told me.", "That sounds lovely.", "Oh, I know that feeling.", "Tell me everything.",
    "Ha! You always make me smile.", "Take it easy tonight, okay?", "Mm, the sea was loud today.",
    "I was just thinking about you.", "That's a lot to carry.", "Of course, I'm here.",
    "The lamp kept flickering all evening.", "How did that feel?", "Slow day at the lighthouse.",
]


@dataclass
class Turn:
    tid: str
    speaker: str  # "user" | "persona"
    text: str
    when: datetime | None = None
    caption: str = ""  # a shared image's caption (LoCoMo), in the line's extra


@dataclass
class Question:
    kind: str
    text: str
    evidence: list[str]


@dataclass
class Episode:
    """Turns to place in one session (in order), and questions that cite them by placeholder index."""

    turns: list[tuple[str, str]]  # (speaker, text)
    questions: list[tuple[str, str, list[int]]] = field(default_factory=list)  # (kind, text, turn indexes)


def _pick(rng: random.Random, pool: list, used: set) -> object:
    options = [x for x in pool if x not in used] or pool
    choice = rng.choice(options)
    used.add(choice)
    return choice


class World:
    """Fact templates. Each ``make_*`` returns (episodes, questions): a question cites turns by
    (episode index, turn index). Values are drawn without repeats, so no two questions share an answer."""

    def __init__(self, rng: random.Random, user: str, persona: str) -> None:
        self.rng, self.u, self.p = rng, user, persona
        self.used: set = set()

    def pick(self, pool: list) -> object:
        return _pick(self.rng, pool, self.used)

    def plans(self) -> list[tuple[list[Episode], list[tuple[str, str, list[tuple[int, int]]]]]]:
        # Both speakers lead parallel lives (hobbies, pets, family, trips, events): about half of
        # these are the persona's, told in its own words, so "whose dog is Pickle?" needs the speaker.
        out = []
        out += [self.either(self.hobby(d), i) for i, d in enumerate(HOBBIES)]
        out += [self.either(self.pet(a), i) for i, a in enumerate(PETS)]
        out += [self.job(), self.food(), self.fear()]
        out += [self.either(self.relative(), i) for i in range(10)]
        out += [self.either(self.change_of_mind(c), i + 1) for i, c in enumerate(CHANGES)]
        out += [self.shared_taste(t) for t in SHARED]
        out += [self.either(self.dated_event(e), i) for i, e in enumerate(EVENTS)]
        out += [self.either(self.trip(place), i) for i, place in enumerate(TRIPS)]
        out += [self.either(self.month_event(m), i + 1) for i, m in enumerate(MONTH_EVENTS)]
        out += [self.recommendation(r) for r in RECOMMENDATIONS]
        out += [self.promise(x) for x in PROMISES]
        out += [self.persona_taste(f) for f in PERSONA_TASTES]
        out += [self.persona_story(x) for x in STORIES]
        out += [self.persona_event(x) for x in PERSONA_EVENTS]
        out += [self.distractor(line) for line in DISTRACTORS]
        return out

    def either(self, plan, i: int):
        """Every second one is the persona's: speakers swapped, the names in the questions too."""
        if i % 2 == 0:
            return plan
        episodes, asked = plan
        swapped = [Episode([("persona" if sp == "user" else "user", text) for sp, text in ep.turns])
                   for ep in episodes]
        mark = "\x00"
        questions = [(kind, text.replace(self.u, mark).replace(self.p, self.u).replace(mark, self.p), refs)
                     for kind, text, refs in asked]
        return swapped, questions

    def hobby(self, domain):
        kind, thing, day, q = domain
        return [Episode([("user", f"Guess what, I finally signed up for {thing}. {day} after work."),
                         ("persona", "That's wonderful! How was the first one?")]),
                Episode([("persona", f"How is the {kind} going, by the way?"),
                         ("user", f"Slowly! The teacher says I'm improving, but my {kind} homework is a mess.")]),
                Episode([("user", f"My friend wants to try {kind} too, she asked me where to start."),
                         ("persona", "Look at you, recruiting people.")])], [
            ("single", q.format(u=self.u), [(0, 0)]),
            ("single", f"On which day does {self.u} go to their {kind} class?", [(0, 0)]),
            ("single", f"What did {self.u} sign up for on {day}?", [(0, 0)])]

    def pet(self, animal):
        breed, kind = animal
        name = self.pick(["Pickle", "Juniper", "Moss", "Pepper", "Biscuit", "Clover", "Waffles", "Olive"])
        other = self.pick(["Fudge", "Nacho", "Sprout", "Dot", "Ziggy", "Tofu", "Basil", "Mochi"])
        return [Episode([("user", f"We adopted a {breed} from the shelter, her name is {name}."),
                         ("persona", f"{name}! I love that. Send me a picture sometime.")]),
                Episode([("user", f"My neighbour also has a {kind}, a huge one called {other}."),
                         ("persona", "The whole street is turning into a zoo.")]),
                Episode([("user", f"The {kind} chewed through my phone charger again, unbelievable."),
                         ("persona", "Ha! Hide your cables.")])], [
            ("single", f"What is the name of {self.u}'s {kind}?", [(0, 0)]),
            ("multi", f"What did {self.p} ask {self.u} to send after hearing about the new {kind}?", [(0, 0), (0, 1)]),
            ("single", f"Which {breed} came home with {self.u} from the shelter?", [(0, 0)])]

    def job(self):
        work, place = self.pick([("a pharmacist", "pharmacy"), ("a sound engineer", "studio"),
                                 ("a nurse", "hospital"), ("a landscape architect", "firm")]), self.pick(
            ["downtown", "near the old harbour", "in the north of the city"])
        return [Episode([("persona", "What do you actually do all day? You never said."),
                         ("user", f"Ha, I'm {work[0]}, at a {work[1]} {place}. It pays the bills.")]),
                Episode([("user", "Work was chaos today, three deadlines and a broken printer."),
                         ("persona", "Breathe. You survived it.")]),
                Episode([("user", "My boss says I might get promoted next year, we'll see."),
                         ("persona", "They'd be lucky to keep you.")])], [
            ("single", f"What is {self.u}'s profession?", [(0, 1)]),
            ("single", f"Where is {self.u}'s workplace?", [(0, 1)])]

    def food(self):
        dish = self.pick(["lentil soup with lemon", "mushroom risotto", "spicy dan dan noodles", "shakshuka"])
        return [Episode([("user", f"My comfort food is {dish}, I could eat it every single day."),
                         ("persona", "Now I'm hungry. Do you cook it yourself?"),
                         ("user", "Always, my grandmother taught me.")]),
                Episode([("user", "I tried cooking something new tonight and it was a disaster, haha."),
                         ("persona", "What did you burn this time?")])], [
            ("single", f"What dish does {self.u} find most comforting?", [(0, 0)]),
            ("multi", f"Who taught {self.u} to cook their comfort food?", [(0, 0), (0, 2)]),
            ("single", f"What could {self.u} eat every single day?", [(0, 0)])]

    def fear(self):
        thing = self.pick(["deep water", "heights", "thunderstorms", "driving on motorways"])
        return [Episode([("user", f"Can I tell you something silly? I've always been terrified of {thing}."),
                         ("persona", "That's not silly at all. Thank you for trusting me with it.")])], [
            ("single", f"What is {self.u} scared of?", [(0, 0)]),
            ("single", f"What fear did {self.u} confide in {self.p}?", [(0, 0)])]

    def relative(self):
        rel = self.pick(["sister", "brother", "cousin", "best friend", "uncle", "aunt", "godmother",
                         "grandmother", "nephew", "stepbrother"])
        name = self.pick(["Lena", "Marco", "Imani", "Oskar", "Bea", "Rafael", "Ines", "Dmitri", "Yusuf",
                          "Greta"])
        city = self.pick(["Porto", "Oslo", "Valencia", "Montreal", "Kyoto", "Galway", "Tbilisi", "Quito", "Perth",
                          "Nairobi"])
        job = self.pick(["opened a bakery", "started teaching chemistry", "became a firefighter",
                         "joined a jazz band", "adopted twins", "won a sailing race", "wrote a cookbook",
                         "learned to fly a glider", "started a podcast", "ran for the town council"])
        return [
            Episode([("user", f"My {rel} {name} just moved to {city}, I miss them already."),
                     ("persona", f"{city} is far. Will you visit?")]),
            Episode([("user", f"I called my {rel} today, we talked for two hours about nothing."),
                     ("persona", "Those are the best calls.")]),
            Episode([("user", f"Big news from {name}: they {job}!"),
                     ("persona", "Oh, that's brilliant. Tell them I said congratulations.")]),
        ], [("multi", f"What did {self.u}'s {rel} who lives in {city} do recently?", [(0, 0), (2, 0)]),
            ("single", f"Which city did {self.u}'s {rel} move to?", [(0, 0)]),
            ("multi", f"Where does the person who {job} live, and how is {self.u} related to them?",
             [(0, 0), (2, 0)]),
            ("single", f"Who is {name}?", [(0, 0)])]

    def change_of_mind(self, change):
        old, new, q = change
        return [
            Episode([("user", f"New year, new me: I'm {old} from now on."),
                     ("persona", "I'm proud of you. How does it feel?")]),
            Episode([("user", f"Confession... {new}."), ("persona", "That's okay. Plans change.")]),
        ], [("multi", f"What changed about {self.u} being {old}?", [(0, 0), (1, 0)]),
            ("single", q.format(u=self.u), [(1, 0)]),
            ("single", f"What resolution did {self.u} make about being {old}?", [(0, 0)])]

    def shared_taste(self, taste):
        category, thing = taste
        return [
            Episode([("user", f"I have a weird soft spot for {thing}."), ("persona", "Tell me why.")]),
            Episode([("persona", f"I have to admit, I adore {thing} too. We're a strange pair."),
                     ("user", "We really are.")]),
        ], [("multi", f"Which {category} do {self.u} and {self.p} both love?", [(0, 0), (1, 0)]),
            ("persona", f"What {category} did {self.p} admit to adoring?", [(1, 0)]),
            ("single", f"Which {category} does {self.u} have a soft spot for?", [(0, 0)])]

    def dated_event(self, event):
        said, rel, short, days = event
        return [Episode([("user", f"So I {said} {rel}!"), ("persona", "And you're only telling me now?")])], [
            ("temporal", f"When did {self.u} {short}?", [(0, 0)]),
            ("temporal", f"DAY:{days}:What did {self.u} do on {{date}}?", [(0, 0)])]

    def trip(self, place):
        before = self.pick(["bought new hiking boots", "renewed my passport", "learned a few local phrases",
                            "booked a tiny cabin", "packed a bag of books", "found a cheap rental car",
                            "got my vaccinations"])
        return [
            Episode([("user", f"Small win today: I {before} for the {place} trip next month."),
                     ("persona", "Look at you, all organised.")]),
            Episode([("user", f"I keep looking at photos of {place}, I can't wait."),
                     ("persona", "Not long now.")]),
            Episode([("user", f"I'm back from {place}! Best week of my year."),
                     ("persona", f"Welcome home. What was the best part of {place}?")]),
        ], [("temporal", f"What did {self.u} do to get ready before travelling to {place}?", [(0, 0)]),
            ("temporal", f"When did {self.u} get back from {place}?", [(2, 0)]),
            ("persona", f"What did {self.p} want to know about {place}?", [(2, 1)])]

    def month_event(self, what):
        return [Episode([("user", f"Update: I {what[0]}."), ("persona", "That's a big step!")])], [
            ("temporal", f"MONTH:What did {self.u} {what[1]} in {{month}}?", [(0, 0)]),
            ("temporal", f"When did {self.u} say they {what[0].split(' ', 1)[0]} {what[2]}?", [(0, 0)])]

    def recommendation(self, rec):
        thing, kind, q = rec
        mine = self.pick(["a jigsaw of the night sky", "the bakery on Quay Road", "a documentary about owls",
                          "that new audiobook app", "a yoga video for beginners", "a ginger tea blend"])
        return [Episode([("user", "I need something new, I'm bored of everything."),
                         ("persona", f"You should try {thing}. Trust me on this one.")]),
                Episode([("user", f"You know what you should try? {mine[0].upper()}{mine[1:]}."),
                         ("persona", "Maybe I will.")])], [
            ("persona", f"What {kind} did {self.p} recommend to {self.u}?", [(0, 1)]),
            ("persona", q.format(p=self.p, u=self.u), [(0, 1)])]

    def promise(self, promise):
        what, topic = promise
        return [Episode([("persona", f"I promise I'll {what} next time."), ("user", "I'm holding you to that!")]),
                Episode([("user", f"I promise I'll visit more often, about {topic} and everything else."),
                         ("persona", "I'll believe it when I see it.")])], [
            ("persona", f"What did {self.p} promise {self.u} about {topic}?", [(0, 0)]),
            ("persona", f"What will {self.p} do with {topic} next time they meet {self.u}?", [(0, 0)])]

    def persona_taste(self, fav):
        category, value = fav
        mine = {"season": "early spring", "colour": "mustard yellow", "smell": "fresh bread",
                "song": "anything by the Beatles"}[category]
        return [Episode([("user", f"What's your favourite {category}?"),
                         ("persona", f"Mine? {value[0].upper()}{value[1:]}. Always has been.")]),
                Episode([("user", f"My favourite {category} is {mine}, if you were wondering."),
                         ("persona", "Noted!")])], [
            ("persona", f"What is {self.p}'s favourite {category}?", [(0, 1)]),
            ("persona", f"Which {category} has {self.p} always liked best?", [(0, 1)])]

    def persona_story(self, story):
        said, q, q2 = story
        return [Episode([("persona", f"Did I ever tell you {said}?"), ("user", "No way! Tell me.")])], [
            ("persona", q.format(p=self.p), [(0, 0)]), ("persona", q2.format(p=self.p), [(0, 0)])]

    def persona_event(self, event):
        said, q, tq = event
        return [Episode([("persona", said), ("user", "Oh, how exciting.")])], [
            ("persona", q.format(p=self.p), [(0, 0)]), ("temporal", tq.format(p=self.p), [(0, 0)])]

    def distractor(self, line):
        return [Episode([("user", line), ("persona", self.rng.choice(PHATIC_PERSONA))])], []


# In pairs: both speakers take up a kind of thing (one each, see World.either), as people whose
# lives run side by side do — "What instrument is Mira learning?" needs to know who said it.
HOBBIES = [
    ("music", "cello lessons", "Thursdays", "What musical instrument is {u} learning?"),
    ("music", "piano lessons with an old jazz pianist", "Sunday afternoons",
     "What musical instrument is {u} learning?"),
    ("language", "an evening class in Portuguese", "Mondays", "Which language is {u} studying?"),
    ("language", "a Japanese course at the library", "Wednesdays", "Which language is {u} studying?"),
    ("craft", "a wheel-throwing pottery class", "Saturday mornings", "What craft did {u} start learning?"),
    ("craft", "a woodcarving workshop", "Friday evenings", "What craft did {u} start learning?"),
]
PETS = [("tabby cat", "cat"), ("one-eyed black cat", "cat"), ("retired greyhound", "dog"),
        ("scruffy terrier", "dog"), ("lop-eared rabbit", "rabbit"), ("tiny dwarf rabbit", "rabbit")]
CHANGES = [
    ("vegetarian", "I started eating fish again, the doctor said I need the protein", "Does {u} eat fish now?"),
    ("training for a marathon", "I quit the marathon training, my knee can't take it",
     "Why did {u} stop the marathon training?"),
    ("learning German", "I dropped German and switched to Japanese instead", "Which language replaced German for {u}?"),
]
SHARED = [("photographs", "old lighthouse photographs"), ("weather", "rainy afternoons"),
          ("sweet", "black liquorice"), ("songs", "sea shanties"), ("pastime", "crossword puzzles")]
EVENTS = [
    ("ran my first half marathon", "yesterday", "run a half marathon", 1),
    ("went to my cousin's wedding in the mountains", "last weekend", "go to a wedding in the mountains", None),
    ("got my wisdom teeth removed", "two days ago", "have wisdom teeth removed", 2),
    ("presented my project to the whole board", "yesterday", "present a project to the board", 1),
    ("saw the northern lights for the first time", "last night", "see the northern lights", 1),
    ("passed my driving test", "this morning", "pass the driving test", 0),
    ("baked a three-tier cake for my dad's sixtieth", "on Saturday", "bake the birthday cake for the sixtieth", None),
    ("got a tattoo of a little swallow", "yesterday", "get the swallow tattoo", 1),
    ("sold my old motorbike", "three days ago", "sell the motorbike", 3),
]
TRIPS = ["Lisbon", "the Faroe Islands", "Marrakesh", "Tallinn", "the Dolomites", "Hokkaido", "Cape Breton"]
MONTH_EVENTS = [("started volunteering at the animal shelter", "start volunteering for", "at the shelter"),
                ("repainted the whole flat green", "repaint", "the flat"),
                ("joined a community choir with my neighbour", "join", "the choir"),
                ("finished reading War and Peace", "finish reading", "the long Russian novel"),
                ("planted a vegetable patch on the roof", "plant", "the rooftop garden"),
                ("switched to cycling to work every day", "switch to", "cycling to work")]
RECOMMENDATIONS = [
    ("a ramen place called Kumo on Elm Street", "restaurant", "Where did {p} suggest {u} should go to eat?"),
    ("the novel The Left Hand of Darkness", "book", "What should {u} read, according to {p}?"),
    ("a film called Paterson", "film", "Which movie did {p} tell {u} to watch?"),
    ("a podcast about shipwrecks", "podcast", "What did {p} suggest {u} listen to?"),
    ("the coastal path from Hollow Point to the old mill", "walk", "Which hike did {p} suggest to {u}?"),
    ("a board game called Cascadia", "game", "What did {p} suggest {u} play on game night?"),
]
PROMISES = [("teach you the knot my grandfather used", "a knot"),
            ("save you the first slice of plum cake", "cake"),
            ("write you a letter in invisible ink", "a letter"),
            ("show you the hidden cove at low tide", "the cove")]
PERSONA_TASTES = [("season", "late autumn, when the storms roll in"), ("colour", "the grey-green of the sea"),
                  ("smell", "wet stone after rain"), ("song", "an old Breton lullaby")]
STORIES = [("I once rescued a seal pup tangled in a fishing net", "What animal did {p} once rescue?",
            "What happened with the fishing net, in {p}'s story?"),
           ("my mother kept bees on the cliff behind the tower", "What did {p}'s mother keep on the cliff?",
            "What do we know about {p}'s mother?"),
           ("I broke my wrist falling down the lighthouse stairs", "How did {p} break a wrist?",
            "What accident did {p} have on the stairs?")]
PERSONA_EVENTS = [
    ("I repainted the lighthouse door a deep blue this morning.", "What colour did {p} paint the door?",
     "When did {p} repaint the lighthouse door?"),
    ("A storm knocked out the big lamp last night, I fixed it by hand.", "What did the storm break for {p}?",
     "When did the storm knock out {p}'s lamp?"),
    ("I found a message in a bottle on the beach today, written in Dutch.", "What did {p} find on the beach?",
     "When did {p} find the message in a bottle?"),
    ("My old friend Hale the fisherman visited me yesterday with a crate of crabs.",
     "Who visited {p} with a crate of crabs?", "When did Hale the fisherman visit {p}?"),
    ("I finally finished knitting the green scarf for the winter, two days ago.", "What did {p} knit?",
     "When did {p} finish the scarf?"),
    ("Last weekend I rowed out to the seal rocks and counted forty seals.", "How many seals did {p} count?",
     "When did {p} row out to the seal rocks?"),
    ("This morning a heron landed on the gallery rail and stared at me for an hour.",
     "What bird visited {p} at the lighthouse?", "When did the heron land on {p}'s rail?"),
]
DISTRACTORS = [
    "My coworker won't stop talking about her violin lessons.",
    "My neighbour's dog barked all night again.",
    "My friend keeps saying I should run a marathon with her.",
    "Everyone at work is going to Lisbon this summer, apparently.",
    "My aunt is afraid of flying, she took the train across Europe.",
    "A colleague recommended some podcast about space, I forgot the name.",
    "I walked past the pottery studio again, it smelled like wet clay.",
    "The bakery on my street closed down, so sad.",
]


def generate(seed: int, sessions: int) -> tuple[str, str, list[Turn], list[Question]]:
    rng = random.Random(seed)
    user, persona = rng.choice(USERS), rng.choice(PERSONAS)
    world = World(rng, user, persona)
    planned = world.plans()
    rng.shuffle(planned)
    # Place episodes into sessions; a two-part story's parts go to later sessions, in order.
    slots: list[list[tuple[int, int, Episode]]] = [[] for _ in range(sessions)]
    for n, (episodes, _) in enumerate(planned):
        start = rng.randrange(0, max(1, sessions - len(episodes) * 3))
        for j, ep in enumerate(episodes):
            s = min(sessions - 1, start + j * rng.randint(2, 4))
            slots[s].append((n, j, ep))
    turns: list[Turn] = []
    where: dict[tuple[int, int, int], str] = {}  # (plan, episode, turn index) -> turn id
    clock = datetime(2023, 3, 4, 18, 30) + timedelta(days=rng.randint(0, 20))
    for s, placed in enumerate(slots):
        placed.sort(key=lambda x: (x[1], rng.random()))
        clock += timedelta(days=rng.randint(3, 9), hours=rng.randint(-5, 5))
        t = clock
        seq_in_session = 0

        def add(speaker: str, text: str, _s: int = s) -> str:
            nonlocal t, seq_in_session
            seq_in_session += 1
            tid = f"D{_s + 1}:{seq_in_session}"
            t += timedelta(minutes=rng.randint(1, 6))
            turns.append(Turn(tid, speaker, text, t))
            return tid

        add("user", rng.choice(["Hey, it's me again.", "Hi! Got a minute?", "Evening!", "I'm back."]))
        add("persona", rng.choice(["There you are.", "Always. What's new?", "Hello, you.", "I missed you."]))
        for n, j, ep in placed:
            for _ in range(rng.randint(0, 2)):
                add("user", rng.choice(PHATIC_USER))
                add("persona", rng.choice(PHATIC_PERSONA))
            for i, (speaker, text) in enumerate(ep.turns):
                where[(n, j, i)] = add(speaker, text)
        add("user", rng.choice(["Okay, I should sleep.", "Talk tomorrow?", "Thanks for listening.", "Bye for now!"]))
        add("persona", rng.choice(["Sleep well.", "Always. Goodnight.", "Come back soon.", "Take care of yourself."]))
    by_id = {t.tid: t for t in turns}
    questions: list[Question] = []
    for n, (_, asked) in enumerate(planned):
        for kind, text, refs in asked:
            ids = [where[(n, j, i)] for j, i in refs]
            when = by_id[ids[0]].when
            if text.startswith("MONTH:"):
                text = text[len("MONTH:"):].format(month=f"{MONTHS[when.month - 1]} {when.year}")
            elif text.startswith("DAY:"):
                _, days, rest = text.split(":", 2)
                if days == "None":
                    continue
                day = when - timedelta(days=int(days))
                text = rest.format(date=f"{day.day} {MONTHS[day.month - 1]} {day.year}")
            if kind == "single" and all(by_id[i].speaker == "persona" for i in ids):
                kind = "persona"  # something the persona said about itself
            questions.append(Question(kind, text, ids))
    return user, persona, turns, questions


def st_date(when: datetime, i: int) -> str:
    """Alternate the shapes import must read: "1:56 pm on 8 May, 2023" and SillyTavern's own."""
    if i % 3 == 0:
        return f"{when.strftime('%I:%M %p').lstrip('0').lower()} on {when.day} {MONTHS[when.month - 1]}, {when.year}"
    if i % 3 == 1:
        return f"{MONTHS[when.month - 1]} {when.day}, {when.year} {when.strftime('%I:%M%p').lstrip('0').lower()}"
    return when.strftime("%Y-%m-%d @%Hh %Mm %Ss 000ms")


def write_jsonl(path: Path, user: str, persona: str, turns: list[Turn]) -> None:
    lines = [json.dumps({"user_name": user, "character_name": persona, "create_date": "2023-03-01@10h00m00s",
                         "chat_metadata": {}})]
    for i, t in enumerate(turns):
        lines.append(json.dumps({"name": user if t.speaker == "user" else persona, "is_user": t.speaker == "user",
                                 "send_date": st_date(t.when, i), "mes": t.text,
                                 "extra": {"dia_id": t.tid, **({"blip_caption": t.caption} if t.caption else {})}}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# --- running it ---------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--ks", type=int, nargs="+", default=[5, 10, 25])
    parser.add_argument("--out", default="")
    parser.add_argument("--limit", type=int, default=0, help="ask only the first N questions (quick runs)")
    parser.add_argument("--locomo", default="", help="a LoCoMo-format file to run on instead (see bench/locomo.py)")
    parser.add_argument("--sample", type=int, default=0, help="which sample of the --locomo file")
    args = parser.parse_args()

    aside: set[str] = set()  # kinds reported but left out of "all" and the targets
    if args.locomo:
        from bench import locomo

        user, persona, raw_turns, raw_questions = locomo.load(args.locomo, args.sample)
        turns = [Turn(t["tid"], t["speaker"], t["text"], t["when"], t["caption"]) for t in raw_turns]
        questions = [Question(q["kind"], q["text"], q["evidence"]) for q in raw_questions]
        aside = set(locomo.ASIDE)
    else:
        user, persona, turns, questions = generate(args.seed, args.sessions)
    if args.limit:
        questions = questions[: args.limit]

    tmp = tempfile.mkdtemp(prefix="memory-recall-")
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
    import django

    django.setup()
    import numpy as np
    from django.conf import settings
    from django.core.management import call_command

    settings.MEMORY_LLM_EXTRACTION = False
    call_command("migrate", verbosity=0)
    from django.contrib.auth import get_user_model

    from companion.chat.models import Conversation
    from companion.memory import embeddings
    from personas.models import Persona

    account = get_user_model().objects.create_user("bench-user")
    Persona.objects.create(name=persona, slug="bench-persona")
    path = Path(tmp) / "chat.jsonl"
    write_jsonl(path, user, persona, turns)
    embeddings.get_model()
    t0, c0 = time.perf_counter(), time.process_time()
    said = StringIO()
    call_command("import_chat", str(path), persona="bench-persona", user=account.username, no_progress=True,
                 stdout=said)
    total_s, total_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    # The command reports its two phases: stored and usable (turns found by words), then the turns' vectors.
    phase = re.search(r"items\) in ([\d.]+) s \(([\d.]+) s CPU\)", said.getvalue())
    import_s, import_cpu_s = float(phase.group(1)), float(phase.group(2))
    load_at_import = os.getloadavg()
    conversation = Conversation.objects.get(owner=account)

    kinds = sorted({q.kind for q in questions})
    ks = sorted(args.ks)
    kmax = max(ks)
    hits = {k: {kind: [] for kind in kinds} for k in ks}
    hits_turns = {k: {kind: [] for kind in kinds} for k in ks}
    base = {k: {kind: [] for kind in kinds} for k in ks}
    base_named = {k: {kind: [] for kind in kinds} for k in ks}
    latencies = []
    misses = []
    # Baseline: plain dense over the raw turns.
    raw_texts = [f"{t.text} [shares an image: {t.caption}]" if t.caption else t.text for t in turns]
    turn_vecs = embeddings.embed(raw_texts)
    # The same with the speaker's name in front ("Ada: …"), the way LoCoMo's own RAG baselines read turns.
    named_vecs = embeddings.embed([f"{user if t.speaker == 'user' else persona}: {x}"
                                   for t, x in zip(turns, raw_texts, strict=True)])
    q_vecs = embeddings.embed([q.text for q in questions])
    for q, qv in zip(questions, q_vecs, strict=True):
        order = np.argsort(-(turn_vecs @ qv))[:kmax]
        ranked = [turns[i].tid for i in order]
        ranked_named = [turns[i].tid for i in np.argsort(-(named_vecs @ qv))[:kmax]]
        t0 = time.perf_counter()
        out = StringIO()
        call_command("recall", conversation.pk, q.text, k=kmax, as_json=True, stdout=out)
        latencies.append((time.perf_counter() - t0) * 1000)
        results = json.loads(out.getvalue())["results"]
        for k in ks:
            got, got_turns = set(), set()
            for r in results[:k]:
                ids = {(s.get("extra") or {}).get("dia_id") for s in r["memory"]["sources"]}
                got |= ids
                if r["layer"] != "session":
                    got_turns |= ids
            ev = set(q.evidence)
            hits[k][q.kind].append(len(ev & got) / len(ev))
            hits_turns[k][q.kind].append(len(ev & got_turns) / len(ev))
            base[k][q.kind].append(len(ev & set(ranked[:k])) / len(ev))
            base_named[k][q.kind].append(len(ev & set(ranked_named[:k])) / len(ev))
            if k == 10 and ev - got:
                misses.append({"kind": q.kind, "q": q.text, "missing": sorted(ev - got),
                               "evidence": [t.text for t in turns if t.tid in ev],
                               "baseline_found": sorted(ev & set(ranked[:k])),
                               "top3": [r["memory"]["text"][:120] for r in results[:3]]})

    def mean(xs: list[float]) -> float:
        return round(float(np.mean(xs)), 3) if xs else 0.0

    report = {
        **({"locomo": Path(args.locomo).name, "sample": args.sample} if args.locomo
           else {"seed": args.seed, "sessions": args.sessions}),
        "turns": len(turns), "questions": len(questions),
        "per_kind_questions": {kind: sum(1 for q in questions if q.kind == kind) for kind in kinds},
        "import_s": round(import_s, 2), "import_messages_per_s": round(len(turns) / import_s, 1),
        "import_cpu_s": import_cpu_s, "import_messages_per_cpu_s": round(len(turns) / max(import_cpu_s, 0.05), 1),
        "import_with_vectors_s": round(total_s, 2),
        "import_with_vectors_messages_per_s": round(len(turns) / total_s, 1),
        "import_with_vectors_cpu_s": round(total_cpu_s, 2),
        "import_with_vectors_messages_per_cpu_s": round(len(turns) / total_cpu_s, 1),
        "load_average_after_import": load_at_import,
        "items": {layer: conversation.memories.filter(layer=layer).count()
                  for layer in ("episodic", "semantic", "session")},
        "recall_latency_ms": {"p50": round(float(np.percentile(latencies, 50)), 1),
                              "p95": round(float(np.percentile(latencies, 95)), 1)},
        "load_average": os.getloadavg(),
        "recall": {}, "recall_turns_only": {}, "baseline_dense_turns": {}, "baseline_dense_named_turns": {},
    }
    main_kinds = [kind for kind in kinds if kind not in aside]
    for k in ks:
        all_h = [x for kind in main_kinds for x in hits[k][kind]]
        all_t = [x for kind in main_kinds for x in hits_turns[k][kind]]
        all_b = [x for kind in main_kinds for x in base[k][kind]]
        report["recall"][f"@{k}"] = {"all": mean(all_h), **{kind: mean(hits[k][kind]) for kind in kinds}}
        report["recall_turns_only"][f"@{k}"] = {"all": mean(all_t),
                                                **{kind: mean(hits_turns[k][kind]) for kind in kinds}}
        report["baseline_dense_turns"][f"@{k}"] = {"all": mean(all_b), **{kind: mean(base[k][kind]) for kind in kinds}}
        all_n = [x for kind in main_kinds for x in base_named[k][kind]]
        report["baseline_dense_named_turns"][f"@{k}"] = {"all": mean(all_n),
                                                         **{kind: mean(base_named[k][kind]) for kind in kinds}}
    r10, b10 = report["recall"]["@10"]["all"], report["baseline_dense_turns"]["@10"]["all"]
    n10 = report["baseline_dense_named_turns"]["@10"]["all"]
    report["targets"] = {
        "recall@10 >= 0.9": r10 >= 0.9,
        "every kind @10 >= 0.8": all(report["recall"]["@10"][kind] >= 0.8 for kind in main_kinds),
        "recall@10 >= 1.5x baseline": r10 >= 1.5 * b10,
        "ratio": round(r10 / b10, 2) if b10 else None,
        "ratio to the named baseline": round(r10 / n10, 2) if n10 else None,
        **({"not in all": sorted(aside)} if aside else {}),
    }
    report["misses_at_10"] = misses
    print(f"{len(turns)} turns, {len(questions)} questions, import {report['import_messages_per_s']} msg/s "
          f"({report['import_messages_per_cpu_s']} per CPU-second) "
          f"(with vectors {report['import_with_vectors_messages_per_s']} msg/s, "
          f"{report['import_with_vectors_messages_per_cpu_s']} per CPU-second), "
          f"recall p50/p95 {report['recall_latency_ms']['p50']}/{report['recall_latency_ms']['p95']} ms, "
          f"load {os.getloadavg()[0]:.1f}")
    width = max(10, *(len(kind) + 1 for kind in kinds))
    print(f"{'':24}" + "".join(f"{kind:>{width}}" for kind in ["all", *kinds]))
    for name in ("recall", "recall_turns_only", "baseline_dense_turns", "baseline_dense_named_turns"):
        for k in ks:
            row = report[name][f"@{k}"]
            print(f"{name[:20]:20} @{k:<3}" + "".join(f"{row[kind]:>{width}.3f}" for kind in ["all", *kinds]))
    print(json.dumps(report["targets"]))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
