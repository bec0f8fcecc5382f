"""Privacy services: a user's data export (zip) and account deletion, each app adding its own part.

accounts sits at the bottom of companion (.importlinter), under the chat,
memory and evolve that hold most of a user's data, so it cannot import them.
Each app instead registers what it keeps about a user, from its
``AppConfig.ready()``: a ``PrivacyPart`` per export file (``<name>.json``),
with the function that lists the user's rows as JSON-ready dicts and the one
that deletes them. accounts adds its own: the account (sign-up attestation,
display name) and the user's private personas (personas sits below us).

Export: everything the product keeps about the user, readable without the
product (a message as its user saw it, never the prompt it was built from).

Delete: every part's rows, lowest ``delete_order`` first (render jobs are
cancelled before anything else, memories go before the conversations they
point at), then private personas nobody else talks to (with portrait and LoRA
files), then the user (their profile and attestation go with it), in one
transaction. Files are removed from storage after the commit, so a failed
delete never leaves rows pointing at missing files.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from companion.accounts.models import SignupAttestation
from companion.accounts.selectors import profile_get
from personas.lorebook_cards import entry_to_card, world_book_to_card
from personas.models import Lorebook, Persona, Visibility
from rendering.models import RenderJob

EXPORT_FORMAT_VERSION = 1

FileRef = tuple[Any, str]  # (storage, name): removed after the delete commits


@dataclass(frozen=True)
class PrivacyPart:
    """One file of the export and the rows it stands for.

    ``export(user)`` returns the JSON-ready content of ``<name>.json``;
    ``delete(user, files)`` deletes the user's rows, appends the files to remove
    to ``files`` and returns how many rows went (the count is reported as ``name``).
    """

    name: str
    describe: str  # a few words for the export's README.txt
    export: Callable[[Any], Any]
    delete: Callable[[Any, list[FileRef]], int] | None = None
    delete_order: int = 50


_PARTS: dict[str, PrivacyPart] = {}


def privacy_part_register(part: PrivacyPart) -> None:
    """Add (or replace, by name) what an app exports and deletes of a user; call from ``AppConfig.ready()``."""
    _PARTS[part.name] = part


def privacy_parts() -> list[PrivacyPart]:
    return list(_PARTS.values())


def file_refs(*fields: Any) -> list[FileRef]:
    """The (storage, name) of each non-empty FileField value."""
    return [(f.storage, f.name) for f in fields if f]


# --- accounts' own parts ---------------------------------------------------------------------------


def _account_export(user: Any) -> dict[str, Any]:
    attestation = SignupAttestation.objects.filter(user=user).first()
    profile = profile_get(user=user)
    return {
        "username": user.get_username(), "email": user.email, "first_name": user.first_name,
        "date_joined": user.date_joined, "last_login": user.last_login,
        "attested_18_plus_at": attestation.attested_at if attestation else None,
        "display_name": profile.display_name if profile else None,  # None: called by the username
    }


def _private_personas(user: Any) -> Any:
    return Persona.objects.filter(owner=user, visibility=Visibility.PRIVATE)


def _private_personas_export(user: Any) -> list[dict[str, Any]]:
    return [
        {"name": p.name, "slug": p.slug, "tagline": p.tagline, "description": p.description,
         "personality": p.personality, "scenario": p.scenario, "greeting": p.greeting, "appearance": p.appearance}
        for p in _private_personas(user)
    ]


def _private_personas_delete(user: Any, files: list[FileRef]) -> int:
    # Runs after the conversations went: a persona another user still talks to stays,
    # ownerless, so their history keeps working.
    deleted = 0
    for persona in _private_personas(user):
        if persona.conversations.exists():
            continue
        persona_files = file_refs(persona.portrait, persona.video_lora)
        for job in RenderJob.objects.filter(persona=persona):
            persona_files += file_refs(job.clip, job.poster)
        persona.delete()
        files += persona_files
        deleted += 1
    return deleted


def _lorebooks_export(user: Any) -> list[dict[str, Any]]:
    """Each world book the user owns as the card it imports from (entries included)."""
    return [
        world_book_to_card(book, [entry_to_card(e) for e in book.entries.all()])
        for book in Lorebook.objects.filter(owner=user).prefetch_related("entries").order_by("pk")
    ]


def _lorebooks_delete(user: Any, files: list[FileRef]) -> int:
    deleted, _ = Lorebook.objects.filter(owner=user).delete()  # entries and attachments go with them
    return deleted


def accounts_privacy_register() -> None:
    """accounts' own parts (AccountsConfig.ready); personas sits below companion, so its part is ours."""
    privacy_part_register(PrivacyPart("account", "your account", _account_export))
    privacy_part_register(PrivacyPart(
        "private_personas", "the personas you made for yourself", _private_personas_export,
        _private_personas_delete, delete_order=90,
    ))
    privacy_part_register(PrivacyPart("lorebooks", "the world books you made", _lorebooks_export, _lorebooks_delete))


# --- the services ---------------------------------------------------------------------------------


def user_data_get(*, user: Any) -> dict[str, Any]:
    """Everything of the user's, by export file name (plus ``format_version`` and ``exported_at``)."""
    data: dict[str, Any] = {"format_version": EXPORT_FORMAT_VERSION, "exported_at": timezone.now()}
    for part in privacy_parts():
        data[part.name] = part.export(user)
    return data


def user_data_export(*, user: Any) -> bytes:
    """A zip with one JSON file per part and a README; the bytes of the archive."""
    data = user_data_get(user=user)
    parts = privacy_parts()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "README.txt",
            f"Your data from Companion, exported {data['exported_at'].isoformat()} "
            f"(format {EXPORT_FORMAT_VERSION}).\n"
            "URLs of clips need you to sign in to download.\n\n"
            + "".join(f"{part.name}.json: {part.describe}\n" for part in parts),
        )
        for part in parts:
            archive.writestr(f"{part.name}.json", json.dumps(data[part.name], cls=DjangoJSONEncoder, indent=2,
                                                             ensure_ascii=False))
    return buffer.getvalue()


def user_account_delete(*, user: Any) -> dict[str, int]:
    """Delete the user and everything of theirs (see module doc); returns counts of what went, by part."""
    files: list[FileRef] = []
    counts: dict[str, int] = {}
    with transaction.atomic():
        for part in sorted((p for p in privacy_parts() if p.delete), key=lambda p: p.delete_order):
            counts[part.name] = part.delete(user, files)
        user.delete()

    def remove_files() -> None:
        for storage, name in files:
            try:
                storage.delete(name)
            except OSError:
                pass  # already gone

    transaction.on_commit(remove_files)
    counts["files"] = len(files)
    return counts


def export_filename(user: Any) -> str:
    return f"companion-export-{user.get_username()}-{timezone.now():%Y%m%d}.zip"
