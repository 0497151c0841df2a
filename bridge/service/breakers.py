"""Circuit breakers: stop calling a destination that does not answer, and find out when it does.

After `failures` connection failures or timeouts in a row, a destination's breaker opens for
`cooldown` seconds: its jobs wait, attempts uncounted and never failed (the claim passes them
over). When the time is up, one worker's job is the probe; if the destination answers the breaker
closes and its jobs flow again, if not it opens again for twice as long (up to `max_cooldown`).
The state is in the database, so every worker process sees the same breaker.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from bridge import logs
from bridge.service import incidents
from bridge.storage.port import Breaker, BreakerState, Breakers as BreakerRows, iso

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Policy:
    failures: int = 5
    cooldown: float = 30.0
    max_cooldown: float = 300.0
    probe_hold: float = 30.0  # others keep off while a probe runs (its deadline, and a margin)


@dataclass(frozen=True)
class Admission:
    """What a worker may do with a claimed job bound for a destination."""
    before: Breaker | None        # the breaker as it was found (None: never tripped)
    probe: bool = False           # this job tries whether the destination answers again
    hold: float | None = None     # put the job back, uncounted, for this many seconds


class BreakerStore(BreakerRows, incidents.IncidentStore, Protocol):
    """What the breakers keep: their rows, and the incident an outage opens."""


class Breakers:
    def __init__(self, store: BreakerStore, policy: Policy):
        self.store = store
        self.policy = policy

    def admit(self, destination: str) -> Admission:
        found = self.store.breaker(destination)
        if found is None or found.state == BreakerState.CLOSED:
            return Admission(found)
        left = (found.open_until or 0.0) - self.store.clock()
        if left > 0:  # it opened (or a probe started) after this job was claimed
            return Admission(found, hold=_hold(found, left))
        if self.store.take_probe(destination, self.policy.probe_hold):
            logs.info(log, "breaker_probing", destination=destination)
            return Admission(found, probe=True)
        return Admission(found, hold=PROBE_RECHECK_SECONDS)  # another worker's job probes

    def answered(self, destination: str, admission: Admission) -> None:
        """The destination answered (whatever it said): failures in a row end here."""
        before = admission.before
        if before is None or (before.state == BreakerState.CLOSED and before.failures == 0):
            return  # the common case costs no write
        self.store.close_breaker(destination)
        if before.state != BreakerState.CLOSED:
            logs.info(log, "breaker_closed", destination=destination)

    def unreachable(self, destination: str, admission: Admission, reason: str) -> float | None:
        """A connection failure or timeout: the seconds the job should wait uncounted when the
        breaker is (now) open, None when it is still closed and the job retries as usual."""
        with self.store.transaction():
            now = self.store.clock()
            breaker = self.store.count_breaker_failure(destination, reason)
            if breaker.state != BreakerState.CLOSED and not admission.probe:
                if breaker.open_until and breaker.open_until > now:
                    return _hold(breaker, breaker.open_until - now)  # opened meanwhile
                return PROBE_RECHECK_SECONDS  # a probe is due: wait for its answer
            if not admission.probe and breaker.failures < self.policy.failures:
                return None
            cooldown = (min((breaker.cooldown or self.policy.cooldown) * 2,
                            self.policy.max_cooldown)
                        if admission.probe else self.policy.cooldown)
            self.store.open_breaker(destination, cooldown)
        logs.warning(log, "breaker_reopened" if admission.probe else "breaker_opened",
                     destination=destination, failures=breaker.failures,
                     open_for_s=round(cooldown, 1), reason=reason)
        site = destination.removeprefix("pos:") if destination.startswith("pos:") else None
        if site and not admission.probe:  # one incident an outage, not one a failed probe
            incidents.incident(self.store, site, incidents.IncidentKind.POS_UNREACHABLE,
                               f"{destination}@{int(now)}",
                               "Your POS is not answering: new orders wait for it",
                               f"{breaker.failures} tries in a row failed: {reason}. The "
                               "bridge keeps trying and sends them when it answers.")
        return cooldown


# While a probe runs, the breaker's time is the probe's deadline, not how long the destination
# stays shut: a job held behind it looks again this soon, and flows as soon as the probe answers.
PROBE_RECHECK_SECONDS = 1.0


def _hold(breaker: Breaker, left: float) -> float:
    """How long a job waits behind a breaker that is not closed, `left` seconds from its time."""
    return min(left, PROBE_RECHECK_SECONDS) if breaker.state == BreakerState.PROBING else left


def explain(breaker: Breaker) -> str:
    """One line for operators: `bridge orders` and `bridge show`."""
    if breaker.state == BreakerState.CLOSED:
        return f"answering again after {breaker.failures} failure(s): {breaker.last_error}"
    when = iso(breaker.open_until)[11:19] if breaker.open_until else "-"
    doing = "probing" if breaker.state == BreakerState.PROBING else f"next try at {when} UTC"
    return (f"not answering, orders held (circuit breaker {breaker.state}, {doing}, "
            f"{breaker.failures} failures in a row): {breaker.last_error}")
