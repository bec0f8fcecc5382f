"""The deterministic reading of a scene: the lexicon fallback, and the evidence a model is checked against.

Each field is looked for in a fixed order of sources, and the first that has it
wins (its source is kept, so a model's answer can be weighed against it):

1. the message: narration first (``*actions*``, narrative sentences), then speech;
2. the few messages before it (newest first);
3. the conversation's setting so far (beats of earlier clips);
4. the persona's scenario and triggered lorebook entries;
5. memories.

A place counts as *where the scene is* when a locative says so ("in the lamp
room", "along the beach", "walks down to the harbour"); a place only named
("the harbour road is closed", "looks out at the harbour") is weaker evidence
and is used only when nothing stronger is known. So a conversation that has been
at a lighthouse on a stormy night stays there until the story moves.
(A little over 400 lines: one reader per field, each short, read best together.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from companion.chat.models import Message
from companion.evolve.scenes import lexicon, reading
from companion.evolve.scenes.context import SceneContext, resolve_macros
from rendering.beat import CameraMove, Framing, Lighting, TimeOfDay, Weather
from rendering.renderers import scenery

MAX_ACTION = 300
MAX_SPEECH = 160
MAX_PROPS = 8
_LOOKING_AT = re.compile(
    r"\b(?:look|gaze|stare|glance|peer|watch|point|squint|nod|gesture|wave)\w*\b[^.!?;]{0,40}?\b(?:at|toward|towards|"
    r"over|across|to|out)\s+(?:the|a|an|her|his|their|our|your)?\s*(?:[\w'-]+\s+){0,2}$",
    re.IGNORECASE,
)
# Places without daylight: a torch or a lamp is the light there.
_UNDERGROUND = re.compile(r"\b(?:dungeon|cave|cavern|cellar|basement|crypt|tomb|catacombs?|mine ?shaft|tunnel|"
                          r"sewers?|vault|bunker)s?\b", re.IGNORECASE)
# A locative in a clause about the sky or the weather places that, not the character:
# "as the sun sets over the rooftops", "rain drums on the roof".
_SCENERY_SUBJECT = re.compile(
    r"\b(?:sun|moon|light|lights|rain|snow|wind|sky|stars|clouds|fog|mist|waves|smoke|shadows?|birds|lightning|"
    r"thunder|storm|dawn|dusk|sunset|sunrise|beam|glow)\s+(?:[\w'-]+\s+){0,3}$",
    re.IGNORECASE,
)
NIGHT_LIGHTS = (Lighting.NEON, Lighting.MOONLIGHT, Lighting.CANDLELIGHT, Lighting.FIRELIGHT)
_NUMBER_NAMES = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine",
                 10: "ten", 11: "eleven", 12: "twelve"}
_PLURALS = {"glass": "glasses", "bench": "benches", "shelf": "shelves", "fireplace": "fireplaces",
            "campfire": "campfires", "streetlamp": "street lamps"}


@dataclass
class SceneReading:
    """What the rules read, each value with where it came from ("message", "context", "beat",
    "scenario", "lore", "memory", "default", ...)."""

    setting: str
    kit: str
    setting_from: str
    setting_strength: int  # 2 located, 1 named, 0 default
    action: str
    narrated: bool  # the action is the message's own narration
    speech: str
    time_of_day: TimeOfDay | None
    time_from: str
    weather: Weather | None
    weather_from: str
    light_source: Lighting | None
    lighting: Lighting
    camera: CameraMove | None  # None: no cue (a model's choice, else the default below)
    framing: Framing | None
    mood: str
    mood_from: str
    props: list[str] = field(default_factory=list)
    overcast: bool = False
    lamps: bool = False
    default_camera: CameraMove = CameraMove.STATIC  # by what the action is, when nothing cues a move
    default_framing: Framing = Framing.MEDIUM

    @property
    def indoor(self) -> bool:
        return scenery.is_indoor_kit(self.kit)


@dataclass
class _Text:
    """One source text, split and resolved once."""

    source: str
    raw: str
    narration: str
    speech: str


def _read_text(ctx: SceneContext, source: str, text: str, *, role: str = Message.Role.PERSONA) -> _Text:
    text = resolve_macros(text, persona_name=ctx.persona_name, user_name=ctx.user_name)
    split = reading.split_message(text)
    pronoun = reading.persona_pronoun(getattr(ctx.persona, "appearance", ""))
    if role == Message.Role.USER:  # the user's "I" is the user
        persona, user = ctx.user_name or "the user", ctx.persona_name
    else:
        persona, user = ctx.persona_name, ctx.user_name or "the user"
    narration = " ".join(
        reading.with_subject(reading.resolve_people(n, persona=persona, user=user, persona_pronoun=pronoun), persona)
        for n in split.narration
    )
    return _Text(source, text, narration, " ".join(split.speech))


def _sources(ctx: SceneContext) -> tuple[_Text, list[_Text], list[_Text]]:
    """(the message, the messages before it newest first, background: scenario, lore, memories)."""
    message = _read_text(ctx, "message", ctx.message.content)
    before = [_read_text(ctx, "context", m.content, role=m.role) for m in reversed(ctx.before)]
    background = [_Text("scenario", ctx.scenario, ctx.scenario, "")]
    background += [_Text("lore", e, e, "") for e in ctx.lore]
    background += [_Text("memory", m, m, "") for m in ctx.memories]
    return message, before, background


# --- place ---------------------------------------------------------------------------------


def _mentions(text: str) -> list[scenery.PlaceMention]:
    out = []
    for m in scenery.place_mentions(text):
        window = text[max(0, m.start - 60):m.start]
        if m.strength == 2 and not m.moving and (_LOOKING_AT.search(window) or _SCENERY_SUBJECT.search(window)):
            m = scenery.PlaceMention(m.kit, m.phrase, 1, m.start, area=m.area)  # looking at a place is not being there
        out.append(m)
    return out


def _best(mentions: list[scenery.PlaceMention], strength: int) -> scenery.PlaceMention | None:
    """A mention of at least ``strength``: where the text moves to, else the first located one."""
    candidates = [m for m in mentions if m.strength >= strength]
    if not candidates:
        return None
    moving = [m for m in candidates if m.moving]
    if moving:
        return moving[-1]
    return next((m for m in candidates if not m.area), candidates[0])  # "her office" over "the city"


def _refine(chosen: scenery.PlaceMention, texts: list[str]) -> scenery.PlaceMention:
    """A room of the chosen building named nearby is the sharper setting: "in the old lighthouse" with
    "the lamp room" named too is "lamp room of the old lighthouse"."""
    inside = chosen.phrase.startswith("inside the ")
    for text in texts:
        for m in scenery.place_mentions(text):
            place = scenery.PLACE_BY_KIT.get(m.kit)
            if m.strength == 0 or place is None or m.phrase.startswith(("inside the ", "outside the ")):
                continue
            if inside and m.kit == chosen.kit:
                phrase = f"{m.phrase} of the {chosen.phrase.removeprefix('inside the ')}"
                return scenery.PlaceMention(m.kit, phrase, chosen.strength, chosen.start, chosen.moving)
            if chosen.kit in place.inside_of:
                return scenery.PlaceMention(m.kit, m.phrase, chosen.strength, chosen.start, chosen.moving)
    return chosen


def read_place(ctx: SceneContext, message: _Text, before: list[_Text], background: list[_Text]
               ) -> tuple[str, str, str, int]:
    """(setting phrase, kit, source, strength): the first strong evidence in source order, else the weak."""
    narration, speech = _mentions(message.narration), _mentions(message.speech)
    located: list[tuple[str, list[scenery.PlaceMention]]] = [("message", narration)]
    located.append(("message", [m for m in speech if m.deictic]))  # "welcome to my bookshop"
    located += [("context", _mentions(t.narration)) for t in before]
    for source, mentions in located:
        if (m := _best(mentions, 2)) is not None:
            m = _refine(m, [message.raw])
            return scenery.setting_phrase(m), m.kit, source, 2
    for beat in ctx.previous_beats:
        setting = (beat.get("setting") or "").strip()
        if setting and not lexicon.is_placeholder(setting) and scenery.names_a_place(setting):
            return setting, scenery.place_kit(setting), "beat", 2
    located_speech = [m for m in speech if (m.strength == 2 and not m.moving) or m.deictic]
    if (m := _best(located_speech, 2)) is not None:  # "meet me under the sign outside the club"
        return scenery.setting_phrase(m), m.kit, "message", 2
    for text in background:
        if (m := _best(_mentions(text.narration), 2)) is not None:
            m = _refine(m, [text.raw, message.raw])
            return scenery.setting_phrase(m), m.kit, text.source, 2
    weak = [(t.source, _mentions(t.narration)) for t in background]
    weak += [("message", narration), ("message", speech)]
    weak += [("context", _mentions(f"{t.narration} {t.speech}")) for t in before]
    for source, mentions in weak:
        if (m := _best(mentions, 1)) is not None:
            m = _refine(m, [message.raw, ctx.scenario])
            return scenery.setting_phrase(m), m.kit, source, 1
    # no place named anywhere: what happens may still say where ("paddles out", "the steering wheel")
    for source, text in [("message", message.raw), *((t.source, t.raw) for t in (*before, *background))]:
        if (kit := scenery.hinted_kit(text)) is not None:
            return scenery.HINT_PHRASES[kit], kit, source, 1
    return lexicon.DEFAULT_SETTING, "room", "default", 0


# --- time, weather, light -------------------------------------------------------------------------


def _first_in(texts: list[tuple[str, str]], find) -> tuple[object | None, str]:
    for source, text in texts:
        value = find(text)
        if value is not None:
            return value, source
    return None, "default"


def _beat_value(ctx: SceneContext, key: str, enum):
    for beat in ctx.previous_beats:
        try:
            return enum(beat.get(key)), "beat"
        except ValueError:
            continue
    return None, "default"


def read_time(ctx: SceneContext, message: _Text, before: list[_Text], background: list[_Text]):
    value, source = _first_in([("message", message.raw), *((t.source, t.raw) for t in before)], scenery.time_in)
    if value is None:
        value, source = _beat_value(ctx, "time_of_day", TimeOfDay)
    if value is None:
        value, source = _first_in([(t.source, t.raw) for t in background], scenery.time_in)
    return value, source


COMPATIBLE_WEATHER = {  # a message naming part of the weather already known keeps the whole of it
    (Weather.WIND, Weather.STORM), (Weather.RAIN, Weather.STORM), (Weather.WIND, Weather.SNOW),
    (Weather.WIND, Weather.RAIN),
}


def read_weather(ctx: SceneContext, message: _Text, before: list[_Text], background: list[_Text]):
    """The first weather named, in source order, widened by later sources that name the whole of it
    (a gust in the message, a storm in the scenario: the storm)."""
    found: list[tuple[Weather, str]] = [(w, "message")] if (w := scenery.weather_in(message.raw)) else []
    found += [(w, t.source) for t in before if (w := scenery.weather_in(t.raw)) is not None]
    beat_weather, _ = _beat_value(ctx, "weather", Weather)
    if beat_weather is not None and beat_weather != Weather.CLEAR:
        found.append((beat_weather, "beat"))
    found += [(w, t.source) for t in background if (w := scenery.weather_in(t.raw)) is not None]
    if not found:
        return None, "default"
    weather, source = found[0]
    for later, _later_source in found[1:]:
        if (weather, later) in COMPATIBLE_WEATHER:
            weather = later  # widened: the gust was part of the storm
        elif later != weather and (later, weather) not in COMPATIBLE_WEATHER:
            break  # other weather, further back: it has changed since
    return weather, source


def read_light_source(message: _Text, before: list[_Text], background: list[_Text], *,
                      carried_setting: bool) -> Lighting | None:
    own = lexicon.first_match(message.raw, lexicon.LIGHT_SOURCE_CUES)
    if own is not None or not carried_setting:
        return own
    # candles lit a few messages ago still burn (and the scenario's fire still roars) while the scene stays put
    texts = [t.narration for t in before[:4]] + [t.raw for t in background[:1]]
    return next((v for text in texts if (v := lexicon.first_match(text, lexicon.LIGHT_SOURCE_CUES))), None)


# --- action, speech, props, camera, mood -----------------------------------------------------------


def _sentences_for_action(narration: str, persona: str) -> str:
    chosen: list[str] = []
    total = 0
    for sentence in reading.sentences(narration):
        s = reading.with_subject(sentence.strip(), persona)
        if not s or lexicon.is_placeholder(s):
            continue
        if total + len(s) > MAX_ACTION and chosen:
            break
        chosen.append(s if s[-1] in ".!?…" else f"{s}.")
        total += len(s) + 1
        if len(chosen) >= 3:
            break
    action = " ".join(chosen)
    return action[:MAX_ACTION].rstrip()


_SPOKEN_GESTURES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(?:ha(?:ha)+|lol|lmao|laugh\w*|giggl\w*|hehe\w*)\b|😂|🤣|😆", re.I), "laughs"),
    (re.compile(r"\b(?:sorry|sad|miss you|cry\w*|tears?)\b|😢|😭|💔", re.I), "looks down softly"),
    (re.compile(r"\b(?:hello|hi|hey|good (?:morning|evening|afternoon)|welcome|greetings)\b|👋", re.I), "waves"),
    (re.compile(r"\b(?:whisper\w*|shh+|secret)\b", re.I), "leans in"),
    (re.compile(r"😉|😏|\b(?:tease|teasing|wink)\b", re.I), "grins"),
    (re.compile(r"\b(?:love|darling|dear|sweetheart)\b|❤|😘|🥰", re.I), "smiles warmly"),
    (re.compile(r"\?\s*$|\?[\"”]?\s", re.I), "tilts her head"),
    (re.compile(r"!"), "gestures"),
]


def spoken_action(speech: str, persona: str, user: str, pronoun: str) -> str:
    """A visible action for a message that is only speech: who speaks, to whom, with a gesture."""
    gesture = next((g for pattern, g in _SPOKEN_GESTURES if pattern.search(speech)), "smiles")
    if gesture == "tilts her head":
        gesture = {"she": "tilts her head", "he": "tilts his head"}.get(pronoun, "tilts their head")
    return f"{persona} {gesture} and talks with {user}."


def speech_line(speech: str) -> str:
    """The subtitle: the first sentence or two of what is said, trimmed at a word."""
    text = reading.clean(speech)
    if len(text) <= MAX_SPEECH:
        return text
    out = ""
    for sentence in reading.sentences(text):
        if len(out) + len(sentence) + 1 > MAX_SPEECH:
            break
        out = f"{out} {sentence}".strip()
    if not out:
        out = text[:MAX_SPEECH].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return out


def prop_phrase(name: str, count: int) -> str:
    if count <= 1:
        return name
    plural = _PLURALS.get(name, f"{name}s")
    return f"{_NUMBER_NAMES.get(count, str(count))} {plural}"


def read_props(*texts: str) -> list[str]:
    seen: dict[str, int] = {}
    for text in texts:
        for name, count in scenery.props_in(text):
            seen[name] = max(seen.get(name, 0), count)
    return [prop_phrase(n, c) for n, c in list(seen.items())[:MAX_PROPS]]


def _stage_mood(stage: str) -> str:
    s = stage.lower()
    if any(w in s for w in ("partner", "romance", "lover", "intimate", "close")):
        return "tender"
    if any(w in s for w in ("friend", "acquaint")):
        return "friendly"
    if any(w in s for w in ("stranger", "new")):
        return "reserved"
    return ""


def read_mood(ctx: SceneContext, message: _Text, before: list[_Text], background: list[_Text]) -> tuple[str, str]:
    own = lexicon.first_match(message.raw, lexicon.MOOD_CUES)
    if own:
        return own, "message"
    for t in before[:2]:
        if mood := lexicon.first_match(t.raw, lexicon.MOOD_CUES):
            return mood, "context"
    if mood := _stage_mood(ctx.stage):
        return mood, "stage"
    for t in background[:1]:  # the scenario's own atmosphere ("a storm has closed the road")
        if mood := lexicon.first_match(t.raw, lexicon.MOOD_CUES):
            return mood, t.source
    return lexicon.DEFAULT_MOOD, "default"


def read_camera(narration: str) -> tuple[CameraMove | None, Framing | None]:
    camera = lexicon.first_match(narration, lexicon.CAMERA_CUES)
    if lexicon.CLOSE_UP_CUES.search(narration):
        framing = Framing.CLOSE_UP
    elif lexicon.WIDE_CUES.search(narration) or camera in (CameraMove.CRANE_UP,):
        framing = Framing.WIDE
    else:
        framing = None
    return camera, framing


def default_shot(*, narrated: bool, mood: str, indoor: bool, action: str) -> tuple[CameraMove, Framing]:
    """The shot when nothing in the narration cues one, by what the action is: talk is a held medium shot,
    tension is handheld, tenderness a slow push in, a walk outdoors a wide tracking shot."""
    if not narrated:
        return CameraMove.STATIC, Framing.MEDIUM
    if mood in ("urgent", "tense"):
        return CameraMove.HANDHELD_TRACKING, Framing.MEDIUM
    if mood in ("romantic", "tender"):
        return CameraMove.DOLLY_IN, Framing.MEDIUM
    if not indoor and re.search(r"\b(?:walks?|strolls?|wanders?|rides?|hikes?|paddles?|sails?|drives?)\b", action):
        return CameraMove.PAN_RIGHT, Framing.WIDE
    return CameraMove.STATIC, Framing.MEDIUM


# --- the reading ---------------------------------------------------------------------------------------


def scene_read(ctx: SceneContext) -> SceneReading:
    """Every field of the scene from the story's own words; needs no model."""
    message, before, background = _sources(ctx)
    pronoun = reading.persona_pronoun(getattr(ctx.persona, "appearance", ""))
    setting, kit, setting_from, strength = read_place(ctx, message, before, background)
    time_of_day, time_from = read_time(ctx, message, before, background)
    weather, weather_from = read_weather(ctx, message, before, background)
    background_kits = {m.kit for t in (*before, *background) for m in _mentions(t.narration) if m.strength}
    # the scene has not moved when the message stays where the story was (or the story never said where)
    carried = setting_from != "message" or kit in background_kits or not background_kits
    source = read_light_source(message, before, background, carried_setting=carried)
    if source is None and _UNDERGROUND.search(setting):
        source = Lighting.FIRELIGHT
    if time_of_day is None and (kit == "spaceship" or source in NIGHT_LIGHTS):
        time_of_day, time_from = TimeOfDay.NIGHT, "light"  # space is dark; neon, candles and fires are night things
    action = _sentences_for_action(message.narration, ctx.persona_name)
    narrated = bool(action)
    speech = speech_line(message.speech)
    if not action:
        action = spoken_action(message.raw, ctx.persona_name, ctx.user_name or "the user", pronoun)
    props = read_props(message.narration, message.speech)
    lamps = bool(lexicon.WARM_LAMP_CUES.search(message.raw)) or any(p.endswith(("lamp", "lamps", "lantern",
                                                                                   "lanterns")) for p in props)
    overcast = bool(lexicon.OVERCAST_CUES.search(message.raw))
    camera, framing = read_camera(message.narration)
    mood, mood_from = read_mood(ctx, message, before, background)
    lighting = lexicon.lighting_for(
        source=source, time=time_of_day or TimeOfDay.DAY, weather=weather or Weather.CLEAR,
        indoor=scenery.is_indoor_kit(kit), lamps=lamps, overcast=overcast,
    )
    default_camera, default_framing = default_shot(narrated=narrated, mood=mood, indoor=scenery.is_indoor_kit(kit),
                                                   action=action)
    return SceneReading(
        default_camera=default_camera, default_framing=default_framing,
        setting=setting, kit=kit, setting_from=setting_from, setting_strength=strength,
        action=action, narrated=narrated, speech=speech,
        time_of_day=time_of_day, time_from=time_from, weather=weather, weather_from=weather_from,
        light_source=source, lighting=lighting, camera=camera, framing=framing,
        mood=mood, mood_from=mood_from, props=props, overcast=overcast, lamps=lamps,
    )
