"""Deterministic cues for the scene extractor's fallback.

Each table maps a regular expression over the story text to a value of the
SceneBeat vocabulary. Order matters: the first pattern that matches wins, so
specific cues ("candle", "neon") come before broad ones ("night", "sun").
These never need a model, so a beat is always possible, and they are the
tie-breaker when the message itself names a light or a movement explicitly.
"""

from __future__ import annotations

import re

from rendering.beat import CameraMove, Framing, Lighting


def _re(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


LIGHTING_CUES: list[tuple[re.Pattern[str], Lighting]] = [
    (_re(r"\bcandle(?:s|lit|light)?\b|\bcandle-lit\b"), Lighting.CANDLELIGHT),
    (_re(r"\bneon\b"), Lighting.NEON),
    (_re(r"\bmoon(?:lit|light|beams?)?\b"), Lighting.MOONLIGHT),
    (_re(r"\b(?:camp)?fire(?:light|place|side)?\b|\bhearth\b|\bembers\b|\bbonfire\b|\btorch(?:es|light)?\b"),
     Lighting.FIRELIGHT),
    (_re(r"\brain(?:y|ing|drops?|soaked)?\b|\bdownpour\b|\bdrizzl\w*"), Lighting.RAINY_NIGHT),
    (_re(r"\bsun(?:set|rise)\b|\bdusk\b|\bgolden hour\b|\bgolden light\b|\btwilight\b"), Lighting.GOLDEN_HOUR),
    (_re(r"\bovercast\b|\bcloud(?:y|s)\b|\bgr[ae]y sk(?:y|ies)\b|\bfog(?:gy)?\b|\bmist(?:y)?\b"), Lighting.OVERCAST),
    (_re(r"\bstudio\b|\bspotlights?\b|\bon stage\b|\bphoto ?shoot\b"), Lighting.STUDIO),
    (_re(r"\bsun(?:ny|light|shine)?\b|\bmorning\b|\bnoon\b|\bdaylight\b|\bbright day\b|\bafternoon\b"),
     Lighting.DAYLIGHT),
    (_re(r"\bnight\b|\bstars?\b|\bstarlit\b|\bmidnight\b"), Lighting.MOONLIGHT),
]

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
    r"\b(?:eyes|face|lips|whisper\w*|tears?|blush\w*|kiss\w*|cheeks?|close to your ear|smiles? softly)\b"
)
WIDE_CUES = _re(
    r"\b(?:landscape|horizon|skyline|crowd|field|valley|ocean|sea|desert|mountains?|city|across the|along the)\b"
)

MOOD_CUES: list[tuple[re.Pattern[str], str]] = [
    (_re(r"\b(?:tears?|cry\w*|cries|sad\w*|sorrow\w*|grie\w*|miss(?:es|ed)? you)\b"), "melancholic"),
    (_re(r"\b(?:afraid|scared|fear\w*|trembl\w*|shadows?|danger\w*|tense\w*)\b"), "tense"),
    (_re(r"\b(?:angry|furious|rage|glar\w*)\b"), "intense"),
    (_re(r"\b(?:kiss\w*|love\w*|blush\w*|heart|romantic|darling)\b"), "romantic"),
    (_re(r"\b(?:laugh\w*|giggl\w*|grin\w*|joy\w*|happ(?:y|ily)|delight\w*)\b"), "joyful"),
    (_re(r"\b(?:danc\w*|twirl\w*|play\w*|tease\w*|wink\w*|excit\w*)\b"), "playful"),
    (_re(r"\b(?:whisper\w*|soft\w*|gentl\w*|tender\w*|hold\w*|hug\w*)\b"), "tender"),
    (_re(r"\b(?:calm\w*|peace\w*|quiet\w*|still\w*|serene|relax\w*)\b"), "serene"),
    (_re(r"\b(?:mysterious|secret\w*|myster\w*)\b"), "mysterious"),
]

# Places: the noun, and up to two words before it kept as its description
# ("the moonlit beach" -> "moonlit beach").
SETTING_NOUNS = (
    r"beach|shore|sea|ocean|forest|woods|garden|park|meadow|field|lake|river|mountain|mountains|cliff|valley"
    r"|desert|snow|cafe|café|coffee shop|restaurant|bar|pub|club|kitchen|bedroom|living room|library|bookshop"
    r"|bookstore|rooftop|balcony|street|alley|city|market|station|train|car|boat|ship|harbou?r|pier|bridge"
    r"|castle|tower|temple|church|office|studio|classroom|museum|gallery|theatre|theater|stage|ballroom"
    r"|tavern|inn|cabin|cottage|house|apartment|room|porch|terrace|greenhouse|observatory|spaceship|space station"
    r"|lighthouse|coast|island|harbour wall|shop"
)
SETTING_RE = _re(rf"((?:[\w'-]+\s+){{0,2}})\b({SETTING_NOUNS})\b")
SETTING_DROP_WORDS = {
    "the", "a", "an", "our", "my", "your", "her", "his", "their", "this", "that", "to", "in", "at", "on", "by",
    "of", "into", "onto", "through", "along", "across", "near", "under", "over", "around", "from", "with", "and",
    "toward", "towards", "inside", "outside", "down", "up", "me", "you", "us", "walk", "walks", "go", "come",
    "is", "are", "was", "were", "be", "it", "i", "we", "she", "he", "they", "back",
}

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


def find_setting(text: str) -> str | None:
    """A short place description taken from ``text`` itself ("moonlit beach"), or None."""
    m = SETTING_RE.search(text)
    if m is None:
        return None
    # Only the words right before the noun describe it ("moonlit"): stop at an article, verb or preposition.
    kept: list[str] = []
    for word in reversed(m.group(1).split()):
        word = word.strip(",.;:!?\"'")
        if not word or word.lower() in SETTING_DROP_WORDS:
            break
        kept.insert(0, word)
    return " ".join([*kept, m.group(2).lower()])
