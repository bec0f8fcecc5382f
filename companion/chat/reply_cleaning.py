"""Cleaning a finished reply before it is reviewed: pure string work, microseconds per reply.

The packaged chat model (SmolLM2-135M-Instruct) writes the user's next line,
stops mid-sentence at the token limit and leaves special tokens, replacement
glyphs and emoji debris (issue 9). After the stream ends the caller runs::

    text = clean_reply(trim_to_sentence(cut_user_turn(raw, ...), hit_limit=...))

and passes ``stop_strings(...)`` to the backend so most user turns never get
generated at all. What the cleaned text must then pass is ``reply_quality``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

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
    # An action emptied by the cleaning ("* *", "**" on its own), never bold markup ("**really**").
    text = re.sub(r"(?:^|(?<=\s))\*\s*\*(?=\s|$|[,.!?;:])", "", text)
    text = re.sub(r"[ ]{2,}", " ", text)
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


def name_variants(name: str) -> list[str]:
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
    persona_variants = name_variants(persona_name)
    if persona_variants:
        label = rf"(?i)^\s*(?:\*\*|__)?\s*(?:{_speaker_alternation(persona_variants)})\s*(?:\*\*|__)?\s*:\s*"
        text = re.sub(label + r"(?:\*\*|__)?\s*", "", text)
        if not {v.lower() for v in persona_variants} & {v.lower() for v in name_variants(user_name)}:
            self_address = re.match(rf"\s*(?:{_speaker_alternation(persona_variants)}),\s*(?=\S)", text)
            if self_address:
                rest = text[self_address.end() :]
                text = rest[:1].upper() + rest[1:]
    cut = len(text)
    for token in _TURN_TOKENS:
        i = text.find(token)
        if i >= 0:
            cut = min(cut, i)
    user_speakers = [*name_variants(user_name), *_GENERIC_SPEAKERS]
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
    for variant in name_variants(user_name):
        for form in (variant, variant[:1].upper() + variant[1:]):
            if form not in names:
                names.append(form)
    for name in [*names, "User", "Human"]:
        stops += [f"\n{name}:", f"**{name}:", f"**{name}**:"]
    if persona_name:
        stops += [f"\n{persona_name}:", f"\n**{persona_name}:"]
    return tuple(dict.fromkeys(stops))
