"""Benchmark: tokenising hits with the shipped tokeniser, native k-d tree vs distance matrix.

``HitTokenizer.encode`` finds each level's nearest code with helixkit's exact kNN (a k-d tree
over the codebook, 65,536-hit chunks); the peer is the same model with the batched torch
distance matrix the training uses (``ResidualQuantizer.forward``). Same hits, same tokens but
for float ties.

pytest form (CI smoke-runs it with --benchmark-disable; one <mu> = 5 event)::

    pytest benchmarks/bench_tokens.py

Report form (docs/tokens.md; 4 events at <mu> = 200, 2 threads)::

    PYTHONPATH=python python benchmarks/bench_tokens.py
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from _timing import best_time

torch = pytest.importorskip("torch")

from helixkit.data import generate_events  # noqa: E402
from helixkit.nn import pretrained  # noqa: E402
from helixkit.tokens import hit_sample  # noqa: E402


def _matrix_encode(model, xyz: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        z = model.encode_latent(torch.from_numpy(xyz))
        return model.quantizer.eval()(z)[1].numpy()


@pytest.fixture(scope="module")
def setup():
    return pretrained("hit_tokenizer"), hit_sample(list(generate_events(1, mu=5, seed=3))).xyz


@pytest.mark.benchmark(group="tokens")
def test_encode_tree(benchmark, setup):
    model, xyz = setup
    tok = benchmark(model.encode, xyz, n_threads=0)
    assert tok.shape == (len(xyz), 4)


@pytest.mark.benchmark(group="tokens")
def test_encode_distance_matrix(benchmark, setup):
    model, xyz = setup
    tok = benchmark(_matrix_encode, model, xyz)
    assert (tok == model.encode(xyz)).all(1).mean() > 0.999


def report() -> None:
    torch.set_num_threads(2)
    model = pretrained("hit_tokenizer")
    xyz = hit_sample(list(generate_events(4, mu=200, seed=5))).xyz
    t_tree = best_time(lambda: model.encode(xyz, n_threads=2), 3)
    t_mat = best_time(lambda: _matrix_encode(model, xyz), 2)
    agree = float((model.encode(xyz) == _matrix_encode(model, xyz)).all(1).mean())
    print(f"{len(xyz):,} hits (4 events, <mu> = 200), 2 threads")
    print(f"  k-d tree (encode):     {len(xyz) / t_tree:.3g} hits/s")
    print(f"  distance matrix:       {len(xyz) / t_mat:.3g} hits/s")
    print(f"  ratio {t_mat / t_tree:.1f}x; same tokens for {100 * agree:.4f} % of hits")


if __name__ == "__main__":
    report()
    sys.exit(0)
