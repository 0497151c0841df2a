"""The bench's own receivers, served with exactly the gunicorn options of the bridge's web process:

- `baseline`: a bare Flask endpoint that reads the body and answers 200. What the bridge adds is
  measured against it.
- `verify`: verifies and unwraps the webhook exactly as the bridge does, then answers without
  storing anything. Not a receiver anyone should run (an answered webhook would be lost), but
  the most any receiver that checks its input can reach here: the room left for storing.
- `reference`: the least a receiver can do and still answer honestly. It verifies the JWT with the
  bridge's own Verifier and commits the token (one table, one key, the bridge's SQLite durability)
  before answering; nothing else: no envelope, no dedupe by event id, no job for a worker. Its
  ratio to the baseline is the ceiling the bridge's ingest ratio is read against.

    python -m bench.receivers baseline|verify|reference
"""
from __future__ import annotations

import sqlite3
import sys
import threading
from typing import Callable

from flask import Flask, request

from bridge.bootstrap import bootstrap
from bridge.config import load_config
from bridge.web.buffering import BufferedWsgi
from bridge.web.server import GunicornApp, gunicorn_options, served


def _app(name: str, receive: Callable[[], dict]) -> BufferedWsgi:
    app = Flask(name)
    app.post("/webhooks/wix")(receive)
    app.get("/healthz")(lambda: {"status": "ok"})
    return served(app)


def baseline() -> BufferedWsgi:
    def receive():
        request.get_data()
        return {}
    return _app("baseline", receive)


def verify() -> BufferedWsgi:
    verifier = bootstrap(load_config()).verifier

    def receive():
        verifier.event(request.get_data())
        return {}
    return _app("verify", receive)


def reference() -> BufferedWsgi:
    config = load_config()
    verifier = bootstrap(config).verifier
    path = config.database_path.with_name(config.database_path.stem + ".reference.db")
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={config.sqlite_synchronous}")
    conn.execute("CREATE TABLE IF NOT EXISTS webhooks (signature TEXT PRIMARY KEY, token TEXT)")
    lock = threading.Lock()

    def receive():
        token = request.get_data(as_text=True)
        verifier.claims(token)
        with lock:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT OR IGNORE INTO webhooks VALUES (?, ?)",
                         (token.rsplit(".", 1)[-1], token))
            conn.execute("COMMIT")
        return {}
    return _app("reference", receive)


RECEIVERS = {"baseline": baseline, "verify": verify, "reference": reference}

if __name__ == "__main__":
    args = sys.argv[1:]
    if args not in [[name] for name in RECEIVERS]:
        raise SystemExit(f"usage: python -m bench.receivers {'|'.join(RECEIVERS)}")
    GunicornApp(gunicorn_options(load_config()), RECEIVERS[args[0]]).run()
