"""The production topology on one machine: 2 Daphne + 2 Dramatiq workers on PostgreSQL and Redis.

Used by the topology and fault tests and ``bench/soak.py``; try
the real shape by hand with ``python -m tests.support.run_topology``. Every
run gets a fresh PostgreSQL database (dropped at the end) and, unless a Redis
URL is given, its own ``redis-server`` on a free port, so it never disturbs
(or is disturbed by) anything else using the machine's Redis, and a fault
test may restart it.

The process command lines are the Procfile's; each process runs in its own
session (process group) so a stop or a SIGKILL reaches its children too
(rundramatiq forks worker and metrics processes).

Nothing here imports Django: the runner is a supervisor of Django processes,
not one of them.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres"
WORKER_READY = "is ready for action"  # what a Dramatiq worker process logs when it consumes


class TopologyError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.3):
            return True
    except OSError:
        return False


class RedisServer:
    """A private, non-persistent redis-server on a free loopback port; restartable on the same port."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 10.0) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise TopologyError("redis-server is not installed")
        with open(self.workdir / "redis.log", "ab") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout_s
        while not _port_open(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise TopologyError(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def restart(self, down_s: float = 0.0) -> None:
        """Stop (data is lost: nothing is persisted), stay down ``down_s`` seconds, start on the same port."""
        self.stop()
        time.sleep(down_s)
        self.start()


@dataclass
class Process:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    port: int | None = None  # web processes
    popen: subprocess.Popen | None = None
    log_offset: int = 0  # where this incarnation's log starts (readiness looks after it)

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Topology:
    """Start with ``start()`` (or ``with Topology(...) as topo:``); ``stop()`` always cleans up."""

    workdir: Path | None = None
    postgres_url: str = DEFAULT_POSTGRES_URL
    redis_url: str | None = None  # None: start a private redis-server
    web_count: int = 2
    env_extra: dict[str, str] = field(default_factory=dict)
    default_threads: int = 2
    render_threads: int = 1
    # One render worker per GPU, as production runs them: each gets CUDA_VISIBLE_DEVICES=<id> and
    # takes one job at a time (prefetch 1). Empty: a single "worker-render" as before.
    render_gpus: tuple[str, ...] = ()
    keep_database: bool = False

    def __post_init__(self) -> None:
        self._own_workdir = self.workdir is None
        self.workdir = Path(self.workdir or tempfile.mkdtemp(prefix="companion-topology-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.db_name = f"companion_topo_{uuid.uuid4().hex[:10]}"
        self.redis: RedisServer | None = None
        self.processes: dict[str, Process] = {}
        self._db_created = False
        self.secret_key = secrets.token_urlsafe(50)
        self._web_ports = [free_port() for _ in range(self.web_count)]

    # --- environment ----------------------------------------------------------------
    @property
    def database_url(self) -> str:
        return self.postgres_url.rsplit("/", 1)[0] + f"/{self.db_name}"

    @property
    def web_urls(self) -> list[str]:
        return [p.url for p in self.processes.values() if p.port is not None]

    def env(self, **extra: str) -> dict[str, str]:
        """The environment every process of this topology runs with (as an init system would set it)."""
        keep = {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR"}
        base = {k: v for k, v in os.environ.items() if k in keep}
        base.update(
            {
                "DJANGO_SETTINGS_MODULE": "companion.settings",
                "PYTHONUNBUFFERED": "1",
                "COMPANION_VAR_DIR": str(self.workdir / "var"),
                "MEDIA_ROOT": str(self.workdir / "media"),
                "DATABASE_URL": self.database_url,
                "REDIS_URL": self.redis_url or "",
                "SECRET_KEY": self.secret_key,
                "ALLOWED_HOSTS": "127.0.0.1,localhost",
                "CSRF_TRUSTED_ORIGINS": ",".join(f"http://127.0.0.1:{p}" for p in self._web_ports),
                "TASKS_IN_PROCESS": "0",
                "LLM_BACKEND": "tests.support.scripted.PacedScriptedBackend",
                "LOG_FORMAT": "json",
                "HF_HUB_OFFLINE": "1",
                "TRANSFORMERS_OFFLINE": "1",
                # Small previz frames: the 2-core machine runs all four processes.
                "RENDER_WIDTH": "320",
                "RENDER_HEIGHT": "180",
                "RENDER_FPS": "8",
                "RENDER_MIN_BACKOFF_MS": "500",
                "CONN_MAX_AGE": "0",
            }
        )
        base.update(self.env_extra)
        base.update(extra)
        return base

    # --- lifecycle ------------------------------------------------------------------
    def start(self, timeout_s: float = 120.0) -> Topology:
        try:
            if self.redis_url is None:
                self.redis = RedisServer(self.workdir)
                self.redis.start()
                self.redis_url = self.redis.url
            self._create_database()
            migrated = self.manage("migrate", "--noinput", timeout_s=timeout_s)
            if migrated.returncode != 0:
                raise TopologyError(f"migrate failed:\n{migrated.stdout}\n{migrated.stderr}")
            self._define_processes()
            for name in self.processes:
                self.start_process(name)
            self.wait_ready(self.processes, timeout_s=timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def __enter__(self) -> Topology:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop every process (SIGTERM, then SIGKILL after 10 s), Redis, and drop the database."""
        for proc in self.processes.values():
            self._terminate(proc)
        if self.redis is not None:
            self.redis.stop()
        if self._db_created and not self.keep_database:
            self._drop_database()

    # --- processes ------------------------------------------------------------------
    def _define_processes(self) -> None:
        py = sys.executable
        for i, port in enumerate(self._web_ports):
            name = f"web-{'ab'[i] if i < 2 else i}"
            self.processes[name] = Process(
                name=name,
                argv=[py, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "companion.asgi:application"],
                env=self.env(),
                log_path=self.workdir / f"{name}.log",
                port=port,
            )
        workers = [("worker-default", "default", self.default_threads, {})]
        if self.render_gpus:
            workers += [(f"worker-render-gpu{gpu}", "render", 1,
                         {"CUDA_VISIBLE_DEVICES": gpu, "dramatiq_queue_prefetch": "1"}) for gpu in self.render_gpus]
        else:
            workers.append(("worker-render", "render", self.render_threads, {}))
        for name, queue, threads, extra in workers:
            prom_db = self.workdir / f"prom-{name}"
            prom_db.mkdir(exist_ok=True)
            self.processes[name] = Process(
                name=name,
                argv=[py, "manage.py", "rundramatiq", "--processes", "1", "--threads", str(threads),
                      "--queues", queue, "--worker-shutdown-timeout", "5000"],
                env=self.env(
                    DRAMATIQ_PROMETHEUS="1",
                    dramatiq_prom_host="127.0.0.1",
                    dramatiq_prom_port=str(free_port()),
                    dramatiq_prom_db=str(prom_db),
                    PROMETHEUS_MULTIPROC_DIR=str(prom_db),
                    **extra,
                ),
                log_path=self.workdir / f"{name}.log",
            )

    def start_process(self, name: str) -> Process:
        proc = self.processes[name]
        if proc.alive:
            return proc
        with open(proc.log_path, "ab") as log:  # the child keeps its own descriptor
            proc.log_offset = log.tell()
            proc.popen = subprocess.Popen(
                proc.argv, cwd=ROOT, env=proc.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        return proc

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the whole process group of ``name`` (SIGKILL: the process and its forks die at once)."""
        proc = self.processes[name]
        if proc.popen is None:
            return
        try:
            os.killpg(proc.popen.pid, sig)
        except ProcessLookupError:
            pass
        if sig == signal.SIGKILL:
            proc.popen.wait(10)

    def restart_process(self, name: str, timeout_s: float = 60.0) -> None:
        self._terminate(self.processes[name])
        self.start_process(name)
        self.wait_ready([name], timeout_s=timeout_s)

    def _terminate(self, proc: Process) -> None:
        if proc.popen is None:
            return
        if proc.popen.poll() is None:
            try:
                os.killpg(proc.popen.pid, signal.SIGTERM)
                proc.popen.wait(10)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(proc.popen.pid, signal.SIGKILL)
                proc.popen.wait(10)
        else:
            # The leader is gone; make sure no forked child outlives it.
            try:
                os.killpg(proc.popen.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def wait_ready(self, names: Iterable[str], timeout_s: float = 120.0) -> None:
        """Web: GET /readyz answers 200. Worker: its log says the worker process is ready."""
        pending = set(names)
        deadline = time.monotonic() + timeout_s
        while pending:
            for name in list(pending):
                proc = self.processes[name]
                if not proc.alive:
                    raise TopologyError(f"{name} exited with {proc.popen.returncode}:\n{self.log_tail(name)}")
                if self._ready(proc):
                    pending.discard(name)
            if pending and time.monotonic() > deadline:
                details = "\n".join(f"--- {n}\n{self.log_tail(n)}" for n in sorted(pending))
                raise TopologyError(f"not ready after {timeout_s:g} s: {sorted(pending)}\n{details}")
            time.sleep(0.25)

    def _ready(self, proc: Process) -> bool:
        if proc.port is not None:
            status, _ = self.readyz(proc.name)
            return status == 200
        with open(proc.log_path, "rb") as fh:
            fh.seek(proc.log_offset)
            return WORKER_READY.encode() in fh.read()

    def readyz(self, name: str, timeout_s: float = 5.0) -> tuple[int, dict]:
        try:
            with urllib.request.urlopen(self.processes[name].url + "/readyz", timeout=timeout_s) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")
        except (OSError, ValueError):
            return 0, {}

    def log_tail(self, name: str, chars: int = 3000) -> str:
        path = self.processes[name].log_path
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    # --- Django in a subprocess -------------------------------------------------------
    def manage(self, *args: str, timeout_s: float = 120.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT, env=self.env(), capture_output=True, text=True, timeout=timeout_s,
        )

    def django(self, code: str, timeout_s: float = 120.0) -> object:
        """Run ``code`` after django.setup() against this topology's database; it must ``print(json)`` last."""
        script = "import django, json\ndjango.setup()\n" + code
        out = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, env=self.env(), capture_output=True, text=True,
            timeout=timeout_s,
        )
        if out.returncode != 0:
            raise TopologyError(f"django snippet failed:\n{out.stderr[-4000:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])

    # --- database ---------------------------------------------------------------------
    def _create_database(self) -> None:
        import psycopg

        with psycopg.connect(self.postgres_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{self.db_name}"')
        self._db_created = True

    def _drop_database(self) -> None:
        import psycopg

        with psycopg.connect(self.postgres_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
        self._db_created = False

    def terminate_db_connections(self) -> int:
        """pg_terminate_backend on every connection to this topology's database (a PostgreSQL drop)."""
        import psycopg

        with psycopg.connect(self.postgres_url, autocommit=True) as admin:
            rows = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (self.db_name,),
            ).fetchall()
        return len(rows)

