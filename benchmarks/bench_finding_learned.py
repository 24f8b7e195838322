"""Benchmark: the classical chain (CKF) and learned tracking on the same built-in events.

The ``helixkit demo`` stages of both (``helixkit.learned.demo``: the shipped
``pretrained("learned_tracking")``; ``helixkit.finding.demo``: standard seeding → CKF → fit →
ambiguity resolution) on the same simulated events, scored with the same ACTS track-level
definitions: efficiency, fake and duplicate rates, double-majority and perfect efficiencies
and time per event, on all hits (the chain) and on the pixel hits learned tracking uses.

pytest form (CI smoke-runs it with --benchmark-disable; one <mu> = 5 event)::

    pytest benchmarks/bench_finding_learned.py

Report form (the table in docs/tracking.md; default 3 events at <mu> = 200)::

    PYTHONPATH=python python benchmarks/bench_finding_learned.py [mu [n_events]]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pytest

from helixkit.data.simulation import simulate_event
from helixkit.finding import demo as finding_demo
from helixkit.learned import demo as learned_demo
from helixkit.report import Report


def _both(mu: float, n_events: int, out: Path, n_threads: int = 1) -> Report:
    events = [simulate_event(mu=mu, seed=100 + i, event_id=i) for i in range(n_events)]
    report = Report(out)
    learned_demo.demo_stage(events, report, n_threads=n_threads, seed=0)
    finding_demo.demo_stage(events, report, n_threads=n_threads, seed=0)
    return report


@pytest.mark.benchmark(group="finding-learned")
def test_chain_and_learned(benchmark, tmp_path):
    report = benchmark.pedantic(_both, args=(5.0, 1, tmp_path), rounds=1, iterations=1)
    res = report.results["tracking"]
    assert res["all_hits"]["efficiency"] > 0.8
    assert res["learned_pixel_hits"]["efficiency"] > 0.8


if __name__ == "__main__":
    mu = float(sys.argv[1]) if len(sys.argv) > 1 else 200.0
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    with tempfile.TemporaryDirectory() as d:
        _both(mu, n, Path(d))
    sys.exit(0)
