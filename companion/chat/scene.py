"""Group scenes: several personas in one conversation (issue 14 part 3).

The conversation's own ``persona`` is the first member. A second persona joining
makes the member rows (``ConversationMember``); a conversation without rows is a
one-persona conversation and every path behaves as it did before groups.

Who answers (``speaker_choose``) is decided here, without a model call:

* the persona the user named in ``message.send`` (``persona_id``), if present;
* ``natural``: the first present member addressed by name in the message, else
  the one whose card shares the most words with it (ties: not the last speaker,
  then list order);
* ``list``: the next present member after the last one who spoke;
* ``manual``: the first present member (the user normally names one).

Witnessing: each stored turn records the persona ids present then
(``Message.witnesses``); ``witnessed`` reads it, so memory and the prompt of a
persona only hold turns it was there for (joined before, not muted).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from companion.chat.models import Conversation, ConversationMember, Message, TurnOrder
from companion.core.errors import ApplicationError

MAX_MEMBERS = 5
MAX_MUTE_MINUTES = 7 * 24 * 60
_WORD = re.compile(r"[^\W\d_]{3,}", re.UNICODE)
# Words too common to tell two cards apart.
_STOP = frozenset(
    "the and you your are for with that this have has was were what who how why when where not but can "
    "her his she him they them their our out all any its it's into from about just like been will would "
    "there here then than some very much more also talks talk char user".split()
)


class SceneError(ApplicationError):
    """A refused scene operation (``not_found``, ``too_many``, ``not_removable``, ``muted``, ``no_one_present``)."""


# --- reads ------------------------------------------------------------------------------


def members_of(conversation: Conversation) -> list[ConversationMember]:
    """The members by position; a one-persona conversation answers its persona as an unsaved member."""
    rows = list(conversation.members.select_related("persona").order_by("position", "pk"))
    if rows:
        return rows
    return [ConversationMember(conversation=conversation, persona=conversation.persona, position=0, joined_at_seq=0)]


def is_group(conversation: Conversation) -> bool:
    return conversation.members.count() > 1


def is_muted(member: ConversationMember, now: datetime | None = None) -> bool:
    return member.muted_until is not None and member.muted_until > (now or timezone.now())


def present_members(conversation: Conversation, now: datetime | None = None) -> list[ConversationMember]:
    """Members that are not muted now: they answer and witness."""
    now = now or timezone.now()
    return [m for m in members_of(conversation) if not is_muted(m, now)]


def witnesses_now(conversation: Conversation) -> list[int]:
    """Persona ids present right now (stored on each new turn)."""
    return [m.persona_id for m in present_members(conversation)]


def primary_persona(conversation: Conversation) -> Any:
    """The conversation's own persona, also through a ``persona_view``."""
    return getattr(conversation, "_scene_primary", None) or conversation.persona


def witnessed(message: Message, persona_id: int, primary_id: int) -> bool:
    """Was ``persona_id`` present when ``message`` was stored? Rows from before group scenes
    (no witnesses recorded) were seen by the conversation's own persona alone."""
    return persona_id in (message.witnesses or [primary_id])


def persona_view(conversation: Conversation, persona: Any) -> Conversation:
    """The conversation as ``persona`` sees it: an unsaved copy whose ``persona`` is it, so everything keyed
    by ``conversation.persona`` (memory sections, lorebook, names) speaks for that member. Never save it."""
    if persona is None or (persona.pk == conversation.persona_id and not hasattr(conversation, "_scene_primary")):
        return conversation
    view = copy.copy(conversation)
    view._scene_primary = primary_persona(conversation)
    view.persona = persona
    return view


def member_personas(conversation: Conversation) -> list[Any]:
    return [m.persona for m in members_of(conversation)]


def witness_views(conversation: Conversation, message: Message | None = None) -> list[Conversation]:
    """One view per member (the conversation itself first); with ``message``, only those who witnessed it."""
    primary = conversation.persona
    views = []
    for persona in member_personas(conversation):
        if message is not None and not witnessed(message, persona.pk, primary.pk):
            continue
        views.append(conversation if persona.pk == primary.pk else persona_view(conversation, persona))
    return views


def witnessed_all(conversation: Conversation, persona_id: int, seq_from: int, seq_to: int) -> bool:
    """Did ``persona_id`` witness every text turn in seq_from..seq_to (what a summary of them says)?"""
    primary_id = primary_persona(conversation).pk
    rows = Message.objects.filter(
        conversation_id=conversation.pk, seq__gte=seq_from, seq__lte=seq_to, kind=Message.Kind.TEXT,
        role__in=[Message.Role.USER, Message.Role.PERSONA],
    ).values_list("witnesses", flat=True)
    return all(persona_id in (w or [primary_id]) for w in rows)


# --- who answers ------------------------------------------------------------------------


def _words(text: str) -> set[str]:
    return {w for w in (x.lower() for x in _WORD.findall(text or "")) if w not in _STOP}


def _card_words(persona: Any) -> set[str]:
    parts = (persona.name, getattr(persona, "tagline", ""), persona.description, persona.personality,
             persona.scenario)
    return _words(" ".join(p or "" for p in parts))


def _addressed(text: str, members: Iterable[ConversationMember]) -> ConversationMember | None:
    """The member named earliest in ``text`` (its full name or first name, whole word, any case)."""
    best: tuple[int, ConversationMember] | None = None
    for m in members:
        full = m.persona.name.strip()
        first = full.split()[0] if full else ""
        # Its full name, or its first word unless that is a common one ("The Captain" is not called by "the").
        names = {n for n in (full, first if len(first) >= 3 and first.lower() not in _STOP else "") if n}
        for name in names:
            found = re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text or "", re.IGNORECASE)
            if found and (best is None or found.start() < best[0]):
                best = (found.start(), m)
    return best[1] if best else None


def last_speaker_id(conversation: Conversation) -> int | None:
    last = (
        conversation.messages.filter(role=Message.Role.PERSONA, kind=Message.Kind.TEXT, deleted=False, is_active=True)
        .order_by("-seq").values_list("persona_id", flat=True).first()
    )
    return last or (conversation.persona_id if conversation.messages.filter(role=Message.Role.PERSONA).exists()
                    else None)


def speaker_choose(conversation: Conversation, *, text: str, requested_id: int | None = None,
                   now: datetime | None = None) -> Any:
    """The persona that answers ``text`` (see the module docstring); deterministic, no model call."""
    members = members_of(conversation)
    present = [m for m in members if not is_muted(m, now)]
    if requested_id is not None:
        member = next((m for m in members if m.persona_id == requested_id), None)
        if member is None:
            raise SceneError("not_found", "That persona is not in this scene.")
        if is_muted(member, now):
            raise SceneError("muted", f"{member.persona.name} is muted for now.")
        return member.persona
    if not present:
        raise SceneError("no_one_present", "Everyone in this scene is muted; unmute someone first.")
    if len(present) == 1:
        return present[0].persona
    order = conversation.turn_order
    if order == TurnOrder.MANUAL:
        return present[0].persona
    last = last_speaker_id(conversation)
    if order == TurnOrder.LIST:
        ids = [m.persona_id for m in present]
        if last in ids:
            return present[(ids.index(last) + 1) % len(present)].persona
        return present[0].persona
    named = _addressed(text, present)
    if named is not None:
        return named.persona
    asked = _words(text)
    ranked = sorted(
        enumerate(present),
        key=lambda im: (-len(asked & _card_words(im[1].persona)), im[1].persona_id == last, im[0]),
    )
    return ranked[0][1].persona


# --- writes -----------------------------------------------------------------------------


def _locked(conversation: Conversation) -> Conversation:
    return Conversation.objects.select_for_update().get(pk=conversation.pk)


def _ensure_primary(locked: Conversation) -> None:
    """The conversation's own persona becomes member 0, present since the start."""
    ConversationMember.objects.get_or_create(
        conversation=locked, persona_id=locked.persona_id, defaults={"position": 0, "joined_at_seq": 0}
    )


@transaction.atomic
def member_add(*, conversation: Conversation, persona: Any) -> ConversationMember:
    """Add ``persona`` to the scene (at the end); it witnesses turns from now on, none before."""
    locked = _locked(conversation)
    _ensure_primary(locked)
    existing = locked.members.filter(persona=persona).first()
    if existing is not None:
        return existing
    if locked.members.count() >= MAX_MEMBERS:
        raise SceneError("too_many", f"A scene holds at most {MAX_MEMBERS} personas.")
    position = max(locked.members.values_list("position", flat=True), default=0) + 1
    return ConversationMember.objects.create(
        conversation=locked, persona=persona, position=position, joined_at_seq=locked.last_seq
    )


def _member(locked: Conversation, persona_id: int) -> ConversationMember:
    member = locked.members.select_related("persona").filter(persona_id=persona_id).first()
    if member is None:
        if persona_id == locked.persona_id:  # a one-persona conversation: its row is made on demand
            _ensure_primary(locked)
            return locked.members.select_related("persona").get(persona_id=persona_id)
        raise SceneError("not_found", "That persona is not in this scene.")
    return member


@transaction.atomic
def member_remove(*, conversation: Conversation, persona_id: int) -> None:
    """The persona leaves; its replies stay (signed with its name). The conversation's own persona stays."""
    locked = _locked(conversation)
    if persona_id == locked.persona_id:
        raise SceneError("not_removable", "The conversation's own persona stays; mute it instead.")
    _member(locked, persona_id).delete()


@transaction.atomic
def member_mute(*, conversation: Conversation, persona_id: int, minutes: int | None) -> ConversationMember:
    """Mute for ``minutes`` (0 or None: unmute). Muted, it neither answers nor witnesses."""
    locked = _locked(conversation)
    member = _member(locked, persona_id)
    minutes = max(0, min(int(minutes or 0), MAX_MUTE_MINUTES))
    member.muted_until = timezone.now() + timedelta(minutes=minutes) if minutes else None
    member.save(update_fields=["muted_until"])
    return member


def turn_order_set(*, conversation: Conversation, turn_order: str) -> Conversation:
    if turn_order not in TurnOrder.values:
        raise SceneError("invalid", f"turn_order is one of {', '.join(TurnOrder.values)}.")
    conversation.turn_order = turn_order
    conversation.save(update_fields=["turn_order", "updated_at"])
    return conversation


def members_copy(*, source: Conversation, branch: Conversation) -> None:
    """A branch keeps the scene's members (their join points relative to the copied history)."""
    rows = list(source.members.all())
    ConversationMember.objects.bulk_create([
        ConversationMember(conversation=branch, persona_id=m.persona_id, position=m.position,
                           joined_at_seq=min(m.joined_at_seq, branch.last_seq), muted_until=m.muted_until)
        for m in rows
    ])
