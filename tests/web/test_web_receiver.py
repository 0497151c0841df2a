"""`POST /webhooks/wix`: verified events are stored before the 200; nothing else is stored."""
import base64
import json

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from bridge.service import inbox
from bridge.wix import events as wix_events
from tests.builders import an_order


def stored_events(store) -> int:
    return store._execute("SELECT count(*) FROM events").one()[0]


def pending_work(store) -> int:
    return store.job_counts().get("pending", 0)


def test_a_signed_order_webhook_is_stored_as_pending_work_before_the_200(client, store, signer):
    order = an_order()
    answer = client.post("/webhooks/wix", data=signer.order_webhook(order),
                         content_type="text/plain")
    assert answer.status_code == 200 and answer.get_json() == {}
    row = store._execute("SELECT entity_id, event_type FROM events").one()
    assert row == (order["id"], wix_events.ORDER_CREATED)
    assert pending_work(store) == 1


def test_the_sample_claims_are_accepted_as_wix_sends_them(client, store, signer, sample):
    token = signer.claims_token(sample("order_created")["claims"])
    assert client.post("/webhooks/wix", data=token).status_code == 200
    event = inbox.load(store, "e5c1a8f0-2b3d-4c5e-8f71-9a0b1c2d3e4f")
    assert event.order["number"] == "10042"


def test_a_duplicate_event_is_acknowledged_and_stored_once(client, store, signer):
    token = signer.order_webhook(an_order())
    assert client.post("/webhooks/wix", data=token).status_code == 200
    assert client.post("/webhooks/wix", data=token).status_code == 200
    assert stored_events(store) == 1 and pending_work(store) == 1


def test_an_unknown_event_type_is_acknowledged_and_not_stored(client, store, signer):
    token = signer.token({"id": "e-1", "entityId": "o-1", "actionEvent": {"body": {}}},
                         "wix.ecom.v1.fulfillments_updated")
    answer = client.post("/webhooks/wix", data=token)
    assert answer.status_code == 200 and answer.get_json() == {}
    assert stored_events(store) == 0


def assert_refused(answer, status: int, code: str, store) -> None:
    assert answer.status_code == status
    assert answer.get_json()["error"]["code"] == code
    assert answer.get_json()["error"]["message"]
    assert stored_events(store) == 0 and pending_work(store) == 0


def test_a_token_signed_with_another_key_is_refused_with_401(client, store, signer):
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = signer.token({"id": "e"}, wix_events.ORDER_CREATED, key=stranger)
    assert_refused(client.post("/webhooks/wix", data=token), 401, "bad_signature", store)


def test_a_token_with_a_changed_payload_is_refused_with_401(client, store, signer):
    header, payload, signature = signer.order_webhook(an_order()).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["data"] = claims["data"].replace("APPROVED", "CANCELED")
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert_refused(client.post("/webhooks/wix", data=f"{header}.{forged}.{signature}"), 401,
                   "bad_signature", store)


def test_an_unsigned_alg_none_token_is_refused(client, store, signer):
    token = jwt.encode(signer.claims({"id": "e"}, wix_events.ORDER_CREATED), None, algorithm="none")
    assert_refused(client.post("/webhooks/wix", data=token), 401, "bad_signature", store)


def test_an_hs256_token_keyed_with_the_public_key_is_refused(client, store, signer, public_pem):
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=")
    claims = signer.claims({"id": "e"}, wix_events.ORDER_CREATED)
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=")
    import hashlib
    import hmac
    signature = base64.urlsafe_b64encode(
        hmac.new(public_pem.encode(), header + b"." + payload, hashlib.sha256).digest()).rstrip(b"=")
    token = b".".join([header, payload, signature])
    assert_refused(client.post("/webhooks/wix", data=token), 401, "bad_signature", store)


def test_a_truncated_token_is_refused(client, store, signer):
    token = signer.order_webhook(an_order())
    answer = client.post("/webhooks/wix", data=token[: len(token) - 20])
    assert answer.status_code in (400, 401)
    assert stored_events(store) == 0
    assert_refused(client.post("/webhooks/wix", data=token.rsplit(".", 1)[0]), 400, "not_a_jwt",
                   store)


@pytest.mark.parametrize("body", [b"", b"hello", b"{\"data\": 1}", b"a.b.c", b"\xff\xfe.x.y",
                                  b"....", json.dumps({"order": {}}).encode()])
def test_garbage_is_refused_with_400(client, store, body):
    assert_refused(client.post("/webhooks/wix", data=body), 400, "not_a_jwt", store)


def test_a_signed_token_that_is_not_a_wix_envelope_is_refused_with_400(client, store, signer):
    token = signer.claims_token({"data": json.dumps({"hello": "world"})})
    assert_refused(client.post("/webhooks/wix", data=token), 400, "not_an_envelope", store)


def test_a_body_over_one_mebibyte_is_refused_with_413(client, store):
    answer = client.post("/webhooks/wix", data=b"a" * (1024 * 1024 + 1))
    assert_refused(answer, 413, "payload_too_large", store)


def test_an_unknown_path_answers_json_404(client):
    answer = client.get("/nowhere")
    assert answer.status_code == 404 and answer.get_json()["error"]["code"] == "not_found"


def test_health_answers_ok_while_the_database_answers(client):
    answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.get_json()["status"] == "ok"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_health_answers_503_when_the_database_is_gone(client, store):
    store.close()
    store.path.unlink()
    store.path.mkdir()  # the path now holds no database at all
    answer = client.get("/healthz")
    assert answer.status_code == 503
    assert answer.get_json()["error"]["code"] == "database_unavailable"


def test_a_large_order_up_to_the_body_limit_is_accepted(client, store, signer):
    order = an_order(restaurant=300, other=0)  # several hundred KB once signed
    token = signer.order_webhook(order)
    assert 200_000 < len(token) < 1024 * 1024
    assert client.post("/webhooks/wix", data=token).status_code == 200
    assert stored_events(store) == 1


def test_an_expired_token_is_refused(client, store, signer):
    import time
    claims = signer.claims({"id": "e", "entityId": "o"}, wix_events.ORDER_CREATED)
    claims["exp"] = int(time.time()) - 3600
    assert_refused(client.post("/webhooks/wix", data=signer.claims_token(claims)), 401,
                   "bad_signature", store)


def test_a_token_with_an_unknown_critical_header_is_refused(client, store, signer):
    claims = signer.claims({"id": "e", "entityId": "o"}, wix_events.ORDER_CREATED)
    token = jwt.encode(claims, signer.private_key, algorithm="RS256",
                       headers={"crit": ["x-unknown"], "x-unknown": 1})
    assert_refused(client.post("/webhooks/wix", data=token), 401, "bad_signature", store)


def test_an_event_sequence_too_large_for_the_database_is_stored_without_it(client, store, signer):
    order = an_order()
    token = signer.order_webhook(order, wix_events.ORDER_CREATED, 10**30)
    assert client.post("/webhooks/wix", data=token).status_code == 200
    assert stored_events(store) == 1


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize("nested", ["header", "payload"])
def test_deeply_nested_json_is_refused_with_400_and_one_log_line(client, store, caplog, nested):
    deep = _b64(b"[" * 6000 + b"]" * 6000)
    plain = _b64(b'{"alg":"RS256","typ":"JWT"}')
    token = f"{deep}.{_b64(b'{}')}.c2ln" if nested == "header" else f"{plain}.{deep}.c2ln"
    answer = client.post("/webhooks/wix", data=token)
    assert answer.status_code in (400, 401) and answer.get_json()["error"]["code"] in (
        "not_a_jwt", "bad_signature")
    assert stored_events(store) == 0
    assert "Traceback" not in caplog.text and "RecursionError" not in caplog.text
    assert [r.levelname for r in caplog.records] == ["WARNING"]
