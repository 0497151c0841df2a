"""POS credentials at rest: sealed with Fernet under `BRIDGE_SECRET_KEY`, opened only to build a
site's POS client.

Several keys, separated by spaces, rotate without downtime: the first seals, any opens. Add the new
key in front, run `bridge accounts reseal`, then drop the old one. A sealed value says nothing of
what it holds; an error never quotes one.
"""
from __future__ import annotations

import json
from typing import Mapping

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class KeyringError(ValueError):
    """Credentials cannot be sealed or opened with the configured keys."""


def new_key() -> str:
    return Fernet.generate_key().decode()


class Keyring:
    def __init__(self, keys: list[str]):
        if not keys:
            raise KeyringError("no key")
        fernets = []
        for number, key in enumerate(keys, 1):
            try:
                fernets.append(Fernet(key.encode()))
            except (ValueError, TypeError):
                raise KeyringError(f"key {number} of {len(keys)} is not a Fernet key (32 bytes, "
                                   "url-safe base64: `bridge accounts new-key` makes one)") from None
        self._fernet = MultiFernet(fernets)

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
