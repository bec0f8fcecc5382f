"""Rule 1 of ``minors``: ages stated in a text ("15-year-old", "aged 12", "Emma, 15,", "N años").

``stated_ages(view, names)`` yields (age, phrase) for every age under 18 said of
a person in one normalised view, in ten languages: "N años/anos/ans/anni/Jahre/
лет/岁/歳/살/세" with the age words of each language, and "born in 2015". A
duration ("10 years ago", "hace 10 años", "depuis 10 ans") and an object's age
("a 12-year-old whisky", "her 14-year-old dog") are not ages of a person.
"""

# ruff: noqa: RUF001, RUF003  (look-alike letters are the subject of this module)

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

from rendering.safety import numbers
from rendering.safety.normalise import folded_rule as _c
from rendering.safety.normalise import word_alternation as _words
from rendering.safety.people import first_names

ADULT_AGE = 18
_F = re.IGNORECASE
NUM = numbers.NUMBER

# --- what follows a number that is not an age ------------------------------------------
_UNIT_WORDS = _words(
    "minutes minute mins min hours hour hrs hr h seconds second secs sec s days day weeks week wks months month mos",
    "decades decade centuries century feet foot ft inches inch cm mm m meters meter metres metre km kilometers",
    "kilometres miles mile mi yards yard yds kg kilos kilo grams gram g lbs lb pounds pound ounces oz liters liter",
    "litres litre l ml gallons gallon percent pc pct per degrees degree deg dollars dollar bucks euros euro cents",
    "cent quid points point pts goals goal laps lap steps step paces pace floors floor storeys storey stories story",
    "blocks block stops stop stations station pages page chapters chapter times time x people persons guests",
    "friends others men women players seats tables rooms beds candles roses cups glasses bottles shots rounds",
    "stone stones am pm a.m p.m o'clock oclock hundred thousand million billion k th st nd rd dozen pm. am.",
    "mph kph kmh",
    "calories cal kcal bpm fps mp mb gb tb px dpi volts watts amps hz khz mhz ghz inchs",
    "minutos horas metros kilometros euros dolares grados pisos veces personas segundos dias semanas meses",
    "heures heure metres kilometres degres etages fois personnes secondes jours semaines mois",
    "minuten stunden meter kilometer euro grad stockwerke mal personen sekunden tage wochen monate uhr prozent",
    "minuti ore metri chilometri gradi piani volte persone secondi giorni settimane mesi",
    "minutos horas metros quilometros graus andares vezes pessoas segundos dias semanas meses",
    "минут минуты часов часа метров метра километров градусов этажей раз человек секунд дней недель месяцев",
)
_UNIT_AFTER_RE = _c(
    rf"^\s*(?:%|°|\$|€|£|:|/\s*\d|\.\d|,\d|x\s*\d|['’′]\s*\d|-\s*(?!years?\b|yrs?\b|yo\b|y\.?o\b|jahr|летн|enne\b)[^\W\d_]"
    rf"|(?:{_UNIT_WORDS})\b|(?:to|by|out\s+of)\s|of\s+(?!age\b)|for\s+\d|(?:under|over)\s+par\b|ahead\b|behind\b"
    rf"|away\b|in\s+a\s+(?:million|thousand|hundred)\b)"
)
# Durations: "N years ago", "for 10 years", "hace 10 años", "depuis 10 ans", "vor 10 Jahren", "10 лет назад".
_DURATION_BEFORE_RE = _c(
    r"\b(?:for|since|during|after|within|over|past|last|next|every|per|in|hace|hacia|durante|desde|despues\s+de"
    r"|tras|en|por|cada|hasta|depuis|il\s+y\s+a|pendant|apres|dans|pour|tous\s+les|voila|seit|vor|fur|fuer"
    r"|nach|alle|wahrend|waehrend|innerhalb|da|fa|dopo|tra|fra|ogni|depois\s+de|em|faz|fez|daqui\s+a"
    r"|через|за|в\s+течение|на\s+протяжении|спустя|после)\s+(?:(?:de|d'|los|las|les|the|about|around|almost"
    r"|nearly|casi|unos|unas|cerca\s+de|presque|environ|etwa|fast|quasi|circa|quase|cerca\s+de|почти|около)\s+)?$"
)
_DURATION_AFTER_RE = _c(
    r"^\s*(?:ago|later|before|earlier|prior|back|hence|on|fa|atras|antes|despues|depois|plus\s+tard|avant|auparavant"
    r"|spater|spaeter|fruher|frueher|zuvor|her|lang|langer|назад|спустя|тому|de\s+(?!edad|idade)[^\W\d_]{3,}"
    r"|d'(?!age)[^\W\d_]{3,}|di\s+[^\W\d_]{3,}|do\s+[^\W\d_]{3,}|da\s+[^\W\d_]{3,}|de\s+la\s|del\s|du\s)\b"
)

_YEARS_LATER_RE = _c(r"^\s*(?:years?|yrs?)\s+(?:later|ago|earlier|before|after|on|back|in|into|of)\b")
# A person, for "she is 15" / "a girl of 15" / "Emma, 15,".
_PERSON_SUBJECTS = set(_words(
    "she he i you who whom her him me girl boy girls boys kid kids child children daughter son sister brother niece",
    "nephew cousin student pupil teen teenager character model persona lass lad youngster woman man lady guy person",
    "gymnast cheerleader dancer actress actor singer idol schoolgirl schoolboy twin twins bride princess prince",
    "girlfriend boyfriend stepdaughter stepson stepsister stepbrother granddaughter grandson maid maiden heroine hero",
    "protagonist babysitter friend neighbor neighbour she's he's i'm shes hes im ur",
).split("|"))
# What a "15-year-old ___" can be without being a person.
_OBJECT_NOUNS = _words(
    "whisky whiskey whiskies scotch bourbon rye malt single rum wine wines port cognac brandy tequila mezcal sake",
    "cheese cheddar gouda parmesan balsamic vinegar tree trees oak oaks pine cedar olive house home building car",
    "cars truck van bike bicycle motorcycle laptop phone computer dog dogs cat cats horse horses mare stallion pony",
    "puppy kitten parrot pet pets cow goat sheep fish turtle tortoise tortoiseshell company business restaurant bar",
    "cafe pub shop store brand tradition recipe photo photos photograph picture painting portrait letter letters",
    "book books bottle vintage sweater jacket coat dress shoes boots record records vinyl guitar piano violin",
    "marriage relationship friendship feud grudge mystery song album film movie show series franchise game games",
    "console mattress sofa couch boat ship yacht plane engine bridge church castle temple ruin ruins cabin barn",
    "farmhouse apartment flat hotel cottage villa mansion tower lighthouse statue fountain garden vine vines",
    "vineyard bonsai starter sourdough ham steak beef stew watch clock camera rug carpet quilt blanket diary journal",
    "map mural fresco tapestry manuscript scroll ring necklace heirloom tattoo scar habit secret promise debt lease",
    "contract case war conflict rivalry band institution theater theatre cinema bakery diner hostel inn ranch farm",
    "oven stove fridge tv television radio stereo jeans leather bag purse wallet suitcase tent",
    "vino ron queso arbol casa coche carro perro gato caballo empresa tradicion matrimonio relacion edificio",
    "vinho queijo arvore cao cavalo tradicao casamento relacao predio vin fromage arbre maison voiture chien chat",
    "cheval entreprise mariage relation immeuble wein kase kaese baum haus auto hund katze pferd firma tradition",
    "ehe beziehung gebaude formaggio albero cane gatto cavallo azienda tradizione relazione edificio",
    "коньяк виски вино дом дерево дуб собака кошка кот лошадь машина брак стаж опыт юбилей традиция",
)
_OBJECT_AFTER_RE = _c(rf"^[\s-]*(?:{_OBJECT_NOUNS})(?:s|es)?(?:'s)?\b")
_OBJECT_BEFORE_RE = _c(rf"\b(?:{_OBJECT_NOUNS})(?:s|es)?(?:'s)?\b[^.;!?\n]{{0,40}}$")
_PERSON_AFTER_RE = _c(
    r"^[\s-]*(?:\w+\s+){0,2}?(?:girl|girls|boy|boys|kid|kids|child|children|daughter|son|sister|brother|niece|nephew|"
    r"student|students|pupil|teen|teens|woman|man|lady|person|gymnast|cheerleader|model|actress|dancer|twin|twins|"
    r"nina|nino|chica|chico|fille|garcon|madchen|maedchen|junge|ragazza|ragazzo|menina|menino|девочк\w*|мальчик\w*|"
    r"девушк\w*)\b"
)


@functools.cache
def _age_rules() -> list[tuple[re.Pattern, str, str]]:
    """(regex with groups n [n2], number language, kind). kind: plain | subject | object | duration."""
    en = NUM["en"]
    intens = r"(?:\s+(?:only|just|barely|about|around|like|maybe|probably|almost|nearly|now|still|already|not\s+yet" \
             r"|not\s+even|under|roughly|perhaps|supposedly|apparently|really|actually|clearly|obviously|exactly" \
             r"|precisely|a\s+mere|merely|at\s+most|no\s+more\s+than|no\s+older\s+than|around\s+about|like\s+only))*"
    rules: list[tuple[str, str, str]] = [
        # English
        (rf"(?P<n>{en})(?:\s*(?:-|–|to|or|and)\s*(?P<n2>{en}))?[\s\-]*(?:years?|yrs?|yr|y|yrz)[\s\-.]*"
         rf"(?:old|olds|young|of\s+age)\b", "en", "object"),
        (rf"(?P<n>{en})[\s\-]*(?:y\s?\.\s?o\b\.?|y\s?/\s?o\b|yo\b|yos\b|y\s+o\b)", "en", "object"),
        (rf"\b(?:aged?|ages|age\s+of|at\s+the\s+age\s+of|at\s+age|age\s*:|age\s*=){intens}\s*[:=]?\s*(?P<n>{en})"
         rf"(?:\s*(?:-|–|to|or|and)\s*(?P<n2>{en}))?", "en", "object"),
        (rf"\b(?:turning|turned|turns|turn|to\s+be|will\s+be|going\s+on|soon\s+to\s+be|just\s+turned){intens}\s+"
         rf"(?P<n>{en})\b", "en", "plain"),
        (rf"\b(?P<subj>[^\W\d_]+)(?P<verb>'s|’s|'m|’m|\s+(?:is|was|am|are|be|being|looks?|looked|looking|seems?|seemed|"
         rf"appears?|appeared|acts?|turns?|turned|is\s+turning|has\s+just\s+turned|just\s+turned|is\s+now|was\s+only"
         rf"|is\s+only|is\s+just|can't\s+be\s+more\s+than|could\s+pass\s+for|passes\s+for))(?:\s+like)?{intens}\s+"
         rf"(?P<n>{en})\b", "en", "subject"),
        (rf"\b(?P<subj>[^\W\d_]+)s?\s+(?:of|aged){intens}\s+(?P<n>{en})\b", "en", "subject"),
        (rf"\b(?:shes|hes|im|ur|u\s+r){intens}\s+(?P<n>{en})\b", "en", "plain"),  # "shes 15" (no apostrophe)
        (rf"\b(?:looks?|looking|looked|appears?|appearing|seems?|passes\s+for|passing\s+for)(?:\s+like)?{intens}\s+"
         rf"(?P<n>{en})\b", "en", "plain"),
        (rf"\b(?P<subj>[^\W\d_]+)\s*[,(\[]\s*(?:(?:maybe|about|around|perhaps|probably|roughly|aged?|only|just)\s+)?"
         rf"(?P<n>{en})(?:\s*(?:or|to|-|–)\s*(?P<n2>{en}))?\s*(?=[,)\]]|$|\.(?!\d)|\s+(?:years?|yrs?|yo)\b)",
         "en", "subject"),
        (r"(?<![\w/])(?P<n>\d{1,2})\s*/\s*[fmx]\b|\((?P<n2>\d{1,2})\s*[fm]\)", "en", "plain"),
        (rf"\b(?:under|below|younger\s+than|less\s+than|not\s+yet|almost|nearly|soon\s+to\s+be|not\s+even|just\s+under"
         rf"|shy\s+of|short\s+of|barely\s+under|under\s+the\s+age\s+of|below\s+the\s+age\s+of|no\s+older\s+than"
         rf"|not\s+older\s+than)[\s-]+(?:the\s+age\s+of\s+)?(?P<n>{en})(?:\s*-?\s*(?:years?|yrs?)(?:\s*old)?|s\b|'s\b)?",
         "en", "under"),
        (rf"(?P<n>\d{{1,2}})\s*(?:st|nd|rd|th)[\s-]+birthday|\b(?P<n2>{en})[\s-]*(?:year|yr)s?[\s-]+birthday",
         "en", "plain"),
        (rf"\b(?P<n>{en})\s*(?:and\s+a\s+half|½)\b(?=[^.]*\b(?:years?|old|she|he|girl|boy)\b)", "en", "plain"),
        # Spanish
        (rf"\b(?P<pre>tiene|tenia|tendra|cumple|cumplio|cumplir|cumplia|de|con|a\s+los|edad\s+de|apenas|solo|casi"
         rf"|recien\s+cumplidos|que\s+tiene){intens}\s+(?P<n>{NUM['es']})(?:\s*(?:-|a|o|y)\s*(?P<n2>{NUM['es']}))?"
         rf"\s+(?:anos|anitos|primaveras)\b", "es", "duration"),
        (rf"(?P<n>{NUM['es']})\s+(?:anos|anitos)\s+de\s+edad", "es", "plain"),
        # Portuguese
        (rf"\b(?P<pre>tem|tinha|tera|completou|completa|completar|de|com|aos|idade\s+de|apenas|so|quase|que\s+tem)"
         rf"{intens}\s+(?P<n>{NUM['pt']})(?:\s*(?:-|a|ou|e)\s*(?P<n2>{NUM['pt']}))?\s+(?:anos|aninhos|primaveras)\b",
         "pt", "duration"),
        (rf"(?P<n>{NUM['pt']})\s+anos\s+de\s+idade", "pt", "plain"),
        # French
        (rf"\b(?P<pre>a|avait|aura|aurait|ayant|agee?s?\s+de|age\s+de|de|d'|a\s+peine|seulement|presque|qui\s+a"
         rf"|n'a\s+que|n'avait\s+que|a\s+tout\s+juste|vient\s+d'avoir|venait\s+d'avoir|fete\s+ses|aura\s+bientot)"
         rf"{intens}\s*(?P<n>{NUM['fr']})(?:\s*(?:-|a|ou|et)\s*(?P<n2>{NUM['fr']}))?\s+ans\b", "fr", "duration"),
        (rf"(?P<n>{NUM['fr']})\s+ans\s+(?:et\s+demi|passes|tout\s+juste)\b", "fr", "duration"),
        # German
        (rf"(?P<n>{NUM['de']})\s*(?:-\s*)?(?:jahre?n?\s+(?:alt|alte|alter|altes|alten|jung|junge)\b|jahrig\w*"
         rf"|jaehrig\w*|j\.)", "de", "object"),
        (rf"\b(?:im\s+alter\s+von|mit|von|alter\s*:?)\s+(?P<n>{NUM['de']})(?:\s+jahren)?\b", "de", "german_mit"),
        (rf"\b(?P<subj>sie|er|ich|du|die|der|das|kind)\s+(?:ist|war|bin|bist|wird|wurde|sei)"
         rf"(?:\s+(?:erst|gerade|knapp|fast|noch|schon|kaum|nur|etwa|ungefahr))*\s+(?P<n>{NUM['de']})\b", "de",
         "plain"),
        # Italian
        (rf"\b(?P<pre>ha|aveva|avra|avrebbe|compie|compiuto|compiuti|di|a|con|eta\s+di|appena|solo|quasi|che\s+ha)"
         rf"{intens}\s+(?P<n>{NUM['it']})(?:\s*(?:-|a|o|e)\s*(?P<n2>{NUM['it']}))?\s+anni\b", "it", "duration"),
        (r"\b(?P<n>\d{1,2})\s*-?\s*enne\b", "it", "object"),
        # Russian
        (rf"(?P<n>{NUM['ru']})\s*(?:-|\s)?\s*(?:лет|года|год)\b", "ru", "russian"),
        (rf"\b(?:ей|ему|мне|тебе)\s+(?:(?:всего|только|уже|почти|лишь|едва|было|исполнилось)\s+)*(?P<n>{NUM['ru']})\b",
         "ru", "plain"),
        # "una chica de 15", "une fille de 14", "una ragazza di 13", "ein Mädchen von 12": a person and a number
        (r"\b(?:chica|chico|nina|nino|muchacha|muchacho|chavala|chaval|menina|menino|garota|garoto|moca|fille|garcon"
         r"|gamine|ragazza|ragazzo|ragazzina|madchen|maedchen|junge|hija|hijo|filha|filho|figlia|figlio)s?\s+"
         r"(?:de|di|da|von|of)\s+(?:(?:apenas|solo|solamente|so|seulement|nur|erst|only|just)\s+)?(?P<n>\d{1,2})\b",
         "en", "plain"),
        (r"(?P<n>\d{1,2})\s*-?\s*летн\w*", "ru", "object"),
        # Chinese / Japanese
        (r"(?P<n>\d{1,3}|[零〇一二两兩三四五六七八九十]{1,4})\s*(?:周|週|足)?\s*(?:岁|歲|歳|才)(?!月)", "cjk", "plain"),
        # Korean
        (rf"(?P<n>{NUM['ko_native']}|\d{{1,3}})\s?살", "ko_native", "plain"),
        (r"(?:만\s?)?(?P<n>\d{1,3}|[일이삼사오육칠팔구십]{1,4})\s?세"
         r"(?!기|대|계|상|금|트|요|월|탁|제|련|력|균|포|종)", "ko_sino", "plain"),
    ]
    return [(_c(p), lang, kind) for p, lang, kind in rules]


@functools.cache
def _russian_compound_re() -> re.Pattern:
    stems = "|".join(sorted(numbers.RU_STEMS, key=len, reverse=True))
    return _c(rf"(?<![^\W\d_])(?P<stem>{stems})\s?-?\s?летн\w*")


@functools.cache
def _german_compound_re() -> re.Pattern:
    return _c(rf"(?<![^\W\d_])(?P<n>{NUM['de']})\s*-?\s*(?:jahrig\w*|jaehrig\w*)")


@functools.cache
def _italian_compound_re() -> re.Pattern:
    return _c(rf"\b(?P<w>{'|'.join(numbers.IT_ENNE)})\b")


# Capitalised words that start a sentence and are not a person ("It is 15 …", "Today is 12 …").
_NOT_PERSON_CAPS = set(_words(
    "it this that there here what which where when why how time today tonight tomorrow yesterday price cost rent",
    "score result room route chapter page level floor platform gate table number total answer temperature speed",
    "distance height weight size rate count bus train flight year day month apartment suite seat row track episode",
    "season part act scene volume issue version everything nothing something everyone dinner lunch breakfast",
    "the a an and but so then now monday tuesday wednesday thursday friday saturday sunday january february march",
    "april may june july august september october november december one two three four five six seven eight nine",
    "ten another each every all both half most some none any",
).split("|"))


def _is_known_person(word: str, names: frozenset[str]) -> bool:
    low = word.lower()
    return low in _PERSON_SUBJECTS or low in names or low in first_names()


def _is_person_subject(word: str, names: frozenset[str]) -> bool:
    low = word.lower()
    if low in _PERSON_SUBJECTS or low in names:
        return True
    if low in _NOT_PERSON_CAPS:
        return False
    return word[:1].isupper() or low in first_names()


def _age_of(m: re.Match, lang: str, group: str, text: str) -> int | None:
    raw = m.group(group) if group in m.groupdict() else None
    if raw is None:
        return None
    if group == "n" and numbers.is_tail_of_larger(text, m.start(group), m.end(group)):
        return None
    value = numbers.value(raw, lang)
    if value is None and lang == "cjk" and len(raw) > 1:  # "十五六岁" (15 or 16)
        value = numbers.value(raw[:-1], lang)
    return value


_BORN_RE = _c(r"\b(?:born\s+(?:in\s+|on\s+[^.,;]{0,20}?)?|nacid[ao]\s+en\s+|nee?\s+en\s+|geboren\s+(?:im\s+jahr\s+)?"
              r"|nat[ao]\s+nel\s+|nascid[ao]\s+em\s+|родил\w*\s+в\s+)(?P<y>(?:19|20)\d\d)\b"
              r"|(?P<y2>(?:19|20)\d\d)\s*年\s*(?:生|出生)|(?:\b(?:b\.|dob:?)\s*)(?P<y3>(?:19|20)\d\d)\b")


def _born_recently(view: str) -> Iterator[tuple[int, str]]:
    import datetime

    this_year = datetime.date.today().year
    for m in _BORN_RE.finditer(view):
        year = int(m.group("y") or m.group("y2") or m.group("y3"))
        if this_year - year < ADULT_AGE:
            yield this_year - year, m.group(0)


def stated_ages(view: str, names: frozenset[str]) -> Iterator[tuple[int, str]]:
    yield from _born_recently(view)
    for regex, lang, kind in _age_rules():
        for m in regex.finditer(view):
            end = m.end()
            after = view[end:end + 40]
            before = view[max(0, m.start() - 60):m.start()]
            if kind == "subject" and not _is_person_subject(m.group("subj"), names):
                continue
            if _YEARS_LATER_RE.match(after):
                continue  # "she, two years later, ..."
            if (m.groupdict().get("verb") or "") in ("'s", "’s") and not _is_known_person(m.group("subj"), names):
                continue  # "Ocean's 11" is a possessive, "she's 11" is not
            if kind in ("subject", "plain", "under", "german_mit") and _UNIT_AFTER_RE.match(after):
                if not re.match(r"^\s*(?:years?|yrs?)[\s-]*(?:old|young|of\s+age)", after, _F):
                    continue
            if kind == "german_mit" and "jahren" not in m.group(0).lower() and "alter" not in m.group(0).lower():
                continue
            if kind == "object":
                if _OBJECT_AFTER_RE.match(after) and not _PERSON_AFTER_RE.match(after):
                    continue
                if _OBJECT_BEFORE_RE.search(before) and not _PERSON_AFTER_RE.match(after):
                    continue
            if kind in ("duration", "russian"):
                pre = (m.groupdict().get("pre") or "").lower()
                if _DURATION_AFTER_RE.match(after) or _DURATION_BEFORE_RE.search(f"{before}{pre} " if pre else before):
                    continue
                if pre in ("de", "d'", "di", "con", "com", "a") and _OBJECT_BEFORE_RE.search(before):
                    continue
                if kind == "russian" and _DURATION_BEFORE_RE.search(before):
                    continue
            if kind == "russian":
                # "ей 15 лет", "девочка 12 лет", "в 15 лет": a person or "в/с/до" before; not "10 лет назад".
                if not re.search(r"(?:\b(?:ей|ему|мне|тебе|ей\s+было|ему\s+было|исполнилось|в|с|до|возраст\w*|"
                                 r"девоч\w*|мальчик\w*|школьниц\w*|школьник\w*|девушк\w*|сестр\w*|доч\w*|сын\w*|"
                                 r"подрост\w*|ребен\w*|ученик\w*|учениц\w*|она|он|ей\s+исполнилось|всего|только"
                                 r"|почти|лишь)\s*)$", before, _F):
                    continue
            for group in ("n", "n2"):
                age = _age_of(m, lang, group, view)
                if age is not None and (age < ADULT_AGE or (kind == "under" and age <= ADULT_AGE)):
                    yield age, m.group(0)
                    break
    for m in _russian_compound_re().finditer(view):
        if numbers.RU_STEMS[m.group("stem").lower()] < ADULT_AGE and not _OBJECT_AFTER_RE.match(view[m.end():]):
            yield numbers.RU_STEMS[m.group("stem").lower()], m.group(0)
    for m in _german_compound_re().finditer(view):
        age = numbers.value(m.group("n"), "de")
        if age is not None and age < ADULT_AGE and not _OBJECT_AFTER_RE.match(view[m.end():]):
            yield age, m.group(0)
    for m in _italian_compound_re().finditer(view):
        age = numbers.IT_ENNE[m.group("w").lower()]
        if age < ADULT_AGE:
            yield age, m.group(0)
