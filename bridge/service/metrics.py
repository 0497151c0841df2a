"""The operator's metrics, in Prometheus's text format, read from the database at each scrape.

Everything counted is in the database, so one scrape of any web process sees what every process
did (a per-process counter would show one gunicorn worker's share). Call latencies are the
durations of the last attempts of each kind of job (a send is a POS call, a status update a Wix
call), as quantiles.
"""
from __future__ import annotations

from typing import Iterable

from bridge.storage.port import Breaker, Snapshot, epoch

QUANTILES = (0.5, 0.9, 0.99)
# What each kind of job waits on, for the latency metric's `calls` label.
CALLS = {"send_order": "pos", "cancel_order": "pos", "wix_status": "wix",
         "import_order": "wix", "sync_catalog": "wix", "list_configurations": "wix",
         "process_event": "none"}


def exposition(snapshot: Snapshot, breakers: Iterable[Breaker], now: float) -> str:
    out: list[str] = []

    def metric(name: str, kind: str, help_text: str, samples: Iterable[tuple]):
        """`samples`: (labels, value), or (suffix, labels, value) for a summary's _sum/_count."""
        out.append(f"# HELP {name} {help_text}")
        out.append(f"# TYPE {name} {kind}")
        for sample in samples:
            suffix, labels, value = sample if len(sample) == 3 else ("", *sample)
            inside = ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items())
            out.append(f"{name}{suffix}{{{inside}}} {_number(value)}" if inside
                       else f"{name}{suffix} {_number(value)}")

    metric("bridge_webhooks_stored_total", "counter",
           "Verified Wix webhooks stored (duplicates and refusals are not).",
           [({}, snapshot.events)])
    metric("bridge_orders", "gauge", "Orders by state and direction (exported to the POS, "
           "imported from it).", [({"state": s, "direction": d}, n)
                                  for (s, d), n in sorted(snapshot.orders.items())])
    metric("bridge_jobs", "gauge", "Jobs pending, running or failed, by kind.",
           [({"kind": k, "state": s}, n) for (k, s), n in sorted(snapshot.jobs.items())])
    metric("bridge_oldest_pending_job_age_seconds", "gauge",
           "Age of the oldest job waiting, by kind.",
           [({"kind": k}, max(0.0, now - epoch(at)))
            for k, at in sorted(snapshot.oldest_pending.items())])
    metric("bridge_attempts_total", "counter", "Attempts at jobs (sends, status updates, ...) "
           "by kind and outcome (done, retry, failed, wait).",
           [({"kind": k, "outcome": o}, n) for (k, o), n in sorted(snapshot.attempts.items())])
    metric("bridge_attempt_seconds", "summary", "How long the latest attempts took, by kind "
           "and what they call (pos, wix).", _latencies(snapshot.recent_attempts))
    open_breakers = [b for b in breakers if b.state != "closed"]
    metric("bridge_breakers_open", "gauge", "Destinations (a site's POS, Wix for a site) whose "
           "circuit breaker is open or probing.", [({}, len(open_breakers))])
    metric("bridge_imports", "gauge", "Orders taken at the POS, by import state.",
           [({"state": s}, n) for s, n in sorted(snapshot.imports.items())])
    metric("bridge_syncs", "gauge", "Catalog syncs by status.",
           [({"status": s}, n) for s, n in sorted(snapshot.syncs.items())])
    metric("bridge_status_updates", "gauge", "POS status reports by state.",
           [({"state": s}, n) for s, n in sorted(snapshot.status_updates.items())])
    return "\n".join(out) + "\n"


def _latencies(recent: list[tuple[str, str, str]]) -> list[tuple]:
    by_kind: dict[str, list[float]] = {}
    for kind, started, finished in recent:
        by_kind.setdefault(kind, []).append(max(0.0, epoch(finished) - epoch(started)))
    samples: list[tuple] = []
    for kind, durations in sorted(by_kind.items()):
        durations.sort()
        labels = {"kind": kind, "calls": CALLS.get(kind, "other")}
        for q in QUANTILES:
            index = min(len(durations) - 1, int(round(q * (len(durations) - 1))))
            samples.append(({**labels, "quantile": q}, durations[index]))
        samples.append(("_sum", labels, sum(durations)))
        samples.append(("_count", labels, len(durations)))
    return samples


def _number(value: float) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
