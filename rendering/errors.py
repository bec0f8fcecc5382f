"""Errors a render can end with; the actor maps each to a job state."""


class TransientRenderError(Exception):
    """Worth retrying with backoff (GPU out of memory, a storage hiccup)."""


class RenderCancelled(Exception):
    """The job was cancelled while rendering; stop quietly."""


class RenderFailed(Exception):
    """A permanent failure whose message is safe to show the user."""
