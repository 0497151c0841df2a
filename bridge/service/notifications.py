"""The `notify` job: a site's untold incidents (`bridge.service.incidents`) in one email.

It sends every incident of the site still untold in one message, so a burst of failures is one
digest, and a retried job sends nothing twice. Without SMTP settings or an address for the site,
incidents stay recorded and untold (the log says so once per job).
"""
from __future__ import annotations

import logging

from bridge import logs
from bridge.mail import MailError, Mailer
from bridge.service import incidents, jobs
from bridge.service.outcomes import Retry, Wait
from bridge.storage.port import Incident, Job, epoch

log = logging.getLogger(__name__)
def set_address(store: incidents.IncidentStore, instance_id: str, email: str | None) -> int:
    """Where the site's owner is told (None: nowhere). Incidents kept untold for want of an
    address go out to a new one; how many."""
    with store.transaction():
        store.set_notify_email(instance_id, email)
        untold = store.open_incidents(instance_id) if email else []
        if untold:
            store.enqueue(jobs.notify(instance_id, f"address:{untold[-1].id}:{email}"))
    return len(untold)


class Notify:
    """The `notify` job."""

    def __init__(self, store: incidents.IncidentStore, mailer: Mailer | None, *,
                 digest_seconds: float = 60.0):
        self.store = store
        self.mailer = mailer
        self.digest_seconds = digest_seconds  # incidents this close to the first go together

    def run(self, job: Job) -> None:
        untold = self.store.open_incidents(job.instance_id)
        if not untold:
            return
        to = self.store.notify_email(job.instance_id)
        if self.mailer is None or not to:
            logs.info(log, "owner_not_notified", instance_id=job.instance_id,
                      incidents=len(untold),
                      reason="no BRIDGE_SMTP_URL" if self.mailer is None
                      else "no address for the site (`bridge notify-email`)")
            return
        waited = self.store.clock() - epoch(untold[0].created_at)
        if waited < self.digest_seconds:
            raise Wait("collecting a digest", self.digest_seconds - waited)
        subject, body = message(untold)
        try:
            self.mailer.send(to, subject, body)
        except MailError as error:
            raise Retry(str(error)) from None
        self.store.mark_notified([i.id for i in untold])
        logs.info(log, "owner_notified", instance_id=job.instance_id, incidents=len(untold))

    def failed(self, job: Job, reason: str, cause: str | None = None) -> None:
        pass  # the incidents stay untold; the next incident's job tries again


def message(incidents: list[Incident]) -> tuple[str, str]:
    """One incident: its own subject. Several: a digest listing each."""
    if len(incidents) == 1:
        only = incidents[0]
        return only.subject, _paragraph(only) + FOOTER
    subject = f"{len(incidents)} things on your restaurant need your attention"
    return subject, "\n\n".join(_paragraph(i) for i in incidents) + FOOTER


def _paragraph(incident: Incident) -> str:
    return f"- {incident.subject}" + (f"\n  {incident.detail}" if incident.detail else "")


FOOTER = ("\n\nThis message comes from the bridge between your Wix restaurant and your point of "
          "sale. Your integrator can see every order and retry failed ones.\n")
