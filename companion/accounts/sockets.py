"""Which channel-layer groups a signed-in websocket joins, so ending a login can close it.

A socket authenticates once, at the handshake; without this, a socket opened
before logout kept serving history afterwards. Every authenticated socket
joins two groups:

- ``session_socket_group(session key)``: closed when that session logs out;
- ``user_socket_group(user id)``: closed when the user's password changes or
  the account is deleted (every session of theirs ends).

Closing is a group message of type ``AUTH_REVOKED`` ("auth.revoked"); the
consumer answers it by closing with 4401, like a socket that was never logged
in. The senders are receivers of Django's auth signals (companion.chat.sessions).
"""

from __future__ import annotations

import hashlib
from typing import Any

AUTH_REVOKED = "auth.revoked"


def user_socket_group(user_id: int) -> str:
    return f"auth.user.{int(user_id)}"


def session_socket_group(session_key: str) -> str:
    # Hashed: group names end up in Redis keys and logs; a session key is a credential.
    return f"auth.session.{hashlib.sha256(session_key.encode()).hexdigest()[:40]}"


def auth_socket_groups(scope: dict[str, Any]) -> list[str]:
    """The groups a socket with this (authenticated) scope joins."""
    groups = []
    user = scope.get("user")
    if user is not None and getattr(user, "is_authenticated", False):
        groups.append(user_socket_group(user.pk))
    session = scope.get("session")
    key = getattr(session, "session_key", None)
    if key:
        groups.append(session_socket_group(key))
    return groups
