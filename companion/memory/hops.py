"""Second hops: what the first results say that the question does not, searched again.

Two kinds, both general (no knowledge of any question template):

* a **name** the best first results mention that the question does not ("my
  uncle … moved to Kyoto" names Oskar; "Oskar started teaching" is the second
  hop);
* a **shared thing**, for a question split per person ("Which sweet do Ada
  and Mira both love?" → one part per person): among each person's best
  results, the two most alike statements, one by each ("I have a soft spot for
  black liquorice" / "I adore black liquorice too"), are kept together in the
  top k, though the second may share no word with the question.
"""

from __future__ import annotations

import re
from itertools import combinations

import numpy as np

from companion.memory.query import _CAPS_SKIP
from companion.memory.recall_index import LAYER_CODES, WORD, PairIndex

MAX_HOPS = 2
SHARED_TOP = 10  # each person's best results compared
SHARED_MIN_SIMILARITY = 0.5
_HOP_NAME = re.compile(r"(?<![.!?:]\s)(?<!^)\b([A-Z][a-z]{2,20})\b")


def _said(index: PairIndex, row: int) -> str:
    """An item's text without the speaker / question prefix ("Ada (to Mira's "…"): …")."""
    return index.texts[row].split(": ", 1)[-1]


def second_hops(index: PairIndex, rows: list[int], *, query: str) -> list[tuple[str, int]]:
    """Names the best first results mention that the question does not, with the turn each came from."""
    asked = {w.lower() for w in WORD.findall(query.lower())}
    skip = {s.lower() for s in index.speakers} | asked
    found: list[tuple[str, int]] = []
    for row in rows[:3]:
        if index.layers[row] == LAYER_CODES["session"]:
            continue
        anchor = int(index.anchors[row])
        for name in _HOP_NAME.findall(_said(index, row)):
            if name in _CAPS_SKIP or name.lower() in skip or name in {f[0] for f in found}:
                continue
            found.append((name, anchor))
    return found[:MAX_HOPS]


def _own(index: PairIndex, rows: list[int], speaker: int | None) -> list[int]:
    """Of ``rows``' first SHARED_TOP, the speaker's own statements: not a session, and not a reply
    that quotes the other's turn (its vector holds the other's words: "Mira (to Ada's "…"): Why?")."""
    return [r for r in rows[:SHARED_TOP] if index.speaker_codes[r] == speaker
            and index.layers[r] != LAYER_CODES["session"] and " (to " not in index.texts[r].split(": ", 1)[0]]


def shared_pair(index: PairIndex, per_part: list[list[int]], foci: list[int | None]) -> list[int]:
    """For a question split per person: the two most alike statements, one said by each person, among
    each part's best results ("I have a soft spot for black liquorice" / "I adore black liquorice
    too"); [] when no pair is alike enough."""
    people = [j for j in range(1, len(per_part)) if foci[j] is not None and per_part[j]]
    best: tuple[float, list[int]] = (SHARED_MIN_SIMILARITY, [])
    for a, b in combinations(people, 2):
        if foci[a] == foci[b]:
            continue
        own_a, own_b = _own(index, per_part[a], foci[a]), _own(index, per_part[b], foci[b])
        if not own_a or not own_b:
            continue
        sims = index.matrix[own_a] @ index.matrix[own_b].T
        i, j = np.unravel_index(int(np.argmax(sims)), sims.shape)
        if sims[i, j] > best[0]:
            best = (float(sims[i, j]), [own_a[i], own_b[j]])
    return best[1]
