"""`manage.py serve`: the embedded default in one command.

Prepares var/ (companion.runtime.files), migrates, creates the demo persona and login (idempotently), starts the
in-process render/memory worker when no external broker is configured, then
serves HTTP and websockets with Daphne.
"""

from __future__ import annotations

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from companion.accounts.demo import demo_user_ensure
from companion.llm.base import BackendError
from companion.llm.registry import get_backend
from companion.memory.embeddings import load_in_background
from companion.memory.recovery import memory_requeue_unfinished
from companion.runtime.files import var_dir_prepare
from companion.runtime.sweeper import sweep
from personas.demo import ensure_demo_persona
from rendering.inprocess import start_inprocess_worker


class Command(BaseCommand):
    help = "Migrate, create demo content and serve the app with Daphne."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--no-demo", action="store_true", help="Do not create the demo persona and login.")

    def handle(self, *args, addrport: str, no_demo: bool, **options) -> None:
        var_dir_prepare()  # var/: the SQLite file, the secret key, the demo password (also under call_command)
        call_command("migrate", interactive=False, verbosity=1)
        if not no_demo:
            persona = ensure_demo_persona()
            login = demo_user_ensure()
            self.stdout.write(self.style.SUCCESS(f"Demo persona: {persona.name} ({persona.slug})"))
            if login.created:  # the only time the password is shown (it is never reset afterwards)
                self.stdout.write(
                    self.style.SUCCESS(f"Log in at http://{addrport}/ as {login.username} / {login.password}")
                )
            else:
                self.stdout.write(
                    f"Log in at http://{addrport}/ as {login.username} (password as printed when it was created;"
                    f" also in {settings.VAR_DIR / 'demo_password'} unless removed)"
                )
        if settings.TASKS_IN_PROCESS:
            # The in-process broker forgot its queue when the last run stopped:
            # everything still queued, running or streaming was orphaned by it.
            report = sweep(render_stale_s=0, lost_s=0, stream_stale_s=0)
            self.stdout.write(f"Recovered work left by the previous run: {report}")
            self.stdout.write(f"Memory work re-queued from the previous run: {memory_requeue_unfinished()} exchanges")
            start_inprocess_worker()
            self.stdout.write("Started the in-process task worker (renders, memory).")
        self._warm_up_chat_model()
        # The embedder takes seconds to load: load it now, not inside the first user's reply.
        load_in_background()
        # Daphne's runserver; no autoreloader, so the worker thread above lives
        # in the same process as the server.
        call_command("runserver", addrport, use_reloader=False)

    def _warm_up_chat_model(self) -> None:
        """Start loading the chat model now (in the background) so the first reply doesn't wait for it."""
        try:
            async_to_sync(get_backend().healthcheck)()
        except BackendError as exc:  # the server still starts; /readyz and chat errors say why
            self.stderr.write(self.style.WARNING(f"Chat model not available yet: {exc}"))
