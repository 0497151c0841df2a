"""The Wix REST client: tokens per instance, cached and renewed; retries only where they help."""
import json

import pytest
import responses

from bridge.wix.port import WixRejected, WixUnauthorized, WixUnavailable
from tests.builders import INSTANCE, WIX_URL

TOKEN_URL = f"{WIX_URL}/oauth2/token"
ORDER = "5a2c1b0e-7d3f-4a8e-9b61-2f4c8d9e0a11"
LIST_URL = f"{WIX_URL}/ecom/v1/fulfillments/orders/{ORDER}"
PATCH_URL = f"{WIX_URL}/ecom/v1/fulfillments/f-1/orders/{ORDER}"


def token(mocked, value="tok-1", expires_in=14400):
    return mocked.post(TOKEN_URL, json={"access_token": value, "token_type": "Bearer",
                                        "expires_in": expires_in})


def listing(mocked, **kwargs):
    return mocked.get(LIST_URL, json={"orderWithFulfillments": {"orderId": ORDER,
                                                                "fulfillments": []}}, **kwargs)


def test_the_token_request_is_client_credentials_for_the_instance(wix_api, mocked):
    token(mocked)
    listing(mocked)
    wix_api.list_fulfillments(INSTANCE, ORDER)
    assert json.loads(mocked.calls[0].request.body) == {
        "grant_type": "client_credentials", "client_id": "app-id", "client_secret": "app-secret",
        "instance_id": INSTANCE}
    assert mocked.calls[1].request.headers["Authorization"] == "tok-1"  # no "Bearer"


def test_one_token_serves_many_calls_and_each_instance_has_its_own(wix_api, mocked):
    first = token(mocked, "tok-1")
    calls = listing(mocked)
    for _ in range(5):
        wix_api.list_fulfillments(INSTANCE, ORDER)
    assert first.call_count == 1 and calls.call_count == 5
    mocked.replace(responses.POST, TOKEN_URL, json={"access_token": "tok-other",
                                                    "expires_in": 14400})
    wix_api.list_fulfillments("other-instance", ORDER)
    assert mocked.calls[-1].request.headers["Authorization"] == "tok-other"
    wix_api.list_fulfillments(INSTANCE, ORDER)
    assert mocked.calls[-1].request.headers["Authorization"] == "tok-1"


def test_a_token_is_renewed_shortly_before_it_expires(wix_api, mocked, clock):
    token_calls = token(mocked, "tok-1", expires_in=14400)
    listing(mocked)
    wix_api.list_fulfillments(INSTANCE, ORDER)
    clock.now += 14400 - 600  # well inside its life: reused
    wix_api.list_fulfillments(INSTANCE, ORDER)
    assert token_calls.call_count == 1
    clock.now += 400          # within the renewal margin
    wix_api.list_fulfillments(INSTANCE, ORDER)
    assert token_calls.call_count == 2


def test_a_401_drops_the_token_and_tries_once_more_with_a_new_one(wix_api, mocked):
    mocked.post(TOKEN_URL, json={"access_token": "stale", "expires_in": 14400})
    mocked.post(TOKEN_URL, json={"access_token": "fresh", "expires_in": 14400})
    mocked.get(LIST_URL, status=401, json={"message": "token expired"})
    listing(mocked)
    wix_api.list_fulfillments(INSTANCE, ORDER)
    assert [c.request.headers.get("Authorization") for c in mocked.calls] == [
        None, "stale", None, "fresh"]


def test_a_second_401_is_surfaced_not_looped(wix_api, mocked):
    token(mocked)
    listing(mocked, status=401)
    with pytest.raises(WixUnauthorized):
        wix_api.list_fulfillments(INSTANCE, ORDER)
    assert len(mocked.calls) == 4  # token, call, token, call


def test_a_429_waits_as_retry_after_says_then_succeeds(wix_api, mocked, clock):
    token(mocked)
    mocked.patch(PATCH_URL, status=429, headers={"Retry-After": "2"},
                 json={"message": "rate limit"})
    mocked.patch(PATCH_URL, json={"orderWithFulfillments": {}})
    wix_api.update_fulfillment(INSTANCE, ORDER, "f-1", {"status": "Ready"})
    assert clock.sleeps == [2.0]


def test_a_503_is_retried_with_backoff(wix_api, mocked, clock):
    token(mocked)
    mocked.patch(PATCH_URL, status=503)
    mocked.patch(PATCH_URL, status=503)
    mocked.patch(PATCH_URL, json={})
    wix_api.update_fulfillment(INSTANCE, ORDER, "f-1", {"status": "Ready"})
    assert len(clock.sleeps) == 2 and all(0 < s <= 5 for s in clock.sleeps)


def test_a_long_retry_after_goes_back_to_the_worker_instead_of_blocking(wix_api, mocked, clock):
    token(mocked)
    mocked.patch(PATCH_URL, status=429, headers={"Retry-After": "120"})
    with pytest.raises(WixUnavailable) as raised:
        wix_api.update_fulfillment(INSTANCE, ORDER, "f-1", {"status": "Ready"})
    assert raised.value.retry_after == 120 and clock.sleeps == []


def test_a_400_is_not_retried_and_carries_wix_s_code(wix_api, mocked, clock):
    token(mocked)
    mocked.patch(PATCH_URL, status=400, json={
        "message": "status is invalid",
        "details": {"applicationError": {"code": "INVALID_STATUS", "description": "bad"}}})
    with pytest.raises(WixRejected, match="INVALID_STATUS") as raised:
        wix_api.update_fulfillment(INSTANCE, ORDER, "f-1", {"status": "ready"})
    assert raised.value.status == 400 and clock.sleeps == []
    assert len(mocked.calls) == 2


def test_calls_are_paced_to_wix_s_rate_limit_per_instance(wix_api, mocked, clock):
    token(mocked)
    listing(mocked)
    for _ in range(205):  # the token call and 205 listings: beyond 200 in one minute
        wix_api.list_fulfillments(INSTANCE, ORDER)
    assert len(clock.sleeps) >= 5 and sum(clock.sleeps) >= 5 * 60 / 200 - 0.01
