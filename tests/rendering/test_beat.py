import json

import pytest
from pydantic import ValidationError

from rendering.beat import CameraMove, Framing, Lighting, RenderDirection, SceneBeat, TimeOfDay, Weather
from tests.rendering.conftest import make_beat


def test_beat_round_trips_through_json():
    beat = make_beat()
    again = SceneBeat.model_validate(json.loads(json.dumps(beat.model_dump(mode="json"))))
    assert again == beat
    assert again.camera is CameraMove.DOLLY_IN and again.lighting is Lighting.NEON


def test_direction_overrides_fields_and_appends_notes():
    beat = make_beat(framing="medium")
    remix = beat.with_direction(
        RenderDirection(camera="orbit", framing="close_up", lighting="candlelight", duration_s=6, notes="slow motion")
    )
    assert (remix.camera, remix.framing, remix.lighting, remix.duration_s) == (
        CameraMove.ORBIT, Framing.CLOSE_UP, Lighting.CANDLELIGHT, 6.0
    )
    assert remix.prompt == "Mira on a neon rooftop raising a glass, slow motion"
    assert remix.action == beat.action and remix.seed == beat.seed
    assert beat.camera is CameraMove.DOLLY_IN  # the original is untouched


def test_empty_direction_keeps_the_beat():
    beat = make_beat()
    assert beat.with_direction(RenderDirection()) == beat
    assert beat.with_direction(None) == beat


@pytest.mark.parametrize("bad", [{"camera": "zoom_blur"}, {"duration_s": 0.5}, {"duration_s": 11}, {"lighting": "x"}])
def test_invalid_beats_are_rejected(bad):
    with pytest.raises(ValidationError):
        make_beat(**bad)


def test_weather_time_props_speech_and_notes_round_trip_and_old_beats_still_load():
    beat = make_beat(time_of_day="night", weather="storm", props=["four mugs", "chart"], speech="Mind the ink.")
    again = SceneBeat.model_validate(json.loads(json.dumps(beat.model_dump(mode="json"))))
    assert again == beat and again.weather is Weather.STORM and again.time_of_day is TimeOfDay.NIGHT
    stored_before = {k: v for k, v in beat.model_dump(mode="json").items()
                     if k not in ("time_of_day", "weather", "props", "speech", "notes")}
    old = SceneBeat.model_validate(stored_before)  # a beat stored before these fields existed
    assert (old.time_of_day, old.weather, old.props, old.speech, old.notes) == (
        TimeOfDay.DAY, Weather.CLEAR, [], "", "")


def test_remix_notes_are_kept_for_renderers_and_every_free_text_reaches_the_safety_gate():
    beat = make_beat(speech="Mind the ink.", props=["four mugs"]).with_direction(RenderDirection(notes="light rain"))
    assert beat.notes == "light rain"
    text = beat.text_for_safety()
    assert "Mind the ink." in text and "four mugs" in text and "light rain" in text
