"""The POS port: what the bridge asks of any POS, and the two ways a POS can say no.

A POS client is found by entry point name in the group `bridge.pos_clients` (setting `POS_CLIENT`).
The entry point is a factory `(PosConfig) -> PosClient`, called once per Wix app instance, so a
vendor's package can hold per-restaurant accounts without the core changing shape.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol

from bridge.config import Setting
from bridge.domain.orders import PosOrder
from bridge.domain.statuses import StatusChange


__all__ = ["CallbackRejected", "PosClient", "PosConfig", "PosConfigurationError", "PosError",
           "PosLocation", "PosRejected", "PosUnavailable", "PosUnreachable", "Report", "Setting",
           "NotAnImport", "check_credentials", "excerpt", "fetch_menu", "fetch_order", "item_map", "list_locations",
           "read_timeout", "validate_order"]


class PosConfigurationError(ValueError):
    """A client's setting is missing or malformed: one line naming it stops start-up."""


class PosError(Exception):
    """Base of the POS answers that are not success. `code` is the SPI error code when known."""

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.code = code


class PosUnavailable(PosError):
    """Worth trying again later: the POS is down, busy, timed out or answered something odd."""


class PosUnreachable(PosUnavailable):
    """No answer at all: the connection was refused or reset, or the POS timed out. Counts
    toward the site's circuit breaker (an answer, even an error, does not)."""


class PosRejected(PosError):
    """The POS refused the order for good (e.g. `invalid_item_mapping`, `cc_rejected`)."""


class NotAnImport(Exception):
    """`fetch_order` found an order that is not to be imported (the bridge created it)."""


@dataclass(frozen=True)
class AccessRevoked:
    """A POS's report that a seller took this app's access away (Square's
    `oauth.authorization.revoked`): their account can no longer be used."""
    merchant_id: str
    revoked_at: str | None = None
    revoked_by: str | None = None     # who: the seller, the app, Square
    callback_id: str | None = None


class CallbackRejected(ValueError):
    """A status callback that must not be stored. `status` is the HTTP answer: 400 or 401."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


Report = Callable[[list[StatusChange]], None]


@dataclass(frozen=True)
class PosConfig:
    """What a factory gets: the instance it serves, every `POS_*` setting, and `report`, which
    stores status changes a client learns without a callback (by polling, or in-process);
    `report_orders` does the same for orders taken at the POS."""
    instance_id: str | None
    settings: Mapping[str, str] = field(default_factory=dict)
    report: Report | None = None
    # Stores orders the POS took itself (PosOrderCreated), learnt without a callback.
    report_orders: Callable[[list[Any]], None] | None = None


class PosClient(Protocol):
    name: str
    # Optional: the POS_<CLIENT>_... settings it reads (name, default, help, as the core's), for
    # `bridge --help` and `bridge pos list`, and so that a misspelt one is named at start-up.
    settings: tuple[Setting, ...]

    def create_order(self, order: PosOrder, *, idempotency_key: str) -> str:
        """Send an order; return the POS order id. The same key on a retry must not duplicate it."""

    def cancel_order(self, wix_order_id: str, pos_order_id: str, *, idempotency_key: str) -> None:
        """Cancel an order the POS accepted earlier."""

    def parse_callback(self, headers: Mapping[str, str], body: bytes) -> list[StatusChange]:
        """Verify and parse a status callback in this POS's own format; raise CallbackRejected.

        Runs in the web request: no I/O. A change whose status the callback does not carry is
        returned with `status=None`, and the worker calls `current_status` for it."""

    def current_status(self, pos_order_id: str) -> StatusChange | None:
        """The order's status as the POS has it now (None: nothing to report). Only clients whose
        callbacks can leave the status out need more than `return None`."""

    # Optional, asked through the functions below: `statuses_since(since, location ids) ->
    # ([StatusChange], newest change)` (what changed at the POS since a time, in a search) or
    # `statuses_of(pos order ids) -> [StatusChange]` (many orders' statuses in one call),
    # `check_credentials() -> merchant id | None`,
    # `list_locations() -> list[PosLocation]`, `validate_order(order)` raising PosRejected,
    # `fetch_menu(location_id) -> the menu's JSON form`, `fetch_order(pos_order_id) -> an order
    # taken at the POS, in the import form`. `parse_callback` may also return PosOrderCreated
    # reports (orders taken at the POS) beside its StatusChanges.


@dataclass(frozen=True)
class PosLocation:
    id: str
    name: str | None = None


# Optional capabilities. A client written before them still loads and works: the bridge asks
# through these functions, which answer for a client that does not have the method.

def statuses_of(client: PosClient, pos_order_ids: list[str]) -> list[StatusChange]:
    """The orders' statuses as the POS has them now: in one call a page where the client can
    (`statuses_of(ids)`), else one `current_status` an order. Orders it reports nothing for are
    left out."""
    method = getattr(client, "statuses_of", None)
    if callable(method):
        return [c for c in method(pos_order_ids) if c.status is not None]
    changes = (client.current_status(pos_order_id) for pos_order_id in pos_order_ids)
    return [c for c in changes if c is not None and c.status is not None]


def check_credentials(client: PosClient) -> tuple[bool, str | None]:
    """Ask the POS whether the client's credentials open an account: (asked, the POS's merchant
    id). A client without `check_credentials()` cannot be asked: (False, None). Raises
    PosRejected when the POS refuses them, PosUnavailable when it does not answer."""
    method = getattr(client, "check_credentials", None)
    return (True, method()) if callable(method) else (False, None)


def list_locations(client: PosClient) -> list[PosLocation] | None:
    """The POS's locations for the account; None when the client cannot list them."""
    method = getattr(client, "list_locations", None)
    return list(method()) if callable(method) else None


def validate_order(client: PosClient, order: PosOrder) -> None:
    """Raise PosRejected naming what the POS would refuse in the order; a client without
    `validate_order()` accepts every order that reaches it."""
    method = getattr(client, "validate_order", None)
    if callable(method):
        method(order)


def fetch_menu(client: PosClient, location_id: str | None) -> Mapping[str, Any] | None:
    """The POS's menu for a location, in the JSON form `bridge.domain.menus` reads; None when
    the client cannot send one (`fetch_menu()` is optional)."""
    method = getattr(client, "fetch_menu", None)
    return method(location_id) if callable(method) else None


def fetch_order(client: PosClient, pos_order_id: str) -> Mapping[str, Any] | None:
    """An order the POS took itself, in the import form `bridge.domain.imports` reads; None when
    the client cannot fetch orders (`fetch_order()` is optional: its reports then carry them).
    Raises NotAnImport for an order the bridge itself created there."""
    method = getattr(client, "fetch_order", None)
    return method(pos_order_id) if callable(method) else None


def item_map(client: PosClient) -> Mapping[str, str]:
    """Wix catalog item id -> POS item id, as the client is configured (e.g.
    POS_SQUARE_CATALOG_MAP); empty for a client without `item_map()`. The catalog sync's
    identifiers come first; this fills what they do not know."""
    method = getattr(client, "item_map", None)
    return dict(method()) if callable(method) else {}


def excerpt(text: object, limit: int = 200) -> str:
    """A short, plain excerpt of what a POS answered, safe to show its owner: printable
    characters only (no markup controls, no line breaks), white space folded, at most `limit`
    characters."""
    plain = "".join(c if c.isprintable() else " " for c in str(text))
    plain = " ".join(plain.replace("<", " ").replace(">", " ").split())
    return plain if len(plain) <= limit else plain[:limit - 1] + "…"


def read_timeout(settings: Mapping[str, str], name: str, default: float) -> float:
    """A client's read timeout setting (seconds), checked; the attempt's deadline still bounds it
    (`bridge.timeouts.for_request`)."""
    raw = (settings.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise PosConfigurationError(f"{name} is malformed: {raw!r} is not a number of "
                                    "seconds") from None
    if not 0 < value <= 300:
        raise PosConfigurationError(f"{name} is malformed: {raw} is not between 0 and 300 "
                                    "seconds")
    return value
