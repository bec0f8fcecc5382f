"""SceneBeat: the plain, serialisable render contract (companion fills it, rendering draws it)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints


class CameraMove(StrEnum):
    STATIC = "static"
    DOLLY_IN = "dolly_in"
    DOLLY_OUT = "dolly_out"
    PAN_LEFT = "pan_left"
    PAN_RIGHT = "pan_right"
    TILT_UP = "tilt_up"
    TILT_DOWN = "tilt_down"
    CRANE_UP = "crane_up"
    ORBIT = "orbit"
    HANDHELD_TRACKING = "handheld_tracking"
    DOLLY_ZOOM = "dolly_zoom"


class Framing(StrEnum):
    CLOSE_UP = "close_up"
    MEDIUM = "medium"
    WIDE = "wide"


class Lighting(StrEnum):
    GOLDEN_HOUR = "golden_hour"
    OVERCAST = "overcast"
    NEON = "neon"
    CANDLELIGHT = "candlelight"
    MOONLIGHT = "moonlight"
    STUDIO = "studio"
    DAYLIGHT = "daylight"
    FIRELIGHT = "firelight"
    RAINY_NIGHT = "rainy_night"


class TimeOfDay(StrEnum):
    DAWN = "dawn"
    DAY = "day"
    DUSK = "dusk"
    NIGHT = "night"


class Weather(StrEnum):
    CLEAR = "clear"
    RAIN = "rain"
    STORM = "storm"
    SNOW = "snow"
    FOG = "fog"
    WIND = "wind"


class CharacterRef(BaseModel):
    """Someone in the shot: the persona (with LoRA trigger words) or the user as they describe themselves."""

    name: str = Field(max_length=200)
    description: str = Field(default="", max_length=2000)
    trigger_words: list[str] = Field(default_factory=list)
    is_persona: bool = False
    # Which persona this is (a scene with several: the renderer looks its LoRA up); None on beats
    # from before scenes, and for the user.
    persona_id: int | None = None


class RenderDirection(BaseModel):
    """A Remix: the user's overrides on top of an extracted beat."""

    camera: CameraMove | None = None
    framing: Framing | None = None
    lighting: Lighting | None = None
    duration_s: float | None = Field(default=None, ge=1.0, le=10.0)
    notes: str | None = Field(default=None, max_length=500)


class SceneBeat(BaseModel):
    model_config = ConfigDict(use_enum_values=False)

    setting: str = Field(max_length=1000)
    characters: list[CharacterRef] = Field(default_factory=list)
    action: str = Field(max_length=1000)
    camera: CameraMove = CameraMove.STATIC
    framing: Framing = Framing.MEDIUM
    lighting: Lighting = Lighting.DAYLIGHT
    mood: str = Field(default="", max_length=200)
    duration_s: float = Field(default=4.0, ge=1.0, le=10.0)
    # Added later, so every beat stored before them still validates (the defaults).
    time_of_day: TimeOfDay = TimeOfDay.DAY
    weather: Weather = Weather.CLEAR
    props: list[Annotated[str, StringConstraints(max_length=60)]] = Field(default_factory=list, max_length=12)
    speech: str = Field(default="", max_length=300)  # the spoken line, shown as a subtitle; never the action
    notes: str = Field(default="", max_length=500)  # the Remix notes, for renderers that read them
    prompt: str = Field(default="", max_length=4000)
    negative_prompt: str = Field(default="", max_length=2000)
    seed: int = Field(default=0, ge=0, le=2**32 - 1)

    def with_direction(self, direction: RenderDirection | None) -> SceneBeat:
        """Remix: direction fields win; notes are appended to the prompt and kept in ``notes``
        (the action stays the story's)."""
        if direction is None:
            return self.model_copy(deep=True)
        updates = {
            field: value
            for field in ("camera", "framing", "lighting", "duration_s")
            if (value := getattr(direction, field)) is not None
        }
        notes = (direction.notes or "").strip()
        if notes:
            updates["prompt"] = f"{self.prompt.rstrip()}, {notes}" if self.prompt.strip() else notes
            updates["notes"] = notes
        return self.model_copy(update=updates, deep=True)

    def text_for_safety(self) -> str:
        """Every free-text field a renderer could draw from, for the safety gate."""
        parts = [self.setting, self.action, self.mood, self.speech, *self.props, self.notes, self.prompt]
        for c in self.characters:
            parts += [c.name, c.description, *c.trigger_words]
        return "\n".join(p for p in parts if p)
