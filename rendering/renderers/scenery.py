"""The words a renderer can draw: places (kits), props, weather and time of day.

One table per kind, shared by the CPU previz (which maps a beat's free text to
what it draws) and by companion's scene extractor (which reads a conversation
with the same tables, so every setting it writes is one the previz can draw).
Patterns are plain regular expressions over lower-cased English; order
matters where noted: more specific entries come first. Over 400 lines because
it is mostly word tables, kept in one place on purpose (issue 12: one source
for the scene vocabulary).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rendering.beat import TimeOfDay, Weather


def _re(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


@dataclass(frozen=True)
class Place:
    """A kind of place the previz has a kit for.

    ``nouns`` name it; ``ambiguous`` nouns ("bar", "study", "bed") count only after
    a locative ("in the study"), since they are often not places at all.
    ``inside_of`` lists kits this place is a room of ("lamp room" of a "lighthouse"),
    so "in the lighthouse ... across the lamp room floor" draws the room;
    ``interior`` is the kit for "inside the <place>", ``outside`` for "outside the <place>".
    """

    kit: str
    nouns: str
    indoor: bool
    ambiguous: str = ""
    inside_of: tuple[str, ...] = ()
    interior: str = ""
    outside: str = ""


# Most specific first: at the same position, the earlier entry wins.
PLACES: tuple[Place, ...] = (
    Place("lamp_room", r"lamp[- ]?room|lantern[- ]room|lens room|watch room|lamp gallery", True,
          inside_of=("lighthouse",), outside="lighthouse"),
    Place("bedroom", r"bedroom|bedchamber|dorm(?:itory)? room|guest room|hotel room|motel room", True,
          ambiguous=r"bed|bunk", inside_of=("room",), outside="field"),
    Place("library", r"library|bookshop|bookstore|book shop|archives?|reading room|scriptorium", True,
          ambiguous=r"study", inside_of=("room",), outside="street"),
    Place("spaceship", r"space ?ship|starship|spacecraft|space station|star ?cruiser|airlock|observation deck|"
          r"engine room|cargo bay|med ?bay|escape pod", True,
          ambiguous=r"cockpit|bridge|freighter|cruiser|shuttle|corvette|frigate|ship|deck|hull", inside_of=("room",)),
    Place("train", r"train|carriage|compartment|railway car|dining car|sleeper car|subway|metro|tram", True,
          ambiguous=r"platform|station", outside="street"),
    Place("car", r"car|truck|taxi|jeep|pickup|convertible|sedan|limo(?:usine)?|minivan|camper ?van|"
          r"driver'?s seat|passenger seat|front seat|back ?seat|dashboard", True, ambiguous=r"cab|van|coupe",
          outside="street"),
    Place("cafe", r"caf[eé]s?|coffee ?shop|coffee ?house|tea ?(?:house|shop|room)|pub|tavern|inn|restaurant|"
          r"diner|bistro|bakery|saloon|night ?club|cocktail lounge|speakeasy|izakaya|brewery|canteen",
          True, ambiguous=r"bar|club|counter|booth", outside="street"),
    Place("rooftop", r"roof ?tops?|roof terrace|rooftop terrace|balcony|fire escape|penthouse terrace|terrace",
          False, ambiguous=r"roof"),
    Place("lighthouse", r"light ?house|beacon tower", False, ambiguous=r"gallery", interior="lamp_room"),
    Place("harbour", r"harbou?r(?:side| wall| front)?|docks?|dockside|quay(?:side)?|wharf|marina|pier|jetty|"
          r"boardwalk|fishing village|seaport|boathouse|slipway|breakwater", False),
    Place("ship", r"ship'?s? deck|deck of (?:the|a|her|his) (?:ship|boat)|sailboat|sailing ship|galleon|ferry|"
          r"yacht|schooner|trawler", False, ambiguous=r"deck|ship|boat"),
    Place("beach", r"beach(?:es)?|shore(?:line)?|seashore|seaside|sea ?front|coast(?:line)?|cove|bay|"
          r"sandbar|tide ?pools?|ocean|sea", False, ambiguous=r"sand|surf|waves|water"),
    Place("forest", r"forests?|woods|woodland|grove|glade|jungle|thicket|rainforest|pine ?wood|orchard|"
          r"enchanted wood|swamp|marsh|bog|pines|pine trees|oaks|birches|redwoods", False,
          ambiguous=r"clearing|trees|wood"),
    Place("mountain", r"mountains?|mountainside|peak|summit|ridge|cliffs?|cliff ?top|valley|canyon|gorge|"
          r"glacier|hillside|hilltop|crag|slopes?|volcano", False, ambiguous=r"trail|rocks|hills?|pass"),
    Place("desert", r"desert|dunes|oasis|wasteland|badlands|savanna", False),
    Place("street", r"streets?|alley(?:way)?|avenue|boulevard|sidewalk|pavement|crosswalk|plaza|piazza|city|"
          r"downtown|town square|market(?:place)?|bazaar|high street|main street|crossroads|bus stop|"
          r"neighbou?rhood|village square|old town|highway|parking lot", False,
          ambiguous=r"square|corner|road|town|village|market"),
    Place("field", r"fields?|meadows?|gardens?|park|farm(?:yard)?|countryside|prairie|plains|grassland|"
          r"vineyard|graveyard|cemetery|campsite|campground|courtyard|lawn|riverbank|lakeside|lake|river|"
          r"pond|waterfall|bridge|ruins|fairground|funfair|carnival|amusement park|theme park|festival grounds?|"
          r"stadium|arena|ballpark|football pitch|sports field", False, ambiguous=r"camp|yard|grass|pitch|stands"),
    Place("room", r"rooms?|living ?room|sitting room|lounge|kitchen|apartment|house|home|cabin|cottage|hut|"
          r"office|studio|classroom|school|hallway|hall|corridor|attic|cellar|basement|workshop|chamber|"
          r"castle|palace|throne room|great hall|mansion|manor|church|cathedral|chapel|temple|shrine|museum|"
          r"art gallery|hotel|lobby|shop|store|hospital|infirmary|lab(?:oratory)?|tent|barn|greenhouse|"
          r"observatory|theat(?:re|er)|ballroom|dungeon|cave|cavern|tower|dojo|gym|staircase|stairwell|"
          r"bathroom|dining room|parlou?r|conservatory|bunker|stable|mill|forge|smithy|"
          r"warehouse|garage|nursery|salon|boutique|arcade|cinema|airport|terminal|arrivals hall|departure lounge|"
          r"waiting room|hospital room|concert hall|opera house|gym", True,
          ambiguous=r"indoors|inside|cell|den|keep|stage|ward|flat", outside="field"),
)
PLACE_BY_KIT = {p.kit: p for p in PLACES}


def _place_re(pattern: str) -> re.Pattern[str]:
    return _re(rf"\b(?:{pattern})\b")


PLACE_RES: tuple[tuple[Place, re.Pattern[str], re.Pattern[str] | None], ...] = tuple(
    (p, _place_re(p.nouns), _place_re(p.ambiguous) if p.ambiguous else None) for p in PLACES
)
# Words that make a preceding place noun a thing, not a place: "harbour road", "library card", "car keys".
NOT_PLACE_AFTER = _re(
    r"^(?:[-\s]+)(?:road|roads|guild|master|keeper'?s?|keys?|card|ticket|tickets|book|map|chart|photo|photos|"
    r"picture|painting|smell|scent|sound|noise|light|lights|lamp|owner|cat|dog|radio|alarm|wreck|crash|"
    r"accident|model|toy|song|story|stories|trip|ride|chase|fare|driver|people|folk|workers|crew|dust|"
    r"boy|girl|man|woman|rat|fever|party|music|game|games|money|bill|talk|gossip)\b"
)
_LOCATIVES = (r"out of|in front of|on top of|next to|in|inside|within|at|on|onto|upon|into|across|along|through|"
              r"by|near|beside|under|beneath|underneath|over|above|below|beyond|opposite|around|outside|behind|among|"
              r"amid|throughout|past|"
              r"against|atop|aboard|alongside|toward|towards|to|from|off|up|down")
_BEFORE_NOUN = _re(
    rf"\b({_LOCATIVES})\s+((?:(?:the|a|an|her|his|my|your|our|their|this|that|its|some|one of the)\s+)?"
    rf"(?:(?!(?:{_LOCATIVES})\b)[\w'\u2019-]+\s+){{0,3}})$"  # the nearest locative: no other one in between
)
_MOTION = _re(
    r"\b(?:go|goes|went|going|gone|walk\w*|run|runs|ran|running|head\w*|lead\w*|led|driv\w*|drove|come|comes|"
    r"came|coming|return\w*|arriv\w*|step\w*|climb\w*|wander\w*|stroll\w*|hurr\w*|rush\w*|mov\w*|drag\w*|"
    r"pull\w*|take|takes|took|taking|bring\w*|brought|follow\w*|get|gets|got|make|makes|made|back|way|"
    r"sail\w*|row\w*|swim\w*|fly|flies|flew|ride\w*|rode|escap\w*|slip\w*|duck\w*|race\w*|dash\w*|"
    r"welcome)\b[^.!?]{0,30}$"
)
_LEAVING = {"from", "out of", "off"}
# "onto the dance floor of the nightclub", "in the corner of the library": the place is where the part is.
_PART_OF = _re(
    rf"\b({_LOCATIVES})\s+(?:the|a|an|her|his|their|its)\s+(?:[\w'-]+\s+){{0,2}}?"
    r"(?:floor|dance floor|corner|edge|middle|centre|center|top|bottom|end|back|front|side|heart|depths|door|"
    r"doorway|steps|entrance|window|roof|far side|other side)\s+of\s+"
    r"((?:(?:the|a|an|her|his|my|your|our|their|this|that|its)\s+)?(?:[\w'\u2019-]+\s+){0,2})$"
)
# "walks the wet streets", "enters the café", "leaves the bar": a verb whose object is the place itself
_CROSSING = _re(r"\b(walk\w*|wander\w*|roam\w*|stroll\w*|cross\w*|explor\w*|enter\w*|leav(?:e|es|ing)|left|"
                r"climb\w*|patrol\w*|sail\w*|hik(?:e|es|ed|ing))\s+(?:the|a|an|her|his|their|our|my|your)\s+"
                r"(?:[a-z'\u2019-]+\s+){0,2}$")
# Broad areas that hold places: a text naming both "the city" and "her office" is set in the office.
AREA_WORDS = {"city", "town", "village", "downtown", "neighbourhood", "neighborhood", "countryside", "old town",
              "kingdom", "island", "coast", "coastline", "valley", "desert", "mountains", "sea", "ocean"}
_POSSESSIVE = _re(r"(?:\b(?:her|his|their|my|your|our)|\b[A-Z][a-z]+(?:'s|\u2019s))\s+"
                  r"(?:(?!(?:the|a|an|is|was|has|and|to)\b)[a-z'\u2019-]+\s+){0,2}$")
SPACE_CONTEXT = _re(r"\b(?:space|planet\w*|saturn|jupiter|mars|orbit\w*|hyperdrive|warp|galax\w*|asteroid\w*|"
                    r"nebula\w*|light[- ]years?|starship|spaceship|zero[- ]g\w*|airlock)\b")
# Names of places by their endings ("the Greywood", "Port Haven"): a proper noun after a locative.
NAME_SUFFIXES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^[A-Z][a-z]*(?:wood|woods|forest|grove|weald|holt)$"), "forest"),
    (re.compile(r"^[A-Z][a-z]*(?:haven|port|harbou?r|quay)$"), "harbour"),
    (re.compile(r"^[A-Z][a-z]*(?:ridge|peak|crag|fell|mount|tor)$"), "mountain"),
    (re.compile(r"^[A-Z][a-z]*(?:strand|sands|beach|cove|bay)$"), "beach"),
    (re.compile(r"^[A-Z][a-z]*(?:moor|moors|field|fields|meadow|dale)$"), "field"),
)
# What people do where: the last clue to a place when no place is named (weak evidence only).
ACTIVITY_HINTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (_re(r"\bsurf\w*|\bpaddl\w* out\b|\bsandcastles?\b|\bseashells?\b|\bthe break\b|\bthe tide\b"), "beach"),
    (_re(r"\bsteering wheel\b|\bseat ?belt\b|\bwindshield\b|\bglove ?box\b|\brear-?view mirror\b|\bhighway\b"),
     "car"),
    (_re(r"\bhyperdrive\b|\bairlock\b|\bzero[- ]g(?:ravity)?\b|\bspace ?suit\b|\bthe console\b"), "spaceship"),
    (_re(r"\blattes?\b|\bespresso\b|\bcappuccino\b|\bbarista\b|\bcroissants?\b|\btankards?\b|\bale\b|\bmead\b"),
     "cafe"),
    (_re(r"\bbookshel\w*|\bthe stacks\b|\bcard catalogue\b"), "library"),
    (_re(r"\bharness\b|\bcrampons\b|\bice axe\b|\bbelay\w*|\bsummit\b|\bski\w*\b"), "mountain"),
    (_re(r"\bcampfire\b|\btent\b|\bsleeping bag\b|\bhorses?\b|\bmeadow\b"), "field"),
    (_re(r"\bduvet\b|\bunder the covers\b|\bbedsheets?\b|\bpillows?\b"), "bedroom"),
    (_re(r"\bsofa\b|\bcouch\b|\bfireplace\b|\bkettle\b|\bthe oven\b|\bstove\b|\bwindowsill\b"), "room"),
    (_re(r"\bcompartment\b|\bthe rails\b|\bconductor\b"), "train"),
)
HINT_PHRASES = {"beach": "beach", "car": "front seat of a car", "spaceship": "bridge of a spaceship", "cafe": "café",
                "library": "library", "mountain": "mountainside", "field": "open meadow", "bedroom": "bedroom",
                "room": "living room", "train": "train compartment"}


def hinted_kit(text: str) -> str | None:
    """A kit guessed from what happens in ``text`` ("surfs", "the steering wheel"), or None."""
    for pattern, kit in ACTIVITY_HINTS:
        if pattern.search(text or ""):
            return kit
    return None
_DIRECTIONAL = {"to", "toward", "towards", "up", "down"}
_PHRASE_STOP = {
    "the", "a", "an", "our", "my", "your", "her", "his", "their", "this", "that", "to", "in", "at", "on", "by",
    "of", "into", "onto", "through", "along", "across", "near", "under", "over", "around", "from", "with", "and",
    "toward", "towards", "inside", "outside", "down", "up", "me", "you", "us", "walk", "walks", "go", "come",
    "is", "are", "was", "were", "be", "it", "i", "we", "she", "he", "they", "back", "its", "some", "out",
    "beside", "behind", "past", "upon", "within", "off", "for", "as", "while", "than", "then", "so", "but",
    "or", "if", "when", "where", "there", "here", "all", "both", "every", "each", "any", "no", "not", "one",
}
_CONTINUE = _re(r"^\s+(of|on|at|by|in|near|overlooking|beside|above|below|under|outside)\s+"
                r"((?:the|a|an|her|his|my|your|our|their)\s+)?((?:[\w'\u2019-]+\s+){0,2})$")


@dataclass(frozen=True)
class PlaceMention:
    """A place named in a text: its kit, a short phrase for it, and how sure the text is that it is *here*.

    strength: 2 = "in/at/on/across the X" (or moving to it), 1 = named without a locative,
    0 = being left ("from the X").
    """

    kit: str
    phrase: str
    strength: int
    start: int
    moving: bool = False
    deictic: bool = False  # "this/here": a speaker pointing at where they are
    area: bool = False  # a broad area ("the city") rather than a place in it


def _phrase_adjectives(text: str, start: int) -> list[str]:
    kept: list[str] = []
    for word in reversed(re.findall(r"[\w'\u2019-]+", text[max(0, start - 40):start])[-2:]):
        w = word.strip("'\u2019-")
        if not w or w.lower() in _PHRASE_STOP or w.lower().endswith(("ly",)) or w[0].isupper():
            break
        kept.insert(0, w.lower())
    return kept


def _raw_mentions(text: str) -> list[tuple[int, int, int, Place, bool]]:
    """(start, end, rank, place, ambiguous) for each place noun, without overlaps (the longest, earliest wins)."""
    found = []
    for rank, (place, nouns, ambiguous) in enumerate(PLACE_RES):
        for pattern, is_ambiguous in ((nouns, False), (ambiguous, True)):
            if pattern is None:
                continue
            for m in pattern.finditer(text):
                found.append((m.start(), m.end(), rank, place, is_ambiguous))
    found.sort(key=lambda f: (f[0], -(f[1] - f[0]), f[2]))
    kept: list[tuple[int, int, int, Place, bool]] = []
    end = -1
    for item in found:
        if item[0] >= end:
            if kept and re.fullmatch(r"[\s-]{1,2}", text[kept[-1][1]:item[0]]):
                # a compound ("city street", "lighthouse lamp room"): English puts the head noun last
                first = kept.pop()
                item = (first[0], item[1], item[2], item[3], item[4] and first[4])
            kept.append(item)
            end = item[1]
    return kept


def place_mentions(text: str) -> list[PlaceMention]:
    """Every place ``text`` names, in order, with a phrase and a strength (see PlaceMention)."""
    text = text or ""
    out: list[PlaceMention] = []
    raw = _raw_mentions(text)
    space = bool(SPACE_CONTEXT.search(text))
    consumed: set[int] = set()
    for index, (start, end, _rank, place, ambiguous) in enumerate(raw):
        if index in consumed or NOT_PLACE_AFTER.match(text[end:]):
            continue
        if space and place.kit in ("ship", "field") and re.fullmatch(
                r"(?:ship|deck|bridge|hull)", text[start:end], re.IGNORECASE):
            place, ambiguous = PLACE_BY_KIT["spaceship"], False  # "the bridge" of a ship in space
        elif place.kit == "spaceship" and ambiguous and space:
            ambiguous = False
        before = _PART_OF.search(text[max(0, start - 80):start]) or _BEFORE_NOUN.search(text[max(0, start - 80):start])
        prep = before.group(1).lower() if before else ""
        possessive = bool(_POSSESSIVE.search(text[max(0, start - 40):start]))
        if ambiguous and ((not prep and not possessive) or re.match(r"\s+of\b", text[end:])):
            continue  # "the corner of the library" is the library
        moving = False
        crossing = _CROSSING.search(text[max(0, start - 40):start])
        if not prep and crossing:
            strength, moving = (0, False) if crossing.group(1).lower().startswith("leav") else (2, True)
        elif not prep:
            strength = 2 if possessive else 1  # "Ash's office", "her bakery": where the character is at home
        elif prep in _LEAVING:
            leaving = _MOTION.search(text[max(0, start - 80):start - len(before.group(0))])
            strength = 0 if leaving else 1
        elif prep in _DIRECTIONAL:
            moving = bool(_MOTION.search(text[max(0, start - 80):start - len(before.group(0))]))
            strength = 2 if moving else 1
        else:
            strength = 2
            moving = prep == "into"
        det = (before.group(2) if before else "").lower()
        deictic = det.startswith("this") or bool(re.search(r"\b(?:here|welcome)\b", text[max(0, start - 30):start],
                                                           re.IGNORECASE))
        noun = text[start:end].lower().replace("-", " ")
        words = [*_phrase_adjectives(text, start), noun]
        kit = place.kit
        if index + 1 < len(raw) and raw[index + 1][0] - end <= 40:
            # "lamp room of the old lighthouse", "small lighthouse on a rocky coast"
            nxt = raw[index + 1]
            cont = _CONTINUE.match(text[end:nxt[0]])
            inside_vehicle = cont and cont.group(1).lower() in ("in", "on") and nxt[3].kit in VEHICLES
            if cont and not inside_vehicle and not NOT_PLACE_AFTER.match(text[nxt[1]:]):
                article = (cont.group(2) or "").strip().lower()
                article = f"{article} " if article in ("the", "a", "an") else ("the " if article else "")
                words += [cont.group(1).lower(), f"{article}{cont.group(3).lower()}{text[nxt[0]:nxt[1]].lower()}"]
                consumed.add(index + 1)
        phrase = " ".join(" ".join(words).split())
        if ambiguous:  # "bar", "counter", "sand" name a place only with their locative: keep it
            phrase = f"{prep if prep in ('in', 'at', 'on', 'inside', 'by') else 'at'} the {phrase}"
        if kit != "rooftop" and re.match(r"roof ?tops?\b|roof\b", phrase):
            kit = "rooftop"  # "rooftop garden", "rooftop bar": the picture is the roof
        if prep in ("in", "inside", "within", "into") and place.interior:
            kit, phrase = place.interior, f"inside the {phrase}"
        elif prep == "outside" and place.outside:
            kit, phrase = place.outside, f"outside the {phrase}"
        area = noun in AREA_WORDS
        out.append(PlaceMention(kit, phrase, strength, start, moving, deictic, area))
    for m in re.finditer(rf"\b(?:{_LOCATIVES})\s+(?:the\s+)?([A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)", text):
        last = m.group(1).split()[-1]
        kit = next((k for pattern, k in NAME_SUFFIXES if pattern.match(last)), None)
        if kit is not None and not any(o.start <= m.start(1) < o.start + len(o.phrase) + 12 for o in out):
            out.append(PlaceMention(kit, f"{m.group(1)} {KIT_NOUNS[kit]}", 2, m.start(1)))
    out.sort(key=lambda m: m.start)
    return out


KIT_NOUNS = {"lamp_room": "lamp room", "bedroom": "bedroom", "library": "library", "spaceship": "spaceship",
             "train": "train", "car": "car", "cafe": "café", "rooftop": "rooftop", "lighthouse": "lighthouse",
             "harbour": "harbour", "ship": "ship's deck", "beach": "beach", "forest": "forest", "mountain": "mountains",
             "desert": "desert", "street": "street", "field": "fields", "room": "room"}
VEHICLES = {"car", "train", "ship", "spaceship"}


def place_kit(setting: str) -> str:
    """The kit to draw for a free-text setting: the kit of its first located place noun, else its first
    place noun (the head of "lamp room of a lighthouse", "café on a city street"); "room" or "field"
    when none matches."""
    mentions = [m for m in place_mentions(setting) if m.strength > 0]
    located = [m for m in mentions if m.strength == 2 and not m.area]
    if located and not (mentions[0].start == 0 or mentions[0].strength == 2):
        return located[0].kit
    if mentions:
        return mentions[0].kit
    return "room" if _re(r"\b(?:inside|indoors|interior)\b").search(setting or "") else "field"


def setting_phrase(mention: PlaceMention) -> str:
    """The mention's phrase, made to name its kit on its own ("bridge of the freighter" read in a
    space story is drawn as a spaceship: "bridge of the freighter, aboard a spaceship")."""
    if place_kit(mention.phrase) == mention.kit:
        return mention.phrase
    return f"{mention.phrase}, {'aboard' if mention.kit in VEHICLES else 'in'} a {KIT_NOUNS[mention.kit]}"


def names_a_place(text: str) -> bool:
    return any(m.strength > 0 for m in place_mentions(text))


def is_indoor_kit(kit: str) -> bool:
    place = PLACE_BY_KIT.get(kit)
    return bool(place and place.indoor)


# --- weather and time of day ---------------------------------------------------------

# Strongest first: a storm beats the rain and wind it brings.
WEATHER_CUES: tuple[tuple[re.Pattern[str], Weather], ...] = (
    (_re(r"\bstorm(?:s|y|ing)?\b|\bthunder\w*|\blightning\b|\bgales?\b|\btempest\w*|\bsquall\w*|\bhurricane\b|"
         r"\btyphoon\b|\bmonsoon\b|\bcloudburst\b"), Weather.STORM),
    (_re(r"\bsnow\w*|\bblizzard\w*|\bflurr(?:y|ies)\b|\bsleet\b|\bfrost\w*|\bwintry\b"), Weather.SNOW),
    (_re(r"\brain(?:s|y|ing|ed|drops?|fall|soaked|water)?\b|\bdownpour\b|\bdrizzl\w*|"
         r"\b(?:rain|april|passing|light|heavy) showers?\b|\b(?:it'?s|it is|still|now) pouring\b|\bpouring rain\b|"
         r"\bwet (?:street|pavement|road|cobble)\w*|\bpuddles?\b|\bumbrellas?\b"), Weather.RAIN),
    (_re(r"\bfog(?:gy|s)?\b|\bmist(?:y|s)?\b|\bhaz(?:e|y)\b|\bsea ?fret\b"), Weather.FOG),
    (_re(r"\bwind(?:s|y|swept|blown)?\b|\bgusts?\b|\bgusty\b|\bbreez(?:e|y)\b|\bblustery\b|\bhowl(?:s|ing)? wind\b"),
     Weather.WIND),
)
# "the rain has stopped", "after the storm": the weather named is over.
WEATHER_OVER = _re(
    r"\b(?:rain|storm|snow|fog|mist|wind|thunder|downpour)\w*\s+(?:has\s+|have\s+|had\s+|finally\s+|is\s+)?"
    r"(?:stop(?:s|ped)?|ended|ends|passe[sd]|cleared|clears|lift(?:s|ed)|eas(?:es|ed)|died down|dies down|"
    r"over|gone)\b|\b(?:after|since) the (?:rain|storm|snow)\b|\bclear(?:ed)? sk(?:y|ies)\b"
)
_STILL_GOING = _re(r"\b(?:until|till|til|before|once|when|wait(?:ing)? for|if)\s+(?:the\s+)?$")
TIME_CUES: tuple[tuple[re.Pattern[str], TimeOfDay], ...] = (
    (_re(r"\bdawn\b|\bsunrise\b|\bdaybreak\b|\bfirst light\b|\bsun (?:comes|came|is coming) up\b|\bearly morning\b"),
     TimeOfDay.DAWN),
    (_re(r"\bdusk\b|\bsunset\b|\bsundown\b|\btwilight\b|\bgolden hour\b|\bevening\b|\bclosing time\b|"
         r"\bend of the day\b|\bafter work\b|\bsun (?:hangs |sits |is )?low\b|\blate afternoon\b|"
         r"\bsun (?:sets|is setting|goes down)\b"),
     TimeOfDay.DUSK),
    (_re(r"\bnight\w*|\bmidnight\b|\btonight\b|\bmoon\w*|\bstars?\b|\bstarlit\b|\bstarry\b|\bdark(?:ness)? outside\b|"
         r"\bpitch[- ]dark\b|\bafter dark\b|\b(?:nine|ten|eleven|twelve|one|two|three) (?:o'clock )?at night\b|"
         r"\bfireflies\b|\bnocturnal\b|\bfireworks\b|\bbedtime\b|\bpast midnight\b|\bsmall hours\b|"
         r"\b[1-4] ?a\.?m\.?\b|\bnightclub\b|\bgood ?night\b|\bcity lights\b|\blights twinkl\w*|"
         r"\bturn(?:s|ing)? off the lights?\b|\bconstellations?\b|\bfloodlights?\b|"
         r"\b(?:is|was|lies|sits) (?:pitch )?dark\b|\bin the dark(?:ness)?\b"),
     TimeOfDay.NIGHT),
    (_re(r"\bmorning\b|\bnoon\b|\bmidday\b|\bafternoon\b|\bdaylight\b|\bdaytime\b|\bsunny\b|\bsunshine\b|"
         r"\bsunlight\b|\bsunlit\b|\bbright day\b|\bbreakfast\b|\blunch(?:time)?\b|\bblue sky\b|\bsun\b"),
     TimeOfDay.DAY),
)


def first_cue(text: str, table):
    """The value of the first pattern of ``table`` found in ``text``, or None."""
    for pattern, value in table:
        if pattern.search(text or ""):
            return value
    return None


# Weather words that are not weather: "storms out of the room", "a rain check", "a brainstorm".
NOT_WEATHER = _re(
    r"\bstorm(?:s|ed|ing)?\s+(?:out|off|away|in|into|over|up|past|through|across)\b|\brain ?checks?\b|"
    r"\bsnow(?:ed|ing)? (?:under|me|you|him|her)\b|\bshowers? (?:you|her|him|them|me) with\b|"
    r"\b(?:a|the) storm of\b|\bwind(?:s|ing)? (?:up|down|the (?:clock|watch))\b|\bsecond wind\b|"
    r"\bget(?:s|ting)? wind of\b|\bmist(?:y|s)[- ]eyed\b|\bfoggy (?:memory|head|mind)\b|"
    r"\bbreez(?:e|es|ed) (?:in|through|past)\b"
)


def weather_in(text: str) -> Weather | None:
    """The weather ``text`` names (CLEAR when it says the weather named is over), or None."""
    if not text:
        return None
    text = NOT_WEATHER.sub(" ", text)
    over = [m for m in WEATHER_OVER.finditer(text)
            if not _STILL_GOING.search(text[max(0, m.start() - 25):m.start()])]
    if over:
        rest = text
        for m in reversed(over):
            rest = rest[:m.start()] + " " + rest[m.end():]
        return first_cue(rest, WEATHER_CUES) or Weather.CLEAR
    return first_cue(text, WEATHER_CUES)


def time_in(text: str) -> TimeOfDay | None:
    return first_cue(text, TIME_CUES)


# --- props -------------------------------------------------------------------------------

# prop name -> pattern; a number word before the noun gives a count ("four mugs").
PROPS: dict[str, re.Pattern[str]] = {
    "lamp": _re(r"\b(?:desk |oil |table |reading |bedside |paraffin )?lamps?\b(?![- ]?room)"),
    "lantern": _re(r"\blanterns?\b(?![- ]room)"),
    "candle": _re(r"\bcandles?\b|\bcandlesticks?\b|\btealights?\b"),
    "window": _re(r"\bwindows?\b|\bwindow ?sill\b|\bwindowpanes?\b|\bpanes?\b|\bporthole\b"),
    "table": _re(r"\btables?\b|\bdesks?\b|\bworkbench\b|\bcounter\b"),
    "mug": _re(r"\bmugs?\b|\bcups?\b|\bteacups?\b|\bcoffee\b|\btea\b|\bcocoa\b"),
    "glass": _re(r"\bwine ?glass(?:es)?\b|\bglass(?:es)? of\b|\btumblers?\b|\bgoblets?\b|\bchampagne\b|\bcocktails?\b"),
    "bottle": _re(r"\bbottles?\b|\bwine\b|\bwhisk(?:e)?y\b|\bbeer\b"),
    "chart": _re(r"\bcharts?\b|\bmaps?\b|\bblueprints?\b|\bscrolls?\b"),
    "book": _re(r"\bbooks?\b|\bnotebooks?\b|\bjournals?\b|\bdiar(?:y|ies)\b|\bnovels?\b|\btomes?\b|\bsketchbook\b"),
    "letter": _re(r"\bletters?\b|\benvelopes?\b|\bpapers?\b|\bnotes?\b(?! of)|\bpostcards?\b"),
    "boat": _re(r"\bboats?\b|\bships?\b|\bsailboats?\b|\bdinghy\b|\browboats?\b|\btrawlers?\b|\byachts?\b|\bferry\b"),
    "umbrella": _re(r"\bumbrellas?\b|\bparasols?\b"),
    "plant": _re(r"\bplants?\b|\bflowers?\b|\bbouquet\b|\bvase\b|\broses?\b|\btulips?\b|\blilies\b"),
    "clock": _re(r"\bclocks?\b"),
    "painting": _re(r"\b(?:a|an|the|her|his|old|oil|framed)\s+paintings?\b|\bpicture frames?\b|\bcanvas\b|"
                    r"\bposters?\b"),
    "bed": _re(r"\bbeds?\b|\bpillows?\b|\bblankets?\b|\bduvet\b"),
    "fireplace": _re(r"\bfireplace\b|\bhearth\b|\bstove\b"),
    "campfire": _re(r"\bcampfire\b|\bbonfire\b|\bfire pit\b"),
    "bench": _re(r"\bbench(?:es)?\b"),
    "chair": _re(r"\bchairs?\b|\barmchairs?\b|\bstools?\b|\bsofa\b|\bcouch\b"),
    "telescope": _re(r"\btelescopes?\b|\bspyglass(?:es)?\b"),
    "guitar": _re(r"\bguitars?\b|\blute\b"),
    "streetlamp": _re(r"\bstreet ?lamps?\b|\blamp ?posts?\b|\bstreet ?lights?\b"),
    "sign": _re(r"\bneon signs?\b|\bsigns?\b|\bbillboards?\b"),
    "shelf": _re(r"\bshel(?:f|ves)\b|\bbookcases?\b|\bbookshel(?:f|ves)\b"),
}
NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "a pair of": 2, "a couple of": 2, "both": 2,
    "several": 3, "some": 3, "a few": 3, "many": 6, "dozens of": 8,
}
_COUNT_RE = _re(r"\b(a pair of|a couple of|a few|dozens of|\d{1,2}|" + "|".join(
    w for w in NUMBER_WORDS if " " not in w) + r")\s+(?:[\w'-]+\s+){0,2}$")
MAX_COUNT = 12


def props_in(text: str) -> list[tuple[str, int]]:
    """(prop, count) for every prop ``text`` names, in the order first named; count 1 unless stated."""
    found: dict[str, tuple[int, int]] = {}
    for name, pattern in PROPS.items():
        for m in pattern.finditer(text or ""):
            word = m.group(0).lower()
            plural = word.endswith("s") and not word.endswith(("ss", "glass"))
            count = 2 if plural else 1
            before = _COUNT_RE.search((text or "")[max(0, m.start() - 40):m.start()])
            if before:
                token = before.group(1).lower()
                count = int(token) if token.isdigit() else NUMBER_WORDS.get(token, count)
            count = max(1, min(MAX_COUNT, count))
            if name not in found:
                found[name] = (m.start(), count)
            else:
                found[name] = (found[name][0], max(found[name][1], count))
    return [(name, count) for name, (_, count) in sorted(found.items(), key=lambda kv: kv[1][0])]
