"""The import form a POS reports an order in: each malformed field refused by name, before any
call to Wix; and the Wix order made from a good one."""
import pytest

from bridge.domain.imports import parse_pos_order
from bridge.domain.orders import InvalidOrder


def an_import(**fields) -> dict:
    return {"orderId": "T-9", "currency": "USD", "items": [
        {"itemId": "margherita", "name": "Margherita", "quantity": 1, "price": "11.00"}],
        "totals": {"total": "11.00"}, **fields}


@pytest.mark.parametrize("raw, says", [
    ([], "the order is not an object"),
    (an_import(orderId=""), "orderId is missing"),
    (an_import(orderId=True), "orderId is missing"),
    (an_import(orderId="x" * 200), "orderId is over"),
    (an_import(items=[]), "the order has no items"),
    (an_import(totals={"tax": "1"}), "totals.total is missing"),
    (an_import(totals="11.00"), "totals.total is missing"),
    (an_import(fulfillmentType="teleport"), "fulfillmentType 'TELEPORT' is not PICKUP"),
    (an_import(items=["margherita"]), "item 1 is not an object"),
    (an_import(items=[{"name": "Margherita", "quantity": 1, "price": "1"}]),
     "item 1 has no itemId"),
    (an_import(items=[{"itemId": "m", "quantity": 1, "price": "1", "modifiers": ["basil"]}]),
     "a modifier of item 1 is not an object"),
])
def test_a_malformed_import_is_refused_naming_the_field(raw, says):
    with pytest.raises(InvalidOrder, match=says):
        parse_pos_order(raw)


def test_a_good_import_reads_whole_with_its_defaults():
    order = parse_pos_order(an_import(orderId=42, fulfillmentType="dine_in",
                                      customer={"email": "ada@example.com"}))
    assert order.pos_order_id == "42" and order.fulfillment == "DINE_IN"
    assert [(i.pos_id, i.quantity, str(i.price)) for i in order.items] == [
        ("margherita", 1, "11.00")]
    assert order.customer.email == "ada@example.com"
