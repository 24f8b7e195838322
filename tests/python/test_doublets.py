"""Geometric doublets added to the embedding's kNN graph (EdgeConfig.doublets)."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from helixkit.data import simulate_event  # noqa: E402
from helixkit.learned import edge as edge_module  # noqa: E402
from helixkit.learned.edge import (  # noqa: E402
    EdgeClassifier,
    EdgeConfig,
    doublet_edges,
    edge_graph,
    graph_edges,
    union_edges,
)
from helixkit.learned.gc import GCConfig, GraphConstructionNet  # noqa: E402
from helixkit.learned import train_edge  # noqa: E402
from helixkit.learned.batches import hit_geometry as _hit_geometry  # noqa: E402
from helixkit.nn import TrainConfig  # noqa: E402
from helixkit.learned.config import parse_config as _parse  # noqa: E402
from helixkit.learned.train import _checkpoint_part  # noqa: E402


def _brute_doublets(x, y, z, layer, cfg):
    """Every pair tested on its own, in plain Python: the rule of doublet_edges."""
    r = np.hypot(x, y)
    phi = np.arctan2(y, x)
    two_r = 2 * cfg.doublet_pt_min / (0.299792458e-3 * cfg.doublet_b_field)
    out = set()
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            if layer[i] == layer[j]:
                continue
            lo, hi = (i, j) if r[i] < r[j] else (j, i)
            dr = r[hi] - r[lo]
            if dr <= 1.0 or dr > cfg.doublet_dr_max:
                continue
            dphi = abs(phi[j] - phi[i])
            dphi = min(dphi, 2 * math.pi - dphi)
            bend = (math.asin(min(1.0, r[hi] / two_r)) - math.asin(min(1.0, r[lo] / two_r))
                    + cfg.doublet_dphi_margin)
            if dphi > bend:
                continue
            # |z0| <= z_max with z0 = z_lo - r_lo dz / dr, multiplied out by dr > 0
            if abs(z[lo] * dr - r[lo] * (z[hi] - z[lo])) > cfg.doublet_z_max * dr:
                continue
            out.add((i, j))
    return out


def _random_hits(n, seed):
    rng = np.random.default_rng(seed)
    radii = np.array([32.0, 72.0, 116.0, 172.0, 260.0, 360.0, 500.0])
    layer = rng.integers(0, len(radii), n)
    r = radii[layer] + rng.normal(0, 2, n)
    phi = rng.uniform(-math.pi, math.pi, n)
    # a cluster straddling phi = +-pi, so that pairs across the cut are tested
    phi[: n // 5] = math.pi - rng.uniform(-0.02, 0.02, n // 5)
    phi = (phi + math.pi) % (2 * math.pi) - math.pi
    z = rng.uniform(-600, 600, n)
    return r * np.cos(phi), r * np.sin(phi), z, layer


@pytest.mark.parametrize(("pt_min", "margin"), [(0.9, 0.01), (0.3, 0.0), (2.0, 0.05)])
def test_doublets_match_brute_force(pt_min, margin):
    x, y, z, layer = _random_hits(500, 3)
    cfg = EdgeConfig(doublets=True, doublet_pt_min=pt_min, doublet_dphi_margin=margin,
                     doublet_z_max=150, doublet_dr_max=250)
    a, b = doublet_edges(x, y, z, layer, cfg)
    got = set(zip(a.tolist(), b.tolist()))
    assert len(got) == len(a) and (a < b).all()
    assert np.all(np.diff(a * 500 + b) > 0)
    expected = _brute_doublets(x, y, z, layer, cfg)
    assert got == expected
    # pairs across phi = +-pi are found
    phi = np.arctan2(y, x)
    assert any(np.sign(phi[i]) != np.sign(phi[j]) and abs(phi[i]) > 3 for i, j in got)


@pytest.mark.parametrize("width", [0.5, 7.0, 1e5])
def test_doublets_do_not_depend_on_the_r_bands(monkeypatch, width):
    x, y, z, layer = _random_hits(400, 8)
    cfg = EdgeConfig(doublet_z_max=300, doublet_dr_max=150)
    ref = doublet_edges(x, y, z, layer, cfg)
    monkeypatch.setattr(edge_module, "_BAND_WIDTH", width)
    assert np.array_equal(doublet_edges(x, y, z, layer, cfg), ref)
    assert set(zip(*ref.tolist())) == _brute_doublets(x, y, z, layer, cfg)


def test_very_low_pt_window_gives_no_repeats():
    # pT_min so low that the azimuth window exceeds pi: each pair is met from both sides
    x, y, z, layer = _random_hits(120, 5)
    cfg = EdgeConfig(doublet_pt_min=0.05, doublet_z_max=1000, doublet_dr_max=600)
    a, b = doublet_edges(x, y, z, layer, cfg)
    assert set(zip(a.tolist(), b.tolist())) == _brute_doublets(x, y, z, layer, cfg)
    assert len(set(zip(a.tolist(), b.tolist()))) == len(a)


def test_doublets_keep_the_true_segments_of_high_pt_particles():
    ev = simulate_event(mu=5, seed=11)
    rows = np.flatnonzero(np.isin(ev.hits["volume_id"], (7, 8, 9)))
    x, y, z, layer = _hit_geometry(ev, rows)
    cfg = EdgeConfig(doublet_pt_min=0.9)
    a, b = doublet_edges(x, y, z, layer, cfg)
    found = set(zip(a.tolist(), b.tolist()))
    pid = ev.hit_particle_id[rows]
    parts = ev.particles
    pt = dict(zip(parts["particle_id"].tolist(),
                  np.hypot(parts["px"], parts["py"]).tolist()))
    r = np.hypot(x, y)
    want = hit = 0
    for p in np.unique(pid[pid > 0]):
        if pt.get(int(p), 0.0) < 1.0:
            continue
        idx = np.flatnonzero(pid == p)
        idx = idx[np.argsort(r[idx])]
        for i, j in zip(idx[:-1], idx[1:]):
            if layer[i] == layer[j] or r[j] - r[i] <= 1.0:
                continue
            want += 1
            hit += (min(i, j), max(i, j)) in found
    assert want > 50
    assert hit / want > 0.97
    # and the graph is far from all pairs
    assert len(a) < 0.05 * len(x) ** 2 / 2


def test_doublets_bad_input():
    x, y, z, layer = _random_hits(20, 1)
    cfg = EdgeConfig()
    with pytest.raises(ValueError, match="y: expected a 1-D array as long as x"):
        doublet_edges(x, y[:-1], z, layer, cfg)
    with pytest.raises(ValueError, match="z: must be finite"):
        doublet_edges(x, y, np.where(np.arange(20) == 3, np.nan, z), layer, cfg)
    with pytest.raises(ValueError, match="layer: expected integer"):
        doublet_edges(x, y, z, layer.astype(float), cfg)
    with pytest.raises(ValueError, match="x: expected a 1-D"):
        doublet_edges(np.c_[x, x], y, z, layer, cfg)
    a = doublet_edges(x[:0], y[:0], z[:0], layer[:0], cfg)
    assert a.shape == (2, 0)
    for field, value in (("doublet_pt_min", 0.0), ("doublet_b_field", float("nan")),
                         ("doublet_z_max", -1.0), ("doublet_dr_max", float("inf")),
                         ("doublet_dphi_margin", -0.1)):
        with pytest.raises(ValueError, match=field):
            EdgeConfig(**{field: value}).validate()


def test_union_and_edge_graph():
    first = np.array([[0, 1, 2], [3, 2, 4]])
    second = np.array([[0, 0, 2], [1, 3, 4]])
    assert union_edges(first, second, 5).tolist() == [[0, 0, 1, 2], [1, 3, 2, 4]]
    # sorted inputs take the merge; the same union as sorting everything
    rng = np.random.default_rng(4)
    for size in (0, 1, 50, 400):
        a = np.unique(rng.integers(0, 900, size))     # keys i * 30 + j
        b = np.unique(rng.integers(0, 900, 2 * size))
        ea = np.stack([a // 30, a % 30])
        eb = np.stack([b // 30, b % 30])
        want = np.union1d(a, b)
        for got in (union_edges(ea, eb, 30), union_edges(eb, ea, 30),
                    union_edges(ea[:, ::-1], eb, 30)):
            assert np.array_equal(got, np.stack([want // 30, want % 30]))
    x, y, z, layer = _random_hits(300, 2)
    emb = np.random.default_rng(0).normal(size=(300, 4)).astype(np.float32)
    plain = EdgeConfig(k=5)
    knn = graph_edges(emb, 5, n_threads=1)
    assert np.array_equal(edge_graph(emb, plain, n_threads=1), knn)
    cfg = EdgeConfig(k=5, doublets=True)
    with pytest.raises(ValueError, match="geometry"):
        edge_graph(emb, cfg, n_threads=1)
    with pytest.raises(ValueError, match="geometry: 299 hits"):
        edge_graph(emb, cfg, (x[:-1], y[:-1], z[:-1], layer[:-1]), n_threads=1)
    both = edge_graph(emb, cfg, (x, y, z, layer), n_threads=1)
    dbl = doublet_edges(x, y, z, layer, cfg)
    as_set = set(zip(*both.tolist()))
    assert as_set == set(zip(*knn.tolist())) | set(zip(*dbl.tolist()))
    assert len(as_set) == both.shape[1]
    # threads do not change the graph
    assert np.array_equal(edge_graph(emb, cfg, (x, y, z, layer), n_threads=2), both)


def test_fine_tune_on_the_doublet_graph(tmp_path):
    train = [simulate_event(mu=4, seed=s) for s in range(2)]
    val = [simulate_event(mu=4, seed=50)]
    torch.manual_seed(0)
    gc = GraphConstructionNet(GCConfig(hidden_dim=16, depth=2))
    tcfg = TrainConfig(epochs=1, lr=1e-3, batch_size=2048, progress=False, num_threads=1)
    cfg = EdgeConfig(emb_dim=gc.config.out_dim, k=6, hidden_dim=16)
    start = train_edge(train, val, gc, cfg, tcfg, tmp_path / "a")
    wide = EdgeConfig(emb_dim=gc.config.out_dim, k=6, hidden_dim=16, doublets=True)
    tuned = train_edge(train, val, gc, wide, tcfg, tmp_path / "b", init=start)
    assert tuned.config.doublets
    s0, s1 = start.state_dict(), tuned.state_dict()
    changed = [k for k in s0 if not torch.equal(s0[k], s1[k])]
    assert changed  # the weights moved ...
    for k in s0:    # ... the input standardisation of the start was kept
        if "mean" in k or "std" in k or "scale" in k:
            assert torch.equal(s0[k], s1[k]), k
    other = EdgeConfig(emb_dim=gc.config.out_dim, k=6, hidden_dim=24)
    with pytest.raises(ValueError, match="init: the classifier to fine-tune does not match"):
        train_edge(train, val, gc, other, tcfg, tmp_path / "c", init=start)
    # only the second pass: the first stays as init had it
    refined = EdgeConfig(emb_dim=gc.config.out_dim, k=6, hidden_dim=16, refine=True)
    two = train_edge(train, val, gc, refined, tcfg, tmp_path / "d")
    second = train_edge(train, val, gc, refined, tcfg, tmp_path / "e", init=two, stages=(2,))
    s0, s1 = two.state_dict(), second.state_dict()
    assert all(torch.equal(s0[k], s1[k]) for k in s0 if not k.startswith("net2."))
    assert any(not torch.equal(s0[k], s1[k]) for k in s0 if k.startswith("net2."))
    assert not (tmp_path / "e" / "history.json").exists()
    for stages, match in (((), "non-empty"), ((3,), "non-empty"), ((2, 2), "non-empty")):
        with pytest.raises(ValueError, match=match):
            train_edge(train, val, gc, refined, tcfg, init=two, stages=stages)
    with pytest.raises(ValueError, match="needs init"):
        train_edge(train, val, gc, refined, tcfg, stages=(2,))
    single = EdgeConfig(emb_dim=gc.config.out_dim, k=6, hidden_dim=16, refine=False)
    with pytest.raises(ValueError, match=r"passes 1\.\.1"):
        train_edge(train, val, gc, single, tcfg, init=start, stages=(2,))
    # without refine the default stages train the one pass there is
    assert train_edge(train, val, gc, single, tcfg).net2 is None


def test_edge_checkpoint_config(tmp_path):
    with pytest.raises(ValueError, match="edge_checkpoint"):
        _parse({"method": "oc", "edge_checkpoint": "x.pt"}, progress=False)
    for bad in ([], [3], [1, 1], 2, [True]):
        with pytest.raises(ValueError, match="config.edge_stages must be"):
            _parse({"method": "edge", "edge_checkpoint": "x.pt", "edge_stages": bad},
                   progress=False)
    with pytest.raises(ValueError, match="needs config.edge_checkpoint"):
        _parse({"method": "edge", "edge_stages": [2]}, progress=False)
    assert _parse({"method": "edge", "edge_checkpoint": "x.pt", "edge_stages": [2]},
                  progress=False)["edge_stages"] == (2,)
    with pytest.raises(ValueError, match="edge_checkpoint must be a file path"):
        _parse({"method": "edge", "edge_checkpoint": 3}, progress=False)
    from helixkit import nn  # noqa: PLC0415

    gc = GraphConstructionNet(GCConfig(hidden_dim=8, depth=1))
    nn.save(gc, tmp_path / "gc.pt")
    with pytest.raises(ValueError, match="config.edge_checkpoint: .* holds no edge model"):
        _checkpoint_part(str(tmp_path / "gc.pt"), "edge", "edge_checkpoint")
    edge = EdgeClassifier(EdgeConfig(hidden_dim=8))
    nn.save(edge, tmp_path / "edge.pt")
    assert _checkpoint_part(str(tmp_path / "edge.pt"), "edge", "e").config.hidden_dim == 8
    # the parts of a learned_tracking bundle: the shipped model's
    shipped = nn.pretrained("learned_tracking")
    nn.save(shipped, tmp_path / "lt.pt")
    for name in ("gc", "noise", "edge"):
        part = _checkpoint_part(str(tmp_path / "lt.pt"), name, f"{name}_checkpoint")
        ref = getattr(shipped, name).state_dict()
        assert all(torch.equal(ref[k], v) for k, v in part.state_dict().items())
    with pytest.raises(ValueError, match="holds no oc model"):
        _checkpoint_part(str(tmp_path / "lt.pt"), "oc", "x")


def test_shipped_recipe_configs_parse():
    import json  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    root = Path(__file__).resolve().parents[2] / "configs"
    for name in ("learned_tracking_doublets.json", "learned_tracking_doublets2.json",
                 "learned_tracking_doublets3.json"):
        cfg = _parse(json.loads((root / name).read_text()), progress=False)
        assert cfg["edge"].doublets and cfg["method"] == "edge" and cfg["edge_checkpoint"]
    # the shipped model is the recipe's last step: it scores the doublet graph
    from helixkit import nn  # noqa: PLC0415

    assert nn.pretrained("learned_tracking").edge.config.doublets
