"""Memory's part of the privacy export and account deletion (registered in MemoryConfig.ready)."""

from __future__ import annotations

from typing import Any

from companion.accounts.privacy import FileRef, PrivacyPart, privacy_part_register
from companion.memory.models import Memory, Milestone, RelationshipState


def _memories_export(user: Any) -> list[dict[str, Any]]:
    return [
        {"id": m.pk, "persona": m.persona.name, "conversation_id": m.conversation_id, "kind": m.kind,
         "text": m.text, "importance": m.importance, "created_at": m.created_at, "edited_by_user": m.edited_by_user}
        for m in Memory.objects.filter(user=user).select_related("persona").order_by("created_at")
    ]


def _relationships_export(user: Any) -> list[dict[str, Any]]:
    return [
        {"persona": r.persona.name, "stage": r.stage, "affinity": r.affinity, "trust": r.trust,
         "exchanges": r.exchanges, "first_met_at": r.first_met_at, "last_exchange_at": r.last_exchange_at}
        for r in RelationshipState.objects.filter(user=user).select_related("persona")
    ]


def _milestones_export(user: Any) -> list[dict[str, Any]]:
    return [
        {"persona": m.persona.name, "kind": m.kind, "title": m.title, "happened_at": m.happened_at}
        for m in Milestone.objects.filter(user=user).select_related("persona")
    ]


def _deleter(model: type) -> Any:
    def delete(user: Any, files: list[FileRef]) -> int:
        return model.objects.filter(user=user).delete()[0]

    return delete


def memory_privacy_register() -> None:
    # Deleted before the conversations (delete_order 30), so the count is of the user's memories.
    privacy_part_register(PrivacyPart(
        "memories", "what the personas remember", _memories_export, _deleter(Memory), delete_order=20,
    ))
    privacy_part_register(PrivacyPart(
        "relationships", "where you stand with each persona", _relationships_export,
        _deleter(RelationshipState), delete_order=20,
    ))
    privacy_part_register(PrivacyPart(
        "milestones", "the moments the relationships marked", _milestones_export, _deleter(Milestone),
        delete_order=20,
    ))
