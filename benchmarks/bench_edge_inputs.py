"""Edge-route inputs (``helixkit.learned.edge.edge_inputs`` and ``triplet_inputs``, numba)
vs the same columns written as whole-array numpy, the form they had before.

Data: a simulated ⟨μ⟩ = 200 event (smoke mode: ⟨μ⟩ = 10), pixel volumes with the cluster
features, a random 8-D "embedding" and its kNN graph at k = 40 (the shipped classifier's k;
~1.4M edges at ⟨μ⟩ = 200), random first-pass scores for the triplet inputs. Both forms give
the same arrays (asserted: pair inputs to 1e-6, triplet inputs bit for bit).
``HELIXKIT_BENCH_FULL=1`` for the full event.

The numpy forms here are also the reference the tests check the kernels against.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from helixkit.data import simulate_event
from helixkit.nn.features import hit_features
from helixkit.learned.edge import EdgeConfig, edge_inputs, graph_edges, triplet_inputs

FULL = os.environ.get("HELIXKIT_BENCH_FULL") == "1"
MU = 200 if FULL else 10


def numpy_pair_inputs(f: np.ndarray, emb: np.ndarray, a: np.ndarray, b: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pair inputs of ``edge_inputs`` for 12 hit features with the cluster group (9–11)."""
    g = f.astype(np.float64)
    r, z = g[:, 0] * 1000.0, g[:, 3] * 1000.0
    swap = np.hypot(r, z)[a] > np.hypot(r, z)[b]
    i, j = np.where(swap, b, a), np.where(swap, a, b)
    d = np.stack([r[j] * g[j, 1] - r[i] * g[i, 1], r[j] * g[j, 2] - r[i] * g[i, 2],
                  z[j] - z[i]], 1)
    length = np.linalg.norm(d, axis=1)
    d /= np.maximum(length, 1e-9)[:, None]
    phi = np.arctan2(g[:, 2], g[:, 1])
    cols = [(r[j] - r[i]) / 100, ((phi[j] - phi[i] + np.pi) % (2 * np.pi) - np.pi) * 10,
            (z[j] - z[i]) / 100, g[j, 4] - g[i, 4], np.log(np.maximum(length, 1e-6)) - 3,
            np.linalg.norm(emb[j].astype(np.float64) - emb[i], axis=1)]

    def direction(h: np.ndarray) -> np.ndarray:
        c, s = g[h, 1], g[h, 2]
        v = np.stack([g[h, 9] * c - g[h, 10] / 10 * s, g[h, 9] * s + g[h, 10] / 10 * c,
                      g[h, 11]], 1)
        return v / np.maximum(np.linalg.norm(v, axis=1), 1e-9)[:, None]

    ci, cj = direction(i), direction(j)
    polar = np.arctan2(d[:, 2], np.hypot(d[:, 0], d[:, 1]))
    cols += [np.abs((ci * d).sum(1)), np.abs((cj * d).sum(1)),
             polar - np.arctan2(ci[:, 2], np.hypot(ci[:, 0], ci[:, 1])),
             polar - np.arctan2(cj[:, 2], np.hypot(cj[:, 0], cj[:, 1])), (ci * cj).sum(1)]
    return np.concatenate([np.stack(cols, 1), g[i], g[j]], 1).astype(np.float32), i, j


def numpy_top2(score: np.ndarray, node: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Best and runner-up edge per node (ties: lower edge index first; −1: none)."""
    order = np.lexsort((np.arange(len(score)), -score, node))
    first = np.r_[True, node[order][1:] != node[order][:-1]]
    best, second = np.full(n, -1), np.full(n, -1)
    best[node[order][first]] = order[first]
    nxt = np.r_[first[1:], True]                  # the next entry starts another node
    has2 = first & ~nxt
    second[node[order][has2]] = order[np.flatnonzero(has2) + 1]
    return best, second


def numpy_triplet_inputs(x: np.ndarray, s32: np.ndarray, inner: np.ndarray,
                         outer: np.ndarray, cfg: EdgeConfig) -> np.ndarray:
    """``triplet_inputs`` as whole-array numpy."""
    n, idx, s = int(max(inner.max(), outer.max())) + 1, np.arange(len(s32)), s32.astype(float)
    x64 = x.astype(np.float64)
    polar = np.arctan2(x64[:, 2], x64[:, 0])
    azim = x64[:, 1] / 10.0 / (np.exp(x64[:, 4] + 3.0) / 1000.0)
    out1, out2 = numpy_top2(s, inner, n)
    in1, in2 = numpy_top2(s, outer, n)

    def neighbour(nb: np.ndarray, sign: float) -> list[np.ndarray]:
        ok, k = nb >= 0, np.maximum(nb, 0)
        return [np.where(ok, s[k], 0.0), ok * 1.0, np.where(ok, sign * (azim[k] - azim), 0.0),
                np.where(ok, sign * (polar[k] - polar), 0.0) * 10.0]

    prev, nxt = neighbour(in1[inner], -1.0), neighbour(out1[outer], 1.0)
    cols = [s, (out1[inner] == idx) * 1.0, (in1[outer] == idx) * 1.0, prev[0], nxt[0],
            prev[1], nxt[1], prev[2], prev[3], nxt[2], nxt[3]]
    if cfg.triplet_context == 2:
        for top1, top2, node in ((out1, out2, inner), (in1, in2, outer)):
            rival = np.where(top1[node] == idx, top2[node], top1[node])
            cols.append(s - np.where(rival >= 0, s[np.maximum(rival, 0)], 0.0))
        cols += [*neighbour(in2[inner], -1.0), *neighbour(out2[outer], 1.0)]
    return np.concatenate([x[:, :cfg.pair_dim], np.stack(cols, 1).astype(np.float32)], 1)


@pytest.fixture(scope="module")
def graph() -> tuple[np.ndarray, ...]:
    f, _ = hit_features(simulate_event(mu=MU, seed=3), volumes=(7, 8, 9), extra=("cluster",))
    emb = np.random.default_rng(0).normal(size=(len(f), 8)).astype(np.float32)
    edges = graph_edges(emb, 40, n_threads=1)
    return f, emb, edges


CFG = EdgeConfig(k=40, triplet_context=2)


@pytest.mark.benchmark(group="edge-inputs")
def test_pair_inputs_helixkit(benchmark, graph):
    f, emb, edges = graph
    edge_inputs(f, emb, CFG, edges=edges[:, :10])          # numba compile / cache
    x, i, _ = benchmark(edge_inputs, f, emb, CFG, edges=edges)
    benchmark.extra_info.update(n_hits=len(f), n_edges=len(i))


@pytest.mark.benchmark(group="edge-inputs")
def test_pair_inputs_numpy(benchmark, graph):
    f, emb, edges = graph
    x, i, j = benchmark(numpy_pair_inputs, f, emb, *edges)
    ours, i2, j2 = edge_inputs(f, emb, CFG, edges=edges)
    assert np.array_equal(i, i2) and np.array_equal(j, j2)
    np.testing.assert_allclose(ours, x, rtol=1e-6, atol=1e-6)


def _scored(graph: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    f, emb, edges = graph
    x, i, j = edge_inputs(f, emb, CFG, edges=edges)
    s = np.random.default_rng(1).random(len(i)).astype(np.float32)
    s[::5] = s[0]                                         # ties
    return x, s, i, j


@pytest.mark.benchmark(group="triplet-inputs")
def test_triplet_inputs_helixkit(benchmark, graph):
    x, s, i, j = _scored(graph)
    triplet_inputs(x[:10], s[:10], i[:10], j[:10], CFG)   # numba compile / cache
    benchmark(triplet_inputs, x, s, i, j, CFG)


@pytest.mark.benchmark(group="triplet-inputs")
def test_triplet_inputs_numpy(benchmark, graph):
    x, s, i, j = _scored(graph)
    ref = benchmark(numpy_triplet_inputs, x, s, i, j, CFG)
    assert np.array_equal(triplet_inputs(x, s, i, j, CFG), ref)
