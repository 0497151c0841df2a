"""`POST /pos/<client>/events` answers: what a POS sees when its callback is refused, and that
nothing is stored then. What a stored callback moves is tested at the service
(tests/service/test_service_statuses.py, tests/service/test_callbacks.py)."""
import time

import pytest

from tests.builders import signed_callback


@pytest.mark.parametrize("make, status, code", [
    (lambda: signed_callback({"orderId": "pos-1", "status": "READY"},
                             secret="whsec_" + "QUJD" * 8), 401, "bad_signature"),
    (lambda: signed_callback({"orderId": "pos-1", "status": "READY"}, at=time.time() - 301),
     401, "bad_signature"),
    (lambda: (signed_callback({"orderId": "pos-1", "status": "READY"})[0] + b" ",
              signed_callback({"orderId": "pos-1", "status": "READY"})[1]), 401, "bad_signature"),
    (lambda: (b'{"orderId": "pos-1", "status": "READY"}', {}), 401, "bad_signature"),
    (lambda: signed_callback(b"not json at all"), 400, "malformed_callback"),
    (lambda: signed_callback({"status": "READY"}), 400, "malformed_callback"),
    (lambda: signed_callback({"orderId": "pos-1", "status": "EATEN"}), 400, "malformed_callback"),
    (lambda: signed_callback([1, 2]), 400, "malformed_callback"),
])
def test_a_bad_callback_is_refused_and_stores_nothing(client, store, make, status, code):
    body, headers = make()
    answer = client.post("/pos/webhook/events", data=body, headers=headers)
    assert answer.status_code == status and answer.get_json()["error"]["code"] == code
    assert store.list_status_updates() == []


def test_a_callback_for_a_client_that_is_not_configured_is_404(client, store):
    body, headers = signed_callback({"orderId": "pos-1", "status": "READY"})
    answer = client.post("/pos/square/events", data=body, headers=headers)
    assert answer.status_code == 404 and answer.get_json()["error"]["code"] == "no_such_client"
    assert store.list_status_updates() == []


def test_a_stored_callback_is_answered_200(client, store):
    body, headers = signed_callback({"orderId": "pos-1", "status": "READY"})
    assert client.post("/pos/webhook/events", data=body, headers=headers).get_json() == {}
    [update] = store.list_status_updates()
    assert (update.pos_order_id, update.status) == ("pos-1", "READY")
