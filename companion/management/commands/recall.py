"""manage.py recall CONVERSATION_ID "query" [--k 10] [--json]"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from companion.chat.models import Conversation
from companion.memory.selectors import memories_recall


def _source(message) -> dict:
    extra = message.extra or {}
    return {
        "id": message.pk,
        "conversation_id": message.conversation_id,
        "seq": message.seq,
        "role": message.role,
        "content": message.content,
        "created_at": message.created_at.isoformat(),
        # The original object of an imported message; our own extra otherwise.
        "extra": extra["st_extra"] if "st_extra" in extra else extra,
    }


class Command(BaseCommand):
    help = "Rank what the persona remembers about the conversation's user for a query."

    def add_arguments(self, parser) -> None:
        parser.add_argument("conversation_id", type=int)
        parser.add_argument("query")
        parser.add_argument("--k", type=int, default=10)
        parser.add_argument("--json", action="store_true", dest="as_json")

    def handle(self, *args, **opts) -> None:
        conversation = Conversation.objects.select_related("owner", "persona").filter(
            pk=opts["conversation_id"]).first()
        if conversation is None:
            raise CommandError(f"No conversation {opts['conversation_id']}")
        found = memories_recall(user=conversation.owner, persona=conversation.persona, query=opts["query"],
                                k=max(1, opts["k"]))
        rows = [
            {
                "rank": i,
                "id": r.memory.pk,
                "text": r.memory.text,
                "kind": r.memory.kind,
                "importance": r.memory.importance,
                "created_at": r.memory.created_at.isoformat(),
                "score": r.score,
                "parts": r.parts,
                "sources": [_source(m) for m in r.memory.source_messages.order_by("created_at", "pk")],
            }
            for i, r in enumerate(found, start=1)
        ]
        if opts["as_json"]:
            self.stdout.write(json.dumps({"conversation_id": conversation.pk, "query": opts["query"],
                                          "results": rows}, indent=2, ensure_ascii=False))
            return
        for row in rows:
            parts = " ".join(f"{k}={v:.2f}" for k, v in row["parts"].items())
            self.stdout.write(f"{row['rank']:>2}. {row['score']:.3f} [{row['kind']}] {row['text']} "
                              f"({row['created_at'][:10]}; {parts})")
            for s in row["sources"]:
                self.stdout.write(f"      ← #{s['seq']} {s['role']}: {s['content'][:100]}")
