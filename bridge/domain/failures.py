"""Why an order did not reach the kitchen, as a cause its owner can act on.

The stored error text says what happened in detail; the cause says what kind of problem it is,
so the dashboard can give each its own words and its fix (pair the location, sync the menu,
replay) without reading the text.
"""
from __future__ import annotations

from enum import StrEnum


class Cause(StrEnum):
    NOT_PAIRED = "not_paired"                # the order's Wix location has no POS location
    ACCOUNT = "account"                      # the site's POS account is disconnected or unusable
    LOCATION_DISABLED = "location_disabled"  # the location is disabled or archived in Wix
    UNKNOWN_ITEM = "unknown_item"            # the POS does not know one of the items
    POS_REFUSED = "pos_refused"              # the POS refused the order for another reason
    POS_SILENT = "pos_silent"                # the POS did not take it, try after try
    UNREADABLE = "unreadable"                # the order itself could not be read
    DUPLICATE_POS_ID = "duplicate_pos_id"    # the POS gave it the id of another order
    CANCEL_FAILED = "cancel_failed"          # canceled in Wix, not at the POS


# The `webhook` protocol's and the clients' refusal codes (bridge.pos.base.PosRejected.code).
_REFUSALS = {"invalid_item_mapping": Cause.UNKNOWN_ITEM}


def of_refusal(code: str | None) -> Cause:
    """The cause of a POS refusal, by the code the POS gave."""
    return _REFUSALS.get(code or "", Cause.POS_REFUSED)
