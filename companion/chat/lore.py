"""A conversation's lore: which books apply, attaching world books, and what fires for a reply.

The books of a conversation are the persona's own (its card's ``character_book``:
settings on the persona, entries as rows) plus the world books its owner attached.
Activation itself is pure (personas.lorebook); this module reads the rows, hands
them over in the card's shape and returns the result. It runs inside
``prompt_build`` (on the DB thread): regex matching and token counting are CPU
work measured at well under the 10 ms p95 for 200 entries (bench/lorebook.py),
no model call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from cachetools import LRUCache
from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max

from companion.chat.models import Conversation
from companion.core.errors import ApplicationError
from personas.lorebook import Book, LoreResult, ScanMessage, book_from_card, lore_activate
from personas.lorebook_cards import entry_to_card, world_book_to_card
from personas.models import Lorebook
from personas.selectors import persona_lorebook

PERSONA_BOOK = "persona"


class LoreError(ApplicationError):
    code = "invalid"


# Parsed books by (kind, pk) -> (version, Book). Reading and parsing 200 rows took ~8 ms of every reply;
# the version (row count, newest row change, the book's own change) is one aggregate query.
BOOK_CACHE_SIZE = 256
_BOOK_CACHE: LRUCache[tuple[str, int], tuple[tuple[Any, ...], Book | None]] = LRUCache(maxsize=BOOK_CACHE_SIZE)
_book_cache_lock = threading.Lock()  # cachetools caches are not thread-safe (the scene extractor reads books too)


def _cached(key: tuple[str, int], version: tuple[Any, ...], load: Callable[[], Book | None]) -> Book | None:
    with _book_cache_lock:
        hit = _BOOK_CACHE.get(key)  # a hit counts as recent use
    if hit is not None and hit[0] == version:
        return hit[1]
    book = load()
    with _book_cache_lock:
        _BOOK_CACHE[key] = (version, book)  # the least recently used book goes past BOOK_CACHE_SIZE
    return book


def _version(entries: Any, *extra: Any) -> tuple[Any, ...]:
    agg = entries.aggregate(n=Count("pk"), last=Max("updated_at"))
    return (agg["n"], agg["last"], *extra)


def conversation_books(*, conversation: Conversation) -> list[Book]:
    """The persona's book first, then the attached world books (oldest attachment first)."""
    persona = conversation.persona
    own = _cached(
        ("persona", persona.pk),
        _version(persona.lore_entries.all(), persona.updated_at, repr(persona.character_book)),
        lambda: book_from_card(persona_lorebook(persona=persona), key=PERSONA_BOOK),
    )
    books = [own] if own is not None and own.entries else []
    for world in conversation.lorebooks.order_by("pk"):
        book = _cached(
            ("world", world.pk),
            _version(world.entries.all(), world.updated_at),
            lambda world=world: book_from_card(
                world_book_to_card(world, [entry_to_card(e) for e in world.entries.all()]), key=f"world:{world.pk}"
            ),
        )
        if book is not None and book.entries:
            books.append(book)
    return books


def lore_for_messages(
    *,
    conversation: Conversation,
    messages: Sequence[tuple[Any, str]],
    count_tokens: Callable[[str], int],
    token_budget: int | None = None,
) -> LoreResult:
    """What fires on ``messages`` ((id, text), newest first) in this conversation's books."""
    books = conversation_books(conversation=conversation)
    if not books:
        return LoreResult()
    default_depth = settings.CHAT_LORE_SCAN_DEPTH
    deepest = max(
        max(b.scan_depth if b.scan_depth is not None else default_depth for b in books),
        max((e.scan_depth for b in books for e in b.entries if e.scan_depth is not None), default=0),
    )
    return lore_activate(
        books,
        [ScanMessage(mid, text) for mid, text in messages[:deepest]],  # the rest is never scanned
        count_tokens=count_tokens,
        token_budget=settings.CHAT_LORE_TOKEN_BUDGET if token_budget is None else token_budget,
        max_recursion=settings.CHAT_LORE_MAX_RECURSION,
        default_scan_depth=default_depth,
    )


def scene_lore(*, conversation: Conversation, messages: Sequence[tuple[Any, str]], limit: int) -> list[str]:
    """Texts of the entries ``messages`` (newest first) fire, for the scene extractor: the same
    entries the chat's prompt gets, so a place the lorebook describes looks the same in every clip."""
    result = lore_for_messages(
        conversation=conversation, messages=messages, count_tokens=lambda t: max(1, len(t) // 4)
    )
    return [f.entry.content[:500] for f in result.included()][:limit]


# --- attaching world books -------------------------------------------------------------------------


def lorebook_attach(*, conversation: Conversation, book: Lorebook) -> None:
    """Attach the owner's world book to their conversation (idempotent)."""
    if book.owner_id != conversation.owner_id:
        raise LoreError("not_found", "No such lorebook.")  # someone else's book does not exist for you
    with transaction.atomic():
        conversation.lorebooks.add(book)


def lorebook_detach(*, conversation: Conversation, book: Lorebook) -> None:
    """Detach a world book from the conversation (idempotent)."""
    with transaction.atomic():
        conversation.lorebooks.remove(book)
