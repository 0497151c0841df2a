"""Verify a Wix webhook: the request body is a compact JWT signed RS256 with Wix's key for the app.

Verification fails closed: only RS256 is accepted (so `none` and HS256-with-the-public-key tricks
are refused by construction), and there is no code path that skips it. joserfc does the JOSE work:
it verifies with the same strictness as PyJWT at a quarter of the cost, which matters because
verifying is most of what the receiver does per request (docs/performance.md).
"""
from __future__ import annotations

import base64
import binascii
import json
import time
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey
from joserfc.jws import JWSRegistry

from bridge.wix.events import WixEvent, event_from_claims

ALGORITHMS = ["RS256"]
MAX_TOKEN_BYTES = 1024 * 1024   # the receiver's body limit; joserfc's default payload cap is 128 KB
CLOCK_SKEW_SECONDS = 300        # tolerance for exp / nbf / iat, when Wix sends them


class NotAJwt(ValueError):
    """The body is not a compact JWT at all (400)."""


class BadSignature(ValueError):
    """A JWT, but it does not verify with the app's public key (401)."""


def _registry() -> JWSRegistry:
    registry = JWSRegistry(algorithms=ALGORITHMS, strict_check_header=False)
    registry.max_payload_length = MAX_TOKEN_BYTES
    registry.max_header_length = 8 * 1024
    return registry


def load_public_key(text: str) -> RSAPublicKey:
    """Accept PEM text, PEM with `\\n` escapes (as env vars carry it), or base64 of PEM or DER."""
    text = text.strip().replace("\\n", "\n")
    candidates: list[bytes] = [text.encode()]
    if "-----BEGIN" not in text:
        try:
            candidates.append(base64.b64decode("".join(text.split()), validate=True))
        except (binascii.Error, ValueError):
            pass
    for raw in candidates:
        for loader in (serialization.load_pem_public_key, serialization.load_der_public_key):
            try:
                key = loader(raw)
            except (ValueError, TypeError):
                continue
            if isinstance(key, RSAPublicKey):
                return key
            raise ValueError("the key is not an RSA public key")
    raise ValueError("not a PEM or base64 public key")


class Verifier:
    """Verifies webhook JWTs with one public key; built once, shared by every request."""

    def __init__(self, public_key: RSAPublicKey):
        self._key = RSAKey.import_key(public_key)
        self._registry = _registry()
        self._claims = jwt.JWTClaimsRegistry(now=lambda: int(time.time()),
                                             leeway=CLOCK_SKEW_SECONDS)

    def claims(self, token: bytes | str, *, required: jwt.JWTClaimsRegistry | None = None
               ) -> dict[str, Any]:
        """The verified claims of a Wix JWT; `required`: claims it must carry, beyond a
        webhook's (see `bridge.wix.spi`)."""
        if isinstance(token, bytes):
            try:
                token = token.decode("ascii")
            except UnicodeDecodeError:
                raise NotAJwt("body is not a JWT") from None
        token = token.strip()
        try:
            claims = jwt.decode(token, self._key, algorithms=ALGORITHMS,
                                registry=self._registry).claims
            (required or self._claims).validate(claims)
        except (JoseError, ValueError, RecursionError) as error:
            # RecursionError: JSON nested deeper than the parser goes, which no JWT is.
            # Only a refused token is looked at again, to answer garbage (400) apart from a JWT
            # that fails (401): the accepted ones, nearly all of them, are decoded once.
            if token.count(".") != 2 or not isinstance(_header(token), dict):
                raise NotAJwt("body is not a JWT") from None
            raise BadSignature(f"JWT refused: {type(error).__name__}: {error}") from None
        return claims

    def event(self, body: bytes) -> WixEvent:
        """Verify, then unwrap. Raises NotAJwt, BadSignature or InvalidEnvelope."""
        return event_from_claims(self.claims(body))


def _header(token: str) -> object:
    """The JOSE header, or None: what tells a JWT (even a badly signed one) from garbage."""
    segment = token.split(".", 1)[0]
    try:
        return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, binascii.Error, RecursionError):
        return None
