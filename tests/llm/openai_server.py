"""A real HTTP server speaking the OpenAI streaming chat format, for tests.

It runs in a thread on 127.0.0.1, records every request exactly as received
(method, path, headers, JSON body) and answers each one according to a
script, so tests can check what the client sent and how it copes with a
server that streams, hangs, errors or gets hung up on.
"""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """Stream ``deltas`` as chat.completion.chunk events, then ``[DONE]``."""

    deltas: list[str]
    delay_s: float = 0.0  # between chunks
    hang_after: int | None = None  # stop sending (without closing) after this many deltas


@dataclass
class Hang:
    """Read the request, then send nothing at all until the test ends."""


@dataclass
class Status:
    code: int
    message: str = "error"


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class StreamLog:
    """What the server managed to send for one streamed reply."""

    sent: int = 0
    disconnected: threading.Event = field(default_factory=threading.Event)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class FakeOpenAI:
    def __init__(self, port: int | None = None, *, models: tuple[str, ...] = ("served-base",)) -> None:
        self.port = port or free_port()
        self.models = models
        self.script: list[Reply | Hang | Status] = []  # one per chat request, in order
        self.requests: list[Recorded] = []
        self.streams: list[StreamLog] = []
        self.release = threading.Event()  # lets hanging handlers finish when the test ends
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def chat_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path == "/v1/chat/completions"]

    def start(self) -> FakeOpenAI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # chunked streaming, as vLLM does

            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                pass

            def _record(self, body: Any) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                fake.requests.append(Recorded(self.command, self.path, headers, body))

            def do_GET(self) -> None:
                self._record(None)
                if self.path == "/v1/models":
                    data = [{"id": m, "object": "model", "created": 0, "owned_by": "vllm"} for m in fake.models]
                    self._json(200, {"object": "list", "data": data})
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self._record(json.loads(raw))
                action = fake.script.pop(0) if fake.script else Reply(["ok"])
                if isinstance(action, Hang):
                    fake.release.wait()
                elif isinstance(action, Status):
                    self._json(action.code, {"error": {"message": action.message, "type": "x", "code": action.code}})
                else:
                    self._stream(action)

            def _json(self, code: int, payload: Any) -> None:
                body = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _chunk(self, payload: str) -> None:
                data = f"data: {payload}\n\n".encode()
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def _stream(self, reply: Reply) -> None:
                log = StreamLog()
                fake.streams.append(log)
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                model = fake.requests[-1].body["model"]
                try:
                    for i, delta in enumerate(reply.deltas):
                        if reply.hang_after is not None and i >= reply.hang_after:
                            fake.release.wait()
                            return
                        self._chunk(json.dumps(_chunk(model, {"role": "assistant", "content": delta}, None)))
                        log.sent += 1
                        if reply.delay_s:
                            fake.release.wait(reply.delay_s)
                    self._chunk(json.dumps(_chunk(model, {}, "stop")))
                    self._chunk("[DONE]")
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    log.disconnected.set()

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-openai", daemon=True).start()
        return self

    def stop(self) -> None:
        self.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def _chunk(model: str, delta: dict, finish_reason: str | None) -> dict:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
    }
