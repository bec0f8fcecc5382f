"""Does a text describe a minor?  Stated ages, role words and look + cue, in ten languages.

``find_minor_reference(text)`` runs every rule over every view from
``normalise.text_views`` and returns the first phrase that describes someone
under 18, or None.  Rules, in order:

1. stated ages: "15-year-old", "15yo", "16 y.o.", "aged 12", "turning 16",
   "she is 15", "a girl of fifteen", "Emma, 15,", "under 18", "15th birthday";
   "N años/anos/ans/anni/Jahre/лет/岁/歳/살/세" with the age words of each
   language (a duration — "10 years ago", "hace 10 años", "depuis 10 ans" —
   and an object's age — "a 12-year-old whisky", "her 14-year-old dog" — pass);
2. school grades and school types: "grade 8", "9th grader", "middle schooler",
   "a high school student", "she is in junior high" (a teacher, a reunion, a
   sweetheart of her high-school days pass);
3. words that name a child: "kid", "teen", "toddler", "schoolgirl", "niña",
   "écolière", "Schülerin", "ragazzina", "criança", "девочка", "小女孩",
   "女子高生", "초등학생", …, each with its ordinary uses excepted ("kid gloves",
   "kidding", "baby blue", "a minor detail", "A minor", "child's play");
4. a youthful look with a school or childish cue ("young-looking" + "school
   uniform", "a girl with pigtails and a teddy bear").
"""

# ruff: noqa: RUF001, RUF003  (look-alike letters are the subject of this module)

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator

from rendering.safety import numbers
from rendering.safety.normalise import fold, text_views
from rendering.safety.people import first_names

ADULT_AGE = 18
_F = re.IGNORECASE


def _c(pattern: str, flags: int = _F) -> re.Pattern:
    """Compile a rule written in the folded form (so "niña" in a rule matches "nina" in a view)."""
    return re.compile(fold(pattern), flags)


def _words(*groups: str) -> str:
    return "|".join(w for g in groups for w in g.split())


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


def _stated_ages(view: str, names: frozenset[str]) -> Iterator[tuple[int, str]]:
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


# --- school grades and school types ----------------------------------------------------
_ADULT_CONTEXT_AFTER = (
    r"(?!\s*(?:teachers?|teaching|teaches|principals?|staff|faculty|counsell?ors?|nurses?|janitors?|librarians?|"
    r"coach(?:es)?|buildings?|reunions?|sweethearts?|diplomas?|graduates?|graduation\s+photo|yearbooks?|memories|"
    r"friends?|days|years|english|math|maths|science|history|curriculum|textbooks?|level|reading\s+level|dropout|"
    r"degree|equivalent|education|gym\s+teacher|band\s+teacher|prom\s+photo|photo|crush\s+on\s+her\s+teacher)\b)"
)
_ORDINAL_WORDS = "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth"
_SCHOOL_TYPE = (r"(?:(?:elementary|primary|grade|middle|junior\s+high|jr\.?\s*high|high|secondary|prep|preparatory|"
                r"grammar|nursery|pre|kinder|kindergarten|sunday)[\s-]*school|junior[\s-]+high|jr\.?\s*high)")
_SCHOOL_RULES = [
    _c(r"\b(?:grade|year|form|class)\s*(?P<n>\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|"
       r"twelve)\b(?!\s*(?:%|:|\.\d|steel|hurricane|piano|exam|violin|level|tea|diamond|\w*\s+teacher))"
       r"(?=\s+(?:students?|pupils?|girls?|boys?|kids?|children|class|classmates?|classroom|homeroom|uniform)\b"
       r"|[^.]*\b(?:school|student|pupil|classmates?)\b)"),
    _c(rf"\b(?:\d{{1,2}}(?:st|nd|rd|th)|{_words(_ORDINAL_WORDS)})[\s-]*(?:grade|grader|graders|"
       rf"form|former|formers|standard|class)\b{_ADULT_CONTEXT_AFTER}"),
    _c(r"\b(?:pre|grade|middle|high|home|elementary|primary|junior[\s-]*high|kindergarten)[\s-]?schoolers?\b"),
    _c(rf"\b{_SCHOOL_TYPE}\s*(?:students?|pupils?|girls?|boys?|kids?|child|children|freshm[ae]n|sophomores?|juniors?|"
       rf"seniors?|cheerleaders?|athletes?|couples?|crush|prom|uniforms?|age|aged|years?\s+old|class|classmates?"
       rf"|bus|field\s+trip|locker|hallway\s+with\s+students|dance)\b"),
    _c(rf"\b(?:is|was|are|were|'s|am|'m|still|currently|only|just|be|being)\s+(?:(?:still|only|just|currently|now)\s+)?"
       rf"(?:in|at|attending|enrolled\s+in)\s+(?:a\s+|the\s+|her\s+|his\s+)?(?:{_SCHOOL_TYPE}|junior\s+high|"
       rf"\d{{1,2}}(?:st|nd|rd|th)\s+grade|kindergarten|preschool|nursery|{_words(_ORDINAL_WORDS)}"
       rf"\s+grade|grade\s+\d{{1,2}}|year\s+\d{{1,2}}|sixth\s+form)\b{_ADULT_CONTEXT_AFTER}"),
    _c(rf"\b(?:attends?|attending|goes\s+to|going\s+to|enrolled\s+(?:in|at)|still\s+at|starts?|starting"
       rf"|just\s+started|started)\s+"
       rf"(?:a\s+|an\s+|the\s+|her\s+|his\s+)?(?:local\s+|nearby\s+|public\s+|private\s+|new\s+)?{_SCHOOL_TYPE}\b"
       rf"{_ADULT_CONTEXT_AFTER}"),
    _c(rf"\b(?:students?|pupils?|girls?|boys?|kids?|freshm[ae]n|sophomores?|juniors?|seniors?)\s+(?:at|from|of|in)\s+"
       rf"(?:a\s+|an\s+|the\s+|her\s+|his\s+|their\s+)?(?:local\s+|nearby\s+|public\s+|private\s+)?{_SCHOOL_TYPE}\b"),
    _c(r"\b(?:elementary|primary|kindergarten|preschool|toddler|nursery|grade[\s-]school)[\s-]?age[ds]?\b"),
    _c(r"\b(?:school[\s-]?girls?|school[\s-]?boys?|school[\s-]?kids?|school[\s-]?child(?:ren)?|school[\s-]?age[ds]?"
       r"|school[\s-]?aged|sixth[\s-]form(?:ers?)?(?!\s+(?:college\s+)?teachers?)|(?:high|middle|grade)[\s-]school"
       r"[\s-]?(?:aged?))\b"),
    _c(r"\b(?:(?:high|middle|junior\s+high|elementary|primary|secondary)\s+school\s+)?(?:freshm[ae]n|sophomores?)\s+"
       r"(?:in|at)\s+(?:a\s+|the\s+)?(?:high|middle|junior\s+high)\b"),
    _c(r"\b(?:kindergart(?:e|n)ers?|kindergarteners?|preschoolers?|pre[\s-]?schoolers?|nursery[\s-]school(?:ers)?"
       r"|first[\s-]graders?|toddlerhood)\b"),
    _c(rf"\b(?:kindergarten|preschool|nursery\s+school|day\s*care|daycare)\b{_ADULT_CONTEXT_AFTER}(?!\s+(?:center|"
       r"centre)\s+(?:staff|teacher))(?=[^.]*\b(?:kids?|child|children|girl|boy|her|his|she|he|class|playing|plays)\b)"),
]
_NAMED_SCHOOL_RE = re.compile(
    r"(?i:\b(?:students?|pupils?|girls?|boys?|kids?|freshm[ae]n|sophomores?|juniors?|seniors?|cheerleaders?"
    r"|(?:she|he)\s+(?:is|was)|(?:she|he)'s)\s+(?:at|from|of|in|attends|goes\s+to)\s+)"
    r"(?:[A-Z][\w'.-]+\s+){1,3}(?:High|Middle|Elementary|Junior\s+High|Prep)\b(?!\s+(?:School\s+)?(?:teacher|staff))"
)
_TEACH_BEFORE_RE = _c(r"\b(?:teach|teaches|taught|teaching|teacher|teachers|tutor|tutors|substitute|professor|"
                      r"principal|coach|coaches|coaching|instructor)\b[^.]{0,25}$")


def _school_role(view: str) -> str | None:
    for regex in (*_SCHOOL_RULES, _NAMED_SCHOOL_RE):
        for m in regex.finditer(view):
            if _TEACH_BEFORE_RE.search(view[max(0, m.start() - 40):m.start()]):
                continue
            return m.group(0)
    return None


# --- words that name a child -----------------------------------------------------------
_EN_CHILD = _c(
    r"\b(?:child(?!(?:'s|s')\s+play)|children(?!'s\s+(?:books?|bookstore|library|literature|authors?|illustrators?|"
    r"menu|section|department|hospital|museum|television|tv|shows?|songs?|stor(?:y|ies)|toys?|clothing|clothes|wear|"
    r"charity|charities|rights|fund)\b)|childs|kid(?!\s*(?:gloves?|leather|goat|skin|suede|mohair|you|me|around|"
    r"-?friendly|-?free|-?safe|-?proof)\b)|kids(?!'?[\s-]*(?:-?friendly|-?free|menus?)\b)|kiddos?|kiddies?|kiddy|minors"
    r"|teens?|teenagers?|teenage|teenaged|teenie|teenies|teenybopper|pre-?teens?|tweens?|tweenagers?|tweenies?"
    r"|underage|under-age|underaged|schoolgirls?|schoolboys?|schoolkids?|schoolchild|schoolchildren|toddlers?"
    r"|infants?|newborns?|neonates?|babies(?!'\s+breath)|lolis?|lolita(?!\s+(?:fashion|dress|dresses|style\s+dress|"
    r"outfit|coord))|lolitas|lolicon|shotas?|shotacon|jailbait|prepubescent|pre-pubescent|pubescent|adolescents?"
    r"|juveniles?|youngsters?|nymphets?|ageplay|age\s+play|ddlg|moppets?|bairns?|wee\s+(?:lass|lad|bairn|one|girl|"
    r"boy)|little\s+ones?|lil\s+(?:girl|boy|kid)s?|young\s+(?:girls?|boys?|child|children|kids?|daughters?|sons?|"
    r"lass|lad|teens?)|little\s+(?:girls?|boys?|kids?|child|children|lass|lad)|small\s+(?:girls?|boys?|child|"
    r"children|kids?)|tiny\s+(?:girls?|boys?|tots?|humans?|child|kids?)|(?:girl|boy)\s+child|cub\s+scouts?"
    r"|(?:a|the|little|tiny)\s+tots?\b(?!\s*-)|minor\s+(?:girls?|boys?|child|children|kids?|females?|males?"
    r"|daughters?|sons?)|under\s*-?\s*eighteens?|under[\s-]?18s|u-?1[0-7]s?(?=\s+(?:team|player|girls?|boys?|"
    r"squad|league))|barely\s+legal|jail\s*bait|child[\s-]?(?:bride|model|actress|actor|star|pageant)s?"
    r"|(?:loli|shota)[\s-]?(?:con|style|body|art)|childlike\s+(?:body|bodies|figure|frame|features|face|proportions"
    r"|build|physique|anatomy)|child[\s-]like\s+(?:body|bodies|figure|frame|features|face|proportions|build|physique)"
    r"|(?:looks?|looking|looked|appears?|seems?|resembles?)\s+(?:like\s+)?(?:a\s+|an\s+)?(?:little\s+)?(?:child|kid"
    r"|minor|teen|teenager|schoolgirl|preteen|middle[\s-]schooler|high[\s-]schooler|twelve[\s-]year[\s-]old)"
    r"|looks?\s+(?:under\s*age|underage|under\s+18|way\s+too\s+young|too\s+young|prepubescent)"
    r"|bat\s+mitzvah|bar\s+mitzvah|b'nai\s+mitzvah|quinceaneras?|quinceañeras?|sweet\s+(?:sixteen|16)"
    r"|(?:her|his)\s+(?:first|1st)\s+(?:day\s+of\s+(?:school|kindergarten|first\s+grade)|communion)"
    r")\b"
)
# "kid"/"child" in a simile ("grinning like a kid", "laughed like a child") is not a child on screen.
_SIMILE_BEFORE_RE = _c(r"(?<!look)(?<!looks)(?<!looking)(?<!appears)(?<!seems)(?<!resembles)(?<!dressed)"
                       r"\s+like\s+(?:a\s+|an\s+|the\s+)?(?:little\s+|happy\s+|giddy\s+|excited\s+|small\s+)?$")
_ADULT_ONLY_CHILD_RE = _c(
    r"\b(?:inner|only|poster|problem|middle|eldest|oldest|youngest|adult|grown|grown-up|foster|wild|love|flower)\s+"
    r"child(?:ren)?\b|\bwith\s+child\b|\bkid\s+(?:sister|brother)\b|\b(?:karate|billy\s+the|cisco|new)\s+kids?\b"
    r"|\b(?:the\s+)?kids\s+(?:are\s+alright|these\s+days)\b|\bteen\s+(?:vogue|titans|spirit)\b"
    r"|\bchild\s+(?:support|custody|psychologist|psychology|development|care\s+worker|protection)\b"
    r"|\bchildhood\b|\bjuvenile\s+(?:hawk|bird|eagle|salmon|fish|plumage|delinquency\s+law)\b"
    r"|\bfriends?\s+since\s+(?:they|we|she|he)\s+were\s+kids\b|\b(?:he|she|it|who|one)\s+kids\b"
    r"|\b(?:goats?|does?|nanny\s+goats?|billy\s+goats?|ewes?)\b[^.]{0,25}\bkids?\b|\bkid[\s-]+(?:leather|gloves?)\b"
    r"|\b(?:had|have|has|having|want|wants|wanted|raising|raised|no|without)\s+(?:a\s+)?kids?\s+"
    r"(?:last|this|next|of\s+(?:her|his|their)\s+own|yet|together|someday|one\s+day|and|at\s+home|in\s+college)\b"
)
# "minor" as a noun: "she is a minor", "with a minor." — not "a minor detail", "in A minor", "a minor key".
_MINOR_NOUN_RE = _c(
    r"(?<!\bin\s)(?<!\bof\s)(?<![b-g]\s)(?<![b-g]-)(?<!\bsharp\s)(?<!\bflat\s)\b(?:a|the|is\s+a|was\s+a|with\s+a|"
    r"to\s+a|and\s+a|as\s+a|involving\s+a|depicting\s+a|showing\s+a|of\s+a|still\s+a|technically\s+a|clearly\s+a"
    r"|obviously\s+a|underage|female|male)\s+minor\b(?=\s*(?:[.,;:!?)\"']|$|\s+(?:girl|boy|child|who|wearing|in\s+(?!"
    r"(?:the\s+)?key)|at|with|and|on|sitting|standing|lying|walking|posing|dressed|named|called|she|he|her|his)\b))"
)
_MINOR_PLAIN_RE = _c(r"\b(?:is|was|still|technically|legally)\s+(?:a\s+)?minor\b(?!\s+(?:detail|issue|problem|"
                     r"character|role|part|thing|point|injury|league|key|chord|scale|change|adjustment|flaw|"
                     r"inconvenience|setback|celebrity|miracle|mistake|error|concern|difference))")
_BABY_IDIOMS = _words(
    "blue pink yellow green grand carrot carrots spinach shower showers steps step back oil powder face faced",
    "doll dolls",
    "bump talk fat hair teeth food boom boomer boomers wipes wipe sitter sitting monitor name names book photos photo",
    "pictures picture shoes clothes gift gifts registry bottle bottles formula cakes corn potatoes octopus squid bok",
    "kale arugula greens lettuce tomatoes cucumbers shark elephant animal animals bird birds goat goats deer fox seal",
    "turtle dragon dino dinosaur fern yoda driver daddy mama momma giraffe otter panda bear lion tiger lamb chick",
    "duck duckling owl penguin tortoise whale dolphin rabbit bunny kangaroo koala monkey gorilla horse pony cow pig",
    "sheep hedgehog squirrel raccoon sloth alpaca llama camel hippo rhino zebra crocodile alligator snake spider cat",
    "kitten dog puppy of steps' fever proof-ish grand's boutique store shop aisle section furniture crib-shopping",
)
_BABY_RE = _c(
    rf"\b(?:a|an|the|her|his|their|our|newborn|crying|sleeping|little|tiny|infant|chubby|swaddled|cradling|rocking|"
    rf"nursing|breastfeeding|bathing|diapering)\s+bab(?:y|ies)\b(?!'s\s+breath)(?![\s-]+(?:{_BABY_IDIOMS})\b)"
    rf"(?!\s+of\s+the\s+(?:family|group|team|house|band))"
)
_BABY_NOT_BEFORE_RE = _c(r"\b(?:having|expecting|pregnant\s+with|want|wants|wanted|to\s+have|trying\s+for|"
                         r"sugar|like)\s*$")

# Other languages. Word boundaries do not work for CJK: those lists match anywhere.
_LATIN_LANG_CHILD = _c(
    r"\b(?:"
    # Spanish
    r"ninas?|ninos?|ninitas?|ninitos?|nenas?|nenes?|chiquillas?|chiquillos?|muchachitas?|muchachitos?|chamaquitas?"
    r"|colegialas?|colegiales|escolares|adolescentes?|preadolescentes?|menor(?:es)?\s+de\s+(?:edad|18|dieciocho)"
    r"|(?:una|un|unos|unas|con|la|el)\s+menor(?:es)?(?=\s*(?:[.,;:!?)]|$|\s+(?:que|de\s+edad|en|con|vestid\w*|"
    r"llamad\w*|y)\b))|(?:alumn[ao]s?|estudiantes?)\s+de\s+(?:primaria|secundaria|la\s+escuela|el\s+colegio|"
    r"instituto|bachillerato|preparatoria|la\s+secundaria|la\s+primaria|\d+(?:o|a|º|ª)?\s+grado)"
    r"|(?<!profesora\s)(?<!profesor\s)(?<!maestra\s)(?<!maestro\s)(?<!docente\s)(?:en|de|a)\s+(?:la\s+)?"
    r"(?:secundaria|primaria|prepa)|bebes|infantes?|criaturas?\s+de\s+\d"
    # Portuguese
    r"|criancas?|meninas?|meninos?|garotinhas?|garotinhos?|novinhas?|ninfetas?|pirralh[ao]s?|menor(?:es)?\s+de"
    r"\s+idade|(?:alun[ao]s?|estudantes?)\s+do\s+ensino\s+(?:fundamental|medio)|colegiais"
    # French
    r"|enfants?|fillettes?|petites?\s+filles?(?!-)|petits?\s+garcons?|gamin(?:e|es|s)?|ecolieres?|ecoliers?"
    r"|collegiennes?|collegiens?|lyceennes?|lyceens?|adolescentes?|(?:une|la|les|des|cette|ma|sa|ton|ta)\s+ados?"
    r"|(?:une|des|les)\s+mineures?|fille\s+mineure|bebes?\s+(?:qui|dans)|nourrissons?|preados?"
    # German
    r"|kinder(?=\s+(?:spielen|spielten|laufen|sitzen|stehen|im|in|auf|und|mit|,|\.))|kindern|kleinkinder?n?"
    r"|kleine[sn]?\s+(?:madchen|maedchen|kind|junge|jungen)|kleiner\s+junge|schulmadchen|schulmaedchen"
    r"|schuljungen?|schulerinn?e?n?|schuelerinn?e?n?|schuler(?=\s)|schueler(?=\s)|grundschuler\w*|grundschueler\w*"
    r"|gymnasiast\w*|minderjahrig\w*|minderjaehrig\w*|jugendliche[rn]?|teenie[s]?|saugling\w*|saeugling\w*"
    r"|(?:ein|das|dem|des|ihr|sein|kleines|junges|zwei|drei)\s+kind(?:es)?"
    # Italian
    r"|bambin[aeio]|bimb[ae]|ragazzin[aeio]|fanciullin[aeio]|scolar(?:etta|etto|ette|etti)|alunn[aeio]|liceal[ei]"
    r"|studentess[ae]\s+(?:delle\s+medie|delle\s+elementari|del\s+liceo)|minorenn[ei]|neonat[aeio]"
    r"|adolescenti|preadolescent[ei]"
    r")\b"
)
_CYRILLIC_CHILD = _c(
    r"(?<![^\W\d_])(?:ребен\w*|детск\w*\s+сад\w*|дети|детей|детям|детьми|детях|девочк\w*|девчонк\w*|девчушк\w*"
    r"|мальчик\w*|мальчишк\w*|школьниц\w*|школьник\w*|подрост\w*|несовершеннолет\w*|малолет\w*|младен\w*"
    r"|малыш\w*|лолит\w*|лоли\b|ученик\w*|учениц\w*|старшекласс\w*|первокласс\w*|пятикласс\w*|семикласс\w*"
    r"|восьмикласс\w*|девятикласс\w*|детсад\w*|дошкольн\w*|школьного\s+возраста|\d{1,2}\s*-?\s*(?:го|ого|м|й)?\s*"
    r"класс\w*\s*(?:школ\w*)?)"
)
_CJK_CHILD = re.compile(
    r"小孩|孩子(?!气|氣)|兒童|儿童|幼儿|幼兒|婴儿|嬰兒|小女孩|小男孩|少女(?!漫画|漫畫|マンガ|まんが)|幼女|萝莉|蘿莉|正太|未成年"
    r"|中学生|中學生|初中生|高中生|小学生|小學生|学生妹|學生妹|女童|男童|青少年|小朋友|女学生|女學生|女中学生|女高中生"
    r"|初中女生|初中男生|高中女生|高中男生|小学女生|中学女生|國中生|国中生|中二|高一女生|高二女生|高三女生"
    r"|十几岁|十幾歲|十多岁|子供|子ども|こども|少年(?!漫画|漫畫|マンガ|ジャンプ|誌|院)|幼児|児童|女児|男児|赤ちゃん|赤ん坊"
    r"|ロリ(?!ータ(?:ファッション|服))|ショタ|女子高生|女子中学生|女子小学生|高校生|園児|ランドセル|女子校生|幼稚園児|小学校低学年"
    r"|(?:小学|中学|高校)[0-9一二三四五六]年|(?<![0-9])1[0-9]?代(?=の|で|に|少女|女|男|\s|$)|十代"
    r"|(?<![가-힣])(?:초등학생|중학생|고등학생|여중생|여고생|남중생|남고생|초딩|중딩|고딩|유치원생|어린이|어린아이|아동|미성년자?"
    r"|소녀|소년|아기|아이|꼬마|여아|남아|청소년|10대|십대|여학생|남학생)"
    r"(?:들|이|가|은|는|을|를|와|과|랑|이랑|의|에게|한테|도|만|야|아|로|으로|에|처럼|같은|같이|였|였다|이다|입니다|예요|이에요)*"
    r"(?![가-힣])"
)
_ACCENTED_CHILD = re.compile(r"\b(?:beb[éê]s?|bébés?|niñ[ao]s?|niñit[ao]s?)\b", re.IGNORECASE)
_JK_RE = re.compile(r"(?<![A-Za-z])(?:JK|JC|JS|jk|jc)(?![A-Za-z])")
_HAS_CJK_RE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af]")

# --- look + cue ------------------------------------------------------------------------
_YOUNG_LOOK_RE = _c(
    r"\b(?:young[\s-]*looking|looks?\s+(?:very\s+|so\s+|really\s+)?young|looking\s+young|youthful(?:[\s-]looking)?"
    r"|baby[\s-]?faced?|babyface|petite|girlish|boyish[\s-]+(?:girl|figure|body)|innocent[\s-]looking|flat[\s-]chested"
    r"|childlike|child[\s-]like|tiny\s+(?:body|frame|figure)|small\s+(?:body|frame|figure)|undeveloped"
    r"|underdeveloped|immature\s+(?:body|figure|looks?)|doll[\s-]like|童颜|童顔|ロリ顔|幼い|동안|앳된)\b"
)
_GIRL_BOY_RE = _c(r"\b(?:girls?|boys?|lass(?:ie)?|lads?|gal|chica|chico|fille|madchen|maedchen|ragazza|ragazzo"
                  r"|menina|garota|garoto|девушк\w*|女孩|男孩|女の子|男の子|여자아이|남자아이)\b")
_CUE_RE = _c(
    r"(?:\b(?:school[\s-]?uniforms?|uniform\s+of\s+(?:her|his)\s+school|school[\s-]?bags?|school[\s-]?backpacks?"
    r"|book[\s-]?bags?|pigtails|bunches|hair\s+bows?|lollipops?|lollies|teddy(?:\s+bears?)?|stuffed\s+(?:animals?|"
    r"toys?|bunny|bear)|plushies?|plush\s+toys?|pacifiers?|diapers?|nappy|nappies|onesies?|crayons?|colou?ring\s+"
    r"books?|sippy\s+cups?|training\s+bras?|knee[\s-]?(?:high\s+)?socks|mary\s+janes|sailor\s+(?:uniforms?|suits?|"
    r"collars?|fuku)|pleated\s+skirts?|plaid\s+skirts?|gym\s+(?:uniforms?|shorts|bloomers)|bloomers|recess|"
    r"homework|school[\s-]?desks?|school[\s-]?bus|playground|swing[\s-]?sets?|jungle\s+gym|sandbox|cartoon\s+"
    r"backpacks?|randoseru|seifuku|field\s+trip|report\s+cards?|training\s+wheels|juice\s+box(?:es)?|nap\s+time"
    r"|bedtime\s+stor(?:y|ies)|braces\s+on\s+(?:her|his)\s+teeth|uniforme\s+escolar|uniforme\s+scolaire"
    r"|schuluniform|divisa\s+scolastica|школьн\w+\s+форм\w*|(?:her|his)\s+(?:mom|mommy|dad|daddy|parents)\s+"
    r"(?:drops?|picks?|tucks?)|tucked\s+in(?:to)?\s+bed\s+by)\b)"
    r"|ランドセル|セーラー服|校服|制服|교복|体操服|ブルマ|スク水|スクール水着|紅領巾|红领巾"
)
_OWN_SCHOOL_RE = _c(r"\b(?:her|his|their|its)\s+(?:school[\s-]uniforms?|school[\s-]?bags?|school[\s-]?backpacks?|"
                    r"homework|class(?:mates|room)\s+(?:at|in)\s+(?:middle|primary|elementary|high)|teachers?\s+"
                    r"(?:scolds?|calls?|tells?)\s+(?:her|him)|first\s+day\s+of\s+school|school\s+play|recess)\b")
_ADULT_ROLE_RE = _c(r"\b(?:teachers?|professors?|tutors?|instructors?|lecturers?|principals?|mother|father|mom|"
                    r"dad|parents?|aunt|uncle|nanny|babysitter|woman|women|man|men|adults?|grown[\s-]?ups?|lady"
                    r"|gentleman|wife|husband)\b")


def _look_and_cue(view: str) -> str | None:
    if m := _OWN_SCHOOL_RE.search(view):
        return m.group(0)
    cue = _CUE_RE.search(view)
    if cue is None:
        return None
    if look := _YOUNG_LOOK_RE.search(view):
        return f"{look.group(0)} + {cue.group(0)}"
    if (kid := _GIRL_BOY_RE.search(view)) and not _ADULT_ROLE_RE.search(view):
        return f"{kid.group(0)} + {cue.group(0)}"
    return None


def _child_word(view: str) -> str | None:
    for m in _EN_CHILD.finditer(view):
        word = m.group(0).lower()
        before = view[max(0, m.start() - 40):m.start()]
        if word.split()[-1] in ("kid", "kids", "child", "children") and _SIMILE_BEFORE_RE.search(before):
            continue
        if _ADULT_ONLY_CHILD_RE.search(view[max(0, m.start() - 20):m.end() + 25]):
            span = _ADULT_ONLY_CHILD_RE.search(view[max(0, m.start() - 20):m.end() + 25])
            start = max(0, m.start() - 20) + span.start()
            if start <= m.start() < start + len(span.group(0)) or m.start() <= start < m.end():
                continue
        return m.group(0)
    for regex in (_MINOR_NOUN_RE, _MINOR_PLAIN_RE):
        if m := regex.search(view):
            return m.group(0)
    for m in _BABY_RE.finditer(view):
        if not _BABY_NOT_BEFORE_RE.search(view[max(0, m.start() - 30):m.start()]):
            return m.group(0)
    for regex in (_LATIN_LANG_CHILD, _CYRILLIC_CHILD, _CJK_CHILD, _ACCENTED_CHILD):
        if m := regex.search(view):
            return m.group(0)
    if _HAS_CJK_RE.search(view) and (m := _JK_RE.search(view)):
        return m.group(0)
    return None


def find_minor_reference(text: str, *, names: Iterable[str] = ()) -> str | None:
    """The phrase that makes ``text`` describe someone under 18, or None.

    ``names`` are the cast's names, so "Mira is 15" counts as a person's age.
    """
    if not text or not text.strip():
        return None
    cast = frozenset(part.lower() for n in names for part in fold(n).split() if part)
    for view in text_views(text):
        if found := _child_word(view):
            return found
        for _age, phrase in _stated_ages(view, cast):
            return phrase
        if found := _school_role(view):
            return found
        if found := _look_and_cue(view):
            return found
    return None
