"""Benchmark: next-hit inference with the shipped ``pretrained("next_hit")`` vs its physics
peer, the helix through the last three hits (``helix_next_hits``), on the same tracks.

Both give a next layer and position at every step of every track (pT > 1 GeV, >= 4 hits):
the model in one causal pass per track (length-bucketed batches of 1,024 tracks, heads on the
in-track steps only; with and without its next-token head, which following does not use),
the helix by analytic navigation step by step.

pytest form (CI smoke-runs it with --benchmark-disable; one <mu> = 5 event)::

    pytest benchmarks/bench_next_hit.py

Report form (docs/tokens.md; 4 events at <mu> = 200, 2 threads)::

    PYTHONPATH=python python benchmarks/bench_next_hit.py
"""

from __future__ import annotations

import sys

import pytest
from _timing import best_time

torch = pytest.importorskip("torch")

from helixkit.data import generate_events  # noqa: E402
from helixkit.nn import pretrained  # noqa: E402
from helixkit.tokens.evaluate import SCORE_MIN_PT  # noqa: E402
from helixkit.tokens.follow import helix_next_hits, predict_next_hits  # noqa: E402
from helixkit.tokens.sequences import track_sequences  # noqa: E402


def _setup(n_events: int, mu: float):
    evs = list(generate_events(n_events, mu=mu, seed=5))
    seqs = track_sequences(evs, pretrained("hit_tokenizer"), min_pt=SCORE_MIN_PT)
    return pretrained("next_hit"), seqs, evs[0].geometry


@pytest.fixture(scope="module")
def setup():
    return _setup(1, 5.0)


@pytest.mark.benchmark(group="next_hit")
def test_next_hit_model(benchmark, setup):
    model, seqs, geo = setup
    p = benchmark(predict_next_hits, model, seqs, geo)
    assert p["xyz"].shape == seqs.xyz.shape


@pytest.mark.benchmark(group="next_hit")
def test_next_hit_helix(benchmark, setup):
    _, seqs, geo = setup
    p = benchmark(helix_next_hits, seqs, geo)
    assert p["xyz"].shape == seqs.xyz.shape


def report() -> None:
    torch.set_num_threads(2)
    model, seqs, geo = _setup(4, 200.0)
    predict_next_hits(model, seqs, geo)                 # warm-up
    t_model = best_time(lambda: predict_next_hits(model, seqs, geo), 3)
    t_pos = best_time(lambda: predict_next_hits(model, seqs, geo, tokens=False), 3)
    t_helix = best_time(lambda: helix_next_hits(seqs, geo), 3)
    n, steps = len(seqs), int(seqs.length.sum())
    print(f"{n:,} tracks ({steps:,} steps; 4 events, <mu> = 200, pT > 1 GeV), 2 threads")
    print(f"  next_hit model: {n / t_model:.3g} tracks/s ({steps / t_model:.3g} steps/s)")
    print(f"  next_hit model, layer + position only (no token head, as in following): "
          f"{n / t_pos:.3g} tracks/s")
    print(f"  helix:          {n / t_helix:.3g} tracks/s ({steps / t_helix:.3g} steps/s)")
    print(f"  ratio model / helix time: {t_model / t_helix:.2f}")


if __name__ == "__main__":
    report()
    sys.exit(0)
