"""Verify a Wix webhook: the request body is a compact JWT signed RS256 with Wix's key for the app.

Verification fails closed: only RS256 is accepted (so `none` and HS256-with-the-public-key tricks
are refused by construction), and there is no code path that skips it.
"""
from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from bridge.wix.events import WixEvent, event_from_claims

ALGORITHMS = ["RS256"]


class NotAJwt(ValueError):
    """The body is not a compact JWT at all (400)."""


class BadSignature(ValueError):
    """A JWT, but it does not verify with the app's public key (401)."""


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


def verify(token: bytes | str, public_key: RSAPublicKey) -> dict[str, Any]:
    """The verified claims of a Wix webhook JWT."""
    if isinstance(token, bytes):
        try:
            token = token.decode("ascii")
        except UnicodeDecodeError:
            raise NotAJwt("body is not a JWT") from None
    token = token.strip()
    if token.count(".") != 2 or not isinstance(_header(token), dict):
        raise NotAJwt("body is not a JWT")
    try:
        return jwt.decode(token, public_key, algorithms=ALGORITHMS,
                          options={"verify_aud": False, "verify_iss": False})
    except jwt.PyJWTError as error:
        raise BadSignature(f"JWT refused: {error}") from None


def _header(token: str) -> object:
    """The JOSE header, or None: what tells a JWT (even a badly signed one) from garbage."""
    segment = token.split(".", 1)[0]
    try:
        return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, binascii.Error):
        return None


def event_from_request(body: bytes, public_key: RSAPublicKey) -> WixEvent:
    """Verify, then unwrap. Raises NotAJwt, BadSignature or InvalidEnvelope."""
    return event_from_claims(verify(body, public_key))
