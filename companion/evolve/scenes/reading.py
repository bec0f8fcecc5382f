"""Reading a roleplay message: what happens (narration) apart from what is said (speech),
with "I"/"you" resolved to the persona and the user by name.

Conventions handled, as people write them: ``*actions*`` (and ``_actions_``,
``(actions)``) are narration; quoted text ("…", “…”, «…») is speech. When a
message has quotes, the unquoted rest is narration (novel style); when it has
only asterisks, the rest is speech (chat style); with neither, each sentence is
judged on its own: third person, or "I" + a visible verb, is narration;
anything addressed to someone (you, questions, "let's") is speech.

Pure functions over strings: no Django, no model.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

# Visible verbs (base form) people narrate with; the 3rd-person form is derived.
ACTION_VERBS = frozenset(
    """look glance gaze stare peer smile grin smirk laugh giggle chuckle snort sigh nod shrug wink wave point
    lean walk step stride wander stroll run dash hurry rush jog sprint climb crawl jump hop skip kneel sit
    stand rise get turn spin twirl dance sway reach grab take pick hold hug embrace kiss touch tap brush
    stroke pat squeeze pull push drag lift raise lower set put place drop toss throw catch hand give offer
    pass pour sip drink eat bite chew taste cook stir open close shut lock unlock knock light blow strike
    wipe rub clean fold unfold roll unroll spread pin trace draw sketch write scribble read flip tuck adjust
    straighten smooth cross uncross rest lie lay curl stretch yawn shiver tremble blush frown pout scowl
    wince gasp whisper murmur hum sing call shout yell cry sob weep watch listen follow lead guide motion
    gesture beckon settle perch slump lounge sprawl hang tie untie button unbutton pocket fish rummage search
    dig carry swing toss shove nudge bump poke pinch cup cradle clutch grip press slide shift scoot tilt bow
    duck dodge flinch freeze pause hesitate approach enter leave exit return head drift float paddle row
    swim dive wade splash ride drive park steer flick snap clap stamp stomp pace fidget tug tap shake
    stop vanish disappear sit kneel build plant dangle share grab pull
    wrap unwrap fill refill stack sort count study examine inspect check mark measure fix mend sew knit paint
    hang hug bend crouch squat peek sniff smell feed stroke ruffle comb braid""".split()
)
IRREGULAR_3SG = {"be": "is", "have": "has", "do": "does", "go": "goes", "am": "is", "are": "is", "were": "was"}
NON_VERBS = frozenset(
    """the a an to and or but so too all both just also only even still never always really very not no
    who that this these those there here then than as at in on of for with by from into onto over under
    up down out off away back again my your his her its our their me you him us them it i we they she he
    what which when where why how if because while until before after""".split()
)
ADVERBS = frozenset(
    """just still never always also only almost finally suddenly gently softly slowly quickly quietly
    carefully then now barely nearly already simply really""".split()
)
_QUOTE_RE = re.compile(r'"([^"]*)"|“([^”]*)”|«([^»]*)»|„([^“”]*)[“”]|「([^」]*)」')
_ACTION_RE = re.compile(r"\*{1,3}([^*]+?)\*{1,3}|(?<![\w])_([^_\n]+?)_(?![\w])|\(([^()\n]{3,300})\)")
_SENTENCE_RE = re.compile(r"[^.!?…\n]+(?:[.!?…]+[\"”']?|$)")
_FIRST_SECOND = re.compile(r"\b(?:i|i'm|i've|i'd|i'll|me|my|mine|we|we're|us|our|you|you're|your|yours|let's)\b",
                           re.IGNORECASE)
# "she said, and ..." after a quote: the dialogue tag is not an action (what follows it may be).
_SPEECH_TAG = re.compile(
    r"^\s*[,.]?\s*(?:she|he|they|i|[A-Z][a-z]+)\s+(?:said|says|asked|asks|whispered|whispers|replied|replies|"
    r"murmured|murmurs|called|calls|added|adds|answered|answers|muttered|mutters|laughed|laughs)\b[,.]?\s*(?:and\s+)?",
    re.IGNORECASE,
)
_SYMBOLS = re.compile(r"[\u2600-\u27bf\U0001F000-\U0001FAFF\u2B00-\u2BFF\uFE0F\u200d]")


@dataclass
class Split:
    """A message split into narration (what happens) and speech (what is said), in order."""

    narration: list[str] = field(default_factory=list)
    speech: list[str] = field(default_factory=list)


def clean(text: str) -> str:
    """Whitespace collapsed, emoji and pictographs removed (a subtitle font cannot draw them)."""
    text = unicodedata.normalize("NFC", text or "")
    text = _SYMBOLS.sub("", text)
    return " ".join(text.split())


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_RE.findall(text or "") if s.strip(" .!?…\"'”")]


def split_message(text: str) -> Split:
    """Narration and speech of one message (see the module docstring for the conventions)."""
    text = text or ""
    has_quotes = bool(_QUOTE_RE.search(text))
    has_actions = bool(_ACTION_RE.search(text))
    out = Split()
    pos = 0
    pieces: list[tuple[str, str]] = []  # (kind, text): kind in action / quote / plain
    for m in re.finditer(f"{_ACTION_RE.pattern}|{_QUOTE_RE.pattern}", text):
        if m.start() > pos:
            pieces.append(("plain", text[pos:m.start()]))
        groups = m.groups()
        action = next((g for g in groups[:3] if g is not None), None)
        if action is not None:
            pieces.append(("action", action))
        else:
            pieces.append(("quote", next((g for g in groups[3:] if g is not None), "")))
        pos = m.end()
    if pos < len(text):
        pieces.append(("plain", text[pos:]))
    for kind, piece in pieces:
        piece = clean(piece)
        if not piece.strip(" .,;:!?-\u2014\u2013…"):
            continue
        if kind == "action":
            out.narration.append(piece)
        elif kind == "plain" and has_quotes:
            tagless = _SPEECH_TAG.sub("", piece).strip(" ,;")
            if tagless.strip(" .,;:!?-\u2014\u2013…"):
                out.narration.append(tagless)  # novel style: outside the quotes is narration
        elif kind == "quote":
            out.speech.append(piece)
        elif has_actions:
            out.speech.append(piece)  # chat style: outside the asterisks is speech
        else:
            for sentence in sentences(piece):
                (out.narration if is_narrative_sentence(sentence) else out.speech).append(sentence)
    return out


def is_narrative_sentence(sentence: str, persona_name: str = "") -> bool:
    """A sentence with no markers: narration when it describes rather than addresses."""
    s = sentence.strip().strip("\"'“”")
    if not s or s.endswith("?"):
        return False
    words = re.findall(r"[\w'\u2019]+", s.lower())
    if not words:
        return False
    first = words[0]
    if first in ("i", "we") and len(words) > 1:
        verb = _skip_adverbs(words[1:])
        # "I look up from the chart" is narration; "I think you're right" is speech.
        return verb is not None and _base(verb) in ACTION_VERBS and "you" not in words[:3]
    if not any(_is_3sg_verb(w) or w.endswith("ed") or w in ("is", "are", "was", "were") for w in words):
        return False  # no verb: a fragment of speech ("The piano...")
    if _FIRST_SECOND.search(s) and not re.search(r"\b(?:at|to|toward|towards|with|for|behind|beside)\s+you\b", s, re.I):
        return False
    if first in ("she", "he", "they", "her", "his", "the", "a", "an", "outside", "somewhere", "rain", "wind"):
        return True
    if persona_name and first == persona_name.split()[0].lower():
        return True
    if s[:1].isupper() and len(words) > 1 and _is_3sg_verb(words[1]) and words[1] not in ("is", "has", "does"):
        return True  # "Mira sets down the kettle."
    return _is_3sg_verb(first)


def _skip_adverbs(words: list[str]) -> str | None:
    for w in words:
        if w in ADVERBS or w.endswith("ly"):
            continue
        return w
    return None


def _base(word: str) -> str:
    return word.lower().rstrip("\u2019'")


def _is_3sg_verb(word: str) -> bool:
    w = word.lower()
    if w in ("is", "has", "does", "goes"):
        return True
    for suffix, repl in (("ies", "y"), ("es", ""), ("s", ""), ("es", "e")):
        if w.endswith(suffix) and w[: -len(suffix)] + repl in ACTION_VERBS:
            return True
    return False


def third_person(verb: str) -> str:
    """"look" -> "looks", "reach" -> "reaches", "carry" -> "carries"."""
    v = verb.lower()
    if v in IRREGULAR_3SG:
        return IRREGULAR_3SG[v]
    if v.endswith(("s", "sh", "ch", "x", "z", "o")):
        return verb + "es"
    if v.endswith("y") and len(v) > 1 and v[-2] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


_CONTRACTIONS = {
    "i'm": ("{P}", "is"), "i've": ("{P}", "has"), "i'd": ("{P}", "would"), "i'll": ("{P}", "will"),
    "you're": ("{U}", "is"), "you've": ("{U}", "has"), "you'd": ("{U}", "would"), "you'll": ("{U}", "will"),
    "we're": ("{P} and {U}", "are"), "we've": ("{P} and {U}", "have"), "we'll": ("{P} and {U}", "will"),
    "we'd": ("{P} and {U}", "would"), "let's": ("{P} and {U}", "let"),
}
_SUBJECT_BEFORE = re.compile(r"(?:^|[.!?;:,\u2014\u2013-]\s*|\b(?:and|but|as|while|when|before|after|until|because|"
                             r"if|so|then|once|since|where)\s+)$", re.IGNORECASE)
_TOKEN = re.compile(r"[A-Za-z\u2019']+|[^A-Za-z\u2019']+")


def resolve_people(text: str, *, persona: str, user: str, persona_pronoun: str = "they") -> str:
    """Narration with "I"/"me"/"my" as the persona and "you"/"your" as the user, by name, verbs agreeing.

    "I look up and hand you my chart" -> "Mira looks up and hands Alex Mira's chart".
    """
    persona = persona or "the persona"
    user = user or "the user"
    reflexive = {"she": "herself", "he": "himself"}.get(persona_pronoun, "themself")
    possessive = {"she": "her", "he": "his"}.get(persona_pronoun, "their")
    tokens = _TOKEN.findall(text or "")
    out: list[str] = []
    i = 0
    pending_subject = False  # the next verb agrees with a singular named subject
    agreed = False  # a verb in this sentence agreed with a singular subject: "... and hands" agrees too

    def emit(word: str) -> None:
        out.append(word)

    while i < len(tokens):
        tok = tokens[i]
        low = tok.lower().replace("\u2019", "'")
        before = "".join(out)
        if not tok[0].isalpha():
            if re.search(r"[.!?;]", tok):
                agreed = False
            emit(tok)
            i += 1
            continue
        if low in _CONTRACTIONS:
            who, verb = _CONTRACTIONS[low]
            emit(f"{who.format(P=persona, U=user)} {verb}")
            pending_subject = False
        elif low == "i":
            emit(persona)
            pending_subject = True
            i += 1
            continue
        elif low == "you":
            emit(user)
            # "you walk" agrees like "Sam walks"; "Aria and you huddle" is plural and stays
            pending_subject = bool(_SUBJECT_BEFORE.search(before)) and not re.search(r"\w\s+and\s+$", before)
            i += 1
            continue
        elif low in ("me",):
            emit(persona)
        elif low in ("my", "mine"):
            named = persona in before[max(before.rfind("."), 0):]
            emit(possessive if named and low == "my" else f"{persona}'s")
        elif low == "myself":
            emit(reflexive)
        elif low in ("your", "yours"):
            emit(f"{user}'s")
        elif low == "yourself":
            emit(user)
        elif low == "we":
            emit(f"{persona} and {user}")
        elif low == "us":
            emit(f"{persona} and {user}")
        elif low == "our":
            emit("their")
        elif low == "ourselves":
            emit("themselves")
        elif pending_subject:
            if low in ADVERBS or (low.endswith("ly") and len(low) > 4):
                emit(tok)
                i += 1
                continue
            if low in ("am", "are", "have", "do", "were"):
                emit(IRREGULAR_3SG[low])
            elif low in ("don't", "don\u2019t"):
                emit("doesn't")
            elif low not in NON_VERBS and not low.endswith(("ed", "'t", "ing")) and (
                low in ACTION_VERBS or not low.endswith("s")
            ) and low not in ("can", "could", "will", "would", "should", "might", "must", "may", "shall",
                              "was", "is", "has", "does", "did", "had"):
                emit(_match_case(third_person(low), tok))
            else:
                emit(tok)
            pending_subject = False
            agreed = True
        elif agreed and low in ACTION_VERBS and re.search(r"\b(?:and|then|or)\s+$|,\s*$", before):
            emit(_match_case(third_person(low), tok))
        else:
            emit(tok)
        i += 1
    resolved = "".join(out)
    return resolved[:1].upper() + resolved[1:] if resolved else resolved


def _match_case(word: str, like: str) -> str:
    return word.capitalize() if like[:1].isupper() else word


def with_subject(sentence: str, persona: str) -> str:
    """Narration without a subject ("smiles and walks toward Alex") gets the persona's name."""
    s = sentence.strip()
    if not s:
        return s
    first = re.match(r"[\w\u2019']+", s)
    if first is None:
        return s
    word = first.group(0)
    if word[0].islower() and (_is_3sg_verb(word) or word.lower() in ACTION_VERBS or word.endswith(("s", "ing"))):
        return f"{persona} {s}"
    if word[0].isupper() and _is_3sg_verb(word) and word.lower() not in ("is", "has", "does"):
        return f"{persona} {word.lower()}{s[len(word):]}"
    if word.lower() in ("she", "he") and len(s) > len(word):
        return f"{persona}{s[len(word):]}"
    return s


def persona_pronoun(appearance: str) -> str:
    a = (appearance or "").lower()
    if re.search(r"\b(?:woman|girl|female|lady|she|her)\b", a):
        return "she"
    if re.search(r"\b(?:man|boy|male|guy|gentleman|he|his)\b", a):
        return "he"
    return "they"
