"""Writes to conversations and messages (HackSoft-style services).

Sequence numbers: every conversation has one counter (``Conversation.last_seq``)
bumped under a row lock. A new message takes the next value as both its
``seq`` and its ``changed_seq``; any later change to a message (stream end,
edit, delete, alternative switch) takes the next value as its new
``changed_seq``. So ``seq`` is increasing per conversation (not contiguous),
and "every row with changed_seq > N" is exactly what a client that has seen
everything up to N is missing.

The lock is ``select_for_update`` on the Conversation row (PostgreSQL) and
the IMMEDIATE transaction mode on SQLite (see settings), where BEGIN already
takes the write lock; the code is the same for both.

It runs past 400 lines on purpose: every write that takes that lock and bumps
that counter is here, so the write model is read and checked in one place
(the streaming itself is in replies.py, reads in selectors.py).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from companion.accounts.selectors import user_display_name
from companion.chat.groups import conversation_broadcast_sync
from companion.chat.models import Conversation, Message
from companion.chat.prompt import apply_macros
from companion.chat.scene import members_copy, speaker_choose, witnesses_now
from companion.chat.serializers import message_payload
from companion.core.errors import ApplicationError

log = logging.getLogger(__name__)


class ChatError(ApplicationError):
    """A refused chat operation; ``code`` is sent to the client in an ``error`` frame."""


# --- helpers -----------------------------------------------------------------


def _locked(conversation_id: int) -> Conversation:
    """The conversation row, locked until the surrounding transaction ends."""
    return Conversation.objects.select_for_update().get(pk=conversation_id)


def _next_seq(conversation: Conversation) -> int:
    conversation.last_seq += 1
    conversation.save(update_fields=["last_seq", "updated_at"])
    return conversation.last_seq


def _bump(conversation: Conversation, message: Message, **fields: Any) -> Message:
    """Apply ``fields`` to ``message`` and give it a fresh changed_seq (lock held)."""
    for name, value in fields.items():
        setattr(message, name, value)
    message.changed_seq = _next_seq(conversation)
    message.save(update_fields=[*fields, "changed_seq", "updated_at"])
    return message


def validate_text(text: str) -> str:
    """The text a user may post: non-empty after stripping, within the limit."""
    if not isinstance(text, str) or not text.strip():
        raise ChatError("empty_text", "The message is empty.")
    try:  # lone surrogates (a JSON "\ud800" escape) and NUL cannot be stored in PostgreSQL (tests/fuzz)
        text.encode("utf-8")
        if "\x00" in text:
            raise UnicodeEncodeError("utf-8", text, 0, 1, "NUL")
    except UnicodeEncodeError:
        raise ChatError("invalid_text", "The message contains invalid characters.") from None
    if len(text) > settings.CHAT_MAX_MESSAGE_CHARS:
        raise ChatError("too_long", f"Messages are limited to {settings.CHAT_MAX_MESSAGE_CHARS} characters.")
    return text


def streaming_reply(conversation: Conversation) -> Message | None:
    """The reply currently being generated in this conversation, if any."""
    return conversation.messages.filter(status=Message.Status.STREAMING).first()


# --- conversations -------------------------------------------------------------


@transaction.atomic
def conversation_start(*, owner: Any, persona: Any) -> Conversation:
    """A new conversation; the persona's greeting becomes message seq 1."""
    conversation = Conversation.objects.create(owner=owner, persona=persona, title=persona.name)
    greeting = (persona.greeting or "").strip()
    if greeting:
        message_create(
            conversation=conversation,
            role=Message.Role.PERSONA,
            kind=Message.Kind.TEXT,
            content=apply_macros(greeting, char=persona.name, user=user_display_name(owner)),
            status=Message.Status.COMPLETE,
            extra={"greeting": True},
            persona=persona,
        )
        conversation.refresh_from_db()
    return conversation


def conversation_archive(*, conversation: Conversation, archived: bool = True) -> Conversation:
    conversation.archived = archived
    conversation.save(update_fields=["archived", "updated_at"])
    return conversation


def conversation_delete(*, conversation: Conversation) -> None:
    conversation.delete()


def _branch_history(point: Message) -> list[Message]:
    """What a branch from ``point`` starts with: the shown history before it, then ``point`` itself.

    Only the active version of each reply slot is taken. ``point`` may itself be an
    inactive version ("branch from this version"): it then stands in for its slot.
    An earlier slot's versions all have a seq below a later slot's first seq
    (a slot can be regenerated only while it is the last one), so "before the
    point's slot" is ``seq < its first version's seq``.
    """
    position = point.parent.seq if point.parent_id else point.seq
    before = point.conversation.messages.filter(
        seq__lt=position, deleted=False, is_active=True
    ).exclude(status=Message.Status.STREAMING).select_related("copied_from").order_by("seq")
    return [*before, point]


def _memory_source(message: Message) -> int:
    """The turn whose memory items stand for ``message``: its own source while it still says
    the same (a copy of a copy points at the original), else itself."""
    source = message.copied_from
    if source is not None and not source.deleted and source.is_active and source.content == message.content:
        return source.pk
    return message.pk


@transaction.atomic
def conversation_branch(*, owner: Any, message: Message) -> Conversation:
    """A new conversation of the same owner and persona whose history is a copy of ``message``'s
    conversation up to and including ``message``, linked to it (``parent``, ``branched_from``).

    Copies, not references (see ``Conversation``): each copy gets the branch's own seq
    (1..n), keeps its text, kind, status, extra and date, and names the turn holding
    its memory items in ``copied_from``. Attached world books come along. Refused
    (``not_found``) for someone else's message, and for a deleted or still streaming one.
    """
    source = message.conversation
    if source.owner_id != getattr(owner, "pk", None):
        raise ChatError("not_found", "No such message.")
    if message.deleted or message.status == Message.Status.STREAMING:
        raise ChatError("not_branchable", "Branch from a finished message that is still there.")
    history = _branch_history(message)
    branch = Conversation.objects.create(
        owner=source.owner, persona=source.persona, title=f"{source.title or source.persona.name} (branch)"[:200],
        parent=source, branched_from=message, last_seq=len(history), turn_order=source.turn_order,
    )
    branch.lorebooks.set(source.lorebooks.all())
    members_copy(source=source, branch=branch)
    copies = Message.objects.bulk_create([
        Message(
            conversation=branch, seq=seq, changed_seq=seq, role=m.role, kind=m.kind, content=m.content,
            status=m.status, error_detail=m.error_detail, prompt_tokens=m.prompt_tokens,
            completion_tokens=m.completion_tokens, extra=dict(m.extra or {}),
            copied_from_id=_memory_source(m), persona_id=m.persona_id, witnesses=list(m.witnesses or []),
        )
        for seq, m in enumerate(history, start=1)
    ])
    for copy, original in zip(copies, history, strict=True):
        copy.created_at = original.created_at  # said then, not now (dates in the page and in memory)
    Message.objects.bulk_update(copies, ["created_at"])
    return branch


# --- messages ------------------------------------------------------------------


@transaction.atomic
def message_create(
    *,
    conversation: Conversation,
    role: str,
    kind: str,
    content: str,
    status: str,
    extra: dict | None = None,
    client_id: str = "",
    parent: Message | None = None,
    persona: Any = None,
) -> Message:
    """Append a message; seq and changed_seq are allocated under the row lock.

    ``persona``: who wrote a persona turn (group scenes). The personas present now are
    recorded as its witnesses (companion.chat.scene)."""
    locked = _locked(conversation.pk)
    seq = _next_seq(locked)
    conversation.last_seq = locked.last_seq
    return Message.objects.create(
        conversation=locked,
        seq=seq,
        changed_seq=seq,
        role=role,
        kind=kind,
        content=content,
        status=status,
        client_id=client_id,
        parent=parent,
        extra=extra or {},
        persona=persona,
        witnesses=witnesses_now(locked),
    )


@transaction.atomic
def message_post_user(*, conversation: Conversation, text: str, client_id: str) -> tuple[Message, bool]:
    """Store what the user typed. Returns (message, created).

    Idempotent by ``client_id``: a resend returns the stored message and False.
    """
    validate_text(text)
    locked = _locked(conversation.pk)
    if client_id:
        existing = locked.messages.filter(client_id=client_id).first()
        if existing is not None:
            return existing, False
    message = message_create(
        conversation=locked,
        role=Message.Role.USER,
        kind=Message.Kind.TEXT,
        content=text,
        status=Message.Status.COMPLETE,
        client_id=client_id,
    )
    return message, True


def _last_user_message(conversation: Conversation) -> Message | None:
    return (
        conversation.messages.filter(role=Message.Role.USER, deleted=False).order_by("-seq").first()
    )


def _check_editable(locked: Conversation, message: Message) -> None:
    if message.role != Message.Role.USER or message.deleted:
        raise ChatError("not_editable", "Only your own messages can be changed.")
    last = _last_user_message(locked)
    if last is None or last.pk != message.pk:
        raise ChatError("not_editable", "Only your last message can be changed.")
    if streaming_reply(locked) is not None:
        raise ChatError("busy", "Wait for the reply in progress to finish (or stop it) first.")


@transaction.atomic
def message_edit(*, message: Message, text: str) -> Message:
    """Change the text of the user's last message."""
    validate_text(text)
    locked = _locked(message.conversation_id)
    message.refresh_from_db()
    _check_editable(locked, message)
    extra = {**message.extra, "edited": True}
    return _bump(locked, message, content=text, extra=extra)


def reply_after(message: Message) -> Message | None:
    """The active persona reply answering ``message`` (the next persona text turn), if any."""
    return (
        message.conversation.messages.filter(
            seq__gt=message.seq, role=Message.Role.PERSONA, kind=Message.Kind.TEXT, deleted=False, is_active=True
        )
        .order_by("seq")
        .first()
    )


@transaction.atomic
def message_edit_and_reanswer(*, message: Message, text: str) -> tuple[list[Message], Message | None]:
    """Edit the user's last message and open a new answer to it, in one transaction.

    The old reply answered the old text, so it becomes an inactive alternative
    (still reachable with the alternative arrows) and a new reply starts. Returns (rows changed, new reply or None).
    """
    edited = message_edit(message=message, text=text)
    old_reply = reply_after(edited)
    if old_reply is None:
        return [edited], None
    new_reply, deactivated = reply_begin_regenerate(message=old_reply)
    return [edited, *deactivated], new_reply


@transaction.atomic
def message_delete(*, message: Message) -> list[Message]:
    """Delete the user's last message and the persona replies to it.

    Rows are kept as tombstones (deleted=True, text cleared) so a reconnecting
    client learns about the deletion through history.sync. Returns every row
    changed.
    """
    locked = _locked(message.conversation_id)
    message.refresh_from_db()
    _check_editable(locked, message)
    changed = [_bump(locked, message, deleted=True, content="")]
    replies = locked.messages.filter(
        seq__gt=message.seq, role=Message.Role.PERSONA, kind=Message.Kind.TEXT, deleted=False
    ).order_by("seq")
    for reply in replies:
        changed.append(_bump(locked, reply, deleted=True, content=""))
    return changed


def slot_messages(message: Message) -> list[Message]:
    """Every version of a reply slot (first version and its alternatives), by seq."""
    root_id = message.parent_id or message.pk
    return list(Message.objects.filter(Q(pk=root_id) | Q(parent_id=root_id)).order_by("seq"))


@transaction.atomic
def message_select_alternative(*, message: Message) -> list[Message]:
    """Make ``message`` the shown version of its slot. Returns the rows changed."""
    locked = _locked(message.conversation_id)
    message.refresh_from_db()
    if message.role != Message.Role.PERSONA or message.deleted:
        raise ChatError("not_selectable", "Only a persona reply's versions can be selected.")
    if streaming_reply(locked) is not None:
        raise ChatError("busy", "Wait for the reply in progress to finish (or stop it) first.")
    changed = []
    for version in slot_messages(message):
        wanted = version.pk == message.pk
        if version.is_active != wanted and not version.deleted:
            changed.append(_bump(locked, version, is_active=wanted))
    message.refresh_from_db()
    return changed


# --- replies (the streaming itself lives in replies.py) --------------------------

STALE_REPLY_DETAIL = "The server writing this reply stopped; the text so far is kept."


def _expire_stale(locked: Conversation, cutoff: datetime) -> list[Message]:
    """Interrupt the conversation's streaming replies untouched since ``cutoff`` (lock held)."""
    stale = locked.messages.filter(status=Message.Status.STREAMING, updated_at__lt=cutoff)
    return [_bump(locked, message, status=Message.Status.INTERRUPTED, error_detail=STALE_REPLY_DETAIL)
            for message in stale]


def _stale_cutoff(stale_s: float | None = None) -> datetime:
    seconds = settings.SWEEP_STREAM_STALE_S if stale_s is None else stale_s
    return timezone.now() - timedelta(seconds=seconds)


def reply_expire_stale(*, stale_s: float | None = None) -> list[Message]:
    """End every streaming reply whose owner died: ``interrupted``, the text so far kept.

    A reply's runner touches its row at least every ``replies.HEARTBEAT_S`` (10 s),
    so a row untouched for ``stale_s`` (default settings.SWEEP_STREAM_STALE_S, which
    must stay above that) has no owner any more (its process crashed). Each
    conversation is re-checked under its lock, so a reply that finished meanwhile
    is left alone; open sockets get ``message.done`` (at most once: a client that
    misses it reconciles with history.sync).
    """
    cutoff = _stale_cutoff(stale_s)
    conversation_ids = (
        Message.objects.filter(status=Message.Status.STREAMING, updated_at__lt=cutoff)
        .order_by().values_list("conversation_id", flat=True).distinct()
    )
    expired: list[Message] = []
    for conversation_id in list(conversation_ids):
        with transaction.atomic():
            expired += _expire_stale(_locked(conversation_id), cutoff)
    for message in expired:
        try:
            frame = {"type": "message.done", "message": message_payload(message)}
            conversation_broadcast_sync(message.conversation_id, frame)
        except Exception:
            log.warning("could not broadcast the interrupted reply %s", message.pk, exc_info=True)
    return expired


def _ensure_idle(locked: Conversation) -> None:
    _expire_stale(locked, _stale_cutoff())  # a dead owner must not block the conversation forever
    if streaming_reply(locked) is not None:
        raise ChatError("busy", "A reply is already being written in this conversation.")


def _new_reply(locked: Conversation, *, parent: Message | None = None, persona: Any = None) -> Message:
    return message_create(
        conversation=locked,
        role=Message.Role.PERSONA,
        kind=Message.Kind.TEXT,
        content="",
        status=Message.Status.STREAMING,
        parent=parent,
        persona=persona or locked.persona,
    )


@transaction.atomic
def exchange_begin(
    *, conversation: Conversation, text: str, client_id: str, persona_id: int | None = None
) -> tuple[Message, bool, Message | None]:
    """Store the user's message and open the persona reply to it, in one transaction.

    Returns (user_message, created, reply). ``reply`` is None when no reply is
    due: a resend whose reply already exists (or is no longer the last turn).
    A new message while a reply is streaming is refused with ``busy`` and
    nothing is stored (the client still has the text).

    Group scenes: ``persona_id`` names who answers, else the turn order decides
    (companion.chat.scene.speaker_choose); a muted or absent persona is refused before anything is stored.
    """
    validate_text(text)
    locked = _locked(conversation.pk)
    existing = locked.messages.filter(client_id=client_id).first() if client_id else None
    if existing is not None:
        last = locked.messages.filter(deleted=False).order_by("-seq").first()
        if existing.deleted or last is None or last.pk != existing.pk:
            return existing, False, None
        _ensure_idle(locked)  # the first attempt died before its reply was opened
        speaker = speaker_choose(locked, text=existing.content, requested_id=persona_id)
        return existing, False, _new_reply(locked, persona=speaker)
    _ensure_idle(locked)
    speaker = speaker_choose(locked, text=text, requested_id=persona_id)
    user_message, _ = message_post_user(conversation=locked, text=text, client_id=client_id)
    return user_message, True, _new_reply(locked, persona=speaker)


@transaction.atomic
def reply_begin_regenerate(*, message: Message) -> tuple[Message, list[Message]]:
    """Open a new alternative for a persona reply; it becomes the active version.

    Returns (new_reply, rows deactivated).
    """
    locked = _locked(message.conversation_id)
    message.refresh_from_db()
    if message.role != Message.Role.PERSONA or message.kind != Message.Kind.TEXT or message.deleted:
        raise ChatError("not_regenerable", "Only persona text replies can be regenerated.")
    _ensure_idle(locked)
    changed = [
        _bump(locked, version, is_active=False)
        for version in slot_messages(message)
        if version.is_active and not version.deleted
    ]
    root = message.parent or message
    return _new_reply(locked, parent=root, persona=root.persona), changed


def reply_save_progress(*, message_id: int, content: str) -> None:
    """Persist streamed text so far (no changed_seq bump: history.sync always
    includes streaming rows); also serves as the liveness heartbeat."""
    Message.objects.filter(pk=message_id, status=Message.Status.STREAMING).update(
        content=content, updated_at=timezone.now()
    )


@transaction.atomic
def reply_finish(
    *,
    message_id: int,
    content: str,
    status: str,
    error_detail: str = "",
    extra: dict | None = None,
    prompt_tokens: int | None = None,
    completion_tokens: int | None = None,
) -> Message:
    """Close a streaming reply with its final text and status."""
    message = Message.objects.get(pk=message_id)
    locked = _locked(message.conversation_id)
    return _bump(
        locked,
        message,
        content=content,
        status=status,
        error_detail=error_detail[:500],
        extra={**message.extra, **(extra or {})},
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
    )
