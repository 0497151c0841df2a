"""`bridge accounts ...` and `bridge configurations ...`: each site's POS account and location
pairing, until the owner dashboard manages them. Credentials are given by `--set NAME=VALUE` or,
to keep them out of shell history, `--settings-file` (dotenv lines; `-` reads standard input).
No command prints a credential: listings name the settings an account has, never their values.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
import time
from typing import Any

import click

from bridge.cli.common import configured, emit, fail_cleanly, migrated_store, wired
from bridge.credentials import new_key
from bridge.pos import base
from bridge.pos.base import PosError
from bridge.service import configurations as wix_configurations
from bridge.service.accounts import AccountError, SiteAccounts
from bridge.storage.port import Account, Configuration, Store
from bridge.wix.port import WixError


def _fail(message: str, code: int = 1):
    click.echo(f"bridge: {message}", err=True)
    sys.exit(code)


def _settings(pairs: tuple[str, ...], settings_file: str | None) -> dict[str, str]:
    values: dict[str, str] = {}
    if settings_file:
        from io import StringIO

        from dotenv import dotenv_values
        text = sys.stdin.read() if settings_file == "-" else Path(settings_file).read_text()
        values.update({k: v for k, v in dotenv_values(stream=StringIO(text)).items() if v})
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            _fail(f"--set {name.strip() or pair!r}: give NAME=VALUE", 2)
        values[name.strip()] = value
    return values


def _account_row(account: Account, accounts: SiteAccounts | None = None) -> dict[str, Any]:
    settings = None
    if accounts is not None and accounts.keyring is not None:
        try:
            settings = sorted(accounts.credentials(account))
        except AccountError:
            settings = None
    return {"id": account.id, "site": account.instance_id, "pos": account.pos_client,
            "status": account.status, "authorized": account.authorized,
            "merchant_id": account.merchant_id, "checked_at": account.checked_at,
            "check_error": account.check_error, "version": account.version,
            "settings": settings, "updated_at": account.updated_at}


def _account_line(row: dict[str, Any]) -> str:
    state = "authorised" if row["authorized"] else "not authorised"
    return (f"{row['id']}  site={row['site']}  pos={row['pos']}  {row['status']}, {state}"
            + (f"  merchant={row['merchant_id']}" if row["merchant_id"] else "")
            + (f"  settings={','.join(row['settings'])}" if row["settings"] else "")
            + (f"  error={row['check_error']}" if row["check_error"] else ""))


def _show_account(row: dict[str, Any], as_json: bool) -> None:
    click.echo(json.dumps(row) if as_json else _account_line(row))


@click.group()
def accounts() -> None:
    """Each site's account with its POS (credentials stored encrypted)."""


@accounts.command("new-key")
def new_secret_key() -> None:
    """Print a new key for BRIDGE_SECRET_KEY."""
    click.echo(new_key())


@accounts.command("list")
@click.option("--site", help="Only this site's (Wix app instance id).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@fail_cleanly
def list_accounts(site: str | None, as_json: bool) -> None:
    """Accounts, with whether the POS accepted their credentials and which settings they hold."""
    bridge = wired(create=False)
    bridge.store.check_schema()
    rows = [_account_row(a, bridge.accounts) for a in bridge.store.list_accounts(site)]
    emit(rows, [_account_line(r) for r in rows], as_json, "no accounts")


@accounts.command("add")
@click.argument("site")
@click.option("--pos", "client", required=True, help="The POS client (`bridge pos list`).")
@click.option("--account-id", help="The account id Wix will know (default: a new one, or the "
                                   "site's current account).")
@click.option("--set", "pairs", multiple=True, metavar="NAME=VALUE",
              help="A setting of the client, e.g. POS_WEBHOOK_URL=https://...; repeatable.")
@click.option("--settings-file", type=click.Path(allow_dash=True),
              help="Settings as dotenv lines; - reads standard input.")
@click.option("--no-check", is_flag=True, help="Do not ask the POS whether the credentials work.")
@click.option("--json", "as_json", is_flag=True, help="The account as a JSON object.")
@fail_cleanly
def add_account(site: str, client: str, account_id: str | None, pairs: tuple[str, ...],
                settings_file: str | None, no_check: bool, as_json: bool) -> None:
    """Give SITE its own POS account, or new credentials for the one it has (applied to the
    next order, in every process, without a restart)."""
    bridge = wired(create=False)
    bridge.check()
    try:
        account = bridge.accounts.save(site, client, _settings(pairs, settings_file),
                                       account_id=account_id, clients=bridge.pos)
    except (AccountError, LookupError) as error:
        _fail(str(error), 2)
    if not no_check:
        account = bridge.accounts.check(account, bridge.pos)
    _show_account(_account_row(account, bridge.accounts), as_json)


@accounts.command("check")
@click.argument("account_id")
@click.option("--json", "as_json", is_flag=True, help="The account as a JSON object.")
@fail_cleanly
def check_account(account_id: str, as_json: bool) -> None:
    """Ask the POS whether the account's credentials work, and keep its answer."""
    bridge = wired(create=False)
    bridge.check()
    account = _account(bridge.store, account_id)
    account = bridge.accounts.check(account, bridge.pos)
    _show_account(_account_row(account, bridge.accounts), as_json)
    if account.check_error:
        sys.exit(1)


@accounts.command("locations")
@click.argument("account_id")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@fail_cleanly
def pos_locations(account_id: str, as_json: bool) -> None:
    """The POS's locations for the account, to pair with (when its client can list them)."""
    bridge = wired(create=False)
    bridge.check()
    site = bridge.pos.of_account(bridge.accounts.pos_account(_account(bridge.store, account_id)))
    try:
        found = base.list_locations(site.client)
    except PosError as error:
        _fail(f"the POS did not list its locations: {error}")
    if found is None:
        _fail(f"the {site.account.client} client cannot list POS locations: pair with the id "
              "the POS shows")
    rows = [{"id": loc.id, "name": loc.name} for loc in found]
    emit(rows, [f"{r['id']}  {r['name'] or ''}" for r in rows], as_json, "no locations")


@accounts.command("disconnect")
@click.argument("account_id")
@fail_cleanly
def disconnect_account(account_id: str) -> None:
    """Disconnect the account: Wix is told, and no more orders go to it."""
    bridge = wired(create=False)
    bridge.store.check_schema()
    _account(bridge.store, account_id)
    _disconnect(bridge, f"account {account_id}",
                lambda: wix_configurations.disconnect_account(bridge.store, bridge.wix,
                                                              account_id))


def _disconnect(bridge, what: str, disconnect) -> None:
    """Wix is told first: when it refuses, nothing changed."""
    try:
        disconnect()
    except WixError as error:
        _fail(f"Wix refused the disconnection, nothing changed: {error}")
    click.echo(f"{what} disconnected"
               + ("" if bridge.wix else " (no Wix credentials: Wix was not told)"))


@accounts.command("reseal")
@fail_cleanly
def reseal() -> None:
    """Encrypt every account's credentials with the first key of BRIDGE_SECRET_KEY (after
    putting a new key first); then the old key can be removed."""
    bridge = wired(create=False)
    bridge.check()
    click.echo(f"{bridge.accounts.reseal()} account(s) resealed")


def _account(store: Store, account_id: str) -> Account:
    account = store.get_account(account_id)
    if account is None:
        _fail(f"no account {account_id!r} (`bridge accounts list`)")
    return account


# -- configurations ---------------------------------------------------------------------------

def _configuration(store: Store, configuration_id: str) -> Configuration:
    configuration = store.get_configuration(configuration_id)
    if configuration is None:
        _fail(f"no configuration {configuration_id!r} (`bridge configurations list`)")
    return configuration


def _configuration_row(configuration: Configuration, accounts: SiteAccounts) -> dict[str, Any]:
    report = accounts.status(configuration.instance_id, configuration, time.time())
    return {"id": configuration.id, "site": configuration.instance_id,
            "account_id": configuration.account_id, "location_name": configuration.location_name,
            "wix_location_id": configuration.wix_location_id,
            "pos_location_id": configuration.pos_location_id,
            "enabled": configuration.enabled, "archived": configuration.archived,
            "catalog_id": configuration.catalog_id, "status": report.status.value,
            "reason": report.reason,
            "sync_menus": list(configuration.sync_menus) if configuration.sync_menus is not None
            else None, "updated_at": configuration.updated_at}


def _configuration_line(row: dict[str, Any]) -> str:
    return (f"{row['id']}  site={row['site']}  {row['location_name'] or '-'}"
            f"  wix_location={row['wix_location_id'] or '-'}"
            f"  pos_location={row['pos_location_id'] or '-'}  {row['status']}"
            + (f" ({row['reason']})" if row["reason"] else "")
            + ("" if row["enabled"] else "  disabled") + ("  archived" if row["archived"] else ""))


@click.group()
def configurations() -> None:
    """Each site's Wix location configurations and the POS location each is paired with."""


@configurations.command("list")
@click.option("--site", help="Only this site's (Wix app instance id).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@fail_cleanly
def list_configurations(site: str | None, as_json: bool) -> None:
    """Configurations, their pairing, and the status Wix is told."""
    store = migrated_store()
    accounts = SiteAccounts(store, None)
    rows = [_configuration_row(c, accounts) for c in store.list_configurations(site)]
    emit(rows, [_configuration_line(r) for r in rows], as_json, "no configurations")


@configurations.command("refresh")
@click.argument("site")
@fail_cleanly
def refresh_configurations(site: str) -> None:
    """List SITE's configurations from Wix again and store them (pairings are kept)."""
    bridge = wired(create=False)
    bridge.store.check_schema()
    if bridge.wix is None:
        _fail("WIX_APP_ID and WIX_APP_SECRET are needed to ask Wix", 2)
    try:
        listed = wix_configurations.refresh(bridge.store, bridge.wix, site)
    except WixError as error:
        _fail(f"Wix did not list the configurations: {error}")
    for configuration in listed:
        click.echo(_configuration_line(_configuration_row(configuration, bridge.accounts)))
    if not listed:
        click.echo("Wix lists no configurations for this site")


@configurations.command("add")
@click.argument("configuration_id")
@click.option("--site", required=True, help="The Wix app instance id it belongs to.")
@click.option("--name", help="The location's name, for listings.")
@fail_cleanly
def add_configuration(configuration_id: str, site: str, name: str | None) -> None:
    """Store a configuration by hand (Wix's id for it), when it cannot be listed from Wix."""
    store = migrated_store()
    account = store.account_for_instance(site)
    existing = store.get_configuration(configuration_id)
    if existing is not None and existing.instance_id != site:
        _fail(f"configuration {configuration_id} belongs to site {existing.instance_id}", 2)
    configuration = store.save_configuration(configuration_id, site, location_name=name,
                                             account_id=account.id if account else None)
    click.echo(_configuration_line(_configuration_row(configuration, SiteAccounts(store, None))))


@configurations.command("pair")
@click.argument("configuration_id")
@click.option("--pos-location", required=True, help="The POS's id for the location.")
@click.option("--wix-location", help="The Wix business location id its orders carry "
                                     "(needed when the site has more than one location).")
@fail_cleanly
def pair(configuration_id: str, pos_location: str, wix_location: str | None) -> None:
    """Send the orders of a Wix location to a POS location (from the next order on)."""
    store = migrated_store()
    _configuration(store, configuration_id)
    configuration = store.pair_configuration(configuration_id, pos_location_id=pos_location,
                                             wix_location_id=wix_location)
    click.echo(_configuration_line(_configuration_row(configuration, SiteAccounts(store, None))))


@configurations.command("unpair")
@click.argument("configuration_id")
@fail_cleanly
def unpair(configuration_id: str) -> None:
    """Stop sending the location's orders anywhere: they fail, naming the location."""
    store = migrated_store()
    _configuration(store, configuration_id)
    store.pair_configuration(configuration_id, pos_location_id=None)
    click.echo(f"configuration {configuration_id} unpaired")


@configurations.command("disconnect")
@click.argument("configuration_id")
@fail_cleanly
def disconnect_configuration(configuration_id: str) -> None:
    """Disconnect the configuration: Wix is told, and the location is unpaired."""
    bridge = wired(create=False)
    bridge.store.check_schema()
    configuration = _configuration(bridge.store, configuration_id)
    _disconnect(bridge, f"configuration {configuration_id}",
                lambda: wix_configurations.disconnect_configuration(bridge.store, bridge.wix,
                                                                    configuration))


@configurations.command("menus")
@click.argument("configuration_id")
@click.argument("menu_ids", nargs=-1)
@click.option("--all", "every", is_flag=True, help="Sync every menu of the POS, new ones too.")
@fail_cleanly
def choose_menus(configuration_id: str, menu_ids: tuple[str, ...], every: bool) -> None:
    """Which of the POS's menus the location syncs: without MENU_IDS (or --all), the POS's
    menus, marked * where chosen. A menu left out is hidden on the site at the next sync."""
    from bridge.service import catalog
    bridge = wired(create=False)
    bridge.check()
    configuration = _configuration(bridge.store, configuration_id)
    if every and menu_ids:
        _fail("give menu ids or --all, not both", 2)
    if every or menu_ids:
        bridge.store.choose_sync_menus(configuration_id, None if every else list(menu_ids))
        click.echo(f"configuration {configuration_id} syncs "
                   + ("every menu" if every else ", ".join(sorted(set(menu_ids)))))
        return
    try:
        offered = catalog.pos_menus(bridge.pos, configuration)
    except catalog.MenusUnavailable as error:
        _fail(str(error))
    chosen = configuration.sync_menus
    for menu in offered:
        mark = "*" if chosen is None or menu.pos_id in chosen else " "
        click.echo(f"{mark} {menu.pos_id}  {menu.name}")
    click.echo("(every menu syncs)" if chosen is None else "(* chosen)")


# -- catalog syncs ---------------------------------------------------------------------------

def _sync_row(sync) -> dict[str, Any]:
    return {"id": sync.id, "site": sync.instance_id, "configuration_id": sync.configuration_id,
            "status": sync.status, "started_at": sync.started_at, "ended_at": sync.ended_at,
            "error": sync.error, "error_code": sync.error_code, "counts": sync.counts,
            "created_at": sync.created_at}


def _sync_line(row: dict[str, Any]) -> str:
    counts = ", ".join(f"{k} {v}" for k, v in sorted(row["counts"].items()) if v)
    return (f"#{row['id']}  {row['configuration_id']}  {row['status']:<11}"
            f"  {row['ended_at'] or row['started_at'] or row['created_at']}"
            + (f"  {counts}" if counts else "")
            + (f"  {row['error_code']}: {row['error']}" if row["error"] else ""))


@click.command("sync")
@click.argument("configuration_id")
@click.option("--confirm", is_flag=True,
              help="The owner agrees that the first sync hides the menus already on the site "
                   "for this location (needed once per configuration).")
@fail_cleanly
def sync(configuration_id: str, confirm: bool) -> None:
    """Write the POS's menu for a configuration to Wix (queued: a worker does it)."""
    from bridge.service import catalog
    store = migrated_store()
    configuration = _configuration(store, configuration_id)
    if confirm:
        catalog.confirm(store, configuration)
        configuration = store.get_configuration(configuration_id)
    try:
        queued, new = catalog.start(store, configuration)
    except catalog.SyncRefused as error:
        _fail(str(error), 2)
    click.echo(f"sync #{queued.id} of {configuration_id} "
               + ("queued" if new else f"is already {queued.status}: not queued again"))


@click.command("syncs")
@click.option("--configuration", "configuration_id", help="Only this configuration's.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000),
              help="At most this many, newest first.")
@click.option("--log", "log_of", type=int, help="Every change one sync made, by its number.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@fail_cleanly
def syncs(configuration_id: str | None, limit: int, log_of: int | None, as_json: bool) -> None:
    """Catalog syncs with their status and counts, or (--log N) what one of them changed."""
    store = migrated_store()
    if log_of is not None:
        if store.get_sync(log_of) is None:
            _fail(f"no sync #{log_of}")
        rows = store.sync_log(log_of)
        lines = [f"{r['at']}  {r['action']:<11} {r['kind'] or '-':<15} pos={r['pos_id'] or '-'}"
                 f"  wix={r['wix_id'] or '-'}" + (f"  {r['note']}" if r["note"] else "")
                 for r in rows]
        emit(rows, lines, as_json, "it changed nothing")
        return
    rows = [_sync_row(s) for s in store.list_syncs(configuration_id, limit)]
    emit(rows, [_sync_line(r) for r in rows], as_json, "no syncs")


# -- the original Restaurants app's POS webhook -----------------------------------------------

@click.command("legacy-url")
@click.argument("site")
@click.option("--currency", default="USD", show_default=True,
              help="The restaurant's currency (the original app's orders do not say it).")
@click.option("--base-url", help="Where the bridge is reached from the internet (default: "
                                 "BRIDGE_PUBLIC_URL).")
@fail_cleanly
def legacy_url(site: str, currency: str, base_url: str | None) -> None:
    """Give SITE a new URL for the original Wix Restaurants POS webhook, printed once: it is a
    secret (the protocol has no other), and the site's previous URL stops working."""
    from bridge.service import legacy
    if not (len(currency) == 3 and currency.isalpha()):
        _fail(f"--currency {currency!r} is not a 3-letter ISO 4217 code", 2)
    base_url = base_url or configured().public_url or "https://<your bridge>"
    token = legacy.new_token(migrated_store(), site, currency)
    click.echo(f"{base_url.rstrip('/')}/legacy/{token}/orders")


@click.command("notify-email")
@click.argument("site")
@click.argument("email", required=False)
@click.option("--off", is_flag=True, help="Send the site's owner no more notifications.")
@fail_cleanly
def notify_email(site: str, email: str | None, off: bool) -> None:
    """Where SITE's owner is told what needs them (failed orders and syncs, a POS not
    answering); without EMAIL, the address set now."""
    store = migrated_store()
    if email is None and not off:
        click.echo(store.notify_email(site) or "none")
        return
    if email is not None and ("@" not in email or any(c.isspace() for c in email)):
        _fail(f"{email!r} is not an email address", 2)
    from bridge.service.notifications import set_address
    waiting = set_address(store, site, None if off else email)
    click.echo(f"site {site}: notifications " + ("off" if off else f"to {email}")
               + (f" ({waiting} untold incident(s) will be sent)" if waiting else ""))


COMMANDS = (accounts, configurations, sync, syncs, legacy_url, notify_email)
