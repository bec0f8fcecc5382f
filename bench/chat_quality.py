"""Chat quality of the configured model: scripted persona conversations, scored.

    .venv/bin/python bench/chat_quality.py [--limit N] [--baseline] [--json out.json] [--show]

Runs 32 scripted multi-turn conversations (10 personas, 32 users) through the
app's own pieces: a throwaway SQLite database with the real migrations,
``conversation_start`` / ``message_create`` for the turns, the memory pipeline
after every exchange (``exchange_process``, deterministic rules: what the app
stores when model extraction is off or times out), the app's ``prompt_build``
(persona card, relationship, memories, summary, history, by the real section
providers) and the configured backend (``LLM_BACKEND``: embedded, openai …)
called directly. The user states facts (name, pet, job, plans, places) and
later asks about them; eleven scripts ask in a second conversation, where the
facts can only come from the memory section.

Two modes:

* default: what the app ships — ``companion.chat.sampling.sampling_for`` and the
  reply pipeline from ``companion.chat.reply_cleaning`` and ``reply_quality`` (cut the user's turn, trim
  to a sentence at the token limit, clean; a reply failing review is generated
  once more with ``sampling_for_retry``, then replaced by the fallback line);
* ``--baseline``: the sampling the app had before (persona temperature,
  top_p 0.95, no min_p, 200 tokens, one stop string) and the raw text.

Scores, over every reply unless noted ("shown" is what the user would see,
"raw" the first generation as it came):

* ``recall``: share of memory questions whose answer names the planted fact;
* ``name_ok``: replies that call the user by their name or by no name (another
  name in a vocative, or a common first name nobody mentioned, fails);
* ``broken``: U+FFFD, control characters, unpaired surrogates, emoji/dingbat runs;
* ``ooc``: out of character ("as an AI", "language model", help-desk voice);
* ``abusive``: profanity or insults aimed at the user;
* ``speaks_for_user``: the reply contains a turn of the user's;
* ``cut_off``: the reply does not end at a sentence boundary;
* ``repeats``: the reply (nearly) repeats one of the persona's last three replies;
* ``words``/``tokens``: mean length; ``tok_s``: decode tokens per second
  (first token to last), ``ttft_s``: mean time to first token;
* ``regenerated``/``fallback``: how often the review asked for a second try / gave up.

Deterministic: every generation has a seed derived from (script, turn, attempt).
Prints a JSON summary and a Markdown row for bench/README.md.
(Over 400 lines: a standalone script, its prompts and cases written out next to the run and the scoring.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "companion.settings")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
_DB = Path(tempfile.mkdtemp(prefix="chat-quality-")) / "bench.sqlite3"
os.environ["DATABASE_URL"] = f"sqlite:///{_DB}"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402

from companion.accounts.selectors import user_display_name  # noqa: E402
from companion.accounts.services import profile_set_display_name  # noqa: E402
from companion.chat import reply_cleaning as rc  # noqa: E402
from companion.chat import reply_quality as rq  # noqa: E402
from companion.chat.models import Message  # noqa: E402
from companion.chat.prompt import prompt_build  # noqa: E402
from companion.chat.services import conversation_start, message_create  # noqa: E402
from companion.llm.base import SamplingParams  # noqa: E402
from companion.llm.registry import get_backend  # noqa: E402
from companion.memory.pipeline import exchange_process  # noqa: E402
from personas.models import Persona  # noqa: E402

# --- the personas ----------------------------------------------------------------------

PERSONAS: dict[str, dict] = {
    "mira": dict(
        name="Mira", temperature=0.55,
        description="{{char}} is a lighthouse keeper on a windy island who talks with {{user}} in the evenings.",
        personality="dry humour, patient, observant, fond of tea and storms",
        scenario="A stormy evening in the lighthouse kitchen.",
        greeting="Evening, {{user}}. Kettle's on. What brings you up the stairs?",
        example_dialogue="<START>\n{{user}}: Hi\n{{char}}: Mind the stairs, they're wet. Tea?",
        post_history_instructions="Answer as {{char}} in two sentences at most.",
    ),
    "kai": dict(
        name="Kai", temperature=0.8,
        description="{{char}} is a laid-back surf instructor in Ericeira, Portugal.",
        personality="relaxed, encouraging, talks about waves and the ocean",
        greeting="Hey {{user}}! The swell looks great today. How are you doing?",
    ),
    "elena": dict(
        name="Elena", temperature=0.7,
        description="{{char}} runs a tiny second-hand bookshop in Lisbon and loves recommending books.",
        personality="warm, literary, curious about people's stories",
        scenario="A quiet afternoon in the bookshop; rain outside.",
        greeting="Welcome in, {{user}}! Mind the cat on the counter. Looking for anything in particular?",
    ),
    "rook": dict(
        name="Rook", temperature=0.9,
        description="{{char}} is the village blacksmith in a small fantasy kingdom: gruff on the outside, kind inside.",
        personality="gruff, loyal, few words, secretly soft-hearted",
        scenario="The forge at dusk, sparks flying.",
        greeting="*wipes soot from his hands* {{user}}. Need something mended, or just the warmth of the forge?",
    ),
    "juniper": dict(
        name="Juniper", temperature=0.75,
        description="{{char}} is a cheerful gardener who runs a community garden.",
        personality="sunny, chatty, knows every plant by name",
        greeting="Oh hi, {{user}}! Come see the tomatoes, they finally turned red!",
    ),
    "amani": dict(
        name="Amani", temperature=0.6,
        description="{{char}} hosts a calm late-night radio show and talks with listeners who call in.",
        personality="calm, thoughtful, gentle voice, asks good questions",
        scenario="The studio at 2 a.m., a caller on the line.",
        greeting="You're on the air with Amani. Who's calling tonight?",
        post_history_instructions="Reply as {{char}}, briefly and warmly.",
    ),
    "leo": dict(
        name="Leo", temperature=0.85,
        description="{{char}} is a barista at a corner café and plays guitar in a small band.",
        personality="friendly, a bit goofy, loves music and coffee",
        greeting="Hey {{user}}! The usual, or are we feeling adventurous today?",
        example_dialogue="<START>\n{{user}}: Morning!\n{{char}}: Morning! Oat latte coming right up.",
    ),
    "nova": dict(
        name="Nova", temperature=0.7,
        description="{{char}} is the human navigator of the starship Meridian, on a long voyage to a distant colony.",
        personality="brave, witty, curious about life on Earth",
        scenario="The observation deck; stars drifting past.",
        greeting="{{user}}, you're up late too? Come look, we're passing a nebula.",
    ),
    "hana": dict(
        name="Hana", temperature=0.8,
        description="{{char}} is a ramen chef who runs a small shop and chats with regulars at the counter.",
        greeting="Irasshai, {{user}}! Sit, sit. Shoyu or miso today?",
    ),
    "ines": dict(
        name="Ines", temperature=1.1,
        description="{{char}} is the captain of a sailing ship who has crossed every ocean.",
        personality="bold, adventurous, tells sea stories, protective of her crew",
        scenario="On deck at sunset, the sails full.",
        greeting="Ahoy, {{user}}! Fair winds today. Come stand at the wheel with me.",
    ),
}


# --- the scripts -----------------------------------------------------------------------


@dataclass(frozen=True)
class Turn:
    text: str
    expect: tuple[str, ...] = ()  # a memory question: any of these words in the answer


def T(text: str, *expect: str) -> Turn:
    return Turn(text, tuple(expect))


@dataclass(frozen=True)
class Script:
    persona: str
    user: str
    sessions: tuple[tuple[Turn, ...], ...]  # a later session is a new conversation: facts only in memory


def S(persona: str, user: str, *sessions: list[Turn]) -> Script:
    return Script(persona, user, tuple(tuple(s) for s in sessions))


SCRIPTS: list[Script] = [
    S("mira", "Sam", [
        T("Hi Mira! I just moved to the coast. I have a cat named Miso."),
        T("I work as a nurse at the harbour clinic, mostly night shifts."),
        T("The storm last night kept me awake for hours."),
        T("Quick memory test: what is my cat called?", "Miso"),
        T("And what do I do for work?", "nurse"),
    ]),
    S("kai", "Priya", [
        T("Hey Kai! My dog's name is Biscuit and he loves the beach."),
        T("Next Saturday I'm going to my first surf lesson with my sister Anjali."),
    ], [
        T("Hi again Kai! Do you remember my dog's name?", "Biscuit"),
        T("Who is coming to the surf lesson with me?", "Anjali", "sister"),
    ]),
    S("elena", "Alex", [
        T("Hello Elena. I'm a history teacher, so I'm always hunting for old books."),
        T("I love mystery novels, especially Agatha Christie."),
        T("My birthday is on March 14th, maybe I'll treat myself."),
        T("What kind of novels do I love?", "mystery", "Christie"),
        T("When is my birthday?", "March", "14"),
    ]),
    S("rook", "Jordan", [
        T("Evening, Rook. I have a horse named Thunder who threw a shoe."),
        T("I live in the mill by the river, just past the bridge."),
    ], [
        T("Rook, it's me again. What's my horse called?", "Thunder"),
        T("Do you remember where I live?", "mill", "river"),
    ]),
    S("juniper", "Mei", [
        T("Hi Juniper! I'm a software engineer but I want to grow my own herbs."),
        T("My favourite herb is basil, I put it on everything."),
        T("I'm planning to build a balcony garden this spring."),
        T("What's my favourite herb again?", "basil"),
        T("What do I do for a living?", "software", "engineer"),
    ]),
    S("amani", "Tomás", [
        T("Hi Amani, long-time listener. I drive a night bus across the city."),
        T("My daughter Lucia just started university in Madrid."),
        T("It gets lonely on the empty routes at 3 a.m."),
        T("Do you remember where my daughter studies?", "Madrid"),
        T("What's my job, by the way?", "bus", "driver"),
    ]),
    S("leo", "Aisha", [
        T("Morning Leo! I'm training for the city marathon in October."),
        T("I have a parrot named Mango who wakes me up at six."),
    ], [
        T("Hey Leo! Bet you forgot my parrot's name.", "Mango"),
        T("What am I training for?", "marathon"),
    ]),
    S("nova", "Ben", [
        T("Hi Nova. I'm the ship's botanist, I look after the hydroponic farm."),
        T("Back on Earth I had a golden retriever named Comet."),
        T("Sometimes I miss the sound of rain."),
        T("What was my dog on Earth called?", "Comet"),
        T("And what's my job on the Meridian?", "botanist", "hydroponic", "farm"),
    ]),
    S("hana", "Lena", [
        T("Miso please! I'm a photographer, I just got back from Iceland."),
        T("My boyfriend Marco is vegetarian, do you have anything for him?"),
        T("What's my boyfriend's name?", "Marco"),
        T("Where did I just come back from?", "Iceland"),
    ]),
    S("ines", "Omar", [
        T("Ahoy Captain! I'm a marine biologist studying whales."),
        T("I'm afraid of deep water, which is funny for my job."),
        T("My brother Karim is also joining the voyage next month."),
        T("What do I study?", "whale", "marine"),
        T("Who's joining the voyage next month?", "Karim", "brother"),
    ]),
    S("mira", "Ruth", [
        T("Hello Mira. I knit sweaters for the fishermen here."),
        T("I have two goats named Pip and Pepper."),
    ], [
        T("Good evening Mira. Do you remember my goats' names?", "Pip", "Pepper"),
        T("What do I make for the fishermen?", "sweater", "knit"),
    ]),
    S("kai", "Diego", [
        T("Yo Kai, I'm a chef at a seafood restaurant in Porto."),
        T("I've been surfing for ten years but I keep wiping out on big waves."),
        T("My goal is to surf in Nazaré one day."),
        T("Where do I want to surf one day?", "Nazaré", "Nazare"),
        T("What's my job?", "chef"),
    ]),
    S("elena", "Yuki", [
        T("Hi! I'm Yuki. I'm learning Portuguese because I'm moving to Lisbon in June."),
        T("My cat is called Sushi and she hates travelling."),
    ], [
        T("Elena, hello again! When am I moving to Lisbon?", "June"),
        T("What's my cat's name?", "Sushi"),
    ]),
    S("rook", "Grace", [
        T("Rook, I'm a healer at the temple. I need a new set of scalpels."),
        T("My apprentice Tobin keeps breaking my tools."),
        T("Anyway, how's the forge been?"),
        T("What's my apprentice called?", "Tobin"),
        T("Where do I work?", "temple", "healer"),
    ]),
    S("juniper", "Felix", [
        T("Hey Juniper. I'm allergic to bees, so I'm a bit nervous in gardens."),
        T("I have a tortoise named Sheldon who eats all my lettuce."),
        T("What's my tortoise called?", "Sheldon"),
        T("What am I allergic to?", "bee"),
    ]),
    S("amani", "Nadia", [
        T("Hi Amani, I'm a night-shift baker at a bakery on Elm Street."),
        T("Next week I'm flying to Cairo to see my grandmother."),
    ], [
        T("Amani, it's Nadia again. Where am I flying next week?", "Cairo"),
        T("And where do I work?", "baker", "bakery"),
    ]),
    S("leo", "Chris", [
        T("Hey Leo, I play drums in a jazz trio."),
        T("We have a gig at the Blue Note on Friday."),
        T("Can you recommend a coffee to keep me awake?"),
        T("What instrument do I play?", "drum"),
        T("Where is our gig on Friday?", "Blue Note"),
    ]),
    S("nova", "Ingrid", [
        T("Nova, I'm the ship's doctor. My name is Ingrid, in case you forgot."),
        T("My daughter Freya is back on Earth, she's seven."),
    ], [
        T("Nova, do you remember my name?", "Ingrid"),
        T("How old is my daughter?", "seven", "7"),
    ]),
    S("hana", "Raj", [
        T("Shoyu for me. I'm an architect, I design libraries."),
        T("I have a beagle named Waffles."),
        T("What's my dog's name?", "Waffles"),
        T("What do I design?", "librar"),
    ]),
    S("ines", "Zoe", [
        T("Captain, I'm the new cook on board. I love making paella."),
        T("My home port is Valencia."),
        T("Tell me about the worst storm you ever sailed through."),
        T("What's my favourite dish to cook?", "paella"),
        T("Where's my home port?", "Valencia"),
    ]),
    S("mira", "Hugo", [
        T("Mira, I'm a painter. I paint the sea every morning."),
        T("My wife Clara runs the post office in the village."),
    ], [
        T("Evening Mira. Who's my wife?", "Clara"),
        T("What do I paint?", "sea"),
    ]),
    S("kai", "Emma", [
        T("Hi Kai! I'm a vet, I work with horses mostly."),
        T("I'm scared of sharks, is that silly?"),
        T("What am I scared of?", "shark"),
        T("What do I do for work?", "vet"),
    ]),
    S("elena", "Noah", [
        T("Hi Elena, I'm writing my first novel, a fantasy about dragons."),
        T("My writing cat is called Pixel, she sits on the keyboard."),
        T("What is my novel about?", "dragon"),
        T("What's my cat's name?", "Pixel"),
    ]),
    S("rook", "Maya", [
        T("Rook, I'm a knight of the northern guard."),
        T("My sword is called Dawnbreaker, it was my father's."),
    ], [
        T("Rook, can you sharpen my sword? Remember its name?", "Dawnbreaker"),
        T("Which guard do I serve in?", "north"),
    ]),
    S("juniper", "Oscar", [
        T("Hi Juniper, I'm retired, I used to be a postman."),
        T("I grow prize-winning pumpkins, the biggest was 80 kilos."),
        T("What do I grow?", "pumpkin"),
        T("What was my job before I retired?", "postman", "post"),
    ]),
    S("amani", "Lucy", [
        T("Hello Amani. I'm a nurse in the children's ward."),
        T("My cat Shadow waits for me every night when I get home."),
        T("Tonight was a hard shift."),
        T("What's my cat called?", "Shadow"),
        T("Where do I work?", "children", "ward", "nurse"),
    ]),
    S("leo", "Ethan", [
        T("Hey Leo, I'm a student, I study physics."),
        T("I have an exam on thermodynamics on Monday."),
    ], [
        T("Leo! Guess which exam I have on Monday?", "thermodynamic"),
        T("What do I study?", "physics"),
    ]),
    S("nova", "Sofia", [
        T("Nova, I'm the ship's engineer. I keep the reactor running."),
        T("On Earth I grew up in a village near Naples."),
        T("Where did I grow up?", "Naples"),
        T("What's my job on the ship?", "engineer", "reactor"),
    ]),
    S("hana", "Kenji", [
        T("Miso ramen please. I'm a firefighter, just off a long shift."),
        T("My son Haruto turns five tomorrow."),
        T("What's my son's name?", "Haruto"),
        T("What do I do for work?", "firefight", "fire"),
    ]),
    S("ines", "Ava", [
        T("Captain, I'm the ship's navigator. I read the stars."),
        T("I have a little cat named Biscotti who lives on deck."),
    ], [
        T("Captain! Do you remember my cat's name?", "Biscotti"),
        T("What's my job on this ship?", "navigat", "star"),
    ]),
    S("mira", "Leon", [
        T("Mira, I'm a fisherman. My boat is called the Seagull."),
        T("I'm saving up to fix its engine."),
        T("What's my boat called?", "Seagull"),
        T("What am I saving up for?", "engine"),
    ]),
    S("elena", "Iris", [
        T("Hi Elena! I'm a florist. I love tulips more than anything."),
        T("I'm going to Amsterdam in April for the tulip season."),
        T("Where am I going in April?", "Amsterdam"),
        T("What's my job?", "florist", "flower"),
    ]),
]

# A common first name in a reply that nobody in the conversation used is a wrong name.
COMMON_NAMES = set(
    "James John Robert Michael William David Richard Joseph Thomas Charles Mary Patricia Jennifer Linda Elizabeth "
    "Barbara Susan Jessica Sarah Karen Nancy Lisa Betty Margaret Sandra Ashley Kimberly Emily Donna Michelle "
    "Daniel Matthew Anthony Mark Donald Steven Paul Andrew Joshua Kenneth Kevin Brian George Timothy Ronald "
    "Jason Jeffrey Ryan Jacob Gary Nicholas Eric Jonathan Stephen Larry Justin Scott Brandon Benjamin Samuel "
    "Gregory Frank Alexander Raymond Patrick Jack Dennis Jerry Tyler Aaron Jose Adam Henry Nathan Douglas "
    "Zachary Peter Kyle Walter Harold Jeremy Ethan Carl Keith Roger Gerald Christian Terry Sean Arthur Austin "
    "Noah Lily Olivia Sophia Isabella Mia Charlotte Amelia Harper Evelyn Abigail Ella Chloe Anna Rachel Laura "
    "Kate Katie Amy Hannah Lucas Liam Oliver Max Tom Tim Jim Bob Joe Mike Dave Steve Nick Luke Alice Bella "
    "Jane Julia Rose Ruby Sara Tina Victoria Zoe".split()
)


# --- one reply -------------------------------------------------------------------------


@dataclass
class Reply:
    script: int
    session: int
    turn: int
    persona: str
    user: str
    question: str
    expect: tuple[str, ...]
    raw: str = ""
    shown: str = ""
    attempts: int = 1
    fallback: bool = False
    problems: list[str] = field(default_factory=list)
    prompt_tokens: int = 0
    tokens: int = 0
    ttft_s: float = 0.0
    decode_s: float = 0.0
    hit_limit: bool = False


async def _generate(backend, turns, params: SamplingParams) -> tuple[str, float, float]:
    """(text, seconds to the first delta, seconds from the first delta to the end)."""
    started = time.perf_counter()
    first = None
    parts: list[str] = []
    async for delta in backend.stream(turns, params=params):
        if first is None:
            first = time.perf_counter()
        parts.append(delta)
    end = time.perf_counter()
    first = first or end
    return "".join(parts), first - started, end - first


def legacy_sampling(persona: Persona, *, user_name: str, seed: int) -> SamplingParams:
    """What replies.sampling_for returned before this bench existed."""
    return SamplingParams(temperature=persona.temperature, max_tokens=200, stop=(f"\n{user_name}:",), seed=seed)


def _hit_limit(backend, text: str, params: SamplingParams) -> bool:
    record = getattr(backend, "last_generation", None)
    if record is not None and hasattr(record, "new_tokens"):
        return record.new_tokens >= params.max_tokens and not getattr(record, "stopped_early", False)
    return backend.count_tokens(text) >= params.max_tokens - 1


def finish(raw: str, *, hit_limit: bool, user_name: str, persona_name: str) -> str:
    """The reply pipeline the app runs after a stream ends."""
    text = rc.cut_user_turn(raw, user_name=user_name, persona_name=persona_name)
    text = rc.trim_to_sentence(text, hit_limit=hit_limit or text != raw.rstrip())
    return rc.clean_reply(text)


def reply_for(backend, build, persona: Persona, reply: Reply, *, baseline: bool, seed: int) -> None:
    from companion.chat.sampling import sampling_for, sampling_for_retry

    user_name, persona_name = build.user_name, persona.name
    context = "\n".join(t.content for t in build.turns)
    previous = [t.content for t in build.turns if t.role == "assistant"][-3:]
    for attempt in range(1 if baseline else 2):
        attempt_seed = seed + 7919 * attempt
        if baseline:
            params = legacy_sampling(persona, user_name=user_name, seed=attempt_seed)
        else:
            params = sampling_for(persona, user_name=user_name, persona_name=persona_name, seed=attempt_seed)
            if attempt:
                params = sampling_for_retry(params, seed=attempt_seed)
        text, ttft, decode = asyncio.run(_generate(backend, build.turns, params))
        hit = _hit_limit(backend, text, params)
        tokens = backend.count_tokens(text) if text else 0
        if attempt == 0:
            reply.raw, reply.ttft_s, reply.hit_limit = text, ttft, hit
        reply.tokens += tokens
        reply.decode_s += decode
        reply.attempts = attempt + 1
        if baseline:
            reply.shown = text.strip()
            return
        shown = finish(text, hit_limit=hit, user_name=user_name, persona_name=persona_name)
        review = rq.review_reply(shown, user_name=user_name, persona_name=persona_name, context=context,
                                 previous_replies=previous)
        reply.problems = review.problems
        if review.ok:
            reply.shown = review.text
            return
    reply.shown, reply.fallback = rq.fallback_line(persona_name, seed=seed), True


# --- scoring -----------------------------------------------------------------------------

_BROKEN = re.compile(r"[\ufffd\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")


def broken(text: str) -> bool:
    if _BROKEN.search(text):
        return True
    run = 0
    for ch in text:
        if rc._is_symbol(ch):
            run += 1
            if run >= 2:
                return True
        elif ch not in " \ufe0f\u200d":
            run = 0
    return False


def wrong_name(text: str, *, user_name: str, persona_name: str, context: str) -> bool:
    if rq._wrong_name(text, user_name=user_name, persona_name=persona_name, context=context):
        return True
    known = set(re.findall(r"[A-Z][a-z]+", context)) | {user_name, persona_name}
    return any(w in COMMON_NAMES and w not in known for w in re.findall(r"\b[A-Z][a-z]+\b", text))


def speaks_for_user(text: str, *, user_name: str, persona_name: str) -> bool:
    """A turn of the user's in the reply (the persona's own name label is not counted)."""
    text = text.strip()
    return rc.cut_user_turn(text, user_name=user_name, persona_name="") != text


def ends_cleanly(text: str) -> bool:
    text = text.rstrip()
    return bool(re.search(r"([.!?…]+[\"'\u201d\u2019»)\]*_~]*|\*|[\U0001F300-\U0001FAFF]\ufe0f?)$", text))


def recalled(text: str, expect: tuple[str, ...]) -> bool:
    low = text.lower()
    return any(e.lower() in low for e in expect)


def score(replies: list[Reply], contexts: dict[tuple[int, int, int], str]) -> dict:
    def share(pred, items) -> float:
        items = list(items)
        return round(sum(1 for x in items if pred(x)) / len(items), 3) if items else 0.0

    out: dict = {"replies": len(replies), "questions": sum(1 for r in replies if r.expect)}
    previous = {id(r): [p.shown for p in replies if (p.script, p.session) == (r.script, r.session)
                        and p.turn < r.turn][-3:] for r in replies}
    for which in ("shown", "raw"):
        def text(r: Reply, which: str = which) -> str:
            return getattr(r, which)

        out[which] = {
            "recall": share(lambda r: recalled(text(r), r.expect), [r for r in replies if r.expect]),
            "name_ok": share(lambda r: not wrong_name(text(r), user_name=r.user, persona_name=r.persona,
                                                      context=contexts[(r.script, r.session, r.turn)]), replies),
            "broken": share(lambda r: broken(text(r)), replies),
            "ooc": share(lambda r: rq._out_of_character(text(r).replace("\u2019", "'")), replies),
            "abusive": share(lambda r: rq._abusive(text(r).replace("\u2019", "'")), replies),
            "speaks_for_user": share(lambda r: speaks_for_user(text(r), user_name=r.user, persona_name=r.persona),
                                     replies),
            "cut_off": share(lambda r: not ends_cleanly(text(r)), replies),
            "repeats": share(lambda r: rq._same_as_before(text(r), previous[id(r)]), replies),
            "words": round(statistics.mean(len(text(r).split()) for r in replies), 1),
        }
    out["hit_limit"] = share(lambda r: r.hit_limit, replies)
    out["tokens"] = round(statistics.mean(r.tokens / r.attempts for r in replies), 1)
    decode = sum(r.decode_s for r in replies)
    out["tok_s"] = round(sum(r.tokens for r in replies) / decode, 1) if decode else 0.0
    out["ttft_s"] = round(statistics.mean(r.ttft_s for r in replies), 2)
    out["prompt_tokens"] = round(statistics.mean(r.prompt_tokens for r in replies))
    out["regenerated"] = share(lambda r: r.attempts > 1, replies)
    out["fallback"] = share(lambda r: r.fallback, replies)
    return out


# --- the run -------------------------------------------------------------------------------


def _persona(key: str) -> Persona:
    fields = dict(PERSONAS[key])
    persona, _ = Persona.objects.get_or_create(slug=f"bench-{key}", defaults=fields)
    return persona


def run(
    scripts: list[tuple[int, Script]], *, baseline: bool, show: bool, show_prompt: bool = False
) -> tuple[list[Reply], dict]:
    backend = get_backend()
    User = get_user_model()
    replies: list[Reply] = []
    contexts: dict[tuple[int, int, int], str] = {}
    for index, script in scripts:
        persona = _persona(script.persona)
        user = User.objects.create_user(f"bench{index}_{script.user.lower()}")
        profile_set_display_name(user=user, display_name=script.user)  # asked at sign-up in the app
        user_name = user_display_name(user)
        for session_no, session in enumerate(script.sessions):
            conversation = conversation_start(owner=user, persona=persona)
            if show:
                print(f"\n=== #{index} {persona.name} / {user_name} (conversation {session_no + 1})", flush=True)
            for turn_no, turn in enumerate(session):
                with transaction.atomic():
                    user_message = message_create(conversation=conversation, role=Message.Role.USER,
                                                  kind=Message.Kind.TEXT, content=turn.text,
                                                  status=Message.Status.COMPLETE)
                build = prompt_build(conversation=conversation, backend=backend,
                                     budget_tokens=settings.CHAT_PROMPT_TOKEN_BUDGET)
                reply = Reply(index, session_no, turn_no, persona.name, user_name, turn.text, turn.expect,
                              prompt_tokens=build.total_tokens)
                contexts[(index, session_no, turn_no)] = "\n".join(t.content for t in build.turns)
                seed = 1_000_003 * index + 1009 * session_no + turn_no
                reply_for(backend, build, persona, reply, baseline=baseline, seed=seed)
                replies.append(reply)
                with transaction.atomic():
                    reply_message = message_create(conversation=conversation, role=Message.Role.PERSONA,
                                                   kind=Message.Kind.TEXT, content=reply.shown or "…",
                                                   status=Message.Status.COMPLETE)
                exchange_process(conversation=conversation, user_message=user_message,
                                 reply_message=reply_message, use_llm=False)
                if show and show_prompt and turn.expect:
                    for t in build.turns:
                        print(f"   [{t.role}] " + t.content.replace("\n", "\n   "), flush=True)
                if show:
                    mark = ""
                    if turn.expect:
                        mark = " [recalled]" if recalled(reply.shown, turn.expect) else " [MISSED]"
                    print(f"{user_name}: {turn.text}", flush=True)
                    if reply.raw.strip() != reply.shown:
                        print(f"   (raw) {reply.raw!r}", flush=True)
                    extra = f" {{{', '.join(reply.problems)}; try {reply.attempts}}}" if reply.problems else ""
                    print(f"{persona.name}: {reply.shown}{mark}{extra}", flush=True)
    return replies, score(replies, contexts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=0, help="only the first N scripts (0: all)")
    parser.add_argument("--only", default="", help="comma-separated script numbers")
    parser.add_argument("--baseline", action="store_true", help="the old sampling, raw text")
    parser.add_argument("--json", default="", help="write every reply and the summary here")
    parser.add_argument("--show", action="store_true", help="print the conversations")
    parser.add_argument("--show-prompt", action="store_true", help="with --show: the prompt of each memory question")
    parser.add_argument("--label", default="", help="row label in the Markdown line")
    args = parser.parse_args()

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    chosen = list(enumerate(SCRIPTS, 1))
    if args.only:
        wanted = {int(x) for x in args.only.split(",")}
        chosen = [(i, s) for i, s in chosen if i in wanted]
    if args.limit:
        chosen = chosen[: args.limit]
    backend = get_backend()
    load1 = os.getloadavg()[0]
    replies, summary = run(chosen, baseline=args.baseline, show=args.show, show_prompt=args.show_prompt)
    summary.update(
        backend=settings.LLM_BACKEND, backend_class=type(backend).__name__, scripts=len(chosen),
        mode="baseline" if args.baseline else "tuned", wall_s=round(time.perf_counter() - started, 1),
        load_avg_start=round(load1, 2), load_avg_end=round(os.getloadavg()[0], 2),
        max_tokens=200 if args.baseline else settings.CHAT_REPLY_MAX_TOKENS,
    )
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "replies": [asdict(r) for r in replies]},
                                              indent=1, ensure_ascii=False))
    print(json.dumps(summary, indent=1))
    s = summary["shown"]
    label = args.label or summary["mode"]
    print(
        f"| {label} | {summary['backend']} | {summary['scripts']}/{summary['replies']} | {s['recall']:.0%} | "
        f"{s['name_ok']:.0%} | {s['broken']:.0%} | {s['ooc']:.0%} | {s['abusive']:.0%} | "
        f"{s['speaks_for_user']:.0%} | {s['cut_off']:.0%} | {s['repeats']:.0%} | {s['words']} | {summary['tokens']} | "
        f"{summary['tok_s']} | {summary['regenerated']:.0%} / {summary['fallback']:.0%} | "
        f"{summary['load_avg_start']}-{summary['load_avg_end']} |"
    )


if __name__ == "__main__":
    main()
