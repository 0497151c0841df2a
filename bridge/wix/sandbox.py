"""Sandbox mode: try the bridge with no Wix app, without ever accepting unsigned data.

With no Wix app configured, the bridge generates an RSA key pair next to its database and verifies
webhooks with that public key, exactly as it would with Wix's. `bridge send-sample` signs a sample
restaurant order with the private key and posts it, playing Wix's part.
"""
from __future__ import annotations

import json
import os
import random
import time
import uuid
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwt
from joserfc.jwk import RSAKey

from bridge.domain.orders import RESTAURANTS_APP_ID
from bridge.wix import events as wix_events

SANDBOX_INSTANCE_ID = "sandbox-instance"


def ensure_key(path: Path) -> rsa.RSAPrivateKey:
    """The sandbox private key, generated (owner-readable only) on first use."""
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{path} does not hold an RSA private key")
        return key
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    try:
        os.link(tmp, path)  # first writer wins when two processes start together
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return ensure_key(path)


def load_key(path: Path) -> rsa.RSAPrivateKey:
    if not path.exists():
        raise FileNotFoundError(f"no sandbox key at {path}: start the bridge in sandbox mode first "
                                "(no WIX_PUBLIC_KEY / WIX_APP_ID set)")
    return ensure_key(path)


def sign_webhook(private_key: rsa.RSAPrivateKey, event_type: str, instance_id: str,
                 data: dict[str, Any]) -> str:
    """A webhook JWT shaped like Wix's: claims.data -> envelope JSON -> data JSON."""
    envelope = {"instanceId": instance_id, "eventType": event_type,
                "identity": json.dumps({"identityType": "APP"}), "data": json.dumps(data)}
    return jwt.encode({"alg": "RS256"}, {"data": json.dumps(envelope), "iat": int(time.time())},
                      RSAKey.import_key(private_key), algorithms=["RS256"])


def sample_order(*, status: str = "APPROVED", order_id: str | None = None,
                 number: str | None = None) -> dict[str, Any]:
    """A restaurant pickup order with one non-restaurant item, as Wix eCommerce sends it."""
    def money(amount: str) -> dict[str, str]:
        return {"amount": amount, "formattedAmount": f"${amount}"}

    options = {"operationId": "f47ac10b-58cc-4372-a567-0e02b2c3d479",
               "menuId": "550e8400-e29b-41d4-a716-446655440000",
               "sectionId": "6ba7b810-9dad-11d1-80b4-00c04fd430c8"}
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    return {
        "id": order_id or str(uuid.uuid4()),
        "number": number or str(random.randint(10000, 99999)),
        "createdDate": now, "status": status, "paymentStatus": "PAID",
        "fulfillmentStatus": "NOT_FULFILLED", "currency": "USD", "buyerNote": "No onions please",
        "businessLocation": {"id": "b7e3f0d2-1c4a-4e58-8f9b-6a0d2c3e4f51", "name": "Downtown"},
        "buyerInfo": {"email": "dana@example.com"},
        "recipientInfo": {"contactDetails": {"firstName": "Dana", "lastName": "Levi",
                                             "phone": "+1 212 555 0142"}},
        "shippingInfo": {"title": "Pickup", "logistics": {
            "pickupDetails": {"pickupMethod": "STORE_PICKUP"},
            "deliveryTimeSlot": {"from": now, "to": now}, "instructions": "Ring the bell"}},
        "priceSummary": {"subtotal": money("36.50"), "shipping": money("0"), "tax": money("3.24"),
                         "discount": money("0"), "total": money("39.74")},
        "lineItems": [
            {"id": str(uuid.uuid4()), "quantity": 2,
             "productName": {"original": "Margherita Pizza"},
             "catalogReference": {"catalogItemId": "d0d5a022-26d5-4203-828f-94798735812a",
                                  "appId": RESTAURANTS_APP_ID, "options": options},
             "price": money("14.00"), "totalPriceAfterTax": money("30.48"),
             "modifierGroups": [{"id": "3f1e2d3c-4b5a-4697-8877-665544332211",
                                 "name": {"original": "Extras"},
                                 "modifiers": [{"id": "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d",
                                                "quantity": 1, "label": {"original": "Extra basil"},
                                                "price": money("1.00")}]}]},
            {"id": str(uuid.uuid4()), "quantity": 1, "productName": {"original": "Tiramisu"},
             "catalogReference": {"catalogItemId": "e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b",
                                  "appId": RESTAURANTS_APP_ID, "options": options},
             "price": money("8.50")},
            {"id": str(uuid.uuid4()), "quantity": 1, "productName": {"original": "Gift Card"},
             "catalogReference": {"catalogItemId": "aa11bb22-cc33-4d44-8e55-ff6677889900",
                                  "appId": "215238eb-22a5-4c36-9e7b-e7c08025e04e"},
             "price": money("0.00")},
        ],
    }


def order_event(order: dict[str, Any], event_type: str = wix_events.ORDER_CREATED,
                sequence: int = 1) -> dict[str, Any]:
    """The domain event (envelope.data) for an order event, in the object form."""
    body: dict[str, Any]
    if event_type == wix_events.ORDER_CREATED:
        body = {"createdEvent": {"entity": order}}
    elif event_type == wix_events.ORDER_UPDATED:
        body = {"updatedEvent": {"currentEntity": order}}
    else:
        body = {"actionEvent": {"body": {"order": order}}}
    return {"id": str(uuid.uuid4()), "entityFqdn": "wix.ecom.v1.order",
            "slug": event_type.rsplit("_", 1)[-1], "entityId": order["id"],
            "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime()),
            "triggeredByAnonymizeRequest": False, "entityEventSequence": str(sequence), **body}
