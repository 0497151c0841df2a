"""The original Restaurants app's orders read exactly: minor units, epoch milliseconds, locale
maps, options named through the menu; what is malformed is named."""
import copy
import json
from pathlib import Path

import pytest

from bridge.domain.legacy_orders import UnknownItem, pos_order_from_legacy
from bridge.domain.orders import InvalidOrder, stored_form

SAMPLE = json.loads((Path(__file__).parents[1] / "samples" / "legacy_pos_spi_order.json").read_text())


def sample(**order_changes):
    body = copy.deepcopy(SAMPLE)
    body["order"].update(order_changes)
    return body


def test_a_scheduled_delivery_with_nested_options_and_charges():
    body = sample(delivery={"type": "delivery", "time": 1795635000000, "charge": 350,
                            "address": {"city": "New York", "street": "Broadway", "number": "1",
                                        "comment": "Ring twice"}},
                  submitAt=1795634000000, price=3750, charges=[{"amount": -300}])
    body["order"]["orderItems"][0]["variationsChoices"] = [[{
        "itemId": "item-olives", "price": 150, "count": 2,
        "variations": [{"title": {"en_US": "Olive kind"}}],
        "variationsChoices": [[{"itemId": "item-extra-basil", "price": 50, "count": 1}]]}]]
    order = pos_order_from_legacy(body, "site", "USD")
    assert order.fulfillment.type == "DELIVERY"
    assert order.fulfillment.address["city"] == "New York"
    assert order.fulfillment.instructions == "Ring twice"
    assert [(m.name, m.group, m.quantity, str(m.price)) for m in order.items[0].modifiers] == [
        ("Olives", "Extras", 2, "1.50"), ("Extra basil", "Olives / Olive kind", 1, "0.50")]
    # (14.00 + 2 x 1.50 + 0.50) x 2 pizzas
    assert str(order.items[0].total_price) == "35.00"
    assert (str(order.totals.shipping), str(order.totals.discount), str(order.totals.total)) == (
        "3.50", "3.00", "37.50")


def test_a_zero_decimal_currency_keeps_its_units():
    order = pos_order_from_legacy(SAMPLE, "site", "JPY")
    assert str(order.items[1].unit_price) == "700" and str(order.totals.total) == "3700"


def test_card_data_never_reaches_the_stored_form():
    body = sample(payments=[{"type": "credit", "amount": 3700, "card": {"number": "4580"},
                             "token": "t", "password": "pw"}])
    body["cards"] = {"tok": {"number": "4580"}}
    kept = stored_form(pos_order_from_legacy(body, "site", "USD"))
    assert kept["posOrder"]["payments"] == [{"type": "credit", "amount": "37.00"}]
    assert "4580" not in json.dumps(kept) and "pw" not in json.dumps(kept)


@pytest.mark.parametrize("change, says", [
    (dict(orderItems=[{"itemId": "item-tiramisu", "price": 7.5, "count": 1}]), "minor units"),
    (dict(orderItems=[{"itemId": "item-tiramisu", "price": 700, "count": 0}]), "count 0"),
    (dict(orderItems=[{"price": 700}]), "no itemId"),
    (dict(orderItems=[]), "orderItems is empty"),
    (dict(id=None), "order.id is missing"),
    (dict(delivery={"type": "drone"}), "not takeout or delivery"),
    (dict(delivery={"type": "delivery"}), "delivery.address is missing"),
    (dict(created="yesterday"), "epoch milliseconds"),
    (dict(price="37.00"), "order.price"),
])
def test_malformed_orders_are_named(change, says):
    with pytest.raises(InvalidOrder, match=says):
        pos_order_from_legacy(sample(**change), "site", "USD")


def test_an_option_the_menu_does_not_define_is_an_unknown_item():
    body = copy.deepcopy(SAMPLE)
    body["order"]["orderItems"][0]["variationsChoices"] = [[{"itemId": "item-caviar",
                                                             "price": 900}]]
    with pytest.raises(UnknownItem, match="item-caviar"):
        pos_order_from_legacy(body, "site", "USD")
    with pytest.raises(InvalidOrder, match="order is missing"):
        pos_order_from_legacy({"menu": {}}, "site", "USD")
