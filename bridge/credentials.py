"""POS credentials at rest: sealed with Fernet under `BRIDGE_SECRET_KEY`, opened only to build a
site's POS client.

Several keys, separated by spaces, rotate without downtime: the first seals, any opens. Add the new
key in front, run `bridge accounts reseal`, then drop the old one. A sealed value says nothing of
what it holds; an error never quotes one.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Mapping

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class KeyringError(ValueError):
    """Credentials cannot be sealed or opened with the configured keys."""


def new_key() -> str:
    return Fernet.generate_key().decode()


MIN_SECRET_CHARS = 32


def _fernet(key: str, number: int, count: int) -> Fernet:
    """A Fernet key as it is, or a long random secret (Heroku's `generator: secret` makes 64 hex
    characters) turned into one: the key is its SHA-256."""
    try:
        return Fernet(key.encode())
    except (ValueError, TypeError):
        pass
    if len(key) < MIN_SECRET_CHARS:
        raise KeyringError(f"key {number} of {count} is neither a Fernet key (`bridge accounts "
                           f"new-key` makes one) nor a random secret of at least "
                           f"{MIN_SECRET_CHARS} characters")
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(key.encode()).digest()))


class Keyring:
    def __init__(self, keys: list[str]):
        if not keys:
            raise KeyringError("no key")
        self._fernet = MultiFernet([_fernet(key, n, len(keys)) for n, key in enumerate(keys, 1)])
        self._first = keys[0]

    def derive(self, purpose: str) -> bytes:
        """A secret for another use (signing dashboard sessions), from the first key: one
        setting to keep safe, not two. Rotating the key ends the sessions signed with it."""
        return hmac.new(self._first.encode(), purpose.encode(), hashlib.sha256).digest()

    @classmethod
    def from_setting(cls, raw: str | None) -> "Keyring | None":
        keys = (raw or "").split()
        return cls(keys) if keys else None

    def seal(self, credentials: Mapping[str, str]) -> str:
        return self._fernet.encrypt(json.dumps(dict(credentials), sort_keys=True).encode()).decode()

    def open(self, sealed: str) -> dict[str, str]:
        try:
            return json.loads(self._fernet.decrypt(sealed.encode()))
        except InvalidToken:
            raise KeyringError("no key in BRIDGE_SECRET_KEY opens these credentials (was the key "
                               "that sealed them removed?)") from None

    def reseal(self, sealed: str) -> str:
        """The same credentials under the first key, for rotation."""
        try:
            return self._fernet.rotate(sealed.encode()).decode()
        except InvalidToken:
            raise KeyringError("no key in BRIDGE_SECRET_KEY opens these credentials") from None
