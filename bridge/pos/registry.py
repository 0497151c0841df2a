"""Find POS clients by entry point name and build one per site: from its own account, or the
environment's POS for a site the operator lets it serve.

Two kinds of settings, never merged: the operator's (the environment) and a site's account (that
restaurant's credentials). A client's `settings` mark the ones an owner sets (`owner=True`); an
account's client gets exactly those from the account, and only the others from the environment.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Callable, Mapping, Protocol

from bridge.config import ServedSites, Setting
from bridge.domain.statuses import StatusChange
from bridge.pos.base import PosClient, PosConfig, PosConfigurationError

GROUP = "bridge.pos_clients"

Factory = Callable[[PosConfig], PosClient]


class UnknownPosClient(LookupError):
    pass


class NoPosForSite(LookupError):
    """The site has no POS account, and the environment's POS does not serve it (POS_SITES):
    its orders wait for its owner to connect one."""


def available() -> dict[str, Factory]:
    """Every installed POS client factory, by name (loaded lazily by `load`)."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}  # type: ignore[misc]


def declared_settings() -> dict[str, tuple[Setting, ...] | None]:
    """Each installed client's settings, by name, as its class lists them in `settings`
    (None when it lists none). Loads every client's module."""
    declared: dict[str, tuple[Setting, ...] | None] = {}
    for name, entry in available().items():
        try:
            factory = entry.load()  # type: ignore[attr-defined]
        except Exception:  # a broken plug-in is reported when it is chosen, not here
            declared[name] = None
            continue
        listed = getattr(getattr(factory, "__self__", factory), "settings", None)
        declared[name] = tuple(listed) if listed is not None else None
    return declared


def owner_settings(factory: Factory) -> frozenset[str] | None:
    """The names of the settings a site's account may set, as the client declares them; None
    for a client that declares no settings (an account then sets all of them, and is lent
    none of the environment's)."""
    listed = getattr(getattr(factory, "__self__", factory), "settings", None)
    if listed is None:
        return None
    return frozenset(s.name for s in listed if getattr(s, "owner", False))


def account_settings(client: str, factory: Factory, operator: Mapping[str, str],
                     account: Mapping[str, str]) -> dict[str, str]:
    """What an account's client is built from: the account's owner settings, and the operator's
    values of the client's other settings (never of an owner one: an empty token stays empty).
    Raises PosConfigurationError for a setting the account holds that is not the owner's (an
    account saved before the settings were split keeps working once it is saved without it)."""
    owned = owner_settings(factory)
    if owned is None:
        return dict(account)
    for name in sorted(account):
        if name not in owned:
            raise PosConfigurationError(
                f"{name} is the operator's setting, not an account's: the account must be saved "
                "again without it")
    prefix = f"POS_{client.upper()}_"
    lent = {k: v for k, v in operator.items() if k.startswith(prefix) and k not in owned}
    return {**lent, **account}


def load(name: str) -> Factory:
    found = available()
    if name not in found:
        raise UnknownPosClient(f"no POS client {name!r} in entry point group {GROUP} "
                               f"(installed: {', '.join(sorted(found)) or 'none'})")
    return found[name].load()  # type: ignore[attr-defined]


@dataclass(frozen=True)
class PosAccount:
    """A site's own account with its POS: which client, and the owner settings its credentials
    give. `key` names this POS wherever its orders and reports are stored,
    so two accounts of one client never mix their order ids; `version` changes with them."""
    key: str
    client: str
    settings: Mapping[str, str]
    version: int
    instance_id: str | None = None
    merchant_id: str | None = None   # the POS's own id for the account, once it said
    active: bool = True              # False: disconnected; the site's orders go nowhere

    @property
    def account_id(self) -> str:
        """The stored account's id (see `account_key`)."""
        return self.key.split("@", 1)[1]


class Accounts(Protocol):
    def for_instance(self, instance_id: str) -> PosAccount | None:
        """The site's account, or None: the site uses the environment's POS."""

    def for_client(self, client: str) -> list[PosAccount]:
        """Every account of a client, disconnected ones too (a callback may be about any of
        them: a disconnected POS still reports on the orders it has)."""


@dataclass(frozen=True)
class Site:
    """The POS a site's orders go to, and the key they are stored under."""
    key: str
    client: PosClient
    account: PosAccount | None = None


Record = Callable[[str, list[StatusChange]], None]
# (the POS's key, the site when known, orders it took itself) -> stored
RecordOrders = Callable[[str, "str | None", list], None]


class PosClients:
    """The POS client for each site, built on first use: from the site's account when it has
    one (rebuilt when its credentials change), from the environment's settings otherwise.

    `name` is the environment's client (POS_CLIENT), serving the sites in `serves` (none unless
    told); `record(key, changes)` stores status changes
    a client learns by itself (its `report`), under the key of the POS that learned them.
    """

    def __init__(self, name: str, factory: Factory, settings: Mapping[str, str],
                 record: Record | None = None, *, accounts: Accounts | None = None,
                 load_client: Callable[[str], Factory] | None = None,
                 record_orders: RecordOrders | None = None,
                 serves: ServedSites = ServedSites()):
        self.name = name
        self.serves = serves
        self._factory = factory
        self._settings = dict(settings)
        self._record = record
        self._record_orders = record_orders
        self._accounts = accounts
        self._load = load_client or load
        self._built: dict[tuple, PosClient] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, name: str, settings: Mapping[str, str], record: Record | None = None,
                      *, accounts: Accounts | None = None,
                      record_orders: RecordOrders | None = None,
                      serves: ServedSites = ServedSites()) -> "PosClients":
        return cls(name, load(name), settings, record, accounts=accounts,
                   record_orders=record_orders, serves=serves)

    def site(self, instance_id: str | None) -> Site:
        """The site's own account's POS; else the environment's, if it serves the site; else
        NoPosForSite. `None` names the environment's POS itself (its callbacks)."""
        account = (self._accounts.for_instance(instance_id)
                   if self._accounts is not None and instance_id else None)
        if account is not None:
            return self.of_account(account)
        if instance_id is not None and instance_id not in self.serves:
            raise NoPosForSite(f"waiting for the site's owner to connect a POS (site "
                               f"{instance_id} has no POS account, and the environment's POS "
                               "serves only the sites in POS_SITES)")
        return self._environment(instance_id)

    def _environment(self, instance_id: str | None) -> Site:
        return Site(self.name, self._build(("env", instance_id), self._factory, instance_id,
                                           self._settings, self.name))

    def holding(self, key: str, instance_id: str) -> Site:
        """The POS stored as `key` for one of the site's orders or imports: the environment's
        while it serves the site, or the site's own account of that key (a disconnected one
        too: it still has the order). Never another site's account."""
        if key == self.name and instance_id in self.serves:
            return self._environment(instance_id)
        accounts = self._accounts.for_client(key.partition("@")[0]) if self._accounts else []
        for account in accounts:
            if account.key == key and account.instance_id == instance_id:
                return self.of_account(account)
        raise NoPosForSite(f"the POS {key} that has this order does not serve site "
                           f"{instance_id} any more")

    def of_account(self, account: PosAccount) -> Site:
        factory = self._factory if account.client == self.name else self._load(account.client)
        settings = account_settings(account.client, factory, self._settings, account.settings)
        client = self._build(("account", account.key, account.version), factory,
                             account.instance_id, settings, account.key)
        return Site(account.key, client, account)

    def for_instance(self, instance_id: str | None) -> PosClient:
        return self.site(instance_id).client

    def for_callback(self, client: str) -> list[Site]:
        """The POSes a callback to `/pos/<client>/events` may come from: the sites' own
        accounts first (each has its own secret), then the environment's."""
        sites = []
        if self._accounts is not None:
            sites += [self.of_account(a) for a in self._accounts.for_client(client)]
        return sites + ([self.site(None)] if client == self.name else [])

    def _build(self, stamp: tuple, factory: Factory, instance_id: str | None,
               settings: Mapping[str, str], key: str) -> PosClient:
        with self._lock:
            client = self._built.get(stamp)
            if client is None:
                report = report_orders = None
                if self._record is not None:
                    record = self._record
                    report = lambda changes: record(key, changes)  # noqa: E731
                if self._record_orders is not None:
                    record_orders = self._record_orders
                    report_orders = (  # noqa: E731
                        lambda reports: record_orders(key, instance_id, reports))
                client = factory(PosConfig(instance_id, settings, report, report_orders))
                if stamp[0] == "account":  # one client per account: drop older versions'
                    for old in [s for s in self._built if s[:2] == stamp[:2]]:
                        del self._built[old]
                self._built[stamp] = client
            return client

    def check(self) -> None:
        """Build a client once so a misconfigured POS stops start-up, not the first order."""
        self._factory(PosConfig(None, self._settings))


def account_key(client: str, account_id: str) -> str:
    return f"{client}@{account_id}"
