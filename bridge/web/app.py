"""The Flask app factory. Nothing is built at import time; `create_app` wires everything."""
from __future__ import annotations

from typing import Callable

from flask import Flask

from bridge.bootstrap import Bridge, bootstrap
from bridge.config import load_config
from bridge.web import errors, health, legacy, metrics, pos_events, spi, wix_webhooks
from bridge.web.dashboard import access as dashboard_access
from bridge.web import dashboard

MAX_BODY_BYTES = 1024 * 1024


def create_app(bridge: Bridge | None = None, *, wake: Callable[[], None] | None = None) -> Flask:
    """`wake` is called after an event is stored, so an in-process worker can start at once."""
    if bridge is None:
        bridge = bootstrap(load_config())
        bridge.check()
    app = Flask("bridge")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json.sort_keys = False
    app.extensions["bridge"] = bridge
    if wake is not None:
        app.extensions["bridge.wake"] = wake
    errors.register(app)
    app.register_blueprint(wix_webhooks.blueprint)
    app.register_blueprint(pos_events.blueprint)
    app.register_blueprint(health.blueprint)
    app.register_blueprint(spi.blueprint)
    app.register_blueprint(legacy.blueprint)
    app.register_blueprint(metrics.blueprint)
    keyring = bridge.config.keyring
    dashboard_access.configure(app, keyring.derive("dashboard-session") if keyring else None)
    app.register_blueprint(dashboard.blueprint)
    return app
