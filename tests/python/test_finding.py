"""Track finding: the combinatorial Kalman filter, ambiguity resolution and the chain."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from helixkit import finding, fitting
from helixkit import units as u
from helixkit.data import Event, Geometry, Layer, Table
from helixkit.data.simulation import simulate_event
from helixkit.evaluation import track_finding_metrics
from helixkit.seeding import SeedFinderConfig, find_seeds_in_event

RADII = (32.0, 72.0, 116.0, 172.0, 260.0, 360.0, 500.0, 660.0, 820.0, 1020.0)
SIGMA = 0.01  # mm


def _geometry(material: float = 0.0) -> Geometry:
    layers = [Layer(volume_id=8 if r < 200 else 13, layer_id=2 * (i + 1), kind="barrel",
                    position=r, extent=(-2000.0, 2000.0), resolution=(SIGMA, SIGMA),
                    thickness_x0=material)
              for i, r in enumerate(RADII)]
    return Geometry(layers, name="test-barrel", pixel_volumes=(8,))


def _helix_hits(pt: float, phi0: float, eta: float, q: int, radii=RADII, z0: float = 0.0,
                bz: float = 2 * u.T) -> np.ndarray:
    """Exact crossings (x, y, z) of a helix from (0, 0, z0) with cylinders of ``radii``."""
    rad = pt / (abs(q) * bz)  # helix radius [mm]
    h = np.sign(q)
    cot = np.sinh(eta)
    out = []
    for r in radii:
        alpha = 2 * np.arcsin(r / (2 * rad))
        x = h * rad * (np.sin(phi0) - np.sin(phi0 - h * alpha))
        y = h * rad * (np.cos(phi0 - h * alpha) - np.cos(phi0))
        out.append((x, y, z0 + rad * alpha * cot))
    return np.array(out)


def _event(tracks: list[np.ndarray], geo: Geometry, extra: np.ndarray | None = None) -> Event:
    """Hits of the given tracks (particle ids 1, 2, ...) plus extra noise points."""
    pts, pid, lay = [], [], []
    for k, t in enumerate(tracks):
        pts.append(t)
        pid += [k + 1] * len(t)
        lay += list(range(len(t)))
    if extra is not None:
        pts.append(extra[:, :3])
        pid += [0] * len(extra)
        lay += list(extra[:, 3].astype(int))
    xyz = np.concatenate(pts)
    lay = np.asarray(lay)
    vol = np.array([geo.layers[i].volume_id for i in lay])
    lid = np.array([geo.layers[i].layer_id for i in lay])
    n = len(xyz)
    hits = Table({"hit_id": np.arange(1, n + 1), "x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2],
                  "volume_id": vol, "layer_id": lid, "module_id": np.ones(n, np.int64)})
    truth = Table({"hit_id": np.arange(1, n + 1), "particle_id": np.asarray(pid),
                   "tx": xyz[:, 0], "ty": xyz[:, 1], "tz": xyz[:, 2], "tpx": np.zeros(n),
                   "tpy": np.zeros(n), "tpz": np.zeros(n), "weight": np.ones(n) / n})
    return Event(hits=hits, truth=truth, geometry=geo)


def _seed(event: Event, particle: int, layers=(0, 1, 2)) -> np.ndarray:
    rows = np.flatnonzero(event.hit_particle_id == particle)
    return rows[list(layers)][None, :]


LOOSE = finding.CkfConfig(selector=finding.TrackSelectorConfig())


def test_single_helix_found_whole():
    geo = _geometry()
    ev = _event([_helix_hits(2.0, 0.3, 0.4, 1)], geo)
    tr = finding.find_tracks_ckf(ev, _seed(ev, 1), config=LOOSE)
    assert len(tr) == 1
    np.testing.assert_array_equal(tr.track_hits(0), np.arange(len(RADII)))
    assert tr.n_holes[0] == 0 and tr.n_outliers[0] == 0
    assert tr.n_measurements[0] == len(RADII)
    assert tr.status[0] == 0
    # exact hits: the fit recovers pT, phi, eta
    assert tr.pt[0] == pytest.approx(2.0, rel=1e-3)
    assert tr.eta[0] == pytest.approx(0.4, abs=1e-4)


@pytest.mark.parametrize("seed_layers", [(0, 1, 2), (2, 3, 4), (0, 2, 4)])
def test_two_way_and_skipped_layers(seed_layers):
    # a seed in the middle finds the inner hits inwards; layers between seed hits are searched
    geo = _geometry()
    ev = _event([_helix_hits(1.5, -2.0, -1.1, -1)], geo)
    tr = finding.find_tracks_ckf(ev, _seed(ev, 1, seed_layers), config=LOOSE)
    assert len(tr) == 1
    np.testing.assert_array_equal(tr.track_hits(0), np.arange(len(RADII)))


def test_one_way_misses_inner_hits():
    geo = _geometry()
    ev = _event([_helix_hits(1.5, -2.0, -1.1, -1)], geo)
    tr = finding.find_tracks_ckf(ev, _seed(ev, 1, (2, 3, 4)), config=LOOSE.replace(two_way=False))
    np.testing.assert_array_equal(tr.track_hits(0), np.arange(2, len(RADII)))


def test_missing_hit_is_one_hole():
    geo = _geometry()
    t = _helix_hits(3.0, 1.0, 0.2, 1)
    keep = [i for i in range(len(RADII)) if i != 5]
    ev = _event([t[keep]], geo)
    # layer index of the hits: _event numbers them 0.., so give the layers explicitly
    lay = np.asarray(keep)
    ev.hits["layer_id"][:] = [geo.layers[i].layer_id for i in lay]
    ev.hits["volume_id"][:] = [geo.layers[i].volume_id for i in lay]
    tr = finding.find_tracks_ckf(ev, _seed(ev, 1), config=LOOSE)
    assert len(tr) == 1
    assert tr.n_holes[0] == 1
    assert len(tr.track_hits(0)) == len(RADII) - 1


def test_branch_far_below_the_pt_cut_is_dropped_early():
    # a 0.3 GeV helix under a 0.5 GeV selector cut: its branch is many sigma below the cut
    # after the seed, so it stops there (ACTS's chain follows it to the end and then drops
    # it); with a cut below its pT it is found whole
    geo = _geometry()
    radii = RADII[:8]
    ev = _event([_helix_hits(0.3, 0.5, 0.3, 1, radii=radii)], geo)
    seeds = _seed(ev, 1)
    low = finding.find_tracks_ckf(ev, seeds, config=finding.CkfConfig(
        selector=finding.TrackSelectorConfig(pt_min=0.25)))
    assert len(low) == 1 and low.n_measurements[0] == len(radii)
    cut = finding.find_tracks_ckf(ev, seeds, config=finding.CkfConfig(
        selector=finding.TrackSelectorConfig(pt_min=0.5)))
    assert len(cut) == 0
    assert cut.info["seed_status"][0] == finding.ckf.SEED_NOT_SELECTED
    assert cut.info["n_propagations"] <= 4 < low.info["n_propagations"]


def _predicted_chi2_per_mm2(geo: Geometry, t: np.ndarray, layer: int) -> float:
    """Predicted chi2 of a 1 mm z displacement of hit ``layer`` given the inner hits, from the
    Kalman filter with the CKF's starting parameters and covariance."""
    surf = fitting.Surfaces.from_geometry(geo)
    idx = np.arange(layer + 1)
    pts = t[idx].copy()
    pts[-1, 2] += 1.0
    loc, cov = fitting.geometry_measurements(geo, idx, pts[:, 0], pts[:, 1], pts[:, 2])
    p, _ = fitting.estimate_track_params(t[[0]], t[[1]], t[[2]], b_field_z=geo.b_field_z)
    c = np.zeros((1, 5, 5))
    for i, s in enumerate(LOOSE.initial_sigmas):
        c[0, i, i] = s**2
    c[0, 4, 4] = (LOOSE.initial_sigma_qop_rel * abs(p[0, 4]) + LOOSE.initial_sigma_qop) ** 2
    res = fitting.fit_tracks(surf, [0, len(idx)], idx, loc, cov, p, b_field_z=geo.b_field_z,
                             initial_cov=c)
    return float(res.measurement_chi2[-1])


@pytest.mark.parametrize(("chi2", "kind"), [(5.0, "measurement"), (20.0, "outlier"),
                                            (60.0, "hole")])
def test_measurement_outlier_hole(chi2, kind):
    geo = _geometry()
    t = _helix_hits(2.5, 0.7, 0.3, -1)
    layer = 6
    per_mm2 = _predicted_chi2_per_mm2(geo, t, layer)
    t = t.copy()
    t[layer, 2] += np.sqrt(chi2 / per_mm2)
    ev = _event([t], geo)
    tr = finding.find_tracks_ckf(ev, _seed(ev, 1), config=LOOSE)
    assert len(tr) == 1
    hits = tr.track_hits(0)
    out = tr.outlier[tr.offsets[0]:tr.offsets[1]]
    if kind == "measurement":
        assert layer in hits and not out.any() and tr.n_holes[0] == 0
    elif kind == "outlier":
        assert layer in hits and out[list(hits).index(layer)]
        assert tr.n_outliers[0] == 1 and tr.n_holes[0] == 0
    else:
        assert layer not in hits and tr.n_holes[0] == 1 and tr.n_outliers[0] == 0


def test_crossing_tracks_keep_their_hits():
    geo = _geometry()
    # opposite charges from the same phi cross each other in the transverse plane
    a = _helix_hits(0.9, 0.5, 0.1, 1)
    b = _helix_hits(0.9, 0.5, 0.1, -1)
    ev = _event([a, b], geo)
    seeds = np.concatenate([_seed(ev, 1), _seed(ev, 2)])
    tr = finding.find_tracks_ckf(ev, seeds, config=LOOSE)
    assert len(tr) == 2
    pid = ev.hit_particle_id
    for i in range(2):
        assert (pid[tr.track_hits(i)] == i + 1).all()
        assert len(tr.track_hits(i)) == len(RADII)


def _busy_event(n_noise: int, seed: int = 3) -> tuple[Event, np.ndarray]:
    geo = _geometry()
    rng = np.random.default_rng(seed)
    t = _helix_hits(1.2, 0.0, 0.0, 1)
    extra = []
    for li in range(3, len(RADII)):
        # noise points around the track on every outer layer: many compatible candidates
        r = RADII[li]
        phi = np.arctan2(t[li, 1], t[li, 0]) + rng.normal(0, 0.2 / r, n_noise)
        z = t[li, 2] + rng.normal(0, 0.2, n_noise)
        extra.append(np.stack([r * np.cos(phi), r * np.sin(phi), z, np.full(n_noise, li)], 1))
    ev = _event([t], geo, np.concatenate(extra))
    return ev, _seed(ev, 1)


@pytest.mark.parametrize("cap", [1, 3, 10])
def test_branch_cap_is_honoured(cap):
    ev, seeds = _busy_event(6)
    tr = finding.find_tracks_ckf(ev, seeds, config=LOOSE.replace(max_branches_per_seed=cap))
    assert 1 <= tr.info["max_live_branches"] <= cap
    assert len(tr) == 1


def test_branching_explores_more_with_a_larger_cap():
    ev, seeds = _busy_event(6)
    few = finding.find_tracks_ckf(ev, seeds, config=LOOSE.replace(max_branches_per_seed=1))
    many = finding.find_tracks_ckf(ev, seeds, config=LOOSE.replace(max_branches_per_seed=10))
    assert many.info["n_branches"] > 3 * few.info["n_branches"]
    assert many.info["max_live_branches"] == 10


def test_search_window_gives_the_same_tracks():
    ev = simulate_event(mu=20, seed=4)
    s = find_seeds_in_event(ev, SeedFinderConfig.acts_odd(), volumes=ev.geometry.pixel_volumes)
    a = finding.find_tracks_ckf(ev, s, config=finding.CkfConfig(search_window=True))
    b = finding.find_tracks_ckf(ev, s, config=finding.CkfConfig(search_window=False))
    _assert_same(a, b)
    assert a.info["n_chi2_tests"] * 5 < b.info["n_chi2_tests"]


def _assert_same(a: finding.Tracks, b: finding.Tracks) -> None:
    for f in ("offsets", "hits", "outlier", "seed", "n_measurements", "n_holes", "n_outliers",
              "status"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)
    np.testing.assert_array_equal(a.params, b.params)
    np.testing.assert_array_equal(a.chi2, b.chi2)
    np.testing.assert_array_equal(a.info["seed_status"], b.info["seed_status"])


def test_thread_count_invariance():
    ev = simulate_event(mu=30, seed=5)
    one = finding.reconstruct(ev, n_threads=1)
    two = finding.reconstruct(ev, n_threads=2)
    four = finding.reconstruct(ev, n_threads=4)
    _assert_same(one, two)
    _assert_same(one, four)
    assert len(one) > 100


def _truth_seeds(ev: Event) -> tuple[np.ndarray, np.ndarray]:
    """The three innermost hits of every particle with >= 3 hits on distinct pixel layers."""
    pid = ev.hit_particle_id
    geo = ev.geometry
    lay = geo.layer_indices(ev.hits["volume_id"], ev.hits["layer_id"])
    pix = np.isin(ev.hits["volume_id"], geo.pixel_volumes) & (pid > 0)
    r = np.hypot(ev.hits["x"], ev.hits["y"]) + np.abs(ev.hits["z"]) * 1e-3
    seeds, owners = [], []
    for p in np.unique(pid[pix]):
        rows = np.flatnonzero(pix & (pid == p))
        rows = rows[np.argsort(r[rows])]
        _, first = np.unique(lay[rows], return_index=True)
        rows = rows[np.sort(first)]
        if len(rows) >= 3:
            seeds.append(rows[:3])
            owners.append(p)
    return np.array(seeds), np.array(owners)


@pytest.mark.parametrize("fit", [True, False], ids=["refit", "ckf_own"])
def test_truth_seeds_reproduce_truth_tracks_and_pulls(fit):
    # ckf_own: the CKF's own perigee state (the chain's default, no refit) must carry the
    # scattering of the material inside the innermost measurement, and its chi2 be the
    # two-way filter's (chi2/ndf ~ 1)
    ev = simulate_event(mu=60, seed=7, noise_fraction=0.0)
    seeds, owner = _truth_seeds(ev)
    cfg = finding.CkfConfig(seed_deduplication=False,
                            selector=finding.TrackSelectorConfig(n_measurements_min=3))
    tr = finding.find_tracks_ckf(ev, seeds, config=cfg, fit=fit)
    pid = ev.hit_particle_id
    parts = ev.particles
    prow = {int(p): i for i, p in enumerate(parts["particle_id"])}
    pt = np.hypot(parts["px"], parts["py"])
    n_truth = np.bincount(np.searchsorted(np.sort(parts["particle_id"]), pid[pid > 0]),
                          minlength=parts.n_rows)
    n_truth = n_truth[np.argsort(np.argsort(parts["particle_id"]))]
    found_hits = truth_hits = n_considered = 0
    pulls, chi2ndf = [], []
    by_seed = dict(zip(tr.seed.tolist(), range(len(tr))))
    truth_params, _ = fitting.perigee_from_momenta(
        np.stack([parts["vx"], parts["vy"], parts["vz"]], 1),
        np.stack([parts["px"], parts["py"], parts["pz"]], 1), parts["q"],
        b_field_z=ev.geometry.b_field_z)
    for s, p in enumerate(owner):
        i = prow[int(p)]
        if pt[i] < 1.0 or not parts["primary"][i]:
            continue
        truth_hits += n_truth[i]
        if s not in by_seed:
            continue
        k = by_seed[s]
        n_considered += 1
        h = tr.track_hits(k, outliers=False)
        found_hits += int((pid[h] == p).sum())
        if tr.status[k] == 0 and len(h) >= 7:  # the ACTS selection's length
            d = tr.params[k] - truth_params[i]
            d[2] = (d[2] + np.pi) % (2 * np.pi) - np.pi
            pulls.append(d / np.sqrt(np.diag(tr.cov[k])))
            chi2ndf.append(tr.chi2[k] / tr.ndf[k])
    assert found_hits / truth_hits >= 0.99, found_hits / truth_hits
    assert 0.9 < np.mean(chi2ndf) < 1.1, np.mean(chi2ndf)
    pulls = np.array(pulls)
    assert len(pulls) > 150
    width = np.std(pulls, axis=0)
    assert np.all(np.abs(width - 1) < 0.1), width
    assert np.all(np.abs(pulls.mean(axis=0)) < 0.15), pulls.mean(axis=0)
    # the tracks are whole: those long enough for the selection hold all their hits
    assert len(pulls) > 0.85 * n_considered


# ---------------------------------------------------------------- ambiguity resolution
def _greedy_reference(tracks: list[list[int]], chi2ndf: list[float], max_shared: int,
                      n_min: int, iterations: int = 10**6) -> list[int]:
    """ACTS GreedyAmbiguityResolution written out plainly (the independent reference)."""
    sel = [i for i, t in enumerate(tracks) if len(t) >= n_min]
    for _ in range(iterations):
        if not sel:
            break
        count: dict[int, int] = {}
        for i in sel:
            for m in tracks[i]:
                count[m] = count.get(m, 0) + 1
        shared = {i: sum(count[m] > 1 for m in tracks[i]) for i in sel}
        if max(shared.values()) < max_shared:
            break

        def key(i: int) -> tuple:
            return (shared[i] / len(tracks[i]), -len(tracks[i]), chi2ndf[i], i)
        sel.remove(max(sel, key=key))
    return sorted(sel)


def _tracks_from_lists(lists: list[list[int]], chi2ndf: list[float]) -> finding.Tracks:
    n = len(lists)
    off = np.zeros(n + 1, np.int64)
    off[1:] = np.cumsum([len(t) for t in lists])
    hits = np.concatenate([np.asarray(t, np.int64) for t in lists])
    z = np.zeros(n)
    return finding.Tracks(
        offsets=off, hits=hits, outlier=np.zeros(len(hits), bool), params=np.zeros((n, 5)),
        cov=np.zeros((n, 5, 5)), chi2=np.asarray(chi2ndf, float), ndf=np.ones(n, np.int32),
        n_measurements=np.diff(off).astype(np.int32), n_outliers=z.astype(np.int32),
        n_holes=z.astype(np.int32), status=z.astype(np.int8), seed=np.arange(n))


def test_ambiguity_removes_the_duplicate_keeps_the_better():
    a = list(range(10))
    b = [0, 1, 2, 3, 4, 20, 21, 22]          # shares 5 hits with a, shorter
    c = list(range(30, 40))                   # alone
    d = list(range(10))                       # a's twin with a worse chi2
    tr = _tracks_from_lists([a, b, c, d], [1.0, 0.5, 1.0, 2.0])
    kept = finding.resolve_ambiguities(tr, finding.AmbiguityConfig(maximum_shared_hits=1,
                                                                   n_measurements_min=3))
    np.testing.assert_array_equal(kept.seed, [0, 2])


@pytest.mark.parametrize(("seed", "n_tracks", "n_meas"), [(s, 25, 60) for s in range(5)]
                         + [(7, 300, 900)])
def test_ambiguity_matches_the_reference(seed, n_tracks, n_meas):
    rng = np.random.default_rng(seed)
    lists = [sorted(rng.choice(n_meas, size=int(rng.integers(5, 12)), replace=False).tolist())
             for _ in range(n_tracks)]
    chi2 = np.round(rng.uniform(0.5, 3, n_tracks), 1).tolist()
    for max_shared, n_min in ((1, 7), (3, 5), (2, 9)):
        tr = _tracks_from_lists(lists, chi2)
        kept = finding.resolve_ambiguities(
            tr, finding.AmbiguityConfig(maximum_shared_hits=max_shared, n_measurements_min=n_min))
        assert kept.seed.tolist() == _greedy_reference(lists, chi2, max_shared, n_min)


# ---------------------------------------------------------------- metrics
def test_track_metrics_by_hand():
    pid = np.array([1, 1, 1, 1, 2, 2, 2, 2, 0, 0, 3, 3, 3, 3])
    parts = Table({"particle_id": np.array([1, 2, 3]), "px": np.array([1.0, 2.0, 0.2]),
                   "py": np.zeros(3), "pz": np.zeros(3), "q": np.ones(3)})
    tracks = [[0, 1, 2, 3], [0, 1, 2], [4, 5, 8, 9], [4, 5, 6, 8]]
    off = np.r_[0, np.cumsum([len(t) for t in tracks])]
    m = track_finding_metrics(off, np.concatenate(tracks), pid, parts, pt_min=0.5, min_hits=4)
    # particles 1, 2 selected (3 below pT); track 0, 1 -> 1 (1 duplicate); 2 -> 50 % = fake;
    # 3 -> 2 (75 %)
    assert m.n_particles == 2 and m.efficiency == 1.0
    assert m.fake_rate == 0.25 and m.duplicate_rate == pytest.approx(1 / 3)
    assert m.perfect == 0.5          # only particle 1 has a track with all its hits
    assert m.binned["pt"]["n_particles"].sum() == 2


def test_metrics_of_the_chain_on_simulation():
    ev = simulate_event(mu=50, seed=11)
    tr = finding.reconstruct(ev)
    m = track_finding_metrics(tr.offsets, tr.hits, ev.hit_particle_id, ev.particles, pt_min=1.0,
                              track_pt=tr.pt, track_eta=tr.eta)
    assert m.efficiency > 0.95
    assert m.fake_rate < 0.02
    assert m.duplicate_rate < 0.02
    assert set(tr.timing) == {"seeding", "parameters", "ckf", "ambiguity"}
    # the refit: the same tracks (ambiguity resolution came before it), parameters within
    # a fraction of their errors of the CKF's own
    ref = finding.reconstruct(ev, refit=True)
    assert set(ref.timing) == {"seeding", "parameters", "ckf", "ambiguity", "fit"}
    ok = ref.status == 0
    assert ok.mean() > 0.95
    same = np.isin(tr.seed, ref.seed[ok])
    a = tr.take(same)
    b = ref.take(np.isin(ref.seed, a.seed))
    np.testing.assert_array_equal(a.hits, b.hits)
    d = (a.params - b.params) / np.sqrt(np.einsum("nii->ni", b.cov))
    assert np.median(np.abs(d), axis=0).max() < 0.2, np.median(np.abs(d), axis=0)
    with pytest.raises(TypeError, match="refit"):
        finding.reconstruct(ev, refit="yes")


def test_hashing_chain_runs():
    ev = simulate_event(mu=20, seed=12)
    tr = finding.reconstruct(ev, seeding="hashing")
    m = track_finding_metrics(tr.offsets, tr.hits, ev.hit_particle_id, ev.particles, pt_min=1.0)
    assert m.efficiency > 0.8


def test_derived_surfaces_without_geometry():
    ev = simulate_event(mu=20, seed=13)
    bare = dataclasses.replace(ev, geometry=None)
    det = finding.detector_for(bare)
    assert det.derived and len(det.surfaces) == len(ev.geometry)
    tr = finding.reconstruct(bare)
    m = track_finding_metrics(tr.offsets, tr.hits, ev.hit_particle_id, ev.particles, pt_min=1.0)
    assert m.efficiency > 0.9
    assert m.fake_rate < 0.05


# ---------------------------------------------------------------- bad input
@pytest.fixture(scope="module")
def small():
    geo = _geometry()
    ev = _event([_helix_hits(2.0, 0.3, 0.4, 1), _helix_hits(1.0, 2.3, -0.4, -1)], geo)
    return ev


def test_bad_seeds(small):
    with pytest.raises(ValueError, match="outside"):
        finding.find_tracks_ckf(small, [[0, 1, 999]])
    with pytest.raises(ValueError, match=r"shape \(S, 3\)"):
        finding.find_tracks_ckf(small, [[0, 1]])
    with pytest.raises(ValueError, match="distinct surfaces"):
        finding.find_tracks_ckf(small, [[0, 1, 10]])   # hits 0 and 10 are on layer 0
    with pytest.raises(TypeError, match="integer"):
        finding.find_tracks_ckf(small, np.array([["a", "b", "c"]]))
    with pytest.raises(TypeError, match="Event"):
        finding.find_tracks_ckf("event", [[0, 1, 2]])


def test_bad_measurements(small):
    det = finding.detector_for(small)
    bad = dataclasses.replace(det, local=det.local.copy())
    bad.local[3, 0] = np.nan
    with pytest.raises(ValueError, match=r"measurement\[3\]"):
        finding.find_tracks_ckf(small, [[0, 1, 2]], detector=bad)
    bad = dataclasses.replace(det, cov=det.cov.copy())
    bad.cov[4] = [1.0, 1.0, 2.0]   # not positive definite
    with pytest.raises(ValueError, match=r"measurement_cov\[4\]"):
        finding.find_tracks_ckf(small, [[0, 1, 2]], detector=bad)
    bad = dataclasses.replace(det, cov=det.cov.copy())
    bad.cov[5, 1] = -1.0
    with pytest.raises(ValueError, match=r"measurement_cov\[5\]"):
        finding.find_tracks_ckf(small, [[0, 1, 2]], detector=bad)


def test_event_without_its_surfaces(small):
    other = Geometry([Layer(volume_id=99, layer_id=1, kind="barrel", position=50.0,
                            extent=(-100.0, 100.0), resolution=(0.01, 0.01))])
    with pytest.raises(ValueError, match="not the geometry"):
        finding.detector_for(small, other)
    # a geometry that lacks some of the hits' layers: seeds on them are refused
    part = Geometry(_geometry().layers[3:], name="outer")
    with pytest.raises(ValueError, match="no surface"):
        finding.find_tracks_ckf(small, [[0, 1, 2]], detector=finding.detector_for(small, part))


def test_bad_configs():
    with pytest.raises(ValueError, match="unknown field"):
        finding.CkfConfig.from_dict({"chi2_cut_off": 3})
    with pytest.raises(ValueError, match="unknown field"):
        finding.CkfConfig.from_dict({"selector": {"pt": 1}})
    with pytest.raises(ValueError, match="chi2CutOffMeasurement"):
        finding.CkfConfig(chi2_cut_off_measurement=-1.0)
    with pytest.raises(ValueError, match="num_measurements_cut_off"):
        finding.CkfConfig(num_measurements_cut_off=0)
    with pytest.raises(TypeError, match="max_holes"):
        finding.CkfConfig(max_holes=1.5)
    with pytest.raises(TypeError, match="two_way"):
        finding.CkfConfig(two_way="yes")
    with pytest.raises(ValueError, match="ptMin"):
        finding.TrackSelectorConfig(pt_min=2.0, pt_max=1.0)
    with pytest.raises(ValueError, match="maximum_shared_hits"):
        finding.AmbiguityConfig(maximum_shared_hits=0)
    with pytest.raises(ValueError, match="initial_sigmas"):
        finding.CkfConfig(initial_sigmas=(1.0, 1.0, 0.0, 1.0))
    with pytest.raises(ValueError, match="seeding"):
        finding.reconstruct(simulate_event(mu=1, seed=0), seeding="grid")
    cfg = finding.CkfConfig.from_dict({"max_branches_per_seed": 4,
                                       "selector": {"pt_min": 1.0}})
    assert cfg.max_branches_per_seed == 4 and cfg.selector.pt_min == 1.0


def test_empty_seeds(small):
    tr = finding.find_tracks_ckf(small, np.zeros((0, 3), np.int64))
    assert len(tr) == 0 and tr.offsets.tolist() == [0]


# ---------------------------------------------------------------- module planes
def _module_barrel(radii=(32.0, 72.0, 116.0, 172.0, 260.0, 360.0, 500.0), n_phi=None):
    """Tangent planes around each radius, alternately 1.5 mm in and out, overlapping in phi."""
    centers, rots, halfw, gids, layer_of = [], [], [], [], []
    for li, r in enumerate(radii):
        n = n_phi or max(8, int(2 * np.pi * r / 30.0))
        hw = 1.15 * np.pi * r / n            # 15 % overlap with the neighbours
        for k in range(n):
            phi = 2 * np.pi * k / n
            rr = r + (1.5 if k % 2 else -1.5)
            nrm = np.array([np.cos(phi), np.sin(phi), 0.0])
            u = np.array([-np.sin(phi), np.cos(phi), 0.0])
            v = np.array([0.0, 0.0, 1.0])
            centers.append(rr * nrm)
            rots.append(np.stack([u, v, nrm], axis=1))
            halfw.append(hw)
            gids.append(1000 * (li + 1) + k)
            layer_of.append(li)
    return (np.array(centers), np.array(rots), np.array(halfw), np.array(gids, np.uint64),
            np.array(layer_of))


def _helix_point(pt, phi0, eta, q, alpha, bz=2 * u.T):
    rad = pt / (abs(q) * bz)
    h = np.sign(q)
    x = h * rad * (np.sin(phi0) - np.sin(phi0 - h * alpha))
    y = h * rad * (np.cos(phi0 - h * alpha) - np.cos(phi0))
    return np.stack([x, y, rad * alpha * np.sinh(eta)], axis=-1)


def _module_event(tracks, planes, half_z=600.0):
    centers, rots, halfw, gids, layer_of = planes
    rows = []
    for pid, (pt, phi0, eta, q) in enumerate(tracks, start=1):
        alpha = np.linspace(0.0, 1.2, 30001)
        pts = _helix_point(pt, phi0, eta, q, alpha)
        for m in range(len(centers)):
            d = (pts - centers[m]) @ rots[m][:, 2]
            sign = np.flatnonzero(np.diff(np.sign(d)) != 0)
            if len(sign) == 0:
                continue
            j = sign[0]
            a = alpha[j] - d[j] * (alpha[j + 1] - alpha[j]) / (d[j + 1] - d[j])
            p = _helix_point(pt, phi0, eta, q, a)
            loc = (p - centers[m]) @ rots[m]
            if abs(loc[0]) <= halfw[m] and abs(loc[1]) <= half_z:
                rows.append((a, pid, m, *p))
    rows.sort(key=lambda t: (t[1], t[0]))
    arr = np.array([r[1:] for r in rows])
    pid, mod, xyz = arr[:, 0].astype(int), arr[:, 1].astype(int), arr[:, 2:]
    n = len(arr)
    hits = Table({"hit_id": np.arange(1, n + 1), "x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2],
                  "volume_id": np.full(n, 8), "layer_id": 2 * (layer_of[mod] + 1),
                  "module_id": mod, "geometry_id": gids[mod],
                  "var_local0": np.full(n, 1e-4), "var_local1": np.full(n, 1e-4)})
    truth = Table({"hit_id": np.arange(1, n + 1), "particle_id": pid, "tx": xyz[:, 0],
                   "ty": xyz[:, 1], "tz": xyz[:, 2], "tpx": np.zeros(n), "tpy": np.zeros(n),
                   "tpz": np.zeros(n), "weight": np.ones(n) / n})
    modules = finding.ModulePlanes(geometry_id=gids, center=centers, rotation=rots,
                                   thickness_x0=np.zeros(len(gids)))
    return Event(hits=hits, truth=truth), modules


def test_module_planes_with_overlaps():
    planes = _module_barrel()
    tracks = [(2.0, 0.05, 0.3, 1), (1.2, 1.3, -0.6, -1), (5.0, 2.9, 0.1, 1), (0.8, -1.7, 0.9, -1),
              (3.0, -0.02, -0.2, -1)]
    ev, modules = _module_event(tracks, planes)
    det = finding.detector_for(ev, modules=modules, pixel_volumes=(8,))
    assert det.layer is not None and len(det.surfaces) == 7 + len(modules.geometry_id)
    pid = ev.hit_particle_id
    # several tracks cross two overlapping modules on some layer
    lay = det.layer
    overlaps = sum(len(np.flatnonzero(pid == p)) - len(np.unique(lay[pid == p]))
                   for p in range(1, len(tracks) + 1))
    assert overlaps >= 3
    seeds = []
    for p in range(1, len(tracks) + 1):
        rows = np.flatnonzero(pid == p)
        _, first = np.unique(lay[rows], return_index=True)
        seeds.append(rows[np.sort(first)][:3])
    tr = finding.find_tracks_ckf(ev, np.array(seeds), detector=det, config=LOOSE)
    assert len(tr) == len(tracks)
    for i in range(len(tr)):
        p = pid[seeds[tr.seed[i]][0]]
        np.testing.assert_array_equal(np.sort(tr.track_hits(i)), np.flatnonzero(pid == p))
        assert tr.n_holes[i] == 0
    assert np.allclose(tr.pt, [t[0] for t in tracks], rtol=1e-2)
    two = finding.find_tracks_ckf(ev, np.array(seeds), detector=det, config=LOOSE, n_threads=2)
    _assert_same(tr, two)
    # the same hits with one surface per layer: one hit per layer, the overlaps lost
    per_layer = finding.detector_for(ev, pixel_volumes=(8,))
    ok = [s for s in seeds if len(np.unique(per_layer.surface_id[s])) == 3]
    flat = finding.find_tracks_ckf(ev, np.array(ok), detector=per_layer, config=LOOSE)
    assert len(flat) == len(ok)
    assert len(flat.hits) < len(tr.hits)


def test_overlaps_before_the_seed_hits_are_found():
    # Seeds made of the *second* module hit on each of their layers: the overlap
    # module each track meets first on the middle and top layers comes before the
    # seed's own hit, which the seed stage takes first; the backward re-filter
    # (and the inward pass, for the bottom layer) must still pick it up.
    planes = _module_barrel()
    rng = np.random.default_rng(5)
    tracks = [(float(rng.uniform(0.8, 5.0)), float(phi), float(rng.uniform(-0.8, 0.8)),
               int(rng.choice([-1, 1]))) for phi in np.linspace(-3.0, 3.0, 16)]
    ev, modules = _module_event(tracks, planes)
    det = finding.detector_for(ev, modules=modules, pixel_volumes=(8,))
    pid, lay = ev.hit_particle_id, det.layer
    seeds, n_before = [], 0
    for p in range(1, len(tracks) + 1):
        rows = np.flatnonzero(pid == p)           # propagation order
        layers = list(dict.fromkeys(lay[rows].tolist()))[:3]
        last = [rows[lay[rows] == q][-1] for q in layers]
        n_before += sum(int((lay[rows] == q).sum()) - 1 for q in layers[1:])
        seeds.append(last)
    assert n_before >= 2   # some middle / top seed layers have an overlap hit before the seed's
    tr = finding.find_tracks_ckf(ev, np.array(seeds), detector=det, config=LOOSE)
    assert len(tr) == len(tracks)
    for i in range(len(tr)):
        p = pid[seeds[tr.seed[i]][0]]
        np.testing.assert_array_equal(np.sort(tr.track_hits(i)), np.flatnonzero(pid == p))
        assert tr.n_measurements[i] == (pid == p).sum()


def test_tracking_study_small(tmp_path):
    from helixkit.finding import study

    cfgs = (study.DEFAULT_CONFIGS[0], study.DEFAULT_CONFIGS[3])
    res = study.run_tracking_study(tmp_path, mu_values=(5.0,), n_events=1, configs=cfgs,
                                   progress=False)
    assert [r["config"] for r in res["runs"]] == [c[0] for c in cfgs]
    for r in res["runs"]:
        assert r["sample"] == "sim <mu>=5" and r["seeds_per_event"] > 0
        assert 0.5 < r["after_ambiguity"]["efficiency"] <= 1.0
        assert r["ms_total"] > 0
    assert (tmp_path / "tracking_study_mu5.png").stat().st_size > 10_000
    assert "sim <mu>=5" in (tmp_path / "tracking_study.md").read_text()
    with pytest.raises(ValueError, match="acts_particles"):
        study.run_tracking_study(tmp_path, mu_values=(), acts_particles=(0,), progress=False)
    with pytest.raises(ValueError, match="n_events"):
        study.run_tracking_study(tmp_path, n_events=0, progress=False)


def _sampled_rz_variances(det, rows, rng, n=4000):
    """Monte Carlo (r, z) variances of hits: local offsets drawn from their covariance, mapped
    to global by each surface type's own formula (independent of space_point_variances)."""
    s = det.surfaces
    out = []
    for i in rows:
        k = det.surface_id[i]
        c = det.cov[i]
        cov = np.array([[c[0], c[2]], [c[2], c[1]]])
        d = rng.multivariate_normal(np.zeros(2), cov, size=n)
        l0, l1 = det.local[i, 0] + d[:, 0], det.local[i, 1] + d[:, 1]
        rot, cen = s.rotation[k].reshape(3, 3), s.center[k]
        if s.type[k] == fitting.CYLINDER:
            rad = s.radius[k]
            frame = np.stack([rad * np.cos(l0 / rad), rad * np.sin(l0 / rad), l1], axis=1)
        elif s.type[k] == fitting.DISK:
            frame = np.stack([l0 * np.cos(l1), l0 * np.sin(l1), np.zeros(n)], axis=1)
        else:
            frame = np.stack([l0, l1, np.zeros(n)], axis=1)
        g = cen + frame @ rot.T
        out.append((np.var(np.hypot(g[:, 0], g[:, 1])), np.var(g[:, 2])))
    return np.array(out)


def test_space_point_variances_against_sampling():
    rng = np.random.default_rng(3)
    ev = simulate_event(mu=5, seed=2)
    det = finding.detector_for(ev)
    vr, vz = finding.space_point_variances(det, ev.hits["x"], ev.hits["y"])
    kinds = det.surfaces.type[det.surface_id]
    rows = np.concatenate([rng.choice(np.flatnonzero(kinds == t), 6, replace=False)
                           for t in (fitting.CYLINDER, fitting.DISK)])
    # module planes, rotated about the z axis
    ev_m, modules = _module_event([(2.0, 0.4, 0.5, 1), (1.5, -2.0, -0.7, -1)], _module_barrel())
    det_m = finding.detector_for(ev_m, modules=modules, pixel_volumes=(8,))
    vr_m, vz_m = finding.space_point_variances(det_m, ev_m.hits["x"], ev_m.hits["y"])
    rows_m = rng.choice(len(vr_m), 6, replace=False)
    for d, r, a, b in ((det, rows, vr, vz), (det_m, rows_m, vr_m, vz_m)):
        mc = _sampled_rz_variances(d, r, rng)
        for got, want in ((a[r], mc[:, 0]), (b[r], mc[:, 1])):
            big = want > 1e-3 * want.max()     # (directions a measurement hardly constrains)
            np.testing.assert_allclose(got[big], want[big], rtol=0.12)
            assert np.all(got[~big] <= 1e-2 * want.max())
    # an event's own var_r / var_z columns come first
    hits = dict(ev.hits.to_dict()) if hasattr(ev.hits, "to_dict") else {c: ev.hits[c] for c in ev.hits.columns}
    hits["var_r"] = np.full(ev.n_hits, 0.7)
    hits["var_z"] = np.full(ev.n_hits, 0.9)
    ev2 = dataclasses.replace(ev, hits=Table(hits))
    vr2, vz2 = finding.seeding_variances(ev2, det)
    assert np.all(vr2 == 0.7) and np.all(vz2 == 0.9)
    with pytest.raises(ValueError, match="one entry per hit"):
        finding.space_point_variances(det, ev.hits["x"][:5], ev.hits["y"][:5])


@pytest.mark.parametrize("fit", [True, False])
@pytest.mark.parametrize("dz", [0.07, 0.09])
def test_wrong_seed_bottom_becomes_an_outlier(dz, fit):
    # The bottom hit is the outward pass's start, taken against the seed's own prior; a
    # wrong one (7-9 sigma off: from 10 sigma it derails the outward pass, whose seed
    # parameters come from it) is an outlier for the re-filter, which carries its
    # prediction on through that surface (no inward search from there), and the track keeps
    # every other hit with a good chi2 (the CKF's own too: the outlier is not in the filter).
    geo = _geometry()
    t = _helix_hits(2.0, 0.4, 0.3, 1)
    wrong = t[0].copy()
    wrong[2] += dz
    ev = _event([t], geo, extra=np.array([[*wrong, 0]]))  # (on layer 0, the bottom's)
    rows = np.flatnonzero(ev.hit_particle_id == 1)
    bad = int(np.flatnonzero(ev.hit_particle_id == 0)[0])
    tr = finding.find_tracks_ckf(ev, np.array([[bad, rows[1], rows[2]]]), config=LOOSE, fit=fit)
    assert len(tr) == 1
    hits = list(tr.track_hits(0))
    out = tr.outlier[tr.offsets[0]:tr.offsets[1]]
    assert bad in hits and out[hits.index(bad)]
    assert tr.n_outliers[0] == 1
    assert set(rows[1:]) <= set(hits)
    assert tr.n_measurements[0] == len(RADII) - 1
    assert tr.chi2[0] / tr.ndf[0] < 3


@pytest.mark.parametrize("dz", [0.1, 0.2])
def test_wrong_seed_hit_becomes_an_outlier(dz):
    # The seed stage takes the seed's middle hit untested; a wrong one (dz = 10-20 sigma
    # off the helix, close enough not to derail the outward pass) is found inconsistent by
    # the backward re-filter and flagged an outlier.
    geo = _geometry()
    t = _helix_hits(2.0, 0.4, 0.3, 1)
    wrong = t[1].copy()
    wrong[2] += dz
    ev = _event([t], geo, extra=np.array([[*wrong, 1]]))
    rows = np.flatnonzero(ev.hit_particle_id == 1)
    bad = int(np.flatnonzero(ev.hit_particle_id == 0)[0])
    tr = finding.find_tracks_ckf(ev, np.array([[rows[0], bad, rows[2]]]), config=LOOSE)
    assert len(tr) == 1
    hits = list(tr.track_hits(0))
    out = tr.outlier[tr.offsets[0]:tr.offsets[1]]
    assert bad in hits and out[hits.index(bad)]
    assert tr.n_outliers[0] == 1
    assert set(rows) - {rows[1]} <= set(hits)
    assert tr.n_measurements[0] == len(RADII) - 1
    # the final fit uses the measurements only: a good helix
    assert tr.chi2[0] / tr.ndf[0] < 3
