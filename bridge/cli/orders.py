"""Looking at orders, statuses and imports, replaying them, and trying the bridge out."""
from __future__ import annotations

import json
import sys
from typing import Any

import click

from bridge.cli.common import (configured, emit, fail_cleanly, migrated_store, setting_lines,
                               wired)
from bridge.config import ConfigError, load_config
from bridge.domain.lifecycle import OrderState
from bridge.pos import registry
from bridge.service import jobs
from bridge.service.breakers import explain
from bridge.storage.port import (BreakerState, Direction, ImportState, Origin, Store,
                                 UpdateState)


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


@click.command("orders")
@_listing(OrderState, "orders")
@fail_cleanly
def list_orders(state: str | None, limit: int, as_json: bool) -> None:
    """List orders, newest first, with their state, direction (out: sent to the POS; in: taken
    at the POS and imported into Wix) and POS id."""
    store = migrated_store()
    records = store.list_orders(state, limit)
    held = _held_destinations(store)

    def pos_held(record) -> str | None:
        breaker = held.get(jobs.pos_destination(record.instance_id))
        return explain(breaker) if breaker and record.state in _WAITING_FOR_POS else None

    rows = [{"wix_order_id": r.wix_order_id, "site": r.instance_id, "number": r.number,
             "state": r.state,
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
    emit(rows, lines, as_json, "no orders" + (f" in state {state}" if state else ""))


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


@click.command()
@click.argument("order")
@_SITE
@click.option("--json", "as_json", is_flag=True,
              help="The order and its history as one JSON document.")
@fail_cleanly
def show(order: str, site: str | None, as_json: bool) -> None:
    """One order's state and history: events, jobs, attempts and errors.

    ORDER is the Wix order id, or the order number `bridge orders` prints (#10042 or 10042)."""
    store = migrated_store()
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


@click.command()
@_listing(UpdateState, "updates")
@fail_cleanly
def statuses(state: str | None, limit: int, as_json: bool) -> None:
    """List status updates reported by the POS, newest first, and what became of them."""
    updates = migrated_store().list_status_updates(state, limit)
    lines = [f"{u.received_at}  #{u.id:<6} {u.state:<9} {u.status:<11} "
             f"pos={u.pos_order_id}  order={u.wix_order_id or '-'}"
             + (f"  note={u.note}" if u.note else "") for u in updates]
    emit([u.__dict__ for u in updates], lines, as_json,
          "no status updates" + (f" in state {state}" if state else ""))


@click.command("imports")
@_listing(ImportState, "imports")
@fail_cleanly
def list_imports(state: str | None, limit: int, as_json: bool) -> None:
    """Orders taken at the POS on their way into Wix, newest first, with why one failed."""
    rows = [{"id": i.id, "site": i.instance_id or None, "pos": i.pos_client,
             "pos_order_id": i.pos_order_id, "state": i.state, "wix_order_id": i.wix_order_id,
             "error": i.error, "updated_at": i.updated_at}
            for i in migrated_store().list_imports(state, limit)]
    lines = [f"{r['updated_at']}  #{r['id']:<6} {r['state']:<8}  pos={r['pos']}:{r['pos_order_id']}"
             f"  wix={r['wix_order_id'] or '-'}" + (f"  error={r['error']}" if r["error"] else "")
             for r in rows]
    emit(rows, lines, as_json, "no imports" + (f" in state {state}" if state else ""))


@click.command()
@click.argument("order_id", required=False)
@_SITE
@click.option("--job", "job_id", type=int, help="Replay one failed job by id (see `bridge show`).")
@click.option("--status", "status_id", type=int,
              help="Replay one failed status update by id (see `bridge statuses`).")
@click.option("--import", "import_id", type=int,
              help="Replay one failed import by id (see `bridge imports`).")
@fail_cleanly
def replay(order_id: str | None, site: str | None, job_id: int | None, status_id: int | None,
           import_id: int | None) -> None:
    """Send failed work again with fresh attempts: an order's, one job, one status update, or
    one import (an order taken at the POS)."""
    from bridge.service.replay import replay as replay_work
    if sum(x is not None for x in (order_id, job_id, status_id, import_id)) != 1:
        raise click.UsageError("give one of ORDER_ID, --job ID, --status ID or --import ID")
    store = migrated_store()
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


@click.command("reconcile")
@click.option("--site", help="Only this site (Wix app instance id); default: every installed one.")
@fail_cleanly
def reconcile_orders(site: str | None) -> None:
    """Search Wix now for orders whose webhooks never came, and ask the POS for the statuses
    its callbacks never told; take what the bridge missed."""
    from bridge.pos.base import PosError
    from bridge.pos.registry import NoPosForSite
    from bridge.service.reconcile import reconcile_pos_site, reconcile_site
    from bridge.wix.port import WixError
    bridge = wired(create=False)
    bridge.store.check_schema()
    if bridge.wix is None:
        raise ConfigError("reconciling needs Wix credentials: set WIX_APP_ID and WIX_APP_SECRET")
    sites = [site] if site else bridge.store.installed_instances()
    failed = False
    for instance_id in sites:
        try:
            done = reconcile_site(bridge.store, bridge.wix, instance_id)
            asked = reconcile_pos_site(bridge.store, bridge.pos, instance_id, 0,
                                       bridge.config.reconcile_max_age_hours * 3600)
        except (WixError, PosError, NoPosForSite) as error:
            click.echo(f"{instance_id}: {error}", err=True)
            failed = True
            continue
        click.echo(f"{instance_id}: {done.seen} order(s) in Wix since the last look, "
                   f"{done.taken} taken; {asked.seen} status(es) from the POS, "
                   f"{asked.taken} new")
    if not sites:
        click.echo("no installed sites")
    if failed:
        sys.exit(1)


@click.command()
@click.option("--dry-run", is_flag=True, help="Say what would be dropped; drop nothing.")
@fail_cleanly
def prune(dry_run: bool) -> None:
    """Drop what is kept past BRIDGE_KEEP_CUSTOMER_DAYS and BRIDGE_KEEP_HISTORY_DAYS."""
    from bridge.bootstrap import retention_policy
    from bridge.service.retention import prune as prune_store
    bridge = wired(create=False)
    bridge.store.check_schema()
    done = prune_store(bridge.store, retention_policy(bridge.config), dry_run=dry_run)
    verb = "would drop" if dry_run else "dropped"
    for kind, count in done.items():
        click.echo(f"{kind.replace('_', ' ')}: {verb} {count}")


@click.group()
def pos() -> None:
    """The POS clients installed here."""


@pos.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per client.")
def list_pos_clients(as_json: bool) -> None:
    """Installed POS clients (entry points in bridge.pos_clients) and the settings each reads."""
    try:
        chosen = load_config().pos_client
    except ConfigError:  # listing needs no working configuration
        chosen = None
    for client, settings in sorted(registry.declared_settings().items()):
        if as_json:
            click.echo(json.dumps({"name": client, "settings": None if settings is None else [
                {"name": s.name, "default": s.default, "help": s.help} for s in settings]}))
            continue
        mark = "  (POS_CLIENT)" if client == chosen else ""
        click.echo(f"{client}{mark}")
        if settings is None:
            click.echo("  (lists no settings)")
        for line in setting_lines(settings or ()):
            click.echo(line)


@click.command("send-sample")
@click.option("--url", default=None, help="The bridge's webhook URL "
                                          "(default http://127.0.0.1:$PORT/webhooks/wix).")
@click.option("--status", type=click.Choice(["APPROVED", "INITIALIZED"]), default="APPROVED",
              show_default=True, help="Order status in the order_created event.")
@fail_cleanly
def send_sample(url: str | None, status: str) -> None:
    """Sandbox only: post a signed sample restaurant order to a running bridge."""
    import requests
    from bridge.wix import sandbox
    config = configured()
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


COMMANDS = (list_orders, show, statuses, list_imports, replay, reconcile_orders, prune, pos,
            send_sample)
