"""A loopback OpenAI-compatible chat endpoint whose behaviour a fault test switches: ok, hang, error.

"down" is not a mode: stop the server and nothing listens on the port.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeOpenAI:
    def __init__(self, port: int = 0, reply: str = "The lamp is lit and the sea is calm tonight.") -> None:
        self.mode = "ok"
        self.reply = reply
        self.requests = 0
        self.port = port
        self._server: ThreadingHTTPServer | None = None
        self._release = threading.Event()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FakeOpenAI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _json(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if fake.mode == "hang":
                    fake._release.wait(60)
                    return
                self._json(200, {"object": "list", "data": [{"id": "fake-model", "object": "model"}]})

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.requests += 1
                if fake.mode == "hang":
                    fake._release.wait(60)  # never answers (until the test ends)
                    return
                if fake.mode == "error":
                    self._json(500, {"error": {"message": "model crashed", "type": "server_error"}})
                    return
                if not body.get("stream"):
                    self._json(200, {"id": "x", "object": "chat.completion", "created": int(time.time()),
                                     "model": "fake-model", "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": fake.reply}}]})
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                words = fake.reply.split(" ")
                for i, word in enumerate(words):
                    chunk = {"id": "x", "object": "chat.completion.chunk", "created": int(time.time()),
                             "model": "fake-model",
                             "choices": [{"index": 0, "delta": {"content": word + (" " if i < len(words) - 1 else "")},
                                          "finish_reason": None}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                end = {"id": "x", "object": "chat.completion.chunk", "created": int(time.time()), "model": "fake-model",
                       "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
                self.wfile.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())
                self.wfile.flush()
                self.close_connection = True

        self._release.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
