"""The signed `instance` parameter Wix opens the dashboard with: only the app's secret makes one."""
import base64
import json
from datetime import datetime, timezone

import pytest

from bridge.wix import instance

SECRET = "app-secret"
NOW = 1_800_000_000.0


def signed_at(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat().replace("+00:00", "Z")


def data(**overrides) -> dict:
    return {"instanceId": "site-1", "appDefId": "app-id", "signDate": signed_at(NOW - 60),
            "uid": "user-7", "permissions": "OWNER", **overrides}


def test_an_instance_signed_with_the_app_secret_names_the_site_and_user():
    visitor = instance.verify(instance.sign(data(), SECRET), SECRET, NOW, app_id="app-id")
    assert visitor == instance.DashboardVisitor("site-1", "user-7", "OWNER")


def test_wix_s_unpadded_base64url_with_an_offset_free_sign_date_is_read():
    visitor = instance.verify(instance.sign(data(signDate="2027-01-15T08:00:00.000"), SECRET),
                              SECRET, datetime(2027, 1, 15, 8, 5, tzinfo=timezone.utc).timestamp())
    assert visitor.instance_id == "site-1"


@pytest.mark.parametrize("parameter, reason", [
    ("", "not <signature>.<data>"),
    ("no-dot-here", "not <signature>.<data>"),
    ("!!!.???", "not base64url"),
])
def test_a_malformed_instance_is_refused_saying_why(parameter, reason):
    with pytest.raises(instance.BadInstance, match=reason):
        instance.verify(parameter, SECRET, NOW)


def test_an_instance_signed_with_another_secret_or_altered_is_refused():
    with pytest.raises(instance.BadInstance, match="not signed with this app's secret"):
        instance.verify(instance.sign(data(), "someone-else"), SECRET, NOW)
    signature, _, body = instance.sign(data(), SECRET).partition(".")
    forged = base64.urlsafe_b64encode(json.dumps(data(instanceId="site-2")).encode()).rstrip(b"=")
    with pytest.raises(instance.BadInstance, match="not signed"):
        instance.verify(f"{signature}.{forged.decode()}", SECRET, NOW)


def test_an_old_link_another_app_s_instance_and_one_without_a_site_are_refused():
    with pytest.raises(instance.BadInstance, match="too old"):
        instance.verify(instance.sign(data(signDate=signed_at(NOW - 2 * 86400)), SECRET),
                        SECRET, NOW)
    with pytest.raises(instance.BadInstance, match="too old"):  # from the future
        instance.verify(instance.sign(data(signDate=signed_at(NOW + 3600)), SECRET), SECRET, NOW)
    with pytest.raises(instance.BadInstance, match="another app"):
        instance.verify(instance.sign(data(appDefId="other"), SECRET), SECRET, NOW,
                        app_id="app-id")
    with pytest.raises(instance.BadInstance, match="no instanceId"):
        instance.verify(instance.sign(data(instanceId=""), SECRET), SECRET, NOW)
    with pytest.raises(instance.BadInstance, match="no signDate"):
        instance.verify(instance.sign(data(signDate="yesterday"), SECRET), SECRET, NOW)
