"""manage.py import_chat FILE.jsonl --persona SLUG --user USERNAME [--llm]"""

from __future__ import annotations

import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from companion.memory.importer import chat_import, import_finish, read_lines
from companion.memory.sillytavern import parse_chat
from personas.models import Persona


class Command(BaseCommand):
    help = "Import a SillyTavern chat (JSONL) and build memory and relationship from it."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file")
        parser.add_argument("--persona", required=True, help="persona slug")
        parser.add_argument("--user", required=True, help="username of the owner")
        parser.add_argument("--llm", action="store_true", help="extract with the chat model (slower)")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **opts) -> None:
        persona = Persona.objects.filter(slug=opts["persona"]).first()
        if persona is None:
            raise CommandError(f"No persona with slug {opts['persona']!r}")
        user = get_user_model().objects.filter(username=opts["user"]).first()
        if user is None:
            raise CommandError(f"No user {opts['user']!r}")
        try:
            chat = parse_chat(read_lines(opts["file"]))
        except OSError as exc:
            raise CommandError(f"Cannot read {opts['file']}: {exc}") from exc
        for line_no, why in chat.errors:
            self.stderr.write(f"line {line_no}: skipped: {why}")
        if not chat.messages:
            raise CommandError("No valid messages in the file")

        off = opts["no_progress"]
        total = len(chat.messages)
        started, cpu = time.perf_counter(), time.process_time()
        with tqdm(total=total, desc="storing", unit="msg", disable=off, file=self.stderr) as store_bar:
            result = chat_import(chat=chat, user=user, persona=persona, use_llm=opts["llm"],
                                 on_stored=store_bar.update, finish=False)
        stored_s, stored_cpu_s = time.perf_counter() - started, time.process_time() - cpu
        self.stdout.write(
            f"Imported {result.imported} messages into conversation {result.conversation.pk} "
            f"({len(result.errors)} lines skipped, {result.items_indexed} turn/fact items) in {stored_s:.1f} s "
            f"({stored_cpu_s:.1f} s CPU)"
        )
        # The chat is usable now (every turn found by its words); vectors, replay and sessions follow.
        with tqdm(desc="indexing", unit="turn", disable=off, file=self.stderr) as index_bar, \
                tqdm(total=total, desc="memory", unit="msg", disable=off, file=self.stderr) as mem_bar:
            import_finish(conversation=result.conversation, result=result, use_llm=opts["llm"],
                          on_processed=mem_bar.update, on_indexed=index_bar.update)
        self.stdout.write(
            f"Memory built in {time.perf_counter() - started - stored_s:.1f} s: {result.vectors_filled} turns "
            f"indexed by meaning, {result.memories_added} memories, {result.sessions} session summaries, "
            f"{result.milestones} milestones"
        )
