"""The outcomes a job's handler may raise, and how the outside systems' answers become them,
said once for every handler.

A POS refusing for good fails the job, a POS not answering at all counts toward its site's
breaker, anything else is tried again. Wix busy or down is tried again (after its Retry-After),
Wix refusing the app's credentials fails the job; what a refusal of the call itself means
(`WixRejected`) depends on the call, so the handler says it.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from bridge.domain import failures
from bridge.pos.base import PosConfigurationError, PosRejected, PosUnavailable, PosUnreachable
from bridge.pos.registry import NoPosForSite
from bridge.wix.port import WixUnauthorized, WixUnavailable

class Retry(Exception):
    """Try this job again later; `after` is a minimum wait in seconds (e.g. Retry-After)."""

    def __init__(self, message: str, after: float | None = None):
        super().__init__(message)
        self.after = after


class Unreachable(Retry):
    """The destination did not answer at all (refused, reset, timed out): counts toward its
    circuit breaker."""


class Fail(Exception):
    """This job can never succeed as it is: mark it failed now. `cause`: what kind of problem
    it is, for its owner (a `bridge.domain.failures.Cause`), when the handler knows."""

    def __init__(self, message: str, cause: str | None = None):
        super().__init__(message)
        self.cause = cause


class Wait(Exception):
    """Not this job's fault: put it back for `seconds` without counting an attempt
    (e.g. Wix credentials are not configured yet). The reason stays visible on the job."""

    def __init__(self, message: str, seconds: float = 60.0):
        super().__init__(message)
        self.seconds = seconds


NO_WIX = "waiting for Wix credentials (WIX_APP_ID, WIX_APP_SECRET)"
# How often work waiting on a site's account (to be connected, or saved again) looks again.
ACCOUNT_RECHECK_SECONDS = 60.0


@contextmanager
def pos_answers() -> Iterator[None]:
    """Around building a site's POS client and calling it: an account whose settings do not
    build a client waits (uncounted) for its owner to save it again."""
    try:
        yield
    except PosConfigurationError as error:
        raise Wait(f"waiting for the site's POS account to be saved again: {error}",
                   ACCOUNT_RECHECK_SECONDS) from None
    except NoPosForSite as error:
        raise Wait(str(error), ACCOUNT_RECHECK_SECONDS) from None
    except PosRejected as error:
        raise Fail(str(error), failures.of_refusal(error.code)) from None
    except PosUnreachable as error:
        raise Unreachable(str(error)) from None
    except PosUnavailable as error:
        raise Retry(str(error)) from None


@contextmanager
def wix_answers(then: str = "") -> Iterator[None]:
    """`then`: what the next attempt does about it, added to the reason it is tried again."""
    try:
        yield
    except WixUnavailable as error:
        raise Retry(f"{error}{then}", after=error.retry_after) from None
    except WixUnauthorized as error:
        raise Fail(f"Wix refused the app's credentials: {error}") from None


def no_wix(recheck_seconds: float) -> Wait:
    """Work that needs Wix, where no Wix credentials are configured: it waits, uncounted."""
    return Wait(NO_WIX, recheck_seconds)
