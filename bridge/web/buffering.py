"""Read every request whole before a thread runs the Flask app, so slow clients cannot stall intake.

With gunicorn's threaded worker a request is read by the thread that runs it: four connections
that send their headers and then a byte now and then held all four threads, and a webhook from Wix
(which gives up after 1.25 s) waited behind them. gunicorn's `asgi` worker reads connections in an
asyncio event loop instead, where a slow client costs a coroutine, not a thread; this adapter
gathers each request's body there, within a size limit and a deadline, and only then hands the
complete request to the WSGI app in a small thread pool (the database's connections follow its
size). Nothing of the app changes: it still sees a plain WSGI environ.
"""
from __future__ import annotations

import asyncio
import io
import logging
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterable

from bridge import logs
from bridge.web.errors import error_code, error_document

log = logging.getLogger(__name__)

Wsgi = Callable[[dict, Callable], Iterable[bytes]]


class BufferedWsgi:
    """An ASGI app around a WSGI one: the body is read in the event loop, the app run in a thread.

    `max_body`: a larger body is answered 413 as soon as it is over, chunked or not.
    `body_seconds`: a client that has not finished sending its request by then is answered 408."""

    def __init__(self, app: Wsgi, *, threads: int, max_body: int, body_seconds: float = 10.0):
        self.app = app
        self.max_body = max_body
        self.body_seconds = body_seconds
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="bridge-web")

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return
        body = await self._read_body(receive, send)
        if body is None:
            return
        loop = asyncio.get_running_loop()
        status, headers, content = await loop.run_in_executor(
            self.pool, self._run, environ(scope, body))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    async def _read_body(self, receive: Callable, send: Callable) -> bytes | None:
        """The whole body, or None once the request is answered (or the client gone)."""
        body = bytearray()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.body_seconds
        while True:
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except asyncio.TimeoutError:
                logs.warning(log, "request_too_slow", received_bytes=len(body),
                             seconds=self.body_seconds)
                await _error(send, 408, f"the request was not sent within {self.body_seconds:g} s")
                return None
            if message["type"] == "http.disconnect":
                return None
            body += message.get("body", b"")
            if len(body) > self.max_body:
                logs.warning(log, "http_error", status=413, code=error_code(413))
                await _error(send, 413, f"the body is over {self.max_body} bytes")
                return None
            if not message.get("more_body"):
                return bytes(body)

    def _run(self, env: dict) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """Run the WSGI app to the end (the bridge's answers are small JSON documents)."""
        started: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info=None):
            started["status"] = int(status.split(" ", 1)[0])
            started["headers"] = [(k.lower().encode("latin-1"), v.encode("latin-1"))
                                  for k, v in headers]
            return lambda data: None

        result = self.app(env, start_response)
        try:
            content = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close:
                close()
        return started["status"], started["headers"], content

    def close(self) -> None:
        self.pool.shutdown(wait=False)


async def _error(send: Callable, status: int, message: str) -> None:
    body = error_document(status, message)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def environ(scope: dict, body: bytes) -> dict:
    """The WSGI environ (PEP 3333) of a complete ASGI request."""
    server = scope.get("server") or ("localhost", 80)
    client = scope.get("client")
    env = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": scope.get("root_path", "").encode("utf-8").decode("latin-1"),
        "PATH_INFO": scope["path"].encode("utf-8").decode("latin-1"),
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1]) if server[1] is not None else "80",
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if client:
        env["REMOTE_ADDR"], env["REMOTE_PORT"] = str(client[0]), str(client[1])
    for raw_name, raw_value in scope.get("headers", []):
        name = raw_name.decode("latin-1").upper().replace("-", "_")
        value = raw_value.decode("latin-1")
        if name == "CONTENT_LENGTH":
            continue  # the body is complete: its length is what was read
        key = "CONTENT_TYPE" if name == "CONTENT_TYPE" else f"HTTP_{name}"
        env[key] = f"{env[key]},{value}" if key in env else value
    return env
