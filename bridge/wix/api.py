"""Wix REST calls: one I/O seam (`WixApi._send`) and one pure classifier (`classify`).

Tokens: OAuth client credentials per app instance, cached until shortly before they expire, shared
across threads, and fetched again once when Wix answers 401. Transient failures (429, 5xx, 408,
409, timeouts) are retried briefly in-process with tenacity, honouring `Retry-After`; what is
still failing after that goes back to the worker as WixUnavailable, to be retried durably.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import requests
import tenacity

from bridge import logs, timeouts
from bridge.wix.port import WixRejected, WixUnauthorized, WixUnavailable

log = logging.getLogger(__name__)

READ_TIMEOUT = 8.0                  # within the attempt's deadline (bridge.timeouts)
TOKEN_MARGIN_SECONDS = 300          # renew a token this long before Wix says it expires
IN_PROCESS_ATTEMPTS = 3
IN_PROCESS_MAX_WAIT = 5.0           # a longer Retry-After goes back to the worker instead
IN_PROCESS_BUDGET = 15.0            # seconds of in-process retrying, so SIGTERM's 30 s suffice
POS_INTEGRATION = "/restaurants/v1/pos-integration"
SEARCH_PAGE = 100                   # Search Orders' most a page (CursorPaging.limit)
RATE_PER_MINUTE = 200               # Wix's documented limit per app instance
PACE_BURST = RATE_PER_MINUTE        # a minute's calls may go at once, then the pace applies

# Seconds to wait before the next call for an instance: the bridge books its calls in the
# database, so every thread and process shares the limit; without one, this process paces its own.
Pace = Callable[[str], float]
RETRYABLE_STATUSES = frozenset({408, 409, 429}) | frozenset(range(500, 600))


def _retry_after(headers: Mapping[str, str]) -> float | None:
    raw = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None


def classify(status: int, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    """The JSON body of a success; a typed WixError otherwise."""
    try:
        answer = json.loads(body) if body else {}
    except ValueError:
        answer = None
    if 200 <= status < 300:
        if not isinstance(answer, dict):
            raise WixUnavailable(f"Wix answered {status} with a body that is not JSON", status)
        return answer
    detail = ""
    if isinstance(answer, dict):
        app_error = (answer.get("details") or {}).get("applicationError") or {}
        detail = " ".join(str(p) for p in (app_error.get("code"), answer.get("message")) if p)
    message = f"Wix answered {status}" + (f": {detail[:300]}" if detail else "")
    if status == 401:
        raise WixUnauthorized(message, status)
    if status in RETRYABLE_STATUSES:
        raise WixUnavailable(message, status, _retry_after(headers))
    raise WixRejected(message, status)


@dataclass
class _Token:
    value: str
    expires_at: float


class _Pacer:
    """At most RATE_PER_MINUTE calls a minute per instance, counted in this process only
    (a token bucket; bursts allowed)."""

    def __init__(self, clock: Callable[[], float]):
        self.clock = clock
        self.buckets: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()

    def __call__(self, instance_id: str) -> float:
        with self.lock:
            now = self.clock()
            tokens, last = self.buckets.get(instance_id, (float(RATE_PER_MINUTE), now))
            tokens = min(RATE_PER_MINUTE, tokens + (now - last) * RATE_PER_MINUTE / 60)
            delay = 0.0 if tokens >= 1 else (1 - tokens) * 60 / RATE_PER_MINUTE
            self.buckets[instance_id] = (tokens - 1, now + delay)
        return delay


def _wait_for(retry_state: tenacity.RetryCallState) -> float:
    error = retry_state.outcome.exception() if retry_state.outcome else None
    hinted = getattr(error, "retry_after", None)
    backoff = tenacity.wait_exponential_jitter(multiplier=0.5, max=IN_PROCESS_MAX_WAIT, jitter=0.5)
    return hinted if hinted is not None else backoff(retry_state)


class WixApi:
    """The Wix port (bridge.wix.port.Wix) over HTTP."""

    def __init__(self, base_url: str, app_id: str, app_secret: str, *,
                 session: requests.Session | None = None,
                 clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep, pace: Pace | None = None):
        self.base_url = base_url.rstrip("/")
        self._app_id = app_id
        self._app_secret = app_secret
        self._session = session or requests.Session()
        self._clock = clock
        self._sleep = sleep
        self._tokens: dict[str, _Token] = {}
        self._token_lock = threading.Lock()
        self._token_locks: dict[str, threading.Lock] = {}
        self._pace = pace or _Pacer(clock)

    # -- tokens ----------------------------------------------------------------------------

    def _lock_for(self, instance_id: str) -> threading.Lock:
        """One lock a site: fetching one site's token (Wix slow to answer) holds up no other's."""
        with self._token_lock:
            return self._token_locks.setdefault(instance_id, threading.Lock())

    def token(self, instance_id: str) -> str:
        with self._lock_for(instance_id):
            cached = self._tokens.get(instance_id)
            if cached and cached.expires_at > self._clock():
                return cached.value
            answer = self._retrying(lambda: self._send(
                "POST", "/oauth2/token", instance_id, None,
                {"grant_type": "client_credentials", "client_id": self._app_id,
                 "client_secret": self._app_secret, "instance_id": instance_id}))
            value = answer.get("access_token")
            if not isinstance(value, str) or not value:
                raise WixUnavailable("Wix's token answer has no access_token")
            lifetime = float(answer.get("expires_in") or 0)
            margin = min(TOKEN_MARGIN_SECONDS, lifetime / 10)
            self._tokens[instance_id] = _Token(value, self._clock() + lifetime - margin)
            logs.info(log, "wix_token_fetched", instance_id=instance_id, expires_in=int(lifetime))
            return value

    def forget_token(self, instance_id: str) -> None:
        with self._lock_for(instance_id):
            self._tokens.pop(instance_id, None)

    # -- calls -----------------------------------------------------------------------------

    def call(self, method: str, path: str, instance_id: str,
             body: dict[str, Any] | None = None, *, repeatable: bool = True) -> dict[str, Any]:
        """An authorised call; a 401 drops the token and tries once more with a new one.

        `repeatable=False` for a call that would do its work twice if sent again after Wix did
        it but the answer was lost (a create): it is not retried here; the caller looks before
        trying again."""
        for renewed in (False, True):
            token = self.token(instance_id)
            send = (lambda token=token: self._send(method, path, instance_id, token, body))
            try:
                return self._retrying(send) if repeatable else send()
            except WixUnauthorized:
                self.forget_token(instance_id)
                if renewed:
                    raise
                logs.warning(log, "wix_token_refused", instance_id=instance_id, path=path)
        raise AssertionError("unreachable")

    def _retrying(self, attempt: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(WixUnavailable)
            & tenacity.retry_if_exception(
                lambda e: getattr(e, "retry_after", None) is None
                or e.retry_after <= IN_PROCESS_MAX_WAIT),
            stop=(tenacity.stop_after_attempt(IN_PROCESS_ATTEMPTS)
                  | tenacity.stop_after_delay(IN_PROCESS_BUDGET)),
            wait=_wait_for, sleep=self._sleep, reraise=True)
        return retrying(attempt)

    def _send(self, method: str, path: str, instance_id: str, token: str | None,
              body: dict[str, Any] | None) -> dict[str, Any]:
        delay = self._pace(instance_id)
        if delay:
            self._sleep(delay)
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token:
            headers["Authorization"] = token
        try:
            response = self._session.request(
                method, self.base_url + path, headers=headers,
                timeout=timeouts.for_request(READ_TIMEOUT),
                data=json.dumps(body).encode() if body is not None else None)
        except requests.Timeout:
            raise WixUnavailable(f"Wix did not answer {method} {path} in time") from None
        except requests.RequestException as error:
            raise WixUnavailable(f"Wix unreachable: {type(error).__name__}") from None
        return classify(response.status_code, response.headers, response.content)

    # -- fulfillments ----------------------------------------------------------------------

    def list_fulfillments(self, instance_id: str, order_id: str) -> list[dict[str, Any]]:
        answer = self.call("GET", f"/ecom/v1/fulfillments/orders/{order_id}", instance_id)
        return list((answer.get("orderWithFulfillments") or {}).get("fulfillments") or [])

    def create_fulfillment(self, instance_id: str, order_id: str,
                           fulfillment: dict[str, Any]) -> str | None:
        """Sent once: Wix refuses a second create of the same items (they are fulfilled
        already), so after a lost answer the caller lists the order's fulfillments first."""
        answer = self.call("POST", f"/ecom/v1/fulfillments/orders/{order_id}/create-fulfillment",
                           instance_id, {"fulfillment": fulfillment}, repeatable=False)
        return answer.get("fulfillmentId")

    def update_fulfillment(self, instance_id: str, order_id: str, fulfillment_id: str,
                           fulfillment: dict[str, Any]) -> None:
        self.call("PATCH", f"/ecom/v1/fulfillments/{fulfillment_id}/orders/{order_id}",
                  instance_id, {"fulfillment": fulfillment})

    # -- orders ----------------------------------------------------------------------------

    def create_order(self, instance_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create Order has no idempotency key: it is sent once; search before sending again."""
        answer = self.call("POST", "/ecom/v1/orders", instance_id, body, repeatable=False)
        order = answer.get("order")
        if not isinstance(order, dict) or not order.get("id"):
            raise WixUnavailable("Wix answered Create Order without an order id")
        return order

    def find_order_by_external_id(self, instance_id: str, external_id: str
                                  ) -> dict[str, Any] | None:
        answer = self.call("POST", "/ecom/v1/orders/search", instance_id, {"search": {
            "filter": {"channelInfo.externalOrderId": {"$eq": external_id}}}})
        found = [o for o in answer.get("orders") or [] if isinstance(o, dict) and o.get("id")]
        return found[0] if found else None

    def orders_updated_since(self, instance_id: str, since: str, cursor: str | None = None
                             ) -> tuple[list[dict[str, Any]], str | None]:
        """eCommerce Search Orders, 100 a page: a cursor carries the query (Wix's cursor
        paging takes no filter or sort with it)."""
        search: dict[str, Any] = {"cursorPaging": {"limit": SEARCH_PAGE}}
        if cursor:
            search["cursorPaging"]["cursor"] = cursor
        else:
            search.update(filter={"updatedDate": {"$gte": since}},
                          sort=[{"fieldName": "updatedDate", "order": "ASC"}])
        answer = self.call("POST", "/ecom/v1/orders/search", instance_id, {"search": search})
        found = [o for o in answer.get("orders") or [] if isinstance(o, dict) and o.get("id")]
        paging = answer.get("metadata") or {}
        following = (paging.get("cursors") or {}).get("next") if paging.get("hasNext") else None
        return found, following or None

    def list_operations(self, instance_id: str) -> list[dict[str, Any]]:
        answer = self.call("GET", "/restaurants-operations/v1/operations", instance_id)
        return [o for o in answer.get("operations") or [] if isinstance(o, dict)]

    # -- POS Connectivity API ---------------------------------------------------------------

    def list_configurations(self, instance_id: str) -> list[dict[str, Any]]:
        """The site's location configurations for this POS integration."""
        answer = self.call("GET", f"{POS_INTEGRATION}/configurations", instance_id)
        return [c for c in answer.get("configurations") or [] if isinstance(c, dict)]

    def get_configuration(self, instance_id: str, configuration_id: str) -> dict[str, Any] | None:
        answer = self.call("GET", f"{POS_INTEGRATION}/configurations/{configuration_id}",
                           instance_id)
        found = answer.get("configuration")
        return found if isinstance(found, dict) else None

    def disconnect_account(self, instance_id: str, account_id: str) -> None:
        self.call("POST", f"{POS_INTEGRATION}/accounts/{account_id}/disconnect", instance_id,
                  {"appDefId": self._app_id})

    def disconnect_configuration(self, instance_id: str, configuration_id: str) -> None:
        self.call("POST", f"{POS_INTEGRATION}/configurations/{configuration_id}/disconnect",
                  instance_id, {})
