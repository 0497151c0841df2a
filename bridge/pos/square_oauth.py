"""Square's OAuth, the code flow: how a seller connects their Square account to this app without
handing anyone a token (Square's OAuth API: ObtainToken, RevokeToken; the authorize page).

The application's ID and secret are the operator's (POS_SQUARE_APPLICATION_ID,
POS_SQUARE_APPLICATION_SECRET); each seller's tokens are their account's, stored encrypted like
any credential. Access tokens last 30 days; the bridge renews them well before (a job).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping
from urllib.parse import urlencode

import requests

from bridge.pos.base import PosUnavailable
from bridge.pos.square import PRODUCTION, call

# What the client does with a seller's account, and no more: read the business and its
# locations (the credentials check, pairing), read and write orders, read the catalog (menus).
SCOPES = ("MERCHANT_PROFILE_READ", "ORDERS_READ", "ORDERS_WRITE", "ITEMS_READ")
TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Tokens:
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: str          # ISO 8601, as Square gives it
    merchant_id: str | None

    @property
    def expires_epoch(self) -> float:
        return datetime.fromisoformat(self.expires_at.replace("Z", "+00:00")).timestamp()


@dataclass(frozen=True)
class SquareApp:
    """The operator's Square application."""
    application_id: str
    application_secret: str = field(repr=False)
    base_url: str = PRODUCTION

    @classmethod
    def from_settings(cls, settings: Mapping[str, str]) -> "SquareApp | None":
        """None unless both the ID and the secret are set: owners then paste no token."""
        app_id = (settings.get("POS_SQUARE_APPLICATION_ID") or "").strip()
        secret = (settings.get("POS_SQUARE_APPLICATION_SECRET") or "").strip()
        if not app_id or not secret:
            return None
        base = (settings.get("POS_SQUARE_BASE_URL") or PRODUCTION).strip().rstrip("/")
        return cls(app_id, secret, base)


class SquareOAuth:
    def __init__(self, app: SquareApp, session: requests.Session | None = None,
                 timeout: float = TIMEOUT_SECONDS):
        self.app = app
        self._session = session or requests.Session()
        self.timeout = timeout

    def authorize_url(self, state: str, redirect_uri: str) -> str:
        """Square's page where the seller signs in and allows this app; it comes back to
        `redirect_uri` with `code` and `state` (or `error`)."""
        return f"{self.app.base_url}/oauth2/authorize?" + urlencode({
            "client_id": self.app.application_id, "scope": " ".join(SCOPES),
            "session": "false", "state": state, "redirect_uri": redirect_uri})

    def exchange(self, code: str, redirect_uri: str) -> Tokens:
        """ObtainToken for the code the seller's browser brought back."""
        return self._tokens({"client_id": self.app.application_id,
                             "client_secret": self.app.application_secret,
                             "code": code, "redirect_uri": redirect_uri,
                             "grant_type": "authorization_code"})

    def refresh(self, refresh_token: str) -> Tokens:
        """ObtainToken with the refresh token: a new access token (the refresh token stays,
        unless Square gives a new one)."""
        tokens = self._tokens({"client_id": self.app.application_id,
                               "client_secret": self.app.application_secret,
                               "refresh_token": refresh_token, "grant_type": "refresh_token"})
        return tokens if tokens.refresh_token else Tokens(
            tokens.access_token, refresh_token, tokens.expires_at, tokens.merchant_id)

    def main_location(self, access_token: str) -> str | None:
        """RetrieveMerchant (`me`) with a new token: the seller's main location, where orders
        go until the owner pairs their locations."""
        answer = self._call("/v2/merchants/me", None, f"Bearer {access_token}", method="GET")
        return (answer.get("merchant") or {}).get("main_location_id")

    def revoke(self, access_token: str) -> None:
        """RevokeToken: every token of this app for the seller stops working."""
        self._call("/oauth2/revoke", {"client_id": self.app.application_id,
                                      "access_token": access_token},
                   f"Client {self.app.application_secret}")

    def _tokens(self, body: dict[str, Any]) -> Tokens:
        # ObtainToken is the app's own call: its body names the app, no header does.
        answer = self._call("/oauth2/token", body, None)
        if not answer.get("access_token") or not answer.get("expires_at"):
            raise PosUnavailable("Square's token answer has no access token or expiry")
        return Tokens(answer["access_token"], answer.get("refresh_token") or "",
                      answer["expires_at"], answer.get("merchant_id"))

    def _call(self, path: str, body: dict[str, Any] | None, authorization: str | None,
              method: str = "POST") -> dict[str, Any]:
        return call(self._session, method, self.app.base_url + path, authorization, body,
                    self.timeout)
