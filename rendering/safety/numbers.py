"""Numbers written as digits or words, per language, for reading stated ages.

Each language has a regex source ``NUMBER[lang]`` that matches one number
(0-99 is enough for ages; larger numbers are never under 18) and ``value()``
that reads a match.  Words are in the folded form (accents stripped), as the
text views are.  CJK numerals and Korean native/Sino-Korean numbers are here
too.  A number that is the tail of a larger one ("a hundred and fifteen",
"1,015", "2.15") is not an age: ``is_tail_of_larger`` tells.
"""

# ruff: noqa: RUF001  (look-alike letters are the subject of this module)

from __future__ import annotations

import re

from rendering.safety.normalise import fold

_EN_UNITS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
             "sixteen seventeen eighteen nineteen").split()
_EN_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
            "eighty": 80, "ninety": 90}

_ES_WORDS = {
    "cero": 0, "un": 1, "uno": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7,
    "ocho": 8, "nueve": 9, "diez": 10, "once": 11, "doce": 12, "trece": 13, "catorce": 14, "quince": 15,
    "dieciseis": 16, "diecisiete": 17, "dieciocho": 18, "diecinueve": 19, "veinte": 20, "veintiun": 21,
    "veintiuno": 21, "veintiuna": 21, "veintidos": 22, "veintitres": 23, "veinticuatro": 24, "veinticinco": 25,
    "veintiseis": 26, "veintisiete": 27, "veintiocho": 28, "veintinueve": 29,
}
_ES_TENS = {"treinta": 30, "cuarenta": 40, "cincuenta": 50, "sesenta": 60, "setenta": 70, "ochenta": 80,
            "noventa": 90}
_PT_WORDS = {
    "zero": 0, "um": 1, "uma": 1, "dois": 2, "duas": 2, "tres": 3, "quatro": 4, "cinco": 5, "seis": 6, "sete": 7,
    "oito": 8, "nove": 9, "dez": 10, "onze": 11, "doze": 12, "treze": 13, "catorze": 14, "quatorze": 14,
    "quinze": 15, "dezesseis": 16, "dezasseis": 16, "dezessete": 17, "dezassete": 17, "dezoito": 18,
    "dezenove": 19, "dezanove": 19, "vinte": 20,
}
_PT_TENS = {"trinta": 30, "quarenta": 40, "cinquenta": 50, "sessenta": 60, "setenta": 70, "oitenta": 80,
            "noventa": 90, "vinte": 20}
_FR_WORDS = {
    "zero": 0, "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6, "sept": 7, "huit": 8,
    "neuf": 9, "dix": 10, "onze": 11, "douze": 12, "treize": 13, "quatorze": 14, "quinze": 15, "seize": 16,
}
_FR_TENS = {"vingt": 20, "trente": 30, "quarante": 40, "cinquante": 50, "soixante": 60, "septante": 70,
            "huitante": 80, "octante": 80, "nonante": 90, "quatre-vingt": 80, "quatre-vingts": 80,
            "quatre vingt": 80}
_DE_UNITS = {"null": 0, "eins": 1, "ein": 1, "eine": 1, "einem": 1, "einer": 1, "zwei": 2, "drei": 3, "vier": 4,
             "funf": 5, "fuenf": 5, "sechs": 6, "sieben": 7, "acht": 8, "neun": 9}
_DE_TEENS = {"zehn": 10, "elf": 11, "zwolf": 12, "zwoelf": 12, "dreizehn": 13, "vierzehn": 14, "funfzehn": 15,
             "fuenfzehn": 15, "sechzehn": 16, "siebzehn": 17, "achtzehn": 18, "neunzehn": 19}
_DE_TENS = {"zwanzig": 20, "dreissig": 30, "dreißig": 30, "vierzig": 40, "funfzig": 50, "fuenfzig": 50,
            "sechzig": 60, "siebzig": 70, "achtzig": 80, "neunzig": 90}
_IT_WORDS = {
    "zero": 0, "uno": 1, "una": 1, "un": 1, "due": 2, "tre": 3, "quattro": 4, "cinque": 5, "sei": 6, "sette": 7,
    "otto": 8, "nove": 9, "dieci": 10, "undici": 11, "dodici": 12, "tredici": 13, "quattordici": 14,
    "quindici": 15, "sedici": 16, "diciassette": 17, "diciotto": 18, "diciannove": 19,
}
_IT_TENS = {"venti": 20, "trenta": 30, "quaranta": 40, "cinquanta": 50, "sessanta": 60, "settanta": 70,
            "ottanta": 80, "novanta": 90}
_IT_UNIT_SUFFIX = {"uno": 1, "due": 2, "tre": 3, "quattro": 4, "cinque": 5, "sei": 6, "sette": 7, "otto": 8,
                   "nove": 9}
_RU_UNITS = {"ноль": 0, "один": 1, "одна": 1, "одно": 1, "два": 2, "две": 2, "три": 3, "четыре": 4, "пять": 5,
             "шесть": 6, "семь": 7, "восемь": 8, "девять": 9, "десять": 10, "одиннадцать": 11,
             "двенадцать": 12, "тринадцать": 13, "четырнадцать": 14, "пятнадцать": 15, "шестнадцать": 16,
             "семнадцать": 17, "восемнадцать": 18, "девятнадцать": 19}
_RU_TENS = {"двадцать": 20, "тридцать": 30, "сорок": 40, "пятьдесят": 50, "шестьдесят": 60, "семьдесят": 70,
            "восемьдесят": 80, "девяносто": 90}
# Genitive stems in compounds: "пятнадцатилетняя" (15-year-old), "двухлетний" (2-year-old).
RU_STEMS = {"одно": 1, "двух": 2, "трех": 3, "четырех": 4, "пяти": 5, "шести": 6, "семи": 7, "восьми": 8,
            "девяти": 9, "десяти": 10, "одиннадцати": 11, "двенадцати": 12, "тринадцати": 13,
            "четырнадцати": 14, "пятнадцати": 15, "шестнадцати": 16, "семнадцати": 17, "восемнадцати": 18,
            "девятнадцати": 19, "двадцати": 20, "тридцати": 30, "сорока": 40, "пятидесяти": 50}
# German "-jährig" and Italian "-enne" compounds: "fünfzehnjährige", "quindicenne".
IT_ENNE = {"decenne": 10, "undicenne": 11, "dodicenne": 12, "tredicenne": 13, "quattordicenne": 14,
           "quindicenne": 15, "sedicenne": 16, "diciassettenne": 17, "diciottenne": 18, "diciannovenne": 19,
           "ventenne": 20, "trentenne": 30, "quarantenne": 40, "cinquantenne": 50, "novenne": 9,
           "ottenne": 8, "settenne": 7, "seienne": 6, "cinquenne": 5, "quadrienne": 4, "treenne": 3,
           "duenne": 2}

_CJK_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "兩": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
               "八": 8, "九": 9}
_KO_SINO = {"일": 1, "이": 2, "삼": 3, "사": 4, "오": 5, "육": 6, "칠": 7, "팔": 8, "구": 9}
_KO_NATIVE_UNITS = {"한": 1, "하나": 1, "두": 2, "둘": 2, "세": 3, "셋": 3, "네": 4, "넷": 4, "다섯": 5, "여섯": 6,
                    "일곱": 7, "여덟": 8, "아홉": 9}
_KO_NATIVE_TENS = {"열": 10, "스물": 20, "스무": 20, "서른": 30, "마흔": 40, "쉰": 50, "예순": 60, "일흔": 70,
                   "여든": 80, "아흔": 90}


def _alt(words) -> str:
    return "|".join(sorted({re.escape(fold(w)) for w in words}, key=len, reverse=True))


DIGITS = r"(?<![\d.,:/])\d{1,3}(?![\d]|[.,:]\d)"

NUMBER: dict[str, str] = {
    "en": rf"{DIGITS}|(?:(?:{_alt(_EN_TENS)})[\s-]?(?:{_alt(_EN_UNITS[1:10])})\b)"
          rf"|(?:{_alt(_EN_UNITS)}|{_alt(_EN_TENS)})",
    "es": rf"{DIGITS}|(?:(?:{_alt(_ES_TENS)})\s+y\s+(?:{_alt(list(_ES_WORDS)[:10])}))"
          rf"|(?:{_alt(_ES_WORDS)}|{_alt(_ES_TENS)})",
    "pt": rf"{DIGITS}|(?:(?:{_alt(_PT_TENS)})\s+e\s+(?:{_alt(list(_PT_WORDS)[:11])}))"
          rf"|(?:{_alt(_PT_WORDS)}|{_alt(_PT_TENS)})",
    "fr": rf"{DIGITS}|(?:(?:{_alt(_FR_TENS)})(?:[\s-]+et)?[\s-]+(?:{_alt(list(_FR_WORDS)[1:17])}))"
          rf"|(?:dix[\s-]+(?:sept|huit|neuf))|(?:{_alt(_FR_TENS)}|{_alt(_FR_WORDS)})",
    "de": rf"{DIGITS}|(?:(?:{_alt(_DE_UNITS)})und(?:{_alt(_DE_TENS)}))"
          rf"|(?:{_alt(_DE_TEENS)}|{_alt(_DE_TENS)}|{_alt(_DE_UNITS)})",
    "it": rf"{DIGITS}|(?:(?:{_alt(_IT_TENS)}|vent|trent|quarant|cinquant|sessant|settant|ottant|novant)"
          rf"(?:{_alt(_IT_UNIT_SUFFIX)}))|(?:{_alt(_IT_WORDS)}|{_alt(_IT_TENS)})",
    "ru": rf"{DIGITS}|(?:(?:{_alt(_RU_TENS)})\s+(?:{_alt(list(_RU_UNITS)[1:12])}))"
          rf"|(?:{_alt(_RU_UNITS)}|{_alt(_RU_TENS)})",
    "cjk": r"\d{1,3}|[零〇一二两兩三四五六七八九十]{1,4}",
    "ko_sino": r"\d{1,3}|[일이삼사오육칠팔구십]{1,4}",
    "ko_native": rf"(?:{_alt(_KO_NATIVE_TENS)})\s?(?:{_alt(_KO_NATIVE_UNITS)})?|(?:{_alt(_KO_NATIVE_UNITS)})",
}


def _words_value(text: str, table: dict[str, int], tens: dict[str, int]) -> int | None:
    total, seen = 0, False
    for part in re.split(r"[\s\-]+", text):
        if not part or part in ("y", "e", "et", "und", "and"):
            continue
        if part in tens:
            total += tens[part]
        elif part in table:
            total += table[part]
        else:
            return None
        seen = True
    return total if seen else None


def _cjk_value(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    if "十" not in text:
        if len(text) == 1:
            return _CJK_DIGITS.get(text)
        digits = [_CJK_DIGITS.get(c) for c in text]
        return None if None in digits else int("".join(map(str, digits)))
    head, _, tail = text.partition("十")
    tens = _CJK_DIGITS.get(head, None) if head else 1
    units = _CJK_DIGITS.get(tail, None) if tail else 0
    if tens is None or units is None:
        return None
    return tens * 10 + units


def _ko_sino_value(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    head, sep, tail = text.partition("십")
    if not sep:
        return _KO_SINO.get(text) if len(text) == 1 else None
    tens = _KO_SINO.get(head) if head else 1
    units = _KO_SINO.get(tail) if tail else 0
    if tens is None or units is None:
        return None
    return tens * 10 + units


def _ko_native_value(text: str) -> int | None:
    text = text.replace(" ", "")
    total = 0
    for tens_word, tens_value in sorted(_KO_NATIVE_TENS.items(), key=lambda kv: -len(kv[0])):
        if text.startswith(tens_word):
            total, text = tens_value, text[len(tens_word):]
            break
    if text:
        if text not in _KO_NATIVE_UNITS:
            return None
        total += _KO_NATIVE_UNITS[text]
    return total


def _german_value(text: str) -> int | None:
    text = text.replace("ß", "ss")
    for table in (_DE_TEENS, _DE_TENS, _DE_UNITS):
        if text in table:
            return table[text]
    if "und" in text:
        unit, _, tens = text.partition("und")
        if unit in _DE_UNITS and tens in _DE_TENS:
            return _DE_UNITS[unit] + _DE_TENS[tens]
    return None


def _italian_value(text: str) -> int | None:
    if text in _IT_WORDS:
        return _IT_WORDS[text]
    if text in _IT_TENS:
        return _IT_TENS[text]
    elided = [("vent", 20), ("trent", 30), ("quarant", 40), ("cinquant", 50), ("sessant", 60), ("settant", 70),
              ("ottant", 80), ("novant", 90)]  # "ventuno", "trentotto": the vowel drops before uno/otto
    for stem, tens in [*_IT_TENS.items(), *elided]:
        if text.startswith(stem) and text[len(stem):] in _IT_UNIT_SUFFIX:
            return tens + _IT_UNIT_SUFFIX[text[len(stem):]]
    return None


def value(text: str, lang: str) -> int | None:
    """The number a NUMBER[lang] match stands for (None when it cannot be read)."""
    text = text.strip().lower()
    if text.isdigit():
        return int(text)
    if lang == "en":
        return _words_value(text, {w: i for i, w in enumerate(_EN_UNITS)}, _EN_TENS)
    if lang == "es":
        return _words_value(text, _ES_WORDS, _ES_TENS)
    if lang == "pt":
        return _words_value(text, _PT_WORDS, _PT_TENS)
    if lang == "fr":
        text = re.sub(r"quatre[\s-]+vingts?", "quatre-vingt", text)
        if text in _FR_TENS:
            return _FR_TENS[text]
        m = re.fullmatch(r"(.+?)(?:[\s-]+et)?[\s-]+(.+)", text)
        if m and m.group(1) in _FR_TENS | {"dix": 10} and m.group(2) in _FR_WORDS:
            return _FR_TENS.get(m.group(1), 10) + _FR_WORDS[m.group(2)]
        return _FR_WORDS.get(text)
    if lang == "de":
        return _german_value(text)
    if lang == "it":
        return _italian_value(text)
    if lang == "ru":
        return _words_value(text, _RU_UNITS, _RU_TENS)
    if lang == "cjk":
        return _cjk_value(text)
    if lang == "ko_sino":
        return _ko_sino_value(text)
    if lang == "ko_native":
        return _ko_native_value(text)
    return None


_LARGER_BEFORE_RE = re.compile(
    r"(?:hundred|thousand|million|cien|ciento|cientos|mil|cent|cents|hundert|tausend|cento|cem|"
    r"centos|сто|тысяч\w*|百|千|万|백|천)[\s-]*(?:and|y|e|et|und)?[\s-]*$",
    re.IGNORECASE,
)
_LARGER_AFTER_RE = re.compile(r"^[\s-]*(?:hundred|thousand|million|billion|百|千|万|백|천|만)", re.IGNORECASE)


def is_tail_of_larger(text: str, start: int, end: int) -> bool:
    """The number at text[start:end] is part of a larger one ("a hundred and fifteen", "fifteen hundred")."""
    return bool(_LARGER_BEFORE_RE.search(text[max(0, start - 24):start])) or bool(
        _LARGER_AFTER_RE.match(text[end:end + 12])
    )
