"""Everything memory does after one exchange, in one service call.

Called by the Dramatiq actor (live chat) and by ``import_chat`` (replayed
history), so an imported chat builds exactly the memory a live one would.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction

from companion.chat.models import Conversation, Message
from companion.memory.extraction import extract_rules, sentiment
from companion.memory.models import Memory, Milestone, RelationshipState
from companion.memory.relationship import relationship_apply_exchange, relationship_get_or_create
from companion.memory.selectors import memories_recall
from companion.memory.services import (
    ReconcileReport,
    embeddings_warm,
    llm_extract,
    memory_apply_exchange,
    memory_forget_source,
    use_llm_extraction,
)


@dataclass
class ExchangeOutcome:
    skipped: bool = False
    report: ReconcileReport = field(default_factory=ReconcileReport)
    state: RelationshipState | None = None
    milestones: list[Milestone] = field(default_factory=list)


def _already_processed(state: RelationshipState | None, user_message: Message) -> bool:
    return state is not None and state.last_user_message_id is not None and (
        user_message.pk <= state.last_user_message_id
    )


def exchange_process(
    *,
    conversation: Conversation,
    user_message: Message | None,
    reply_message: Message | None = None,
    use_llm: bool | None = None,
) -> ExchangeOutcome:
    """Extract/reconcile memories and update the relationship for one exchange.

    Order (see companion.llm.guard): read what the model needs, call the model
    with no transaction open, embed, then apply everything in one short write
    transaction that also marks the exchange done, so a crash before it leaves
    the exchange to be redone and a second call for the same (or an older)
    user message does nothing.
    """
    if user_message is None or user_message.deleted or not (user_message.content or "").strip():
        return ExchangeOutcome(skipped=True)
    user, persona = conversation.owner, conversation.persona
    existing = RelationshipState.objects.filter(user=user, persona=persona).first()
    if _already_processed(existing, user_message):
        return ExchangeOutcome(skipped=True, state=existing)
    use_llm = use_llm_extraction() if use_llm is None else use_llm
    when = user_message.created_at
    text = user_message.content
    candidates = extract_rules(text)

    shown: list[Memory] = []
    result = None
    if use_llm:
        shown = [r.memory for r in memories_recall(user=user, persona=persona, query=text, k=8)]
        result = llm_extract(existing=shown, user_text=text,
                             reply_text=getattr(reply_message, "content", "") or "")
    embeddings_warm(texts=[text, *(c.text for c in candidates), *(op.text or "" for op in getattr(result, "ops", []))])

    with transaction.atomic():
        state, _ = relationship_get_or_create(user=user, persona=persona)
        state = RelationshipState.objects.select_for_update().get(pk=state.pk)
        if _already_processed(state, user_message):  # another worker finished it meanwhile
            return ExchangeOutcome(skipped=True, state=state)
        report = memory_apply_exchange(
            user=user, persona=persona, conversation=conversation, user_message=user_message,
            candidates=candidates, result=result, shown_ids=[m.pk for m in shown], when=when,
        )
        personal = any(m.kind != Memory.Kind.EVENT for m in report.added) or bool(report.updated)
        event = next((m for m in report.added if m.kind == Memory.Kind.EVENT), None)
        state, milestones = relationship_apply_exchange(
            user=user, persona=persona, user_message=user_message, when=when, sentiment=sentiment(text),
            shared_personal=personal or (event is not None),
            new_event_text=event.text if event else None,
            llm_deltas=(result.affinity_delta, result.trust_delta) if result is not None else None,
        )
        state.last_user_message_id = user_message.pk
        RelationshipState.objects.filter(pk=state.pk).update(last_user_message_id=user_message.pk)
    return ExchangeOutcome(report=report, state=state, milestones=milestones)


def exchange_process_ids(*, conversation_id: int, user_message_id: int | None, reply_message_id: int | None,
                         use_llm: bool | None = None) -> ExchangeOutcome:
    conversation = Conversation.objects.select_related("owner", "persona").filter(pk=conversation_id).first()
    if conversation is None:  # deleted meanwhile: nothing to remember
        return ExchangeOutcome(skipped=True)
    user_message = conversation.messages.filter(pk=user_message_id).first() if user_message_id else None
    reply = conversation.messages.filter(pk=reply_message_id).first() if reply_message_id else None
    return exchange_process(conversation=conversation, user_message=user_message, reply_message=reply,
                            use_llm=use_llm)


def memory_reprocess_edited(*, conversation: Conversation, message: Message, use_llm: bool | None = None
                            ) -> ReconcileReport:
    """The user edited ``message``: drop what memory took from its old text, then read the new text.

    Memories the user edited by hand are kept; a memory that other messages
    also back only loses this source. The relationship is not counted again
    (the exchange already was).
    """
    user, persona = conversation.owner, conversation.persona
    use_llm = use_llm_extraction() if use_llm is None else use_llm
    text = message.content or ""
    candidates = extract_rules(text)
    shown: list[Memory] = []
    result = None
    if use_llm and text.strip():
        shown = [r.memory for r in memories_recall(user=user, persona=persona, query=text, k=8)]
        result = llm_extract(existing=shown, user_text=text, reply_text="")
    embeddings_warm(texts=[text, *(c.text for c in candidates), *(op.text or "" for op in getattr(result, "ops", []))])
    with transaction.atomic():
        memory_forget_source(user=user, persona=persona, message=message)
        if message.deleted or not text.strip():
            return ReconcileReport()
        return memory_apply_exchange(
            user=user, persona=persona, conversation=conversation, user_message=message,
            candidates=candidates, result=result, shown_ids=[m.pk for m in shown], when=message.created_at,
        )
