"""Edge classifier and mutual-best-edge track building (the "edge" route of the pipeline)."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from helixkit import nn  # noqa: E402
from helixkit.cli import main  # noqa: E402
from helixkit.data import simulate_event  # noqa: E402
from helixkit.nn.features import feature_columns, hit_features  # noqa: E402
from helixkit.learned import edge as edge_module  # noqa: E402
from helixkit.learned.edge import (  # noqa: E402
    EdgeClassifier,
    EdgeConfig,
    build_tracks,
    edge_inputs,
    graph_edges,
    triplet_inputs,
)
from helixkit.learned.gc import GCConfig, GraphConstructionNet  # noqa: E402
from helixkit.learned.model import LearnedTracking, LearnedTrackingConfig  # noqa: E402
from helixkit.learned import evaluate_edge, train_edge  # noqa: E402
from helixkit.nn import TrainConfig  # noqa: E402


@pytest.mark.parametrize("linking", ["matching", "greedy"])
def test_build_tracks_keeps_one_link_per_side(linking):
    # chain 0-1-2-3; hit 1 also likes 4 (lower score); 5 -> 6 below threshold; 7 and 8 both
    # want 9 from the inside: only the better one (8) is 9's best inner edge
    inner = np.array([0, 1, 2, 1, 5, 7, 8])
    outer = np.array([1, 2, 3, 4, 6, 9, 9])
    score = np.array([0.9, 0.8, 0.95, 0.7, 0.2, 0.6, 0.65])
    lab = build_tracks(score, inner, outer, 10, threshold=0.3, linking=linking)
    assert lab[0] == lab[1] == lab[2] == lab[3] >= 0
    assert lab[8] == lab[9] >= 0 and lab[8] != lab[0]
    assert lab[4] == lab[5] == lab[6] == lab[7] == -1
    # ties go to the lower edge index; the result does not depend on the edge order
    perm = np.random.default_rng(0).permutation(len(score))
    lab2 = build_tracks(score[perm], inner[perm], outer[perm], 10, threshold=0.3, linking=linking)
    assert np.array_equal(lab2 >= 0, lab >= 0)
    assert len({(a, b) for a, b in zip(lab, lab2)}) == len(set(lab))
    assert (build_tracks(np.zeros(0), np.zeros(0, int), np.zeros(0, int), 3, 0.5,
                         linking=linking) == -1).all()


def test_matching_links_what_greedy_misses():
    # hit 0 prefers 2 (0.9) over 3 (0.85); hit 1 can only go to 2 (0.85). Greedy gives 0 -> 2
    # and leaves 1 and 3 alone; the matching gives 0 -> 3 and 1 -> 2 (two links beat one)
    inner, outer = np.array([0, 0, 1]), np.array([2, 3, 2])
    score = np.array([0.9, 0.85, 0.85])
    g = build_tracks(score, inner, outer, 4, 0.5, linking="greedy")
    m = build_tracks(score, inner, outer, 4, 0.5)
    assert g[0] == g[2] >= 0 and g[1] == g[3] == -1
    assert m[0] == m[3] >= 0 and m[1] == m[2] >= 0 and m[0] != m[1]
    # with weak second options the single strong link wins: logit(0.999) > 2 logit(0.55)
    score = np.array([0.999, 0.55, 0.55])
    m = build_tracks(score, inner, outer, 4, 0.5)
    assert m[0] == m[2] >= 0 and m[1] == m[3] == -1


def _best_matching_weight(w, inner, outer, n):
    """The optimum by scipy's dense assignment: rows = inner hits, columns = outer hits and
    one 'unmatched' column per row (worth 0)."""
    from scipy.optimize import linear_sum_assignment  # noqa: PLC0415

    big = 1e9
    cost = np.full((n, 2 * n), big)
    cost[np.arange(n), n + np.arange(n)] = 0.0
    for e in np.flatnonzero(w > 0):
        cost[inner[e], outer[e]] = min(cost[inner[e], outer[e]], -w[e])
    r, c = linear_sum_assignment(cost)
    return -cost[r, c].sum()


def test_auction_matches_exact_assignment():
    pytest.importorskip("scipy.optimize")
    rng = np.random.default_rng(1)
    for trial in range(40):
        n = int(rng.integers(2, 40))
        m = int(rng.integers(1, 4 * n))
        inner = rng.integers(0, n, m)
        outer = rng.integers(0, n, m)
        ok = inner != outer
        inner, outer = inner[ok], outer[ok]
        # real-valued weights, and a few runs with many ties (the auction's hard case)
        w = rng.normal(0.5, 2.0, len(inner)) if trial % 4 else rng.integers(-1, 3, len(inner))
        w = w.astype(np.float64)
        keep, done, _ = edge_module._auction_links(w, inner, outer, n, 10**9)
        assert done
        assert (w[keep] > 0).all()
        assert len(set(inner[keep])) == keep.sum() == len(set(outer[keep]))
        opt = _best_matching_weight(w, inner, outer, n)
        assert w[keep].sum() >= opt - keep.sum() * edge_module.AUCTION_EPS - 1e-9
        assert w[keep].sum() <= opt + 1e-9


def test_auction_bid_cap_falls_back_to_greedy():
    rng = np.random.default_rng(2)
    n, m = 200, 3000
    inner, outer = rng.integers(0, n, m), rng.integers(0, n, m)
    score = np.full(m, 0.7)          # all equal: the auction's worst case
    greedy = build_tracks(score, inner, outer, n, 0.5, linking="greedy")
    assert np.array_equal(build_tracks(score, inner, outer, n, 0.5, max_work=0), greedy)
    a = build_tracks(score, inner, outer, n, 0.5)
    assert np.array_equal(a, build_tracks(score, inner, outer, n, 0.5))     # deterministic


def test_build_tracks_bad_input():
    with pytest.raises(ValueError, match="same length"):
        build_tracks(np.ones(2), np.array([0]), np.array([1, 2]), 3, 0.5)
    with pytest.raises(ValueError, match="hit indices"):
        build_tracks(np.ones(1), np.array([0]), np.array([3]), 3, 0.5)
    with pytest.raises(ValueError, match="finite"):
        build_tracks(np.array([np.nan]), np.array([0]), np.array([1]), 3, 0.5)
    with pytest.raises(ValueError, match="threshold"):
        build_tracks(np.ones(1), np.array([0]), np.array([1]), 3, float("nan"))
    with pytest.raises(ValueError, match="linking"):
        build_tracks(np.ones(1), np.array([0]), np.array([1]), 3, 0.5, linking="dbscan")
    with pytest.raises(ValueError, match="max_work"):
        build_tracks(np.ones(1), np.array([0]), np.array([1]), 3, 0.5, max_work=-1)
    with pytest.raises(ValueError, match="linking"):
        EdgeConfig(linking="mst").validate()


def test_graph_edges_are_the_undirected_knn_graph(monkeypatch):
    x = np.random.default_rng(1).normal(size=(300, 4)).astype(np.float32)
    a, b = graph_edges(x, 5, n_threads=1)
    assert (a < b).all() and len(set(zip(a, b))) == len(a)
    d = ((x[:, None] - x[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    nearest = np.argsort(d, axis=1)[:, :5]
    brute = {(min(i, j), max(i, j)) for i in range(300) for j in nearest[i]}
    assert set(zip(a.tolist(), b.tolist())) == brute
    # the 64-bit key path (events of > 65,536 hits) gives the same edges
    monkeypatch.setattr(edge_module, "_KEY32_LIMIT", 0)
    assert np.array_equal(graph_edges(x, 5, n_threads=1), np.stack([a, b]))


def _numpy_peers():
    """The whole-array numpy forms of the edge inputs (benchmarks/bench_edge_inputs.py)."""
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_edge_inputs.py"
    spec = importlib.util.spec_from_file_location("bench_edge_inputs", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_edge_inputs_match_numpy():
    ev = simulate_event(mu=20, seed=5)
    f, _ = hit_features(ev, volumes=(7, 8, 9), extra=("cluster",))
    emb = np.random.default_rng(1).normal(size=(len(f), 8)).astype(np.float32)
    cfg = EdgeConfig(k=10)
    edges = graph_edges(emb, 10, n_threads=1)
    x, i, j = edge_inputs(f, emb, cfg, edges=edges)
    peers = _numpy_peers()
    x_ref, i_ref, j_ref = peers.numpy_pair_inputs(f, emb, *edges)
    assert np.array_equal(i, i_ref) and np.array_equal(j, j_ref)
    np.testing.assert_allclose(x, x_ref, rtol=1e-6, atol=1e-6)
    score = np.random.default_rng(2).random(len(i)).astype(np.float32)
    score[::3] = score[1]                                   # ties
    for context in (1, 2):
        c = EdgeConfig(k=10, triplet_context=context)
        assert np.array_equal(triplet_inputs(x, score, i, j, c),
                              peers.numpy_triplet_inputs(x, score, i, j, c))
    # an empty edge list gives empty inputs, not an error
    x0, i0, _ = edge_inputs(f, emb, cfg, edges=np.zeros((2, 0), np.int64))
    assert x0.shape == (0, cfg.in_dim) and len(i0) == 0
    with pytest.raises(ValueError, match=r"edges: hit indices must lie in \[0, "):
        edge_inputs(f, emb, cfg, edges=np.array([[0], [len(f)]]))
    with pytest.raises(ValueError, match="edges: expected an integer"):
        edge_inputs(f, emb, cfg, edges=np.zeros((3, 1), np.int64))


def test_edge_inputs_orientation_and_cluster_agreement():
    ev = simulate_event(mu=5, seed=3)
    f, rows = hit_features(ev, volumes=(7, 8, 9), extra=("cluster",))
    cfg = EdgeConfig(emb_dim=3, k=4)
    emb = np.random.default_rng(0).normal(size=(len(f), 3)).astype(np.float32)
    x, i, j = edge_inputs(f, emb, cfg, n_threads=1)
    assert x.shape == (len(i), cfg.in_dim) and x.dtype == np.float32 and np.isfinite(x).all()
    dist0 = np.hypot(f[:, 0], f[:, 3])
    assert (dist0[i] <= dist0[j]).all()                       # inner -> outer
    assert np.array_equal(x[:, 11:11 + 12], f[i]) and np.array_equal(x[:, 23:], f[j])
    # true doublets of one particle: the doublet points along both hits' clusters
    pid = ev.hit_particle_id[rows]
    true = (pid[i] == pid[j]) & (pid[i] > 0)
    assert np.median(x[true, 6]) > 0.97 and np.median(x[~true, 6]) < np.median(x[true, 6])
    # an edge along the x axis between two barrel hits whose clusters point radially
    g = np.zeros((2, 12), np.float32)
    g[:, 0] = [0.032, 0.072]
    g[:, 1] = 1.0
    g[:, 9] = 1.0           # cluster d_r = 1, d_phi = d_z = 0
    x2, i2, j2 = edge_inputs(g, np.array([[0.0], [1.0]], np.float32),
                             EdgeConfig(emb_dim=1, k=1), edges=np.array([[1], [0]]))
    assert (i2[0], j2[0]) == (0, 1)
    assert x2[0, :11] == pytest.approx([0.4, 0, 0, 0, math.log(40) - 3, 1, 1, 1, 0, 0, 1],
                                       abs=1e-6)
    with pytest.raises(ValueError, match=r"\(N, 12\) hit features"):
        edge_inputs(f[:, :7], emb, cfg)
    with pytest.raises(ValueError, match="emb"):
        edge_inputs(f, emb[:, :2], cfg)
    assert EdgeConfig(extra_features=[]).in_dim == 6 + 14
    with pytest.raises(ValueError, match="unknown feature group"):
        EdgeConfig(extra_features=["colour"]).validate()
    assert list(feature_columns(("cells", "cluster"), ("cluster",))) == [*range(7), *range(11, 16)]
    with pytest.raises(ValueError, match="not among"):
        feature_columns((), ("cluster",))


def test_triplet_inputs_by_hand():
    # edges: e0 0->1 (.9), e1 1->2 (.8), e2 1->3 (.6), e3 4->1 (.5), e4 2->5 (.7); all 1 m
    # long (log length − 3 = log 1000 − 3), so Δφ per metre = Δφ; polar = atan2(Δz, Δr)
    inner, outer = np.array([0, 1, 1, 4, 2]), np.array([1, 2, 3, 1, 5])
    score = np.array([0.9, 0.8, 0.6, 0.5, 0.7])
    dphi = np.array([0.01, 0.02, 0.05, 0.04, 0.03])
    x = np.zeros((5, 6), np.float32)
    x[:, 0], x[:, 1], x[:, 2] = 1.0, 10 * dphi, [0.0, 0.0, 1.0, 0.0, 0.0]
    x[:, 4] = math.log(1000.0) - 3.0
    one = triplet_inputs(x, score, inner, outer, EdgeConfig(extra_features=[]))
    cfg = EdgeConfig(extra_features=[], triplet_context=2)
    two = triplet_inputs(x, score, inner, outer, cfg)
    assert one.shape == (5, 6 + 11) and two.shape == (5, cfg.triplet_dim) == (5, 6 + 21)
    np.testing.assert_array_equal(two[:, :17], one)
    t = one[:, 6:].astype(np.float64)
    # e1: best out of 1 and best into 2; h->i = e0 (.9), j->l = e4 (.7)
    np.testing.assert_allclose(t[1], [0.8, 1, 1, 0.9, 0.7, 1, 1, 0.02 - 0.01, 0.0,
                                      0.03 - 0.02, 0.0], atol=1e-6)
    # e2 (1->3): not 1's best out edge, nothing leaves 3; turns by 45° after e0
    np.testing.assert_allclose(t[2], [0.6, 0, 1, 0.9, 0, 1, 0, 0.04, 10 * math.pi / 4, 0, 0],
                               atol=1e-6)
    c = two[:, 17:].astype(np.float64)
    # margins over the rival for the same slot; runner-up into 1 is e3, none out of 2
    np.testing.assert_allclose(c[1], [0.8 - 0.6, 0.8, 0.5, 1, 0.02 - 0.04, 0.0, 0, 0, 0, 0],
                               atol=1e-6)
    np.testing.assert_allclose(c[2, :2], [0.6 - 0.8, 0.6], atol=1e-6)
    # e0: alone out of 0, e3 its rival into 1; nothing enters 0
    np.testing.assert_allclose(c[0, :6], [0.9, 0.9 - 0.5, 0, 0, 0, 0], atol=1e-6)
    # the runner-up out of 1 (e2) seen from e0 = 0->1
    np.testing.assert_allclose(c[0, 6:], [0.6, 1, 0.05 - 0.01, 10 * math.pi / 4], atol=1e-6)
    with pytest.raises(ValueError, match="triplet_context"):
        EdgeConfig(triplet_context=3).validate()


def test_prune_settles_low_first_pass_scores():
    rng = np.random.default_rng(3)
    cfg = EdgeConfig(extra_features=[], hidden_dim=8, triplet_context=2)
    torch.manual_seed(0)
    full = EdgeClassifier(cfg)
    e = 400
    x = rng.normal(size=(e, cfg.in_dim)).astype(np.float32)
    inner, outer = rng.integers(0, 60, e), rng.integers(60, 120, e)
    s1 = full.score(x)
    ref = full.score(x, inner, outer)
    cut = float(np.median(s1))
    cfg_p = EdgeConfig(**{**cfg.__dict__, "prune": cut})
    pruned = EdgeClassifier(cfg_p)
    pruned.load_state_dict(full.state_dict())
    got = pruned.score(x, inner, outer)
    low = s1 <= cut
    assert 0 < low.sum() < e
    np.testing.assert_array_equal(got[low], s1[low])
    np.testing.assert_allclose(got[~low], ref[~low], rtol=1e-6)
    with pytest.raises(ValueError, match="prune"):
        EdgeConfig(prune=1.0).validate()


def test_standardisation_matches_numpy_float64():
    rng = np.random.default_rng(5)
    x = (rng.normal(size=(5001, 6)) * [1e-3, 1, 10, 100, 1e4, 0]
         + [0, 5, -3, 1e3, 0, 2]).astype(np.float32)
    model = EdgeClassifier(EdgeConfig(extra_features=[], hidden_dim=8))
    cols = slice(0, 6)
    xx = np.concatenate([x, rng.normal(size=(5001, model.config.in_dim - 6)).astype(np.float32)],
                        1)
    model.set_standardisation(xx)
    x64 = xx.astype(np.float64)
    mean, std = edge_module._column_mean_std(xx)
    assert np.array_equal(mean, x64.mean(0)) and np.array_equal(std, x64.std(0))  # bit for bit
    assert np.array_equal(model.x_mean.numpy(), x64.mean(0).astype(np.float32))
    assert np.array_equal(model.x_std.numpy(), np.maximum(x64.std(0), 1e-6).astype(np.float32))
    assert model.x_std.numpy()[cols][5] == np.float32(1e-6)               # constant column


def test_chunked_scoring_equals_one_batch():
    rng = np.random.default_rng(4)
    cfg = EdgeConfig(extra_features=[], hidden_dim=8, triplet_context=2)
    torch.manual_seed(1)
    model = EdgeClassifier(cfg)
    x = rng.normal(size=(300, cfg.in_dim)).astype(np.float32)
    inner, outer = rng.integers(0, 50, 300), rng.integers(50, 100, 300)
    model.CHUNK = 1000
    whole = model.score(x, inner, outer)
    model.CHUNK = 7                                  # 300 = 42 chunks of 7 and one of 6
    chunked = model.score(x, inner, outer)
    # rows are computed independently; BLAS may round a tiny chunk's product differently
    np.testing.assert_allclose(chunked, whole, rtol=1e-6)
    assert np.array_equal(model.score(x, inner, outer), chunked)          # deterministic
    with torch.no_grad():
        model.eval()
        ref = torch.sigmoid(model(torch.from_numpy(x))).numpy()
    np.testing.assert_allclose(model.score(x), ref, rtol=1e-6)


def test_short_edge_training_improves_tracking(tmp_path):
    train = [simulate_event(mu=10, seed=s) for s in range(3)]
    val = [simulate_event(mu=10, seed=70)]
    torch.manual_seed(0)
    gc = GraphConstructionNet(GCConfig(hidden_dim=16, depth=2))
    cfg = EdgeConfig(emb_dim=gc.config.out_dim, k=8, hidden_dim=32)
    untrained = EdgeClassifier(cfg)
    before = evaluate_edge(gc, untrained, val, n_threads=1)["best"]
    model = train_edge(train, val, gc, cfg,
                       TrainConfig(epochs=6, lr=3e-3, batch_size=2048, progress=False,
                                   num_threads=1), tmp_path)
    res = evaluate_edge(gc, model, val, n_threads=1)
    after = res["best"]
    assert after["double_majority"] > before["double_majority"] + 0.1
    assert set(res["ms_per_event"]) >= {"graph", "edge_features", "gnn", "clustering"}
    hist = json.loads((tmp_path / "history.json").read_text())
    assert hist[-1]["train_loss"] < hist[0]["train_loss"]
    # assembled, saved and restored: same labels with 1 and 2 threads
    model.config.threshold = after["threshold"]
    full = LearnedTracking.from_parts(gc, None, edge=model)
    assert full.method == "edge" and full.extra_features == ("cluster",)
    nn.save(full, tmp_path / "lt.pt")
    back = nn.load(tmp_path / "lt.pt", expect="learned_tracking")
    a = full.find_tracks(val[0], n_threads=1)
    assert np.array_equal(a, back.find_tracks(val[0], n_threads=2))
    assert (a >= 0).any() and (a[~np.isin(val[0].hits["volume_id"], (7, 8, 9))] == -1).all()
    assert set(back.last_timing) >= {"features", "embedding", "graph", "edge_features", "gnn",
                                     "clustering"}


def test_learned_tracking_config_routes():
    with pytest.raises(ValueError, match="exactly one"):
        LearnedTracking(LearnedTrackingConfig(oc=None, edge=None))
    with pytest.raises(ValueError, match="exactly one"):
        LearnedTracking(LearnedTrackingConfig(oc={}, edge={}))
    gc = GraphConstructionNet(GCConfig(in_dim=12, extra_features=["cluster"], hidden_dim=8))
    with pytest.raises(ValueError, match="the GC was trained with extra_features"):
        LearnedTracking.from_parts(gc, None, edge=EdgeClassifier(EdgeConfig(extra_features=[])))
    with pytest.raises(ValueError, match="embedding"):
        LearnedTracking.from_parts(GraphConstructionNet(GCConfig(out_dim=4)), None,
                                   edge=EdgeClassifier(EdgeConfig(emb_dim=8)))


def test_cli_trains_the_edge_route(tmp_path, capsys):
    cfg = tmp_path / "lt.json"
    cfg.write_text(json.dumps({
        "data": {"n_train_events": 1, "n_val_events": 1, "mu": 3, "seed": 0},
        "method": "edge", "gc": {"hidden_dim": 16, "depth": 2},
        "gc_train": {"epochs": 2, "num_threads": 1},
        "edge": {"k": 6, "hidden_dim": 16, "triplet_context": 2, "prune": 0.001},
        "edge_train": {"epochs": 2, "num_threads": 1},
        "use_noise_filter": True, "noise": {"hidden_dim": 8},
        "noise_train": {"epochs": 1, "num_threads": 1}}))
    out = tmp_path / "run"
    assert main(["train", "learned_tracking", "--config", str(cfg), "--out", str(out),
                 "--no-progress"]) == 0
    back = nn.load(out / "learned_tracking.pt", expect="learned_tracking")
    assert back.method == "edge" and back.oc is None and back.noise is not None
    assert main(["evaluate", "learned_tracking", "--checkpoint", str(out / "learned_tracking.pt"),
                 "--events", "1", "--mu", "3"]) == 0
    assert "DM eff" in capsys.readouterr().out
    ev_out = tmp_path / "ev"
    assert main(["evaluate", "learned_tracking", "--checkpoint", str(out / "learned_tracking.pt"),
                 "--events", "1", "--mu", "3", "--linking", "greedy", "--threshold", "0.4",
                 "--out", str(ev_out)]) == 0
    assert json.loads((ev_out / "learned_tracking_eval.json").read_text())[
        "working_point"] == {"threshold": 0.4, "linking": "greedy", "edge_passes": 2}
    assert main(["evaluate", "learned_tracking", "--checkpoint", str(out / "learned_tracking.pt"),
                 "--threshold", "1.5"]) == 2
    assert main(["evaluate", "noise", "--checkpoint", str(out / "noise" / "best.pt"),
                 "--linking", "greedy"]) == 2
    assert "threshold" in capsys.readouterr().err
    # the trained GC and noise filter reused: only the edge stage trains, and they come
    # back unchanged in the new model
    conf = json.loads(cfg.read_text())
    conf.update(gc_checkpoint=str(out / "gc" / "best.pt"),
                noise_checkpoint=str(out / "noise" / "best.pt"))
    cfg.write_text(json.dumps(conf))
    out2 = tmp_path / "run2"
    assert main(["train", "learned_tracking", "--config", str(cfg), "--out", str(out2),
                 "--no-progress"]) == 0
    assert not (out2 / "gc").exists() and not (out2 / "noise").exists()
    again = nn.load(out2 / "learned_tracking.pt", expect="learned_tracking")
    for name in ("gc", "noise"):
        for (k, a), b in zip(getattr(back, name).state_dict().items(),
                             getattr(again, name).state_dict().values()):
            assert torch.equal(a, b), (name, k)
    assert again.noise.config.threshold == back.noise.config.threshold
    conf["use_noise_filter"] = False
    cfg.write_text(json.dumps(conf))
    assert main(["train", "learned_tracking", "--config", str(cfg), "--out", str(out2)]) == 2
    assert "noise_checkpoint" in capsys.readouterr().err
    cfg.write_text(json.dumps({"method": "gnn"}))
    assert main(["train", "learned_tracking", "--config", str(cfg), "--out", str(out)]) == 2


def test_working_point_rule_prefers_fewer_fakes_on_a_dm_tie():
    from helixkit.learned.evaluate import _summary  # noqa: PLC0415

    rows = [{"threshold": 0.02, "double_majority": 0.9300, "fake_double_majority": 0.08},
            {"threshold": 0.05, "double_majority": 0.9295, "fake_double_majority": 0.06},
            {"threshold": 0.5, "double_majority": 0.9100, "fake_double_majority": 0.02}]
    t = {"graph": 1.0, "clustering": 1.0, "gnn": 8.0}
    assert _summary(rows, t, 1)["best"]["threshold"] == 0.05
    rows[1]["double_majority"] = 0.9285          # more than 0.1 point below: DM decides
    res = _summary(rows, t, 1)
    assert res["best"]["threshold"] == 0.02
    assert res["graph_and_clustering_fraction"] == pytest.approx(0.2)
