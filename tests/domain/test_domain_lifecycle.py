"""When an order goes to the POS: sent once, on the first word that it is APPROVED."""
import pytest

from bridge.domain.lifecycle import (Action, OrderState, after_pos_accepted, on_order_canceled,
                                     on_order_seen, should_send)


def test_an_approved_new_order_is_queued_for_sending():
    assert on_order_seen(None, "APPROVED", True).action == Action.SEND
    assert on_order_seen(None, "APPROVED", True).state == OrderState.QUEUED


def test_an_initialized_order_waits_for_approval_then_is_sent():
    waiting = on_order_seen(None, "INITIALIZED", True)
    assert waiting.state == OrderState.RECEIVED and waiting.action == Action.NONE
    assert on_order_seen(waiting.state, "APPROVED", True).action == Action.SEND


@pytest.mark.parametrize("state", [OrderState.QUEUED, OrderState.SENT, OrderState.FAILED,
                                   OrderState.CANCELED, OrderState.CANCELING])
def test_a_second_approval_never_sends_again(state):
    assert on_order_seen(state, "APPROVED", True).action == Action.NONE
    assert on_order_seen(state, "APPROVED", True).state == state


def test_an_order_without_restaurant_items_is_ignored_even_when_approved():
    assert on_order_seen(None, "APPROVED", False).state == OrderState.IGNORED
    assert on_order_seen(None, "APPROVED", False).action == Action.NONE


def test_canceling_an_order_at_the_pos_asks_the_pos_to_cancel_it():
    assert on_order_canceled(OrderState.SENT) == on_order_seen(OrderState.SENT, "CANCELED", True)
    assert on_order_canceled(OrderState.SENT).action == Action.CANCEL


@pytest.mark.parametrize("state", [None, OrderState.RECEIVED, OrderState.QUEUED, OrderState.FAILED])
def test_canceling_an_order_the_pos_does_not_have_needs_no_pos_call(state):
    decision = on_order_canceled(state)
    assert decision.state == OrderState.CANCELED and decision.action == Action.NONE
    assert not should_send(decision.state)


def test_a_cancel_that_overtook_the_send_cancels_at_the_pos_once_accepted():
    assert after_pos_accepted(OrderState.QUEUED).state == OrderState.SENT
    late = after_pos_accepted(OrderState.CANCELED)
    assert late.state == OrderState.CANCELING and late.action == Action.CANCEL
