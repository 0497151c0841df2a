"""A site's Square account connected with OAuth: the code exchanged for tokens and stored like
any credential (encrypted, in the site's account), the access token renewed well before it
expires, given back (revoked) on disconnect, and the account let go when the seller revokes the
app at Square (its `oauth.authorization.revoked` webhook: bridge.service.callbacks).
"""
from __future__ import annotations

import logging
from typing import Mapping

from bridge import logs
from bridge.pos.base import PosRejected, PosUnavailable
from bridge.pos.registry import PosClients
from bridge.pos.square_oauth import SquareOAuth, Tokens
from bridge.service import jobs
from bridge.service.accounts import AccountError, SiteAccounts
from bridge.service.outcomes import Fail, Retry
from bridge.storage.port import Account, AccountState, Job, Store

log = logging.getLogger(__name__)

CLIENT = "square"
ACCESS, REFRESH, EXPIRES, LOCATION = ("POS_SQUARE_ACCESS_TOKEN", "POS_SQUARE_REFRESH_TOKEN",
                                      "POS_SQUARE_TOKEN_EXPIRES_AT", "POS_SQUARE_LOCATION_ID")
# Square's access tokens last 30 days; Square asks apps to renew them every 7 days or sooner.
# Renewed a week after they were given, or a day before they expire, whichever comes first.
RENEW_AFTER_SECONDS = 7 * 86_400
RENEW_BEFORE_EXPIRY_SECONDS = 86_400
RETRY_RENEWAL_SECONDS = 3600


class NotConnected(Exception):
    """The seller's Square account could not be connected: the message says why, for its
    owner."""


def connect(store: Store, accounts: SiteAccounts, pos: PosClients, oauth: SquareOAuth,
            site: str, code: str, redirect_uri: str) -> Account:
    """The seller allowed the app: their tokens become the site's Square account (its other
    settings kept when it was Square already), checked, and renewed from now on."""
    try:
        tokens = oauth.exchange(code, redirect_uri)
        location = oauth.main_location(tokens.access_token)
    except PosRejected as error:
        raise NotConnected(f"Square refused: {error}") from None
    except PosUnavailable as error:
        raise NotConnected(f"Square did not answer: {error}. Try again.") from None
    current = store.account_for_instance(site)
    kept: dict[str, str] = {}
    if current is not None and current.pos_client == CLIENT:
        try:
            kept = dict(accounts.credentials(current))
        except AccountError:
            kept = {}
    credentials = {**kept, **_token_settings(tokens)}
    credentials[LOCATION] = kept.get(LOCATION) or location or ""
    if not credentials[LOCATION]:
        raise NotConnected("Your Square account has no location: add one at Square first.")
    try:
        account = accounts.save(site, CLIENT, credentials, clients=pos)
    except AccountError as error:
        raise NotConnected(str(error)) from None
    account = accounts.check(account, pos)
    schedule_renewal(store, account, tokens, store.clock())
    logs.info(log, "square_connected", instance_id=site, account=account.id,
              merchant=tokens.merchant_id, error=account.check_error)
    return account


def schedule_renewal(store: Store, account: Account, tokens: Tokens, now: float) -> float:
    """The renewal of the account's access token, queued; when it is due."""
    at = min(now + RENEW_AFTER_SECONDS, tokens.expires_epoch - RENEW_BEFORE_EXPIRY_SECONDS)
    store.enqueue(jobs.renew_square_token(account.instance_id, account.id, at),
                  delay=max(0.0, at - now))
    return at


def disconnect(accounts: SiteAccounts, oauth: SquareOAuth | None, account: Account) -> bool:
    """Give the seller's tokens back to Square (RevokeToken), for an account connected with
    OAuth: True when Square took them. The account itself is disconnected by the caller,
    whatever Square answers: an owner who wants out is out."""
    if oauth is None or account.pos_client != CLIENT:
        return False
    try:
        credentials = accounts.credentials(account)
    except AccountError:
        return False
    if not credentials.get(REFRESH) or not credentials.get(ACCESS):
        return False  # a pasted token: the operator's to revoke where it was made
    try:
        oauth.revoke(credentials[ACCESS])
    except (PosRejected, PosUnavailable) as error:
        logs.warning(log, "square_revoke_failed", account=account.id, reason=str(error))
        return False
    logs.info(log, "square_revoked", account=account.id, instance_id=account.instance_id)
    return True


class RenewSquareToken:
    """The `renew_square_token` job."""

    def __init__(self, store: Store, accounts: SiteAccounts, pos: PosClients,
                 oauth: SquareOAuth | None):
        self.store = store
        self.accounts = accounts
        self.pos = pos
        self.oauth = oauth

    def run(self, job: Job) -> None:
        account = self.store.get_account(job.payload["account_id"])
        if account is None or account.status != AccountState.ACTIVE or \
                account.pos_client != CLIENT:
            return  # disconnected or replaced since: nothing to renew
        credentials = self.accounts.credentials(account)
        if not credentials.get(REFRESH):
            return  # a pasted token, not OAuth's
        if self.oauth is None:
            raise Fail("Square's application ID and secret are not set: the token cannot be "
                       "renewed")
        try:
            tokens = self.oauth.refresh(credentials[REFRESH])
        except PosRejected as error:
            self.store.record_account_check(account.id, error=(
                f"Square refused to renew this app's access ({error}): connect again"))
            raise Fail(f"Square refused the renewal: {error}") from None
        except PosUnavailable as error:
            raise Retry(f"Square did not renew the token: {error}") from None
        renewed = self.accounts.save(account.instance_id, CLIENT,
                                     {**credentials, **_token_settings(tokens)},
                                     account_id=account.id, clients=self.pos)
        self.accounts.check(renewed, self.pos)   # new credentials are confirmed again
        schedule_renewal(self.store, renewed, tokens, self.store.clock())
        logs.info(log, "square_token_renewed", account=account.id, expires_at=tokens.expires_at)

    def failed(self, job: Job, reason: str, cause: str | None = None) -> None:
        """Square did not answer, try after try: the token still has days to run, so the
        renewal is tried again in an hour. One Square refused is not: its owner connects again."""
        account = self.store.get_account(job.payload["account_id"])
        if account is not None and account.status == AccountState.ACTIVE and \
                account.check_error is None:   # Square refusing says so there: connect again
            at = self.store.clock() + RETRY_RENEWAL_SECONDS
            self.store.enqueue(jobs.renew_square_token(account.instance_id, account.id, at),
                               delay=RETRY_RENEWAL_SECONDS)


def _token_settings(tokens: Tokens) -> Mapping[str, str]:
    return {ACCESS: tokens.access_token, REFRESH: tokens.refresh_token, EXPIRES: tokens.expires_at}
