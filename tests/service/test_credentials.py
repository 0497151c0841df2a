"""Credentials at rest: sealed, opened, rotated; a wrong key names the problem, never a value."""
import pytest

from bridge.credentials import Keyring, KeyringError, new_key


def test_sealed_credentials_open_with_any_key_of_a_rotation_and_reseal_to_the_first():
    old, new = new_key(), new_key()
    sealed = Keyring([old]).seal({"POS_WEBHOOK_SECRET": "whsec_x"})
    assert "whsec_x" not in sealed
    rotated = Keyring([new, old])
    assert rotated.open(sealed) == {"POS_WEBHOOK_SECRET": "whsec_x"}
    resealed = rotated.reseal(sealed)
    assert Keyring([new]).open(resealed) == {"POS_WEBHOOK_SECRET": "whsec_x"}
    with pytest.raises(KeyringError, match="no key in BRIDGE_SECRET_KEY opens"):
        Keyring([new_key()]).open(sealed)


def test_a_long_random_secret_is_a_key_too_and_a_short_one_is_refused():
    generated = "9f" * 32  # as Heroku's generator makes them: 64 hex characters
    assert Keyring([generated]).open(Keyring([generated]).seal({"a": "b"})) == {"a": "b"}
    with pytest.raises(KeyringError, match="key 2 of 2 is neither a Fernet key"):
        Keyring([new_key(), "hunter2"])
    assert Keyring.from_setting("  ") is None
