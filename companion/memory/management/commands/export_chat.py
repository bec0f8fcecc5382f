"""manage.py export_chat CONVERSATION_ID [--output FILE]: SillyTavern JSONL."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from companion.accounts.selectors import user_display_name
from companion.chat.models import Conversation, Message
from companion.memory.sillytavern import export_lines


class Command(BaseCommand):
    help = "Export a conversation as SillyTavern chat JSONL."

    def add_arguments(self, parser) -> None:
        parser.add_argument("conversation_id", type=int)
        parser.add_argument("--output", "-o", help="file to write (default: stdout)")

    def handle(self, *args, **opts) -> None:
        conversation = Conversation.objects.select_related("owner", "persona").filter(
            pk=opts["conversation_id"]).first()
        if conversation is None:
            raise CommandError(f"No conversation {opts['conversation_id']}")
        messages = list(
            conversation.messages.filter(deleted=False, is_active=True)
            .exclude(kind=Message.Kind.CLIP).exclude(status=Message.Status.STREAMING).order_by("seq")
        )
        header = next((m.extra["st_header"] for m in messages if isinstance(m.extra.get("st_header"), dict)), None)
        if header is None:
            header = {
                "user_name": user_display_name(conversation.owner),
                "character_name": conversation.persona.name,
                "create_date": conversation.created_at.isoformat(),
                "chat_metadata": {},
            }
        lines = export_lines(header=header, messages=messages)
        if not opts["output"]:
            for line in lines:
                self.stdout.write(line)
            return
        with open(opts["output"], "w", encoding="utf-8") as out:
            for line in lines:
                out.write(line + "\n")
        if opts["output"]:
            self.stderr.write(f"Wrote {len(messages)} messages to {opts['output']}")
