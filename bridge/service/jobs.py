"""The kinds of work the bridge does, each named once: its kind, its key and its lane.

A job's key makes adding it idempotent (a second approval cannot add a second send, and every
send of one order carries the same idempotency key to the POS). Jobs sharing a lane run one at a
time, in the order they were added: one order's events, its POS calls, its updates to Wix. A job's
destination is the outside system it calls (a site's POS account, or Wix for that site): the
worker bounds each destination's share of its threads, holds no database connection while it
waits on one, and holds its jobs while its circuit breaker is open.
"""
from __future__ import annotations

from enum import StrEnum

from bridge.storage.port import NewJob


class Kind(StrEnum):
    PROCESS_EVENT = "process_event"   # apply a stored Wix event to its order
    SEND_ORDER = "send_order"         # create the order at the POS
    CANCEL_ORDER = "cancel_order"     # cancel it at the POS
    WIX_STATUS = "wix_status"         # tell Wix a status the POS reported
    LIST_CONFIGURATIONS = "list_configurations"  # store a site's location configurations
    SYNC_CATALOG = "sync_catalog"     # write a configuration's POS menu to Wix
    IMPORT_ORDER = "import_order"     # create an order taken at the POS in Wix
    NOTIFY = "notify"                 # email a site's owner what needs them
    RECONCILE_WIX = "reconcile_wix"   # take the site's orders whose webhooks never came
    RECONCILE_POS = "reconcile_pos"   # ask the POS for the statuses its callbacks never told
    PRUNE = "prune"                   # drop what is kept past its retention
    AUTO_SYNC = "auto_sync"           # start a location's menu sync its owner set to repeat
    RENEW_SQUARE_TOKEN = "renew_square_token"  # a Square account's OAuth token, before it expires


def process_event(event_id: str, instance_id: str, order_id: str | None) -> NewJob:
    """The job of every stored event (the store calls this as its `event_job`)."""
    return NewJob(Kind.PROCESS_EVENT, key=f"event:{event_id}",
                  lane=f"events:{order_id or instance_id}", instance_id=instance_id,
                  order_id=order_id, payload={"event_id": event_id})


def send_order(order_id: str, instance_id: str) -> NewJob:
    return NewJob(Kind.SEND_ORDER, key=f"send:{order_id}", lane=f"pos:{order_id}",
                  instance_id=instance_id, order_id=order_id,
                  destination=pos_destination(instance_id))


def cancel_order(order_id: str, instance_id: str) -> NewJob:
    return NewJob(Kind.CANCEL_ORDER, key=f"cancel:{order_id}", lane=f"pos:{order_id}",
                  instance_id=instance_id, order_id=order_id,
                  destination=pos_destination(instance_id))


def wix_status(update_id: int, order_id: str, instance_id: str) -> NewJob:
    return NewJob(Kind.WIX_STATUS, key=wix_status_key(update_id), lane=f"wix:{order_id}",
                  instance_id=instance_id, order_id=order_id, payload={"update_id": update_id},
                  destination=wix_destination(instance_id))


def list_configurations(instance_id: str, event_id: str) -> NewJob:
    """Queued by an install: a reinstall (another event) lists them again."""
    return NewJob(Kind.LIST_CONFIGURATIONS, key=f"configurations:{event_id}",
                  lane=f"configurations:{instance_id}", instance_id=instance_id,
                  destination=wix_destination(instance_id))


def sync_catalog(sync_id: int, instance_id: str, configuration_id: str) -> NewJob:
    """One sync of a site at a time (its lane): the locations of a site share its items and
    modifiers, and two syncs writing them at once would both create what neither had mapped."""
    return NewJob(Kind.SYNC_CATALOG, key=f"sync:{sync_id}", lane=f"catalog:{instance_id}",
                  instance_id=instance_id,
                  payload={"sync_id": sync_id, "configuration_id": configuration_id},
                  destination=wix_destination(instance_id))


def import_order(import_id: int, instance_id: str) -> NewJob:
    return NewJob(Kind.IMPORT_ORDER, key=import_key(import_id), lane=f"import:{import_id}",
                  instance_id=instance_id or None, payload={"import_id": import_id},
                  destination=wix_destination(instance_id) if instance_id else None)


def import_key(import_id: int) -> str:
    return f"import:{import_id}"


def notify(instance_id: str, cause: str) -> NewJob:
    """One per cause (an incident, an address set); they run one at a time per site, and the
    first mails every incident still untold (a digest), so the others find nothing to send."""
    return NewJob(Kind.NOTIFY, key=f"notify:{instance_id}:{cause}", lane=f"notify:{instance_id}",
                  instance_id=instance_id)


def reconcile_wix(instance_id: str, slot: int) -> NewJob:
    """One per site and period (`slot`): however many processes schedule it, it runs once."""
    return NewJob(Kind.RECONCILE_WIX, key=f"reconcile-wix:{instance_id}:{slot}",
                  lane=f"reconcile:{instance_id}", instance_id=instance_id,
                  payload={"slot": slot}, destination=wix_destination(instance_id))


def reconcile_pos(instance_id: str, slot: int) -> NewJob:
    """As reconcile_wix, for the site's POS (its bulkhead and breaker apply)."""
    return NewJob(Kind.RECONCILE_POS, key=f"reconcile-pos:{instance_id}:{slot}",
                  lane=f"reconcile-pos:{instance_id}", instance_id=instance_id,
                  payload={"slot": slot}, destination=pos_destination(instance_id))


def prune(slot: int, *, more: bool = False) -> NewJob:
    """One an hour (`slot`), whoever schedules it; `more`: the rest of a backlog, sooner."""
    return NewJob(Kind.PRUNE, key=f"prune:{'more:' if more else ''}{slot}", lane="prune")


def auto_sync(instance_id: str, configuration_id: str, every: str, at: float) -> NewJob:
    """The sync a location repeats `every` (hourly, nightly), due at `at` (epoch seconds): one
    per due time, whoever schedules it."""
    return NewJob(Kind.AUTO_SYNC, key=f"auto-sync:{configuration_id}:{every}:{int(at)}",
                  lane=f"auto-sync:{configuration_id}", instance_id=instance_id,
                  payload={"configuration_id": configuration_id, "every": every})


def renew_square_token(instance_id: str, account_id: str, at: float) -> NewJob:
    """One renewal per due time (`at`, epoch seconds) of an account's token."""
    return NewJob(Kind.RENEW_SQUARE_TOKEN, key=f"square-renew:{account_id}:{int(at)}",
                  lane=f"square-renew:{account_id}", instance_id=instance_id,
                  payload={"account_id": account_id}, destination=pos_destination(instance_id))


def pos_destination(instance_id: str) -> str:
    """Each site has its own POS account: one site's POS hanging must not hold up another's."""
    return f"pos:{instance_id}"


def wix_destination(instance_id: str) -> str:
    """Calls to Wix for one site: Wix slow for it holds a bounded share of the worker."""
    return f"wix:{instance_id}"


def wix_status_key(update_id: int) -> str:
    return f"status:{update_id}"
