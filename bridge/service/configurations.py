"""Location configurations from Wix (the POS Connectivity API): listed on install and on demand,
stored with their pairing kept, and disconnected on the owner's word.

A configuration is a Wix business location offered to this POS integration; the operator (or the
dashboard) pairs it with a POS location. What Wix says of it (name, enabled, archived, catalog)
is refreshed; the pairing is the bridge's and is never overwritten by a refresh.
"""
from __future__ import annotations

import logging

from bridge import logs
from bridge.service.outcomes import no_wix, wix_answers
from bridge.storage.port import AccountState, Configuration, Job, Store
from bridge.wix.port import Wix, WixRejected

log = logging.getLogger(__name__)
NO_CREDENTIALS_RECHECK_SECONDS = 300


def refresh(store: Store, wix: Wix, instance_id: str) -> list[Configuration]:
    """Store what Wix lists for the site; raises WixError as the API does."""
    account = store.account_for_instance(instance_id)
    stored = []
    for listed in wix.list_configurations(instance_id):
        if not isinstance(listed.get("id"), str):
            continue
        stored.append(save(store, instance_id, listed, account.id if account else None))
    logs.info(log, "configurations_listed", instance_id=instance_id, count=len(stored))
    return stored


def save(store: Store, instance_id: str, listed: dict, account_id: str | None) -> Configuration:
    location = listed.get("location") or {}
    return store.save_configuration(
        listed["id"], instance_id,
        location_name=location.get("name") if isinstance(location, dict) else None,
        enabled=listed.get("enabled") is not False, archived=bool(listed.get("archived")),
        catalog_id=listed.get("catalogId") if isinstance(listed.get("catalogId"), str) else None,
        account_id=account_id)


def disconnect_configuration(store: Store, wix: Wix | None, configuration: Configuration
                             ) -> None:
    """Tell Wix, then unpair: no more orders go to the POS location."""
    if wix is not None:
        wix.disconnect_configuration(configuration.instance_id, configuration.id)
    store.pair_configuration(configuration.id, pos_location_id=None)
    store.save_configuration(configuration.id, configuration.instance_id, enabled=False,
                             archived=configuration.archived)
    logs.info(log, "configuration_disconnected", configuration=configuration.id,
              instance_id=configuration.instance_id, told_wix=wix is not None)


def disconnect_account(store: Store, wix: Wix | None, account_id: str) -> None:
    """Tell Wix the account is disconnected, then stop sending the site's orders to it."""
    account = store.get_account(account_id)
    if account is None:
        raise LookupError(f"no account {account_id!r}")
    if wix is not None:
        wix.disconnect_account(account.instance_id, account.id)
    store.set_account_status(account.id, AccountState.DISCONNECTED)
    logs.info(log, "account_disconnected", account=account.id, instance_id=account.instance_id,
              told_wix=wix is not None)


class RefreshConfigurations:
    """The job queued when the app is installed on a site."""

    def __init__(self, store: Store, wix: Wix | None):
        self.store = store
        self.wix = wix

    def run(self, job: Job) -> None:
        if self.wix is None:
            raise no_wix(NO_CREDENTIALS_RECHECK_SECONDS)
        try:
            with wix_answers():
                refresh(self.store, self.wix, job.instance_id)
        except WixRejected as error:
            # An app that is not a POS integration has no configurations to list.
            logs.warning(log, "configurations_not_listed", instance_id=job.instance_id,
                         reason=str(error))

    def failed(self, job: Job, reason: str, cause: str | None = None) -> None:
        pass  # kept with its reason; `bridge configurations refresh` tries again by hand
