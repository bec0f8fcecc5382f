"""`manage.py sweep_jobs`: retry or fail render jobs whose worker died; end replies whose server died.

One pass by default (cron, a deploy hook, or right after an embedded restart
with ``--render-stale-s 0``: in one process every ``running`` job is then
orphaned). ``--loop`` sweeps every ``--interval`` seconds, for a dedicated
process (Procfile ``sweeper``); worker processes also sweep on their own
(settings.SWEEPER_IN_WORKERS), with a shared lock so only one pass runs per
interval.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from companion.runtime.sweeper import sweep


class Command(BaseCommand):
    help = "Re-enqueue or fail render jobs stuck after a worker died; mark orphaned streaming replies interrupted."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--loop", action="store_true", help="sweep forever")
        parser.add_argument("--interval", type=float, default=None, help="seconds between passes (--loop)")
        parser.add_argument("--render-stale-s", type=float, default=None, help="running without a heartbeat this long")
        parser.add_argument("--lost-s", type=float, default=None, help="queued this long without a broker message")
        parser.add_argument("--stream-stale-s", type=float, default=None, help="streaming reply untouched this long")

    def handle(self, *args, loop: bool, interval: float | None, render_stale_s, lost_s, stream_stale_s, **opts):
        interval = settings.SWEEP_INTERVAL_S if interval is None else interval
        while True:
            report = sweep(render_stale_s=render_stale_s, lost_s=lost_s, stream_stale_s=stream_stale_s)
            self.stdout.write(json.dumps(asdict(report)))
            if not loop:
                return
            close_old_connections()
            time.sleep(interval)
