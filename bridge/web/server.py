"""gunicorn, embedded: `bridge web` (the Procfile's web process) and `bridge serve` (web + worker).

Embedding lets the configuration be checked, and a bad setting reported in one line, before
gunicorn starts. In `serve`, every gunicorn worker process also runs a crew of job workers, woken
as soon as a webhook is stored; SIGTERM lets them finish the jobs in hand before the process exits.
"""
from __future__ import annotations

import functools
import logging
from typing import Any, Callable

from gunicorn.app.base import BaseApplication

from bridge.bootstrap import Bridge, bootstrap, worker_pool_size
from bridge.config import Config
from bridge.service.worker import Crew
from bridge.web.app import MAX_BODY_BYTES, create_app
from bridge.web.buffering import BufferedWsgi, Wsgi

log = logging.getLogger(__name__)

# Heroku kills a process 30 s after SIGTERM: finish or hand back work well before that.
GRACEFUL_TIMEOUT = 25
THREADS = 4
# A request holds a database connection for a few milliseconds, so the threads share two: with
# the buildpack's WEB_CONCURRENCY=2, a web dyno needs 4 (docs/heroku.md has the arithmetic).
WEB_CONNECTIONS = 2


def gunicorn_options(config: Config) -> dict:
    return {
        "bind": f"0.0.0.0:{config.port}",
        "workers": config.web_concurrency,
        # Connections are read in an event loop; each complete request then runs in one of
        # THREADS threads (buffering.BufferedWsgi): slow clients cannot hold the threads.
        "worker_class": "asgi",
        "worker_connections": 1000,
        "asgi_lifespan": "off",
        "timeout": 30,
        "graceful_timeout": GRACEFUL_TIMEOUT,
        "keepalive": 5,
        "loglevel": config.log_level.lower(),
        "worker_exit": functools.partial(_stop_job_workers, config.stop_seconds),
        # gunicorn 27's control socket is one fixed path per user: two bridges would collide.
        "control_socket_disable": True,
    }


class GunicornApp(BaseApplication):
    """gunicorn with our options around an app factory (the bench's receivers use it too, so
    all are served the same way). `load` runs in each gunicorn worker process."""

    def __init__(self, options: dict, load: Callable[[], Any]):
        self.options = options
        self._load = load
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings:  # settings newer than the installed gunicorn are skipped
                self.cfg.set(key, value)

    def load(self) -> BufferedWsgi:
        return self._load()


def served(app: Wsgi) -> BufferedWsgi:
    """A WSGI app as the web process serves it: in THREADS threads, bodies read beforehand."""
    return BufferedWsgi(app, threads=THREADS, max_body=MAX_BODY_BYTES)


def web_app(bridge: Bridge, wake: Callable[[], None] | None = None) -> BufferedWsgi:
    """The bridge's web process: the Flask app, served."""
    return served(create_app(bridge, wake=wake))


def _bridge_app(config: Config, with_worker: bool) -> BufferedWsgi:
    """Each gunicorn worker process gets its own connections, and its own job workers."""
    bridge = bootstrap(config, pool_size=WEB_CONNECTIONS + (worker_pool_size(config)
                                                            if with_worker else 0),
                       create=with_worker)
    bridge.check()
    if not with_worker:
        return web_app(bridge)
    crew = bridge.crew()
    _crews.append(crew)
    bridge.schedule_periodic()
    crew.start()
    return web_app(bridge, wake=crew.wake)


_crews: list[Crew] = []


def _stop_job_workers(stop_seconds: float, server, gunicorn_worker) -> None:
    """Jobs in hand run on for BRIDGE_STOP_SECONDS (within gunicorn's own grace), then are
    handed back for another worker."""
    for crew in _crews:
        crew.stop(min(stop_seconds, GRACEFUL_TIMEOUT - 5))


def run(config: Config, *, with_worker: bool) -> None:
    GunicornApp(gunicorn_options(config), lambda: _bridge_app(config, with_worker)).run()
