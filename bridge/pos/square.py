"""The `square` POS client: orders into Square's Orders API, kitchen statuses back from its webhooks.

Plain `requests` rather than the `squareup` SDK: the SDK (v46) is built on httpx and pydantic, a
second HTTP stack beside the one the rest of the bridge uses (and tests with `responses`), for the
three calls we make. Field names follow Square's API reference and the SDK's generated models.

Orders out: `POST /v2/orders` with an idempotency key derived from the Wix order id, so a retried
send never makes a second order. Cancel: `GET` the order for its `version`, then `PUT` it with
`state: CANCELED`. Statuses in: `order.fulfillment.updated` carries the new fulfillment state;
`order.updated` (what kitchen screens and the dashboard raise) carries none, so the worker fetches
the order (`current_status`). The order `version` orders the reports: an older one is dropped.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Mapping
from urllib.parse import quote

import requests

from bridge import logs, timeouts
from bridge.domain.imports import PosOrderCreated
from bridge.domain.money import AmountError, from_minor_units, minor_units
from bridge.domain.orders import PosOrder
from bridge.domain.statuses import PosStatus, StatusChange
from bridge.pos.base import (AccessRevoked, CallbackRejected, NotAnImport, PosConfig,
                             PosConfigurationError, PosLocation, PosRejected, PosUnavailable,
                             PosUnreachable, Setting, read_timeout)
from bridge.pos.square_catalog import menu_from_catalog

log = logging.getLogger(__name__)

SEARCH_LOCATIONS = 10                    # SearchOrders' most location ids a call
SEARCH_LIMIT = 500                       # and most orders a page
SQUARE_VERSION = "2026-09-16"            # the API version every request pins
PRODUCTION = "https://connect.squareup.com"
TIMEOUT_SECONDS = 10.0                   # read timeout, POS_SQUARE_TIMEOUT
MAX_IDEMPOTENCY_KEY = 192
MAX_REFERENCE_ID = 40
# Square's published limits (OpenAPI maxLength) for what the bridge sends: a value over one is
# a 400, which would fail the order for good over a detail, so each is cut (or dropped) first.
MAX_PHONE = 17
MAX_DISPLAY_NAME = 255
MAX_EMAIL = 255
MAX_ITEM_NAME = 512
MAX_MODIFIER_NAME = 255
MAX_PICKUP_NOTE = 500
MAX_DELIVERY_NOTE = 550
SIGNATURE_HEADER = "x-square-hmacsha256-signature"

SETTINGS = (
    Setting("POS_SQUARE_ACCESS_TOKEN", None, "the seller account's access token (required)",
            owner=True, kind="secret", label="Access token",
            hint="From your Square Developer dashboard. Kept encrypted, never shown again."),
    Setting("POS_SQUARE_BASE_URL", PRODUCTION,
            "production, https://connect.squareupsandbox.com, or a local server (the "
            "operator's: an account never sets where Square is)", kind="url"),
    Setting("POS_SQUARE_LOCATION_ID", None,
            "the Square location orders go to when the map names none (required)", owner=True,
            label="Square location id",
            hint="Where orders go unless a location is paired on the Locations page."),
    Setting("POS_SQUARE_LOCATION_MAP", None,
            "wixLocationId=squareLocationId,... (or a JSON object)", owner=True,
            label="Locations by hand (optional)",
            hint="Pairing on the Locations page is simpler; this is "
                 "wixLocationId=squareLocationId, comma-separated."),
    Setting("POS_SQUARE_CATALOG_MAP", None,
            "wixCatalogItemId=squareCatalogObjectId,... (or a JSON object)", owner=True,
            label="Items by hand (optional)",
            hint="A menu sync fills this in; by hand it is wixItemId=squareItemId, "
                 "comma-separated."),
    Setting("POS_SQUARE_UNMAPPED_ITEMS", "ad_hoc",
            "an item not in the catalog map: ad_hoc (by name and price) or reject", owner=True,
            label="An item Square does not know",
            hint="Sent by name and price, it reaches the kitchen; refused, the order fails and "
                 "you are told.",
            choices=(("ad_hoc", "Send it by name and price"), ("reject", "Refuse the order"))),
    Setting("POS_SQUARE_WEBHOOK_SIGNATURE_KEY", None,
            "the Square app's webhook subscription signature key (with the notification "
            "URL); the operator's: Square signs every seller's events with it", kind="secret"),
    Setting("POS_SQUARE_NOTIFICATION_URL", None,
            "the subscription's notification URL, exactly as configured in Square",
            kind="url"),
    Setting("POS_SQUARE_FALLBACK_PHONE", None,
            "the restaurant's phone, sent as the recipient's when the customer gave none",
            owner=True, label="Restaurant phone (optional)",
            hint="Square needs a phone on each order: this one is used when the customer gave "
                 "none."),
    Setting("POS_SQUARE_PREP_MINUTES", None,
            "preparation minutes of an order with no promised time (ASAP)", owner=True,
            kind="number", label="Minutes to prepare an order (optional)",
            hint="For orders wanted as soon as possible."),
    Setting("POS_SQUARE_APPLICATION_ID", None,
            "the Square application's ID (with its secret: owners connect with Square's OAuth "
            "instead of pasting a token)"),
    Setting("POS_SQUARE_APPLICATION_SECRET", None,
            "the Square application's secret (OAuth page of the Developer Console)",
            kind="secret"),
    Setting("POS_SQUARE_REFRESH_TOKEN", None,
            "an account connected with OAuth: what renews its access token (the bridge sets it)",
            owner=True, kind="managed"),
    Setting("POS_SQUARE_TOKEN_EXPIRES_AT", None,
            "an account connected with OAuth: when its access token expires (the bridge sets it)",
            owner=True, kind="managed"),
    Setting("POS_SQUARE_TIMEOUT", str(TIMEOUT_SECONDS).removesuffix(".0"),
            "seconds to wait for Square's answer to each call (within BRIDGE_ATTEMPT_DEADLINE)",
            kind="number"),
)

# Square fulfillment state -> the bridge's status; PROPOSED (not yet accepted) is no change.
FULFILLMENT_STATES: dict[str, PosStatus | None] = {
    "PROPOSED": None,
    "RESERVED": PosStatus.ACCEPTED,
    "PREPARED": PosStatus.READY,
    "COMPLETED": PosStatus.FULFILLED,
    "CANCELED": PosStatus.CANCELED,
    "FAILED": PosStatus.CANCELED,
}


def _pairs(name: str, raw: str | None) -> dict[str, str]:
    """`a=b,c=d` (or a JSON object): a Wix id -> Square id mapping setting."""
    if not raw or not raw.strip():
        return {}
    text = raw.strip()
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except ValueError:
            raise PosConfigurationError(f"{name} is malformed: not a JSON object") from None
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise PosConfigurationError(
                f"{name} is malformed: expected {{\"wix id\": \"square id\"}}")
        return value
    pairs = {}
    for part in text.replace("\n", ",").split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise PosConfigurationError(
                f"{name} is malformed: {part.strip()!r} is not wix_id=square_id")
        pairs[key.strip()] = value.strip()
    return pairs


def _fallback_phone(raw: str) -> str | None:
    if not raw:
        return None
    phone = square_phone(raw)
    if phone is None:
        raise PosConfigurationError(f"POS_SQUARE_FALLBACK_PHONE is malformed: {raw!r} is not a "
                                    f"phone number of at most {MAX_PHONE} characters")
    return phone


def _minutes(name: str, raw: str) -> int | None:
    if not raw:
        return None
    if not raw.isdigit() or not 0 < int(raw) <= 1440:
        raise PosConfigurationError(f"{name} is malformed: {raw!r} is not a number of minutes "
                                    "between 1 and 1440")
    return int(raw)


@dataclass(frozen=True)
class SquareSettings:
    access_token: str = field(repr=False)
    base_url: str
    location_id: str
    locations: Mapping[str, str]        # Wix business location id -> Square location id
    catalog: Mapping[str, str]          # Wix catalog item id -> Square catalog object id
    unmapped_items: str                 # ad_hoc | reject
    signature_key: str | None = field(default=None, repr=False)
    notification_url: str | None = None
    timeout: float = TIMEOUT_SECONDS
    fallback_phone: str | None = None   # the recipient's phone when the customer gave none
    prep_minutes: int | None = None     # an ASAP order's preparation time, when known

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "SquareSettings":
        def get(name: str) -> str:
            return (env.get(name) or "").strip()

        if not get("POS_SQUARE_ACCESS_TOKEN"):
            raise PosConfigurationError("POS_SQUARE_ACCESS_TOKEN is missing: the square client "
                                        "needs an access token for the seller's account")
        if not get("POS_SQUARE_LOCATION_ID"):
            raise PosConfigurationError("POS_SQUARE_LOCATION_ID is missing: the Square location "
                                        "orders go to when no mapping names one")
        base_url = (get("POS_SQUARE_BASE_URL") or PRODUCTION).rstrip("/")
        if not base_url.startswith(("http://", "https://")):
            raise PosConfigurationError(f"POS_SQUARE_BASE_URL is malformed: {base_url!r}")
        unmapped = get("POS_SQUARE_UNMAPPED_ITEMS").lower() or "ad_hoc"
        if unmapped not in ("ad_hoc", "reject"):
            raise PosConfigurationError("POS_SQUARE_UNMAPPED_ITEMS is malformed: ad_hoc or reject")
        key, url = get("POS_SQUARE_WEBHOOK_SIGNATURE_KEY"), get("POS_SQUARE_NOTIFICATION_URL")
        if bool(key) != bool(url):
            raise PosConfigurationError("POS_SQUARE_WEBHOOK_SIGNATURE_KEY and "
                                        "POS_SQUARE_NOTIFICATION_URL go together: Square signs the "
                                        "notification URL with the body")
        return cls(access_token=get("POS_SQUARE_ACCESS_TOKEN"), base_url=base_url,
                   location_id=get("POS_SQUARE_LOCATION_ID"),
                   locations=_pairs("POS_SQUARE_LOCATION_MAP", get("POS_SQUARE_LOCATION_MAP")),
                   catalog=_pairs("POS_SQUARE_CATALOG_MAP", get("POS_SQUARE_CATALOG_MAP")),
                   timeout=read_timeout(env, "POS_SQUARE_TIMEOUT", TIMEOUT_SECONDS),
                   fallback_phone=_fallback_phone(get("POS_SQUARE_FALLBACK_PHONE")),
                   prep_minutes=_minutes("POS_SQUARE_PREP_MINUTES", get("POS_SQUARE_PREP_MINUTES")),
                   unmapped_items=unmapped, signature_key=key or None,
                   notification_url=url or None)


# -- pure: the Square order for a POS order ---------------------------------------------------

def _money(amount: Decimal, currency: str) -> dict[str, Any]:
    try:
        return {"amount": minor_units(amount, currency), "currency": currency}
    except AmountError as error:
        raise PosRejected(str(error), "invalid_amount") from None


def square_phone(raw: str | None) -> str | None:
    """Digits and a leading +, as Square takes them ("+972 (54) 123-4567" -> "+972541234567");
    None when nothing usable is left or it is still longer than Square allows."""
    if not raw:
        return None
    raw = re.split(r"[^\d\s()+./-]", raw, maxsplit=1)[0]  # an extension ("ext. 12", "x12") goes
    digits = "".join(c for c in raw if c.isdigit() and c.isascii())
    if not digits:
        return None
    phone = ("+" if raw.strip().startswith("+") else "") + digits
    return phone if len(phone) <= MAX_PHONE else None


def _cut(text: str | None, limit: int) -> str | None:
    return text[:limit] if text else None


def _recipient(order: PosOrder, settings: SquareSettings) -> dict[str, Any]:
    """Square requires a name and a phone for a pickup or delivery recipient: an order without
    them gets the Wix order number as its name and the restaurant's own phone
    (POS_SQUARE_FALLBACK_PHONE, when set). An email Square would refuse is left out."""
    customer = order.customer
    name = " ".join(p for p in (customer.first_name, customer.last_name) if p)
    email = customer.email if customer.email and len(customer.email) <= MAX_EMAIL else None
    recipient = {"display_name": _cut(name or f"Wix order {order.number or order.id}",
                                      MAX_DISPLAY_NAME),
                 "email_address": email,
                 "phone_number": square_phone(customer.phone) or settings.fallback_phone}
    address = order.fulfillment.address
    if address:
        subdivision = address.get("subdivision") or ""
        recipient["address"] = {k: v for k, v in {
            "address_line_1": address.get("addressLine1") or address.get("addressLine"),
            "address_line_2": address.get("addressLine2"),
            "locality": address.get("city"),
            "administrative_district_level_1": subdivision.split("-", 1)[-1] or None,
            "postal_code": address.get("postalCode"),
            "country": address.get("country"),
        }.items() if v}
    return {k: v for k, v in recipient.items() if v}


def _fulfillment(order: PosOrder, settings: SquareSettings) -> dict[str, Any]:
    """SCHEDULED at the promised time; ASAP without one, which Square's pinned version takes
    without a time (it sets deliver_at itself from prep_time_duration, sent when configured)."""
    note = " / ".join(p for p in (order.fulfillment.instructions, order.note) if p) or None
    when = order.fulfillment.promised_from
    delivery = order.fulfillment.type == "DELIVERY"
    details: dict[str, Any] = {"recipient": _recipient(order, settings),
                               "schedule_type": "SCHEDULED" if when else "ASAP"}
    if note:
        details["note"] = note[:MAX_DELIVERY_NOTE if delivery else MAX_PICKUP_NOTE]
    if not when and settings.prep_minutes:
        details["prep_time_duration"] = f"PT{settings.prep_minutes}M"
    if delivery:
        if when:
            details["deliver_at"] = when
        return {"type": "DELIVERY", "state": "PROPOSED", "delivery_details": details}
    if when:
        details["pickup_at"] = when
    return {"type": "PICKUP", "state": "PROPOSED", "pickup_details": details}


def create_order_body(order: PosOrder, settings: SquareSettings, idempotency_key: str
                      ) -> dict[str, Any]:
    """The CreateOrder request for an order (raises PosRejected for what Square cannot take)."""
    currency = order.currency or "USD"
    line_items = []
    for item in order.items:
        line: dict[str, Any] = {"quantity": str(item.quantity)}
        catalog_id = settings.catalog.get(item.catalog_item_id or "") or item.pos_item_id
        if catalog_id:
            line["catalog_object_id"] = catalog_id
        elif settings.unmapped_items == "reject":
            raise PosRejected(f"item {item.name!r} ({item.catalog_item_id}) has no Square catalog "
                              "object in POS_SQUARE_CATALOG_MAP", "invalid_item_mapping")
        else:
            line["name"] = item.name[:MAX_ITEM_NAME]
            line["base_price_money"] = _money(item.unit_price, currency)
        if item.modifiers:
            line["modifiers"] = [
                {"name": m.name[:MAX_MODIFIER_NAME], "quantity": str(m.quantity),
                 "base_price_money": _money(m.price, currency)} for m in item.modifiers]
        line_items.append(line)
    # POS_SQUARE_LOCATION_MAP overrides the site's pairing, which overrides the default.
    location = settings.locations.get(order.location_id or "",
                                      order.pos_location_id or settings.location_id)
    body = {
        "location_id": location,
        "reference_id": (order.number or order.id)[:MAX_REFERENCE_ID],
        "source": {"name": "Wix"},
        "line_items": line_items,
        "fulfillments": [_fulfillment(order, settings)],
        "metadata": {"wix_order_id": order.id, "wix_instance_id": order.instance_id},
    }
    return {"idempotency_key": idempotency_key[:MAX_IDEMPOTENCY_KEY], "order": body}


def cancel_key(idempotency_key: str, version: Any) -> str:
    """One key per (cancel, order version), within Square's 192 characters: the version is kept
    whole at the end, where it tells two attempts at different versions apart."""
    suffix = f"-v{version}"
    return f"wix-{idempotency_key}"[:MAX_IDEMPOTENCY_KEY - len(suffix)] + suffix


def call(session: requests.Session, method: str, url: str, authorization: str | None,
         body: dict[str, Any] | None, timeout: float) -> dict[str, Any]:
    """One call to Square's API, its version pinned: the answer as data, or PosUnreachable (no
    answer), PosUnavailable or PosRejected (`classify`). `authorization`: the header's value,
    None for a call whose body names the caller (OAuth's ObtainToken)."""
    headers = {"Square-Version": SQUARE_VERSION, "Content-Type": "application/json",
               "Accept": "application/json",
               **({"Authorization": authorization} if authorization else {})}
    path = "/" + url.split("/", 3)[-1]
    try:
        response = session.request(method, url, headers=headers,
                                   timeout=timeouts.for_request(timeout),
                                   data=json.dumps(body).encode() if body is not None else None)
    except requests.Timeout:
        raise PosUnreachable(f"Square did not answer {method} {path} in time") from None
    except requests.RequestException as error:
        raise PosUnreachable(f"Square unreachable: {type(error).__name__}") from None
    return classify(response.status_code, response.content)


def classify(status: int, body: bytes) -> dict[str, Any]:
    """Square's answer as data, or PosRejected (4xx) / PosUnavailable (429, 5xx, garbage)."""
    try:
        answer = json.loads(body) if body else {}
    except ValueError:
        answer = None
    if 200 <= status < 300 and isinstance(answer, dict):
        return answer
    errors = answer.get("errors") if isinstance(answer, dict) else None
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    code = first.get("code")
    detail = " ".join(str(p) for p in (first.get("category"), code, first.get("detail"),
                                       f"({first['field']})" if first.get("field") else None) if p)
    message = f"Square answered {status}" + (f": {detail[:400]}" if detail else "")
    if status == 429 or status >= 500 or status == 409 or not (400 <= status < 500):
        raise PosUnavailable(message, code)
    raise PosRejected(message, code)


# -- pure: Square's webhooks --------------------------------------------------------------------

def signature(signature_key: str, notification_url: str, body: bytes) -> str:
    """As Square documents it: base64 HMAC-SHA256 over the notification URL then the raw body."""
    digest = hmac.new(signature_key.encode(), notification_url.encode() + body, hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


def changes_from_event(event: Mapping[str, Any]
                       ) -> list[StatusChange | PosOrderCreated | AccessRevoked]:
    """The status changes (and orders taken at Square, and a seller's revoking this app's
    access) a verified webhook event reports."""
    kind = event.get("type")
    event_id = event.get("event_id")
    merchant = event.get("merchant_id") if isinstance(event.get("merchant_id"), str) else None
    obj = ((event.get("data") or {}).get("object") or {})
    if kind == "oauth.authorization.revoked":
        revocation = obj.get("revocation") or {}
        return [AccessRevoked(merchant, revocation.get("revoked_at"),
                              revocation.get("revoker_type"), event_id)] if merchant else []
    if kind == "order.fulfillment.updated":
        update = obj.get("order_fulfillment_updated") or {}
        states = [u.get("new_state") for u in update.get("fulfillment_update") or []]
        status = FULFILLMENT_STATES.get(states[-1]) if states else None
        if status is None or not update.get("order_id"):
            return []
        return [StatusChange(update["order_id"], status, update.get("updated_at"), event_id,
                             _int(update.get("version")), merchant)]
    if kind == "order.created":
        created = obj.get("order_created") or {}
        if not created.get("order_id"):
            return []
        # An order taken at Square (or one the bridge made: the import finds that out).
        return [PosOrderCreated(created["order_id"], None, created.get("location_id"), event_id,
                                merchant)]
    if kind == "order.updated":
        update = obj.get("order_updated") or {}
        if not update.get("order_id"):
            return []
        status = PosStatus.CANCELED if update.get("state") == "CANCELED" else None
        return [StatusChange(update["order_id"], status, update.get("updated_at"), event_id,
                             _int(update.get("version")), merchant)]
    return []


def import_form(order: Mapping[str, Any]) -> dict[str, Any]:
    """A Square order as `bridge.domain.imports` reads it. Raises NotAnImport for an order the
    bridge created (its source is Wix, its metadata names the Wix order)."""
    wix_order_id = (order.get("metadata") or {}).get("wix_order_id")
    if wix_order_id or (order.get("source") or {}).get("name") == "Wix":
        raise NotAnImport(f"Square order {order.get('id')} was made by the bridge for Wix order "
                          f"{wix_order_id or '?'}")
    currency = (order.get("total_money") or {}).get("currency") or "USD"

    def money(value: Any) -> str:
        amount = (value or {}).get("amount") if isinstance(value, Mapping) else None
        return format(from_minor_units(amount if isinstance(amount, int) else 0, currency), "f")

    fulfillment = (order.get("fulfillments") or [{}])[0] or {}
    details = fulfillment.get("pickup_details") or fulfillment.get("delivery_details") or {}
    recipient = details.get("recipient") or {}
    first, _, last = (recipient.get("display_name") or "").partition(" ")
    total = (order.get("total_money") or {}).get("amount") or 0
    tax = (order.get("total_tax_money") or {}).get("amount") or 0
    discount = (order.get("total_discount_money") or {}).get("amount") or 0
    return {
        "orderId": order.get("id"), "locationId": order.get("location_id"),
        "createdAt": order.get("created_at"), "currency": currency,
        "fulfillmentType": "DELIVERY" if fulfillment.get("type") in ("DELIVERY", "SHIPMENT")
        else "PICKUP",
        "customer": {"firstName": first or None, "lastName": last or None,
                     "phone": recipient.get("phone_number"),
                     "email": recipient.get("email_address")},
        "items": [{"itemId": li.get("catalog_object_id") or li.get("uid"),
                   "name": li.get("name"), "quantity": li.get("quantity"),
                   "price": money(li.get("base_price_money")),
                   "modifiers": [{"modifierId": m.get("catalog_object_id"), "name": m.get("name"),
                                  "quantity": m.get("quantity") or 1,
                                  "price": money(m.get("base_price_money"))}
                                 for m in li.get("modifiers") or []]}
                  for li in order.get("line_items") or []],
        "totals": {"subtotal": money({"amount": total - tax + discount}), "tax": money(
            order.get("total_tax_money")), "discount": money(order.get("total_discount_money")),
                   "total": money(order.get("total_money"))},
    }


def _int(raw: Any) -> int | None:
    try:
        return int(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None


def status_of(order: Mapping[str, Any]) -> PosStatus | None:
    """A fetched Square order's status: canceled, or its (first) fulfillment's state."""
    if order.get("state") == "CANCELED":
        return PosStatus.CANCELED
    fulfillments = order.get("fulfillments") or []
    return FULFILLMENT_STATES.get(fulfillments[0].get("state")) if fulfillments else None


# -- the client ---------------------------------------------------------------------------------

class SquarePos:
    name = "square"
    settings = SETTINGS

    def __init__(self, settings: SquareSettings, session: requests.Session | None = None):
        self.settings = settings
        self._session = session or requests.Session()

    @classmethod
    def from_config(cls, config: PosConfig) -> "SquarePos":
        return cls(SquareSettings.from_env(config.settings))

    def create_order(self, order: PosOrder, *, idempotency_key: str) -> str:
        body = create_order_body(order, self.settings, f"wix-{idempotency_key}")
        created = self._call("POST", "/v2/orders", body).get("order") or {}
        if not created.get("id"):
            raise PosUnavailable("Square accepted the order but gave no id")
        return created["id"]

    def cancel_order(self, wix_order_id: str, pos_order_id: str, *, idempotency_key: str) -> None:
        current = self._call("GET", f"/v2/orders/{pos_order_id}").get("order") or {}
        if current.get("state") == "CANCELED":
            return
        sparse: dict[str, Any] = {"location_id": current.get("location_id"),
                                  "version": current.get("version"), "state": "CANCELED"}
        open_fulfillments = [{"uid": f["uid"], "state": "CANCELED"}
                             for f in current.get("fulfillments") or []
                             if f.get("uid") and f.get("state") not in ("COMPLETED", "CANCELED",
                                                                        "FAILED")]
        if open_fulfillments:
            sparse["fulfillments"] = open_fulfillments
        self._call("PUT", f"/v2/orders/{pos_order_id}",
                   {"order": sparse, "idempotency_key": cancel_key(idempotency_key,
                                                                   current.get("version"))})

    def current_status(self, pos_order_id: str) -> StatusChange | None:
        order = self._call("GET", f"/v2/orders/{pos_order_id}").get("order") or {}
        status = status_of(order)
        return (StatusChange(pos_order_id, status, order.get("updated_at"),
                             sequence=_int(order.get("version"))) if status else None)

    def statuses_since(self, since: str, location_ids: list[str]
                       ) -> tuple[list[StatusChange], str | None]:
        """SearchOrders: the orders of these locations (and the client's own) updated at or
        after `since`, oldest change first, 10 locations and 500 orders a call; with the newest
        change seen, where the next search starts."""
        locations = sorted({*location_ids, self.settings.location_id,
                            *self.settings.locations.values()} - {""})
        changes: list[StatusChange] = []
        newest: str | None = None
        for start in range(0, len(locations), SEARCH_LOCATIONS):
            cursor = None
            while True:
                body: dict[str, Any] = {
                    "location_ids": locations[start:start + SEARCH_LOCATIONS],
                    "query": {"filter": {"date_time_filter": {"updated_at": {"start_at": since}}},
                              "sort": {"sort_field": "UPDATED_AT", "sort_order": "ASC"}},
                    "limit": SEARCH_LIMIT}
                if cursor:
                    body["cursor"] = cursor
                answer = self._call("POST", "/v2/orders/search", body)
                for order in answer.get("orders") or []:
                    if not isinstance(order, dict) or not order.get("id"):
                        continue
                    updated = order.get("updated_at")
                    if isinstance(updated, str) and (newest is None or updated > newest):
                        newest = updated
                    status = status_of(order)
                    if status:
                        changes.append(StatusChange(order["id"], status, updated,
                                                    sequence=_int(order.get("version"))))
                cursor = answer.get("cursor")
                if not cursor:
                    break
        return changes, newest

    def check_credentials(self) -> str | None:
        """The seller's merchant id, if the access token opens the account."""
        merchant = self._call("GET", "/v2/merchants/me").get("merchant") or {}
        return merchant.get("id")

    def item_map(self) -> Mapping[str, str]:
        return self.settings.catalog

    def fetch_order(self, pos_order_id: str) -> dict[str, Any]:
        """An order taken at Square, in the import form; NotAnImport for one the bridge made."""
        order = self._call("GET", f"/v2/orders/{pos_order_id}").get("order") or {}
        return import_form(order)

    def fetch_menu(self, location_id: str | None) -> dict[str, Any]:
        """Every catalog page (items, categories, modifier lists), as the bridge's menu."""
        objects: list[dict[str, Any]] = []
        cursor = None
        while True:
            query = "types=ITEM,CATEGORY,MODIFIER_LIST" + (f"&cursor={quote(cursor)}"
                                                           if cursor else "")
            page = self._call("GET", f"/v2/catalog/list?{query}")
            objects += [o for o in page.get("objects") or [] if isinstance(o, dict)]
            cursor = page.get("cursor")
            if not cursor:
                return menu_from_catalog(objects, location_id or self.settings.location_id)

    def list_locations(self) -> list[PosLocation]:
        return [PosLocation(loc["id"], loc.get("name"))
                for loc in self._call("GET", "/v2/locations").get("locations") or []
                if isinstance(loc, dict) and loc.get("id") and loc.get("status") != "INACTIVE"]

    def parse_callback(self, headers: Mapping[str, str], body: bytes) -> list[StatusChange]:
        key, url = self.settings.signature_key, self.settings.notification_url
        if not key or not url:
            raise CallbackRejected("Square webhooks are not configured here "
                                   "(POS_SQUARE_WEBHOOK_SIGNATURE_KEY, POS_SQUARE_NOTIFICATION_URL)",
                                   401)
        given = {k.lower(): v for k, v in headers.items()}.get(SIGNATURE_HEADER, "")
        if not hmac.compare_digest(signature(key, url, body).encode(), given.encode()):
            raise CallbackRejected("x-square-hmacsha256-signature does not verify", 401)
        try:
            event = json.loads(body)
        except (ValueError, RecursionError):
            raise CallbackRejected("body is not JSON") from None
        if not isinstance(event, dict) or not event.get("event_id"):
            raise CallbackRejected("not a Square event (no event_id)")
        changes = changes_from_event(event)
        logs.info(log, "square_event", type=event.get("type"), event_id=event.get("event_id"),
                  changes=len(changes))
        return changes

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        return call(self._session, method, self.settings.base_url + path,
                    f"Bearer {self.settings.access_token}", body, self.settings.timeout)
