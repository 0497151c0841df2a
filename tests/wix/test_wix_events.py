"""Unwrapping Wix webhooks: both body forms, every event type the bridge handles."""
import json

import pytest

from bridge.wix import events as wix_events
from bridge.wix.events import InvalidEnvelope, event_from_claims
from tests.builders import INSTANCE


def test_the_order_created_sample_unwraps_to_its_order(sample):
    event = event_from_claims(sample("order_created")["claims"])
    assert event.id == "e5c1a8f0-2b3d-4c5e-8f71-9a0b1c2d3e4f"
    assert event.event_type == wix_events.ORDER_CREATED
    assert event.instance_id == INSTANCE
    assert event.sequence == 1
    assert event.order_id == "5a2c1b0e-7d3f-4a8e-9b61-2f4c8d9e0a11"
    assert event.order["number"] == "10042"


def test_the_order_approved_sample_finds_the_order_in_the_action_body(sample):
    event = event_from_claims(sample("order_approved")["claims"])
    assert event.event_type == wix_events.ORDER_APPROVED
    assert event.sequence == 2
    assert event.order["status"] == "APPROVED"
    assert event.order["id"] == event.order_id


def _claims_for(domain_event: dict, event_type: str) -> dict:
    envelope = {"instanceId": INSTANCE, "eventType": event_type, "data": json.dumps(domain_event)}
    return {"data": json.dumps(envelope)}


def test_the_entity_as_json_sample_gives_the_same_order_as_the_object_form(sample):
    old = _claims_for(sample("order_created_entityAsJson")["parsed_domain_event"],
                      wix_events.ORDER_CREATED)
    new = sample("order_created")["claims"]
    assert event_from_claims(old).order == event_from_claims(new).order


@pytest.mark.parametrize("body_key, object_key, json_key", [
    ("createdEvent", "entity", "entityAsJson"),
    ("updatedEvent", "currentEntity", "currentEntityAsJson"),
    ("actionEvent", "body", "bodyAsJson"),
])
@pytest.mark.parametrize("as_string", [False, True])
def test_every_body_is_read_under_either_key_as_object_or_string(body_key, object_key, json_key,
                                                                as_string):
    order = {"id": "o-1", "status": "APPROVED"}
    inner = {"order": order} if body_key == "actionEvent" else order
    for key in (object_key, json_key):
        value = json.dumps(inner) if as_string else inner
        domain = {"id": "ev-1", "entityId": "o-1", body_key: {key: value}}
        event = event_from_claims(_claims_for(domain, wix_events.ORDER_APPROVED
                                              if body_key == "actionEvent"
                                              else wix_events.ORDER_UPDATED))
        assert event.order == order


def test_an_app_event_has_its_payload_and_each_delivery_an_id_of_its_own():
    """Installs and removals are applied by the site's state: a re-install may come byte for
    byte as the first install, and must not be taken for a duplicate."""
    claims = _claims_for({"appId": "app", "originInstanceId": ""}, wix_events.APP_INSTALLED)
    first, again = event_from_claims(claims), event_from_claims(claims)
    assert first.payload == {"appId": "app", "originInstanceId": ""}
    assert first.id != again.id and first.id.rsplit(":", 1)[0] == again.id.rsplit(":", 1)[0]
    assert first.entity_id is None and first.order is None


def test_an_unknown_event_type_unwraps_but_is_not_handled():
    event = event_from_claims(_claims_for({"id": "x", "entityId": "y"}, "wix.ecom.v1.order_paid"))
    assert not event.handled


@pytest.mark.parametrize("claims, message", [
    ({}, "claims.data"),
    ({"data": "not json"}, "claims.data"),
    ({"data": json.dumps([1])}, "claims.data"),
    ({"data": json.dumps({"instanceId": INSTANCE, "data": "{}"})}, "eventType"),
    ({"data": json.dumps({"eventType": "x", "data": "{}"})}, "instanceId"),
    ({"data": json.dumps({"eventType": "x", "instanceId": INSTANCE})}, "envelope.data"),
    ({"data": json.dumps({"eventType": "x", "instanceId": INSTANCE,
                          "data": json.dumps({"entityFqdn": "wix.ecom.v1.order"})})}, "no id"),
])
def test_a_claim_set_that_is_not_a_wix_envelope_is_refused(claims, message):
    with pytest.raises(InvalidEnvelope, match=message):
        event_from_claims(claims)


@pytest.mark.parametrize("raw, sequence", [("7", 7), (2**63 - 1, 2**63 - 1), (2**63, None),
                                           (10**30, None), ("x", None), (True, None)])
def test_an_event_sequence_is_kept_only_when_a_database_column_can_hold_it(raw, sequence):
    event = event_from_claims(_claims_for(
        {"id": "e-1", "entityId": "o-1", "entityEventSequence": raw,
         "createdEvent": {"entity": {"id": "o-1"}}}, wix_events.ORDER_CREATED))
    assert event.sequence == sequence
