"""Built-in simulation throughput: events/s at <mu> = 50 and 200, with and without cells.

Smoke mode (CI, ``--benchmark-disable``) runs small events; set
``HELIXKIT_BENCH_FULL=1`` for the real sizes.
"""

from __future__ import annotations

import os

import pytest

from helixkit.data import simulate_event

FULL = os.environ.get("HELIXKIT_BENCH_FULL") == "1"
MUS = [50, 200] if FULL else [5]


@pytest.fixture(scope="module", autouse=True)
def _warm_jit():
    simulate_event(mu=1, seed=0)  # numba compilation / cache load is not part of the timing


@pytest.mark.benchmark(group="simulation")
@pytest.mark.parametrize("cells", [True, False], ids=["cells", "no_cells"])
@pytest.mark.parametrize("mu", MUS)
def test_simulate_event(benchmark, mu, cells):
    seeds = iter(range(10**6))
    ev = benchmark(lambda: simulate_event(mu=mu, seed=next(seeds), cells=cells))
    benchmark.extra_info.update(hits=ev.n_hits, particles=ev.n_particles,
                                cells=0 if ev.cells is None else ev.cells.n_rows)
    assert ev.n_hits > 0
