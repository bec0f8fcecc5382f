"""HTTP Range parsing and the owner-only clip views (with a real stored file, no render needed)."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.test import Client

from companion.evolve.ranges import ByteRange, RangeNotSatisfiable, parse_range
from rendering.models import JobStatus, RenderJob


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 100, None),
        ("bytes=0-", 100, ByteRange(0, 99)),
        ("bytes=0-9", 100, ByteRange(0, 9)),
        ("bytes=90-200", 100, ByteRange(90, 99)),  # end clipped to the file
        ("bytes=-10", 100, ByteRange(90, 99)),  # suffix
        ("bytes=-500", 100, ByteRange(0, 99)),
        ("bytes=0-1,5-6", 100, None),  # multi-range: whole file
        ("items=0-5", 100, None),  # another unit: ignored
        ("bytes=-", 100, None),
    ],
)
def test_parse_range(header, size, expected):
    assert parse_range(header, size) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=100-120", "bytes=50-40", "bytes=-0"])
def test_unsatisfiable_ranges(header):
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, 100)


def test_open_ranges_are_capped():
    assert parse_range("bytes=0-", 10_000, max_part=1000) == ByteRange(0, 999)


@pytest.fixture
def clip_job(db, user, persona):
    job = RenderJob.objects.create(
        persona=persona, requested_by=user, source="chat.message:1", idempotency_key="k1",
        status=JobStatus.SUCCEEDED, labels={"self_signed": True, "c2pa": True},
    )
    job.clip.save("c.mp4", ContentFile(bytes(range(256)) * 4), save=False)
    job.poster.save("p.jpg", ContentFile(b"\xff\xd8jpeg"), save=False)
    job.save()
    return job


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_owner_gets_ranges_and_others_get_404(clip_job, user, other_user):
    url = f"/clips/{clip_job.pk}/video.mp4"
    owner = _client(user)
    whole = owner.get(url)
    body = b"".join(whole.streaming_content)
    assert whole.status_code == 200 and len(body) == 1024 and whole["Content-Length"] == "1024"
    part = owner.get(url, headers={"Range": "bytes=-24"})
    assert part.status_code == 206 and part.content == body[-24:] and part["Content-Range"] == "bytes 1000-1023/1024"
    bad = owner.get(url, headers={"Range": "bytes=5000-"})
    assert bad.status_code == 416 and bad["Content-Range"] == "bytes */1024"
    stale = owner.get(url, headers={"Range": "bytes=0-9", "If-Range": '"something-else"'})
    assert stale.status_code == 200  # the validator does not match: the whole file
    head = owner.head(url)
    assert head.status_code == 200
    assert owner.post(url).status_code == 405

    assert _client(other_user).get(url).status_code == 404
    assert Client().get(url).status_code == 404


def test_unfinished_or_unknown_clip_is_404(clip_job, user):
    owner = _client(user)
    RenderJob.objects.filter(pk=clip_job.pk).update(status=JobStatus.RUNNING)
    assert owner.get(f"/clips/{clip_job.pk}/video.mp4").status_code == 404
    assert owner.get("/clips/00000000-0000-0000-0000-000000000000/video.mp4").status_code == 404


def test_job_api_is_owner_scoped(clip_job, user, other_user):
    mine = _client(user).get(f"/api/evolve/jobs/{clip_job.pk}/")
    assert mine.status_code == 200
    data = mine.json()
    assert data["clip_url"] == f"/clips/{clip_job.pk}/video.mp4" and data["label"]["self_signed"] is True
    assert _client(other_user).get(f"/api/evolve/jobs/{clip_job.pk}/").status_code == 404
    assert _client(other_user).post(f"/api/evolve/jobs/{clip_job.pk}/cancel/").status_code == 404
    done = _client(user).post(f"/api/evolve/jobs/{clip_job.pk}/cancel/")
    assert done.status_code == 200 and done.json()["status"] == "succeeded"  # finished jobs stay as they are
