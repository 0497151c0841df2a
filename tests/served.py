"""The web process's app as gunicorn serves it (`server.web_app`), driven from a test: each request
goes through its event loop, which runs on a thread of its own as in a gunicorn worker. Answers
look like Flask's test client's, so a test can take either."""
from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass

from bridge.web.buffering import BufferedWsgi


@dataclass
class Answer:
    status_code: int
    headers: dict[str, str]
    data: bytes

    def get_json(self):
        return json.loads(self.data)


class ServedClient:
    def __init__(self, app: BufferedWsgi):
        self.app = app
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="served-loop",
                                        daemon=True)
        self._thread.start()

    def get(self, path: str, *, headers: dict[str, str] | None = None) -> Answer:
        return self.request("GET", path, b"", headers or {})

    def post(self, path: str, *, data: bytes | str = b"", content_type: str | None = None,
             headers: dict[str, str] | None = None) -> Answer:
        headers = dict(headers or {})
        if content_type:
            headers["Content-Type"] = content_type
        body = data.encode() if isinstance(data, str) else data
        return self.request("POST", path, body, headers)

    def request(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        return asyncio.run_coroutine_threadsafe(
            self._request(method, path, body, headers), self.loop).result(30)

    async def _request(self, method: str, path: str, body: bytes,
                       headers: dict[str, str]) -> Answer:
        sent: list[dict] = []
        messages = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> dict:
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            sent.append(message)

        scope = {"type": "http", "method": method, "path": path, "query_string": b"",
                 "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]
                 + [(b"content-length", str(len(body)).encode())],
                 "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 5000),
                 "http_version": "1.1"}
        await self.app(scope, receive, send)
        start, content = sent[0], b"".join(m.get("body", b"") for m in sent[1:])
        return Answer(start["status"], {k.decode(): v.decode() for k, v in start["headers"]},
                      content)

    def close(self) -> None:
        """Close what the app holds in its loop (as at gunicorn's shutdown), then the loop."""
        asyncio.run_coroutine_threadsafe(self.app.aclose(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.app.close()
