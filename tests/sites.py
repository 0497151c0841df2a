"""Test helpers for a bridge serving many sites: accounts with their own loopback POS, paired
locations, and SPI calls signed as Wix signs them."""
from __future__ import annotations

import time
from typing import Any

import jwt

from bridge.credentials import new_key

SECRET_KEY = new_key()
SPI_APP = "app-id"  # the tests' WIX_APP_ID


def add_site(bridge, instance_id: str, pos, *, account_id: str, configuration_id: str,
             wix_location_id: str, pos_location_id: str = "LOC-1", checked: bool = True):
    """A site with its own `webhook` POS (a loopback PosServer), one paired location."""
    account = bridge.accounts.save(instance_id, "webhook",
                                   {"POS_WEBHOOK_URL": pos.url, "POS_WEBHOOK_SECRET": pos.secret},
                                   account_id=account_id, clients=bridge.pos)
    if checked:
        account = bridge.accounts.check(account, bridge.pos)
    bridge.store.save_configuration(configuration_id, instance_id, location_name="Downtown",
                                    account_id=account.id)
    bridge.store.pair_configuration(configuration_id, pos_location_id=pos_location_id,
                                    wix_location_id=wix_location_id)
    return account


def site_bridge(env: dict, wix_url: str, pos, instance_id: str, *, account_id: str,
                configuration_id: str, wix_location_id: str, pos_location_id: str):
    """A migrated bridge talking to a loopback Wix, serving one site with its own account."""
    from bridge.bootstrap import bootstrap
    from bridge.config import load_config
    wired = bootstrap(load_config({**env, "WIX_API_BASE": wix_url,
                                   "BRIDGE_SECRET_KEY": SECRET_KEY}), pool_size=4)
    wired.store.migrate()
    add_site(wired, instance_id, pos, account_id=account_id, configuration_id=configuration_id,
             wix_location_id=wix_location_id, pos_location_id=pos_location_id)
    return wired


def two_sites(environ: dict, poses, sites=("site-a", "site-b")):
    """A migrated bridge serving two sites, each with its own POS (`poses`: two PosServers),
    account (acc-a, acc-b) and location (conf-a/loc-a -> A-KITCHEN, conf-b/loc-b -> B-KITCHEN)."""
    from bridge.bootstrap import bootstrap
    from bridge.config import load_config
    bridge = bootstrap(load_config({**environ, "BRIDGE_SECRET_KEY": SECRET_KEY}), pool_size=4)
    bridge.store.migrate()
    for site, pos, letter in zip(sites, poses, "ab"):
        add_site(bridge, site, pos, account_id=f"acc-{letter}", configuration_id=f"conf-{letter}",
                 wix_location_id=f"loc-{letter}", pos_location_id=f"{letter.upper()}-KITCHEN")
    return bridge


def spi_token(private_key, request: dict[str, Any], instance_id: str, *, aud: Any = SPI_APP,
              iss: str | None = "wix.com", expires_in: float | None = 300, key=None,
              algorithm: str = "RS256", data: Any = None) -> str:
    claims: dict[str, Any] = {"data": data if data is not None else {
        "request": request, "metadata": {"instanceId": instance_id, "requestId": "req-1"}},
        "iat": int(time.time())}
    if aud is not None:
        claims["aud"] = aud
    if iss is not None:
        claims["iss"] = iss
    if expires_in is not None:
        claims["exp"] = int(time.time() + expires_in)
    return jwt.encode(claims, key if key is not None else private_key, algorithm=algorithm)


def spi_order(order_id: str = "wix-order-1", *, catalog_item_id: str = "dish-1") -> dict:
    """The Restaurants order Wix sends with Validate Order and Create Order."""
    return {
        "id": order_id, "number": "77", "currency": "USD", "comment": "Ring twice",
        "customer": {"firstName": "Dana", "lastName": "Levi", "phone": "+1 212 555 0142",
                     "email": "dana@example.com"},
        "fulfillment": {"type": "PICKUP", "promisedTime": "2026-12-02T18:30:00Z", "asap": False,
                        "details": {}},
        "lineItems": [{"quantity": 2, "price": "14.00", "comment": "well done",
                       "catalogReference": {"catalogItemId": catalog_item_id,
                                            "catalogItemName": "Margherita"},
                       # A chosen option is a line item: its dish is its catalogReference.
                       "dishOptions": [{"name": "Extras", "selectedChoices": [
                           {"quantity": 1, "price": "1.00", "catalogReference": {
                               "catalogItemId": "basil",
                               "catalogItemName": "Extra basil"}}]}]}],
        "totals": {"subtotal": "30.00", "tax": "2.10", "total": "32.10"},
        "payments": [{"type": "CASH", "amount": "32.10"}],
    }
