"""Template tags for the Evolve part of the chat page (templates/chat/_evolve.html)."""

from __future__ import annotations

from typing import Any

from django import template

from companion.evolve.payloads import job_payload
from companion.evolve.selectors import render_jobs_of_conversation, scene_vocabulary

register = template.Library()


@register.simple_tag(takes_context=True)
def evolve_active_jobs(context: template.Context) -> list[dict[str, Any]]:
    """The user's queued/running clip jobs of the page's conversation, as job payloads, so a
    reloaded page can put their progress bars back (rendered with json_script, never as HTML)."""
    request = context.get("request")
    conversation = context.get("conversation")
    if request is None or conversation is None:
        return []
    jobs = render_jobs_of_conversation(user=request.user, conversation=conversation)
    return [job_payload(job) for job in jobs]


@register.simple_tag
def evolve_vocabulary() -> dict[str, Any]:
    """The refine dialog's choices and bounds (``selectors.scene_vocabulary``), for json_script:
    ``{% evolve_vocabulary as v %}{{ v|json_script:"evolve-vocabulary" }}``."""
    return scene_vocabulary()
