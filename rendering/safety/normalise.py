"""Text views for the safety rules: every way a phrase could be disguised, undone.

``text_views(text)`` returns a small set of strings; a rule refuses when it
matches any of them.  Each view undoes one family of tricks, and they compose:

- NFKC (fullwidth, mathematical and circled letters, ligatures), with every
  invisible character removed (zero-width spaces/joiners, bidi marks, soft
  hyphens, variation selectors, Hangul fillers, tag characters);
- diacritics and stacked combining marks stripped from Latin, Greek and
  Cyrillic letters (CJK, kana and Hangul keep theirs), so "tëën" is "teen";
- homoglyphs: a word mixing Latin with Cyrillic/Greek look-alikes is brought
  to its majority script ("tееn" with Cyrillic е is "teen", "дeвочка" with a
  Latin e is Russian again), and a Latin view maps every look-alike to Latin
  (Unicode's confusables table, from the ``confusable-homoglyphs`` package,
  plus small capitals and the Cyrillic/Greek shapes it lacks);
- leetspeak inside words that mix letters and digits/symbols ("t33n", "k1d",
  "5ch00lg1rl"), with 1 read as i and, in a second view, as l;
- spacing tricks: runs of single characters split by one kind of separator
  are joined ("t e e n", "k.i.d", "t-e-e-n");
- letters stretched three or more times are shortened ("teeeen", "kiiid").

Rules are written against the folded form (``fold``) and matched with
re.IGNORECASE, so lexicons and views agree on accents.  A separate view keeps
the accents for the few words whose unaccented spelling is another word
(Spanish "bebé" is a baby, "bebe" is "drinks").
"""

# ruff: noqa: RUF001, RUF002  (look-alike letters are the subject of this module)

from __future__ import annotations

import functools
import re
import unicodedata

# Characters that render as nothing (or as a plain space) and are used to split words invisibly.
_INVISIBLE_EXTRA = {
    0x034F,  # combining grapheme joiner
    0x115F, 0x1160, 0x3164, 0xFFA0,  # Hangul fillers
    0x17B4, 0x17B5,  # Khmer inherent vowels (invisible)
    0x180B, 0x180C, 0x180D, 0x180E, 0x180F,  # Mongolian selectors / vowel separator
    0x2800,  # braille blank
}
_SPACE_LIKE = {0x2800, 0x3000, 0x00A0, 0x2007, 0x202F, 0x205F}


def _is_invisible(ch: str) -> bool:
    cp = ord(ch)
    if cp in _INVISIBLE_EXTRA:
        return True
    if 0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF:  # variation selectors
        return True
    return unicodedata.category(ch) == "Cf"  # zero-width space/joiners, bidi marks, soft hyphen, tags, BOM


def _keeps_marks(base: str) -> bool:
    """CJK, kana and Hangul keep their combining marks (dakuten change the syllable)."""
    return ord(base) >= 0x2E80


def strip_marks(text: str) -> str:
    if text.isascii():
        return text
    out: list[str] = []
    base = " "
    for ch in unicodedata.normalize("NFD", text):
        if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me"):
            if _keeps_marks(base):
                out.append(ch)
            continue
        base = ch
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out))


_ASCII_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean(text: str) -> str:
    """NFKC, invisibles removed, control characters and odd spaces made plain spaces."""
    if text.isascii():
        return _ASCII_CONTROL_RE.sub(" ", text)
    text = unicodedata.normalize("NFKC", text)
    chars = []
    for ch in text:
        if ord(ch) in _SPACE_LIKE:
            chars.append(" ")
        elif _is_invisible(ch):
            continue
        elif unicodedata.category(ch) == "Cc" and ch not in "\n\t":
            chars.append(" ")
        else:
            chars.append(ch)
    return unicodedata.normalize("NFKC", "".join(chars))


@functools.cache
def fold(text: str) -> str:
    """The comparison form rules are written in: cleaned, accents stripped (case is kept)."""
    return strip_marks(clean(text))


# --- homoglyphs ------------------------------------------------------------------------
# Shapes the Unicode confusables table does not map to a Latin letter (it maps lower case
# to lower case, and these look like Latin small capitals or upper-case letters).
_EXTRA_TO_LATIN = {
    "к": "k", "К": "K", "м": "m", "М": "M", "т": "t", "Т": "T", "н": "h", "Н": "H", "в": "b", "В": "B",
    "г": "r", "п": "n", "и": "u", "ь": "b", "ъ": "b", "ч": "y", "ш": "w", "щ": "w", "з": "3", "д": "d",
    "л": "n", "я": "r", "ё": "e", "Ё": "E", "ѵ": "v", "ԃ": "d", "ꙇ": "i",
    "ε": "e", "τ": "t", "κ": "k", "χ": "x", "η": "n", "ω": "w", "μ": "u", "β": "b", "γ": "y", "λ": "a",
    "ν": "v", "ς": "c", "π": "n", "δ": "d", "θ": "o", "ϲ": "c", "ϳ": "j", "ϱ": "p",
    "ᴀ": "a", "ʙ": "b", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e", "ꜰ": "f", "ɢ": "g", "ʜ": "h", "ɪ": "i", "ᴊ": "j",
    "ᴋ": "k", "ʟ": "l", "ᴍ": "m", "ɴ": "n", "ᴏ": "o", "ᴘ": "p", "ʀ": "r", "ꜱ": "s", "ᴛ": "t", "ᴜ": "u",
    "ᴠ": "v", "ᴡ": "w", "ʏ": "y", "ᴢ": "z", "ı": "i", "ȷ": "j", "ɑ": "a", "ɡ": "g", "ɩ": "i", "ʋ": "u",
    "ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ħ": "h", "ŧ": "t", "ƀ": "b", "ɇ": "e",
    "ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ð": "d", "þ": "p",
}
# Latin letters that look like Cyrillic ones, for Russian words written with a few Latin letters.
_LATIN_TO_CYRILLIC = {
    "a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "y": "у", "x": "х", "k": "к", "m": "м", "t": "т",
    "h": "н", "b": "в", "A": "А", "E": "Е", "O": "О", "P": "Р", "C": "С", "Y": "У", "X": "Х", "K": "К",
    "M": "М", "T": "Т", "H": "Н", "B": "В", "u": "и", "n": "п", "r": "г", "3": "з",
}


@functools.cache
def _to_latin_table() -> dict[int, str]:
    from confusable_homoglyphs.confusables import confusables_data

    table: dict[int, str] = {}
    for char, glyphs in confusables_data.items():
        if len(char) != 1 or char.isascii():
            continue
        for glyph in glyphs:
            target = glyph["c"]
            if len(target) == 1 and target.isascii() and target.isalpha():
                table[ord(char)] = target
                break
    for char, target in _EXTRA_TO_LATIN.items():
        table[ord(char)] = target
    return table


def _script(ch: str) -> str | None:
    if not ch.isalpha():
        return None
    cp = ord(ch)
    if cp < 0x250 or 0x1D00 <= cp < 0x1DC0 or 0x1E00 <= cp < 0x1F00 or 0xA720 <= cp < 0xA800:
        return "latin"
    if 0x370 <= cp < 0x400 or 0x1F00 <= cp < 0x2000:
        return "greek"
    if 0x400 <= cp < 0x530 or 0x2DE0 <= cp < 0x2E00 or 0xA640 <= cp < 0xA6A0 or 0x1C80 <= cp < 0x1C90:
        return "cyrillic"
    return "other"


_WORD_RE = re.compile(r"[^\W_]+")


def _resolve_word(word: str) -> str:
    """A word mixing Latin with Cyrillic/Greek letters, brought to one script."""
    scripts = {s for ch in word if (s := _script(ch))}
    if len(scripts) <= 1 or "other" in scripts:
        return word
    table = _to_latin_table()
    # Letters that only exist in one script decide; look-alikes are ambiguous.
    cyr = sum(1 for ch in word if _script(ch) == "cyrillic" and ord(ch) not in table)
    lat = sum(1 for ch in word if _script(ch) == "latin" and ch not in _LATIN_TO_CYRILLIC)
    if "cyrillic" in scripts and cyr > lat:
        return "".join(_LATIN_TO_CYRILLIC.get(ch, ch) for ch in word)
    return word.translate(table)


def resolve_scripts(text: str) -> str:
    if text.isascii():
        return text
    return _WORD_RE.sub(lambda m: _resolve_word(m.group(0)), text)


def to_latin(text: str) -> str:
    """Every Cyrillic/Greek/other look-alike letter as the Latin letter it imitates."""
    return text.translate(_to_latin_table())


# --- leetspeak -------------------------------------------------------------------------
_LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "6": "g", "7": "t", "8": "b", "9": "g",
         "@": "a", "$": "s", "!": "i", "|": "l", "+": "t", "€": "e", "£": "l", "¡": "i", "(": "c"}
_LEET_TOKEN_RE = re.compile(r"[a-z0-9@$!|+€£¡(]*[a-z][a-z0-9@$!|+€£¡(]*", re.IGNORECASE)
# A number with a unit or suffix is a number, not leetspeak ("17yo", "4k", "3d", "2nd", "15min").
_NUMBER_WITH_SUFFIX_RE = re.compile(
    r"[(+]?\d+(?:st|nd|rd|th|s|k|m|d|y|yo|yr|yrs|h|hr|hrs|min|mins|km|kg|cm|mm|ml|am|pm|x|p|g|gb|mb|f|c|ft|lb|lbs"
    r"|fps|mph|yos|jahrig|enne)?!*",
    re.IGNORECASE,
)
_LEADING_DIGITS_RE = re.compile(r"^(\d+)(.*)$")
_NUMBER_RUN_RE = re.compile(r"(?<![\w.,])\d{1,3}(?=\s+\d{1,3}(?![\w.,]))")


def _deleet_token(token: str, one: str, keep_leading: bool) -> str:
    if not any(ch in _LEET for ch in token) or _NUMBER_WITH_SUFFIX_RE.fullmatch(token):
        return token
    core = token.rstrip("!").lstrip("(")  # "kid!" and "(kid" are punctuation, not leetspeak
    if not any(ch in _LEET for ch in core):
        return token
    prefix = token[: len(token) - len(token.lstrip("("))]
    suffix = token[len(token.rstrip("!")):]
    lead = ""
    if keep_leading and (m := _LEADING_DIGITS_RE.match(core)):  # "14y0" is "14yo", not "iayo"
        lead, core = m.group(1), m.group(2)
    mapped = "".join(one if ch == "1" else _LEET.get(ch, ch) for ch in core)
    return prefix + lead + mapped + suffix


def deleet(text: str, *, one: str = "i", keep_leading: bool = False) -> str:
    text = _LEET_TOKEN_RE.sub(lambda m: _deleet_token(m.group(0), one, keep_leading), text)
    # "5h3 15 15": of two numbers in a row, the first is a word in disguise ("she is 15").
    return _NUMBER_RUN_RE.sub(lambda m: "".join(one if c == "1" else _LEET.get(c, c) for c in m.group(0)), text)


# --- spacing tricks --------------------------------------------------------------------
_SEP = r"[\s.\-_*·•,/\\~^'`\"’:;+|=]{1,3}"
_SPACED_RUN_RE = re.compile(rf"(?<![^\W_])[^\W_](?:(?P<sep>{_SEP})[^\W_](?:(?P=sep)[^\W_]){{1,}})(?![^\W_])")
# Two characters are a run too when the separator is not a space ("1.7", "k-i"): "a 1.7 y.o".
_SPACED_PAIR_RE = re.compile(r"(?<![^\W_.\-*])[^\W_][.\-_*·•/\\~^|=][^\W_](?![^\W_])(?![.\-_*·•/\\~^|=][^\W_])")
_SEP_RE = re.compile(_SEP)
_SHORT_WORDS = {"a", "i", "o", "y", "e", "u", "à", "é"}


def _join_run(m: re.Match, keep_first: bool) -> str:
    chars = _SEP_RE.split(m.group(0))
    if keep_first and chars[0].lower() in _SHORT_WORDS:
        return chars[0] + " " + "".join(chars[1:])
    return "".join(chars)


def join_spaced(text: str, *, keep_first: bool = False) -> str:
    """ "t e e n" -> "teen"; with keep_first, "a t e e n" -> "a teen"."""
    text = _SPACED_RUN_RE.sub(lambda m: _join_run(m, keep_first), text)
    return _SPACED_PAIR_RE.sub(lambda m: m.group(0)[0] + m.group(0)[2], text)


_WORD_SEPARATORS = {" ": re.compile(r"\s{2,}|\s*/\s*|\s*\|\s*"), None: re.compile(r"\s+")}


_SINGLE_CHAR_RE = re.compile(r"(?<![^\W_])[^\W_](?![^\W_])")
_LEETISH_RE = re.compile(r"[^\W\d_][0-9@$!|+€£¡(]|[0-9@$|+€£¡(][^\W\d_]|(?<![\w.,])\d{1,3}\s+\d{1,3}(?![\w.,])")


def despace(text: str) -> str:
    """Letters split by one separator, words by another: "s h e  i s  1 5", "s.h.e i.s 1.5" -> "she is 15"."""
    singles = len(_SINGLE_CHAR_RE.findall(text))
    if singles < 3 or singles * 3 < len(_WORD_RE.findall(text)):
        return text
    for sep in (" ", ".", "-", "_", "*", "·", "•", ",", "~", "+", "|", "/"):
        between = _WORD_SEPARATORS[" "] if sep == " " else _WORD_SEPARATORS[None]
        chunks = between.split(text)
        single = re.compile(rf"[^\W_](?:{re.escape(sep)}[^\W_])+[.!?,;:]?")
        if sum(1 for c in chunks if single.fullmatch(c)) >= max(2, len(chunks) // 2):
            return " ".join(c.replace(sep, "") if single.fullmatch(c) else c for c in chunks)
    return text


# --- letters standing in for digits before an age unit ("l7 yo", "1O years old") ---------------------
_RENUMBER_RE = re.compile(
    r"(?<![^\W_])(?=[0-9lIoO|!]*\d)([0-9lIoO|!]{2,3})(?=[\s-]*(?:y\.?\s?o\b|y/o|years?|yrs?|yr\b|岁|歳|살|세|anos"
    r"|años|ans\b|anni|jahre|лет))"
)


def renumber(text: str) -> str:
    return _RENUMBER_RE.sub(lambda m: m.group(1).translate(str.maketrans("lIoO|!", "110011")), text)


# --- stretched letters -----------------------------------------------------------------
_STRETCH_RE = re.compile(r"([^\W\d_])\1{2,}")


def unstretch(text: str, *, keep: int | None) -> str:
    """Letters repeated 3+ times as ``keep`` letters; ``keep=None`` guesses (6+ were doubled, else single)."""
    return _STRETCH_RE.sub(lambda m: m.group(1) * (keep or (2 if len(m.group(0)) >= 6 else 1)), text)


# --- all views -------------------------------------------------------------------------
@functools.lru_cache(maxsize=256)
def text_views(text: str) -> tuple[str, ...]:
    """Distinct views of ``text`` (the first is the plain folded text); cached, the gate asks twice."""
    cleaned = clean(text)
    native = resolve_scripts(strip_marks(cleaned))
    latin = to_latin(native)
    views: dict[str, None] = {native: None, latin: None, despace(latin): None}
    for view in dict.fromkeys((latin, despace(latin))):
        if not _LEETISH_RE.search(view):
            continue
        for one, keep_leading in (("i", False), ("l", False), ("i", True)):
            views[deleet(view, one=one, keep_leading=keep_leading)] = None
    for view in list(views):
        for keep_first in (False, True):
            views[join_spaced(view, keep_first=keep_first)] = None
    if _STRETCH_RE.search(latin):
        for view in list(views):
            for keep in (1, 2, None):
                views[unstretch(view, keep=keep)] = None
    for view in list(views):
        views[renumber(view)] = None
    views[resolve_scripts(cleaned)] = None  # accents kept, for the few words that need them
    return tuple(views)


def folded_rule(pattern: str, flags: int = re.IGNORECASE) -> re.Pattern:
    """Compile a rule written in the folded form (so "niña" in a rule matches "nina" in a view)."""
    return re.compile(fold(pattern), flags)


def word_alternation(*groups: str) -> str:
    """ "a b", "c" → "a|b|c": a regex alternation of whitespace-separated words."""
    return "|".join(w for g in groups for w in g.split())
