"""`manage.py run_topology`: the production process shape on this machine, for trying it by hand.

Starts 2 Daphne processes and 2 Dramatiq workers (queues ``default`` and
``render``) on a fresh PostgreSQL database and a private redis-server, waits
until every process is ready, prints where they are, and stops them all on
Ctrl-C. Same runner as the fault tests and bench/soak.py
(companion.ops.topology).
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandParser

from companion.ops.topology import DEFAULT_POSTGRES_URL, Topology


class Command(BaseCommand):
    help = "Run 2 Daphne + 2 Dramatiq workers on PostgreSQL and Redis until Ctrl-C."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="server to create the database on")
        parser.add_argument("--redis-url", default=None, help="use this Redis instead of a private redis-server")
        parser.add_argument("--workdir", default=None, help="logs, media and var/ (default: a new temp folder)")
        parser.add_argument("--keep-database", action="store_true", help="do not drop the database at the end")
        parser.add_argument("--llm-backend", default=None, help="LLM_BACKEND for the processes (default: scripted)")

    def handle(self, *args, postgres_url, redis_url, workdir, keep_database, llm_backend, **options) -> None:
        env_extra = {"LLM_BACKEND": llm_backend} if llm_backend else {}
        topo = Topology(
            workdir=workdir, postgres_url=postgres_url, redis_url=redis_url,
            keep_database=keep_database, env_extra=env_extra,
        )
        self.stdout.write(f"Starting in {topo.workdir} (database {topo.db_name}) ...")
        started = time.monotonic()
        topo.start()
        try:
            self.stdout.write(self.style.SUCCESS(f"Ready in {time.monotonic() - started:.1f} s"))
            for proc in topo.processes.values():
                where = proc.url if proc.port else f"metrics :{proc.env['dramatiq_prom_port']}"
                self.stdout.write(f"  {proc.name:15} pid {proc.popen.pid:<7} {where}  log {proc.log_path}")
            self.stdout.write(f"  redis           {topo.redis_url}")
            self.stdout.write(f"Create a login with: DATABASE_URL={topo.database_url} manage.py createsuperuser")
            self.stdout.write("Ctrl-C stops everything.")
            while all(p.alive for p in topo.processes.values()):
                time.sleep(1)
            dead = [p.name for p in topo.processes.values() if not p.alive]
            self.stderr.write(f"process exited: {dead}; stopping the rest")
        except KeyboardInterrupt:
            pass
        finally:
            topo.stop()
            self.stdout.write("Stopped.")
