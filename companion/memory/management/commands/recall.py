"""manage.py recall CONVERSATION_ID "query" [--k 10] [--layer episodic,semantic,session] [--persona ID] [--json]

``--json`` prints exactly what ``GET /api/memory/conversations/<id>/recall/?q=…`` returns: the query
plan (sub-questions, time window) and the ranked items, each with its layer, score parts and source
messages (id, seq, role, speaker, date, text and the imported line's original ``extra``).
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from companion.chat.models import Conversation
from companion.chat.scene import member_personas, persona_view
from companion.memory.api.serializers import recall_payload
from companion.memory.models import Memory


class Command(BaseCommand):
    help = "Rank what the persona remembers (turns, facts, session summaries) for a query, with sources."

    def add_arguments(self, parser) -> None:
        parser.add_argument("conversation_id", type=int)
        parser.add_argument("query")
        parser.add_argument("--k", type=int, default=10)
        parser.add_argument("--layer", default="", help="comma-separated: episodic, semantic, session (default: all)")
        parser.add_argument("--json", action="store_true", dest="as_json")
        parser.add_argument("--persona", type=int, default=None,
                            help="group scenes: the member whose memory to search (default: the conversation's)")

    def handle(self, *args, **opts) -> None:
        conversation = Conversation.objects.select_related("owner", "persona").filter(
            pk=opts["conversation_id"]).first()
        if conversation is None:
            raise CommandError(f"No conversation {opts['conversation_id']}")
        if opts["persona"]:
            member = next((p for p in member_personas(conversation) if p.pk == opts["persona"]), None)
            if member is None:
                raise CommandError(f"Persona {opts['persona']} is not in conversation {conversation.pk}")
            conversation = persona_view(conversation, member)
        layers = [x.strip() for x in opts["layer"].split(",") if x.strip()] or None
        unknown = [x for x in layers or [] if x not in Memory.Layer.values]
        if unknown:
            raise CommandError(f"Unknown layer(s): {', '.join(unknown)}")
        payload = recall_payload(conversation=conversation, query=opts["query"], k=max(1, opts["k"]), layers=layers)
        if opts["as_json"]:
            self.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False, default=str))
            return
        plan = payload.get("plan") or {}
        if len(plan.get("parts") or []) > 1 or plan.get("window"):
            self.stdout.write(f"plan: parts={plan.get('parts')} window={plan.get('window')}")
        for row in payload["results"]:
            memory = row["memory"]
            parts = " ".join(f"{k}={v:.2f}" for k, v in row["parts"].items())
            self.stdout.write(f"{row['rank']:>2}. {row['score']:.3f} [{row['layer']}/{memory['kind']}] "
                              f"{memory['text'][:200]} ({str(memory['created_at'])[:10]}; {parts})")
            for s in memory["sources"]:
                self.stdout.write(f"      ← #{s['seq']} {s['role']} {str(s['created_at'])[:10]}: {s['content'][:100]}")
