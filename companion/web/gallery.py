"""The persona gallery's read model: visible personas as cards, searched, tag-filtered and sorted.

Filtering runs in Python over the visible set: tags are a JSON list, which SQLite
cannot search inside, and a gallery holds dozens to hundreds of personas, not
millions. The page works without JavaScript (a GET form); static/js/gallery.js
repeats the same filter in the page so typing narrows the grid at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.timesince import timesince

from companion.chat.selectors import conversation_list_for
from personas.models import Persona
from personas.selectors import persona_list_visible

SORTS = {"recent": "Recent", "name": "Name"}
MAX_TAGS_PER_CARD = 6
MAX_TAG_CHARS = 40
MAX_FILTER_TAGS = 16


@dataclass(frozen=True)
class GalleryCard:
    persona: Persona
    tags: tuple[str, ...]
    last_conversation_id: int | None  # the user's latest active conversation with this persona
    last_talked_at: datetime | None

    @property
    def last_talked_label(self) -> str:
        """"just now" or "3 hours ago" (the card's line under the tags)."""
        if self.last_talked_at is None:
            return ""
        if timezone.now() - self.last_talked_at < timedelta(minutes=1):
            return "just now"
        return f"{timesince(self.last_talked_at)} ago"

    @property
    def tags_json(self) -> str:
        """All the tags for static/js/gallery.js (the card shows the first few)."""
        return json.dumps(list(self.tags))

    @property
    def search_text(self) -> str:
        """What the search box matches: name, tagline and tags (casefolded)."""
        return " ".join([self.persona.name, self.persona.tagline, *self.tags]).casefold()


def persona_tags(persona: Persona) -> tuple[str, ...]:
    """The persona's tags as short, distinct strings (cards from the wild carry anything)."""
    seen: dict[str, str] = {}
    for raw in persona.tags if isinstance(persona.tags, list) else []:
        if not isinstance(raw, str | int | float):
            continue
        tag = " ".join(str(raw).split())[:MAX_TAG_CHARS]
        if tag and tag.casefold() not in seen:
            seen[tag.casefold()] = tag
    return tuple(seen.values())


def gallery_cards(*, user: Any, sort: str = "recent") -> list[GalleryCard]:
    """Every persona ``user`` may see, as cards.

    ``sort="recent"``: personas you talked to most recently first, then the newest personas;
    ``sort="name"``: alphabetical.
    """
    latest: dict[int, tuple[int, datetime]] = {}
    rows = conversation_list_for(user=user, archived=False).values_list("pk", "persona_id", "updated_at")
    for conversation_id, persona_id, updated_at in rows:  # newest activity first
        latest.setdefault(persona_id, (conversation_id, updated_at))
    cards = []
    for persona in persona_list_visible(user=user):
        conversation_id, talked_at = latest.get(persona.pk, (None, None))
        cards.append(GalleryCard(persona=persona, tags=persona_tags(persona),
                                 last_conversation_id=conversation_id, last_talked_at=talked_at))
    if sort == "name":
        cards.sort(key=lambda card: (card.persona.name.casefold(), card.persona.pk))
    else:
        cards.sort(key=lambda card: card.persona.created_at.timestamp(), reverse=True)
        cards.sort(key=lambda card: card.last_talked_at.timestamp() if card.last_talked_at else float("-inf"),
                   reverse=True)  # stable: personas never talked to keep newest-first among themselves
    return cards


def gallery_filter(cards: list[GalleryCard], *, query: str = "", tag: str = "") -> list[GalleryCard]:
    """The cards matching every word of ``query`` (name, tagline, tags) and carrying ``tag``."""
    words = query.casefold().split()
    if words:
        cards = [card for card in cards if all(word in card.search_text for word in words)]
    wanted = tag.strip().casefold()
    if wanted:
        cards = [card for card in cards if wanted in (t.casefold() for t in card.tags)]
    return cards


def gallery_tags(cards: list[GalleryCard]) -> list[str]:
    """The most used tags among ``cards`` (for the filter chips), most used first."""
    counts: dict[str, tuple[int, str]] = {}
    for card in cards:
        for tag in card.tags:
            n, shown = counts.get(tag.casefold(), (0, tag))
            counts[tag.casefold()] = (n + 1, shown)
    ranked = sorted(counts.values(), key=lambda item: (-item[0], item[1].casefold()))
    return [shown for _, shown in ranked[:MAX_FILTER_TAGS]]
