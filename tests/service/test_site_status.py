"""The status an owner sees on every page, computed from what happened: never green while the POS
is not answering, a location points at nothing, or a sync waits, and today counted in the
site's own day. On the in-memory store; the POS is a loopback server."""
from datetime import datetime, timezone

import pytest

from bridge.domain.lifecycle import OrderState
from bridge.service import jobs
from bridge.service.site_status import BAD, IDLE, OK, WARN, site_status
from tests.builders import an_order
from tests.sites import SECRET_KEY, add_site

SITE = "site-status"


@pytest.fixture
def database_url(tmp_path):
    """The store is in memory: the configuration names a file that is never opened."""
    return f"sqlite:///{tmp_path / 'unused.db'}"


@pytest.fixture
def bridge(env, memory_bridge, pos, clock):
    clock.now = datetime(2027, 1, 15, 3, 0, tzinfo=timezone.utc).timestamp()
    wired = memory_bridge({**env, "POS_SITES": "site-operator", "BRIDGE_SECRET_KEY": SECRET_KEY},
                          clock=clock)
    add_site(wired, SITE, pos, account_id="acc-1", configuration_id="conf-1",
             wix_location_id="loc-1", pos_location_id="KITCHEN")
    return wired


def status_of(bridge, site=SITE, *, wix=True, zone=None, now=None):
    return site_status(bridge.store, site, served=bridge.pos.serves, wix_connected=wix,
                       time_zone=zone, now=now if now is not None else bridge.store.clock())


def sent(bridge, order_id: str, location="loc-1", state=OrderState.SENT, pos_id="P1"):
    order = an_order(id=order_id, businessLocation={"id": location})
    bridge.store.save_order(wix_order_id=order_id, instance_id=SITE, state=state.value,
                            snapshot=order)
    bridge.store.set_order_state(SITE, order_id, state.value,
                                 pos_order_id=pos_id if state == OrderState.SENT else None)


def test_a_paired_site_whose_webhook_pos_was_never_asked_is_not_called_answering(bridge):
    status = status_of(bridge)
    assert status.pos.tone == IDLE and "not contacted yet" in status.pos.text
    [line] = status.locations
    assert line.pairing.tone == OK and line.last_order_at is None
    sent(bridge, "o-1")
    status = status_of(bridge)
    assert status.pos.tone == OK and status.pos.at is not None
    assert status.locations[0].last_answer_at == status.pos.at


def test_an_open_breaker_is_red_everywhere_it_matters_whatever_was_saved(bridge):
    sent(bridge, "o-1")
    sent(bridge, "o-2", state=OrderState.QUEUED)
    destination = jobs.pos_destination(SITE)
    bridge.store.count_breaker_failure(destination, "connection refused")
    bridge.store.open_breaker(destination, cooldown=60)
    status = status_of(bridge)
    assert status.pos.tone == BAD and "not answering" in status.pos.text
    assert status.pos.next_at is not None and status.pos.at_label == "since"
    assert status.tone == BAD
    assert (status.today.waiting, status.today.held) == (1, True)


def test_a_location_paired_with_the_previous_pos_is_unpaired_and_red(bridge):
    bridge.accounts.save(SITE, "demo", {}, clients=bridge.pos, by_owner=True)
    [line] = status_of(bridge).locations
    assert line.configuration.pos_location_id is None
    assert line.pairing.tone == BAD and line.pairing.fix == "locations"


def test_an_unpaired_location_and_a_disconnected_account_each_say_so(bridge):
    bridge.store.pair_configuration("conf-1", pos_location_id=None)
    assert status_of(bridge).locations[0].pairing.tone == BAD
    bridge.store.set_account_status("acc-1", "disconnected")
    status = status_of(bridge)
    assert (status.pos.tone, status.pos.fix) == (BAD, "account")


def test_a_site_without_an_account_is_red_unless_the_operator_s_pos_serves_it(bridge):
    assert status_of(bridge, "site-nobody").pos.tone == BAD
    assert status_of(bridge, "site-operator").pos.tone == IDLE
    order = an_order(id="o-op")                  # a site with no locations: its orders count
    bridge.store.save_order(wix_order_id="o-op", instance_id="site-operator", state="sent",
                            snapshot=order)
    bridge.store.set_order_state("site-operator", "o-op", "sent", pos_order_id="P9")
    assert status_of(bridge, "site-operator").pos.tone == OK


def test_a_waiting_sync_says_why(bridge):
    assert status_of(bridge).locations[0].menu.tone == IDLE
    configuration = bridge.store.get_configuration("conf-1")
    sync, _ = bridge.store.start_sync(SITE, "conf-1")
    assert "cannot reach Wix" in status_of(bridge, wix=False).locations[0].menu.text
    bridge.store.enqueue(jobs.sync_catalog(sync.id, SITE, configuration.id))
    job = bridge.store.claim("test", 30)
    bridge.store.finish(job, "wait", error="wix:site-status is not answering: its circuit "
                        "breaker is open", delay=300)
    menu = status_of(bridge).locations[0].menu
    assert menu.tone == WARN and "Wix is not answering for now" in menu.text   # owner's words
    job = store_claim_later(bridge, 300)
    bridge.store.finish(job, "wait", error="a new reason", delay=300)
    assert "It waits: a new reason." in status_of(bridge).locations[0].menu.text
    bridge.store.set_sync(sync.id, "FAILED", error="Wix refused an item", code="SYNC_ERROR")
    menu = status_of(bridge).locations[0].menu
    assert (menu.tone, menu.fix) == (BAD, "menus") and "Wix refused an item" in menu.text


def store_claim_later(bridge, seconds: float):
    """The job waiting `seconds` from now, claimed when it is due."""
    clock = bridge.store.clock
    clock.now += seconds
    return bridge.store.claim("test", 30)


def test_today_is_the_site_s_day_in_its_time_zone(bridge, clock):
    sent(bridge, "o-1")                     # 03:00 UTC: 22:00 the evening before in New York
    failed = an_order(id="o-2", businessLocation={"id": "loc-1"})
    bridge.store.save_order(wix_order_id="o-2", instance_id=SITE, state="failed", snapshot=failed)
    clock.now += 3 * 3600                   # 06:00 UTC: 01:00 in New York, a new day there
    utc = status_of(bridge).today
    assert (utc.sent, utc.failed, utc.waiting) == (1, 1, 0)
    new_york = status_of(bridge, zone="America/New_York").today
    assert (new_york.sent, new_york.failed) == (0, 0)
    assert status_of(bridge, zone="Asia/Tokyo").today.sent == 1   # 15:00 there, same day
