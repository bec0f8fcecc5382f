"""What a cleaned reply must look like before the user sees it: pure, fast checks.

The packaged chat model (SmolLM2-135M-Instruct) fails in a few recurring
ways (issue 9): it writes the user's next line, stops mid-sentence at the
token limit, leaves replacement glyphs and emoji debris, calls the user by
another name, steps out of character ("I am an AI designed to…") and now
and then insults the user. After the stream ends the caller runs::

    text = clean_reply(trim_to_sentence(cut_user_turn(raw, ...), hit_limit=...))
    review = review_reply(text, user_name=..., persona_name=..., context=...)
    # review.ok false -> regenerate once with a fresh seed, then fallback_line()

and passes ``stop_strings(...)`` to the backend so most user turns never get
generated at all. Cleaning (``clean_reply``, ``trim_to_sentence``,
``cut_user_turn``, ``stop_strings``) is ``reply_cleaning``; this module reviews
what it leaves. No database, no model: plain string work, microseconds per
reply. The checks are deliberately conservative: a false alarm costs a whole
regeneration on a 2-core machine, so each rule only fires on wording that is
unambiguous (``review_reply`` documents the problem codes).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from companion.chat.reply_cleaning import clean_reply, name_variants

# --- review_reply -------------------------------------------------------------------------

OUT_OF_CHARACTER = "out_of_character"
ABUSIVE = "abusive"
EMPTY = "empty"
WRONG_NAME = "wrong_name"
REPETITIVE = "repetitive"
REPEATS_EARLIER = "repeats_earlier"
REPEAT_SIMILARITY = 0.8  # word-level similarity to an earlier reply that counts as saying it again

_AI_NOUN = (
    r"(?:ai|a\.i\.|artificial intelligence|(?:large )?language model|llm|chat ?bot|bot|virtual assistant|"
    r"ai assistant|ai model|ai language model|digital assistant|computer program|machine learning model|"
    r"neural network|assistant (?:created|developed|designed|made|trained) by)"
)
_BREAKS_CHARACTER = [
    re.compile(rf"\bas an? {_AI_NOUN}\b", re.I),
    # "I'm just an AI", "I am a creative AI assistant" (up to two words between the article and the noun)
    re.compile(rf"\bI(?:'m| am)\s+(?:(?:just|only|merely|simply|actually|really)\s+)*(?:an?|the|your)\s+"
               rf"(?:[\w-]+\s+){{0,2}}{_AI_NOUN}\b", re.I),
    re.compile(rf"\bI(?:'m| am)\s+(?:just|only|merely|simply|actually)\s+{_AI_NOUN}\b", re.I),
    re.compile(r"\b(?:large )?language models?\b|\bLLMs?\b|\bSmolLM\w*|\bChatGPT\b|\bOpenAI\b|\bHugging ?Face\b", re.I),
    re.compile(r"\bI(?:'m| am| was| have been)\s+(?:\w+\s+)?(?:designed|programmed|developed)\s+(?:to|by)\b", re.I),
    re.compile(r"\b(?:created|trained|built|made) by (?:a team|developers|engineers|researchers|openai|hugging)", re.I),
    re.compile(r"\bI (?:do not|don't|cannot|can't) (?:have|experience|feel) (?:personal |real |human |any )*"
               r"(?:feelings|emotions|experiences|opinions|a (?:physical )?body|consciousness)\b", re.I),
    re.compile(r"\bmy (?:training data|programming|knowledge cutoff|creators|developers)\b", re.I),
    re.compile(r"\bI(?:'m| am) (?:not a (?:real|human) (?:person|being)|not human|not a person)\b", re.I),
    re.compile(r"\bhow (?:can|may) I assist you\b", re.I),  # help-desk voice; must stay last (see _help_desk)
]

_INSULT = (
    r"(?:idiot|idiotic|moron|moronic|stupid|dumb|dumbass|imbecile|loser|pathetic|worthless|useless|retard(?:ed)?|"
    r"bitch|bastard|asshole|arsehole|jerk|piece of (?:shit|crap|garbage|trash)|scum|trash|garbage|cunt|dick(?:head)?|"
    r"prick|twat|ugly|disgusting|freak|clown|fool|fat (?:pig|slob)|pig|slut|whore|waste of (?:space|time|air))"
)
_INTENSIFIER = r"(?:such|so|a|an|the|real|total|complete|utter|fucking|freaking|absolute|little|big|damn|really|just|" \
               r"truly|an absolute|one|sad|stupid|dumb)"
_SLURS = re.compile(r"\b(?:n[i1]gg(?:er|a)s?|f[a@]gg?ots?|retards?|tr[a@]nn(?:y|ies)|k[i1]kes?|sp[i1]cs?|ch[i1]nks?)\b",
                    re.I)
_ABUSE = [
    # "you're an idiot", "you stupid…", "are you stupid?", "you are such a loser"
    re.compile(rf"\byou(?:'re| are| r|re)?\s+(?:{_INTENSIFIER}\s+){{0,3}}{_INSULT}\b", re.I),
    re.compile(rf"\b{_INSULT}\s+like you\b", re.I),
    # a vocative insult: "Whatever, idiot." / "Listen, you moron!"
    re.compile(rf",\s*(?:you\s+)?(?:{_INTENSIFIER}\s+){{0,2}}{_INSULT}\s*[.!?]", re.I),
    re.compile(r"\b(?:fuck|screw|damn|to hell with)\s+(?:you|u)\b|\bfuck off\b|\bpiss off\b|\bgo to hell\b", re.I),
    re.compile(r"\bshut (?:the fuck|the hell|your (?:\w+ )?(?:mouth|face))(?: up)?\b|\bshut up,? (?:you|idiot|moron)\b",
               re.I),
    re.compile(r"\b(?:kill yourself|kys|go die|drop dead|you should die|you deserve to die)\b", re.I),
    re.compile(r"\bI\s+(?:hate|despise|loathe|can't stand)\s+you\b", re.I),
    re.compile(r"\bno ?(?:one|body) (?:likes|loves|cares about|wants) you\b", re.I),
]

_VOCATIVE_START = re.compile(
    r"(?:^|[\n*]\s*|[.!?…]\s+)(?i:(?:hey|hi|hello|oh|ah|well|welcome(?: back)?|"
    r"good (?:morning|afternoon|evening|night)|evening|morning|dear|thanks|thank you|sorry|yes|no|okay|ok|sure|"
    r"of course|listen|look|honestly|"
    r"goodbye|bye|night|aw|aww|wow|hmm|haha)(?: there| again| back)?,?\s+)"
    r"([A-Z][a-z]{1,20})\b(?=\s*[,!.?…]|\s*$)"
)
_VOCATIVE_END = re.compile(r"(\w+),\s+([A-Z][a-z]{1,20})\s*(?=[!?.…]|$)")
# A reply that opens with a bare name: "Luisa,\n…", "Sarah, I'm glad…" (the word after the comma
# must start a clause, so "Coffee, coming up" or "Honestly, no" are not read as names).
_VOCATIVE_OPEN = re.compile(
    r"^\s*(?:\*[^*\n]{1,80}\*\s*)?([A-Z][a-z]{1,20}),(?:\s*\n|\s+(?i:i|i'm|i've|i'll|"
    r"you(?! said| say| know| see| mean| think| bet)|you're|your|how|what|welcome|thank|thanks|it's|it|we|"
    r"that's|my|please|don't|do|are|have|can|let's|good|nice|glad|so)\b)"
)
_INTERJECTIONS = {
    "well", "yes", "yeah", "yep", "no", "nope", "sure", "okay", "oh", "ah", "aha", "hmm", "mmm", "mm", "actually",
    "honestly", "interesting", "wow", "great", "wonderful", "absolutely", "alright", "listen", "look", "anyway",
    "sorry", "hey", "hi", "hello", "welcome", "perfect", "ouch", "alas", "besides", "however", "still", "also",
    "first", "finally", "cool", "nice", "lovely", "excellent", "certainly", "definitely", "seriously", "goodness",
    "gosh", "ahem", "haha", "hehe", "aw", "aww", "ugh", "whoa", "bye", "goodbye", "morning", "evening", "afternoon",
    "night", "ahoy", "greetings", "indeed", "exactly", "true", "fair", "fine", "right", "see", "remember", "sadly",
}
# Words that show up capitalised in a vocative slot without being anyone's name.
_NOT_NAMES = {
    "sir", "madam", "miss", "friend", "friends", "dear", "darling", "honey", "love", "sweetie", "sweetheart",
    "buddy", "mate", "pal", "dude", "man", "kid", "everyone", "everybody", "all", "there", "guys", "folks",
    "stranger", "traveler", "traveller", "captain", "boss", "chief", "doc", "doctor", "professor", "partner",
    "babe", "baby", "sunshine", "champ", "lady", "gentlemen", "ladies", "child", "son", "girl", "boy", "team",
    "god", "lord", "jesus", "christ", "heavens", "again", "too", "please", "thanks", "today", "tonight",
    "tomorrow", "yesterday", "now", "then", "though", "indeed", "right", "okay", "ok", "yes", "no", "sure",
    "anyway", "really", "yet", "still", "instead", "as", "well", "so", "maybe", "perhaps", "here", "world",
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "i", "you", "me", "we",
}


@dataclass
class Review:
    """``ok`` when ``problems`` is empty; ``text`` is the cleaned reply."""

    ok: bool
    text: str
    problems: list[str] = field(default_factory=list)


def _out_of_character(text: str) -> bool:
    return any(p.search(text) for p in _BREAKS_CHARACTER)


def _abusive(text: str) -> bool:
    if _SLURS.search(text):
        return True
    for pattern in _ABUSE:
        for m in pattern.finditer(text):
            # "You're not stupid" never matches (the chain has no "not"); a negation earlier in the
            # same sentence ("I don't think you're a loser", "Nobody thinks you're dumb") clears it.
            sentence = re.split(r"[.!?…\n]", text[: m.start()])[-1].lower()
            if re.search(r"\b(?:not|never|nobody|no one)\b|n't", sentence):
                continue
            return True
    return False


def addressed_names(text: str) -> list[str]:
    """Names the reply calls someone by ("Hey there, Sarah!", "…, Sam?")."""
    found = [m.group(1) for m in _VOCATIVE_START.finditer(text)]
    opening = _VOCATIVE_OPEN.match(text)
    if opening and opening.group(1).lower() not in _INTERJECTIONS:
        found.insert(0, opening.group(1))
    # ", Sarah?" but not "in Paris, France." (a capitalised word before the comma: a place, not a vocative).
    found += [m.group(2) for m in _VOCATIVE_END.finditer(text) if not m.group(1)[:1].isupper()]
    return list(dict.fromkeys(n for n in found if n.lower() not in _NOT_NAMES))


def _wrong_name(text: str, *, user_name: str, persona_name: str, context: str) -> str | None:
    allowed = {v.lower() for v in [*name_variants(user_name), *name_variants(persona_name)]}
    known = {w.lower() for w in re.findall(r"[A-Za-z]{2,}", context or "")}
    for name in addressed_names(text):
        low = name.lower()
        if low in allowed or low in known:
            continue
        if any(a.startswith(low) or low.startswith(a) for a in allowed if len(a) >= 3 and len(low) >= 3):
            continue  # "Sam" for "Samantha", "Alexander" for "Alex"
        return name
    return None


def _same_as_before(text: str, previous: Iterable[str]) -> bool:
    """The reply (nearly) repeats one of the persona's recent replies: tiny models copy their last turn."""
    words = re.findall(r"\w+", text.lower())
    if len(words) < 4:
        return False
    for earlier in previous:
        before = re.findall(r"\w+", (earlier or "").lower())
        if len(before) < 4:
            continue
        if SequenceMatcher(None, words, before, autojunk=False).ratio() >= REPEAT_SIMILARITY:
            return True
    return False


def _repetitive(text: str) -> bool:
    sentences = [s.strip().lower() for s in re.split(r"(?<=[.!?…])\s+|\n+", text) if len(s.strip()) >= 12]
    if sentences and Counter(sentences).most_common(1)[0][1] >= 3:
        return True
    words = re.findall(r"\w+", text.lower())
    grams = Counter(tuple(words[i : i + 4]) for i in range(len(words) - 3))
    return bool(grams) and grams.most_common(1)[0][1] >= 4


def review_reply(
    text: str,
    *,
    user_name: str,
    persona_name: str,
    context: str = "",
    previous_replies: Iterable[str] = (),
    persona_is_ai: bool = False,
) -> Review:
    """Clean ``text`` and list what makes it unfit to show. Problem codes:

    - ``empty``: nothing left that reads as words (fewer than two letters in a row);
    - ``out_of_character``: the model talks as an AI/language model/chatbot, about its
      training or programming, or like a help desk ("How can I assist you today?");
      ``persona_is_ai`` skips the identity phrases for personas written as an AI;
    - ``abusive``: an insult or profanity aimed at the user ("you're an idiot",
      "fuck you", "I hate you"), or a slur anywhere; negated forms are fine;
    - ``wrong_name``: the reply addresses someone by a name ("Hey there, Sarah!",
      "…, Sarah?") that is neither the user's nor the persona's and does not occur
      in ``context`` (pass the prompt text: names the user mentioned are fine);
    - ``repetitive``: the same sentence three times or a four-word run four times;
    - ``repeats_earlier``: (nearly, see REPEAT_SIMILARITY) the same words as one of
      ``previous_replies`` (pass the persona's last few replies in this conversation).
    """
    cleaned = clean_reply(text)
    probe = cleaned.replace("\u2019", "'")  # the patterns spell apostrophes straight
    problems: list[str] = []
    if not re.search(r"[^\W\d_]{2,}", probe):
        problems.append(EMPTY)
    else:
        if _out_of_character(probe) and not (persona_is_ai and not _help_desk(probe)):
            problems.append(OUT_OF_CHARACTER)
        if _abusive(probe):
            problems.append(ABUSIVE)
        if _wrong_name(probe, user_name=user_name, persona_name=persona_name, context=context):
            problems.append(WRONG_NAME)
        if _repetitive(probe):
            problems.append(REPETITIVE)
        if _same_as_before(probe, previous_replies):
            problems.append(REPEATS_EARLIER)
    return Review(ok=not problems, text=cleaned, problems=problems)


def _help_desk(text: str) -> bool:
    return bool(_BREAKS_CHARACTER[-1].search(text))


# --- fallback ------------------------------------------------------------------------------

_FALLBACKS = (
    "*{name} pauses, thinking.* Sorry, my mind wandered for a moment. What were you saying?",
    "Hmm, give me a second with that one. Tell me a little more?",
    "*{name} smiles.* I'm listening. Go on.",
    "That's a lot to take in. What would you like to do next?",
    "I lost my words there for a moment. Could you say that another way?",
)


def fallback_line(persona_name: str, *, seed: int | None) -> str:
    """A short, safe, in-character line for when two generations both failed review."""
    template = _FALLBACKS[(seed or 0) % len(_FALLBACKS)]
    return template.format(name=(persona_name or "").strip() or "They")
