"""Deterministic cues for reading a scene: light, camera, framing, mood, placeholders.

Each table maps a regular expression over the story text to a value of the
SceneBeat vocabulary. Order matters: the first pattern that matches wins, so
specific cues ("candle", "neon") come before broad ones. Places, props,
weather and time of day are read with the renderer's own vocabulary
(``rendering.renderers.scenery``), so a setting read here is one the previz
can draw. These never need a model, so a beat is always possible, and they
are the evidence a model's answer is checked against.
"""

from __future__ import annotations

import re

from rendering.beat import CameraMove, Framing, Lighting, TimeOfDay, Weather


def _re(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


# Light sources named in the story: they decide the lighting over time of day and weather.
LIGHT_SOURCE_CUES: list[tuple[re.Pattern[str], Lighting]] = [
    (_re(r"\bcandle(?:s|lit|light)?\b|\bcandle-lit\b|\btealights?\b|\bcandelabra\b"), Lighting.CANDLELIGHT),
    (_re(r"\bneon\b|\bholo(?:gram|graphic)s?\b|\bled signs?\b|\barcade lights\b|\bnight ?club\b|\bstrob\w*|"
         r"\bdisco\b|\blasers?\b|\bdance floor\b|\bcyberpunk\b"), Lighting.NEON),
    (_re(r"\b(?:camp|bon)?fire(?:light|place|side)?\b(?![- ](?:extinguisher|escape|alarm|exit|station|door|truck|"
         r"drill|fighter|brigade|hydrant))|\bhearth\b|\bembers\b|\btorch(?:es|light)\b|"
         r"\bflames?\b|\bwood ?stove\b"), Lighting.FIRELIGHT),
    (_re(r"\bstudio lights?\b|\bspotlights?\b|\bon stage\b|\bphoto ?shoot\b|\bring ?light\b"), Lighting.STUDIO),
    (_re(r"\bmoon(?:lit|light|beams?)\b"), Lighting.MOONLIGHT),
]
OVERCAST_CUES = _re(r"\bovercast\b|\bcloud(?:y|s)\b|\bgr[ae]y (?:sk(?:y|ies)|day|morning|light)\b|\bgloomy\b")
WARM_LAMP_CUES = _re(r"\blamps?\b(?![- ]?room)|\blanterns?\b|\blamplight\b|\bfairy lights\b|\bstring lights\b")


def lighting_for(*, source: Lighting | None, time: TimeOfDay, weather: Weather, indoor: bool,
                 lamps: bool = False, overcast: bool = False) -> Lighting:
    """The lighting a scene gets from what is known of it: a named light source first, then
    weather and time of day (a storm at night is a rainy night; rain by day is overcast)."""
    if source is not None:
        return source
    night = time == TimeOfDay.NIGHT
    if weather in (Weather.RAIN, Weather.STORM):
        return Lighting.RAINY_NIGHT if time in (TimeOfDay.NIGHT, TimeOfDay.DUSK) else Lighting.OVERCAST
    if weather in (Weather.SNOW, Weather.FOG):
        return Lighting.MOONLIGHT if night else Lighting.OVERCAST
    if night:
        return Lighting.CANDLELIGHT if indoor and lamps else Lighting.MOONLIGHT
    if time in (TimeOfDay.DUSK, TimeOfDay.DAWN):
        return Lighting.GOLDEN_HOUR
    return Lighting.OVERCAST if overcast else Lighting.DAYLIGHT


CAMERA_CUES: list[tuple[re.Pattern[str], CameraMove]] = [
    (_re(r"\b(?:freez\w*|stunned|realis\w*|realiz\w*|gasps?|in shock)\b"), CameraMove.DOLLY_ZOOM),
    (_re(r"\b(?:walk|step|come|move|lean|draw|inch)(?:s|ed|ing)?\s+(?:closer|toward|towards|in|near)\b"
         r"|\bapproach(?:es|ed|ing)?\b|\bcloses? the distance\b"), CameraMove.DOLLY_IN),
    (_re(r"\b(?:turn|walk|pull|back|step|drift|move)(?:s|ed|ing)?\s+(?:away|back)\b|\bleav(?:es|ing)\b"),
     CameraMove.DOLLY_OUT),
    (_re(r"\b(?:look|gaze|glance|stare|point)(?:s|ed|ing)?\s+up\b|\bup at the (?:sky|stars|moon)\b"),
     CameraMove.TILT_UP),
    (_re(r"\b(?:look|gaze|glance|stare)(?:s|ed|ing)?\s+down\b|\bkneel(?:s|ing)?\b|\bsits? down\b"),
     CameraMove.TILT_DOWN),
    (_re(r"\b(?:spin|twirl|circl|orbit|whirl)\w*\b|\bdances? around\b"), CameraMove.ORBIT),
    (_re(r"\b(?:run|chase|hurr(?:y|ies)|sprint|race|dash|follow)\w*\b"), CameraMove.HANDHELD_TRACKING),
    (_re(r"\b(?:rises?|rising|climb\w*|soar\w*|fl(?:y|ies|ying)|from above|lift\w* off)\b"), CameraMove.CRANE_UP),
    (_re(r"\b(?:look|gaze|glance)(?:s|ed|ing)?\s+(?:out|across|over)\b|\bhorizon\b|\bpanorama\b|\bskyline\b"),
     CameraMove.PAN_RIGHT),
    (_re(r"\bturns? (?:to the )?left\b"), CameraMove.PAN_LEFT),
    (_re(r"\bturns? (?:to the )?right\b"), CameraMove.PAN_RIGHT),
]

CLOSE_UP_CUES = _re(
    r"\b(?:her eyes|his eyes|their eyes|lips|whisper\w*|tears?|blush\w*|kiss\w*|cheeks?|close to (?:your|\w+'s) ear|"
    r"smiles? softly|leans? (?:in|closer)|inches from|nose to nose|face to face|closer|close-up|up close|close to|"
    r"so close|"
    r"brushes? (?:a|her|his) (?:hair|strand)|cups? your face|forehead)\b"
)
WIDE_CUES = _re(
    r"\b(?:landscape|horizon|skyline|crowd|valley|desert|mountains?|across the (?:room|hall|street|square|beach|bay|"
    r"field|water|bar|deck|harbou?r)|in the distance|far away|far off|from afar|from a distance|the whole|"
    r"panorama|stretch(?:es|ing)? out|as far as)\b"
)

MOOD_CUES: list[tuple[re.Pattern[str], str]] = [
    (_re(r"\b(?:chas(?:e|es|ed|ing)|shout\w*|sprint\w*|flee\w*|escap\w*|alarms?|panic\w*|breathing hard|"
         r"run(?:s|ning)? for)\b"), "urgent"),
    (_re(r"\b(?:tears?|cry\w*|cries|sad\w*|sorrow\w*|grie\w*|miss(?:es|ed)? you)\b"), "melancholic"),
    (_re(r"\b(?:afraid|scared|fear\w*|trembl\w*|shadows?|danger\w*|tense\w*|footsteps|dagger|sword|"
         r"creak\w*)\b"), "tense"),
    (_re(r"\b(?:angry|furious|rage|glar\w*)\b"), "intense"),
    (_re(r"\b(?:kiss\w*|love\w*|blush\w*|heart|romantic|darling)\b"), "romantic"),
    (_re(r"\b(?:laugh\w*|giggl\w*|grin\w*|joy\w*|happ(?:y|ily)|delight\w*)\b"), "joyful"),
    (_re(r"\b(?:danc\w*|twirl\w*|play\w*|tease\w*|wink\w*|excit\w*)\b"), "playful"),
    (_re(r"\b(?:whisper\w*|soft\w*|gentl\w*|tender\w*|holds? (?:you|your|her|his)|hug\w*|cuddl\w*)\b"), "tender"),
    (_re(r"\b(?:calm\w*|peace\w*|quiet\w*|stillness|serene|relax\w*)\b"), "serene"),
    (_re(r"\b(?:mysterious|secret\w*|myster\w*|whispers? of|strange|eerie|uncanny)\b"), "mysterious"),
    (_re(r"\b(?:nervous\w*|anxious\w*|fidget\w*|worried|worry|uneasy)\b"), "nervous"),
    (_re(r"\b(?:cosy|cozy|snug|warm blanket|cocoa|hot tea|curl(?:s|ed)? up)\b"), "cosy"),
    (_re(r"\b(?:curious\w*|wonder\w*|intrigu\w*|fascinat\w*)\b"), "curious"),
    (_re(r"\b(?:remember\w*|memor(?:y|ies)|used to|long ago|nostalg\w*)\b"), "wistful"),
    (_re(r"\b(?:determined|resolute|steel\w*|ready)\b"), "determined"),
    (_re(r"\b(?:storm\w*|thunder\w*|gale|tempest)\b"), "brooding"),
]

LIGHTING_PHRASES = {
    Lighting.GOLDEN_HOUR: "warm golden-hour light",
    Lighting.OVERCAST: "soft overcast light",
    Lighting.NEON: "neon light, saturated magenta and cyan reflections",
    Lighting.CANDLELIGHT: "warm flickering candlelight",
    Lighting.MOONLIGHT: "cool silver moonlight",
    Lighting.STUDIO: "clean studio lighting",
    Lighting.DAYLIGHT: "natural daylight",
    Lighting.FIRELIGHT: "orange firelight",
    Lighting.RAINY_NIGHT: "rainy night, wet reflections",
}
CAMERA_PHRASES = {
    CameraMove.STATIC: "static camera",
    CameraMove.DOLLY_IN: "slow dolly in",
    CameraMove.DOLLY_OUT: "slow dolly out",
    CameraMove.PAN_LEFT: "camera pans left",
    CameraMove.PAN_RIGHT: "camera pans right",
    CameraMove.TILT_UP: "camera tilts up",
    CameraMove.TILT_DOWN: "camera tilts down",
    CameraMove.CRANE_UP: "crane shot rising",
    CameraMove.ORBIT: "camera orbits the subject",
    CameraMove.HANDHELD_TRACKING: "handheld tracking shot",
    CameraMove.DOLLY_ZOOM: "dolly zoom",
}
FRAMING_PHRASES = {
    Framing.CLOSE_UP: "close-up",
    Framing.MEDIUM: "medium shot",
    Framing.WIDE: "wide shot",
}
# What a mood is called: the model's word for it must be one of these (its "morning" or "narrative" is not).
MOOD_WORDS = frozenset("""
    calm serene tense romantic joyful playful tender melancholic melancholy mysterious nervous cosy cozy curious
    wistful determined brooding urgent happy sad angry excited peaceful warm gloomy eerie hopeful lonely cheerful
    dreamy intimate festive somber sombre solemn relaxed anxious fearful bittersweet nostalgic whimsical triumphant
    quiet lively energetic flirty flirtatious shy awkward heartfelt reflective pensive thoughtful contemplative
    adventurous suspenseful ominous menacing dark hopeless desperate tired weary sleepy lazy content contented
    grateful proud confident bold fierce intense passionate sensual loving affectionate sweet gentle soft friendly
    welcoming inviting homely comforting hopeful uneasy worried restless eager giddy silly funny humorous wry dry
    sarcastic teasing mischievous bored frustrated irritated furious bitter grim tragic mournful grieving lost
    nostalgic magical enchanted surreal strange uncanny spooky creepy haunting haunted tranquil still focused
    busy hectic chaotic frantic exhilarated thrilled elated euphoric ecstatic blissful relieved surprised shocked
    stunned awed amazed wonder wondrous majestic epic heroic dramatic cinematic moody atmospheric
""".split())

WEATHER_PHRASES = {
    Weather.CLEAR: "",
    Weather.RAIN: "rain falling",
    Weather.STORM: "storm, driving rain and lightning",
    Weather.SNOW: "snow falling",
    Weather.FOG: "drifting fog",
    Weather.WIND: "strong wind",
}
TIME_PHRASES = {
    TimeOfDay.DAWN: "at dawn",
    TimeOfDay.DAY: "",
    TimeOfDay.DUSK: "at dusk",
    TimeOfDay.NIGHT: "at night",
}
DEFAULT_SETTING = "a quiet, softly lit room"
DEFAULT_MOOD = "calm"
NEGATIVE_PROMPT = (
    "child, minor, underage, blurry, low quality, distorted face, deformed hands, extra limbs, "
    "watermark, text, logo, jpeg artifacts"
)


def first_match(text: str, table: list[tuple[re.Pattern[str], object]]):
    """The value of the first pattern in ``table`` found in ``text``, or None."""
    for pattern, value in table:
        if pattern.search(text):
            return value
    return None


# --- placeholder and schema text: never a value ------------------------------------------

_PLACEHOLDER_WORDS = {
    "", "string", "none", "null", "nil", "n/a", "na", "unknown", "tbd", "todo", "...", "-", "?", "setting",
    "action", "mood", "camera", "lighting", "framing", "scene", "place", "location", "somewhere", "anywhere",
    "something", "nothing", "example", "text", "value", "description", "undefined", "default", "various",
    "the scene", "a place", "the place", "the setting", "the location", "a location", "unspecified", "not specified",
    "no setting", "no action", "no mood", "n.a.", "same", "same as before", "as above", "see above",
}
_PLACEHOLDER_RE = _re(
    r"\{\{|\}\}|<[^>]{0,40}>|\[[^\]]{0,40}\]|\||\bplaceholder\b|\blorem\b|\bipsum\b|\bfill (?:in|me)\b|"
    r"\binsert\b|\b(?:short|visual) (?:visual )?phrase\b|\bone or two words\b|\bone sentence\b|"
    r"\b(?:mood|setting|action|lighting|camera|framing|scene|location) (?:for|of|goes|here|description|"
    r"text|value|phrase|word)\b|\bfor the (?:moment|scene)\b|\bwhat \w+ visibly does\b|\bwhere the scene\b|"
    r"\byour (?:setting|action|mood|answer)\b|\bjson\b|\bschema\b|\bnull\b|\bundefined\b|\bdescribe\b|"
    r"\b(?:char|user|bot)\}|\{(?:char|user)|\bas an ai\b|\blanguage model\b"
)


def is_placeholder(text: str | None) -> bool:
    """True for empty, schema, template or filler text ("Mood for the moment", "string", "{{char}}")."""
    if text is None:
        return True
    t = " ".join(str(text).split()).strip(" .,:;!-\"'").lower()
    if t in _PLACEHOLDER_WORDS or _PLACEHOLDER_RE.search(t):
        return True
    letters = sum(c.isalpha() for c in t)
    if letters < 3 or letters < 0.6 * len(t.replace(" ", "")):
        return True
    words = t.split()
    # A token repeated over and over is a degenerate sample, not a description.
    return len(words) >= 4 and len(set(words)) <= len(words) // 4
