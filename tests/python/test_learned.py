"""Learned tracking pipeline: InfoNCE, object condensation, noise classifier, assembly, CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from helixkit import nn  # noqa: E402
from helixkit.cli import main  # noqa: E402
from helixkit.data import simulate_event  # noqa: E402
from helixkit.learned.gc import GCConfig, GraphConstructionNet, _true_pairs, info_nce_loss  # noqa: E402
from helixkit.learned.model import LearnedTracking  # noqa: E402
from helixkit.learned.noise import (  # noqa: E402
    NoiseClassifier,
    NoiseConfig,
    roc_auc,
    roc_curve,
    working_point,
)
from helixkit.learned.oc import CondensationNet, OCConfig, condensation_loss  # noqa: E402
from helixkit.learned import (  # noqa: E402
    evaluate_noise,
    evaluate_oc,
    find_tracks,
    oc_batch,
    train_noise,
    train_oc,
)
from helixkit.nn import TrainConfig  # noqa: E402


def test_true_pairs_are_all_ordered_pairs_within_particles():
    rng = np.random.default_rng(3)
    pid = rng.integers(0, 6, 60)
    oi = rng.random(60) < 0.7
    src, dst = _true_pairs(pid, oi)
    got = sorted(zip(src.tolist(), dst.tolist()))
    want = sorted((i, j) for i in range(60) for j in range(60)
                  if i != j and oi[i] and oi[j] and pid[i] == pid[j])
    assert got == want


def test_info_nce_matches_hand_computation():
    cfg = GCConfig(r_emb=10.0, tau=0.5, sigma=1.0, loss="infonce")
    emb = torch.tensor([[0.0, 0.0], [0.3, 0.4], [1.0, 0.0], [0.0, 2.0]])
    pid = torch.tensor([1, 1, 2, 0])
    oi = torch.tensor([True, True, False, False])
    loss, _ = info_nce_loss(emb, pid, oi, cfg, n_threads=1)

    def s(i, j):
        return math.exp(-float((emb[i] - emb[j]).norm()) / 2.0)

    def pair(i, j):
        neg = sum(math.exp(s(i, k) / 0.5) for k in (2, 3))
        return math.log(math.exp(s(i, j) / 0.5) + neg) - s(i, j) / 0.5

    assert float(loss) == pytest.approx((pair(0, 1) + pair(1, 0)) / 2, rel=1e-5)


def test_condensation_loss_matches_hand_computation():
    cfg = OCConfig(q_min=0.1, r_rep=1.0, lw_repulsive=0.5, lw_coward=0.2, lw_noise=0.3)
    beta = torch.tensor([0.5, 0.9, 0.3, 0.8, 0.1])
    x = torch.tensor([[0.0, 0.0], [0.2, 0.0], [0.5, 0.0], [0.9, 0.0], [0.6, 0.3]])
    pid = torch.tensor([1, 1, 2, 2, 0])
    oi = torch.tensor([True, True, True, True, False])
    loss, parts = condensation_loss(beta, x, pid, oi, cfg, n_threads=1)
    b = beta.numpy().astype(np.float64)
    q = np.arctanh(b) ** 2 + 0.1
    xs = x.numpy().astype(np.float64)

    def d(i, j):
        return float(np.linalg.norm(xs[i] - xs[j]))

    att = (q[0] * q[1] * d(0, 1) ** 2 + q[2] * q[3] * d(2, 3) ** 2) / (4 - 2)
    rep = 0.0
    for i in range(5):
        for cp in (1, 3):
            if pid[i] != pid[cp] and d(i, cp) < 1.0:
                rep += q[i] * q[cp] * (1.0 - d(i, cp))
    rep /= (2 - 1) * 5
    cow = ((1 - 0.9) + (1 - 0.8)) / 2
    assert parts["attractive"] == pytest.approx(att, rel=1e-5)
    assert parts["repulsive"] == pytest.approx(rep, rel=1e-5)
    assert parts["coward"] == pytest.approx(cow, rel=1e-5)
    assert parts["noise"] == pytest.approx(0.1, rel=1e-5)
    assert float(loss) == pytest.approx(att + 0.5 * rep + 0.2 * cow + 0.3 * 0.1, rel=1e-5)
    # no particle of interest: only the noise term, finite
    loss0, parts0 = condensation_loss(beta, x, pid, torch.zeros(5, dtype=torch.bool), cfg)
    assert math.isfinite(float(loss0)) and parts0["attractive"] == 0.0


def test_roc_auc_and_working_point_against_sklearn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    y = rng.random(2000) < 0.1
    s = np.round(rng.normal(size=2000) + 1.5 * y, 1)        # rounding makes ties
    assert roc_auc(s, y) == pytest.approx(metrics.roc_auc_score(y, s), abs=1e-12)
    fpr, tpr, thr = roc_curve(s, y)
    assert fpr[0] == 0 and tpr[-1] == 1 and np.all(np.diff(thr[1:]) < 0)
    t, f, r = working_point(s, y, 0.05)
    assert f <= 0.05 and f == pytest.approx(float((s[~y] >= t).mean()))
    assert r == pytest.approx(float((s[y] >= t).mean()))
    with pytest.raises(ValueError, match="both classes"):
        roc_curve(s, np.zeros(2000, bool))
    with pytest.raises(ValueError, match="NaN"):
        roc_curve(np.full(3, np.nan), [True, False, True])


def test_noise_classifier_learns(tmp_path):
    train = [simulate_event(mu=4, seed=s) for s in range(3)]
    val = [simulate_event(mu=4, seed=40)]
    torch.manual_seed(0)
    before = evaluate_noise(NoiseClassifier(NoiseConfig(hidden_dim=32)), val, volumes=None)
    model = train_noise(train, val, NoiseConfig(hidden_dim=32),
                        TrainConfig(epochs=15, lr=3e-3, progress=False, num_threads=1),
                        tmp_path, volumes=None)
    after = evaluate_noise(model, val, volumes=None, out_dir=tmp_path)
    assert after["auc"] > 0.8 and after["auc"] > before["auc"] + 0.1
    assert after["fpr"] <= 0.005 and (tmp_path / "noise_roc.png").is_file()
    back = nn.load(tmp_path / "best.pt", expect="noise")
    assert back.config.threshold == pytest.approx(model.config.threshold)
    with pytest.raises(ValueError, match="no noise hits"):
        train_noise([simulate_event(mu=2, seed=1, noise_fraction=0)],
                    [simulate_event(mu=2, seed=2, noise_fraction=0)], volumes=None)


def test_oc_training_lowers_loss_and_assembles(tmp_path):
    train = [simulate_event(mu=4, seed=s) for s in range(2)]
    val = [simulate_event(mu=4, seed=60)]
    torch.manual_seed(0)
    gc = GraphConstructionNet(GCConfig(hidden_dim=16, depth=2))
    cfg = OCConfig(hidden_dim=16, n_layers=2, lw_coward=1.0, lw_noise=1.0)
    oc = train_oc(train, val, gc, cfg, TrainConfig(epochs=6, lr=3e-3, progress=False,
                                                   num_threads=1, patience=6), tmp_path)
    hist = json.loads((tmp_path / "history.json").read_text())
    assert hist[-1]["train_loss"] < hist[0]["train_loss"]
    res = evaluate_oc(gc, oc, val, eps_grid=(0.05, 0.2), min_samples_grid=(1, 2), n_threads=1)
    assert len(res["scan"]) == 4 and 0 <= res["best"]["double_majority"] <= 1
    assert set(res["ms_per_event"]) >= {"embedding", "graph", "gnn", "clustering"}
    full = LearnedTracking.from_parts(gc, oc, eps=res["best"]["eps"],
                                      min_samples=res["best"]["min_samples"])
    nn.save(full, tmp_path / "lt.pt")
    back = nn.load(tmp_path / "lt.pt", expect="learned_tracking")
    a, b = find_tracks(val[0], full, n_threads=1), find_tracks(val[0], back, n_threads=2)
    assert np.array_equal(a, b) and a.shape == (val[0].n_hits,)
    assert (a[~np.isin(val[0].hits["volume_id"], (7, 8, 9))] == -1).all()
    # the embedding of an untrained residual GNN is the GC embedding
    node, edge, ei, *_ = oc_batch(val[0], gc, OCConfig())
    _, x = CondensationNet(OCConfig())(node, edge, ei)
    assert torch.allclose(x, node[:, 7:])
    with pytest.raises(ValueError, match="checkpoint holds"):
        nn.load(tmp_path / "lt.pt", expect="oc")


def test_bad_configs_and_files(tmp_path):
    with pytest.raises(ValueError, match="loss"):
        GCConfig(loss="triplet").validate()
    with pytest.raises(ValueError, match="out_dim"):
        OCConfig(out_dim=5, emb_dim=8).validate()
    with pytest.raises(ValueError, match="max_fpr"):
        NoiseConfig(max_fpr=0).validate()
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"gc": {"hiden_dim": 4}}))
    assert main(["train", "gc", "--config", str(cfg), "--out", str(tmp_path / "r")]) == 2
    cfg.write_text(json.dumps({"oc_train": {"epochs": 1}}))
    assert main(["train", "oc", "--config", str(cfg), "--out", str(tmp_path / "r")]) == 2
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    assert main(["evaluate", "learned_tracking", "--checkpoint", str(bad)]) == 2


def test_cli_trains_and_evaluates_the_pipeline(tmp_path, capsys):
    cfg = tmp_path / "lt.json"
    cfg.write_text(json.dumps({
        "data": {"n_train_events": 1, "n_val_events": 1, "mu": 3, "seed": 0},
        "gc": {"hidden_dim": 16, "depth": 2, "extra_features": ["cluster"]},
        "gc_train": {"epochs": 2, "num_threads": 1},
        "oc": {"hidden_dim": 16, "n_layers": 1}, "oc_train": {"epochs": 1, "num_threads": 1},
        "noise": {"hidden_dim": 8}, "noise_train": {"epochs": 1, "num_threads": 1},
        "use_noise_filter": True}))
    out = tmp_path / "run"
    assert main(["train", "learned_tracking", "--config", str(cfg), "--out", str(out),
                 "--no-progress"]) == 0
    assert (out / "learned_tracking.pt").is_file() and (out / "gc" / "loss.png").is_file()
    # the cluster-shape features reach every stage: 7 + 5 hit features, 12 + 5 noise inputs
    back = nn.load(out / "learned_tracking.pt", expect="learned_tracking")
    assert back.gc.config.in_dim == back.oc.config.hit_dim == 12
    assert back.noise.config.in_dim == 17 and back.noise.config.extra_features == ["cluster"]
    assert main(["evaluate", "learned_tracking", "--checkpoint", str(out / "learned_tracking.pt"),
                 "--events", "1", "--mu", "3", "--out", str(tmp_path / "ev")]) == 0
    text = capsys.readouterr().out
    assert "DM eff" in text and "noise_filter" in text
    assert (tmp_path / "ev" / "learned_tracking_efficiency.png").is_file()


def test_nearest_within_equals_truncated_radius_graph():
    from helixkit.graph import radius, radius_graph
    from helixkit.nn.blocks import nearest_within

    rng = np.random.default_rng(1)
    x = (rng.normal(size=(800, 4)) * 0.3).astype(np.float32)
    x[1] = x[0]                                      # a duplicate: ties go to the lower index
    for r, k in ((0.2, 5), (1.0, 256), (0.5, 30)):
        assert np.array_equal(nearest_within(x, r, k), radius_graph(x, r, max_num_neighbors=k))
        assert np.array_equal(nearest_within(x[:50], r, k, query=x),
                              radius(x[:50], x, r, max_num_neighbors=k))
    assert nearest_within(x[:1], 1.0, 4).shape == (2, 0)


def test_hit_features_extras_cells_and_normalisation():
    import dataclasses

    from helixkit.data import Table
    from helixkit.nn.features import hit_features

    ev = simulate_event(mu=5, seed=3)
    base, rows = hit_features(ev, volumes=(7, 8, 9))
    assert base.shape[1] == 7 and np.abs(base).max() < 5     # bounded for the L2 normalisation
    det, _ = hit_features(ev, volumes=(7, 8, 9), extra=("detector",))
    assert np.array_equal(det[:, :7], base) and det.shape[1] == 9
    assert np.allclose(det[:, 7], ev.hits["volume_id"][rows] / 10.0)
    norm, _ = hit_features(ev, volumes=(7, 8, 9), normalize=True)
    assert np.allclose(norm.mean(0)[:6], 0, atol=1e-5) and np.allclose(norm.std(0)[:6], 1, atol=1e-4)
    h0, h1 = int(ev.hits["hit_id"][rows[0]]), int(ev.hits["hit_id"][rows[1]])
    cells = Table({"hit_id": np.array([h0, h0, h0, h1]), "ch0": np.array([5, 6, 7, 1]),
                   "ch1": np.array([9, 9, 11, 4]), "value": np.array([0.5, 0.25, 0.25, 1.0])})
    f, _ = hit_features(dataclasses.replace(ev, cells=cells), volumes=(7, 8, 9), extra=("cells",))
    assert f[0, 7:].tolist() == [3, 1.0, 3, 3] and f[1, 7:].tolist() == [1, 1.0, 1, 1]
    assert (f[2:, 7:] == 0).all()
    with pytest.raises(ValueError, match="cells table"):
        hit_features(dataclasses.replace(ev, cells=None), extra=("cells",))
    with pytest.raises(ValueError, match="unknown feature group"):
        hit_features(ev, extra=("colour",))


def test_shipped_learned_tracking_model_finds_tracks():
    model = nn.pretrained("learned_tracking")
    assert isinstance(model, LearnedTracking) and model.noise is not None
    ev = simulate_event(mu=10, seed=5)
    labels = find_tracks(ev, n_threads=1)            # default: the shipped model
    assert labels.shape == (ev.n_hits,) and (labels >= 0).any()
    assert np.array_equal(labels, model.find_tracks(ev, n_threads=2))
    assert set(model.last_timing) >= {"features", "noise_filter", "embedding", "graph", "gnn",
                                      "clustering"}


def test_noise_direction_features_see_misaligned_clusters():
    """Cluster-direction inputs: a hit whose cluster points along the line to the beam and
    to a neighbour on the next layer scores aligned; one whose cluster points elsewhere
    (a noise hit of the simulation) does not; they raise the AUC in dense events."""
    from helixkit.learned.noise import DIRECTION_FEATURES, n_input_features, noise_features
    from helixkit.nn.features import hit_features

    ev = simulate_event(mu=60, seed=3)
    feats, rows = hit_features(ev, volumes=(7, 8, 9), extra=("cluster",))
    plain = noise_features(feats, extra=("cluster",))
    both = noise_features(feats, extra=("cluster",), direction=True)
    assert both.shape == (len(feats), n_input_features(("cluster",), True))
    assert both.shape[1] == plain.shape[1] + len(DIRECTION_FEATURES)
    np.testing.assert_allclose(both[:, :plain.shape[1]], plain)
    is_noise = ev.hit_particle_id[rows] == 0
    assert is_noise.sum() > 40
    # standardised "best neighbour alignment" (log angle): noise hits are worse aligned
    best = both[:, plain.shape[1] + 1]
    assert roc_auc(best, is_noise) > 0.75
    with pytest.raises(ValueError, match="direction_features"):
        NoiseClassifier(NoiseConfig(direction_features=True))   # needs the "cluster" group
    with pytest.raises(ValueError, match="in_dim"):
        NoiseClassifier(NoiseConfig(extra_features=["cluster"], direction_features=True,
                                    in_dim=17))
    NoiseClassifier(NoiseConfig(extra_features=["cluster"], direction_features=True,
                                in_dim=n_input_features(("cluster",), True)))
