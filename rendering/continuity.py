"""Shots that continue: the next clip starts from the last frame of the clip it continues.

An image-to-video pipeline starts from that frame itself (``DiffusersVideoRenderer``
passes it as ``image``); every other renderer (the previz, text-to-video) draws its
beat as usual and the clip fades in from the frame over ``CROSSFADE_S``, so the cut
between the two clips is a short dissolve, never a jump. Scene continuity (setting,
camera, light, weather, time of day) travels in the beat the requester writes.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from rendering import encode
from rendering.models import JobStatus, RenderJob

log = logging.getLogger(__name__)

CROSSFADE_S = 0.5


def child_seed(parent_seed: int, salt: str = "") -> int:
    """A continued clip's seed, derived from its parent's (seed lineage: the same Continue gives the same clip)."""
    digest = hashlib.sha256(f"{parent_seed}|continue|{salt}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def last_frame(job: RenderJob, *, size: tuple[int, int]) -> np.ndarray | None:
    """The last frame of ``job``'s clip at ``size`` (width, height); None when the clip is not there."""
    if job.status != JobStatus.SUCCEEDED or not job.clip:
        return None
    try:
        with tempfile.TemporaryDirectory(prefix="continue-") as tmp:
            local = Path(tmp) / "parent.mp4"
            with job.clip.open("rb") as src:  # any storage backend: copy, then decode
                local.write_bytes(src.read())
            last = None
            for last in encode.decode_frames(local, size=size):  # noqa: B007 (the loop is the seek)
                pass
            return last
    except (OSError, ValueError) as exc:
        log.warning("render job %s: could not read the last frame of %s: %s", job.pk, job.pk, exc)
        return None


def fade_in_from(start: np.ndarray, frames: Iterable[np.ndarray], *, count: int) -> Iterator[np.ndarray]:
    """``frames`` with the first ``count`` dissolving from ``start`` (the first one is ``start`` itself)."""
    for i, frame in enumerate(frames):
        if i < count and start.shape == frame.shape:
            t = i / count
            frame = (start.astype(np.float32) * (1 - t) + frame.astype(np.float32) * t).round().astype(np.uint8)
        yield frame
