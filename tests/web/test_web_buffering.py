"""The web process reads each request whole in its event loop before a thread runs the app."""
import asyncio
import json

from bridge.web.buffering import BufferedWsgi


def echo_app(environ, start_response):
    body = environ["wsgi.input"].read()
    start_response("201 Created", [("Content-Type", "application/json")])
    return [json.dumps({"path": environ["PATH_INFO"], "length": environ["CONTENT_LENGTH"],
                        "type": environ.get("CONTENT_TYPE"), "agent": environ.get("HTTP_X_A"),
                        "body": body.decode()}).encode()]


def call(app, chunks, *, stall=False, headers=(), method="POST"):
    """Run one request through the ASGI app; the messages it sent back."""
    sent = []

    async def run():
        queue = [{"type": "http.request", "body": c, "more_body": stall or i < len(chunks) - 1}
                 for i, c in enumerate(chunks)]

        async def receive():
            if queue:
                return queue.pop(0)
            if stall:
                await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "method": method, "path": "/pos/caf\u00e9/events",
                 "query_string": b"", "headers": list(headers), "server": ("127.0.0.1", 8000),
                 "client": ("127.0.0.1", 5000), "http_version": "1.1"}
        await app(scope, receive, send)

    asyncio.run(run())
    return sent


def test_a_body_sent_in_pieces_reaches_the_app_whole_with_its_headers():
    app = BufferedWsgi(echo_app, threads=2, max_body=100)
    start, body = call(app, [b"ab", b"cd", b"ef"], headers=[
        (b"content-type", b"application/json"), (b"x-a", b"1"), (b"x-a", b"2"),
        (b"content-length", b"999")])
    assert start["status"] == 201
    assert json.loads(body["body"]) == {"path": "/pos/caf\u00c3\u00a9/events", "length": "6",
                                        "type": "application/json", "agent": "1,2",
                                        "body": "abcdef"}


def test_a_body_over_the_limit_is_refused_with_413_before_it_is_all_read():
    app = BufferedWsgi(echo_app, threads=2, max_body=4)
    start, body = call(app, [b"abc", b"def", b"never read"])
    assert start["status"] == 413
    assert json.loads(body["body"])["error"]["code"] == "payload_too_large"


def test_a_client_that_stops_sending_is_answered_408_and_holds_no_thread():
    app = BufferedWsgi(echo_app, threads=1, max_body=100, body_seconds=0.1)
    start, body = call(app, [b"ab"], stall=True)
    assert start["status"] == 408
    assert json.loads(body["body"])["error"]["code"] == "request_timeout"
