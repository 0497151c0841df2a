"""The Wix order -> POS order mapping: pure, so tested without Flask, SQL or HTTP."""
from decimal import Decimal

import pytest

from bridge.domain.orders import (InvalidOrder, RESTAURANTS_APP_ID, pos_order_from_wix,
                                  restaurant_items, to_json)
from bridge.wix.events import event_from_claims
from tests.builders import INSTANCE, an_order


def sample_order(sample):
    return event_from_claims(sample("order_created")["claims"]).order


def test_the_sample_order_maps_to_the_interface_order_shape(sample):
    order = to_json(pos_order_from_wix(sample_order(sample), INSTANCE))
    assert order["id"] == "5a2c1b0e-7d3f-4a8e-9b61-2f4c8d9e0a11"
    assert order["number"] == "10042"
    assert order["instanceId"] == INSTANCE
    assert order["locationId"] == "b7e3f0d2-1c4a-4e58-8f9b-6a0d2c3e4f51"
    assert order["currency"] == "USD"
    assert order["note"] == "No onions please"
    assert order["customer"] == {"firstName": "Dana", "lastName": "Levi",
                                 "phone": "+1 212 555 0142", "email": "dana@example.com"}
    assert order["fulfillment"] == {"type": "PICKUP", "promisedFrom": "2026-11-20T18:30:00Z",
                                    "promisedTo": "2026-11-20T18:45:00Z", "address": None,
                                    "instructions": "Ring the bell"}
    pizza = order["items"][0]
    assert pizza == {
        "lineItemId": "00000000-0000-0000-0000-000000000001",
        "catalogItemId": "d0d5a022-26d5-4203-828f-94798735812a", "name": "Margherita Pizza",
        "quantity": 2, "unitPrice": "14.00", "totalPrice": "32.48",
        "modifiers": [{"id": "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d", "group": "Extras",
                       "name": "Extra basil", "quantity": 1, "price": "1.00"}],
        "menuId": "550e8400-e29b-41d4-a716-446655440000",
        "sectionId": "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
        "operationId": "f47ac10b-58cc-4372-a567-0e02b2c3d479"}
    assert order["totals"] == {"subtotal": "44.50", "tax": "3.95", "shipping": "0",
                               "discount": "0", "total": "48.45"}


def test_a_mixed_order_sends_only_its_restaurant_items(sample):
    wix_order = sample_order(sample)
    assert len(wix_order["lineItems"]) == 3
    order = pos_order_from_wix(wix_order, INSTANCE)
    assert [i.name for i in order.items] == ["Margherita Pizza", "Tiramisu"]


def test_an_item_without_a_total_is_priced_at_quantity_times_price(sample):
    tiramisu = to_json(pos_order_from_wix(sample_order(sample), INSTANCE))["items"][1]
    assert tiramisu["unitPrice"] == "8.50" and tiramisu["totalPrice"] == "8.50"
    order = an_order(restaurant=1, other=0)
    del order["lineItems"][0]["totalPriceAfterTax"]
    order["lineItems"][0]["quantity"] = 3
    assert pos_order_from_wix(order, INSTANCE).items[0].total_price == Decimal("42.00")


def test_an_order_without_restaurant_items_gives_no_pos_order():
    order = an_order(restaurant=0, other=2)
    assert restaurant_items(order) == []
    assert pos_order_from_wix(order, INSTANCE) is None


def test_a_delivery_order_carries_its_address():
    address = {"country": "US", "city": "New York", "addressLine1": "1 Main St"}
    order = an_order()
    order["shippingInfo"]["logistics"] = {"shippingDestination": {"address": address},
                                          "deliveryTime": "2026-11-20T19:00:00Z",
                                          "instructions": "Leave at the door"}
    fulfillment = to_json(pos_order_from_wix(order, INSTANCE))["fulfillment"]
    assert fulfillment == {"type": "DELIVERY", "promisedFrom": "2026-11-20T19:00:00Z",
                           "promisedTo": "2026-11-20T19:00:00Z", "address": address,
                           "instructions": "Leave at the door"}


def test_amounts_are_decimal_strings_never_floats():
    order = to_json(pos_order_from_wix(an_order(), INSTANCE))
    for item in order["items"]:
        assert isinstance(item["unitPrice"], str) and isinstance(item["totalPrice"], str)
    assert all(isinstance(v, str) for v in order["totals"].values())


@pytest.mark.parametrize("price", [14.0, "fourteen", None, "NaN"])
def test_a_price_that_is_not_a_decimal_string_is_an_invalid_order(price):
    order = an_order(restaurant=1, other=0)
    order["lineItems"][0]["price"] = {"amount": price}
    with pytest.raises(InvalidOrder, match="amount"):
        pos_order_from_wix(order, INSTANCE)


@pytest.mark.parametrize("quantity", [0, -1, 1.5, "x", True])
def test_a_quantity_that_is_not_a_positive_whole_number_is_an_invalid_order(quantity):
    order = an_order(restaurant=1, other=0)
    order["lineItems"][0]["quantity"] = quantity
    with pytest.raises(InvalidOrder, match="quantity"):
        pos_order_from_wix(order, INSTANCE)


def test_restaurant_items_are_recognised_by_the_restaurants_app_id():
    assert RESTAURANTS_APP_ID == "9a5d83fd-8570-482e-81ab-cfa88942ee60"
    order = an_order(restaurant=3, other=2)
    assert len(restaurant_items(order)) == 3


def test_an_order_without_its_customer_keeps_ids_items_and_totals_and_nothing_personal():
    from bridge.domain.orders import stored_form, to_json, without_customer
    order = an_order(buyerNote="Ring twice, Dana")
    contact = order["recipientInfo"]["contactDetails"]
    personal = [order["buyerInfo"]["email"], contact["phone"], contact["firstName"],
                contact["lastName"], "Ring twice", "Ring the bell"]
    kept = without_customer(order)
    assert (kept["id"], kept["number"], kept["priceSummary"]) == (
        order["id"], order["number"], order["priceSummary"])
    assert [li["id"] for li in kept["lineItems"]] == [li["id"] for li in order["lineItems"]]
    assert not any(value in repr(kept) for value in personal)
    assert "buyerInfo" in order                            # the order given is left as it was
    pushed = stored_form(pos_order_from_wix(order, INSTANCE))
    redacted = without_customer(pushed)
    assert redacted["posOrder"]["totals"] == to_json(pos_order_from_wix(order, INSTANCE))["totals"]
    assert not any(value in repr(redacted) for value in personal)
