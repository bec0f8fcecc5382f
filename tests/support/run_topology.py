"""The production process shape on this machine, by hand: ``python -m tests.support.run_topology``.

Starts 2 Daphne processes and 2 Dramatiq workers (queues ``default`` and
``render``) on a fresh PostgreSQL database and a private redis-server, waits
until every process is ready, prints where they are, and stops them all on
Ctrl-C. Same runner as the fault tests and bench/soak.py (tests.support.topology).
"""

from __future__ import annotations

import argparse
import sys
import time

from tests.support.topology import DEFAULT_POSTGRES_URL, Topology


def main(argv: list[str] | None = None) -> None:
    """Start the topology, print where everything is, and stop it all on Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.run_topology",
        description="Run 2 Daphne + 2 Dramatiq workers on PostgreSQL and Redis until Ctrl-C.",
    )
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="server to create the database on")
    parser.add_argument("--redis-url", default=None, help="use this Redis instead of a private redis-server")
    parser.add_argument("--workdir", default=None, help="logs, media and var/ (default: a new temp folder)")
    parser.add_argument("--keep-database", action="store_true", help="do not drop the database at the end")
    parser.add_argument("--llm-backend", default=None, help="LLM_BACKEND for the processes (default: paced scripted)")
    args = parser.parse_args(argv)
    topo = Topology(
        workdir=args.workdir, postgres_url=args.postgres_url, redis_url=args.redis_url,
        keep_database=args.keep_database, env_extra={"LLM_BACKEND": args.llm_backend} if args.llm_backend else {},
    )
    print(f"Starting in {topo.workdir} (database {topo.db_name}) ...", flush=True)
    started = time.monotonic()
    topo.start()
    try:
        print(f"Ready in {time.monotonic() - started:.1f} s")
        for proc in topo.processes.values():
            where = proc.url if proc.port else f"metrics :{proc.env['dramatiq_prom_port']}"
            print(f"  {proc.name:15} pid {proc.popen.pid:<7} {where}  log {proc.log_path}")
        print(f"  redis           {topo.redis_url}")
        print(f"Create a login with: DATABASE_URL={topo.database_url} manage.py createsuperuser")
        print("Ctrl-C stops everything.", flush=True)
        while all(p.alive for p in topo.processes.values()):
            time.sleep(1)
        dead = [p.name for p in topo.processes.values() if not p.alive]
        print(f"process exited: {dead}; stopping the rest", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    finally:
        topo.stop()
        print("Stopped.")


if __name__ == "__main__":
    main()
