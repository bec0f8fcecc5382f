"""Signals other parts of companion subscribe to."""

from django.dispatch import Signal

# Sent (robustly: a failing receiver is logged, never breaks the chat) after a
# persona reply completes, with keyword arguments ``conversation``,
# ``user_message`` (None when the reply answers no user message, e.g. a
# regenerated greeting) and ``reply_message``. Receivers run in a worker
# thread, never on the event loop, so they may use the ORM directly.
exchange_completed = Signal()

# Sent after the user edited a message (committed), with ``conversation``,
# ``message`` (the edited row) and ``old_text``: memory re-reads what it took
# from the old text. Same thread rules as exchange_completed.
message_edited = Signal()
