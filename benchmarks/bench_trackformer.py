"""TrackFormer inference throughput (shipped weights): length-bucketed batches vs
the full-width padded batches the model used before.

``pytest benchmarks/bench_trackformer.py`` (group ``trackformer-inference``);
``python benchmarks/bench_trackformer.py`` prints tracks/s. ``HELIXKIT_BENCH_FULL=1``
uses 5 events at <mu> = 200 (about 6,000 tracks) instead of 1.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from _timing import best_time

from helixkit import data, nn
from helixkit.trackformer.model import build_sequences

FULL = os.environ.get("HELIXKIT_BENCH_FULL") == "1"
N_EVENTS = 5 if FULL else 1


def _setup():
    model = nn.pretrained("trackformer")
    events = list(data.generate_events(N_EVENTS, mu=200, seed=7))
    return model, build_sequences(events, model.config, strict_length=False)


@torch.no_grad()
def padded(model, seq, batch_size=4096):
    """The previous inference path: every batch at the full padded width."""
    model.eval()
    for i in range(0, len(seq.hits), batch_size):
        model(torch.from_numpy(np.ascontiguousarray(seq.hits[i : i + batch_size], np.float32)),
              torch.from_numpy(np.ascontiguousarray(seq.mask[i : i + batch_size], bool)))


@pytest.fixture(scope="module")
def setup():
    return _setup()


@pytest.mark.benchmark(group="trackformer-inference")
def test_trackformer_bucketed(benchmark, setup):
    model, seq = setup
    out = benchmark(model.predict_arrays, seq.hits, seq.mask)
    assert out.shape[0] == len(seq.hits)


@pytest.mark.benchmark(group="trackformer-inference")
def test_trackformer_padded(benchmark, setup):
    model, seq = setup
    benchmark(padded, model, seq)


def main() -> None:
    model, seq = _setup()
    n = len(seq.hits)
    print(f"tracks {n}, padded width {seq.hits.shape[1]}, mean hits {seq.mask.sum(1).mean():.1f}, "
          f"torch threads {torch.get_num_threads()}")
    print(f"padded batches of 4096 (previous): {n / best_time(lambda: padded(model, seq)):.0f} tracks/s")
    for bs in (128, 256, 512, 1024, 4096):
        t = best_time(lambda bs=bs: model.predict_arrays(seq.hits, seq.mask, batch_size=bs))
        print(f"length-bucketed, batch {bs}: {n / t:.0f} tracks/s")


if __name__ == "__main__":
    main()
