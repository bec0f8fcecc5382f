"""Signals other parts of companion subscribe to."""

from django.dispatch import Signal

# Sent (robustly: a failing receiver is logged, never breaks the chat) after a
# persona reply completes, with keyword arguments ``conversation``,
# ``user_message`` (None when the reply answers no user message, e.g. a
# regenerated greeting) and ``reply_message``. Receivers run in a worker
# thread, never on the event loop, so they may use the ORM directly.
exchange_completed = Signal()
