"""Acceptance: the embedded default as a person runs it, with the real parts at a person's pace.

``manage.py serve`` runs as a subprocess on its own SQLite file with the real
packaged chat model (llama.cpp), the real in-process worker (memory extraction
as shipped, the CPU previz renderer) and Daphne. Over real HTTP and real
websockets, two users chat at once, each a 6-turn conversation with 2-5 s
between a reply's end and the next message; along the way one regenerates,
one reloads mid-reply, one previews and renders a scene, and a third user logs
in while memory extraction runs. What a user would notice is asserted: no
error frames, no socket closed by the server, every reply complete, a
regenerate that differs, a resumed reply, no HTTP answer of 500 or more, the
clip arrives, and the memory panel lists the facts the user stated.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.served_app import PASSWORD, served_app
from tests.support.wsclient import ChatSocket

pytestmark = [pytest.mark.slow, pytest.mark.acceptance, pytest.mark.timeout(900)]

SEED = f"""
from django.contrib.auth import get_user_model
from companion.chat.services import conversation_start
from personas.demo import ensure_demo_persona

persona = ensure_demo_persona()
User = get_user_model()
ids = []
for name in ("ana", "ben", "cleo"):
    user = User.objects.create_user(name, password={PASSWORD!r})
    ids.append(conversation_start(owner=user, persona=persona).pk)
print("CONVERSATION", ids[0])
print("CONVERSATIONS", *ids)
"""

# Each user states facts early and asks about them later, like a real first chat.
SCRIPTS = {
    "ana": [
        "Hi! I'm Ana. I just got back from work at the bakery.",
        "I have a dog called Biscuit, he is a very fluffy corgi.",
        "What do you like to do on quiet evenings?",
        "Next month I'm planning a trip to Lisbon with my sister.",
        "Tell me something about where you live.",
        "Do you remember what my dog is called?",
    ],
    "ben": [
        "Hello there, my name is Ben and I work as a nurse.",
        "My favourite food is ramen, I could eat it every day.",
        "I live in a small flat above a bookshop.",
        "What would you do if it rained all weekend?",
        "I'm learning to play the cello, it's hard but fun.",
        "What do you remember about my job?",
    ],
}
# What the memory panel must show for each user afterwards (any one word of each group).
FACTS = {"ana": [("biscuit", "corgi", "dog"), ("bakery",)], "ben": [("nurse",), ("ramen",)]}


@dataclass
class Watch:
    """Everything a user's client saw that a person would call a failure."""

    errors: list[dict[str, Any]] = field(default_factory=list)
    server_closes: list[int] = field(default_factory=list)
    http_statuses: list[tuple[str, int]] = field(default_factory=list)
    timeline: list[str] = field(default_factory=list)  # what each user did when (for a failure's message)
    started: float = field(default_factory=time.monotonic)

    def note(self, who: str, what: str) -> None:
        self.timeline.append(f"{time.monotonic() - self.started:6.1f}s {who}: {what}")

    def socket_done(self, ws: ChatSocket) -> None:
        self.errors += [f for f in ws.frames if f["type"] == "error"]
        # 1000 is our own close; anything else (1011 crash, 4xxx refusal) is the server's doing.
        if ws.closed_code not in (None, 1000):
            self.server_closes.append(ws.closed_code)


def http_login(base: str, username: str, watch: Watch) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=60, follow_redirects=False)
    page = client.get("/login/")
    watch.http_statuses.append(("GET /login/", page.status_code))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    answer = client.post("/login/", data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token},
                         headers={"Referer": f"{base}/login/"})
    watch.http_statuses.append(("POST /login/", answer.status_code))
    assert answer.status_code == 302, f"login of {username} answered {answer.status_code}"
    return client


def new_reply(frame: dict[str, Any]) -> bool:
    """A reply starting (not the clip message a finished render posts, which is a persona message too)."""
    return frame["type"] == "message.created" and frame["message"]["status"] == "streaming"


async def pause() -> None:
    await asyncio.sleep(random.uniform(2.0, 5.0))  # a person reads the reply, then types


async def reply_done(ws: ChatSocket, reply_id: int, timeout_s: float = 180) -> dict[str, Any]:
    frame = await ws.wait_for(lambda f: f["type"] == "message.done" and f["message"]["id"] == reply_id, timeout_s)
    return frame["message"]


async def converse(base: str, username: str, conversation_id: int, watch: Watch, *, role: str) -> dict[str, Any]:
    """Six turns at a person's pace; ``role`` adds the extra thing this user does."""
    client = await asyncio.to_thread(http_login, base, username, watch)
    session = client.cookies["sessionid"]
    found: dict[str, Any] = {"replies": []}
    ws = await ChatSocket(base, conversation_id, session).open()
    try:
        for turn, text in enumerate(SCRIPTS[username]):
            client_id = f"{username}-{turn}"
            watch.note(username, f"send {turn}")
            await ws.send({"type": "message.send", "text": text, "client_id": client_id})
            reply = await ws.wait_for(new_reply, 120)
            reply_id = reply["message"]["id"]
            if role == "reload" and turn == 2:
                # Reload mid-reply: drop the socket after the first delta, come back, resume.
                await ws.wait_for(lambda f, rid=reply_id: f["type"] == "message.delta" and f["message_id"] == rid, 120)
                watch.socket_done(ws)
                await ws.close()
                ws = await ChatSocket(base, conversation_id, session).open()
                history = await ws.history(after_seq=0)
                resumed = next(m for m in history["messages"] if m["id"] == reply_id)
                found["resumed_status"] = resumed["status"]
                done = resumed if resumed["status"] != "streaming" else await reply_done(ws, reply_id)
                found["resumed"] = done
            else:
                done = await reply_done(ws, reply_id)
            found["replies"].append(done)
            watch.note(username, f"reply {turn} {done['status']} ({len(done['content'])} chars)")
            await pause()
            if role == "regenerate" and turn == 1:
                await ws.send({"type": "message.regenerate", "message_id": reply_id})
                again = await ws.wait_for(new_reply, 120)
                found["regenerated"] = (done, await reply_done(ws, again["message"]["id"]))
                await pause()
            if role == "regenerate" and turn == 3:
                await evolve(ws, base, client, done["id"], found)
        found["memories"] = await memories_listed(client, conversation_id, FACTS[username], watch)
    finally:
        watch.socket_done(ws)
        await ws.close()
        client.close()
    return found


async def evolve(ws: ChatSocket, base: str, client: httpx.Client, message_id: int, found: dict[str, Any]) -> None:
    """Preview the scene (the refine dialog), then render it and wait for the clip."""
    await ws.send({"type": "render.preview", "message_id": message_id})
    beat = await ws.wait_for(lambda f: f["type"] in ("render.beat", "error"), 60)
    found["preview"] = beat
    await ws.send({"type": "render.request", "message_id": message_id, "client_id": "evolve-1"})
    done = await ws.wait_for(lambda f: f["type"] in ("render.done", "render.failed", "error"), 240)
    found["render"] = done
    if done["type"] == "render.done":
        clip = await asyncio.to_thread(client.get, done["clip_url"])
        found["clip_status"] = clip.status_code
        found["clip_type"] = clip.headers.get("content-type", "")


async def memories_listed(client: httpx.Client, conversation_id: int, facts: list[tuple[str, ...]],
                          watch: Watch, timeout_s: float = 240) -> list[str]:
    """The memory panel's list once it holds every stated fact (memory work runs after each reply)."""
    deadline = time.monotonic() + timeout_s
    texts: list[str] = []
    while time.monotonic() < deadline:
        answer = await asyncio.to_thread(client.get, f"/api/memory/conversations/{conversation_id}/memories/")
        watch.http_statuses.append(("GET memories", answer.status_code))
        body = answer.json()
        items = body["results"] if isinstance(body, dict) and "results" in body else body
        texts = [item["text"] for item in items]
        joined = " ".join(texts).lower()
        if all(any(word in joined for word in group) for group in facts):
            return texts
        await asyncio.sleep(3)
    return texts


async def third_user_logs_in(base: str, watch: Watch) -> None:
    """Logins must keep working while memory extraction holds the model (they answered 500 before)."""
    await asyncio.sleep(25)  # by now both users are past their first exchanges
    for _ in range(3):
        client = await asyncio.to_thread(http_login, base, "cleo", watch)
        client.close()
        await asyncio.sleep(5)


def test_two_users_chat_with_the_real_model_at_a_persons_pace(tmp_path_factory):
    env = {"LLM_BACKEND": "embedded", "RENDERER": "previz"}
    with served_app(tmp_path_factory.mktemp("acceptance"), seed=SEED, env=env) as app:
        ids = app.conversation_ids
        watch = Watch()

        async def scenario():
            return await asyncio.gather(
                converse(app.url, "ana", ids[0], watch, role="reload"),
                converse(app.url, "ben", ids[1], watch, role="regenerate"),
                third_user_logs_in(app.url, watch),
            )

        try:
            ana, ben, _ = asyncio.run(scenario())
        except BaseException as exc:  # say what the server was doing when a wait ran out
            log = "\n".join(line for line in app.log.read_text().splitlines() if "HTTP GET" not in line)
            raise AssertionError(f"{exc!r}\ntimeline: {watch.timeline}\nserver log:\n{log[-6000:]}") from exc
        log_tail = app.log.read_text()[-4000:]

    assert watch.errors == [], f"error frames: {watch.errors}\ntimeline: {watch.timeline}\n{log_tail}"
    assert watch.server_closes == [], f"server closed sockets: {watch.server_closes}\n{log_tail}"
    assert all(status < 500 for _, status in watch.http_statuses), watch.http_statuses
    for found in (ana, ben):
        assert len(found["replies"]) == 6
        for reply in found["replies"]:
            assert reply["status"] == "complete", json.dumps(reply)[:500]
            assert reply["content"].strip(), "an empty reply"
    # The reload: the reply kept generating while no socket was open and was resumed, complete.
    assert ana["resumed"]["status"] == "complete"
    assert ana["resumed"]["content"].strip()
    # Regenerate samples afresh.
    first, second = ben["regenerated"]
    assert second["status"] == "complete" and second["content"] != first["content"]
    # Evolve: the refine dialog got a beat, the clip arrived and plays.
    assert ben["preview"]["type"] == "render.beat", ben["preview"]
    assert ben["render"]["type"] == "render.done", ben["render"]
    assert ben["clip_status"] in (200, 206) and ben["clip_type"].startswith("video/")
    # The memory panel lists what each user said about themselves.
    for found, username in ((ana, "ana"), (ben, "ben")):
        joined = " ".join(found["memories"]).lower()
        for group in FACTS[username]:
            assert any(word in joined for word in group), f"{username}: {group} not in {found['memories']}"
