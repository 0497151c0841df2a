"""gunicorn, embedded: `bridge web` (the Procfile's web process) and `bridge serve` (web + worker).

Embedding lets the configuration be checked, and a bad setting reported in one line, before
gunicorn starts. In `serve`, every gunicorn worker process also runs a job worker thread, woken
as soon as a webhook is stored; SIGTERM lets it finish the job in hand before the process exits.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from gunicorn.app.base import BaseApplication

from bridge import logs
from bridge.bootstrap import bootstrap
from bridge.config import Config
from bridge.web.app import create_app

log = logging.getLogger(__name__)

# Heroku kills a process 30 s after SIGTERM: finish or hand back work well before that.
GRACEFUL_TIMEOUT = 25
THREADS = 4


def gunicorn_options(config: Config) -> dict:
    return {
        "bind": f"0.0.0.0:{config.port}",
        "workers": config.web_concurrency,
        "worker_class": "gthread",
        "threads": THREADS,
        "timeout": 30,
        "graceful_timeout": GRACEFUL_TIMEOUT,
        "keepalive": 5,
        "loglevel": config.log_level.lower(),
        "worker_exit": _stop_job_worker,
        # gunicorn 27's control socket is one fixed path per user: two bridges would collide.
        "control_socket_disable": True,
    }


class GunicornApp(BaseApplication):
    """gunicorn with our options around any WSGI app factory (the bench's baseline uses it too,
    so both are served the same way). `load` runs in each gunicorn worker process."""

    def __init__(self, options: dict, load: Callable[[], Any]):
        self.options = options
        self._load = load
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings:  # settings newer than the installed gunicorn are skipped
                self.cfg.set(key, value)

    def load(self):
        return self._load()


def _bridge_app(config: Config, with_worker: bool):
    """Each gunicorn worker process gets its own connections, and its own job worker."""
    # Every request thread, and the job worker's, may hold a database connection at once.
    bridge = bootstrap(config, pool_size=THREADS + (1 if with_worker else 0))
    bridge.store.check_schema()
    if not with_worker:
        return create_app(bridge)
    worker = bridge.worker()
    thread = threading.Thread(target=worker.run, name="bridge-worker", daemon=True)
    _job_workers.append((worker, thread))
    thread.start()
    return create_app(bridge, wake=worker.wake.set)


_job_workers: list[tuple] = []


def _stop_job_worker(server, gunicorn_worker) -> None:
    for worker, thread in _job_workers:
        worker.stop()
        thread.join(GRACEFUL_TIMEOUT - 5)
        if thread.is_alive():
            logs.warning(log, "worker_stop_timeout", worker=worker.name)


def run(config: Config, *, with_worker: bool) -> None:
    GunicornApp(gunicorn_options(config), lambda: _bridge_app(config, with_worker)).run()
