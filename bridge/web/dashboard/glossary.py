"""The statuses and error codes an owner meets, in the owner's words (the help page, and the
hints beside each status on the other pages)."""
from __future__ import annotations

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
