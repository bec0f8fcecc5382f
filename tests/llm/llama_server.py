"""A real OpenAI-compatible server for tests: ``python -m llama_cpp.server`` on the packaged GGUF.

Started as a subprocess on a free port, waited for (bounded), killed at the
end. Its output goes to a log file the tests can read (it prints a line when
a client disconnects mid-stream).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.llm.openai_server import free_port

START_TIMEOUT_S = 90.0
MODEL_ALIAS = "smollm2"


class LlamaServer:
    def __init__(self, model: Path, log_path: Path, *, threads: int = 1) -> None:
        self.model = model
        self.log_path = log_path
        self.threads = threads
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def start(self) -> LlamaServer:
        command = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(self.model), "--model_alias", MODEL_ALIAS,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--n_ctx", "2048", "--n_threads", str(self.threads), "--n_threads_batch", str(self.threads),
        ]  # fmt: skip
        with self.log_path.open("wb") as log:
            # Unbuffered: its "Disconnected from client" is a print; buffered, it reaches the
            # log only when the buffer fills (CI runs without PYTHONUNBUFFERED).
            env = {**os.environ, "PYTHONUNBUFFERED": "1"}
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with {self.process.returncode}:\n{self.log[-3000:]}")
            try:
                if httpx.get(f"{self.url}/models", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"llama_cpp.server not ready within {START_TIMEOUT_S:g} s:\n{self.log[-3000:]}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
