"""A POS callback (a status change, or an order taken at the POS): whose it is, and stored.

A callback belongs to one site's POS, found by the key that verifies it (see `_attributed`), and
is stored under that POS's key, so it can only ever move that site's orders. The Wix call, or
the import, happens in the worker.
"""
from __future__ import annotations

import logging
from typing import Mapping

from bridge import logs
from bridge.domain.imports import PosOrderCreated
from bridge.domain.statuses import StatusChange
from bridge.pos.base import AccessRevoked, CallbackRejected
from bridge.pos.registry import PosAccount, PosClients, Site
from bridge.service import imports, incidents
from bridge.service.statuses import record_changes
from bridge.storage.port import AccountState, Store, epoch

log = logging.getLogger(__name__)


class NoSuchClient(LookupError):
    """No POS client of that name is configured here."""


def receive(store: Store, pos: PosClients, client: str, headers: Mapping[str, str],
            body: bytes) -> int:
    """Verify, attribute and store a callback to `client`: how many changes and imports were
    stored (0: repeats, or nothing to keep). Raises NoSuchClient, or CallbackRejected (its
    `status`: 401 the signature, 400 malformed)."""
    sites = pos.for_callback(client)
    if not sites:
        raise NoSuchClient(f"no POS client {client!r} is configured here")
    site, changes = _attributed(client, sites, headers, body)
    statuses = [c for c in changes if isinstance(c, StatusChange)]
    if site is None:  # verified, but about a merchant no account here has: kept, never applied
        merchants = sorted({c.merchant_id for c in changes if c.merchant_id})
        logs.warning(log, "callback_unclaimed", pos=client, merchant=",".join(merchants),
                     changes=len(changes))
        return len(record_changes(store, unclaimed_key(client), statuses))
    revocations = [c for c in changes if isinstance(c, AccessRevoked)]
    if revocations and site.account is not None:
        _access_revoked(store, site.account, revocations[-1])
    created = [c for c in changes if isinstance(c, PosOrderCreated)] + _never_seen(
        store, site, statuses)
    stored = len(record_changes(store, site.key, statuses)) + len(revocations)
    if created:
        stored += len(imports.record(store, site.key,
                                     site.account.instance_id if site.account else None,
                                     created, served=pos.serves))
    return stored


def _access_revoked(store: Store, account: PosAccount, report: AccessRevoked) -> None:
    """The seller took the app's access away at their POS: the account cannot be used any
    more. It is disconnected, says why where its owner looks, and the owner is told."""
    stored = store.get_account(account.account_id)
    if stored is None or (report.revoked_at and _later(stored.updated_at, report.revoked_at)):
        logs.info(log, "pos_access_revoked_before", account=account.account_id,
                  revoked_at=report.revoked_at, note="connected again since: nothing to undo")
        return
    by = f" by the {report.revoked_by.lower()}" if report.revoked_by else ""
    when = f" on {report.revoked_at[:10]}" if report.revoked_at else ""
    why = f"this app's access to your POS account was revoked{by}{when}: connect again"
    with store.transaction():
        store.record_account_check(account.account_id, error=why)
        store.set_account_status(account.account_id, AccountState.DISCONNECTED)
    incidents.incident(store, account.instance_id, incidents.IncidentKind.POS_UNREACHABLE,
                       f"revoked:{account.account_id}:{report.callback_id or report.revoked_at}",
                       "Your POS account is no longer connected", why)
    logs.warning(log, "pos_access_revoked", account=account.account_id,
                 instance_id=account.instance_id, by=report.revoked_by)


def _later(at: str, than: str) -> bool:
    try:
        return epoch(at) > epoch(than)
    except ValueError:
        return False


def unclaimed_key(client: str) -> str:
    """Where reports no account claims are kept: under no POS's key, so they match no order."""
    return f"{client}#unclaimed"


def _attributed(client: str, sites: list[Site], headers: Mapping[str, str], body: bytes
                ) -> tuple[Site | None, list[StatusChange | PosOrderCreated]]:
    """The POS a callback belongs to, and what it says. A callback belongs to the account whose
    own key verifies it; where one app-level key signs every seller's events (Square: the
    operator's signature key, so every account of the client verifies alike), to the one
    account of the merchant the event names, else to the environment's POS of that client,
    else to none (None: kept as unclaimed). A key that verifies for several accounts, with no
    merchant to tell them apart, is refused. A refusal other than the signature's (a malformed
    body) is final."""
    verified: list[tuple[Site, list]] = []
    refusal = None
    for site in sites:
        try:
            verified.append((site, site.client.parse_callback(headers, body)))
        except CallbackRejected as error:
            if error.status != 401:
                raise
            refusal = refusal or error
    if not verified:
        raise refusal
    changes = verified[0][1]
    merchants = {c.merchant_id for c in changes if c.merchant_id}
    if merchants:
        if len(merchants) > 1:
            raise CallbackRejected("the callback names more than one merchant")
        merchant = merchants.pop()
        owners = [s for s, _ in verified if s.account and s.account.merchant_id == merchant]
        if len(owners) > 1:  # a site that connected the same POS account again: its newest
            owners = [s for s in owners if s.account.active] or owners
        if len(owners) == 1:
            return owners[0], changes
        environment = next((s for s, _ in verified if s.account is None), None)
        return (environment if not owners else None), changes
    if len(verified) > 1:
        raise CallbackRejected(f"the signature verifies for {len(verified)} of the "
                               f"{client} accounts: it cannot say whose callback this is", 401)
    return verified[0]


def _never_seen(store, site: Site, statuses: list[StatusChange]) -> list[PosOrderCreated]:
    """A report about an order the bridge never heard of, from a POS it can fetch orders from
    (Square's order.updated may come before, or instead of, order.created): imported too. The
    import looks first: an order the bridge itself sent there is left alone."""
    if not callable(getattr(site.client, "fetch_order", None)):
        return []
    return [PosOrderCreated(c.pos_order_id, None, callback_id=None, merchant_id=c.merchant_id)
            for c in statuses if store.find_order_by_pos_id(site.key, c.pos_order_id) is None]
