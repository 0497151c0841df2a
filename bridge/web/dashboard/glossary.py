"""The statuses and error codes an owner meets, in the owner's words (the help page, and the
hints beside each status on the other pages)."""
from __future__ import annotations

# The POS clients as an owner knows them; a plug-in not named here shows its entry point name.
POS_NAMES = {
    "square": "Square",
    "webhook": "A POS that takes orders at a web address",
    "demo": "Demo kitchen (to try the app)",
}

ORDER_STATES = {
    "received": "Wix has the order, but it is not approved yet (for example, awaiting payment). "
                "It goes to the kitchen once approved.",
    "ignored": "The order has no restaurant items: nothing to send to the kitchen.",
    "queued": "On its way to your POS. If your POS is not answering, it waits and is sent as "
              "soon as it answers again.",
    "sent": "Your POS has the order.",
    "failed": "Your POS refused the order, or did not answer for too long. Nothing more is tried "
              "on its own: fix the cause (a menu item, the POS connection), then press Replay.",
    "canceling": "Canceled in Wix after your POS had it: the cancellation is on its way to your "
                 "POS.",
    "canceled": "Canceled: your POS either never had it or has canceled it.",
}

# An order state's short label, where the state's own name is not the owner's word.
ORDER_LABELS = {
    "received": "not approved yet",
    "ignored": "nothing for the kitchen",
    "queued": "on its way",
    "sent": "at your POS",
    "canceling": "being canceled",
    "canceled": "canceled",
}

# Why a failed order failed (bridge.domain.failures.Cause): its label, what to do, and the fixes
# the page offers ('locations', 'menus', 'account', 'replay').
FAILURES = {
    "not_paired": ("needs a location pairing",
                   "This order's location is not paired with a location of your POS. Pair it: "
                   "the orders that waited for it are sent then.", ("locations",)),
    "account": ("your POS account needs attention",
                "Your POS account is disconnected, or its settings no longer work. Connect it "
                "again, then send the order again.", ("account", "replay")),
    "location_disabled": ("location turned off in Wix",
                          "The location is turned off in Wix. Turn it on, then send the order "
                          "again.", ("replay",)),
    "unknown_item": ("an item your POS does not know",
                     "Your POS does not know one of the items. Sync your menu (or add the item "
                     "at your POS), then send the order again.", ("menus", "replay")),
    "pos_refused": ("refused by your POS",
                    "Your POS refused the order (its reason is shown). Fix it there, then send "
                    "the order again.", ("replay",)),
    "pos_silent": ("your POS did not take it",
                   "Your POS did not answer, try after try. Make sure it is on and online, then "
                   "send the order again.", ("replay",)),
    "unreadable": ("could not be read",
                   "This order could not be read. Phone it into the kitchen, and tell your app's "
                   "provider.", ()),
    "duplicate_pos_id": ("mixed up with another order",
                         "Your POS gave it the number of another order. Check both at your POS, "
                         "and tell your app's provider.", ()),
    "cancel_failed": ("canceled in Wix, not at your POS",
                      "Cancel it at your POS by hand, or send the cancellation again.",
                      ("replay",)),
}

# The link or button of each fix (FAILURES, and the status strip's signals).
FIX_LABELS = {"locations": "Pair the location", "menus": "Sync the menu",
              "account": "Fix the POS account"}

IMPORT_STATES = {
    "pending": "Taken at your POS; being added to Wix.",
    "creating": "Being added to Wix.",
    "created": "In Wix; its status is being set.",
    "done": "In Wix.",
    "failed": "Could not be added to Wix (the reason is shown). Fix it, then press Replay.",
}

CONFIGURATION_STATUSES = {
    "NOT_STARTED": "This site has no POS account yet: connect one on the POS account page.",
    "PENDING": "Almost there: the POS has not confirmed your credentials yet, or this location "
               "is not paired with a POS location.",
    "READY": "Orders of this location go to the POS location it is paired with.",
    "ERROR": "Something is wrong (the reason is shown): orders of this location cannot reach "
             "your POS until it is fixed.",
}

SYNC_STATUSES = {
    "PENDING": "Waiting to start.",
    "IN_PROGRESS": "Your POS menu is being written to Wix.",
    "SYNCED": "Your Wix menus match your POS menu as of this sync.",
    "FAILED": "The sync stopped (the reason is shown). What it wrote before stopping stays; "
              "sync again once the cause is fixed.",
}

# What each step of an order's work does, for its timeline.
STEPS = {
    "process_event": "Reading what Wix said",
    "send_order": "Sending it to your POS",
    "cancel_order": "Canceling it at your POS",
    "wix_status": "Telling Wix the kitchen's status",
    "import_order": "Adding it to Wix",
}

# Codes the app answers Wix with (the POS Integration SPI), as the owner may see them in Wix.
ERROR_CODES = {
    "unknown_account": "Wix asked about a POS account this app does not know for your site. "
                       "Reconnect the POS account.",
    "unknown_configuration": "Wix asked about a location this app has not heard of yet. "
                             "Refresh the locations.",
    "account_disconnected": "Your POS account was disconnected: orders cannot be sent until "
                            "you connect one again.",
    "location_not_paired": "This Wix location is not paired with a POS location: pair it on "
                           "the Locations page.",
    "invalid_order": "Your POS would refuse this order (an item it does not know, a missing "
                     "detail). Check the menu sync.",
    "pos_unavailable": "Your POS did not answer in time. The order was not taken; the customer "
                       "can try again.",
    "malformed_request": "Wix sent something this app could not read. Contact your integrator.",
    "CONFIRMATION_REQUIRED": "The first menu sync replaces the menus already on your site for "
                             "this location: confirm it before syncing.",
}
