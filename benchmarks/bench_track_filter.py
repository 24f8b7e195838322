"""Track-candidate features of the edge route's track filter
(``helixkit.learned.track_filter.candidate_features``) vs a per-candidate numpy loop.

Data: the unfiltered track candidates of the shipped model's edge route on a simulated
event (``LearnedTracking.edge_candidates``: kNN graph, scored edges, matching links). The
peer is what one writes
without helixkit: group the hits of each candidate, fit the circle and the z line with
``np.linalg.lstsq``, take the link and external-edge logits from the edge arrays restricted
to the candidate (the same numbers, asserted to 1e-6).

Smoke mode ⟨μ⟩ = 20; ``HELIXKIT_BENCH_FULL=1`` ⟨μ⟩ = 200 (~50k pixel hits after the noise
filter, ~1.3M scored edges, ~8k candidates of ≥ 3 hits).
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
import pytest

from helixkit.data import layer_key, simulate_event
from helixkit.learned.edge import _SCORE_CLIP
from helixkit.learned.track_filter import FEATURES, candidate_features

FULL = os.environ.get("HELIXKIT_BENCH_FULL") == "1"
MU = 200 if FULL else 20


@pytest.fixture(scope="module")
def candidates() -> tuple[Any, ...]:
    from helixkit.nn import pretrained  # noqa: PLC0415

    model = pretrained("learned_tracking")
    ev = simulate_event(mu=MU, seed=3)
    cand = model.edge_candidates(ev, n_threads=1)
    rows = cand["rows"]
    x, y, z = (np.asarray(ev.hits[c], np.float64)[rows] for c in ("x", "y", "z"))
    return (cand["labels"], cand["links"], cand["score"], cand["inner"], cand["outer"],
            cand["threshold"], x, y, z, layer_key(ev, rows))


def _logit(s: np.ndarray) -> np.ndarray:
    s = np.clip(np.asarray(s, np.float64), _SCORE_CLIP, 1 - _SCORE_CLIP)
    return np.log(s / (1 - s))


def loop_features(labels: np.ndarray, links: np.ndarray, score: np.ndarray, inner: np.ndarray,
                  outer: np.ndarray, thr: float, x: np.ndarray, y: np.ndarray, z: np.ndarray,
                  layer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    kept = np.zeros(len(score), bool)
    kept[links] = True
    ext = np.flatnonzero((score > thr) & ~kept & (labels[inner] != labels[outer]))
    best = np.full(len(labels), -np.inf)
    np.maximum.at(best, inner[ext], _logit(score[ext]))
    np.maximum.at(best, outer[ext], _logit(score[ext]))
    link_lab = labels[inner[links]]
    link_order = np.argsort(link_lab, kind="stable")
    link_lab_sorted = link_lab[link_order]
    order = np.argsort(labels, kind="stable")
    lab_sorted = labels[order]
    rows, ids = [], []
    for c in np.unique(labels[labels >= 0]):
        h = order[np.searchsorted(lab_sorted, c):np.searchsorted(lab_sorted, c, "right")]
        if len(h) < 3:
            continue
        lo, hi = np.searchsorted(link_lab_sorted, c), np.searchsorted(link_lab_sorted, c, "right")
        lk = np.sort(_logit(score[links[link_order[lo:hi]]]))
        xs, ys, zs = x[h], y[h], z[h]
        (a, b), *_ = np.linalg.lstsq(np.c_[2 * xs, 2 * ys], xs ** 2 + ys ** 2, rcond=None)
        rad = math.hypot(a, b)
        res_xy = np.abs(np.hypot(xs - a, ys - b) - rad)
        rr = np.hypot(xs, ys)
        arc = 2 * rad * np.arcsin(np.clip(rr / (2 * rad), -1, 1))
        coef, *_ = np.linalg.lstsq(np.c_[np.ones_like(arc), arc], zs, rcond=None)
        res_z = np.abs(zs - coef[0] - coef[1] * arc)
        n_lay = len(np.unique(layer[h]))
        eb = best[h]
        rows.append([len(h), n_lay, len(h) - n_lay, lk[0], lk.mean(), lk[1],
                     max(eb.max(), math.log(thr / (1 - thr))), (eb > 0).sum(),
                     math.log10(res_xy.max() + 1e-4), math.log10(res_z.max() + 1e-4),
                     math.log10(rad), abs(math.asinh(zs.mean() / rr.mean())), rr.min(),
                     rr.max()])
        ids.append(c)
    return np.array(rows).reshape(-1, len(FEATURES)), np.array(ids)


@pytest.mark.benchmark(group="track_filter_features")
def test_candidate_features_helixkit(benchmark, candidates):
    f, ids = benchmark(candidate_features, *candidates)
    ref, ref_ids = loop_features(*candidates)
    np.testing.assert_array_equal(ids, ref_ids)
    np.testing.assert_allclose(f, ref, rtol=1e-6, atol=1e-6)
    benchmark.extra_info["candidates"] = len(ids)


@pytest.mark.benchmark(group="track_filter_features")
def test_candidate_features_numpy_loop(benchmark, candidates):
    benchmark.pedantic(loop_features, args=candidates, rounds=3 if FULL else 5, iterations=1)
