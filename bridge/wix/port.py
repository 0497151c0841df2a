"""The Wix port: what the services ask of Wix, and how a call can fail.

`bridge.wix.api.WixApi` is the adapter that makes these calls over HTTP; the services know only
this Protocol, as they know the POS only through bridge.pos.base.
"""
from __future__ import annotations

from typing import Any, Protocol


class WixError(Exception):
    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class WixUnavailable(WixError):
    """Worth retrying: rate limited, a server error, a timeout. `retry_after` in seconds."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(message, status)
        self.retry_after = retry_after


class WixUnauthorized(WixError):
    """401: the token is stale (or the app lost access)."""


class WixRejected(WixError):
    """A 4xx that retrying will not fix; the message carries Wix's own code."""


class Wix(Protocol):
    def call(self, method: str, path: str, instance_id: str,
             body: dict[str, Any] | None = None, *, repeatable: bool = True) -> dict[str, Any]:
        """An authorised call as the site's app instance: the answer's JSON object. A call that
        would do its work twice if sent again (`repeatable=False`) is sent once."""

    def list_fulfillments(self, instance_id: str, order_id: str) -> list[dict[str, Any]]: ...

    def create_fulfillment(self, instance_id: str, order_id: str,
                           fulfillment: dict[str, Any]) -> str | None:
        """The new fulfillment's id. Sent once: after a lost answer, list before creating."""

    def update_fulfillment(self, instance_id: str, order_id: str, fulfillment_id: str,
                           fulfillment: dict[str, Any]) -> None: ...

    def create_order(self, instance_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """The created order. Sent once: search by external id before sending again."""

    def find_order_by_external_id(self, instance_id: str, external_id: str
                                  ) -> dict[str, Any] | None: ...

    def orders_updated_since(self, instance_id: str, since: str, cursor: str | None = None
                             ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the site's orders updated at or after `since`, oldest change first, and
        the cursor of the next page (None: the last)."""

    def list_operations(self, instance_id: str) -> list[dict[str, Any]]: ...

    def list_configurations(self, instance_id: str) -> list[dict[str, Any]]: ...

    def get_configuration(self, instance_id: str, configuration_id: str
                          ) -> dict[str, Any] | None: ...

    def disconnect_account(self, instance_id: str, account_id: str) -> None: ...

    def disconnect_configuration(self, instance_id: str, configuration_id: str) -> None: ...
