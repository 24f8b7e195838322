"""Learned tracking pipeline: metric-learning graph construction + DBSCAN."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from helixkit import nn  # noqa: E402
from helixkit.data import simulate_event  # noqa: E402
from helixkit.nn.features import hit_features  # noqa: E402
from helixkit.learned.gc import GCConfig, GraphConstructionNet, hinge_loss  # noqa: E402
from helixkit.learned import evaluate_gc, find_tracks, train_gc  # noqa: E402
from helixkit.nn import TrainConfig  # noqa: E402


def test_hinge_loss_matches_hand_computation():
    cfg = GCConfig(r_emb=1.0, p_attr=2.0, p_rep=2.0, lw_repulsive=0.5)
    emb = torch.tensor([[0.0, 0.0], [0.3, 0.0], [0.0, 0.4], [3.0, 3.0]])
    pid = torch.tensor([1, 1, 2, 2])
    oi = torch.tensor([True, True, False, False])
    loss, parts = hinge_loss(emb, pid, oi, cfg, n_threads=1)
    # attraction: pairs (0,1),(1,0) of particle 1: d^2 = 0.09 each -> mean 0.09
    assert parts["attractive"] == pytest.approx(0.09)
    # repulsion: radius-1 pairs of different particles: (0,2),(2,0): d=0.4; (1,2),(2,1): d=0.5
    rep = 2 * (1 - 0.4) ** 2 + 2 * (1 - 0.5) ** 2
    assert parts["repulsive"] == pytest.approx(rep / 2)  # 2 hits of interest
    assert float(loss) == pytest.approx(0.09 + 0.5 * rep / 2)


def test_features_and_bad_volumes():
    ev = simulate_event(mu=2, seed=1)
    f, rows = hit_features(ev, volumes=(8,))
    assert f.shape == (len(rows), 7) and np.isfinite(f).all()
    with pytest.raises(ValueError, match="no hits"):
        hit_features(ev, volumes=(99,))
    with pytest.raises(ValueError, match="out_dim"):
        GraphConstructionNet(GCConfig(out_dim=0))


def test_short_training_improves_graph_and_tracking_metrics(tmp_path):
    train = [simulate_event(mu=8, seed=s) for s in range(3)]
    val = [simulate_event(mu=8, seed=50)]
    cfg = GCConfig(hidden_dim=32, depth=3)
    torch.manual_seed(0)
    before = evaluate_gc(GraphConstructionNet(cfg), val, n_threads=1)
    model = train_gc(train, val, cfg, TrainConfig(epochs=10, lr=3e-3, progress=False,
                                                  num_threads=1), tmp_path)
    after = evaluate_gc(model, val, n_threads=1)
    assert after["gc"]["edge_efficiency"] > before["gc"]["edge_efficiency"] + 0.05
    assert after["gc"]["edge_purity"] > before["gc"]["edge_purity"]
    assert after["best"]["double_majority"] > before["best"]["double_majority"]
    # checkpoint round trip and the inference API
    back = nn.load(tmp_path / "best.pt", expect="gc")
    labels = find_tracks(val[0], back, eps=after["best"]["eps"])
    assert labels.shape == (val[0].n_hits,)
    assert (labels[~np.isin(val[0].hits["volume_id"], (7, 8, 9))] == -1).all()
