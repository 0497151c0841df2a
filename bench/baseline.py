"""The baseline: a bare Flask endpoint that reads the body and answers 200, under exactly the
gunicorn options the bridge's web process uses. What the bridge adds is measured against it."""
from __future__ import annotations

from flask import Flask, request

from bridge.config import load_config
from bridge.web.server import GunicornApp, gunicorn_options


def create_app() -> Flask:
    app = Flask("baseline")

    @app.post("/webhooks/wix")
    def receive():
        request.get_data()
        return {}

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    return app


if __name__ == "__main__":
    GunicornApp(gunicorn_options(load_config()), create_app).run()
