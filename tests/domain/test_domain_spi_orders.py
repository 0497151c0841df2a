"""The Restaurants order Wix sends through the SPI, read tolerantly but never guessed."""
import pytest

from bridge.domain.orders import InvalidOrder
from bridge.domain.spi_orders import pos_order_from_spi
from tests.sites import spi_order


def test_a_dine_in_order_goes_as_a_pickup_the_kitchen_is_told_about():
    raw = spi_order()
    raw["fulfillment"] = {"type": "DINE_IN", "asap": True, "details": {"comment": "table 4"}}
    order = pos_order_from_spi(raw, "site")
    assert (order.fulfillment.type, order.fulfillment.instructions) == ("PICKUP",
                                                                       "DINE IN: table 4")
    assert order.fulfillment.promised_from is None   # as soon as possible


def test_a_delivery_keeps_its_address_and_time():
    raw = spi_order()
    raw["fulfillment"] = {"type": "DELIVERY", "promisedTime": "2026-12-02T19:00:00Z",
                          "details": {"address": {"city": "Haifa"}}}
    order = pos_order_from_spi(raw, "site", location_id="loc-1")
    assert order.fulfillment.address == {"city": "Haifa"} and order.location_id == "loc-1"
    assert order.fulfillment.promised_to == "2026-12-02T19:00:00Z"


@pytest.mark.parametrize("change, says", [
    (lambda o: o.update(fulfillment={"type": "TELEPORT"}), "not PICKUP, DELIVERY or DINE_IN"),
    (lambda o: o["lineItems"].append("soup"), "line item 2 is not an object"),
    (lambda o: o["lineItems"][0].update(quantity=0), "not positive"),
    (lambda o: o["lineItems"][0].update(dishOptions=["extra"]), "dish option"),
    (lambda o: o["lineItems"][0]["dishOptions"][0].update(selectedChoices=["x"]), "a choice"),
    (lambda o: o.pop("id"), "no id"),
])
def test_what_cannot_be_read_is_named(change, says):
    raw = spi_order()
    change(raw)
    with pytest.raises(InvalidOrder, match=says):
        pos_order_from_spi(raw, "site")
    with pytest.raises(InvalidOrder, match="not an object"):
        pos_order_from_spi("order", "site")
