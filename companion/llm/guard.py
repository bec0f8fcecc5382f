"""Where a model call may run: never inside a transaction, never on the shared DB thread.

Why: on SQLite an open write transaction blocks every other writer for as
long as the model generates (20 to 246 s measured with the embedded model), and
Channels' ``database_sync_to_async`` runs every socket's database work on one
thread, so a model call there stalls every user. The pattern is: read, commit,
call the model (on the event loop or a thread of its own, with a timeout),
then write the result in a short transaction.

``model_call_guard`` is called by every ``ChatBackend`` entry point, and sync
code reaches a model only through ``model_call_sync`` (which checks in the
calling thread: Django's connections are per thread, so the coroutine that
async_to_sync runs elsewhere cannot see the caller's transaction). A violation
raises ``ModelCallForbidden`` when ``settings.MODEL_CALL_GUARD == "raise"``
(DEBUG and tests) and logs an error otherwise (production keeps serving).

The DB thread is recognised by a context variable that ``db_thread`` sets
around the function it runs there; the variable follows the call into any
coroutine started with ``async_to_sync`` from that function. Transactions are
recognised by Django's own atomic-block stack, ignoring the blocks a test case
opens around each test.
"""

from __future__ import annotations

import contextvars
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connections

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

_on_db_thread: contextvars.ContextVar[bool] = contextvars.ContextVar("on_db_thread", default=False)


class ModelCallForbidden(RuntimeError):
    """A model was called inside a transaction or on the shared database thread."""


def db_thread(func: Callable[P, R]) -> Callable[P, object]:
    """``database_sync_to_async(func)`` that marks its run as being on the shared DB thread."""

    @functools.wraps(func)
    def marked(*args: P.args, **kwargs: P.kwargs) -> R:
        token = _on_db_thread.set(True)
        try:
            return func(*args, **kwargs)
        finally:
            _on_db_thread.reset(token)

    return database_sync_to_async(marked)


def _open_transaction() -> str | None:
    for alias in connections:
        connection = connections[alias]
        if any(not block._from_testcase for block in connection.atomic_blocks):
            return alias
    return None


def model_call_problem() -> str | None:
    """Why a model call must not run here, or None when it may."""
    if _on_db_thread.get():
        return "on the shared database_sync_to_async thread"
    alias = _open_transaction()
    if alias is not None:
        return f"inside a transaction on database {alias!r}"
    return None


def model_call_guard(what: str) -> None:
    """Refuse (or, in production, log) a model call made where it would block others."""
    problem = model_call_problem()
    if problem is None:
        return
    message = f"{what} called {problem}: read and commit first, call the model, then write"
    if settings.MODEL_CALL_GUARD == "raise":
        raise ModelCallForbidden(message)
    log.error(message, stack_info=True)


def model_call_sync(what: str, call: Callable[P, Awaitable[R]], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run an async model call from sync code (a task worker, a command), checked in this thread."""
    model_call_guard(what)
    return async_to_sync(call)(*args, **kwargs)
