"""Owners are told by email what needs them, once per incident, a digest when several come
together; against a real SMTP server on loopback (aiosmtpd)."""
import pytest
import requests
from aiosmtpd.controller import Controller

from bridge.web.app import create_app
from bridge.wix import events as wix_events
from tests.builders import INSTANCE, POS_URL, an_order, pos_error
from tests.loopback import free_port

OWNER = "owner@restaurant.example"


class Mailbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, envelope.content.decode()))
        return "250 OK"


@pytest.fixture
def mailbox():
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    box.port = controller.port
    yield box
    controller.stop()


@pytest.fixture
def told(env, make_bridge, mailbox):
    bridge = make_bridge({**env, "BRIDGE_SMTP_URL": f"smtp://127.0.0.1:{mailbox.port}",
                          "BRIDGE_MAIL_FROM": "bridge@integrator.example",
                          "BRIDGE_NOTIFY_DIGEST_SECONDS": "0", "BRIDGE_BREAKER_FAILURES": "1"})
    bridge.store.set_notify_email(INSTANCE, OWNER)
    return bridge


def send_orders(bridge, signer, count):
    client = create_app(bridge).test_client()
    orders = [an_order() for _ in range(count)]
    for order in orders:
        assert client.post("/webhooks/wix", data=signer.order_webhook(
            order, wix_events.ORDER_CREATED)).status_code == 200
    return orders


def drain(bridge):
    bridge.worker(max_attempts=2, wait=lambda state: 0.0, poll_seconds=0.01).drain()


def test_an_order_that_failed_for_good_is_mailed_once(told, signer, mocked, mailbox, caplog):
    mocked.post(POS_URL, json=pos_error("invalid_item_mapping"))
    [order] = send_orders(told, signer, 1)
    drain(told)
    [(to, text)] = mailbox.messages
    assert to == [OWNER]
    assert f"Subject: Order #{order['number']} did not reach your POS" in text
    assert "invalid_item_mapping" in text
    drain(told)   # nothing left to tell: nothing sent again
    assert len(mailbox.messages) == 1
    assert caplog.text.count("event=owner_incident") == 1


def test_failures_that_come_together_are_one_digest(told, signer, mocked, mailbox):
    mocked.post(POS_URL, json=pos_error("cc_rejected"))
    mocked.post(POS_URL, json=pos_error("cc_rejected"))
    mocked.post(POS_URL, json=pos_error("cc_rejected"))
    told.store.set_notify_email(INSTANCE, None)          # no address yet: kept, untold
    orders = send_orders(told, signer, 3)
    drain(told)
    assert mailbox.messages == []
    assert len(told.store.open_incidents(INSTANCE)) == 3
    from bridge.service.notifications import set_address
    assert set_address(told.store, INSTANCE, OWNER) == 3  # as `bridge notify-email` does
    drain(told)
    [(to, text)] = mailbox.messages
    assert "Subject: 3 things on your restaurant need your attention" in text
    assert all(f"Order #{o['number']}" in text for o in orders)


def test_a_pos_that_stops_answering_is_one_incident_an_outage(told, signer, mocked, mailbox):
    mocked.post(POS_URL, body=requests.ConnectionError("refused"))  # then the breaker holds
    send_orders(told, signer, 2)
    told.worker(max_attempts=5, wait=lambda state: 0.0, poll_seconds=0.01).drain(2)
    subjects = [text for _, text in mailbox.messages]
    assert len(subjects) == 1
    assert "Your POS is not answering" in subjects[0]
    assert told.store.open_incidents(INSTANCE) == []
