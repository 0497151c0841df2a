"""The bench's own arithmetic: a receiver measured in turns is reported as if in one run.

The bench is not run by the suite (its figures depend on the machine), but the figures it
prints against the targets must be computed right: a wrong merge could pass or fail a target."""
import random

import pytest

from bench.run import merged_percentile


def as_wrk_reports(latencies_ms: list[float]) -> dict:
    """What `wrk` reports of a run through post_tokens.lua's `done()`: its request count and
    each percentile from 0.1 to 100 in steps of 0.1 (wrk answers with a recorded value)."""
    ordered = sorted(latencies_ms)
    points = []
    for tenth in range(1, 1001):
        rank = max(1, -(-tenth * len(ordered) // 1000))  # ceil(tenth / 1000 * n)
        points.append((tenth / 1000, ordered[rank - 1]))
    return {"requests": len(ordered), "latency": points}


def exact_percentile(latencies_ms: list[float], q: float) -> float:
    ordered = sorted(latencies_ms)
    return ordered[max(1, -(-int(q * 1000) * len(ordered) // 1000)) - 1]


@pytest.mark.parametrize("q", [0.50, 0.99])
def test_turns_merge_into_the_percentile_of_all_their_requests(q):
    rng = random.Random(7)
    # A steady turn, a slow one (a noisy neighbour for a while) and a fast one. The worst
    # turn's p99 is some 89 ms, the turns' medians average some 18 ms: neither is the run's.
    turns = [[rng.uniform(2, 8) for _ in range(6000)],
             [rng.uniform(5, 90) for _ in range(600)],
             [rng.uniform(1, 3) for _ in range(2000)]]
    merged = merged_percentile([as_wrk_reports(turn) for turn in turns], q)
    everything = [ms for turn in turns for ms in turn]
    assert merged == pytest.approx(exact_percentile(everything, q), rel=0.03)
    # Neither the worst turn's figure nor the best one's.
    per_turn = [exact_percentile(turn, q) for turn in turns]
    assert min(per_turn) < merged < max(per_turn)


def test_one_turn_is_reported_as_wrk_reported_it():
    rng = random.Random(11)
    turn = [rng.expovariate(1 / 5) for _ in range(5000)]
    report = as_wrk_reports(turn)
    assert merged_percentile([report], 0.99) == dict(report["latency"])[0.99]
    assert merged_percentile([report], 0.50) == dict(report["latency"])[0.5]
