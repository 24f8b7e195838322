"""Benchmark: hashing seeding vs standard triplet seeding (its peer, same run).

pytest-benchmark group ``hashing``: standard seeding with maxSeedsPerSpM = 1
and 5 (the peers of the issue's targets) and hashing seeding with
maxSeedsPerSpM = 1 (ACTS ODD pu200 seeding config, pixel space points), index
training and querying included. Indices: ``native`` (Annoy's algorithm in
helixkit's C++, the default), ``annoy`` (the annoy package, one Python call
per query) and ``exact``. All single-threaded. Each hashing case stores the
mean share of its time spent in training / querying / bucket building /
seeding / merging, and the seeds per event, in ``extra_info``.

Default events: 2 toy events (``helixkit.seeding._toy``, 1,000 particles,
about 4,600 space points), every index. ``HELIXKIT_BENCH_FULL=1``: 3 dense
simulated events (``helixkit.data.simulate_event``, <mu> = 200, about 10,500
particles and 54,000 pixel space points) with the configuration of the
issue's targets (metric "phi", bucket_size 350, 800 phi bins); the annoy
package is left out there (about 10k Python queries per event).

Run: ``pytest benchmarks/bench_hashing.py`` (add ``--benchmark-disable`` for a
smoke run). Efficiencies and the full scan: ``helixkit study hashing``.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from helixkit import seeding
from helixkit.seeding._toy import toy_event
from helixkit.seeding.hashing import HashingConfig, find_seeds_hashing

FULL = os.environ.get("HELIXKIT_BENCH_FULL", "") == "1"


def _events():
    if not FULL:
        return [toy_event(1000, seed=200 + k) for k in range(2)]
    from helixkit.data import simulate_event  # noqa: PLC0415

    out = []
    for k in range(3):
        ev = simulate_event(mu=200, seed=k)
        pix = np.isin(ev.hits["volume_id"], ev.geometry.pixel_volumes)
        out.append({c: np.ascontiguousarray(ev.hits[c][pix], dtype=np.float32) for c in "xyz"})
    return out


@pytest.fixture(scope="module")
def events():
    return _events()


def _standard(events, m):
    cfg = seeding.SeedFinderConfig.acts_odd(max_seeds_per_spm=m)
    return [seeding.find_seeds(e["x"], e["y"], e["z"], cfg, n_threads=1) for e in events]


def _hashing(events, hcfg):
    cfg = seeding.SeedFinderConfig.acts_odd(max_seeds_per_spm=1)
    return [find_seeds_hashing(e["x"], e["y"], e["z"], cfg, hcfg, 1) for e in events]


@pytest.mark.benchmark(group="hashing")
@pytest.mark.parametrize("m", [1, 5])
def test_standard_seeding(benchmark, events, m):
    res = benchmark(_standard, events, m)
    benchmark.extra_info["seeds_per_event"] = float(np.mean([len(r) for r in res]))
    assert all(len(r) > 0 for r in res)


_TOY_CASES = [
    (index, bucket_size, metric, 50)
    for index in ("native", "annoy", "exact")
    for bucket_size, metric in [(25, "phi"), (50, "phi"), (50, "phi_eta")]
]
_FULL_CASES = [("native", 350, "phi", 800), ("exact", 350, "phi", 800), ("native", 300, "phi", 800)]


@pytest.mark.benchmark(group="hashing")
@pytest.mark.parametrize(("index", "bucket_size", "metric", "phi_bins"), _FULL_CASES if FULL else _TOY_CASES)
def test_hashing_seeding(benchmark, events, index, bucket_size, metric, phi_bins):
    hcfg = HashingConfig(bucket_size=bucket_size, phi_bins=phi_bins, metric=metric, index=index)
    res = benchmark(_hashing, events, hcfg)
    parts = [r.timing.as_dict() for r in res]
    total = sum(p["total"] for p in parts)
    for key in ("train", "query", "buckets", "seeding", "merge"):
        benchmark.extra_info[f"share_{key}"] = sum(p[key] for p in parts) / total if total else 0.0
    benchmark.extra_info["seeds_per_event"] = float(np.mean([len(r) for r in res]))
    assert all(len(r) > 0 for r in res)
