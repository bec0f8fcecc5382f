"""Scene extraction: model output used when it holds up against the story, the rules' reading when not.

(Over 400 lines: table cases of story text and what the beat must read from them.)
"""

from __future__ import annotations

import pytest

from companion.evolve.scenes import ExtractedScene, beat_problems, lexicon, scene_extract
from rendering.beat import CameraMove, Framing, Lighting, RenderDirection, SceneBeat, TimeOfDay, Weather

pytestmark = pytest.mark.django_db

BEACH = "*smiles and walks toward you along the moonlit beach, the waves hissing at her feet*"


def test_valid_model_output_is_used(say, scripted_backend, persona):
    say("user", "Where shall we go?")
    msg = say("persona", "Let's sit by the old harbour wall and watch the boats come in.")
    scripted_backend.json_replies = [
        {
            "setting": "a stone harbour wall, fishing boats returning",
            "action": "Mira sits on the harbour wall and points at the boats",
            "camera": "crane_up",
            "framing": "wide",
            "lighting": "golden_hour",
            "mood": "wistful",
            "duration_s": 6,
        }
    ]
    beat = scene_extract(message=msg, direction=None)

    assert isinstance(beat, SceneBeat)
    assert beat.setting == "a stone harbour wall, fishing boats returning"  # richer, same place
    # no narration in the message: the model's action (a full sentence) shows what happens
    assert beat.action == "Mira sits on the harbour wall and points at the boats."
    assert (beat.camera, beat.framing) == (CameraMove.CRANE_UP, Framing.WIDE)
    # light, time and weather come from the story's words, never the model's: nothing says dusk here
    assert (beat.lighting, beat.time_of_day, beat.weather) == (Lighting.DAYLIGHT, TimeOfDay.DAY, Weather.CLEAR)
    assert beat.mood == "wistful"
    assert beat.duration_s == 6
    assert "crane" in beat.prompt
    assert beat.speech.startswith("Let's sit by the old harbour wall")  # what is said is the subtitle
    # The model was asked with a schema and given the story and the persona's look.
    call = scripted_backend.calls[-1]
    assert call["schema"] is ExtractedScene
    sent = "\n".join(t.content for t in call["turns"])
    assert "harbour wall" in sent and "auburn hair" in sent and "Where shall we go?" in sent


def test_garbage_model_output_falls_back_to_the_messages_words(say, scripted_backend):
    msg = say("persona", BEACH)
    scripted_backend.json_replies = ["{not json at all"]
    beat = scene_extract(message=msg, direction=None)

    assert beat.setting == "moonlit beach"
    assert beat.lighting == Lighting.MOONLIGHT
    assert beat.time_of_day == TimeOfDay.NIGHT
    assert beat.camera == CameraMove.DOLLY_IN
    assert "walks toward Alex along the moonlit beach" in beat.action  # "you" is the user, by name
    assert beat.action.startswith("Mira ")  # narration without a subject gets the persona's name
    assert "*" not in beat.action
    assert 1 <= beat.duration_s <= 10


def test_no_model_answer_at_all_still_gives_a_beat(say, scripted_backend):
    msg = say("persona", "Hello there.")
    scripted_backend.json_replies = []  # the scripted backend raises StructuredOutputError
    beat = scene_extract(message=msg, direction=None)
    assert beat.camera == CameraMove.STATIC and beat.framing == Framing.MEDIUM  # the defaults
    # from the persona's scenario when the chat names no place
    assert beat.setting == "small lighthouse on a rocky coast"
    assert beat.speech == "Hello there."  # speech is the subtitle, never the action
    assert "Hello there" not in beat.action and beat.action.startswith("Mira ")
    assert beat_problems(beat) == []


def test_invalid_fields_are_filled_field_by_field(say, scripted_backend):
    msg = say("persona", "*lights a candle in the tiny kitchen and turns away, hiding a smile*")
    scripted_backend.json_replies = [
        {"setting": "   ", "action": "string", "camera": None, "framing": "close_up", "lighting": None,
         "mood": "$$$ ###", "duration_s": 3}
    ]
    beat = scene_extract(message=msg, direction=None)
    assert beat.framing == Framing.CLOSE_UP  # valid model field kept
    assert beat.duration_s == 3  # valid model field kept
    assert beat.setting == "tiny kitchen"  # blank -> the rules' reading of the message
    assert "lights a candle" in beat.action  # placeholder -> fallback
    assert beat.lighting == Lighting.CANDLELIGHT
    assert beat.camera == CameraMove.DOLLY_OUT
    assert beat.mood and "$" not in beat.mood


def test_explicit_words_in_the_message_beat_a_weak_models_lighting(say, scripted_backend):
    msg = say("persona", "Meet me under the neon sign outside the club.")
    scripted_backend.json_replies = [{"setting": "a city street", "action": "Mira waits by a sign",
                                      "lighting": "daylight", "camera": "static"}]
    beat = scene_extract(message=msg, direction=None)
    assert beat.lighting == Lighting.NEON
    # "outside the club" is a street: the model's phrase for the same kind of place is kept
    assert beat.setting == "a city street"


@pytest.mark.parametrize(
    ("text", "camera"),
    [
        ("We stroll the moonlit beach.", None),
        ("She walks toward you.", CameraMove.DOLLY_IN),
        ("She turns away from the window.", CameraMove.DOLLY_OUT),
        ("She looks up at the stars.", CameraMove.TILT_UP),
        ("Rain drums on the roof as she spins around.", CameraMove.ORBIT),
        ("The sunset paints the sky; she runs to the pier.", CameraMove.HANDHELD_TRACKING),
    ],
)
def test_camera_cues(text, camera):
    assert lexicon.first_match(text, lexicon.CAMERA_CUES) == camera


@pytest.mark.parametrize(
    ("time", "weather", "source", "indoor", "lighting"),
    [
        (TimeOfDay.NIGHT, Weather.STORM, None, True, Lighting.RAINY_NIGHT),
        (TimeOfDay.DAY, Weather.RAIN, None, False, Lighting.OVERCAST),
        (TimeOfDay.NIGHT, Weather.CLEAR, None, False, Lighting.MOONLIGHT),
        (TimeOfDay.DUSK, Weather.CLEAR, None, False, Lighting.GOLDEN_HOUR),
        (TimeOfDay.DAY, Weather.CLEAR, None, False, Lighting.DAYLIGHT),
        (TimeOfDay.DAY, Weather.FOG, None, False, Lighting.OVERCAST),
        (TimeOfDay.NIGHT, Weather.RAIN, Lighting.NEON, False, Lighting.NEON),  # a named light source wins
        (TimeOfDay.NIGHT, Weather.CLEAR, Lighting.CANDLELIGHT, True, Lighting.CANDLELIGHT),
    ],
)
def test_lighting_from_time_weather_and_sources(time, weather, source, indoor, lighting):
    assert lexicon.lighting_for(source=source, time=time, weather=weather, indoor=indoor) == lighting


def test_ordinary_words_do_not_trigger_cues():
    from rendering.renderers import scenery

    assert lexicon.first_match("A monday with a dashboard and an embrace.", lexicon.LIGHT_SOURCE_CUES) is None
    assert lexicon.first_match("What an embrace.", lexicon.CAMERA_CUES) is None
    assert scenery.place_mentions("Mushrooms are tasty. A chocolate bar.") == []
    assert scenery.weather_in("She brainstorms a plan and takes a rain check.") is None


def test_remix_direction_overrides_extracted_fields(say, scripted_backend):
    msg = say("persona", BEACH)
    direction = RenderDirection(camera="orbit", lighting="neon", duration_s=2, notes="slow motion")
    plain = scene_extract(message=msg, direction=None)
    remix = scene_extract(message=msg, direction=direction)
    assert remix.camera == CameraMove.ORBIT and remix.lighting == Lighting.NEON and remix.duration_s == 2
    assert remix.setting == plain.setting and remix.action == plain.action  # the story stays the same
    assert remix.prompt.endswith("slow motion")
    assert "neon" in remix.prompt and "moonlight" not in remix.prompt
    assert "orbits" in remix.prompt


def test_seed_is_deterministic_per_message_and_direction(say):
    a = say("persona", BEACH)
    b = say("persona", BEACH)
    assert scene_extract(message=a).seed == scene_extract(message=a).seed
    assert scene_extract(message=a).seed != scene_extract(message=b).seed
    assert scene_extract(message=a).seed != scene_extract(message=a, direction=RenderDirection(camera="orbit")).seed


def test_persona_appearance_and_trigger_words_are_in_the_beat(say, persona):
    msg = say("persona", BEACH)
    beat = scene_extract(message=msg)
    mira = [c for c in beat.characters if c.is_persona]
    assert len(mira) == 1
    assert mira[0].name == "Mira"
    assert mira[0].trigger_words == ["m1ra_person"]
    assert "auburn hair" in mira[0].description and "navy wool coat" in mira[0].description
    assert beat.prompt.startswith("m1ra_person")
    assert "auburn hair" in beat.prompt and "film grain" in beat.prompt
    assert "child" in beat.negative_prompt


def test_user_is_not_invented(say):
    say("user", "Can we go to the beach?")
    msg = say("persona", BEACH)
    beat = scene_extract(message=msg)
    assert [c.name for c in beat.characters] == ["Mira"]  # the user is the viewer, not drawn


def test_user_appears_only_as_they_described_themselves(say, scripted_backend):
    say("user", "I'm wearing my red raincoat tonight. Shall we walk?")
    msg = say("persona", BEACH)
    scripted_backend.json_replies = [{"setting": "a beach", "action": "Mira walks with a tall bearded man"}]
    beat = scene_extract(message=msg)
    users = [c for c in beat.characters if not c.is_persona]
    assert len(users) == 1
    assert users[0].name == "Alex"
    assert users[0].description == "I'm wearing my red raincoat tonight."
    assert "bearded" not in users[0].description


def test_a_failing_memory_app_does_not_block_extraction(say, monkeypatch):
    from companion.memory import selectors

    def broken(**kwargs):
        raise RuntimeError("memory down")

    monkeypatch.setattr(selectors, "memories_recall", broken)
    monkeypatch.setattr(selectors, "relationship_get", broken)
    msg = say("persona", BEACH)
    assert scene_extract(message=msg).setting == "moonlit beach"


def test_memories_reach_the_model(say, scripted_backend, monkeypatch):
    from companion.evolve.scenes import context

    monkeypatch.setattr(
        context, "_recall", lambda **kw: (["The user has short silver hair and wears glasses."], "close friends")
    )
    msg = say("persona", BEACH)
    scripted_backend.json_replies = [{"setting": "beach"}]
    beat = scene_extract(message=msg)
    sent = "\n".join(t.content for t in scripted_backend.calls[-1]["turns"])
    assert "short silver hair" in sent and "close friends" in sent
    users = [c for c in beat.characters if not c.is_persona]
    assert users and "silver hair" in users[0].description


# --- narration and speech, I and you ----------------------------------------------------------

GREETING = (
    "*A gust rattles the lamp-room glass. Mira looks up from a chart pinned flat with four mugs.* "
    "\"Mind the ink, it's still wet. You picked a fine night to get stranded.\""
)
STORM_SCENARIO = (
    "A storm has closed the harbour road. {{user}} is sheltering in the old lighthouse where {{char}} is "
    "spreading her half-finished charts across the lamp room floor."
)


@pytest.mark.parametrize(
    ("text", "narration", "speech"),
    [
        ("*smiles* \"Hi there.\"", ["smiles"], ["Hi there."]),
        ("*leans closer* I missed you. *takes your hand*", ["leans closer", "takes your hand"], ["I missed you."]),
        ("She pushes the door open. \"After you.\" The bell jingles.",
         ["She pushes the door open.", "The bell jingles."], ["After you."]),
        ("No worries! I love that you came.", [], ["No worries!", "I love that you came."]),
        ("Mira sets down the kettle. Do you want tea?", ["Mira sets down the kettle."], ["Do you want tea?"]),
        ("(sighs and rubs her eyes) “Long day.”", ["sighs and rubs her eyes"], ["Long day."]),
    ],
)
def test_narration_and_speech_are_told_apart(text, narration, speech):
    from companion.evolve.scenes.reading import split_message

    split = split_message(text)
    assert split.narration == narration
    assert split.speech == speech


@pytest.mark.parametrize(
    ("text", "resolved"),
    [
        ("I look up from my chart and hand you a mug.", "Mira looks up from her chart and hands Alex a mug."),
        ("You walk in and I smile.", "Alex walks in and Mira smiles."),
        ("I'm sitting by the fire; you're soaked.", "Mira is sitting by the fire; Alex is soaked."),
        ("We walk along the pier.", "Mira and Alex walk along the pier."),
        ("She brushes your hair back.", "She brushes Alex's hair back."),
    ],
)
def test_i_and_you_become_names(text, resolved):
    from companion.evolve.scenes.reading import resolve_people

    assert resolve_people(text, persona="Mira", user="Alex", persona_pronoun="she") == resolved


def test_the_action_is_narration_and_the_speech_is_the_subtitle(say, scripted_backend):
    msg = say("persona", "*pours two mugs of cocoa and slides one to you* \"Careful, it's hot.\"")
    beat = scene_extract(message=msg)
    assert beat.action == "Mira pours two mugs of cocoa and slides one to Alex."
    assert beat.speech == "Careful, it's hot."
    assert "two mugs" in beat.props
    assert beat_problems(beat) == []


def test_a_model_copying_the_dialogue_into_the_action_is_overruled(say, scripted_backend):
    msg = say("persona", "No worries, bocherie! 😂 I'll teach you the tides tomorrow.")
    scripted_backend.json_replies = [
        {"setting": "room", "action": "No worries, bocherie! I'll teach you the tides tomorrow.",
         "mood": "Mood for the moment", "lighting": "daylight"}
    ]
    beat = scene_extract(message=msg)
    assert "bocherie" not in beat.action and beat.action.startswith("Mira laughs")
    assert beat.speech.startswith("No worries, bocherie!") and "😂" not in beat.speech
    assert beat.mood != "Mood for the moment" and len(beat.mood.split()) <= 2
    assert beat.setting != "room"  # a bare placeholder-ish word, unsupported by the story
    assert beat_problems(beat) == []


@pytest.mark.parametrize(
    "reply",
    [
        {"setting": "string", "action": "string", "mood": "string"},
        {"setting": "Where the scene happens, a short visual phrase.",
         "action": "What Mira visibly does, one sentence.", "mood": "One or two words."},
        {"setting": "{{char}}'s place", "action": "<action>", "mood": "mood for the scene"},
        {"setting": "n/a", "action": "...", "mood": "null"},
        {"setting": "beach beach beach beach", "action": "Mira Mira Mira Mira Mira", "mood": "happy sad tired angry"},
    ],
)
def test_no_placeholder_ever_reaches_a_field(say, scripted_backend, reply):
    msg = say("persona", "*hums and stirs the soup in the tiny kitchen*")
    scripted_backend.json_replies = [reply]
    beat = scene_extract(message=msg)
    assert beat_problems(beat) == []
    for value in (beat.setting, beat.action, beat.mood):
        assert not lexicon.is_placeholder(value)
        assert "{{" not in value and "<" not in value and "string" not in value.lower()
    assert beat.setting == "tiny kitchen"


# --- the scene carried across beats -------------------------------------------------------------


def test_a_stormy_night_at_the_lighthouse_stays_there(say, persona, scripted_backend):
    persona.scenario = STORM_SCENARIO
    persona.save()
    greeting = say("persona", GREETING)
    beat = scene_extract(message=greeting)
    assert "lamp room" in beat.setting and "lighthouse" in beat.setting
    assert (beat.time_of_day, beat.weather, beat.lighting) == (TimeOfDay.NIGHT, Weather.STORM, Lighting.RAINY_NIGHT)
    assert beat.camera == CameraMove.TILT_UP  # "looks up"
    assert {"chart", "four mugs"} <= set(beat.props)

    say("user", "I don't know anything about tides.")
    reply = say("persona", "*laughs and taps the chart* Then you're in the right place.")
    later = scene_extract(message=reply)
    assert "lighthouse" in later.setting  # nothing moved the story
    assert (later.time_of_day, later.weather) == (TimeOfDay.NIGHT, Weather.STORM)
    assert later.action == "Mira laughs and taps the chart."


def test_the_story_moves_when_the_narration_says_so(say, persona):
    persona.scenario = STORM_SCENARIO
    persona.save()
    say("persona", GREETING)
    say("user", "Can we see the boats?")
    msg = say("persona", "*pulls on her oilskin and leads you down to the harbour, rain lashing the quay*")
    beat = scene_extract(message=msg)
    assert "harbour" in beat.setting
    assert beat.weather in (Weather.RAIN, Weather.STORM) and beat.time_of_day == TimeOfDay.NIGHT


def test_earlier_beats_carry_the_setting(say, persona, user):
    from personas.models import Persona
    from rendering.models import JobKind
    from tests.web.factories import make_clip_job

    first = say("persona", "*sits on the harbour wall at dusk, watching the boats*")
    beat = scene_extract(message=first)
    assert "harbour" in beat.setting and beat.time_of_day == TimeOfDay.DUSK
    make_clip_job(first, kind=JobKind.CLIP, persona=Persona.objects.get(pk=persona.pk), requested_by=user,
                  beat=beat.model_dump(mode="json"))
    say("user", "tell me more")
    say("persona", "It was a long time ago.")
    say("user", "go on")
    say("persona", "My father kept the lamp.")
    say("user", "and then?")
    say("persona", "He taught me the tides.")
    say("user", "wow")
    msg = say("persona", "*smiles at you*")
    later = scene_extract(message=msg)  # the setting's words are out of the window: the beat carries them
    assert "harbour" in later.setting and later.time_of_day == TimeOfDay.DUSK


def test_lorebook_entries_the_chat_names_are_read(say, persona):
    from personas.models import LoreEntry

    persona.scenario = ""
    persona.save()
    LoreEntry.objects.create(persona=persona, keys=["Saltreach"],
                             content="Saltreach is a foggy fishing village on a grey coast.")
    LoreEntry.objects.create(persona=persona, keys=["dragon"], content="Dragons sleep in the mountains.")
    msg = say("persona", "Welcome back to Saltreach, stranger.")
    beat = scene_extract(message=msg)
    assert "fishing village" in beat.setting
    assert beat.weather == Weather.FOG


def test_remix_notes_bring_weather_time_and_props(say):
    msg = say("persona", "*sits on a bench in the park, feeding the pigeons*")
    plain = scene_extract(message=msg)
    assert plain.weather == Weather.CLEAR and plain.lighting == Lighting.DAYLIGHT
    remix = scene_extract(message=msg, direction=RenderDirection(notes="light rain, add an umbrella"))
    assert remix.weather == Weather.RAIN and "umbrella" in remix.props
    assert remix.lighting == Lighting.OVERCAST  # rain by day
    assert remix.notes == "light rain, add an umbrella" and remix.prompt.endswith("light rain, add an umbrella")
    night = scene_extract(message=msg, direction=RenderDirection(notes="at night", lighting="neon"))
    assert night.time_of_day == TimeOfDay.NIGHT and night.lighting == Lighting.NEON  # explicit lighting wins


def test_an_edit_keeps_what_it_does_not_name(say, persona):
    from companion.evolve.services import BeatEdit, beat_from_edit

    persona.scenario = STORM_SCENARIO
    persona.save()
    msg = say("persona", GREETING)
    edit = BeatEdit(setting="the lamp room", action="Mira pins the chart with a mug", lighting="rainy_night")
    beat = beat_from_edit(message=msg, edit=edit, direction=None)
    assert beat.setting == "the lamp room" and beat.action == "Mira pins the chart with a mug"
    assert beat.weather == Weather.STORM and beat.time_of_day == TimeOfDay.NIGHT
    as_shown = beat_from_edit(message=msg, direction=None, edit=BeatEdit(
        setting="lamp room of the old lighthouse", action="A gust rattles the lamp-room glass. Mira looks up."))
    assert as_shown.weather == Weather.STORM  # the gust is part of the storm the story has, not a new weather
    snowy = beat_from_edit(message=msg, edit=BeatEdit(setting="a snowy mountain pass", action="Mira climbs"),
                           direction=None)
    assert snowy.weather == Weather.SNOW


def test_a_model_inventing_weather_or_a_mood_word_is_not_believed(say, scripted_backend):
    msg = say("persona", "*Theo slides a latte across the counter with a heart drawn in the foam.*")
    scripted_backend.json_replies = [{"setting": "a rainy café", "weather": "rain", "lighting": "rainy_night",
                                      "time_of_day": "night", "mood": "morning"}]
    beat = scene_extract(message=msg)
    assert (beat.weather, beat.time_of_day, beat.lighting) == (Weather.CLEAR, TimeOfDay.DAY, Lighting.DAYLIGHT)
    assert beat.mood != "morning"  # not a mood
    assert "rain" not in beat.setting  # nor does its setting phrase bring the rain back in


@pytest.mark.parametrize(
    ("text", "camera", "framing"),
    [
        ("Hello there, traveller!", CameraMove.STATIC, Framing.MEDIUM),  # talk: a held medium shot
        ("*She kisses your forehead softly.*", CameraMove.DOLLY_IN, Framing.CLOSE_UP),  # tender: push in, close
        ("*Mira shouts a warning as the guards chase her through the market.*", CameraMove.HANDHELD_TRACKING,
         Framing.MEDIUM),
        ("*Mira walks along the beach, the tide at her heels.*", CameraMove.PAN_RIGHT, Framing.WIDE),
        ("*She looks up from the map.*", CameraMove.TILT_UP, Framing.MEDIUM),  # a cue in the verbs wins
        ("*She waves at you from across the room.*", CameraMove.STATIC, Framing.WIDE),  # distance words
    ],
)
def test_camera_and_framing_follow_the_verbs_else_what_the_action_is(say, text, camera, framing):
    beat = scene_extract(message=say("persona", text), use_model=False)
    assert (beat.camera, beat.framing) == (camera, framing)
