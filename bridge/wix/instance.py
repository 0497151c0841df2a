"""The signed `instance` query parameter Wix adds when it opens the app's dashboard page in its
iframe: who is looking, at which site.

Its form (Wix, "Parse the App Instance Query Parameter"): `<signature>.<data>`, both base64url
without padding; `data` is a JSON object with `instanceId` (the site's app instance), `uid` (the
Wix user), `permissions` (e.g. "OWNER") and `signDate` (ISO time); `signature` is HMAC-SHA256 of
the `data` text keyed with the app's secret (WIX_APP_SECRET). Wix now also offers a Token Info
call that answers the same question over the network; checking the signature here needs no call
and no network, and fails closed.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timezone

# A dashboard link is used as soon as Wix makes it; an older one was copied from somewhere.
MAX_AGE_SECONDS = 24 * 3600
CLOCK_SKEW_SECONDS = 300


class BadInstance(ValueError):
    """The parameter is malformed, not signed with the app's secret, or too old."""


@dataclass(frozen=True)
class DashboardVisitor:
    instance_id: str
    user_id: str | None
    permissions: str | None


def _unbase64(text: str) -> bytes:
    try:
        return base64.b64decode(text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4),
                                validate=True)
    except (binascii.Error, ValueError):
        raise BadInstance("the instance is not base64url") from None


def sign(data: dict, secret: str) -> str:
    """An instance parameter as Wix makes it (for the CLI's dashboard links, and tests)."""
    body = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=")
    mac = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode() + "." + body.decode()


def verify(parameter: str, secret: str, now: float, *, app_id: str | None = None,
           max_age: float = MAX_AGE_SECONDS) -> DashboardVisitor:
    signature, dot, body = parameter.strip().partition(".")
    if not dot or not signature or not body:
        raise BadInstance("the instance is not <signature>.<data>")
    expected = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(_unbase64(signature), expected):
        raise BadInstance("the instance is not signed with this app's secret")
    try:
        data = json.loads(_unbase64(body))
    except ValueError:
        raise BadInstance("the instance's data is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("instanceId"), str) \
            or not data["instanceId"].strip():
        raise BadInstance("the instance names no instanceId")
    if app_id and data.get("appDefId") not in (None, app_id):
        raise BadInstance("the instance is of another app")
    try:
        signed = datetime.fromisoformat(str(data.get("signDate", "")).replace("Z", "+00:00"))
    except ValueError:
        raise BadInstance("the instance has no signDate") from None
    if signed.tzinfo is None:
        signed = signed.replace(tzinfo=timezone.utc)
    age = now - signed.timestamp()
    if age > max_age or age < -CLOCK_SKEW_SECONDS:
        raise BadInstance("the instance is too old: open the app again from the Wix dashboard")
    return DashboardVisitor(data["instanceId"].strip(), _text(data.get("uid")),
                            _text(data.get("permissions")))


def _text(value) -> str | None:
    return value if isinstance(value, str) and value else None
