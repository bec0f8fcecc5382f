"""Assembling the beat: the rules' reading, the model's answer checked against it, the user's edit
and Remix direction on top, validated; pure (no database: it runs on the event loop).

The model's value for a field is kept only when it passes the checks for that
field and the story has no stronger evidence of its own:

- setting: a place the previz can draw, not placeholder text, and either the
  same kind of place the story locates the scene in (the model's phrase is then
  usually richer) or, when the story only names places in passing, one the
  conversation itself names;
- action: only when the message has no narration of its own (the narration is
  what happens), and then third person, visual, not a copy of the speech;
- lighting, time of day, weather: never (the story's words or the defaults: a
  model that invents a storm cannot be checked; the 135M embedded model did so
  on a quarter of the cases with no weather in them);
- camera, framing: only when the narration has no cue; mood: a mood word
  (``lexicon.MOOD_WORDS``), when the message itself names none.

Whatever comes out is validated (``beat_problems``): a visual action, a
setting that names a place, a mood of a word or two, no placeholder anywhere.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from companion.chat.models import Message
from companion.evolve.scenes import lexicon, reading
from companion.evolve.scenes.context import SceneContext
from companion.evolve.scenes.model import ExtractedScene
from companion.evolve.scenes.rules import COMPATIBLE_WEATHER, MAX_ACTION, SceneReading, read_props, scene_read
from rendering.beat import (
    CharacterRef,
    RenderDirection,
    SceneBeat,
    TimeOfDay,
    Weather,
)
from rendering.renderers import scenery

DEFAULT_DURATION_S = 4.0
MAX_SETTING = 160
_WORD_RE = re.compile(r"[a-z]{4,}")
_COMMON = frozenset(
    """that this with from into onto over under then than they them their there what when where which while
    your have been were will would could should about just like very really some more most much many also
    only even back down away around again look looks looking""".split()
)


# --- characters ------------------------------------------------------------------------------------

_SELF_DESCRIPTION_RE = re.compile(
    r"\b(?:I(?:'m| am)\s+(?:wearing|dressed|tall|short|blonde|brunette|bald|\w+-haired)"
    r"|I\s+(?:wear|have)\s+[^.!?]{0,40}\b(?:hair|eyes|beard|glasses|freckles|tattoos?|skin|coat|jacket|dress|shirt)"
    r"|my\s+(?:hair|eyes|beard|glasses|freckles|tattoos?|skin|coat|jacket|dress|shirt|scarf|hat)\b)",
    re.IGNORECASE,
)
_USER_MEMORY_RE = re.compile(
    r"\b(?:user|they)\b[^.!?]{0,60}\b(?:hair|eyes|beard|glasses|freckles|tattoos?|skin|wears?|wearing)\b",
    re.IGNORECASE,
)
_SENTENCE_RE = re.compile(r"[^.!?\n]+[.!?]?")


def persona_character(persona: Any) -> CharacterRef:
    parts = [(persona.appearance or "").strip()]
    if (persona.wardrobe or "").strip():
        parts.append(f"wearing {persona.wardrobe.strip()}")
    triggers = [t.strip() for t in (persona.video_lora_trigger or "").split(",") if t.strip()]
    return CharacterRef(
        name=persona.name[:200],
        description=", ".join(p for p in parts if p)[:2000],
        trigger_words=triggers,
        is_persona=True,
        persona_id=persona.pk,
    )


def cast_note(beat: SceneBeat, *, multi_lora: bool) -> str:
    """What the refine dialog says about a shot with several personas: whose look (LoRA) the renderer applies."""
    personas = [c for c in beat.characters if c.is_persona]
    if len(personas) < 2:
        return ""
    names = [c.name for c in personas]
    if multi_lora:
        return f"{', '.join(names[:-1])} and {names[-1]} are all in the shot, each with their own look (LoRA)."
    others = ", ".join(names[1:])
    return (f"{', '.join(names)} are in the shot; this renderer applies one look (LoRA) per clip, so only "
            f"{names[0]}'s is used and {others} {'is' if len(names) == 2 else 'are'} drawn from the description.")


def user_self_description(ctx: SceneContext) -> str:
    """Sentences in which the user described their own looks (their messages, or memories of them)."""
    found: list[str] = []
    for m in ctx.before:
        if m.role != Message.Role.USER:
            continue
        for sentence in _SENTENCE_RE.findall(m.content):
            if _SELF_DESCRIPTION_RE.search(sentence):
                found.append(sentence.strip())
    for memory in ctx.memories:
        for sentence in _SENTENCE_RE.findall(memory):
            if _USER_MEMORY_RE.search(sentence):
                found.append(sentence.strip())
    return " ".join(dict.fromkeys(found))[:2000]


def user_character(ctx: SceneContext) -> CharacterRef | None:
    """The user in the shot only when they have described themselves; otherwise they are the viewer."""
    description = user_self_description(ctx)
    if not description:
        return None
    return CharacterRef(name=ctx.user_name[:200], description=description, is_persona=False)


# --- checking the model's answer ------------------------------------------------------------------------


def _text(value: str | None, limit: int) -> str | None:
    if value is None or lexicon.is_placeholder(value):
        return None
    return " ".join(str(value).split())[:limit]


def _content_words(text: str) -> set[str]:
    return {w for w in _WORD_RE.findall((text or "").lower()) if w not in _COMMON}


def model_setting(value: str | None, rules: SceneReading, story: str) -> str | None:
    """The model's setting when it names a drawable place that the story supports."""
    text = _text(value, MAX_SETTING)
    if text is None or not scenery.names_a_place(text):
        return None
    weather, time = scenery.weather_in(text), scenery.time_in(text)
    if (weather and weather != rules.weather) or (time and time != rules.time_of_day):
        return None  # "a rainy café" when nothing says it rains: the phrase would smuggle weather into the picture
    kit = scenery.place_kit(text)
    if rules.setting_strength == 2:
        return text if kit == rules.kit else None
    # The story only names places in passing (or none): the model's must be one it names.
    mentioned = {m.kit for m in scenery.place_mentions(story) if m.strength > 0}
    return text if kit in mentioned or (kit == rules.kit and rules.setting_strength) else None


def model_action(value: str | None, *, ctx: SceneContext, speech: str) -> str | None:
    """The model's action, resolved to names, when it is a visible third-person action, not the speech."""
    text = _text(value, MAX_ACTION)
    if text is None or len(text.split()) < 3:
        return None
    pronoun = reading.persona_pronoun(getattr(ctx.persona, "appearance", ""))
    text = reading.resolve_people(text, persona=ctx.persona_name, user=ctx.user_name or "the user",
                                  persona_pronoun=pronoun)
    text = reading.with_subject(text, ctx.persona_name)
    words = _content_words(text)
    said = _content_words(speech)
    if said and words and len(words & said) / len(words) > 0.6:
        return None  # the dialogue copied
    if re.search(r"[\"“”«»]", text) or not words:
        return None
    story = _content_words(f"{ctx.message.content} {ctx.scenario}") | {ctx.persona_name.lower()}
    if not words & story:
        return None  # nothing in it comes from the story
    return text if text[-1] in ".!?" else f"{text}."


def model_mood(value: str | None, *, vocabulary: bool = True) -> str | None:
    """One or two words naming a mood ("wistful", "quietly tense"); anything else is None."""
    text = _text(value, 40)
    if text is None:
        return None
    words = text.lower().strip(".!").split()
    if not 1 <= len(words) <= 2 or not all(w.isalpha() for w in words):
        return None
    if vocabulary and words[-1] not in lexicon.MOOD_WORDS:
        return None  # "morning", "fog", "narrative": not a mood
    return " ".join(words)


# --- the beat ----------------------------------------------------------------------------------------------


def beat_seed(message_id: int, direction: RenderDirection | None) -> int:
    """Same message + same direction -> same seed (a re-render looks the same)."""
    key = f"{message_id}|{direction.model_dump_json(exclude_none=True) if direction else ''}"
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big")


def compose_prompt(beat: SceneBeat, style_tags: list[str]) -> str:
    """The text prompt a video model gets: who, what, where, when, weather, light, shot, mood, style."""
    parts: list[str] = []
    for c in beat.characters:
        parts += c.trigger_words
        if c.description:
            parts.append(f"{c.name}, {c.description}" if c.is_persona else f"with {c.name}: {c.description}")
    parts += [
        beat.action,
        _located(beat.setting),
        ", ".join(beat.props[:6]),
        lexicon.TIME_PHRASES[beat.time_of_day],
        lexicon.WEATHER_PHRASES[beat.weather],
        lexicon.LIGHTING_PHRASES[beat.lighting],
        lexicon.FRAMING_PHRASES[beat.framing],
        lexicon.CAMERA_PHRASES[beat.camera],
        f"{beat.mood} mood" if beat.mood else "",
        *map(str, style_tags or []),
        "cinematic, high detail",
    ]
    prompt = ", ".join(p.strip() for p in parts if p and p.strip())
    if beat.notes:
        prompt = f"{prompt}, {beat.notes}"
    return prompt[:4000]


def _located(setting: str) -> str:
    if not setting:
        return ""
    first = setting.split(maxsplit=1)[0].lower()
    return setting if first in ("inside", "outside", "in", "on", "at", "by", "under", "near") else f"in {setting}"


def _notes_apply(fields: dict[str, Any], notes: str, direction: RenderDirection) -> None:
    """Remix notes' weather, time-of-day, light and prop words (explicit direction fields still win)."""
    if not notes:
        return
    changed = False
    if (weather := scenery.weather_in(notes)) is not None:
        fields["weather"], changed = weather, True
    if (time := scenery.time_in(notes)) is not None:
        fields["time_of_day"], changed = time, True
    if props := read_props(notes):
        fields["props"] = list(dict.fromkeys([*props, *fields["props"]]))[:12]
    if direction.lighting is None:
        source = lexicon.first_match(notes, lexicon.LIGHT_SOURCE_CUES)
        if source is not None:
            fields["lighting"] = source
        elif changed:
            fields["lighting"] = lexicon.lighting_for(
                source=None, time=fields["time_of_day"], weather=fields["weather"],
                indoor=scenery.is_indoor_kit(scenery.place_kit(fields["setting"])),
                lamps=any("lamp" in p or "lantern" in p for p in fields["props"]),
            )


def beat_assemble(
    *,
    ctx: SceneContext,
    model_scene: ExtractedScene | None = None,
    direction: RenderDirection | None = None,
    edit: Any = None,
) -> SceneBeat:
    """The beat for ``ctx.message``: rules, the model's checked answer, the user's edit, the Remix direction.

    ``edit`` (the refine dialog's fields: setting, action, camera, framing, lighting, mood,
    duration_s) replaces what it names; time of day, weather and props are then read again
    with the edited text first. Pure: no database, safe on the event loop.
    """
    rules = scene_read(ctx)
    model = model_scene if edit is None else None
    story = f"{ctx.story_text}\n{ctx.background_text}"

    setting = (model_setting(model.setting, rules, story) if model else None) or rules.setting
    if rules.narrated or model is None:
        action = rules.action
    else:
        action = model_action(model.action, ctx=ctx, speech=rules.speech) or rules.action
    time_of_day = rules.time_of_day or TimeOfDay.DAY
    weather = rules.weather or Weather.CLEAR
    lighting = rules.lighting
    camera = rules.camera or (model.camera if model else None) or rules.default_camera
    framing = rules.framing or (model.framing if model else None) or rules.default_framing
    mood = (rules.mood if rules.mood_from == "message" else None) or (model_mood(model.mood) if model else None)
    mood = mood or rules.mood
    duration = (model.duration_s if model else None) or DEFAULT_DURATION_S
    props = list(rules.props)

    if edit is not None:
        setting = _text(edit.setting, 1000) or setting
        action = _text(edit.action, 1000) or action
        camera, framing, lighting = edit.camera, edit.framing, edit.lighting
        mood = model_mood(edit.mood, vocabulary=False) or mood
        duration = edit.duration_s
        edited = f"{edit.setting} {edit.action}"
        time_of_day = scenery.time_in(edited) or time_of_day
        edited_weather = scenery.weather_in(edited)
        if edited_weather is not None and (edited_weather, weather) not in COMPATIBLE_WEATHER:
            weather = edited_weather  # the edit names other weather; a gust in a known storm keeps the storm
        props = list(dict.fromkeys([*read_props(edit.action), *props]))[:12]
        time_of_day = getattr(edit, "time_of_day", None) or time_of_day
        weather = getattr(edit, "weather", None) or weather

    fields: dict[str, Any] = {
        "setting": setting, "action": action, "camera": camera, "framing": framing, "lighting": lighting,
        "mood": mood, "duration_s": duration, "time_of_day": time_of_day, "weather": weather, "props": props,
    }
    if direction is not None:
        for name in ("camera", "framing", "lighting", "duration_s"):
            if (value := getattr(direction, name)) is not None:
                fields[name] = value
        _notes_apply(fields, (direction.notes or "").strip(), direction)
    fields = beat_fields_validate(fields, rules)

    characters = [persona_character(ctx.persona), *(persona_character(p) for p in ctx.cast)]
    if (user := user_character(ctx)) is not None:
        characters.append(user)
    beat = SceneBeat(
        **fields,
        characters=characters,
        speech=rules.speech[:300] if edit is None or not getattr(edit, "speech", None) else edit.speech[:300],
        notes=((direction.notes or "").strip() if direction else "")[:500],
        negative_prompt=lexicon.NEGATIVE_PROMPT,
        seed=beat_seed(ctx.message.pk, direction),
    )
    return beat.model_copy(update={"prompt": compose_prompt(beat, list(ctx.persona.style_tags or []))})


def beat_fields_validate(fields: dict[str, Any], rules: SceneReading) -> dict[str, Any]:
    """Every text field made sense of: no placeholder, a place for the setting, a word or two of mood."""
    out = dict(fields)
    if lexicon.is_placeholder(out["setting"]) or not scenery.names_a_place(out["setting"]):
        out["setting"] = rules.setting if scenery.names_a_place(rules.setting) else lexicon.DEFAULT_SETTING
    if lexicon.is_placeholder(out["action"]) or not _content_words(out["action"]):
        out["action"] = rules.action
    mood = model_mood(out["mood"], vocabulary=False) if out["mood"] else None
    out["mood"] = mood or (rules.mood if model_mood(rules.mood, vocabulary=False) else lexicon.DEFAULT_MOOD)
    out["props"] = [p for p in out["props"] if not lexicon.is_placeholder(p)][:12]
    out["setting"] = out["setting"][:1000]
    out["action"] = out["action"][:1000]
    return out


def beat_problems(beat: SceneBeat) -> list[str]:
    """What is wrong with a beat, in words (empty when it is sound); the tests and the benchmark use it."""
    problems = []
    for name in ("setting", "action", "mood"):
        if lexicon.is_placeholder(getattr(beat, name)):
            problems.append(f"{name} is placeholder text: {getattr(beat, name)!r}")
    for name in ("speech", "notes", *(f"props[{i}]" for i in range(len(beat.props)))):
        value = beat.props[int(name[6:-1])] if name.startswith("props[") else getattr(beat, name)
        if value and lexicon.is_placeholder(value):
            problems.append(f"{name} is placeholder text: {value!r}")
    if not scenery.names_a_place(beat.setting):
        problems.append(f"setting names no place: {beat.setting!r}")
    if not _content_words(beat.action):
        problems.append(f"action shows nothing: {beat.action!r}")
    if beat.speech and beat.action.strip(" .") and beat.action.strip(" .").lower() in beat.speech.lower():
        problems.append("action is the speech")
    if not 1 <= len(beat.mood.split()) <= 2:
        problems.append(f"mood is not a word or two: {beat.mood!r}")
    return problems


def beat_caption(beat: SceneBeat) -> str:
    """A one-line human caption for the clip message."""
    action = beat.action.strip().rstrip(".")
    if not beat.setting or beat.setting.lower().removeprefix("inside the ") in action.lower():
        return f"{action}."
    return f"{action} ({beat.setting})."
