"""gunicorn, embedded: `bridge web` (the Procfile's web process) and `bridge serve` (web + worker).

Embedding lets the configuration be checked, and a bad setting reported in one line, before
gunicorn starts. In `serve`, every gunicorn worker process also runs a job worker thread, woken
as soon as a webhook is stored; SIGTERM lets it finish the job in hand before the process exits.
"""
from __future__ import annotations

import logging
import threading

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


class _Server(BaseApplication):
    def __init__(self, config: Config, options: dict, with_worker: bool):
        self.bridge_config = config
        self.options = options
        self.with_worker = with_worker
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings:  # settings newer than the installed gunicorn are skipped
                self.cfg.set(key, value)

    def load(self):
        """Runs in each gunicorn worker process: its own connections, and its own job worker."""
        bridge = bootstrap(self.bridge_config)
        bridge.store.check_schema()
        if not self.with_worker:
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
    _Server(config, gunicorn_options(config), with_worker).run()
