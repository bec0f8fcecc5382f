"""Everything memory does after one exchange, in one service call.

New turns of both speakers are indexed (episodic + semantic layers, see
``indexing.py``); the user's message goes through the slot rules (and the
model, when enabled); the relationship counts the exchange.

Called by the Dramatiq actor (live chat) and by ``import_chat`` (replayed
history), so an imported chat builds exactly the memory a live one would.

Group scenes: the same work runs once per member, on that member's view of the
conversation (companion.chat.scene.witness_views), and each member learns only
the turns it witnessed; the user's message counts (slot rules, relationship) for
the members that heard it. A member that joined later never gets the turns
from before it came.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from django.db import transaction

from companion.chat.models import Conversation, Message
from companion.chat.scene import witness_views, witnessed
from companion.memory.extraction import Candidate, extract_rules, sentiment
from companion.memory.indexing import (
    Names,
    drafts_embed,
    drafts_for_turns,
    drafts_write,
    messages_stale,
    told_name,
    turns_pending,
)
from companion.memory.models import Memory, Milestone, RelationshipState
from companion.memory.reconciler import (
    ReconcileReport,
    embeddings_warm,
    llm_extract,
    memory_apply_exchange,
    use_llm_extraction,
)
from companion.memory.relationship import relationship_apply_exchange, relationship_get_or_create
from companion.memory.selectors import memories_recall
from companion.memory.services import memory_forget_source


@dataclass
class ExchangeOutcome:
    skipped: bool = False  # the exchange itself (relationship, slot rules) was already counted
    report: ReconcileReport = field(default_factory=ReconcileReport)
    state: RelationshipState | None = None
    milestones: list[Milestone] = field(default_factory=list)
    indexed: list[Memory] = field(default_factory=list)  # episodic + semantic items created for new turns


def _already_processed(state: RelationshipState | None, user_message: Message) -> bool:
    return state is not None and state.last_user_message_id is not None and (
        user_message.pk <= state.last_user_message_id
    )


def _named(candidates: list[Candidate], name: str) -> list[Candidate]:
    """The rules write "The user …": stored facts name the person ("Alice likes tea").

    The name fact itself keeps "The user's name is …" (it is what ties the user to a name),
    and the rules' catch-all "The user said: …" events are left to the semantic layer,
    which keeps the sentence whole with names and dates."""
    out = []
    for c in candidates:
        if c.slot.startswith("event:"):
            continue
        if c.text.startswith("The user") and c.slot != "name" and name:
            c = replace(c, text=name + c.text[len("The user"):])
        out.append(c)
    return out


def rule_candidates(message: Message, names: Names) -> list[Candidate]:
    """What the slot rules read from a user turn, named after its speaker (what the reconciler embeds)."""
    return _named(extract_rules(message.content or ""), names.speaker(message))


def exchange_process(
    *,
    conversation: Conversation,
    user_message: Message | None,
    reply_message: Message | None = None,
    use_llm: bool | None = None,
    index_turns: bool = True,
) -> ExchangeOutcome:
    """``exchange_process_for`` for each member of the scene (one for a one-persona conversation).

    Returns the outcome of the persona that replied (else the conversation's own persona's)."""
    primary_id = conversation.persona_id
    replier = (getattr(reply_message, "persona_id", None) or primary_id) if reply_message is not None else primary_id
    outcome: ExchangeOutcome | None = None
    for view in witness_views(conversation):
        heard = user_message is not None and witnessed(user_message, view.persona_id, primary_id)
        result = exchange_process_for(
            conversation=view, user_message=user_message if heard else None,
            reply_message=reply_message if heard else None, use_llm=use_llm, index_turns=index_turns,
        )
        if outcome is None or view.persona_id == replier:
            outcome = result
    return outcome or ExchangeOutcome(skipped=True)


def name_told_in(user_message: Message) -> str:
    """The name the user gives in this very message, or "": "My name is Ada and I love sailing"
    makes the facts from that message already say "Ada"."""
    return next((told_name(c.text) for c in extract_rules(user_message.content or "")
                 if c.slot == "name" and not c.retract), "")


def exchange_process_for(
    *,
    conversation: Conversation,
    user_message: Message | None,
    reply_message: Message | None = None,
    use_llm: bool | None = None,
    index_turns: bool = True,
) -> ExchangeOutcome:
    """Index new turns, extract/reconcile memories and update the relationship for one exchange.

    Order (see companion.llm.guard): read what the model needs, call the model
    with no transaction open, embed, then apply everything in one short write
    transaction that also marks the exchange done, so a crash before it leaves
    the exchange to be redone and a second call for the same (or an older)
    user message does nothing but index turns that are still new (a
    regenerated reply, an earlier greeting).
    """
    user, persona = conversation.owner, conversation.persona
    names = Names.for_conversation(conversation)
    if user_message is not None and names.user == user.get_username():
        names.user = name_told_in(user_message) or names.user
    stale = messages_stale(conversation=conversation) if index_turns else []
    turns = turns_pending(conversation=conversation) if index_turns else []
    drafts = drafts_for_turns(conversation=conversation, turns=turns, names=names)

    existing = RelationshipState.objects.filter(user=user, persona=persona).first()
    count_exchange = not (
        user_message is None or user_message.deleted or not (user_message.content or "").strip()
        or _already_processed(existing, user_message)
    )
    if not count_exchange and not drafts and not stale:
        return ExchangeOutcome(skipped=True, state=existing)

    candidates: list[Candidate] = []
    shown: list[Memory] = []
    result = None
    text = ""
    if count_exchange:
        use_llm = use_llm_extraction() if use_llm is None else use_llm
        text = user_message.content
        candidates = rule_candidates(user_message, names)
        if use_llm:
            shown = [r.memory for r in memories_recall(user=user, persona=persona, query=text, k=8,
                                                       layers=[Memory.Layer.SEMANTIC])]
            result = llm_extract(existing=shown, user_text=text,
                                 reply_text=getattr(reply_message, "content", "") or "",
                                 user_name=names.speaker(user_message))
        ops = getattr(result, "ops", [])
        # The message's own vector is needed only to judge a DELETE the model proposed.
        embeddings_warm(texts=[text if any(op.op == "DELETE" for op in ops) else "", *(c.text for c in candidates),
                               *(op.text or "" for op in ops)])
    drafts_embed(drafts)

    with transaction.atomic():
        state, _ = relationship_get_or_create(user=user, persona=persona)
        state = RelationshipState.objects.select_for_update().get(pk=state.pk)
        for message in stale:
            memory_forget_source(user=user, persona=persona, message=message)
        indexed = drafts_write(user=user, persona=persona, conversation=conversation, drafts=drafts)
        if not count_exchange or _already_processed(state, user_message):  # or another worker finished it
            return ExchangeOutcome(skipped=True, state=state, indexed=indexed)
        report = memory_apply_exchange(
            user=user, persona=persona, conversation=conversation, user_message=user_message,
            candidates=candidates, result=result, shown_ids=[m.pk for m in shown], when=user_message.created_at,
            name=names.speaker(user_message),
        )
        learnt = [m for m in indexed if m.layer == Memory.Layer.SEMANTIC and m.message_id == user_message.pk]
        report.added += learnt
        shared_personal, event_text = report.relationship_cues()
        state, milestones = relationship_apply_exchange(
            user=user, persona=persona, user_message=user_message, when=user_message.created_at,
            sentiment=sentiment(text), shared_personal=shared_personal, new_event_text=event_text,
            llm_deltas=(result.affinity_delta, result.trust_delta) if result is not None else None,
        )
        state.last_user_message_id = user_message.pk
        RelationshipState.objects.filter(pk=state.pk).update(last_user_message_id=user_message.pk)
    return ExchangeOutcome(report=report, state=state, milestones=milestones, indexed=indexed)


def memory_sync_turns(*, conversation: Conversation) -> ExchangeOutcome:
    """Index new turns and drop what deleted/replaced turns taught; counts no exchange.

    A second pass writes again the turns whose items the first pass dropped (a reply that quoted a
    deleted turn as its context)."""
    outcome = exchange_process(conversation=conversation, user_message=None, use_llm=False)
    if turns_pending(conversation=conversation):
        outcome = exchange_process(conversation=conversation, user_message=None, use_llm=False)
    return outcome


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
    """``memory_reprocess_edited_for`` each member that witnessed ``message``; the conversation's own
    persona's report (or the first)."""
    reports = [memory_reprocess_edited_for(conversation=view, message=message, use_llm=use_llm)
               for view in witness_views(conversation, message)]
    return reports[0] if reports else ReconcileReport()


def memory_reprocess_edited_for(*, conversation: Conversation, message: Message, use_llm: bool | None = None
                                ) -> ReconcileReport:
    """``message`` was edited: drop what memory took from its old text, then read the new text.

    Both layers: its episodic item and the facts read from it are written
    again from the new text (the slot rules and the model too, for a user
    turn). Memories the user edited by hand are kept; a memory that other
    messages also back only loses this source; a session summary that
    quoted it is written again by the next ``sessions_update``. The
    relationship is not counted again (the exchange already was).
    """
    user, persona = conversation.owner, conversation.persona
    use_llm = use_llm_extraction() if use_llm is None else use_llm
    names = Names.for_conversation(conversation)
    text = message.content or ""
    is_user = message.role == Message.Role.USER
    alive = not message.deleted and message.is_active and bool(text.strip())
    candidates = _named(extract_rules(text), names.speaker(message)) if is_user and alive else []
    shown: list[Memory] = []
    result = None
    if use_llm and is_user and alive:
        shown = [r.memory for r in memories_recall(user=user, persona=persona, query=text, k=8,
                                                   layers=[Memory.Layer.SEMANTIC])]
        result = llm_extract(existing=shown, user_text=text, reply_text="", user_name=names.speaker(message))
    drafts = drafts_for_turns(conversation=conversation, turns=[message], names=names) if alive else []
    drafts_embed(drafts)
    embeddings_warm(texts=[text, *(c.text for c in candidates), *(op.text or "" for op in getattr(result, "ops", []))])
    report = ReconcileReport()
    with transaction.atomic():
        memory_forget_source(user=user, persona=persona, message=message)
        if alive:
            indexed = drafts_write(user=user, persona=persona, conversation=conversation, drafts=drafts)
            report = memory_apply_exchange(
                user=user, persona=persona, conversation=conversation, user_message=message,
                candidates=candidates, result=result, shown_ids=[m.pk for m in shown], when=message.created_at,
                name=names.speaker(message),
            )
            report.added += [m for m in indexed if m.layer == Memory.Layer.SEMANTIC]
    memory_sync_turns(conversation=conversation)  # the next turn, if it quoted the old text
    return report
