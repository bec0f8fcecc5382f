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
from companion.memory.services import ReconcileReport, memory_reconcile_exchange, use_llm_extraction


@dataclass
class ExchangeOutcome:
    skipped: bool = False
    report: ReconcileReport = field(default_factory=ReconcileReport)
    state: RelationshipState | None = None
    milestones: list[Milestone] = field(default_factory=list)


def exchange_process(
    *,
    conversation: Conversation,
    user_message: Message | None,
    reply_message: Message | None = None,
    use_llm: bool | None = None,
) -> ExchangeOutcome:
    """Extract/reconcile memories and update the relationship for one exchange.

    Idempotent per user message: a second call for the same (or an older)
    user message does nothing.
    """
    if user_message is None or user_message.deleted or not (user_message.content or "").strip():
        return ExchangeOutcome(skipped=True)
    user, persona = conversation.owner, conversation.persona
    use_llm = use_llm_extraction() if use_llm is None else use_llm
    with transaction.atomic():
        state, _ = relationship_get_or_create(user=user, persona=persona)
        state = RelationshipState.objects.select_for_update().get(pk=state.pk)
        if state.last_user_message_id is not None and user_message.pk <= state.last_user_message_id:
            return ExchangeOutcome(skipped=True, state=state)
        state.last_user_message_id = user_message.pk
        state.save(update_fields=["last_user_message_id", "updated_at"])

    when = user_message.created_at
    text = user_message.content
    candidates = extract_rules(text)
    report, result = memory_reconcile_exchange(
        user=user, persona=persona, conversation=conversation, user_message=user_message,
        reply_text=getattr(reply_message, "content", "") or "", candidates=candidates, use_llm=use_llm, when=when,
    )
    personal = any(m.kind != Memory.Kind.EVENT for m in report.added) or bool(report.updated)
    event = next((m for m in report.added if m.kind == Memory.Kind.EVENT), None)
    state, milestones = relationship_apply_exchange(
        user=user, persona=persona, user_message=user_message, when=when, sentiment=sentiment(text),
        shared_personal=personal or (event is not None),
        new_event_text=event.text if event else None,
        llm_deltas=(result.affinity_delta, result.trust_delta) if result is not None else None,
    )
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
