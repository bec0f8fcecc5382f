"""Authorization matrix: every URL, for anonymous, owner, other user and staff.

Every URL pattern the project serves is enumerated from the resolver and must
be classified below; a new view that nobody classified fails
``test_every_url_is_classified``, so it cannot ship without a decision about
who may use it. The rule checked: nobody sees or touches another user's
conversations, memories, clips or private personas — staff included (staff
powers live in the admin, behind model permissions).
(A little over 400 lines: the classification of every URL and the walk that checks it, kept in one place.)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from companion.chat import services as chat_services
from companion.chat.models import Conversation, ConversationMember, Message
from companion.memory.models import Memory, RelationshipState
from personas.models import Lorebook, LoreEntry
from rendering.models import JobStatus, RenderJob
from rendering.previews import preview_encode, preview_store
from tests.web.factories import PASSWORD, make_clip_job, make_persona, make_user, say

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "owner", "other", "staff")


def _walk(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p.name


def all_routes() -> dict[str, str]:
    """name -> route (the first of a name: DRF's format-suffix twins share their view)."""
    found: dict[str, str] = {}
    for route, name in _walk(get_resolver().url_patterns):
        found.setdefault(name or route, route)
    return found


# --- the world ---------------------------------------------------------------------------


@pytest.fixture
def world(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    alice, bob = make_user("alice"), make_user("bob")
    staff = make_user("staff")
    staff.is_staff = True
    staff.save()
    public = make_persona("Mira", portrait=True)
    secret = make_persona("Secret", owner=alice, private=True, portrait=True)
    conv = chat_services.conversation_start(owner=alice, persona=public)
    user_msg, reply = say(conv, "We walk along the beach at sunset.")
    bob_conv = chat_services.conversation_start(owner=bob, persona=public)
    bob_user_msg, bob_reply = say(bob_conv, "Bob's private words.")
    memory = Memory.objects.create(user=alice, persona=public, conversation=conv, text="Alice walks at sunset.")
    Memory.objects.create(user=bob, persona=public, conversation=bob_conv, text="Bob's secret memory.")
    RelationshipState.objects.create(user=alice, persona=public, stage="friend")
    book = Lorebook.objects.create(owner=alice, name="Alice's coast")
    LoreEntry.objects.create(book=book, keys=["coast"], content="Alice walks at sunset on the coast.")
    conv.lorebooks.add(book)  # attached: a stranger's detach would show in _state_book
    job = make_clip_job(
        reply, persona=public, requested_by=alice, idempotency_key="alice-1", status=JobStatus.SUCCEEDED,
        beat={"prompt": "beach"},
    )
    job.clip.save(f"{job.pk}.mp4", ContentFile(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64), save=False)
    job.poster.save(f"{job.pk}.jpg", ContentFile(b"\xff\xd8\xff\xe0" + b"\x00" * 32), save=False)
    job.save()
    running = make_clip_job(
        reply, persona=public, requested_by=alice, idempotency_key="alice-2", status=JobStatus.QUEUED,
    )
    return {
        "users": {"owner": alice, "other": bob, "staff": staff},
        "public": public, "secret": secret, "conv": conv, "user_msg": user_msg, "reply": reply,
        "bob_conv": bob_conv, "bob_reply": bob_reply, "bob_user_msg": bob_user_msg,
        "memory": memory, "job": job, "queued_job": running, "book": book,
    }


def client_for(world, role: str) -> Client:
    client = Client()
    if role != "anonymous":
        client.force_login(world["users"][role])
    return client


# --- the classification ------------------------------------------------------------------


@dataclass
class Case:
    method: str
    url: Callable[[dict], str]
    data: Callable[[dict], dict] | None = None
    json_body: bool = False
    owner_ok: tuple[int, ...] = (200,)
    unchanged: Callable[[dict], object] | None = None  # state that must not move for denied roles


def _state_conv(w):
    c = Conversation.objects.filter(pk=w["conv"].pk).values("archived").first()
    return c, Message.objects.filter(conversation_id=w["conv"].pk).count()


def _state_branches(w):
    return Conversation.objects.filter(parent=w["conv"]).count()


def _state_members(w):
    return list(ConversationMember.objects.filter(conversation=w["conv"]).values_list("persona_id", "muted_until"))


def _state_turn_order(w):
    return Conversation.objects.filter(pk=w["conv"].pk).values_list("turn_order", flat=True).first()


def _state_memory(w):
    return Memory.objects.filter(pk=w["memory"].pk).values("text").first()


def _state_book(w):
    return list(Lorebook.objects.filter(pk=w["book"].pk).values_list("conversations", flat=True))


def _state_job(w):
    return RenderJob.objects.filter(pk=w["queued_job"].pk).values("status").first()


def _state_continues(w):
    return RenderJob.objects.filter(continues=w["job"]).count()


def _continue_url(w):
    # a continue needs the clip's whole scene (the world's job carries only a prompt)
    RenderJob.objects.filter(pk=w["job"].pk).update(beat={"setting": "a beach", "action": "Mira walks"})
    return f"/api/evolve/jobs/{w['job'].pk}/continue/"


def _preview_url(w):
    # the live preview of the job in progress, as its worker keeps it
    preview_store(job_id=str(w["queued_job"].pk), preview=preview_encode(np.zeros((36, 64, 3), np.uint8)))
    return f"/clips/{w['queued_job'].pk}/preview.jpg"


# Owned: the URL names one of alice's objects. Owner succeeds; everyone else is refused.
OWNED: dict[str, list[Case]] = {
    "chat": [Case("get", lambda w: f"/conversations/{w['conv'].pk}/")],
    "conversation-archive": [Case("post", lambda w: f"/conversations/{w['conv'].pk}/archive/", lambda w: {},
                                  owner_ok=(302,), unchanged=_state_conv)],
    "conversation-delete": [Case("post", lambda w: f"/conversations/{w['conv'].pk}/delete/", lambda w: {},
                                 owner_ok=(302,), unchanged=_state_conv)],
    "api-conversation-detail": [
        Case("get", lambda w: f"/api/conversations/{w['conv'].pk}/"),
        Case("delete", lambda w: f"/api/conversations/{w['conv'].pk}/", owner_ok=(204,), unchanged=_state_conv),
    ],
    "api-conversation-archive": [Case("post", lambda w: f"/api/conversations/{w['conv'].pk}/archive/",
                                      lambda w: {"archived": True}, json_body=True, unchanged=_state_conv)],
    "api-conversation-messages": [Case("get", lambda w: f"/api/conversations/{w['conv'].pk}/messages/")],
    "api-conversation-branch": [Case("post", lambda w: f"/api/conversations/{w['conv'].pk}/branch/",
                                     lambda w: {"message_id": w["reply"].pk}, json_body=True, owner_ok=(201,),
                                     unchanged=_state_branches)],
    "api-conversation-branches": [Case("get", lambda w: f"/api/conversations/{w['conv'].pk}/branches/")],
    # Group scenes: the members of the scene, one member (mute, leave) and the turn order.
    "api-conversation-members": [
        Case("get", lambda w: f"/api/conversations/{w['conv'].pk}/members/"),
        Case("post", lambda w: f"/api/conversations/{w['conv'].pk}/members/", lambda w: {"persona": w["secret"].slug},
             json_body=True, owner_ok=(201,), unchanged=_state_members),
    ],
    "api-conversation-member": [
        Case("patch", lambda w: f"/api/conversations/{w['conv'].pk}/members/{w['public'].pk}/",
             lambda w: {"mute_minutes": 5}, json_body=True, unchanged=_state_members),
    ],
    "api-conversation-turn-order": [Case("post", lambda w: f"/api/conversations/{w['conv'].pk}/turn_order/",
                                         lambda w: {"turn_order": "list"}, json_body=True,
                                         unchanged=_state_turn_order)],
    "memory-list": [Case("get", lambda w: f"/api/memory/conversations/{w['conv'].pk}/memories/")],
    "memory-relationship": [Case("get", lambda w: f"/api/memory/conversations/{w['conv'].pk}/relationship/")],
    "memory-recall": [Case("get", lambda w: f"/api/memory/conversations/{w['conv'].pk}/recall/?q=sunset")],
    "memory-detail": [
        Case("get", lambda w: f"/api/memory/memories/{w['memory'].pk}/"),
        Case("patch", lambda w: f"/api/memory/memories/{w['memory'].pk}/", lambda w: {"text": "Changed."},
             json_body=True, unchanged=_state_memory),
        Case("delete", lambda w: f"/api/memory/memories/{w['memory'].pk}/", owner_ok=(204,),
             unchanged=_state_memory),
    ],
    "job-detail": [Case("get", lambda w: f"/api/evolve/jobs/{w['job'].pk}/")],
    "job-cancel": [Case("post", lambda w: f"/api/evolve/jobs/{w['queued_job'].pk}/cancel/", lambda w: {},
                        json_body=True, unchanged=_state_job)],
    "job-create": [Case("post", lambda w: "/api/evolve/jobs/", lambda w: {"message_id": w["reply"].pk},
                        json_body=True, owner_ok=(200, 201, 202))],
    "preview": [Case("post", lambda w: "/api/evolve/preview/", lambda w: {"message_id": w["reply"].pk},
                     json_body=True)],
    "reel-create": [Case("post", lambda w: "/api/evolve/reels/",
                         lambda w: {"conversation_id": w["conv"].pk, "job_ids": [str(w["job"].pk)]},
                         json_body=True, owner_ok=(200, 201, 202))],
    "clip-video": [Case("get", lambda w: f"/clips/{w['job'].pk}/video.mp4")],
    "clip-poster": [Case("get", lambda w: f"/clips/{w['job'].pk}/poster.jpg")],
    "clip-download": [Case("get", lambda w: f"/clips/{w['job'].pk}/download")],
    "clip-preview": [Case("get", _preview_url)],
    "job-continue": [Case("post", _continue_url, lambda w: {"text": "She waves."}, json_body=True,
                          owner_ok=(201,), unchanged=_state_continues)],
    "persona-portrait": [Case("get", lambda w: f"/personas/{w['secret'].slug}/portrait/")],
    "api-persona-detail": [Case("get", lambda w: f"/api/personas/{w['secret'].slug}/")],
    "api-lorebook-detail": [
        Case("get", lambda w: f"/api/lorebooks/{w['book'].pk}/"),
        Case("delete", lambda w: f"/api/lorebooks/{w['book'].pk}/", owner_ok=(204,), unchanged=_state_book),
    ],
    "api-lorebook-attach": [Case("post", lambda w: f"/api/lorebooks/{w['book'].pk}/attach/",
                                 lambda w: {"conversation": w["conv"].pk}, json_body=True, unchanged=_state_book)],
    "api-lorebook-detach": [Case("post", lambda w: f"/api/lorebooks/{w['book'].pk}/detach/",
                                 lambda w: {"conversation": w["conv"].pk}, json_body=True, unchanged=_state_book)],
}
# Open to anyone, signed in or not (probes, login, sign-up, the API schema and docs).
# web-manifest, service-worker: the installable app's manifest and worker (static, no user content).
PUBLIC = {"healthz", "readyz", "login", "signup", "home", "api-schema", "api-docs", "api-token",
          "web-manifest", "service-worker"}
# Any signed-in user, about themselves only (listings are checked for leaks below).
SIGNED_IN = {
    "personas", "api-persona-list", "api-conversation-list", "api-root", "conversation-new", "logout",
    "account", "account-export", "account-delete", "api-lorebook-list",
}
# Operators: the Prometheus scraper (network/token, tests/ops/test_metrics.py) and staff tools.
SCRAPER = {"prometheus-django-metrics"}
STAFF_TOOLS = {"memory-debug-prompt"}  # the assembled prompt of a reply, for debugging the model


def test_every_url_is_classified():
    classified = set(OWNED) | PUBLIC | SIGNED_IN | SCRAPER | STAFF_TOOLS
    unclassified = {
        name: route for name, route in all_routes().items()
        if name not in classified and not route.startswith("admin/")
    }
    assert not unclassified, f"classify these URLs in {__file__}: {unclassified}"


DENIED = {401, 403, 404}


@pytest.mark.parametrize("name", sorted(OWNED))
def test_only_the_owner_can_use_an_owned_url(world, name, settings):
    settings.RENDER_RATE_LIMIT = "1000/m"
    for case in OWNED[name]:
        url = case.url(world)
        for role in ("anonymous", "other", "staff"):  # first, so the owner's change cannot mask a leak
            before = case.unchanged(world) if case.unchanged else None
            response = _call(client_for(world, role), case, world)
            if role == "anonymous" and response.status_code == 302:
                assert "/login/" in response["Location"], (role, url)
            else:
                assert response.status_code in DENIED, (role, case.method, url, response.status_code)
            body = _text(response)
            for secret in ("We walk along the beach", "Alice walks at sunset", "ftypmp42"):
                assert secret not in body, (role, url)
            if case.unchanged:
                assert case.unchanged(world) == before, (role, case.method, url)
        response = _call(client_for(world, "owner"), case, world)
        detail = ("owner", case.method, url, response.status_code, _text(response)[:300])
        assert response.status_code in case.owner_ok, detail


def _call(client: Client, case: Case, world):
    kwargs = {}
    if case.data is not None:
        data = case.data(world)
        kwargs = {"data": json.dumps(data), "content_type": "application/json"} if case.json_body else {"data": data}
    return getattr(client, case.method)(case.url(world), **kwargs)


def _text(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


@pytest.mark.parametrize("role", ROLES)
def test_public_urls_answer_everyone(world, role):
    client = client_for(world, role)
    for url in ("/healthz", "/readyz", "/login/", "/signup/", "/", "/api/schema/", "/api/docs/", "/sw.js",
                "/manifest.webmanifest"):
        response = client.get(url)
        assert response.status_code in (200, 302), (role, url, response.status_code)
        if role != "owner":
            assert "We walk along the beach" not in _text(response), (role, url)


def test_token_login_needs_the_right_password(world):
    client = Client()
    assert client.post("/api/auth/token/", {"username": "alice", "password": "wrong"}).status_code == 400
    response = client.post("/api/auth/token/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 200 and response.json()["token"]


@pytest.mark.parametrize("role", ROLES)
def test_signed_in_pages_need_a_login_and_list_only_my_things(world, role):
    client = client_for(world, role)
    pages = ["/personas/", "/api/personas/", "/api/conversations/", "/api/", "/account/export/", "/account/delete/"]
    for url in pages:
        response = client.get(url)
        if role == "anonymous":
            assert response.status_code in (302, 401, 403), (url, response.status_code)
            continue
        assert response.status_code == 200, (role, url, response.status_code)
        body = _text(response) if not url.startswith("/account/export") else ""
        if role != "owner":
            assert "We walk along the beach" not in body and "Secret" not in body, (role, url)
        if role != "other":
            assert "Bob's private words" not in body, (role, url)
    if role != "anonymous":
        ids = [c["id"] for c in _results(client.get("/api/conversations/").json())]
        mine = list(Conversation.objects.filter(owner=world["users"][role]).values_list("pk", flat=True))
        assert sorted(ids) == sorted(mine)
        slugs = [p["slug"] for p in _results(client.get("/api/personas/").json())]
        assert (world["secret"].slug in slugs) == (role == "owner")


def _results(payload):
    return payload["results"] if isinstance(payload, dict) and "results" in payload else payload


@pytest.mark.parametrize("role", ROLES)
def test_starting_a_conversation_with_a_private_persona_is_owner_only(world, role):
    client = client_for(world, role)
    response = client.post("/conversations/new/", {"persona": world["secret"].slug})
    if role == "anonymous":
        assert response.status_code == 302 and "/login/" in response["Location"]
    elif role == "owner":
        assert response.status_code == 302
    else:
        assert response.status_code == 404
        assert not Conversation.objects.filter(owner=world["users"][role], persona=world["secret"]).exists()


def test_logout_is_post_only(world):
    client = client_for(world, "owner")
    assert client.get("/logout/").status_code == 405
    assert client.post("/logout/").status_code == 302


@pytest.mark.parametrize("role", ROLES)
def test_staff_tools_are_staff_only_and_never_open_someone_elses_chat(world, role):
    response = client_for(world, role).get(f"/api/memory/debug/prompt/{world['reply'].pk}/")
    expected = {"staff": {404}, "anonymous": {401, 403}}.get(role, {403})
    assert response.status_code in expected, (role, response.status_code)


@pytest.mark.parametrize("role", ROLES)
def test_the_admin_is_for_staff_and_shows_staff_only_what_they_are_permitted(world, role):
    client = client_for(world, role)
    response = client.get("/admin/")
    if role in ("anonymous", "owner", "other"):
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
    else:
        assert response.status_code == 200
    # Staff without model permissions cannot open anyone's conversations there.
    response = client.get("/admin/chat/conversation/")
    assert response.status_code in (302, 403, 404)


def test_media_root_is_not_served_wholesale(world):
    """Clip and portrait files are only reachable through the owner-checked views."""
    owner = client_for(world, "owner")
    for name in (world["job"].clip.name, world["secret"].portrait.name):
        assert owner.get(f"/media/{name}").status_code == 404


def test_served_media_is_typed_and_not_sniffable(world):
    owner = client_for(world, "owner")
    for url, content_type in (
        (f"/clips/{world['job'].pk}/video.mp4", "video/mp4"),
        (f"/clips/{world['job'].pk}/poster.jpg", "image/jpeg"),
        (f"/personas/{world['secret'].slug}/portrait/", "image/png"),
    ):
        response = owner.get(url)
        assert response.status_code == 200, url
        assert response["Content-Type"] == content_type, url
        assert response["X-Content-Type-Options"] == "nosniff", url


def test_staff_user_exists_with_no_model_permissions(world):
    staff = get_user_model().objects.get(username="staff")
    assert staff.is_staff and not staff.is_superuser and not staff.get_all_permissions()


def test_not_even_a_superuser_can_browse_users_private_records_in_the_admin(world):
    root = get_user_model().objects.create_superuser("root", password="x-root-pass-123")
    client = Client()
    client.force_login(root)
    assert client.get("/admin/").status_code == 200
    for model_url in (
        "/admin/chat/conversation/",
        "/admin/chat/message/",
        "/admin/memory/memory/",
        "/admin/memory/relationshipstate/",
        "/admin/memory/milestone/",
        "/admin/memory/conversationsummary/",
    ):
        assert client.get(model_url).status_code == 404, model_url
