"""What a site's owner needs to know at a glance, computed from what happened, never from what was
saved: is the POS answering, where each location's orders last went, how the menus last synced
(or why a sync waits), and how today's orders fared.

Nothing here calls the POS or Wix: every page shows it, so it reads the store only. It is never
green while the POS's circuit breaker is open, a location is unpaired, or the account is unusable.
"""
from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping, Protocol
from zoneinfo import ZoneInfo

from bridge.domain.lifecycle import OrderState
from bridge.service import jobs
from bridge.storage.port import (Account, AccountState, Breaker, BreakerState, Configuration,
                                 Job, OrderRecord, Sync, SyncState, iso)

RECENT_ORDERS = 200   # the orders read to find each location's latest

OK, WARN, BAD, IDLE = "ok", "warn", "bad", "idle"
_WORST = (BAD, WARN, IDLE, OK)


@dataclass(frozen=True)
class Signal:
    """One fact in the owner's words; `tone` colours it, `fix` names the page that fixes it
    ("account", "locations", "menus"). Times are ISO UTC, shown in the site's time zone:
    `at` is when it happened, said as `at_label`; `next_at` when the next try is."""
    tone: str
    text: str
    fix: str | None = None
    at: str | None = None
    at_label: str = "at"
    next_at: str | None = None


@dataclass(frozen=True)
class LocationStatus:
    configuration: Configuration
    pairing: Signal
    menu: Signal
    last_order_at: str | None
    last_answer_at: str | None


@dataclass(frozen=True)
class Today:
    sent: int
    waiting: int
    failed: int
    held: bool            # the waiting ones wait for the POS to answer again


@dataclass(frozen=True)
class SiteStatus:
    pos: Signal
    locations: tuple[LocationStatus, ...]
    today: Today

    @property
    def tone(self) -> str:
        tones = [self.pos.tone, *(line.pairing.tone for line in self.locations),
                 *(line.menu.tone for line in self.locations),
                 BAD if self.today.failed else OK]
        return next(tone for tone in _WORST if tone in tones)


class Reads(Protocol):
    """The store, as far as this reads it."""

    def account_for_instance(self, instance_id: str) -> Account | None: ...
    def breaker(self, destination: str) -> Breaker | None: ...
    def list_configurations(self, instance_id: str | None = None) -> list[Configuration]: ...
    def list_syncs(self, configuration_id: str | None = None, limit: int = 50) -> list[Sync]: ...
    def job_by_key(self, key: str) -> Job | None: ...
    def list_orders(self, state: str | None = None, limit: int = 50, *,
                    instance_id: str | None = None, direction: str | None = None
                    ) -> list[OrderRecord]: ...
    def count_orders(self, instance_id: str, created_since: str) -> dict[str, int]: ...


def site_status(store: Reads, site: str, *, served: Container[str], wix_connected: bool,
                time_zone: str | None, now: float) -> SiteStatus:
    """`served`: the sites the operator's own POS takes orders for (POS_SITES);
    `wix_connected`: the bridge has Wix credentials."""
    account = store.account_for_instance(site)
    breaker = holding(store, site)
    held = breaker is not None
    recent = store.list_orders(None, RECENT_ORDERS, instance_id=site)
    configurations = store.list_configurations(site)
    lines = tuple(_location(store, c, account, recent, len(configurations) == 1, wix_connected)
                  for c in configurations if not c.archived)
    answered = max((o.updated_at for o in recent if o.pos_order_id), default=None)
    return SiteStatus(pos=_pos(account, breaker, site in served, answered),
                      locations=lines, today=_today(store, site, time_zone, now, held))


def holding(store: Reads, site: str) -> Breaker | None:
    """The site's POS circuit breaker when it holds the site's orders back (open or probing),
    else None: the POS is taken to answer."""
    breaker = store.breaker(jobs.pos_destination(site))
    return breaker if breaker is not None and breaker.state != BreakerState.CLOSED else None


def _pos(account: Account | None, breaker: Breaker | None, served: bool,
         answered: str | None) -> Signal:
    if account is None and not served:
        return Signal(BAD, "No POS connected: orders wait until you connect one.", "account")
    if account is not None and account.status != AccountState.ACTIVE:
        return Signal(BAD, "Your POS account is disconnected: orders wait until you connect "
                           "one again.", "account")
    if account is not None and account.check_error:
        return Signal(BAD, f"Your POS account needs attention: {account.check_error}",
                      "account")
    if breaker is not None:
        return Signal(BAD, "Your POS is not answering. New orders wait and none is lost: they "
                           "go as soon as it answers.", at=breaker.opened_at, at_label="since",
                      next_at=iso(breaker.open_until) if breaker.open_until else None)
    if answered is None and (account is None or not account.merchant_id):
        return Signal(IDLE, "Connected, not contacted yet: your POS is first asked when an "
                            "order comes.")
    last = max(filter(None, [answered, account.checked_at if account and account.merchant_id
                             else None]))
    return Signal(OK, "Your POS is answering.", at=last, at_label="last answer")


def _location(store: Reads, configuration: Configuration, account: Account | None,
              recent: list[OrderRecord], only: bool, wix_connected: bool) -> LocationStatus:
    mine = [o for o in recent
            if only or (configuration.wix_location_id
                        and _location_of(o.snapshot) == configuration.wix_location_id)]
    return LocationStatus(
        configuration=configuration,
        pairing=_pairing(configuration, account),
        menu=_menu(store, configuration, wix_connected),
        last_order_at=max((o.created_at for o in mine), default=None),
        last_answer_at=max((o.updated_at for o in mine if o.pos_order_id), default=None))


def _pairing(configuration: Configuration, account: Account | None) -> Signal:
    if not configuration.enabled:
        return Signal(WARN, "Turned off in Wix: it takes no orders.")
    if configuration.error:
        return Signal(BAD, configuration.error, "locations")
    if account is not None and not configuration.pos_location_id:
        return Signal(BAD, "Not paired with a POS location: its orders cannot reach your "
                           "kitchen.", "locations")
    if account is not None and configuration.account_id not in (None, account.id):
        return Signal(BAD, "Paired under another POS account: pair it again.", "locations")
    if account is None:
        return Signal(OK, "Its orders go to the POS this app's provider connected.")
    return Signal(OK, f"Paired with your POS's location {configuration.pos_location_id}.")


def _menu(store: Reads, configuration: Configuration, wix_connected: bool) -> Signal:
    syncs = store.list_syncs(configuration.id, limit=1)
    if not syncs:
        return Signal(IDLE, "Menu never synced.", "menus")
    sync = syncs[0]
    if sync.status == SyncState.SYNCED:
        return Signal(OK, "Menu synced.", at=sync.ended_at)
    if sync.status == SyncState.FAILED:
        return Signal(BAD, f"The last menu sync failed: {sync.error or 'no reason given'}.",
                      "menus", at=sync.ended_at)
    if not wix_connected:
        return Signal(WARN, "A menu sync waits: this app cannot reach Wix yet. Its provider "
                            "has to finish setting it up.", at=sync.created_at,
                      at_label="asked at")
    job = store.job_by_key(jobs.sync_catalog(sync.id, configuration.instance_id,
                                             configuration.id).key)
    why = f" It waits: {_waits_for(job.last_error)}." if job is not None and job.last_error \
        else ""
    doing = "is running" if sync.status == SyncState.IN_PROGRESS else "is about to start"
    return Signal(WARN, f"A menu sync {doing}.{why}", at=sync.created_at, at_label="asked at")


def _waits_for(reason: str) -> str:
    """A job's reason to wait (the worker's words) as its owner reads it."""
    if "circuit breaker" in reason:
        return "Wix is not answering for now; it is tried again on its own"
    if "429" in reason or "Retry-After" in reason:
        return "Wix asked for a pause; it goes on by itself"
    if "POS account" in reason or "connect a POS" in reason:
        return "your POS account has to be connected and working first"
    return reason


def _today(store: Reads, site: str, time_zone: str | None, now: float, held: bool) -> Today:
    zone = ZoneInfo(time_zone or "UTC")
    midnight = datetime.fromtimestamp(now, zone).replace(hour=0, minute=0, second=0,
                                                         microsecond=0)
    counts = store.count_orders(site, iso(midnight.astimezone(timezone.utc).timestamp()))
    waiting = sum(counts.get(s.value, 0) for s in (OrderState.QUEUED, OrderState.CANCELING))
    return Today(sent=counts.get(OrderState.SENT.value, 0), waiting=waiting,
                 failed=counts.get(OrderState.FAILED.value, 0), held=held and waiting > 0)


def _location_of(snapshot: Mapping[str, Any]) -> str | None:
    """The Wix location an order was placed at: a Wix order's, or the POS form's."""
    if isinstance(snapshot.get("posOrder"), Mapping):
        return snapshot["posOrder"].get("locationId")
    return (snapshot.get("businessLocation") or {}).get("id")
