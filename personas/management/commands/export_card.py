"""manage.py export_card SLUG --format png|json [--spec v2|v3] [--output PATH]"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from personas.models import Persona
from personas.services import persona_export_card


class Command(BaseCommand):
    help = "Export a persona as a Character Card (V3 by default; a V3 PNG also carries the V2 card)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--format", dest="fmt", choices=["png", "json"], default="png")
        parser.add_argument("--spec", choices=["v2", "v3"], default="v3")
        parser.add_argument("--output", type=Path, help="file to write (default: ./<slug>.<format>; '-' = stdout)")

    def handle(self, *args: Any, slug: str, fmt: str, spec: str, output: Path | None, **options: Any) -> None:
        try:
            persona = Persona.objects.get(slug=slug)
        except Persona.DoesNotExist:
            raise CommandError(f"No persona with slug {slug!r}.") from None
        data = persona_export_card(persona=persona, fmt=fmt, version=spec)  # type: ignore[arg-type]
        if str(output) == "-":
            if fmt == "png":
                raise CommandError("Refusing to write PNG bytes to a terminal; use --output FILE.")
            self.stdout.write(data.decode("utf-8"))
            return
        target = output or Path(f"{persona.slug}.{fmt}")
        target.write_bytes(data)
        self.stdout.write(self.style.SUCCESS(f"Wrote {spec.upper()} {fmt.upper()} card for {persona.name} to {target}"))
