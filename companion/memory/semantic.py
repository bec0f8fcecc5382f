"""Turn what someone said into items that stand on their own: names for pronouns, dates for "yesterday".

(Just over 400 lines: one job, rewriting a sentence to stand alone; the word lists are most of it.)

Pure functions, no ORM, no model. For one message of either speaker:

* :func:`episode_text` — the episodic item: ``"Caroline: <the message>"``
  (plus an image's caption when the import carried one);
* :func:`facts_from_message` — the semantic items: each informative
  declarative sentence rewritten so it names people ("I" → the speaker,
  "you" → the other, "my mom … she" → "Caroline's mom"), with the verb agreed
  ("I love" → "Caroline loves"), relative time resolved against when it was
  said ("yesterday (7 May 2023)"), classified (preference, boundary, event,
  fact) and given an importance. Questions, small talk ("That's awesome!")
  and echoes of the other speaker's last turn are not facts.

A sentence that the deterministic rules (``extraction.extract_rules``) already
turned into slot memories ("my name is…", "I like…") is left to them: they
know how to update and retract a slot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from companion.memory import dates
from companion.memory.extraction import extract_rules, normalise, sentences

MAX_FACTS_PER_MESSAGE = 8
MAX_EPISODE_CHARS = 4000
ECHO_OVERLAP = 0.7  # this share of a sentence's content words in the other's last turn: an echo

_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?|\d+|\s+|[^\sA-Za-z\d]")
_STOP = frozenset(
    "a an the and or but so to of in on at for with from by about as is are was were be been being am do does "
    "did have has had it its this that these those there here then than too very really just also i me my you "
    "your we our us they them their he she him her his hers it's that's what who how when where why which "
    "not no yes oh ok okay yeah well like get got will would can could should may might must shall".split()
)
PHATIC = frozenset(
    "awesome great amazing cool wow thanks thank happy glad sounds sound nice sure lol haha hey hi hello "
    "good love wonderful fantastic incredible totally definitely absolutely super proud fun exciting excited "
    "hope hoping wish congrats congratulations sorry appreciate agree true right interesting beautiful cute "
    "lovely welcome care dear bye night morning see talk soon feel feeling means mean lot much things thing "
    "something stuff always keep going know think guess bet".split()
)
ADVERBS = frozenset(
    "really just also always never still finally recently actually usually often sometimes even already "
    "totally kinda definitely absolutely truly honestly only ever once mostly probably seriously literally "
    "now currently again basically simply certainly sure".split()
)
_NOT_LY_ADVERBS = frozenset({"reply", "apply", "rely", "supply", "fly", "multiply", "ally", "bully"})
MODALS_AND_PAST = frozenset(
    "was wasn't had hadn't did didn't can can't cannot could couldn't will won't would wouldn't should shouldn't "
    "may might must shall used went saw got made took came bought found felt met told said thought knew left ran "
    "began brought built caught chose drew drove ate fell fought flew forgot gave grew heard held kept lost paid "
    "put read rode sang sat slept spent stood swam taught threw understood woke won wrote became broke lent sent "
    "set shut hit cut let quit tried needed wanted swore tore wore bore shook spoke stole froze rose drank sank "
    "rang forgave hid bit lay led fed fled dug hung stuck struck swung spun bent meant dealt dreamt learnt burnt "
    "slid lit sought wove awoke arose sold bet dove sprang stank strode strove sung swept wept crept slept knelt "
    "leapt felt".split()
)
IRREGULAR = {"am": "is", "are": "is", "were": "was", "have": "has", "do": "does", "don't": "doesn't",
             "haven't": "hasn't", "aren't": "isn't", "ain't": "isn't", "go": "goes", "be": "is"}
NOT_VERBS = frozenset("so too and but or not a an the to of in on at for with very that this".split())
SUBJECT_BEFORE = frozenset(
    "and but so because cause cuz if when whenever while that since though although as or hope think guess bet "
    "know wish feel said says believe mean thought glad happy sure".split()
)
RELATIONS = (
    "mom|mother|mum|dad|father|sister|brother|son|daughter|wife|husband|partner|boyfriend|girlfriend|friend|"
    "best friend|boss|grandma|grandmother|grandpa|grandfather|aunt|uncle|cousin|neighbor|neighbour|coworker|"
    "colleague|teacher|mentor|therapist|roommate|fiance|fiancee|niece|nephew|baby|kid|child|kids|children|"
    "parents|friends|family|dog|cat|puppy|kitten"
)
_PLURAL_RELATIONS = {"kids", "children", "parents", "friends", "family"}
_ANIMALS = {"dog", "cat", "puppy", "kitten"}
COMMON_CAPS = frozenset(
    "I I'm I've I'll I'd The A An My Your We Our It This That These Those There Here Then So But And Or Oh Hey Hi "
    "Hello Yes No Yeah Wow Thanks Thank Well Also Just What Who How When Where Why Which Ok Okay Lol Haha Maybe "
    "Mr Mrs Ms Dr Sure Anyway Today Yesterday Tomorrow Monday Tuesday Wednesday Thursday Friday Saturday Sunday "
    "January February March April May June July August September October November December God OMG Aww Omg Hmm "
    "Honestly Absolutely Definitely Totally Awesome Great Nice Cool Love Congrats Congratulations Sounds Glad "
    "Happy Sorry Good Let Let's Did Do Does Is Are Was Were Have Has Had Can Could Would Should Will Big News "
    "Mondays Tuesdays Wednesdays Thursdays Fridays Saturdays Sundays Mine Update Small Confession Guess New Old "
    "Still Now Then Always Never Please Tell Did Ha Ugh Nope Yep Welcome Look Oh "
    "Evening Morning Afternoon Night Goodnight Goodbye Bye Cheers Dear Darling Honey Sweetie".split()
)
_QUOTE = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})
_CAPTION_KEYS = ("caption", "blip_caption", "image_caption", "image_description", "img_caption")


@dataclass
class Fact:
    text: str  # names for every person: what is shown and matched word by word
    kind: str
    importance: float
    slot: str
    spans: list[dates.Span] = field(default_factory=list)
    dense: str = ""  # what is embedded: the sentence as said, only he/she/they resolved (see retrieval)


def _third(verb: str) -> str:
    low = verb.lower()
    if low in IRREGULAR:
        out = IRREGULAR[low]
    elif low in MODALS_AND_PAST or low.endswith("ed") or low.endswith("n't"):
        return verb
    elif low.endswith(("s", "sh", "ch", "x", "z", "o")):
        out = low + "es"
    elif low.endswith("y") and len(low) > 2 and low[-2] not in "aeiou":
        out = low[:-1] + "ies"
    else:
        out = low + "s"
    return out if verb.islower() else out.capitalize()


def _is_adverb(word: str) -> bool:
    low = word.lower()
    return low in ADVERBS or (len(low) > 4 and low.endswith("ly") and low not in _NOT_LY_ADVERBS)


def _possessive(name: str) -> str:
    return f"{name}'s"


@dataclass
class Context:
    """Who speaks to whom, and which people were mentioned lately (for he/she/they)."""

    speaker: str
    addressee: str
    people: list[tuple[str, bool, int]] = field(default_factory=list)  # (phrase, plural, turn), most recent last
    turn: int = 0  # counts the messages read with this context (``facts_from_message``)

    def mention(self, phrase: str, plural: bool = False) -> None:
        self.people = [*[p for p in self.people if p[0] != phrase][-5:], (phrase, plural, self.turn)]

    def last(self, *, plural: bool) -> str | None:
        """The latest person (or group) mentioned in this message or the one before: "they" an hour
        later, after other talk, is not "my friends" from last session."""
        for phrase, is_plural, turn in reversed(self.people):
            if turn < self.turn - (MENTION_TURNS - 1):
                break
            if is_plural == plural:
                return phrase
        return None


MENTION_TURNS = 2  # a mention is what he/she/they may stand for in its own message and the next one


_PLACE_BEFORE = re.compile(r"\b(in|at|to|near|into|around|across|through|visit|visited|visiting|of|on)\s+(the\s+)?$",
                           re.I)


def _proper_names(sentence: str, ctx: Context, *, people_only: bool = False) -> list[tuple[int, str]]:
    """(position, name) of capitalised names that are not sentence starts or common words."""
    found = []
    for m in re.finditer(r"(?<![.!?]\s)(?<!^)\b([A-Z][a-z]{1,20}(?:\s[A-Z][a-z]{1,20})?)\b", sentence):
        name = m.group(1)
        if name.split()[0] in COMMON_CAPS or name in (ctx.speaker, ctx.addressee):
            continue
        if people_only and _PLACE_BEFORE.search(sentence[: m.start()]):
            continue  # "in Porto", "to Paris": a place
        found.append((m.start(), name))
    return found


def _note_people(original: str, ctx: Context) -> None:
    for _, phrase, plural in _mentions(original, ctx):
        ctx.mention(phrase, plural)


def _mentions(original: str, ctx: Context) -> list[tuple[int, str, bool]]:
    """(position, phrase, plural) of the people a sentence mentions, in order."""
    mentions: list[tuple[int, str, bool]] = []
    for m in re.finditer(rf"\bmy ((?:little |big |younger |older |best )?(?:{RELATIONS}))\b((?-i:\s+[A-Z][a-z]+))?",
                         original, re.I):
        rel = m.group(1).lower()
        if m.group(2) and m.group(2).strip() not in COMMON_CAPS:
            continue  # "my sister Anna": the name is the mention (found below)
        if rel.split()[-1] not in _ANIMALS:
            mentions.append((m.start(), f"{_possessive(ctx.speaker)} {rel}", rel.split()[-1] in _PLURAL_RELATIONS))
    mentions += [(pos, name, False) for pos, name in _proper_names(original, ctx, people_only=True)]
    return sorted(mentions)


def rewrite(sentence: str, ctx: Context) -> str:
    """First and second person (and he/she when clear) replaced by names, verbs agreed."""
    tokens = _WORD.findall(sentence.translate(_QUOTE))
    words = [i for i, t in enumerate(tokens) if t.strip() and (t[0].isalnum())]
    out = list(tokens)
    subject_at: set[int] = set()  # token indexes whose following verb must agree with a third person

    def prev_word(pos: int) -> str | None:
        k = words.index(pos)
        if k == 0:
            return None
        j = words[k - 1]
        between = "".join(tokens[j + 1:pos])
        return "," if re.search(r"[,;:—-]", between) else tokens[j].lower()

    local = _mentions(sentence.translate(_QUOTE), ctx)
    offsets, pos = [], 0
    for t in tokens:
        offsets.append(pos)
        pos += len(t)
    for i in words:
        w = tokens[i]
        low = w.lower()
        if "-" in (tokens[i - 1] if i else "", tokens[i + 1] if i + 1 < len(tokens) else ""):
            continue  # a word inside a compound ("me-time", "you-know-what") is not a person
        before = [m for m in local if m[0] < offsets[i]]
        person = next((m[1] for m in reversed(before) if not m[2]), None) or ctx.last(plural=False)
        group = next((m[1] for m in reversed(before) if m[2]), None) or ctx.last(plural=True)
        if low in ("they", "them", "their") and not group and before and not before[-1][2] and \
                re.match(r"[A-Z]", before[-1][1]) and "'s " not in before[-1][1]:
            group = before[-1][1]  # "Big news from Greta: they won" — a singular they after a name
        if low == "i" and ctx.speaker:
            out[i] = ctx.speaker
            subject_at.add(i)
        elif low in ("i'm", "i've", "i'll", "i'd") and ctx.speaker:
            out[i] = ctx.speaker + {"i'm": " is", "i've": " has", "i'll": " will", "i'd": " would"}[low]
        elif low in ("me", "myself") and ctx.speaker:
            out[i] = ctx.speaker
        elif low in ("my", "mine") and ctx.speaker:
            out[i] = _possessive(ctx.speaker)
        elif low == "you" and ctx.addressee:
            out[i] = ctx.addressee
            if prev_word(i) in (None, ",", *SUBJECT_BEFORE):
                subject_at.add(i)
        elif low in ("you're", "you've", "you'll", "you'd") and ctx.addressee:
            out[i] = ctx.addressee + {"you're": " is", "you've": " has", "you'll": " will",
                                      "you'd": " would"}[low]
        elif low in ("your", "yours") and ctx.addressee:
            out[i] = _possessive(ctx.addressee)
        elif low == "yourself" and ctx.addressee:
            out[i] = ctx.addressee
        elif low in ("he", "she", "him") and person:
            out[i] = person
        elif low in ("his", "hers") and person:
            out[i] = _possessive(person)
        elif low == "her" and person:
            k = words.index(i)
            nxt = tokens[words[k + 1]].lower() if k + 1 < len(words) and words[k + 1] == i + 2 else ""
            out[i] = _possessive(person) if nxt and nxt not in _STOP and nxt not in ADVERBS and not re.match(
                r"(yesterday|today|tomorrow|again|back|too|last|now)$", nxt) else person
        elif low in ("they", "them") and group:
            out[i] = group
        elif low == "their" and group:
            out[i] = _possessive(group)
        if out[i] != w and i == words[0] and out[i][:1].islower():
            out[i] = out[i][0].upper() + out[i][1:]
    # Agreement: the first verb after a subject that is now a name ("Caroline loves"), adverbs skipped.
    for i in sorted(subject_at):
        k = words.index(i) + 1
        while k < len(words) and _is_adverb(tokens[words[k]]):
            k += 1
        if k < len(words):
            j = words[k]
            low = tokens[j].lower()
            if low.isalpha() or low.endswith("n't"):
                if low not in NOT_VERBS and not tokens[j][0].isupper():
                    out[j] = _third(tokens[j])
    text = "".join(out)
    return re.sub(r"\s+", " ", text).strip()


_QUESTION_START = re.compile(r"^(do|does|did|are|is|was|were|have|has|can|could|would|will|what|who|how|when|"
                             r"where|why|which|wanna|want to know)\b", re.I)
_BOUNDARY = re.compile(r"\b(don'?t|do not|never|please stop|stop)\s+(call|ask|talk|mention|bring up|send|touch|"
                       r"joke)\b", re.I)
_PREFERENCE = re.compile(r"\b(love|loves|like|likes|enjoy|enjoys|adore|hate|hates|dislike|prefer|prefers|"
                         r"favou?rite|fan of|into|passionate|can't stand)\b", re.I)
_PLAN = re.compile(r"\b(will|'ll|going to|gonna|plan|plans|planning|promise|promised|intend|next|tomorrow|"
                   r"someday|soon)\b", re.I)
_PAST = re.compile(r"\b(\w+ed|went|saw|got|made|took|came|bought|found|met|told|said|ran|began|brought|built|"
                   r"ate|fell|gave|grew|heard|lost|spent|wrote|became|visited|yesterday|ago|last)\b", re.I)


def content_words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9']+", text.lower().translate(_QUOTE))
            if len(w) > 2 and w not in _STOP and "'" not in w]


def _is_echo(sentence: str, previous: str) -> bool:
    words = set(content_words(sentence))
    if not previous or len(words) < 2:
        return False
    prior = set(content_words(previous))
    return len(words & prior) / len(words) >= ECHO_OVERLAP


def _kind_and_importance(original: str, rewritten: str, spans: list[dates.Span]) -> tuple[str, float]:
    names = len(re.findall(r"\b[A-Z][a-z]+", rewritten[1:]))
    bonus = min(0.15, 0.05 * names) + (0.05 if re.search(r"\d", original) else 0.0)
    if _BOUNDARY.search(original):
        return "boundary", 0.9
    if _PREFERENCE.search(original):
        return "preference", min(1.0, 0.6 + bonus)
    if spans or _PAST.search(original):
        return "event", min(1.0, 0.55 + bonus)
    if _PLAN.search(original):
        return "event", min(1.0, 0.6 + bonus)
    return "fact", min(1.0, 0.5 + bonus)


_ACTION = re.compile(r"\*{1,2}([^*\n]+?)\*{1,2}")


def _unmark(text: str) -> str:
    """Roleplay markup out of the way of facts: ``*Her hand tightens* I swore…`` reads as two
    sentences ("Her hand tightens. I swore…"), bold loses its asterisks."""
    def sentence(m: re.Match[str]) -> str:
        inner = m.group(1).strip()
        return inner if inner[-1:] in ".!?…" else f"{inner}."
    return _ACTION.sub(sentence, text).replace("*", "")


def facts_from_message(
    text: str, *, speaker: str, addressee: str, when: datetime, previous: str = "", is_user: bool = True,
    ctx: Context | None = None,
) -> list[Fact]:
    """Semantic items from one message (``previous``: the other speaker's last turn, for echoes)."""
    ctx = ctx or Context(speaker=speaker, addressee=addressee)
    ctx.speaker, ctx.addressee = speaker, addressee
    ctx.turn += 1
    if previous:  # the other's turn, in its speaker's words ("my kids" there are the addressee's)
        theirs = Context(speaker=addressee, addressee=speaker, people=ctx.people, turn=ctx.turn)
        _note_people(previous, theirs)
        ctx.people = theirs.people
    out: list[Fact] = []
    kept_previous = ""
    for sentence in sentences(_unmark(text)):
        sentence = sentence.translate(_QUOTE).strip()
        as_said = rewrite(sentence, Context(speaker="", addressee="", people=list(ctx.people), turn=ctx.turn))
        rewritten = rewrite(sentence, ctx)
        _note_people(sentence, ctx)
        if len(out) >= MAX_FACTS_PER_MESSAGE:
            break
        if sentence.endswith("?") or _QUESTION_START.match(sentence):
            continue
        if is_user and any(not c.slot.startswith("event:") for c in extract_rules(sentence)):
            continue  # the slot rules store it (and can update or retract it later)
        words = content_words(sentence)
        if len(words) < 2 or all(w in PHATIC for w in words):
            continue
        personal = rewritten != re.sub(r"\s+", " ", sentence).strip() or bool(
            re.search(r"\b(we|our|us)\b", sentence, re.I))
        if not (personal or _proper_names(sentence, ctx) or re.search(r"\d", sentence)):
            continue
        if _is_echo(sentence, previous):
            continue
        annotated, spans = dates.annotate(rewritten, anchor=when)
        if len([w for w in words if w not in ("it", "that", "this", "them")]) < 3 and kept_previous:
            annotated = f"{kept_previous.rstrip('.!')}; {annotated[0].lower()}{annotated[1:]}"
        if _SUGGESTION.search(sentence) and not re.match(r"\s*i\b", sentence, re.I):
            annotated = f"{speaker} recommends: {annotated}"  # who suggested it is the point
        elif speaker not in annotated:
            annotated = f"{speaker}: {annotated}"
        annotated = annotated.rstrip()
        if annotated[-1] not in ".!?":
            annotated += "."
        kind, importance = _kind_and_importance(sentence, annotated, spans)
        out.append(Fact(annotated, kind, importance, f"said:{normalise(annotated)}"[:120], spans, dense=as_said))
        kept_previous = annotated
    return out


def image_caption(extra: dict[str, Any] | None) -> str:
    """A shared image's caption, when the imported message carried one."""
    if not isinstance(extra, dict):
        return ""
    for source in (extra, extra.get("st_extra"), extra.get("st_fields")):
        if isinstance(source, dict):
            for key in _CAPTION_KEYS:
                value = source.get(key)
                if isinstance(value, str) and value.strip():
                    return value.strip()
    return ""


_CAPTION_LEAD = re.compile(r"^(?:an?\s+)?(?:photo(?:graph)?y?|picture|image|pic)\s+of\s+", re.I)


def caption_fact(caption: str, *, speaker: str) -> Fact | None:
    """A shared image as its own item: "Melanie shared a photo of a painting of a sunset over a lake".
    The turn that carries it often says only "take a look at this", and a caption is a captioner's
    description, not the speaker's words: it is not rewritten ("their hand" is nobody in the chat)."""
    caption = re.sub(r"\s+", " ", caption or "").strip().rstrip(".")
    if len(content_words(caption)) < 2:
        return None
    what = _CAPTION_LEAD.sub("", caption)
    said = f"shared a photo of {what}"
    return Fact(f"{speaker} {said}.", "fact", 0.5, f"said:{normalise(speaker + ' ' + said)}"[:120],
                dense=f"I {said}.")


def episode_text(content: str, *, speaker: str, caption: str = "", answering: str = "", asker: str = "") -> str:
    """``"Caroline: <turn>"``; a turn that answers the other's question carries it ("Mine? Autumn."
    means nothing without "What's your favourite season?")."""
    body = (content or "").strip()
    if caption:
        body = f"{body} [shares an image: {caption}]".strip()
    if answering and asker:
        question = answering.strip().replace("\n", " ")
        question = question if len(question) <= 160 else question[:159] + "…"
        return f"{speaker} (to {asker}'s \"{question}\"): {body[:MAX_EPISODE_CHARS]}"
    return f"{speaker}: {body[:MAX_EPISODE_CHARS]}"


REPLY_CONTEXT_WORDS = 12


QUESTION_LOOKBACK = 3  # sentences from the end of the other's turn where the question it answers may sit


def asked_question(previous: str, reply: str = "") -> str:
    """What a turn answers: the question that closes the other speaker's last turn; for a short reply
    ("Waffles! I love that.") that turn's last sentence; for a longer one a question among its last
    few sentences ("What concert was it? The advocacy event was a blast!" is answered "It was Matt
    Patterson, he is so talented! …"), or — when it agrees — the sentence it agrees with."""
    parts = sentences(previous or "")
    if not parts:
        return ""
    if parts[-1].rstrip().endswith("?"):
        return parts[-1]
    if reply and any(w not in PHATIC for w in content_words(reply)) and len(reply.split()) <= REPLY_CONTEXT_WORDS:
        return parts[-1]  # "Maybe I will." after "You know what you should try? The bakery on Quay Road."
    asked = next((p for p in reversed(parts[-QUESTION_LOOKBACK:]) if p.rstrip().endswith("?")), "")
    if asked:
        return asked
    if reply and _ACKNOWLEDGES.match(reply):
        # "Yeah, it's tough. So I'm carving out me-time…" goes on from "Great that you're
        # prioritizing self-care.": what it agrees with or reacts to is what it is about.
        return parts[-1]
    return ""


# Agreement goes on with the other's thought; "Wow!" or "Thanks!" more often opens news of one's own.
_ACKNOWLEDGES = re.compile(r"\W*(?:yeah|yes|yep|yup|agreed|exactly|totally|absolutely|true|same|right|"
                           r"you'?re right)\b", re.I)


_SUGGESTION = re.compile(r"\b(you should|you could|you might want to|why don'?t you|you have to try|you must try|"
                         r"i recommend|i suggest|i'd recommend|i would recommend|give .{1,40} a try|try)\b", re.I)
