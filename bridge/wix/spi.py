"""Verify a call Wix makes to the POS Integration SPI.

The body is a JWT signed RS256 with the app's key, like a webhook's, but its claims are the call
itself: `{"data": {"request": {...}, "metadata": {"instanceId", "requestId", ...}}, "iss":
"wix.com", "aud": <app id>, "iat", "exp"}`, `data` an object (a webhook's is a JSON string). Every
one of `iss`, `aud` and `exp` must be there and right: a token minted for another app, or one
that never expires, is refused like a bad signature.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Mapping

from joserfc import jwt

from bridge.wix.webhooks import CLOCK_SKEW_SECONDS, BadSignature, NotAJwt, Verifier

ISSUER = "wix.com"

__all__ = ["BadSignature", "MalformedCall", "NotAJwt", "NotConfigured", "SpiCall",
           "SpiVerifier"]


class NotConfigured(BadSignature):
    """No WIX_APP_ID to check the token's audience against: no call can be trusted (401)."""


class MalformedCall(ValueError):
    """A verified token whose claims are not an SPI call (400)."""


@dataclass(frozen=True)
class SpiCall:
    instance_id: str
    request: Mapping[str, Any]
    request_id: str | None = None


class SpiVerifier:
    def __init__(self, verifier: Verifier, app_id: str | None):
        self._verifier = verifier
        self._app_id = app_id
        self._required = jwt.JWTClaimsRegistry(
            now=lambda: int(time.time()), leeway=CLOCK_SKEW_SECONDS,
            iss={"essential": True, "value": ISSUER},
            aud={"essential": True, "value": app_id or ""},
            exp={"essential": True})

    def call(self, body: bytes) -> SpiCall:
        """Raises NotAJwt (400), BadSignature (401) or MalformedCall (400)."""
        if not self._app_id:
            raise NotConfigured("WIX_APP_ID is not set: an SPI call's audience cannot be checked, "
                                "so none is accepted (sandbox mode has no Wix app)")
        claims = self._verifier.claims(body, required=self._required)
        data = claims.get("data")
        if not isinstance(data, dict):
            raise MalformedCall("the token's data is not an object")
        request = data.get("request", {})
        metadata = data.get("metadata") or {}
        if not isinstance(request, dict) or not isinstance(metadata, dict):
            raise MalformedCall("data.request and data.metadata must be objects")
        instance_id = metadata.get("instanceId")
        if not instance_id or not isinstance(instance_id, str):
            raise MalformedCall("data.metadata.instanceId is missing")
        request_id = metadata.get("requestId")
        return SpiCall(instance_id, request, request_id if isinstance(request_id, str) else None)
