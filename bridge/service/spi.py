"""The POS Integration SPI: what Wix asks the provider about a site's account and locations.

Each call names the site (the token's instance) and, but for List Account IDs, an account and a
location configuration of that site; anything else is 404, never another site's data. Create
Order is the one call that reaches the POS while Wix waits: it goes through the site's own
client within a deadline, answers an error rather than late, and is idempotent on the Wix order
id (the order is stored with its POS id; the POS gets the key the worker would use for it, so
the same order arriving as a webhook is not sent twice either).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from bridge import logs, timeouts
from bridge.domain.orders import InvalidOrder, stored_form
from bridge.domain.spi_orders import pos_order_from_spi
from bridge.pos import base
from bridge.pos.base import PosRejected, PosUnavailable
from bridge.pos.registry import PosClients
from bridge.service import catalog, configurations, jobs, statuses
from bridge.service.accounts import ITEM, AccountError, SiteAccounts
from bridge.storage.port import Account, AccountState, Configuration, Origin, Store
from bridge.wix.port import Wix, WixError
from bridge.wix.spi import SpiCall

log = logging.getLogger(__name__)


@dataclass
class SpiError(Exception):
    """An answer other than 200: the HTTP status, a snake_case code, words, what it is about."""
    status: int
    code: str
    message: str
    params: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message


class PosIntegration:
    def __init__(self, store: Store, pos: PosClients, accounts: SiteAccounts, *,
                 deadline_seconds: float, connect_seconds: float = timeouts.CONNECT_SECONDS,
                 clock: Callable[[], float] = time.time, wix: Wix | None = None):
        self.store = store
        self.pos = pos
        self.accounts = accounts
        self.wix = wix
        self.deadline = deadline_seconds
        self.connect = connect_seconds
        self.clock = clock

    def account_ids(self, call: SpiCall) -> dict[str, Any]:
        return {"accountIds": [a.id for a in self.store.list_accounts(call.instance_id)
                               if a.status == AccountState.ACTIVE]}

    def configuration_status(self, call: SpiCall) -> dict[str, Any]:
        account, configuration = self._named(call)
        if account.status == AccountState.ACTIVE and self.accounts.check_due(account,
                                                                             self.clock()):
            with timeouts.attempt(self.deadline, self.connect):
                self.accounts.check(account, self.pos)
        report = self.accounts.status(call.instance_id, configuration, self.clock())
        logs.info(log, "spi_configuration_status", instance_id=call.instance_id,
                  configuration=configuration.id, status=report.status.value,
                  reason=report.reason)
        # The spec's GetConfigurationStatusResponse is the status alone: the reason is logged
        # above and shown to the owner and the operator (dashboard, `bridge configurations`).
        return {"status": report.status.value}

    def sync_catalog(self, call: SpiCall) -> dict[str, Any]:
        """Queue a sync (the worker does it); Wix polls Get Catalog Sync Status."""
        _, configuration = self._named(call)
        try:
            catalog.start(self.store, configuration)
        except catalog.SyncRefused as error:
            raise SpiError(409, error.code.lower(), str(error),
                           {"configurationId": configuration.id}) from None
        return {}

    def catalog_sync_status(self, call: SpiCall) -> dict[str, Any]:
        _, configuration = self._named(call)
        return catalog.status(self.store, configuration.id, self.clock())

    def validate_order(self, call: SpiCall) -> dict[str, Any]:
        account, configuration = self._named(call)
        order = self._routed_order(call, account, configuration)
        site = self.pos.of_account(self.accounts.pos_account(account))
        # Items are checked against the POS's only once the site's items are mapped at all (a
        # catalog sync or an operator did it); before that they go by name.
        mapped = bool(self.store.identifiers(call.instance_id, ITEM))
        problems = [f"item {item.catalog_item_id or item.name!r} has no POS item"
                    for item in order.items if mapped and not item.pos_item_id]
        if not problems:
            try:
                with timeouts.attempt(self.deadline, self.connect):
                    base.validate_order(site.client, order)
            except PosRejected as error:
                problems.append(str(error))
            except (PosUnavailable, timeouts.DeadlineExceeded) as error:
                raise _pos_unavailable(error) from None
        if problems:
            raise SpiError(422, "invalid_order", "; ".join(problems),
                           {"orderId": order.id, "problems": problems})
        return {"posOrderStatus": "VALID"}

    def create_order(self, call: SpiCall) -> dict[str, Any]:
        account, configuration = self._named(call)
        order = self._routed_order(call, account, configuration)
        known = self.store.get_order(call.instance_id, order.id)
        if known is not None and known.pos_order_id:
            logs.info(log, "spi_order_repeated", order_id=order.id,
                      pos_order_id=known.pos_order_id)
            return {"posOrderId": known.pos_order_id,
                    "posLocationId": configuration.pos_location_id}
        site = self.pos.of_account(self.accounts.pos_account(account))
        key = jobs.send_order(order.id, call.instance_id).key
        try:
            with timeouts.attempt(self.deadline, self.connect):
                pos_order_id = site.client.create_order(order, idempotency_key=key)
        except PosRejected as error:
            logs.warning(log, "spi_order_refused", order_id=order.id, reason=str(error))
            raise SpiError(422, error.code or "pos_refused", f"the POS refused the order: "
                           f"{error}", {"orderId": order.id}) from None
        except (PosUnavailable, timeouts.DeadlineExceeded) as error:
            logs.warning(log, "spi_order_not_sent", order_id=order.id, reason=str(error))
            raise _pos_unavailable(error) from None
        statuses.record_at_pos(self.store, wix_order_id=order.id, instance_id=call.instance_id,
                               pos_key=site.key, pos_order_id=pos_order_id,
                               snapshot=stored_form(order),
                               number=order.number, origin=Origin.SPI)
        logs.info(log, "spi_order_created", order_id=order.id, pos=site.key,
                  pos_order_id=pos_order_id, pos_location_id=configuration.pos_location_id)
        return {"posOrderId": pos_order_id, "posLocationId": configuration.pos_location_id}

    # -- helpers ---------------------------------------------------------------------------

    def _named(self, call: SpiCall) -> tuple[Account, Configuration]:
        account_id = _text(call.request, "accountId")
        configuration_id = _text(call.request, "configurationId")
        account = self.store.get_account(account_id)
        if account is None or account.instance_id != call.instance_id:
            raise SpiError(404, "unknown_account", f"no account {account_id!r} on this site",
                           {"accountId": account_id})
        configuration = self.store.get_configuration(configuration_id)
        if configuration is None:
            configuration = self._from_wix(call.instance_id, configuration_id, account)
        if configuration is None or configuration.instance_id != call.instance_id:
            raise SpiError(404, "unknown_configuration",
                           f"no location configuration {configuration_id!r} on this site",
                           {"configurationId": configuration_id})
        return account, configuration

    def _from_wix(self, instance_id: str, configuration_id: str, account: Account
                  ) -> Configuration | None:
        """A configuration Wix asks about before the bridge listed it (the owner just connected
        a location): read from Wix and stored, or None when Wix does not know it either."""
        if self.wix is None:
            return None
        try:
            listed = self.wix.get_configuration(instance_id, configuration_id)
        except WixError as error:
            logs.warning(log, "spi_configuration_not_read", configuration=configuration_id,
                         reason=str(error))
            return None
        if listed is None or listed.get("id") != configuration_id:
            return None
        return configurations.save(self.store, instance_id, listed, account.id)

    def _routed_order(self, call: SpiCall, account: Account, configuration: Configuration):
        raw = call.request.get("order")
        try:
            order = pos_order_from_spi(raw if isinstance(raw, Mapping) else {}, call.instance_id,
                                       location_id=configuration.wix_location_id)
        except InvalidOrder as error:
            raise SpiError(400, "invalid_order", f"order: {error}") from None
        if account.status != AccountState.ACTIVE:
            raise SpiError(409, "account_disconnected", f"account {account.id} is disconnected",
                           {"accountId": account.id})
        if not configuration.pos_location_id:
            raise SpiError(409, "location_not_paired",
                           f"configuration {configuration.id} is not paired with a POS location",
                           {"configurationId": configuration.id})
        try:
            return self.accounts.route_to(order, configuration)
        except AccountError as error:
            raise SpiError(409, "location_not_paired", str(error)) from None

def _pos_unavailable(error: Exception) -> SpiError:
    return SpiError(503, "pos_unavailable", f"the POS did not answer in time: {error}")


def _text(request: Mapping[str, Any], name: str) -> str:
    value = request.get(name)
    if not isinstance(value, str) or not value:
        raise SpiError(400, "malformed_request", f"request.{name} is missing")
    return value
