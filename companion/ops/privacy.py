"""Privacy services: a user's data export (zip) and account deletion.

Export: everything the product keeps about the user, readable without the
product: conversations with their messages, memories, relationship states and
milestones, the render jobs (clips) they asked for with their URLs, their
private personas, the sign-up attestation and the display name.

Delete: conversations (messages, summaries and memories go with them),
memories, relationships, render jobs and their clip/poster files, private
personas nobody else talks to (with portrait and LoRA files), then the user
(their profile and attestation go with it).
Files are removed from storage after the database commit, so a failed delete
never leaves rows pointing at missing files.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from companion.accounts.models import SignupAttestation
from companion.accounts.selectors import profile_get
from companion.chat.models import Conversation
from companion.chat.serializers import PRIVATE_EXTRA_KEYS
from companion.evolve.payloads import clip_urls
from companion.memory.models import Memory, Milestone, RelationshipState
from personas.models import Persona, Visibility
from rendering.models import JobStatus, RenderJob
from rendering.services import render_job_cancel

EXPORT_FORMAT_VERSION = 1


def _message(m: Any) -> dict[str, Any]:
    """A message as its user wrote or saw it: never the prompt it was generated from.

    ``extra["prompt"]`` holds the assembled prompt, whose system text is the persona creator's
    hidden system prompt and card; the export leaves out what the chat API leaves out
    (companion.chat.serializers.PRIVATE_EXTRA_KEYS).
    """
    extra = {k: v for k, v in (m.extra or {}).items() if k not in PRIVATE_EXTRA_KEYS}
    return {
        "id": m.pk, "seq": m.seq, "role": m.role, "kind": m.kind, "content": m.content, "status": m.status,
        "created_at": m.created_at, "edited": m.changed_seq != m.seq, "deleted": m.deleted,
        "active": m.is_active, "parent_id": m.parent_id, "extra": extra,
    }


def _export_data(user: Any) -> dict[str, Any]:
    conversations = []
    for conv in Conversation.objects.filter(owner=user).select_related("persona").order_by("created_at"):
        conversations.append({
            "id": conv.pk, "title": conv.title, "persona": conv.persona.name, "persona_slug": conv.persona.slug,
            "archived": conv.archived, "created_at": conv.created_at,
            "messages": [_message(m) for m in conv.messages.order_by("seq")],
        })
    memories = [
        {"id": m.pk, "persona": m.persona.name, "conversation_id": m.conversation_id, "kind": m.kind,
         "text": m.text, "importance": m.importance, "created_at": m.created_at, "edited_by_user": m.edited_by_user}
        for m in Memory.objects.filter(user=user).select_related("persona").order_by("created_at")
    ]
    relationships = [
        {"persona": r.persona.name, "stage": r.stage, "affinity": r.affinity, "trust": r.trust,
         "exchanges": r.exchanges, "first_met_at": r.first_met_at, "last_exchange_at": r.last_exchange_at}
        for r in RelationshipState.objects.filter(user=user).select_related("persona")
    ]
    milestones = [
        {"persona": m.persona.name, "kind": m.kind, "title": m.title, "happened_at": m.happened_at}
        for m in Milestone.objects.filter(user=user).select_related("persona")
    ]
    clips = [
        {"id": str(j.pk), "kind": j.kind, "status": j.status, "persona": j.persona.name, "beat": j.beat,
         "queued_at": j.queued_at, "finished_at": j.finished_at, "error_detail": j.error_detail,
         "labels": j.labels, **clip_urls(j)}
        for j in RenderJob.objects.filter(requested_by=user).select_related("persona").order_by("queued_at")
    ]
    personas = [
        {"name": p.name, "slug": p.slug, "tagline": p.tagline, "description": p.description,
         "personality": p.personality, "scenario": p.scenario, "greeting": p.greeting, "appearance": p.appearance}
        for p in Persona.objects.filter(owner=user, visibility=Visibility.PRIVATE)
    ]
    attestation = SignupAttestation.objects.filter(user=user).first()
    profile = profile_get(user=user)
    return {
        "format_version": EXPORT_FORMAT_VERSION,
        "exported_at": timezone.now(),
        "account": {
            "username": user.get_username(), "email": user.email, "first_name": user.first_name,
            "date_joined": user.date_joined, "last_login": user.last_login,
            "attested_18_plus_at": attestation.attested_at if attestation else None,
            "display_name": profile.display_name if profile else None,  # None: called by the username
        },
        "conversations": conversations,
        "memories": memories,
        "relationships": relationships,
        "milestones": milestones,
        "clips": clips,
        "private_personas": personas,
    }


def user_data_export(*, user: Any) -> bytes:
    """A zip with one JSON file per kind of data and a README; the bytes of the archive."""
    data = _export_data(user)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "README.txt",
            "Your data from Companion, exported {when}.\n"
            "account.json, conversations.json (with every message), memories.json, relationships.json,\n"
            "milestones.json, clips.json (render jobs with the URLs of their files; sign in to download),\n"
            "private_personas.json.\n".format(when=data["exported_at"].isoformat()),
        )
        for name in ("account", "conversations", "memories", "relationships", "milestones", "clips",
                     "private_personas"):
            archive.writestr(f"{name}.json", json.dumps(data[name], cls=DjangoJSONEncoder, indent=2,
                                                        ensure_ascii=False))
    return buffer.getvalue()


def _file_names(*fields: Any) -> list[tuple[Any, str]]:
    return [(f.storage, f.name) for f in fields if f]


def user_account_delete(*, user: Any) -> dict[str, int]:
    """Delete the user and everything of theirs (see module doc); returns counts of what went."""
    files: list[tuple[Any, str]] = []
    counts: dict[str, int] = {}
    with transaction.atomic():
        jobs = list(RenderJob.objects.filter(requested_by=user))
        for job in jobs:
            files += _file_names(job.clip, job.poster)
        # A queued/running job would write its files after we deleted them: cancel first (rendering's
        # own cancel: the worker stops between steps, the live preview goes, open sockets are told).
        for job in jobs:
            if job.status in (JobStatus.QUEUED, JobStatus.RUNNING):
                render_job_cancel(job=job)
        counts["clips"] = RenderJob.objects.filter(pk__in=[j.pk for j in jobs]).delete()[0]
        counts["memories"] = Memory.objects.filter(user=user).delete()[0]
        Milestone.objects.filter(user=user).delete()
        RelationshipState.objects.filter(user=user).delete()
        counts["conversations"] = Conversation.objects.filter(owner=user).delete()[0]
        # Private personas go too, unless another user's conversation still uses one
        # (then it stays, ownerless, so their history keeps working).
        counts["personas"] = 0
        for persona in Persona.objects.filter(owner=user, visibility=Visibility.PRIVATE):
            if persona.conversations.exists():
                continue
            persona_files = _file_names(persona.portrait, persona.video_lora)
            persona_jobs = list(RenderJob.objects.filter(persona=persona))
            for job in persona_jobs:
                persona_files += _file_names(job.clip, job.poster)
            persona.delete()
            files += persona_files
            counts["personas"] += 1
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
