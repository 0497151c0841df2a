"""Sites and their POS accounts: who serves a site, whether its credentials work, and where its
orders go.

A site (Wix app instance) without an account is served by the environment's POS only when the
operator names it (POS_SITES). A site with one has its own POS client, built from the account's
owner settings and nothing else of the environment's but the operator's own settings of that
client (`registry.account_settings`); the credentials are sealed in the database
(`bridge.credentials`), opened only here. Location pairing and the configuration status Wix asks
for through the SPI are computed here too.
"""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Mapping

from bridge import logs, owner_urls
from bridge.credentials import Keyring, KeyringError
from bridge.domain.failures import Cause
from bridge.domain.orders import PosOrder
from bridge.pos import base, registry
from bridge.pos.base import PosConfigurationError, PosRejected, PosUnavailable
from bridge.pos.registry import PosAccount, PosClients, Site, account_key
from bridge.timeouts import DeadlineExceeded
from bridge.storage.port import Account, AccountState, Configuration, Store, epoch

log = logging.getLogger(__name__)

ITEM = "item"  # identifiers kind: a Wix catalog item id <-> the POS's item id

# "READY" needs a credentials check the POS answered within this long.
CHECK_FRESH_SECONDS = 24 * 3600


class AccountError(ValueError):
    """An account or configuration operation that cannot be done: the message says why."""


class NotRoutable(AccountError):
    """An order that cannot go to any POS location of its site; `cause` says why (a Cause)."""

    def __init__(self, message: str, cause: Cause):
        super().__init__(message)
        self.cause = cause


class SecretKeyMissing(AccountError):
    """Sealed credentials exist but BRIDGE_SECRET_KEY cannot open them."""


class ConfigurationStatus(StrEnum):
    """As the POS Integration SPI names them (Get Configuration Status)."""
    NOT_STARTED = "NOT_STARTED"   # the site has no account
    PENDING = "PENDING"           # an account, but the location is not paired or not authorised
    READY = "READY"               # paired, and the POS accepted the credentials recently
    ERROR = "ERROR"               # something failed: the reason is kept


@dataclass(frozen=True)
class StatusReport:
    status: ConfigurationStatus
    reason: str | None = None


class SiteAccounts:
    """The accounts the POS clients are built from (`registry.Accounts`), and their management."""

    def __init__(self, store: Store, keyring: Keyring | None, *,
                 allow_private_urls: bool = False):
        self.store = store
        self.keyring = keyring
        self.allow_private_urls = allow_private_urls
        # Opened credentials by sealed text: every job of a site, and every callback of a
        # client, reads its accounts; each sealed value is opened once (new credentials are a
        # new sealed text, so nothing here goes stale).
        self._opened: dict[str, dict[str, str]] = {}

    # -- what the POS clients read ---------------------------------------------------------

    def for_instance(self, instance_id: str) -> PosAccount | None:
        """The site's active account; else its last one, disconnected: a site that had its own
        POS never falls back to the environment's (another restaurant's, perhaps)."""
        every = self.store.list_accounts(instance_id)  # one query, for every job
        account = next((a for a in reversed(every) if a.status == AccountState.ACTIVE),
                       every[-1] if every else None)
        return self.pos_account(account) if account else None

    def for_client(self, client: str) -> list[PosAccount]:
        """Disconnected ones too: their POS may still report on orders it has."""
        return [self.pos_account(a) for a in self.store.list_accounts()
                if a.pos_client == client]

    def pos_account(self, account: Account) -> PosAccount:
        return PosAccount(account_key(account.pos_client, account.id), account.pos_client,
                          self.credentials(account), account.version, account.instance_id,
                          account.merchant_id, account.status == AccountState.ACTIVE)

    def credentials(self, account: Account) -> dict[str, str]:
        if not account.credentials:
            return {}
        if self.keyring is None:
            raise SecretKeyMissing(f"BRIDGE_SECRET_KEY is missing: account {account.id}'s POS "
                                   "credentials are encrypted with it")
        opened = self._opened.get(account.credentials)
        if opened is not None:
            return dict(opened)
        try:
            opened = self.keyring.open(account.credentials)
        except KeyringError as error:
            raise SecretKeyMissing(f"BRIDGE_SECRET_KEY is malformed: account {account.id}: "
                                   f"{error}") from None
        self._opened[account.credentials] = opened
        return dict(opened)

    def check_accounts(self, clients: PosClients) -> None:
        """At start-up: every sealed account opens with the configured keys, or one line says
        which does not. An account whose settings no longer build its client (one saved with a
        setting that is now the operator's) keeps the reason as its check error, for its owner
        to see; its orders wait until it is saved again."""
        for account in self.store.list_accounts():
            self.credentials(account)
            try:
                clients.of_account(self.pos_account(account))
            except PosConfigurationError as error:
                if account.check_error != str(error):
                    self.store.record_account_check(account.id, error=str(error))
                    logs.warning(log, "account_needs_attention", account=account.id,
                                 instance_id=account.instance_id, reason=str(error))

    # -- management (the CLI, and later the dashboard) -------------------------------------

    def save(self, instance_id: str, client: str, credentials: Mapping[str, str], *,
             account_id: str | None = None, clients: PosClients, by_owner: bool = False
             ) -> Account:
        """Add the site's account, or replace its credentials: the new ones apply to the next
        order, in every process, without a restart. The client is built from them first, so a
        missing or malformed setting is refused here, not at the first order. `by_owner`: the
        site's owner gave them (the dashboard), so a URL must lead to a public https address;
        the operator (the CLI) may give any."""
        _check_names(client, credentials)
        for problem in self.problems(client, credentials, by_owner=by_owner).values():
            raise AccountError(problem)
        existing = self.store.account_for_instance(instance_id)
        if account_id is None:
            account_id = existing.id if existing else "acc_" + secrets.token_hex(8)
        elif existing and existing.id != account_id:
            raise AccountError(f"site {instance_id} has account {existing.id} already: Wix "
                               "supports one account per site (disconnect it first)")
        other = self.store.get_account(account_id)
        if other and other.instance_id != instance_id:
            raise AccountError(f"account {account_id} belongs to site {other.instance_id}")
        if credentials and self.keyring is None:
            raise SecretKeyMissing("BRIDGE_SECRET_KEY is missing: POS credentials are stored "
                                   "encrypted with it (`bridge accounts new-key` makes one)")
        trial = PosAccount(account_key(client, account_id), client, dict(credentials), 0,
                           instance_id)
        try:
            clients.of_account(trial)
        except PosConfigurationError as error:
            raise AccountError(str(error)) from None
        sealed = self.keyring.seal(credentials) if credentials else None
        account = self.store.save_account(account_id, instance_id, client, sealed)
        logs.info(log, "account_saved", account=account.id, instance_id=instance_id, pos=client,
                  version=account.version, settings=",".join(sorted(credentials)))
        if existing is not None and existing.pos_client != client:
            self._unpair(instance_id, f"the site's POS changed from {existing.pos_client}")
        return account

    def _unpair(self, instance_id: str, why: str) -> None:
        """Its locations were paired with another POS's: those ids mean nothing to the new one,
        so each location waits to be paired again rather than send orders to nowhere."""
        for configuration in self.store.list_configurations(instance_id):
            if configuration.pos_location_id:
                self.store.pair_configuration(configuration.id, pos_location_id=None)
                logs.info(log, "configuration_unpaired", configuration=configuration.id,
                          instance_id=instance_id, was=configuration.pos_location_id, reason=why)

    def problems(self, client: str, credentials: Mapping[str, str], *, by_owner: bool
                 ) -> dict[str, str]:
        """Each given setting checked on its own, by its kind: {name: what is wrong}, every one
        at once (a form shows them all). What only building the client finds, `save` says."""
        found: dict[str, str] = {}
        for setting in registry.declared_settings().get(client) or ():
            value = credentials.get(setting.name)
            if not value:
                continue
            if setting.kind == "url" and by_owner:
                try:
                    owner_urls.check(value, allow_private=self.allow_private_urls)
                except owner_urls.NotPublic as error:
                    found[setting.name] = f"{setting.name} {error}"
            elif setting.kind == "number":
                try:
                    number = float(value)
                except ValueError:
                    number = -1.0
                if not number >= 0:
                    found[setting.name] = f"{setting.name} must be a number, 0 or more"
            elif setting.choices and value not in {v for v, _ in setting.choices}:
                found[setting.name] = (f"{setting.name} must be one of "
                                       f"{', '.join(v for v, _ in setting.choices)}")
        return found

    def check(self, account: Account, clients: PosClients) -> Account:
        """Ask the POS whether the credentials work, and keep its answer."""
        try:
            site = clients.of_account(self.pos_account(account))
            asked, merchant_id = base.check_credentials(site.client)
        except PosConfigurationError as error:
            self.store.record_account_check(account.id, error=str(error))
        except PosRejected as error:
            self.store.record_account_check(account.id, error=f"the POS refused the "
                                            f"credentials: {error}")
        except (PosUnavailable, DeadlineExceeded) as error:
            self.store.record_account_check(account.id, error=f"the POS did not answer the "
                                            f"credentials check: {error}")
        else:
            # Another site's account of the same POS account (a disconnected one too: the POS
            # may still report on it); the same site's earlier one is no one else's.
            taken = merchant_id and next(
                (a for a in self.store.list_accounts() if a.id != account.id
                 and a.instance_id != account.instance_id
                 and a.pos_client == account.pos_client and a.merchant_id == merchant_id), None)
            if taken:  # its callbacks could not be told apart: one merchant, one account
                self.store.record_account_check(account.id, error=(
                    f"the POS account ({merchant_id}) is connected to another site's account "
                    "already: a POS account serves one site"))
            else:
                self.store.record_account_check(account.id, error=None, merchant_id=merchant_id)
            if not asked:
                logs.info(log, "account_not_checkable", account=account.id, pos=account.pos_client,
                          note="this POS client has no credentials check: taken as authorised")
        checked = self.store.get_account(account.id)
        logs.info(log, "account_checked", account=account.id, authorized=checked.authorized,
                  error=checked.check_error)
        return checked

    def reseal(self) -> int:
        """Seal every account's credentials under the first key (after a key rotation)."""
        if self.keyring is None:
            raise SecretKeyMissing("BRIDGE_SECRET_KEY is missing")
        count = 0
        for account in self.store.list_accounts():
            if account.credentials:
                try:
                    sealed = self.keyring.reseal(account.credentials)
                except KeyringError as error:
                    raise SecretKeyMissing(f"account {account.id}: {error}") from None
                self.store.reseal_account(account.id, sealed)
                count += 1
        return count

    # -- locations -------------------------------------------------------------------------

    def check_due(self, account: Account, now: float) -> bool:
        """No credentials check the POS answered recently: one is due."""
        return account.check_error is not None or _age(account.checked_at, now) > \
            CHECK_FRESH_SECONDS / 2

    def route_to(self, order: PosOrder, configuration: Configuration) -> PosOrder:
        """The order bound for a paired configuration's POS location, its items' POS ids set."""
        if not configuration.pos_location_id:
            raise AccountError(f"configuration {configuration.id} is not paired with a POS "
                               "location")
        return _routed(order, configuration.pos_location_id,
                       self.store.identifiers(order.instance_id, ITEM))

    def route(self, site: Site, order: PosOrder) -> PosOrder:
        """The order with its POS location: a site with an account sends each order to the POS
        location its Wix location is paired with. Raises AccountError naming an unpaired one."""
        if site.account is None:
            return order
        if not site.account.active:
            raise NotRoutable(f"the site's POS account {site.account.key} is disconnected",
                              Cause.ACCOUNT)
        configuration = self.store.configuration_for_location(order.instance_id,
                                                              order.location_id)
        where = f"location {order.location_id}" if order.location_id else "the order's location"
        if configuration is None:
            raise NotRoutable(f"{where} is not paired with a POS location on this site",
                              Cause.NOT_PAIRED)
        name = f"{where} ({configuration.location_name})" if configuration.location_name else where
        if not configuration.pos_location_id:
            raise NotRoutable(f"{name} is not paired with a POS location (configuration "
                              f"{configuration.id})", Cause.NOT_PAIRED)
        if not configuration.enabled or configuration.archived:
            raise NotRoutable(f"{name} is disabled in Wix (configuration {configuration.id})",
                              Cause.LOCATION_DISABLED)
        return self.route_to(order, configuration)

    def status(self, instance_id: str, configuration: Configuration | None, now: float
               ) -> StatusReport:
        """The configuration status, computed from what is stored (never stored itself)."""
        account = self.store.account_for_instance(instance_id)
        if account is None:
            return StatusReport(ConfigurationStatus.NOT_STARTED, "the site has no POS account")
        if configuration is not None and configuration.error:
            return StatusReport(ConfigurationStatus.ERROR, configuration.error)
        if account.check_error:
            return StatusReport(ConfigurationStatus.ERROR, account.check_error)
        if not account.authorized:
            return StatusReport(ConfigurationStatus.PENDING,
                                "the POS has not confirmed the account's credentials")
        if configuration is None or not configuration.pos_location_id:
            return StatusReport(ConfigurationStatus.PENDING,
                                "the location is not paired with a POS location")
        if _age(account.checked_at, now) > CHECK_FRESH_SECONDS:
            return StatusReport(ConfigurationStatus.PENDING,
                                "the credentials were not checked in the last 24 hours")
        return StatusReport(ConfigurationStatus.READY)


def _routed(order: PosOrder, pos_location_id: str, items: Mapping[str, str]) -> PosOrder:
    return replace(order, pos_location_id=pos_location_id, items=tuple(
        replace(item, pos_item_id=items.get(item.catalog_item_id or "") or item.pos_item_id)
        for item in order.items))


def _age(at: str | None, now: float) -> float:
    return now - epoch(at) if at else float("inf")


def _check_names(client: str, credentials: Mapping[str, str]) -> None:
    prefix = f"POS_{client.upper()}_"
    for name in credentials:
        if not name.startswith(prefix):
            raise AccountError(f"{name} is not a setting of the {client} client (they are "
                               f"named {prefix}...)")
