"""Job updates for whoever listens (companion turns them into chat frames).

``job_updated`` is sent with ``job`` (a RenderJob) and ``event`` in
{"queued", "progress", "done", "failed", "cancelled"} from the process doing
the work; progress is throttled to a few events per second.
"""

from django.dispatch import Signal

EVENTS = ("queued", "progress", "done", "failed", "cancelled")

job_updated = Signal()
