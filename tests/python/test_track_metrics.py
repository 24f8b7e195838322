from __future__ import annotations

import numpy as np
import pytest

from helixkit.data import Table, simulate_event
from helixkit.evaluation import trackml_score, tracking_metrics, tracking_metrics_binned


def _particles(pids, pt):
    pids = np.asarray(pids)
    return Table({"particle_id": pids, "px": np.asarray(pt, float), "py": np.zeros(len(pids)),
                  "pz": np.zeros(len(pids))})


def test_hand_made_clustering():
    # particle 1: 4 hits, particle 2: 4 hits, particle 3: 3 hits (pT too low), noise 2 hits
    pid = np.array([1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 0, 0])
    parts = _particles([1, 2, 3], [2.0, 1.5, 0.5])
    labels = np.array([
        0, 0, 0, 0,      # perfect cluster of particle 1
        1, 1, 1, 2,      # particle 2: 3/4 in cluster 1, one hit in cluster 2
        3, 3, 3,         # low-pT particle: not counted
        1, -1,           # noise hit added to cluster 1
    ])
    m = tracking_metrics(labels, pid, parts, pt_thld=0.9)
    assert m.n_particles == 2
    # counted clusters: 0 (pid 1), 1 (pid 2, 3 of 4 hits + 1 noise); cluster 2 too small
    assert m.n_clusters == 2
    assert m.perfect == pytest.approx(1 / 2)
    assert m.double_majority == pytest.approx(2 / 2)  # cluster 1: 3/4 > .5 and 3/4 > .5
    assert m.lhc == pytest.approx(1 / 2)  # cluster 1 maj_frac = 0.75, not > 0.75
    assert m.fake_perfect == pytest.approx(1 / 2)
    assert m.fake_double_majority == 0.0


def test_majority_ties_and_half_split_are_not_double_majority():
    pid = np.array([5, 5, 7, 7, 5, 5, 7, 7])
    parts = _particles([5, 7], [3.0, 3.0])
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    m = tracking_metrics(labels, pid, parts, min_cluster_size=3)
    # each cluster: tie 2/2 -> majority = lower pid 5; maj_frac = 0.5 (not > 0.5)
    assert m.double_majority == 0.0
    assert m.n_clusters == 2  # both clusters' majority is particle 5


def test_trackml_score_of_known_submissions():
    ev = simulate_event(mu=3, seed=2)
    pid, w = ev.hit_particle_id, ev.truth["weight"]
    assert trackml_score(pid, pid, w) == pytest.approx(1.0, rel=1e-6)
    assert trackml_score(np.full(len(pid), -1), pid, w) == 0.0
    # one big track: no good track (particle fractions tiny)
    assert trackml_score(np.zeros(len(pid), int), pid, w) == 0.0
    # split every particle in two halves: the larger half (>50 %) scores its own weight
    labels = pid * 2 + (np.arange(len(pid)) % 2)
    s = trackml_score(labels, pid, w)
    assert 0.0 < s < 1.0


def test_perfect_truth_clustering_on_simulation():
    ev = simulate_event(mu=5, seed=1)
    pid = ev.hit_particle_id
    labels = np.where(pid > 0, pid, -1)
    key = ev.hits["volume_id"].astype(np.int64) * 1000 + ev.hits["layer_id"]
    m = tracking_metrics(labels, pid, ev.particles, layer_key=key)
    assert m.perfect == pytest.approx(1.0) and m.double_majority == pytest.approx(1.0)
    assert m.fake_double_majority == 0.0 and m.lhc == 1.0
    b = tracking_metrics_binned(labels, pid, ev.particles, variable="eta", layer_key=key)
    ok = b["n_particles"] > 0
    np.testing.assert_allclose(b["double_majority"][ok], 1.0)


def test_bad_input():
    with pytest.raises(ValueError, match="equal length"):
        tracking_metrics(np.zeros(3), np.zeros(4), _particles([1], [1.0]))
    with pytest.raises(ValueError, match="variable"):
        tracking_metrics_binned(np.zeros(3), np.zeros(3), _particles([1], [1.0]), variable="phi")
    with pytest.raises(ValueError, match="weight"):
        trackml_score(np.zeros(2), np.ones(2), np.array([np.nan, 1.0]))
