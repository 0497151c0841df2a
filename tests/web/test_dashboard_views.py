"""How the dashboard shows stored things: times in the site's zone, an order's contents whatever
channel it came by, and its state in the owner's words."""
from bridge.domain.orders import pos_order_from_wix, stored_form
from bridge.storage.port import OrderRecord
from bridge.web.dashboard import views
from tests.builders import INSTANCE, an_order


def record(snapshot, state="sent", last_error=None, **fields) -> OrderRecord:
    return OrderRecord(wix_order_id="o-1", instance_id=INSTANCE, number="7", state=state,
                       wix_status=None, sequence=None, snapshot=snapshot, pos_client=None,
                       pos_order_id=None, last_error=last_error, created_at="", updated_at="",
                       **fields)


def test_times_are_the_site_s_and_say_so():
    assert views.local("2027-01-15T03:00:00.000Z", "America/New_York") == "2027-01-14 22:00 EST"
    assert views.local("2027-07-15T03:00:00", None, with_date=False) == "03:00 UTC"  # naive: UTC
    assert views.local(None, "Asia/Tokyo") == "-"
    assert views.local("soon", "Asia/Tokyo") == "soon"     # not a time: shown as it is


def test_an_order_reads_the_same_from_wix_or_from_the_pos_form_it_was_pushed_as():
    wix_order = an_order(restaurant=2, other=1)
    from_wix = views.contents(record(wix_order))
    pushed = views.contents(record(stored_form(pos_order_from_wix(wix_order, INSTANCE))))
    assert from_wix == pushed and len(from_wix["items"]) == 2     # restaurant items only
    assert views.customer_name(from_wix) != "-" and " × " in views.items_line(from_wix)
    assert views.contents(record({"lineItems": "garbage"})) is None
    assert views.money(None, "USD") == "-" and views.money("9.50", "USD") == "9.50 USD"


def test_a_state_in_owner_words_says_held_waiting_or_the_failure_s_cause():
    assert views.owner_state(record({}, "queued"), held=True).label.startswith("held")
    waiting = views.owner_state(record({}, "queued", last_error="no POS account"), held=False)
    assert waiting.fixes == ("account",)
    failed = views.owner_state(record({}, "failed", failure="not_paired"), held=False)
    assert (failed.label, failed.fixes, failed.tone) == ("needs a location pairing",
                                                         ("locations",), "bad")
    assert views.owner_state(record({}, "failed"), held=False).label == "your POS did not take it"
    assert views.owner_state(record({}, "sent"), held=True).label == "at your POS"
