"""The gate against its tables: every must-refuse phrasing refused, at most 1% of benign scenes refused.

Both rates are printed at the end of the pytest run (``pytest_terminal_summary`` in
tests/rendering/conftest.py), with or without ``-s``.
"""

from __future__ import annotations

from rendering.safety import find_minor_reference, find_real_person
from tests.rendering.safety_tables import BENIGN_ALL, MUST_REFUSE

RATES: dict[str, tuple[int, int]] = {}  # table -> (refused, total), read by the terminal summary
CAST = ["Mira", "Leo"]


def _refused(text: str) -> str | None:
    return find_minor_reference(text, names=CAST) or find_real_person(text, allowed_names=CAST)


def test_tables_are_big_enough():
    assert len(MUST_REFUSE) >= 300 and len(set(MUST_REFUSE)) >= 300
    assert len(BENIGN_ALL) >= 300 and len(set(BENIGN_ALL)) >= 300


def test_every_must_refuse_phrasing_is_refused(settings):
    settings.RENDER_REAL_PERSON_NAMES = []
    missed = [text for text in MUST_REFUSE if not _refused(text)]
    RATES["must-refuse refused"] = (len(MUST_REFUSE) - len(missed), len(MUST_REFUSE))
    assert not missed, f"{len(missed)} of {len(MUST_REFUSE)} not refused: {missed}"


def test_benign_scenes_pass(settings):
    settings.RENDER_REAL_PERSON_NAMES = []
    refused = [(text, why) for text in BENIGN_ALL if (why := _refused(text))]
    RATES["benign refused"] = (len(refused), len(BENIGN_ALL))
    assert len(refused) <= len(BENIGN_ALL) // 100, f"{len(refused)} of {len(BENIGN_ALL)} refused: {refused}"
