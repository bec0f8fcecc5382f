"""Small builders shared by the web and API tests."""

from __future__ import annotations

import io

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from PIL import Image

from companion.chat import services
from companion.chat.models import Message
from companion.evolve.models import Clip
from personas.models import Persona, Visibility
from rendering.models import RenderJob

PASSWORD = "correct horse battery staple"


def make_user(username: str):
    return get_user_model().objects.create_user(username=username, password=PASSWORD)


def png_bytes(color: tuple[int, int, int] = (200, 80, 80)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 10), color).save(buffer, format="PNG")
    return buffer.getvalue()


def make_persona(name: str, *, owner=None, private: bool = False, portrait: bool = False, **fields) -> Persona:
    persona = Persona(
        name=name,
        owner=owner,
        visibility=Visibility.PRIVATE if private else Visibility.PUBLIC,
        greeting=fields.pop("greeting", f"Hello, I am {name}."),
        **fields,
    )
    if portrait:
        persona.portrait.save(f"{name.lower()}.png", ContentFile(png_bytes()), save=False)
    persona.save()
    return persona


def say(conversation, text: str, reply: str | None = None) -> list[Message]:
    """A finished exchange stored through the chat services (no websocket)."""
    user_message, _, opened = services.exchange_begin(conversation=conversation, text=text, client_id="")
    made = [user_message]
    if opened is not None:
        made.append(
            services.reply_finish(
                message_id=opened.pk, content=reply if reply is not None else f"You said: {text}", status="complete"
            )
        )
    return made


def make_clip_job(message: Message, **fields) -> RenderJob:
    """A render job of ``message`` linked to its chat the way Evolve links one (a Clip row)."""
    fields.setdefault("persona", message.conversation.persona)
    fields.setdefault("source", f"chat.message:{message.pk}")  # the label people see; never parsed
    job = RenderJob.objects.create(**fields)
    Clip.objects.create(job=job, conversation_id=message.conversation_id, message=message)
    return job
