"""The bridge's processes: `serve` (web and worker in one), `web`, `worker`, and `migrate`."""
from __future__ import annotations

import signal
import threading

import click

from bridge import logs
from bridge.bootstrap import announce, open_configured_store, worker_pool_size
from bridge.cli.common import closed_after_command, configured, fail_cleanly, wired


@click.command()
@fail_cleanly
def serve() -> None:
    """Web and worker in one process: the single-machine default. Migrates first."""
    from bridge.web import server
    bridge = wired()
    applied = bridge.store.migrate()
    if applied:
        logs.info(logs.logging.getLogger("bridge"), "migrated", applied=",".join(applied))
    bridge.check()
    announce(bridge)
    server.run(bridge.config, with_worker=True)


@click.command()
@fail_cleanly
def web() -> None:
    """The web process alone (Procfile `web`): gunicorn on 0.0.0.0:$PORT."""
    from bridge.web import server
    bridge = wired(create=False)
    bridge.check()
    announce(bridge)
    server.run(bridge.config, with_worker=False)


@click.command()
@click.option("--once", is_flag=True, help="Run what is ready now, then exit.")
@fail_cleanly
def worker(once: bool) -> None:
    """Drain pending work: orders to the POS, cancellations, statuses to Wix."""
    config = configured()
    bridge = wired(config, pool_size=1 if once else worker_pool_size(config), create=False)
    bridge.check()
    announce(bridge)
    if once:
        click.echo(f"{bridge.worker().drain()} job(s) run")
        return
    crew = bridge.crew()
    bridge.schedule_periodic()
    stopping = threading.Event()

    def stop(signum, frame):
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    crew.start()
    while not stopping.wait(0.5) and crew.running():  # waits in slices: signals get through
        pass
    crew.stop(config.stop_seconds)


@click.command()
@fail_cleanly
def migrate() -> None:
    """Create or upgrade the database schema; safe to run twice."""
    applied = closed_after_command(open_configured_store(configured())).migrate()
    click.echo(f"applied: {', '.join(applied)}" if applied else "schema is up to date")


COMMANDS = (serve, web, worker, migrate)
