"""The periodic sweeper as a Dramatiq middleware: a daemon thread in each worker process.

Built with the broker (settings.DRAMATIQ_BROKER), before Django's apps are
loaded: nothing here may import models at module level.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.conf import settings
from django.db import close_old_connections
from dramatiq.middleware import Middleware

log = logging.getLogger(__name__)


class Sweeper(Middleware):
    """The periodic sweeper (companion.runtime.sweeper) as a daemon thread in each worker process.

    Every ``SWEEP_INTERVAL_S`` it runs a pass if no other process did in that
    interval (settings.SWEEPER_IN_WORKERS; otherwise run ``manage.py sweep_jobs --loop``).
    Render heartbeats are rendering's own middleware (rendering.worker.RenderHeartbeat).
    """

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None

    def after_process_boot(self, broker: Any) -> None:
        if not settings.SWEEPER_IN_WORKERS or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="sweeper", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        # Imported here, not at the top: this module loads with the broker, before the apps
        # (and their models) exist; the thread starts after the process booted.
        from companion.runtime.sweeper import sweep_if_due

        while True:
            time.sleep(settings.SWEEP_INTERVAL_S)
            try:
                report = sweep_if_due()
                if report is not None and report.changed:
                    log.warning("sweeper: %s", report)
            except Exception:
                log.exception("sweeper pass failed")
            finally:
                close_old_connections()
