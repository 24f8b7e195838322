"""Tests of helixkit.seeding.hashing: buckets (Annoy and exact), per-bucket seeding, merge."""

from __future__ import annotations

import numpy as np
import pytest

from helixkit import seeding
from helixkit.seeding._toy import toy_event
from helixkit.seeding.hashing import (
    Buckets,
    HashingConfig,
    HashingResult,
    build_buckets,
    find_seeds_hashing,
    merge_seeds,
)


@pytest.fixture(scope="module")
def event():
    return toy_event(300, seed=3)


@pytest.fixture(scope="module")
def odd1():
    return seeding.SeedFinderConfig.acts_odd(max_seeds_per_spm=1)


def folded_dphi(a, b):
    return np.abs((a - b + np.pi) % (2 * np.pi) - np.pi)


def brute_knn_phi(phi, q, k):
    """Brute-force k nearest in periodic phi (folded |dphi|), ties by index."""
    d = folded_dphi(phi[None, :], phi[q][:, None])
    return [set(np.lexsort((np.arange(len(phi)), row))[:k].tolist()) for row in d]


def brute_buckets(neigh, cells):
    out = {}
    for nb, c in zip(neigh, cells):
        out.setdefault(int(c), set()).update(nb)
    return out


# --------------------------------------------------------------------------- config / input


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"bucket_size": 0}, "bucket_size"),
        ({"bucket_size": 2.5}, "bucket_size"),
        ({"metric": "eta"}, "metric"),
        ({"phi_bins": 0}, "phi_bins"),
        ({"z_bins": -1}, "z_bins"),
        ({"n_trees": 0}, "n_trees"),
        ({"seed": -1}, "seed"),
        ({"search_k": 0}, "search_k"),
        ({"index": "faiss"}, "index"),
        ({"leaf_size": -1}, "leaf_size"),
        ({"layer_r_min": 50.0, "layer_r_max": 40.0}, "layer_r_min"),
        ({"layer_z_max": 0.0}, "layer_z_max"),
        ({"layer_r_max": float("nan")}, "layer_r_max"),
    ],
)
def test_config_errors_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        HashingConfig(**kwargs)


def test_config_defaults_and_replace():
    c = HashingConfig()
    assert (c.bucket_size, c.metric, c.trees) == (100, "phi", 2)
    assert HashingConfig(metric="phi_eta").trees == 4
    assert c.replace(bucket_size=7).bucket_size == 7
    with pytest.raises(TypeError, match="no field 'bucket'"):
        c.replace(bucket=7)
    with pytest.raises(TypeError):
        HashingConfig(bucket=3)


def test_bad_inputs(event, odd1):
    x, y, z = event["x"], event["y"], event["z"]
    with pytest.raises(TypeError, match="HashingConfig"):
        find_seeds_hashing(x, y, z, odd1, {"bucket_size": 3})
    with pytest.raises(TypeError, match="SeedFinderConfig"):
        find_seeds_hashing(x, y, z, HashingConfig(), HashingConfig())
    bad = x.copy()
    bad[5] = np.nan
    with pytest.raises(ValueError, match="x contains NaN"):
        find_seeds_hashing(bad, y, z, odd1)
    with pytest.raises(ValueError, match="inconsistent lengths"):
        find_seeds_hashing(x[:-1], y, z, odd1)
    with pytest.raises(ValueError, match="n_threads"):
        find_seeds_hashing(x, y, z, odd1, n_threads=-2)
    with pytest.raises(ValueError, match="query_mask"):
        find_seeds_hashing(x, y, z, odd1, query_mask=np.ones(3, dtype=bool))
    with pytest.raises(ValueError, match="query_mask indices"):
        find_seeds_hashing(x, y, z, odd1, query_mask=[len(x)])
    with pytest.raises(ValueError, match="query_mask"):
        find_seeds_hashing(x, y, z, odd1, query_mask=[0.5])


def test_no_query_point_warns_and_returns_empty(event, odd1):
    x, y, z = event["x"], event["y"], event["z"]
    with pytest.warns(UserWarning, match="no space point in the query layer"):
        res = find_seeds_hashing(x, y, z, odd1, HashingConfig(layer_r_min=1000, layer_r_max=1001))
    assert isinstance(res, seeding.SeedingResult)
    assert res.triplets.shape == (0, 3) and res.triplets.dtype == np.int64
    assert len(res.buckets) == 0
    with pytest.warns(UserWarning):
        b = build_buckets([], [], [], query_mask=np.zeros(0, dtype=bool))
    assert len(b) == 0 and b.summary()["coverage"] == 0.0


# --------------------------------------------------------------------------- neighbours


@pytest.mark.parametrize("k", [1, 7, 40])
def test_exact_phi_buckets_match_brute_force(k):
    rng = np.random.default_rng(k)
    n = 500
    phi = rng.uniform(-np.pi, np.pi, n)
    r = rng.choice([32.0, 72.0, 116.0], n)
    x, y, z = r * np.cos(phi), r * np.sin(phi), rng.uniform(-400, 400, n)
    hc = HashingConfig(bucket_size=k, phi_bins=9, index="exact")
    b = build_buckets(x, y, z, hc)
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    phi32 = np.arctan2(y32.astype(np.float64), x32.astype(np.float64))
    q = np.flatnonzero(r == 32.0)
    cells = np.clip(np.floor((phi32[q] + np.pi) / (2 * np.pi) * 9).astype(int), 0, 8)
    ref = brute_buckets(brute_knn_phi(phi32, q, k), cells)
    got = {int(c): set(bk.tolist()) for c, bk in zip(b.cells, b.buckets)}
    assert got == ref
    assert b.n_query == len(q)
    for bk in b.buckets:
        assert bk.dtype == np.uint32 and np.all(np.diff(bk.astype(np.int64)) > 0)


def test_periodic_phi_neighbours_across_pi():
    # two clusters straddling phi = +-pi and one at phi = 0
    eps = np.linspace(1e-3, 2e-2, 10)
    phi = np.concatenate([np.pi - eps, -np.pi + eps, eps])
    x, y, z = 32 * np.cos(phi), 32 * np.sin(phi), np.zeros_like(phi)
    for index in ("exact", "native", "annoy"):
        hc = HashingConfig(bucket_size=20, phi_bins=1, index=index, search_k=10_000)
        b = build_buckets(x, y, z, hc, query_mask=[0])
        assert set(b.buckets[0].tolist()) == set(range(20)), index


def test_exact_phi_eta_matches_brute_force():
    rng = np.random.default_rng(1)
    n = 400
    phi = rng.uniform(-np.pi, np.pi, n)
    r = rng.uniform(30, 170, n)
    x, y, z = r * np.cos(phi), r * np.sin(phi), rng.uniform(-1000, 1000, n)
    q = np.arange(0, n, 7)
    b = build_buckets(x, y, z, HashingConfig(bucket_size=15, phi_bins=1, metric="phi_eta",
                                             index="exact"), query_mask=q)
    p = np.arctan2(y.astype(np.float32), x.astype(np.float32)).astype(np.float64)
    eta = np.arcsinh(z.astype(np.float32) / np.hypot(x.astype(np.float32), y.astype(np.float32)))
    d2 = (4 * np.sin(folded_dphi(p[q][:, None], p[None, :]) / 2) ** 2
          + (eta[q][:, None] - eta[None, :]) ** 2)
    ref = set().union(*[set(np.argsort(row, kind="stable")[:15].tolist()) for row in d2])
    assert set(b.buckets[0].tolist()) == ref


@pytest.mark.parametrize("index", ["native", "annoy"])
@pytest.mark.parametrize("metric", ["phi", "phi_eta"])
def test_annoy_close_to_exact_and_deterministic(event, metric, index):
    x, y, z = event["x"], event["y"], event["z"]
    hc = HashingConfig(bucket_size=30, phi_bins=20, metric=metric, index=index)
    a1 = build_buckets(x, y, z, hc)
    a2 = build_buckets(x, y, z, hc)
    ex = build_buckets(x, y, z, hc.replace(index="exact"))
    assert np.array_equal(a1.cells, a2.cells)
    assert all(np.array_equal(p, q) for p, q in zip(a1.buckets, a2.buckets))
    assert np.array_equal(a1.cells, ex.cells)
    # recall of the approximate buckets against exact ones
    hit = sum(len(np.intersect1d(p, q)) for p, q in zip(a1.buckets, ex.buckets))
    assert hit / sum(len(q) for q in ex.buckets) > 0.9
    # a different Annoy seed is allowed to differ but must stay close
    a3 = build_buckets(x, y, z, hc.replace(seed=7))
    hit3 = sum(len(np.intersect1d(p, q)) for p, q in zip(a3.buckets, ex.buckets))
    assert hit3 / sum(len(q) for q in ex.buckets) > 0.9


def test_z_bins_split_cells(event):
    x, y, z = event["x"], event["y"], event["z"]
    hc = HashingConfig(bucket_size=10, phi_bins=4, z_bins=3, index="exact")
    b = build_buckets(x, y, z, hc)
    r = np.hypot(x, y)
    q = np.flatnonzero((r >= 25) & (r <= 40) & (np.abs(z) <= 550))
    phi = np.arctan2(y[q].astype(np.float64), x[q].astype(np.float64))
    pb = np.clip(np.floor((phi + np.pi) / (2 * np.pi) * 4).astype(int), 0, 3)
    zb = np.clip(np.floor((z[q] + 550.0) / 1100.0 * 3).astype(int), 0, 2)
    assert set(b.cells.tolist()) == set((pb * 3 + zb).tolist())
    s = b.summary()
    assert s["n_buckets"] == len(b) <= 12
    assert s["overlap"] >= 1.0 and 0 < s["coverage"] <= 1.0
    assert s["size_total"] == int(b.sizes.sum()) == int(b.multiplicity().sum())


# --------------------------------------------------------------------------- seeding + merge


def test_merge_seeds_by_indices_hand_case():
    a = (np.array([[0, 5, 9], [1, 5, 9], [2, 3, 4]]), np.array([1.0, 2.0, 3.0], np.float32),
         np.array([10.0, 5.0, 7.0], np.float32))
    b = (np.array([[1, 5, 9], [0, 3, 4], [2, 3, 4]]), np.array([2.0, 4.0, 3.0], np.float32),
         np.array([8.0, 1.0, 6.0], np.float32))
    m = merge_seeds([a, b])
    assert m.triplets.tolist() == [[2, 3, 4], [0, 3, 4], [0, 5, 9], [1, 5, 9]]
    assert m.quality.tolist() == [7.0, 1.0, 10.0, 8.0]  # duplicates keep the best weight
    assert m.z_vertex.tolist() == [3.0, 4.0, 1.0, 2.0]
    assert m.triplets.dtype == np.int64 and m.quality.dtype == np.float32
    assert len(merge_seeds([])) == 0
    one = merge_seeds([seeding.SeedingResult(*a)])
    assert one.triplets.tolist() == [[2, 3, 4], [0, 5, 9], [1, 5, 9]]
    with pytest.raises(ValueError, match="inconsistent lengths"):
        merge_seeds([(a[0], a[1][:2], a[2])])
    with pytest.raises(ValueError, match=">= 0"):
        merge_seeds([(np.array([[0, -1, 2]]), np.zeros(1, np.float32), np.zeros(1, np.float32))])
    # sparse huge indices take the sorting path and give the same answer
    big = tuple(np.where(p == 5, 10**12, p) if i == 0 else p for i, p in enumerate(a))
    assert merge_seeds([big]).triplets[:, 1].tolist() == [3, 10**12, 10**12]


def test_merge_seeds_matches_reference_on_random_duplicates():
    rng = np.random.default_rng(5)
    parts = []
    for _ in range(7):
        n = 300
        trip = np.stack([rng.integers(0, 6, n), rng.integers(0, 40, n), rng.integers(0, 6, n)], 1)
        parts.append((trip, rng.normal(size=n).astype(np.float32), rng.normal(size=n).astype(np.float32)))
    got = merge_seeds(parts)
    # reference: dict in order of first appearance, grouped by middle
    first, best = {}, {}
    for trip, zv, q in parts:
        for t, z, w in zip(map(tuple, trip.tolist()), zv.tolist(), q.tolist()):
            if t not in first:
                first[t] = (len(first), z)
                best[t] = w
            best[t] = max(best[t], w)
    order = sorted(first, key=lambda t: (t[1], first[t][0]))
    assert got.triplets.tolist() == [list(t) for t in order]
    assert np.allclose(got.z_vertex, [first[t][1] for t in order])
    assert np.allclose(got.quality, [best[t] for t in order])


@pytest.mark.parametrize("index", ["exact", "native", "annoy"])
def test_one_bucket_with_everything_reproduces_standard_seeding(event, index):
    x, y, z = event["x"], event["y"], event["z"]
    for m in (1, 5):
        cfg = seeding.SeedFinderConfig.acts_odd(max_seeds_per_spm=m)
        std = seeding.find_seeds(x, y, z, cfg)
        hc = HashingConfig(bucket_size=len(x), phi_bins=1, index=index, search_k=10 * len(x))
        res = find_seeds_hashing(x, y, z, cfg, hc, query_mask=[0, 1, 2])
        assert len(res.buckets) == 1 and len(res.buckets.buckets[0]) == len(x)
        assert len(std) > 100
        assert np.array_equal(res.triplets, std.triplets)
        assert np.array_equal(res.z_vertex, std.z_vertex)
        assert np.array_equal(res.quality, std.quality)


def test_hashing_equals_union_of_subset_seeding(event, odd1):
    x, y, z = event["x"], event["y"], event["z"]
    hc = HashingConfig(bucket_size=40, phi_bins=12)
    res = find_seeds_hashing(x, y, z, odd1, hc, n_threads=2)
    assert isinstance(res, HashingResult) and len(res) > 0
    ref = set()
    for b in res.buckets.buckets:
        ref |= {tuple(t) for t in seeding.find_seeds(x, y, z, odd1, subset=b).triplets.tolist()}
    got = [tuple(t) for t in res.triplets.tolist()]
    assert len(got) == len(set(got)) and set(got) == ref
    assert np.all(np.diff(res.triplets[:, 1]) >= 0)
    # max_seeds_per_spm applies per bucket: a middle keeps at most 2 seeds per bucket it is in
    mult = res.buckets.multiplicity()
    mids, counts = np.unique(res.triplets[:, 1], return_counts=True)
    assert np.all(counts <= 2 * mult[mids])
    assert counts.max() > 2  # the method's point: more than m + 1 for some middles


def test_thread_independence_and_timing(event, odd1):
    x, y, z = event["x"], event["y"], event["z"]
    for hc in (HashingConfig(bucket_size=50, phi_bins=10),
               HashingConfig(bucket_size=50, phi_bins=10, metric="phi_eta", z_bins=2)):
        r1 = find_seeds_hashing(x, y, z, odd1, hc, n_threads=1)
        r2 = find_seeds_hashing(x, y, z, odd1, hc, n_threads=2)
        assert np.array_equal(r1.triplets, r2.triplets)
        assert np.array_equal(r1.quality, r2.quality)
        t = r1.timing.as_dict()
        assert all(v >= 0 for v in t.values())
        assert t["total"] == pytest.approx(sum(v for k, v in t.items() if k != "total"))
        assert "buckets" in repr(r1)


def test_efficiency_not_below_standard_at_same_cap(odd1):
    ev = toy_event(600, seed=11)
    x, y, z, pid = ev["x"], ev["y"], ev["z"], ev["particle_id"]
    parts = ev["particles"]
    pt = np.hypot(parts["px"], parts["py"])
    sel = (pt > 1.0) & (np.abs(np.arcsinh(parts["pz"] / pt)) < 2.0) & (parts["nhits"] >= 3)
    std = seeding.find_seeds(x, y, z, odd1)
    hs = find_seeds_hashing(x, y, z, odd1, HashingConfig(bucket_size=100, phi_bins=50, index="exact"))
    e_std = seeding.seeding_metrics(std.triplets, pid, parts, sel).efficiency
    e_hs = seeding.seeding_metrics(hs.triplets, pid, parts, sel).efficiency
    assert e_hs >= e_std - 0.01
    assert e_hs > 0.9


def test_buckets_type(event):
    b = build_buckets(event["x"], event["y"], event["z"], HashingConfig(bucket_size=5, phi_bins=3))
    assert isinstance(b, Buckets) and len(b) <= 3 and b.timing.train >= 0


# --------------------------------------------------------------------------- study / demo


def test_study_runs_and_cli_registers(tmp_path):
    import argparse
    import json

    from helixkit.seeding import hashing_study

    rows = hashing_study.run_study(
        tmp_path, n_events=1, mu=4, bucket_sizes=(20,), phi_bins=(10,), metrics=("phi",),
        index="exact", standard_max_seeds=(1,), repeats=1,
    )
    assert [r["method"] for r in rows] == ["standard", "hashing"]
    assert all(0 <= r["efficiency"] <= 1 and r["ms_per_event"] > 0 for r in rows)
    data = json.loads((tmp_path / "hashing_study.json").read_text())
    assert data["rows"][1]["bucket_size"] == 20
    assert data["rows"][1]["bucket_overlap"] >= 1.0 and 0 < data["rows"][1]["bucket_coverage"] <= 1
    assert data["rows"][1]["bucket_size_mean"] <= data["rows"][1]["bucket_size_max"]
    assert "| hashing | 1 | phi | 20 | 10 |" in (tmp_path / "hashing_study.md").read_text()
    assert (tmp_path / "hashing_scan.png").stat().st_size > 0
    assert (tmp_path / "hashing_vs_standard.png").stat().st_size > 0
    parser = argparse.ArgumentParser()
    hashing_study.register(parser.add_subparsers())
    args = parser.parse_args(["hashing", "--bucket-sizes", "5,7", "--index", "exact"])
    assert args.bucket_sizes == [5, 7] and args.func is not None
    with pytest.raises(ValueError, match="n_events"):
        hashing_study.run_study(tmp_path, n_events=0)


def test_demo_stage(demo_report):
    from helixkit.data import simulate_event
    from helixkit.seeding.hashing_study import demo_stage

    rep = demo_report
    demo_stage([simulate_event(mu=4, seed=1)], rep, n_threads=1, seed=0,
               hashing_config=HashingConfig(bucket_size=30, phi_bins=20))
    res = rep.results["hashing"]
    assert set(res) >= {"standard m=1", "standard m=5", "hashing m=1"}
    assert res["hashing m=1"]["n_seeds"] > 0
    assert len(rep.tables[0][1]) == 3
