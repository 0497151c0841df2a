"""The `bridge` command. Each command is a thin layer over the library that does the work."""
from __future__ import annotations

import functools
import json
import signal
import sys
import threading
from typing import Any

import click

from bridge import logs
from bridge.bootstrap import (Bridge, announce, bootstrap, open_configured_store,
                              worker_pool_size)
from bridge.config import SETTINGS, Config, ConfigError, load_config
from bridge.domain.lifecycle import OrderState
from bridge.pos import registry
from bridge.service import jobs
from bridge.service.breakers import explain
from bridge.storage.port import (BreakerState, Direction, ImportState, Origin, SchemaOutOfDate,
                                 Store, StoreUnavailable, UpdateState)


def _fail_cleanly(command):
    """Operator mistakes end in one clear line and exit 2, never a traceback."""
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (ConfigError, SchemaOutOfDate, FileNotFoundError) as error:
            click.echo(f"bridge: {error}", err=True)
            sys.exit(2)
        except StoreUnavailable as error:
            click.echo(f"bridge: DATABASE_URL: {error}", err=True)
            sys.exit(2)
    return wrapper


def _config() -> Config:
    config = load_config()
    logs.setup(config.log_level)
    return config


def _closed_after_command(store: Store) -> Store:
    """Connections (and a pool's threads) end with the command, not whenever memory is freed."""
    click.get_current_context().call_on_close(store.close)
    return store


def _bridge(config: Config | None = None, **options) -> Bridge:
    bridge = bootstrap(config or _config(), **options)
    _closed_after_command(bridge.store)
    return bridge


def _setting_lines(settings) -> list[str]:
    return [f"  {s.name:<32} {s.help}" + (f" (default {s.default})" if s.default else "")
            for s in settings]


def _settings_help() -> str:
    """Every setting, the core's and each installed POS client's, as each declares it."""
    lines = ["\b", "Configuration (environment or .env):", *_setting_lines(SETTINGS)]
    for client, settings in sorted(registry.declared_settings().items()):
        if settings:
            lines += ["\b", f"POS client {client} (POS_CLIENT={client}):",
                      *_setting_lines(settings)]
    return "\n".join(lines)


class _Main(click.Group):
    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Built when help is asked for: listing the settings loads every POS client."""
        self.epilog = _settings_help()
        super().format_epilog(ctx, formatter)


@click.group(cls=_Main, context_settings={"max_content_width": 120})
@click.version_option(package_name="wix-pos-bridge")
def main() -> None:
    """bridge: Wix Restaurants orders to your POS, and statuses back to Wix."""


@main.command()
@_fail_cleanly
def serve() -> None:
    """Web and worker in one process: the single-machine default. Migrates first."""
    from bridge.web import server
    bridge = _bridge()
    applied = bridge.store.migrate()
    if applied:
        logs.info(logs.logging.getLogger("bridge"), "migrated", applied=",".join(applied))
    bridge.check()
    announce(bridge)
    server.run(bridge.config, with_worker=True)


@main.command()
@_fail_cleanly
def web() -> None:
    """The web process alone (Procfile `web`): gunicorn on 0.0.0.0:$PORT."""
    from bridge.web import server
    bridge = _bridge(create=False)
    bridge.check()
    announce(bridge)
    server.run(bridge.config, with_worker=False)


@main.command()
@click.option("--once", is_flag=True, help="Run what is ready now, then exit.")
@_fail_cleanly
def worker(once: bool) -> None:
    """Drain pending work: orders to the POS, cancellations, statuses to Wix."""
    config = _config()
    bridge = _bridge(config, pool_size=1 if once else worker_pool_size(config), create=False)
    bridge.check()
    announce(bridge)
    if once:
        click.echo(f"{bridge.worker().drain()} job(s) run")
        return
    crew = bridge.crew()
    stopping = threading.Event()

    def stop(signum, frame):
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    crew.start()
    while not stopping.wait(0.5) and crew.running():  # waits in slices: signals get through
        pass
    crew.stop(config.stop_seconds)


@main.command()
@_fail_cleanly
def migrate() -> None:
    """Create or upgrade the database schema; safe to run twice."""
    applied = _closed_after_command(open_configured_store(_config())).migrate()
    click.echo(f"applied: {', '.join(applied)}" if applied else "schema is up to date")


def _emit(rows: list[dict[str, Any]], lines: list[str], as_json: bool, nothing: str) -> None:
    """A listing: one JSON object per row, or one human line per row."""
    for row, line in zip(rows, lines, strict=True):
        click.echo(json.dumps(row) if as_json else line)
    if not rows and not as_json:
        click.echo(nothing)


def _store() -> Store:
    store = _closed_after_command(open_configured_store(_config(), create=False))
    store.check_schema()
    return store


def _listing(states: type, what: str):
    """The options every listing command takes: a state to keep, how many, JSON lines."""
    def options(command):
        for option in reversed([
                click.option("--state", type=click.Choice([s.value for s in states]),
                             help=f"Only {what} in this state."),
                click.option("--limit", default=50, show_default=True,
                             type=click.IntRange(1, 100_000),
                             help="At most this many, newest first."),
                click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")]):
            command = option(command)
        return command
    return options


@main.command("orders")
@_listing(OrderState, "orders")
@_fail_cleanly
def list_orders(state: str | None, limit: int, as_json: bool) -> None:
    """List orders, newest first, with their state, direction (out: sent to the POS; in: taken
    at the POS and imported into Wix) and POS id."""
    store = _store()
    records = store.list_orders(state, limit)
    held = _held_destinations(store)

    def pos_held(record) -> str | None:
        breaker = held.get(jobs.pos_destination(record.instance_id))
        return explain(breaker) if breaker and record.state in _WAITING_FOR_POS else None

    rows = [{"wix_order_id": r.wix_order_id, "number": r.number, "state": r.state,
             "direction": r.direction or Direction.EXPORTED, "origin": _origin(r),
             "pos_order_id": r.pos_order_id, "pos_status": r.pos_status,
             "wix_fulfillment_status": r.wix_fulfillment_status, "updated_at": r.updated_at,
             "last_error": r.last_error, "pos_held": pos_held(r)} for r in records]
    lines = [f"{r['updated_at']}  {r['state']:<9}  {'in ' if r['direction'] == 'imported' else 'out'}"
             f"  #{r['number'] or '-':<8} {r['wix_order_id']}  "
             f"pos={r['pos_order_id'] or '-'}  kitchen={r['pos_status'] or '-'}  "
             f"wix={r['wix_fulfillment_status'] or '-'}"
             + (f"  via={r['origin']}" if r["origin"] not in (Origin.ECOM, Origin.POS) else "")
             + (f"  error={r['last_error']}" if r["last_error"] else "")
             + (f"  POS {r['pos_held']}" if r["pos_held"] else "") for r in rows]
    _emit(rows, lines, as_json, "no orders" + (f" in state {state}" if state else ""))


def _origin(record) -> str:
    """The channel an order came by (rows older than the column: an eCommerce webhook)."""
    if record.origin:
        return record.origin
    return Origin.POS if record.direction == Direction.IMPORTED else Origin.ECOM


def _order(store: Store, order: str, site: str | None):
    """The one order named by a Wix order id or a number (#10042), on `site` when given. An
    order is its site's: when several sites have the id or number, say which to choose from."""
    found = store.orders_with_id(order) or store.find_orders_by_number(order.removeprefix("#"))
    if site:
        found = [r for r in found if r.instance_id == site]
    if not found:
        click.echo(f"bridge: no order {order}" + (f" on site {site}" if site else ""), err=True)
        sys.exit(1)
    if len(found) > 1:
        ids = ", ".join(f"{r.wix_order_id} (site {r.instance_id})" for r in found)
        click.echo(f"bridge: {len(found)} orders match {order}: {ids}; give --site, or the "
                   "Wix order id", err=True)
        sys.exit(1)
    return found[0]


_SITE = click.option("--site", help="The site (Wix instance id) the order is of, where "
                                    "several sites have the id or number.")


_WAITING_FOR_POS = (OrderState.QUEUED, OrderState.CANCELING)


def _held_destinations(store: Store) -> dict:
    """Destinations whose circuit breaker is open or probing: their orders wait."""
    return {b.destination: b for b in store.breakers() if b.state != BreakerState.CLOSED}


@main.command()
@click.argument("order")
@_SITE
@click.option("--json", "as_json", is_flag=True,
              help="The order and its history as one JSON document.")
@_fail_cleanly
def show(order: str, site: str | None, as_json: bool) -> None:
    """One order's state and history: events, jobs, attempts and errors.

    ORDER is the Wix order id, or the order number `bridge orders` prints (#10042 or 10042)."""
    store = _store()
    record = _order(store, order, site)
    history = store.history(record.instance_id, record.wix_order_id)
    summary: dict[str, Any] = {}
    if record:
        summary = {"wix_order_id": record.wix_order_id, "instance_id": record.instance_id,
                   "number": record.number, "state": record.state, "wix_status": record.wix_status,
                   "pos_client": record.pos_client, "pos_order_id": record.pos_order_id,
                   "pos_status": record.pos_status,
                   "wix_fulfillment_status": record.wix_fulfillment_status,
                   "wix_fulfillment_id": record.wix_fulfillment_id,
                   "last_error": record.last_error, "created_at": record.created_at,
                   "updated_at": record.updated_at,
                   "direction": record.direction or Direction.EXPORTED,
                   "origin": _origin(record)}
        breaker = _held_destinations(store).get(jobs.pos_destination(record.instance_id))
        if breaker and record.state in _WAITING_FOR_POS:
            summary["pos_held"] = explain(breaker)
    if as_json:
        click.echo(json.dumps({"order": summary, **history}, indent=2))
        return
    for key, value in summary.items():
        click.echo(f"{key:>22}: {value if value is not None else '-'}")
    for section in ("events", "jobs", "attempts", "status_updates", "import",
                    "import_attempts"):
        if section.startswith("import") and not history[section]:
            continue
        click.echo(f"\n{section}:")
        for row in history[section]:
            click.echo("  " + "  ".join(f"{k}={v}" for k, v in row.items() if v is not None))


@main.command()
@_listing(UpdateState, "updates")
@_fail_cleanly
def statuses(state: str | None, limit: int, as_json: bool) -> None:
    """List status updates reported by the POS, newest first, and what became of them."""
    updates = _store().list_status_updates(state, limit)
    lines = [f"{u.received_at}  #{u.id:<6} {u.state:<9} {u.status:<11} "
             f"pos={u.pos_order_id}  order={u.wix_order_id or '-'}"
             + (f"  note={u.note}" if u.note else "") for u in updates]
    _emit([u.__dict__ for u in updates], lines, as_json,
          "no status updates" + (f" in state {state}" if state else ""))


@main.command("imports")
@_listing(ImportState, "imports")
@_fail_cleanly
def list_imports(state: str | None, limit: int, as_json: bool) -> None:
    """Orders taken at the POS on their way into Wix, newest first, with why one failed."""
    rows = [{"id": i.id, "site": i.instance_id or None, "pos": i.pos_client,
             "pos_order_id": i.pos_order_id, "state": i.state, "wix_order_id": i.wix_order_id,
             "error": i.error, "updated_at": i.updated_at}
            for i in _store().list_imports(state, limit)]
    lines = [f"{r['updated_at']}  #{r['id']:<6} {r['state']:<8}  pos={r['pos']}:{r['pos_order_id']}"
             f"  wix={r['wix_order_id'] or '-'}" + (f"  error={r['error']}" if r["error"] else "")
             for r in rows]
    _emit(rows, lines, as_json, "no imports" + (f" in state {state}" if state else ""))


@main.command()
@click.argument("order_id", required=False)
@_SITE
@click.option("--job", "job_id", type=int, help="Replay one failed job by id (see `bridge show`).")
@click.option("--status", "status_id", type=int,
              help="Replay one failed status update by id (see `bridge statuses`).")
@click.option("--import", "import_id", type=int,
              help="Replay one failed import by id (see `bridge imports`).")
@_fail_cleanly
def replay(order_id: str | None, site: str | None, job_id: int | None, status_id: int | None,
           import_id: int | None) -> None:
    """Send failed work again with fresh attempts: an order's, one job, one status update, or
    one import (an order taken at the POS)."""
    from bridge.service.replay import replay as replay_work
    if sum(x is not None for x in (order_id, job_id, status_id, import_id)) != 1:
        raise click.UsageError("give one of ORDER_ID, --job ID, --status ID or --import ID")
    store = _store()
    order = None
    if order_id is not None:
        record = _order(store, order_id, site)
        order = (record.instance_id, record.wix_order_id)
    ids = replay_work(store, order=order, job_id=job_id, status_update_id=status_id,
                      import_id=import_id)
    if not ids:
        click.echo("nothing failed to replay", err=True)
        sys.exit(1)
    click.echo(f"replaying job(s) {', '.join(map(str, ids))}")


@main.group()
def pos() -> None:
    """The POS clients installed here."""


@pos.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per client.")
def list_pos_clients(as_json: bool) -> None:
    """Installed POS clients (entry points in bridge.pos_clients) and the settings each reads."""
    try:
        configured = load_config().pos_client
    except ConfigError:  # listing needs no working configuration
        configured = None
    for client, settings in sorted(registry.declared_settings().items()):
        if as_json:
            click.echo(json.dumps({"name": client, "settings": None if settings is None else [
                {"name": s.name, "default": s.default, "help": s.help} for s in settings]}))
            continue
        mark = "  (POS_CLIENT)" if client == configured else ""
        click.echo(f"{client}{mark}")
        if settings is None:
            click.echo("  (lists no settings)")
        for line in _setting_lines(settings or ()):
            click.echo(line)


@main.command("send-sample")
@click.option("--url", default=None, help="The bridge's webhook URL "
                                          "(default http://127.0.0.1:$PORT/webhooks/wix).")
@click.option("--status", type=click.Choice(["APPROVED", "INITIALIZED"]), default="APPROVED",
              show_default=True, help="Order status in the order_created event.")
@_fail_cleanly
def send_sample(url: str | None, status: str) -> None:
    """Sandbox only: post a signed sample restaurant order to a running bridge."""
    import requests
    from bridge.wix import sandbox
    config = _config()
    if not config.sandbox:
        raise ConfigError("send-sample works in sandbox mode only (no WIX_PUBLIC_KEY set): "
                          "a real bridge takes webhooks signed by Wix")
    key = sandbox.load_key(config.sandbox_key_path)
    order = sandbox.sample_order(status=status)
    token = sandbox.sign_webhook(key, "wix.ecom.v1.order_created", sandbox.SANDBOX_INSTANCE_ID,
                                 sandbox.order_event(order))
    url = url or f"http://127.0.0.1:{config.port}/webhooks/wix"
    try:
        response = requests.post(url, data=token, headers={"content-type": "text/plain"},
                                 timeout=10)
    except requests.RequestException as error:
        click.echo(f"bridge: could not reach {url}: {type(error).__name__} (is `bridge serve` "
                   "running?)", err=True)
        sys.exit(1)
    click.echo(f"sent order #{order['number']} ({order['id']}): HTTP {response.status_code} "
               f"{response.text.strip()}")
    if response.status_code != 200:
        sys.exit(1)


def _add_site_commands() -> None:
    """The commands for many sites (accounts, configurations, syncs, the legacy URL) live in
    their own module, which builds on this one."""
    from bridge.cli_sites import (accounts, configurations, legacy_url, notify_email, sync,
                                  syncs)
    for command in (accounts, configurations, sync, syncs, legacy_url, notify_email):
        main.add_command(command)


_add_site_commands()
