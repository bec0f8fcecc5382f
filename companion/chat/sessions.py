"""Ending a login ends its websockets: logout, password change and account deletion close them with 4401.

Chat owns the sockets, so it listens: receivers of Django's own signals,
connected in ChatConfig.ready (no view has to remember): ``user_logged_out`` closes the sockets of that session; a saved
password change (``AbstractBaseUser.set_password`` then ``save``) or a deleted
user closes every socket of the user. The groups and the message type are
companion.accounts.sockets; the consumer closes with 4401 on ``auth.revoked``.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from companion.accounts.sockets import AUTH_REVOKED, session_socket_group, user_socket_group
from companion.chat.groups import group_send_sync

log = logging.getLogger(__name__)


def sockets_close(group: str, *, reason: str) -> None:
    """Close every socket in ``group`` (4401). Best effort: a channel layer outage must not fail a logout."""
    try:
        group_send_sync(group, {"type": AUTH_REVOKED, "reason": reason})
    except Exception:
        log.warning("could not close the sockets of %s (%s)", group, reason, exc_info=True)


def user_sockets_close(*, user_id: int, reason: str) -> None:
    sockets_close(user_socket_group(user_id), reason=reason)


def on_logged_out(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    session = getattr(request, "session", None)
    key = getattr(session, "session_key", None)
    if key:
        sockets_close(session_socket_group(key), reason="logout")


def on_user_saved(sender: Any, instance: Any, created: bool = False, **kwargs: Any) -> None:
    # set_password() keeps the new raw password in _password until save() has run (that is how
    # Django's password_changed hook knows); post_save fires inside save(), before it is cleared.
    if created or getattr(instance, "_password", None) is None:
        return
    user_id = instance.pk
    transaction.on_commit(lambda: user_sockets_close(user_id=user_id, reason="password changed"))


def on_user_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    user_id = instance.pk
    transaction.on_commit(lambda: user_sockets_close(user_id=user_id, reason="account deleted"))


def connect_receivers() -> None:
    user_model = get_user_model()
    user_logged_out.connect(on_logged_out, dispatch_uid="chat.sessions.logged_out")
    post_save.connect(on_user_saved, sender=user_model, dispatch_uid="chat.sessions.user_saved")
    post_delete.connect(on_user_deleted, sender=user_model, dispatch_uid="chat.sessions.user_deleted")
