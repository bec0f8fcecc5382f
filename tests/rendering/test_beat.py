import json

import pytest
from pydantic import ValidationError

from rendering.beat import CameraMove, Framing, Lighting, RenderDirection, SceneBeat
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
