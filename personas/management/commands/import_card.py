"""manage.py import_card PATH… : create personas from Character Card V2/V3 files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from personas.cards import CardError
from personas.services import persona_import_card


class Command(BaseCommand):
    help = "Import Character Card V2/V3 files (.json, or .png with the card embedded) as personas."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", type=Path, help="card files")
        parser.add_argument("--owner", help="username that will own the imported personas")
        parser.add_argument(
            "--publish", action="store_true",
            help="make the personas public at once (default: private to --owner until published in the admin)",
        )

    def handle(self, *args: Any, paths: list[Path], owner: str | None, publish: bool, **options: Any) -> None:
        user = None
        if owner:
            try:
                user = get_user_model().objects.get_by_natural_key(owner)
            except get_user_model().DoesNotExist:
                raise CommandError(f"No user named {owner!r}.") from None
        failures = 0
        for path in paths:
            try:
                persona = persona_import_card(data=path.read_bytes(), filename=path.name, owner=user, publish=publish)
            except OSError as exc:
                failures += 1
                self.stderr.write(f"{path}: cannot read ({exc.strerror or exc})")
            except CardError as exc:
                failures += 1
                self.stderr.write(f"{path}: {exc}")
            else:
                self.stdout.write(self.style.SUCCESS(
                    f"{path}: imported “{persona.name}” as {persona.slug} ({persona.visibility})"
                ))
        if failures:
            raise CommandError(f"{failures} of {len(paths)} card(s) could not be imported.")
