"""Read a LoCoMo-format conversation for ``bench/memory_recall.py --locomo PATH [--sample N]``.

LoCoMo (Maharana et al., 2024, snap-research/LoCoMo) is a set of real-style long
conversations between two people over months, each with question/answer pairs
that cite the turns answering them. Its data is CC BY-NC: it is not shipped
here; pass the path of your own copy (the whole ``locomo10.json``, a list of
samples, or one sample object).

A sample is ``{"qa": [{"question", "answer", "evidence": ["D1:3", ...],
"category"}], "conversation": {"speaker_a", "speaker_b",
"session_N_date_time": "1:56 pm on 8 May, 2023", "session_N": [{"speaker",
"dia_id", "text", "blip_caption"?}, ...]}}``. Categories: 1 multi-hop, 2
temporal, 3 open-domain (inference: the answer is not said, it follows), 4
single-hop, 5 adversarial (about something nobody said: no evidence to find,
skipped here).

The chat becomes the generated benchmark's import: ``speaker_a`` is the
user, ``speaker_b`` the persona; each turn is dated from its session's
date and time plus ``TURN_SECONDS`` per turn; a shared photo's caption goes
in the line's ``extra`` as ``blip_caption`` (the key import reads a caption
from; the dense baseline gets it after the turn's text).
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path

TURN_SECONDS = 60  # the writer alternates date shapes, two of them to the minute: keeps the order
KINDS = {1: "1-multi-hop", 2: "2-temporal", 3: "3-inference", 4: "4-single-hop"}
ASIDE = {"3-inference"}  # reported, but not in "all": the answer is inferred, the evidence is a hint


def _session_date(value: str) -> datetime:
    """LoCoMo's "1:56 pm on 8 May, 2023" (naive: the import reads it in the project's zone too)."""
    return datetime.strptime(value.replace(",", ""), "%I:%M %p on %d %B %Y")


def load(path: str | Path, sample: int = 0) -> tuple[str, str, list[dict], list[dict]]:
    """(user name, persona name, turns, questions) of one sample.

    A turn is ``{"tid", "speaker": "user" | "persona", "text", "caption", "when"}``; a question
    ``{"kind", "text", "evidence": [tid, ...]}`` (only evidence that is a turn of the chat;
    a question left with none is dropped)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    item = data[sample] if isinstance(data, list) else data
    conv = item["conversation"]
    user, persona = conv["speaker_a"], conv["speaker_b"]
    numbers = sorted(int(m.group(1)) for key in conv if (m := re.fullmatch(r"session_(\d+)", key)))
    turns: list[dict] = []
    for n in numbers:
        start = _session_date(conv[f"session_{n}_date_time"])
        for i, t in enumerate(conv[f"session_{n}"]):
            turns.append({"tid": t["dia_id"], "speaker": "user" if t["speaker"] == user else "persona",
                          "text": t["text"], "caption": t.get("blip_caption") or "",
                          "when": start + timedelta(seconds=TURN_SECONDS * i)})
    known = {t["tid"] for t in turns}
    questions = []
    for qa in item["qa"]:
        kind = KINDS.get(qa.get("category"))
        if kind is None:
            continue
        # A few LoCoMo entries join ids in one string ("D8:6; D9:17").
        evidence = [e for raw in qa.get("evidence", []) for e in re.findall(r"D\d+:\d+", str(raw)) if e in known]
        if evidence:
            questions.append({"kind": kind, "text": qa["question"], "evidence": list(dict.fromkeys(evidence))})
    return user, persona, turns, questions
