"""What a finished reply must look like before the user sees it: pure, fast checks.

The packaged chat model (SmolLM2-135M-Instruct) fails in a few recurring
ways (issue 9): it writes the user's next line, stops mid-sentence at the
token limit, leaves replacement glyphs and emoji debris, calls the user by
another name, steps out of character ("I am an AI designed to…") and now
and then insults the user. After the stream ends the caller runs::

    text = clean_reply(trim_to_sentence(cut_user_turn(raw, ...), hit_limit=...))
    review = review_reply(text, user_name=..., persona_name=..., context=...)
    # review.ok false -> regenerate once with a fresh seed, then fallback_line()

and passes ``stop_strings(...)`` to the backend so most user turns never get
generated at all. No database, no model: plain string work, microseconds per
reply. The checks are deliberately conservative: a false alarm costs a whole
regeneration on a 2-core machine, so each rule only fires on wording that is
unambiguous (``review_reply`` documents the problem codes).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from difflib import SequenceMatcher

# --- clean_reply ---------------------------------------------------------------------

_SPECIAL_TOKEN = re.compile(r"<\|[a-z_]{2,20}\|>|</?s>|\[/?INST\]")
# Joiners and modifiers that belong to the emoji before them.
_EMOJI_TAIL = {0xFE0E, 0xFE0F, 0x20E3} | set(range(0x1F3FB, 0x1F400)) | set(range(0xE0020, 0xE0080))
_ZWJ = 0x200D
# Symbols from the Misc Symbols / Dingbats blocks that people actually use as emoji.
_ORDINARY_BMP = set(
    "⌚⌛⏰⏳☀☁☂☃☄★☆☎☑☔☕☘☝☠☹☺♀♂♠♡♣♥♦♨♪♫♬⚓⚡⚽⚾⛄⛅⛔⛪⛰⛱⛲⛳⛴⛵⛺⛽✂✅✈✉✊✋✌✍✏✒✔✖✨✳✴❄❇❌❎❓❔❕❗❣❤➕➖➗➡⬅⬆⬇⭐⭕〰〽"  # noqa: RUF001
)


def _is_symbol(ch: str) -> bool:
    """Pictographs, dingbats and other symbol debris (not letters, digits or punctuation)."""
    cp = ord(ch)
    if 0x1F000 <= cp <= 0x1FAFF or 0x2300 <= cp <= 0x23FF or 0x2500 <= cp <= 0x27BF:
        return True
    if 0x2800 <= cp <= 0x28FF or 0x2B00 <= cp <= 0x2BFF or 0xE000 <= cp <= 0xF8FF:  # braille, arrows, private use
        return True
    return cp >= 0xF0000 or unicodedata.category(ch) == "Co"


def _is_ordinary_emoji(cluster: str) -> bool:
    base = cluster[0]
    cp = ord(base)
    if 0x1F1E6 <= cp <= 0x1F1FF:  # a flag is a pair of regional indicators
        return len(cluster) >= 2
    if 0x1F300 <= cp <= 0x1FAFF:
        return not (0x1F700 <= cp <= 0x1F7FF or 0x1F800 <= cp <= 0x1F8FF)  # alchemical, supplemental arrows
    return base in _ORDINARY_BMP


def _drop_control(text: str) -> str:
    out = []
    for ch in text:
        cp = ord(ch)
        if ch in "\n\t":
            out.append(" " if ch == "\t" else ch)
        elif ch in "\ufffd\ufffc" or 0xD800 <= cp <= 0xDFFF:  # replacement glyphs, unpaired surrogates
            continue
        elif unicodedata.category(ch) in {"Cc", "Cn"} or ch in "\u2028\u2029":
            out.append("\n" if ch in "\r\u2028\u2029\x0b\x0c\x85" else "")
        elif unicodedata.category(ch) == "Cf" and cp not in (_ZWJ, 0x200C) and not 0xE0020 <= cp <= 0xE007F:
            continue  # stray format characters (bidi marks, BOMs, soft hyphens…)
        else:
            out.append(ch)
    return "".join(out)


def _tidy_symbols(text: str) -> str:
    """Runs of pictographs/dingbats collapse to their first ordinary emoji, or to nothing."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if not _is_symbol(text[i]):
            if ord(text[i]) != _ZWJ:  # a joiner outside an emoji joins nothing
                out.append(text[i])
            i += 1
            continue
        clusters: list[str] = []
        j = i
        while j < n and _is_symbol(text[j]):
            k = j + 1
            while k < n and (ord(text[k]) in _EMOJI_TAIL or (ord(text[k]) == _ZWJ and k + 1 < n)):
                k += 2 if ord(text[k]) == _ZWJ else 1
            if 0x1F1E6 <= ord(text[j]) <= 0x1F1FF and k < n and 0x1F1E6 <= ord(text[k]) <= 0x1F1FF:
                k += 1  # the second half of a flag
            clusters.append(text[j:k])
            j = k
            # Emoji separated only by spaces belong to the same run ("😊 ✨ 😊").
            m = j
            while m < n and text[m] == " ":
                m += 1
            if m < n and _is_symbol(text[m]) and m > j:
                j = m
        # One ordinary emoji survives a run ("😊😊😊" -> "😊", "✥⚣😊⚢" -> "😊"); pure debris goes.
        out.append(next((c for c in clusters if _is_ordinary_emoji(c)), ""))
        i = j
    return "".join(out)


def clean_reply(text: str) -> str:
    """Drop replacement glyphs, control characters, unpaired surrogates, leftover chat-template
    tokens and emoji/dingbat debris (a run keeps at most one ordinary emoji), then collapse
    whitespace. Never adds text."""
    if not text:
        return ""
    text = _SPECIAL_TOKEN.sub(" ", text).replace("\r\n", "\n")
    text = _drop_control(text)
    text = _tidy_symbols(text)
    text = re.sub(r"[ \u00a0\u2000-\u200a\u202f\u205f\u3000]+", " ", text)
    text = re.sub(r" *\n *", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    text = re.sub(r"(\w) +([,.!?;:…])(?=\s|$)", r"\1\2", text)  # " ." left where debris was removed
    text = re.sub(r"\*\s*\*", "", text)  # an action emptied by the cleaning ("* *")
    return text.strip()


# --- trim_to_sentence -------------------------------------------------------------------

_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "st", "prof", "sr", "jr", "vs", "e.g", "i.e", "approx", "no", "mt"}
# A sentence ends at . ! ? … (any run), optionally followed by closing quotes, brackets,
# an action's closing asterisk or an emoji, and then whitespace or the end of the text.
_SENTENCE_END = re.compile(r"[.!?…]+[\"'\u201d\u2019»)\]*_~]*(?:\s*[\U0001F300-\U0001FAFF☺♥❤✨]\uFE0F?)?(?=\s|$)")
MIN_KEPT_CHARS = 12  # shorter than this after trimming is not "something sensible"


def _sentence_ends(text: str) -> list[int]:
    ends = []
    for m in _SENTENCE_END.finditer(text):
        if text[m.start()] == ".":
            word = re.search(r"([\w.]+)$", text[: m.start()])
            if word and word.group(1).lower() in _ABBREVIATIONS:
                continue  # "Dr. Okafor" does not end a sentence
            if word and len(word.group(1)) == 1 and word.group(1).isupper():
                continue  # an initial ("J. Smith")
        ends.append(m.end())
    return ends


def _balance(text: str) -> str:
    """Close an action or a quote left open by a cut."""
    if len(re.findall(r"(?<!\*)\*(?!\*)", text)) % 2:
        text += "*"
    if text.count('"') % 2:
        text += '"'
    if text.count("“") > text.count("”"):
        text += "”"
    return text


def trim_to_sentence(text: str, *, hit_limit: bool, min_chars: int = MIN_KEPT_CHARS) -> str:
    """A reply that ran into the token limit ends at its last complete sentence.

    When no sentence boundary leaves at least ``min_chars`` characters the reply is
    cut at its last whole word and ends with "…" instead. Replies that ended on
    their own (``hit_limit`` false) come back unchanged apart from trailing spaces.
    """
    text = text.rstrip()
    if not hit_limit or not text:
        return text
    ends = _sentence_ends(text)
    if ends and ends[-1] == len(text):
        return text  # it happened to end on a boundary
    best = next((e for e in reversed(ends) if e >= min_chars), None)
    if best is not None:
        return _balance(text[:best].rstrip())
    words = text.rsplit(None, 1)
    cut = words[0] if len(words) > 1 and len(words[0]) >= min_chars // 2 else text
    cut = re.sub(r"[\s,;:\-\u2013\u2014(\[]+$", "", cut)
    cut = re.sub(r"\s+(?:and|or|but|the|a|an|to|of|with|so|because|that|my|your)$", "", cut, flags=re.I)
    return _balance(cut.rstrip() + "…")


# --- cut_user_turn -----------------------------------------------------------------------

_TURN_TOKENS = ("<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|user|>", "<|assistant|>", "<|system|>",
                "[INST]", "</s>", "### User", "### Human", "### Instruction")
_GENERIC_SPEAKERS = ("User", "Human", "You", "Me", "Person")


def _name_variants(name: str) -> list[str]:
    """"sam_desktop" -> ["sam_desktop", "sam", "desktop"]; only parts that look like names."""
    name = (name or "").strip()
    parts = [p for p in re.split(r"[\s_.\-@\d]+", name) if len(p) >= 2]
    out = [name] if name else []
    out += [p for p in parts if p.lower() != name.lower()]
    return out


def _speaker_alternation(names: Iterable[str]) -> str:
    uniq = sorted({re.escape(n) for n in names if n}, key=len, reverse=True)
    return "|".join(uniq)


def _line_marker(names: Iterable[str]) -> re.Pattern[str]:
    """A line that starts a speaker's turn: ``Alex:``, ``**Alex:**``, ``> Alex (smiling):``…"""
    alt = _speaker_alternation(names)
    return re.compile(
        rf"(?im)^[ \t>\-]*(?:\*\*|\*|__)?\s*(?:{alt})\s*(?:\([^)\n]{{0,40}}\))?\s*(?:\*\*|\*|__)?\s*:"
    )


def _bold_marker(names: Iterable[str]) -> re.Pattern[str]:
    """Mid-line turns the model writes in bold: ``… **Alex: Hi there.**``."""
    alt = _speaker_alternation(names)
    return re.compile(rf"(?i)(?:\*\*|__)\s*(?:{alt})\s*(?:\*\*|__)?\s*:")


def cut_user_turn(text: str, *, user_name: str, persona_name: str) -> str:
    """Drop everything from where the model starts writing the user's lines.

    Cuts at chat-template tokens (``<|im_start|>``…), at a line that starts with the
    user's name or a generic speaker label followed by a colon (``Alex:``,
    ``**Alex:**``, ``User:``), at a bold mid-line ``**Alex:`` and at a later line
    where the persona starts a new turn of its own (``\\nMira:``). A leading
    ``Mira:`` label on the reply itself is removed, not cut, and so is the persona
    opening its reply with its own name ("Mira, I'm so glad…": the model addressing
    itself; kept when the user has the same name).
    """
    if not text:
        return ""
    persona_variants = _name_variants(persona_name)
    if persona_variants:
        label = rf"(?i)^\s*(?:\*\*|__)?\s*(?:{_speaker_alternation(persona_variants)})\s*(?:\*\*|__)?\s*:\s*"
        text = re.sub(label + r"(?:\*\*|__)?\s*", "", text)
        if not {v.lower() for v in persona_variants} & {v.lower() for v in _name_variants(user_name)}:
            self_address = re.match(rf"\s*(?:{_speaker_alternation(persona_variants)}),\s*(?=\S)", text)
            if self_address:
                rest = text[self_address.end() :]
                text = rest[:1].upper() + rest[1:]
    cut = len(text)
    for token in _TURN_TOKENS:
        i = text.find(token)
        if i >= 0:
            cut = min(cut, i)
    user_speakers = [*_name_variants(user_name), *_GENERIC_SPEAKERS]
    for pattern in (_line_marker(user_speakers), _bold_marker(user_speakers)):
        m = pattern.search(text)
        if m:
            cut = min(cut, m.start())
    if persona_variants:
        m = _line_marker(persona_variants).search(text, 1)
        if m and text[: m.start()].strip():
            cut = min(cut, m.start())
    return _strip_dangling_markup(text[:cut]) if cut < len(text) else text


def _strip_dangling_markup(text: str) -> str:
    """Remove what opened the cut-off turn ("… **", "\n> ") without breaking a closed action."""
    text = text.rstrip()
    while True:
        before = text
        text = re.sub(r"(?:\*\*|__|>|-)$", "", text).rstrip()
        if text.endswith("*") and len(re.findall(r"(?<!\*)\*(?!\*)", text)) % 2:
            text = text[:-1].rstrip()
        if text == before:
            return text


# --- stop strings -----------------------------------------------------------------------


def stop_strings(*, user_name: str, persona_name: str) -> tuple[str, ...]:
    """Strings that end generation: chat-template turn markers, and the user's (or a generic
    speaker's) name opening a new line or a bold mid-line turn — the model never speaks
    for the user. ``cut_user_turn`` catches the variants a stop string cannot."""
    stops: list[str] = ["<|im_start|>", "<|im_end|>", "<|endoftext|>"]
    names: list[str] = []
    for variant in _name_variants(user_name):
        for form in (variant, variant[:1].upper() + variant[1:]):
            if form not in names:
                names.append(form)
    for name in [*names, "User", "Human"]:
        stops += [f"\n{name}:", f"**{name}:", f"**{name}**:"]
    if persona_name:
        stops += [f"\n{persona_name}:", f"\n**{persona_name}:"]
    return tuple(dict.fromkeys(stops))


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
    allowed = {v.lower() for v in [*_name_variants(user_name), *_name_variants(persona_name)]}
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
