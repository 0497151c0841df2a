"""GET /metrics: the operator's counts in Prometheus's text format, behind a token."""
import re

import pytest

from bridge.web.app import create_app
from bridge.wix import events as wix_events
from tests.builders import POS_URL, accepted, an_order

TOKEN = "metrics-token-for-the-tests"


@pytest.fixture
def metered(env, make_bridge):
    return make_bridge({**env, "BRIDGE_METRICS_TOKEN": TOKEN})


def scrape(client, token=TOKEN):
    return client.get("/metrics", headers={"Authorization": f"Bearer {token}"} if token else {})


def samples(text: str) -> dict[str, float]:
    """Every sample line, by name and labels as written."""
    found = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            found[name] = float(value)
    return found


def test_an_order_s_way_shows_in_the_metrics(metered, signer, mocked):
    mocked.post(POS_URL, json=accepted("P-1"))
    client = create_app(metered).test_client()
    order = an_order()
    assert client.post("/webhooks/wix", data=signer.order_webhook(
        order, wix_events.ORDER_CREATED)).status_code == 200
    before = samples(scrape(client).get_data(as_text=True))
    assert before['bridge_webhooks_stored_total'] == 1
    metered.worker(wait=lambda state: 0.0, poll_seconds=0.01).drain()
    answer = scrape(client)
    assert answer.status_code == 200
    assert answer.content_type.startswith("text/plain; version=0.0.4")
    after = samples(answer.get_data(as_text=True))
    assert after['bridge_orders{state="sent",direction="exported"}'] == 1
    assert after['bridge_attempts_total{kind="send_order",outcome="done"}'] == 1
    assert after['bridge_attempt_seconds_count{kind="send_order",calls="pos"}'] == 1
    assert after['bridge_attempt_seconds{kind="send_order",calls="pos",quantile="0.99"}'] >= 0
    assert after["bridge_breakers_open"] == 0
    # Every sample line is `name{labels} number`, every family typed.
    text = answer.get_data(as_text=True)
    assert all(re.fullmatch(r'[a-z_]+(\{[^}]*\})? -?[0-9.e+-]+', line)
               for line in text.splitlines() if line and not line.startswith("#"))
    assert text.count("# TYPE ") == text.count("# HELP ")


def test_a_waiting_job_s_age_is_reported(metered, signer, mocked):
    client = create_app(metered).test_client()
    client.post("/webhooks/wix", data=signer.order_webhook(an_order(), wix_events.ORDER_CREATED))
    metered.worker(max_attempts=5, wait=lambda state: 3600.0, poll_seconds=0.01).run_once()
    found = samples(scrape(client).get_data(as_text=True))
    assert found['bridge_jobs{kind="send_order",state="pending"}'] == 1
    assert found['bridge_oldest_pending_job_age_seconds{kind="send_order"}'] >= 0


def test_metrics_need_the_token_and_are_off_without_one(metered, bridge):
    client = create_app(metered).test_client()
    assert scrape(client, token="wrong").status_code == 401
    assert scrape(client, token=None).status_code == 401
    off = create_app(bridge).test_client()
    assert scrape(off).status_code == 404
    assert scrape(off).get_json()["error"]["code"] == "metrics_disabled"
