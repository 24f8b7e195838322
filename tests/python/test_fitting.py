"""Tests of helixkit.fitting: Kalman filter + smoother against truth, least squares and toys."""

from __future__ import annotations

import numpy as np
import pytest

from helixkit import fitting
from helixkit import units as u
from helixkit.data import Event, Table, trackml_like
from helixkit.fitting import _toy

BZ = 2.0 * u.T
RADII = (32.0, 72.0, 116.0, 172.0, 260.0, 360.0, 500.0, 660.0, 820.0, 1020.0)
NL = len(RADII)


def _seeds(t: _toy.ToyTracks) -> np.ndarray:
    p, st = fitting.estimate_track_params(t.xyz[0::NL], t.xyz[NL // 2::NL], t.xyz[NL - 1::NL],
                                          b_field_z=BZ)
    assert (st == 0).all()
    return p


def _fit(t: _toy.ToyTracks, surf: fitting.Surfaces, init: np.ndarray | None = None, **kw):
    return fitting.fit_tracks(surf, t.offsets, t.layer, t.local, t.local_cov,
                              _seeds(t) if init is None else init, b_field_z=BZ, **kw)


def _pulls(res: fitting.TrackFitResult, truth: np.ndarray) -> np.ndarray:
    d = res.params - truth
    d[:, 2] = np.angle(np.exp(1j * d[:, 2]))
    return d / np.sqrt(np.diagonal(res.cov, axis1=1, axis2=2))


@pytest.fixture(scope="module")
def surf0() -> fitting.Surfaces:
    return _toy.barrel_surfaces(RADII)


@pytest.fixture(scope="module")
def surf_mat() -> fitting.Surfaces:
    return _toy.barrel_surfaces(RADII, thickness_x0=0.03)


def test_exact_hits_recover_truth(surf0):
    t = _toy.make_toy_tracks(200, seed=1, smear=False, vertex_sigma=0.05)
    for init in (t.truth, None):
        res = _fit(t, surf0, init, store_states=True)
        assert (res.status == 0).all()
        np.testing.assert_allclose(res.params, t.truth, rtol=0, atol=1e-8)
        np.testing.assert_allclose(res.smoothed, t.true_state, rtol=0, atol=1e-8)
        assert res.chi2.max() < 1e-10
        assert (res.ndf == 2 * NL - 5).all()


def test_seed_parameters_exact_without_material():
    t = _toy.make_toy_tracks(100, seed=2, smear=False, vertex_sigma=0.1, eta_max=2.0)
    np.testing.assert_allclose(_seeds(t), t.truth, rtol=0, atol=1e-8)


@pytest.mark.parametrize("material", [False, True])
def test_pulls_and_chi2(surf0, surf_mat, material):
    t = _toy.make_toy_tracks(3000, seed=3, thickness_x0=0.03 if material else 0.0)
    res = _fit(t, surf_mat if material else surf0, mass=0.10566)
    assert (res.status == 0).all()
    pulls = _pulls(res, t.truth)
    assert np.all(np.abs(pulls.mean(axis=0)) < 0.06), pulls.mean(axis=0)
    assert np.all(np.abs(pulls.std(axis=0) - 1) < 0.05), pulls.std(axis=0)
    assert abs(np.mean(res.chi2 / res.ndf) - 1) < 0.03


def test_material_ignored_gives_wrong_pulls(surf0):
    # The same scattered tracks fitted without material noise: pulls too wide.
    t = _toy.make_toy_tracks(1000, seed=4, thickness_x0=0.03, pt_range=(0.5, 2.0))
    res = _fit(t, surf0)
    assert _pulls(res, t.truth)[:, 4].std() > 1.5


def test_resolution_degrades_at_low_pt(surf_mat):
    lo = _toy.make_toy_tracks(800, seed=5, thickness_x0=0.03, pt_range=(0.5, 0.7))
    hi = _toy.make_toy_tracks(800, seed=6, thickness_x0=0.03, pt_range=(8.0, 10.0))
    r_lo, r_hi = _fit(lo, surf_mat), _fit(hi, surf_mat)

    def sig(res, t, i):
        return np.std(res.params[:, i] - t.truth[:, i])

    def qopt(p):
        return p[:, 4] / np.sin(p[:, 3])

    assert sig(r_lo, lo, 0) > 3 * sig(r_hi, hi, 0)
    assert np.std(qopt(r_lo.params) - qopt(lo.truth)) > 3 * np.std(qopt(r_hi.params) - qopt(hi.truth))


def test_smoothed_states_match_least_squares(surf0):
    opt = pytest.importorskip("scipy.optimize")
    t = _toy.make_toy_tracks(6, seed=7)
    res = _fit(t, surf0, store_states=True)
    radii = np.asarray(RADII)
    sig = np.sqrt(t.local_cov[:NL, :2])
    for i in range(6):
        meas = t.local[i * NL:(i + 1) * NL]

        def resid(p, meas=meas):
            st, _ = _toy.barrel_states(p[None, :], radii, BZ)
            return ((st[0, :, :2] - meas) / sig).ravel()

        ls = opt.least_squares(resid, res.params[i] * (1 + 1e-4), x_scale="jac", xtol=1e-14,
                               ftol=1e-14, gtol=1e-14)
        err = np.sqrt(np.diag(res.cov[i]))
        assert np.all(np.abs(ls.x - res.params[i]) < 0.01 * err)
        states, _ = _toy.barrel_states(ls.x[None, :], radii, BZ)
        serr = np.sqrt(np.diagonal(res.smoothed_cov[i * NL:(i + 1) * NL], axis1=1, axis2=2))
        assert np.all(np.abs(states[0] - res.smoothed[i * NL:(i + 1) * NL]) < 0.01 * serr)


def test_mbf_equals_rts_and_thread_invariance(surf_mat):
    t = _toy.make_toy_tracks(300, seed=8, thickness_x0=0.03)
    a = _fit(t, surf_mat, smoother="mbf", store_states=True, n_threads=1)
    b = _fit(t, surf_mat, smoother="rts", store_states=True, n_threads=1)
    np.testing.assert_allclose(a.params, b.params, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(a.smoothed, b.smoothed, rtol=1e-6, atol=1e-9)
    c = _fit(t, surf_mat, smoother="mbf", store_states=True, n_threads=3)
    for name in ("params", "cov", "chi2", "ndf", "status", "smoothed", "smoothed_cov"):
        np.testing.assert_array_equal(getattr(a, name), getattr(c, name))


def test_energy_loss_changes_momentum_consistently(surf_mat):
    t = _toy.make_toy_tracks(50, seed=9, thickness_x0=0.03, pt_range=(0.5, 1.0))
    a = _fit(t, surf_mat)
    b = _fit(t, surf_mat, energy_loss=True)
    # Fitted at the perigee (before any loss) the track must look more energetic
    # when the fitter knows it loses energy along the way.
    assert np.all(np.abs(b.params[:, 4]) < np.abs(a.params[:, 4]))


def test_outliers_and_holes(surf0):
    t = _toy.make_toy_tracks(20, seed=10)
    clean = _fit(t, surf0)
    bad = t.local.copy()
    bad[5::NL, 0] += 1.0  # 1 mm off on layer 5 of every track
    res = fitting.fit_tracks(surf0, t.offsets, t.layer, bad, t.local_cov, _seeds(t), b_field_z=BZ,
                             outlier_chi2_cut=25.0)
    assert (res.n_outliers == 1).all()
    assert res.outlier[5::NL].all() and res.outlier.sum() == 20
    assert (res.ndf == clean.ndf - 2).all()
    assert np.all(np.abs(res.params - clean.params) < 3 * np.sqrt(np.diagonal(clean.cov, 0, 1, 2)))
    # Holes: drop layer 3 from every track.
    keep = np.tile(np.arange(NL) != 3, 20)
    off = np.arange(0, 20 * (NL - 1) + 1, NL - 1)
    h = fitting.fit_tracks(surf0, off, t.layer[keep], t.local[keep], t.local_cov[keep], _seeds(t),
                           b_field_z=BZ, count_holes=True)
    assert (h.n_holes == 1).all()
    assert (_fit(t, surf0, count_holes=True).n_holes == 0).all()


def test_status_codes(surf0):
    t = _toy.make_toy_tracks(3, seed=11, pt_range=(0.5, 0.6))
    # track 0: only 2 hits -> too few; track 1: a layer it cannot reach -> propagation failed
    far = fitting.Surfaces([1], [[0, 0, 0]], [np.eye(3)], [5000.0], [[-1e5, 1e5, -1e4, 1e4]], [0])
    cyl = _toy.barrel_surfaces((*RADII, 5000.0))
    sid = t.layer.copy()
    sid[NL + 4] = NL  # radius 5000 mm: unreachable for pT < 0.6 GeV
    assert len(far) == 1
    local = t.local.copy()
    res = fitting.fit_tracks(cyl, [0, 2, 2 + NL, 2 + 2 * NL], np.r_[sid[:2], sid[NL:]],
                             np.r_[local[:2], local[NL:]], np.r_[t.local_cov[:2], t.local_cov[NL:]],
                             _seeds(t), b_field_z=BZ)
    assert list(res.status) == [fitting.TOO_FEW_MEASUREMENTS, fitting.PROPAGATION_FAILED,
                                fitting.SUCCESS]
    assert np.isnan(res.params[:2]).all() and np.isfinite(res.params[2]).all()


def test_disks_and_tilted_planes():
    """Exact hits on z disks and randomly tilted planes through the true helix."""
    rng = np.random.default_rng(12)
    n = 30
    truth = np.stack([rng.normal(0, 0.05, n), rng.normal(0, 5, n), rng.uniform(-np.pi, np.pi, n),
                      rng.uniform(0.25, 0.45, n), rng.choice([-1, 1], n) / rng.uniform(1, 5, n)], 1)
    pos, mom, q = _toy.perigee_to_state(truth, BZ)
    pt = np.hypot(mom[:, 0], mom[:, 1])
    rho = pt / abs(BZ)
    s = np.sign(q * BZ)
    cx, cy = pos[:, 0] + rho * s * mom[:, 1] / pt, pos[:, 1] - rho * s * mom[:, 0] / pt
    a0 = np.arctan2(pos[:, 1] - cy, pos[:, 0] - cx)
    types, centers, rots, bounds, sids, local = [], [], [], [], [], []
    for i in range(n):
        for k, z in enumerate((300.0, 600.0, 900.0, 1200.0, 1500.0, 1800.0)):
            ang = a0[i] - s[i] * (z - pos[i, 2]) / (rho[i] / np.tan(truth[i, 3]))
            p = np.array([cx[i] + rho[i] * np.cos(ang), cy[i] + rho[i] * np.sin(ang), z])
            if k % 2 == 0:  # disk at z
                types.append(fitting.DISK)
                centers.append([0, 0, z])
                rots.append(np.eye(3))
                local.append([np.hypot(p[0], p[1]), np.arctan2(p[1], p[0])])
            else:  # plane through p, tilted by up to 0.4 rad
                axis = rng.normal(size=3)
                axis /= np.linalg.norm(axis)
                th = rng.uniform(0, 0.4)
                kx = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
                rot = np.eye(3) + np.sin(th) * kx + (1 - np.cos(th)) * kx @ kx
                off = rng.normal(0, 3, 2)
                types.append(fitting.PLANE)
                centers.append(p - rot[:, 0] * off[0] - rot[:, 1] * off[1])
                rots.append(rot)
                local.append(off)
            bounds.append([-1e4, 1e4, -1e4, 1e4])
            sids.append(len(types) - 1)
    m = len(types)
    surf = fitting.Surfaces(types, centers, rots, np.zeros(m), bounds, np.zeros(m))
    res = fitting.fit_tracks(surf, np.arange(0, m + 1, 6), sids, local, np.full((m, 2), 1e-4),
                             truth, b_field_z=BZ)
    assert (res.status == 0).all()
    d = res.params - truth
    np.testing.assert_allclose(d, 0, atol=1e-7)


def test_space_points_to_local():
    surf = _toy.barrel_surfaces((100.0,))
    xyz = np.array([[0.0, 100.0, 5.0], [100.0 / np.sqrt(2), -100.0 / np.sqrt(2), -3.0]])
    loc, cov = surf.space_points_to_local([0, 0], xyz, np.array([[0.01, 0.01, 0.04]] * 2))
    np.testing.assert_allclose(loc, [[50 * np.pi, 5.0], [-25 * np.pi, -3.0]])
    np.testing.assert_allclose(cov, [[0.01, 0.04, 0.0]] * 2, atol=1e-15)


def _toy_event(n: int, seed: int) -> tuple[Event, np.ndarray]:
    geo = trackml_like()
    barrel = [i for i, lay in enumerate(geo.layers) if lay.kind == "barrel"]
    radii = tuple(geo.layers[i].position for i in barrel)
    t = _toy.make_toy_tracks(n, seed=seed, radii=radii, sigma=(0.015, 0.015), thickness_x0=0.0)
    nl = len(radii)
    pid = np.repeat(np.arange(1, n + 1), nl)
    perm = np.random.default_rng(seed).permutation(len(pid))  # hits not grouped by particle
    lay = np.array(barrel)[t.layer]
    hits = Table({"hit_id": np.arange(1, len(pid) + 1), "x": t.xyz[perm, 0].astype(np.float32),
                  "y": t.xyz[perm, 1].astype(np.float32), "z": t.xyz[perm, 2].astype(np.float32),
                  "volume_id": np.array([geo.layers[i].volume_id for i in lay])[perm],
                  "layer_id": np.array([geo.layers[i].layer_id for i in lay])[perm],
                  "module_id": np.zeros(len(pid), np.int32)})
    truth = Table({"hit_id": hits["hit_id"], "particle_id": pid[perm]})
    pos, mom, q = _toy.perigee_to_state(t.truth, geo.b_field_z)
    parts = Table({"particle_id": np.arange(1, n + 1), "vx": pos[:, 0], "vy": pos[:, 1],
                   "vz": pos[:, 2], "px": mom[:, 0], "py": mom[:, 1], "pz": mom[:, 2], "q": q})
    # The toy's smearing is on (R·φ, z) with sigma 15 µm; the geometry's barrel
    # resolution for the strip layers is larger, so use a uniform-resolution copy.
    geo = geo.with_resolution(1.0)
    geo = type(geo)([lay if lay.kind == "endcap" else
                     type(lay)(**{**lay.__dict__, "resolution": (0.015, 0.015), "thickness_x0": 0.0})
                     for lay in geo.layers], b_field_z=geo.b_field_z)
    return Event(hits=hits, truth=truth, particles=parts, geometry=geo), t.truth


def test_fit_truth_tracks_on_event():
    ev, truth = _toy_event(400, seed=13)
    res = fitting.fit_truth_tracks(ev, min_hits=5, n_threads=2)
    assert list(res.particle_id) == list(range(1, 401))
    assert (res.status == 0).all()
    perf = fitting.fit_performance(res, ev)
    np.testing.assert_allclose(perf.truth, truth, atol=1e-9)
    s = perf.summary()
    for name in fitting.PARAM_NAMES:
        assert abs(s[f"pull_width_{name}"] - 1) < 0.1, (name, s)
    rows = res.extra["hit_rows"]
    assert (ev.truth["particle_id"][rows] == np.repeat(res.particle_id, 10)).all()


def test_fit_truth_tracks_simulation(tmp_path):
    sim = pytest.importorskip("helixkit.data.simulation")
    ev = sim.simulate_event(mu=5, seed=3, hard_scatter=True, hard_scatter_particles=400,
                            noise_fraction=0, secondary_fraction=0.0)
    res = fitting.fit_truth_tracks(ev, min_hits=7, n_threads=0)
    assert (res.status == 0).mean() > 0.99
    perf = fitting.fit_performance(res, ev)
    sel = (perf.pt > 0.5) & (np.abs(perf.eta) < 2.5)
    assert sel.sum() > 300
    pulls = perf.pull[sel]
    assert np.all(np.abs(pulls.mean(axis=0)) < 0.1), pulls.mean(axis=0)
    assert np.all(np.abs(pulls.std(axis=0) - 1) < 0.08), pulls.std(axis=0)
    assert abs(np.mean(perf.chi2_ndf[sel]) - 1) < 0.06
    paths = fitting.plot_fit_performance(perf, tmp_path)
    assert all(p.stat().st_size > 1000 for p in paths)


def test_bad_inputs(surf0):
    t = _toy.make_toy_tracks(4, seed=14)
    init = _seeds(t)
    args = [surf0, t.offsets, t.layer, t.local, t.local_cov, init]

    def call(i=None, value=None, **kw):
        a = list(args)
        if i is not None:
            a[i] = value
        return fitting.fit_tracks(*a, b_field_z=kw.pop("b_field_z", BZ), **kw)

    call()
    nan = t.local.copy()
    nan[3, 1] = np.nan
    with pytest.raises(ValueError, match="measurement contains NaN"):
        call(3, nan)
    with pytest.raises(ValueError, match="strictly increasing"):
        call(1, np.array([0, 10, 10, 30, 40]))
    with pytest.raises(ValueError, match="strictly increasing"):
        call(1, np.array([0, 20, 10, 30, 40]))
    with pytest.raises(ValueError, match="track_offsets"):
        call(1, np.array([0, 10, 20, 30, 41]))
    with pytest.raises(ValueError, match="surface_id"):
        call(2, t.layer + 5)
    bad = t.local_cov.copy()
    bad[0, 0] = -1
    with pytest.raises(ValueError, match="not positive definite"):
        call(4, bad)
    icov = fitting.default_initial_cov(init)
    icov[1, 0, 1] = icov[1, 1, 0] = 1e3
    with pytest.raises(ValueError, match="initial_cov of track 1"):
        call(initial_cov=icov)
    with pytest.raises(ValueError, match="Tesla"):
        call(b_field_z=2.0)
    with pytest.raises(ValueError, match="smoother"):
        call(smoother="kalman")
    with pytest.raises(ValueError, match="initial_params"):
        call(5, init[:, :4])
    with pytest.raises(ValueError, match="theta"):
        call(5, np.where(np.arange(5) == 3, 0.0, init))
    with pytest.raises(ValueError, match="outlierChi2Cut"):
        call(outlier_chi2_cut=-1.0)
    with pytest.raises(ValueError, match="orthonormal"):
        fitting.Surfaces([0], [[0, 0, 0]], [2 * np.eye(3)], [0], [[-1, 1, -1, 1]], [0])
    with pytest.raises(ValueError, match="radius"):
        fitting.Surfaces([1], [[0, 0, 0]], [np.eye(3)], [0], [[-1, 1, -1, 1]], [0])
    with pytest.raises(ValueError, match="geometry"):
        fitting.fit_truth_tracks(Event(hits=Table({"x": np.zeros(1)})))


# ---- passive (material-only) surfaces ----
PASSIVE_R = (20.0, 52.0, 94.0, 144.0, 216.0, 310.0, 430.0, 580.0, 740.0, 920.0)  # 20: beam pipe
SI_X0, SUPPORT_X0 = 0.003, 0.03


def _passive_surfaces(meas_x0: float, passive_x0: float) -> fitting.Surfaces:
    return _toy.barrel_surfaces((*RADII, *PASSIVE_R),
                                thickness_x0=np.r_[np.full(NL, meas_x0),
                                                   np.full(len(PASSIVE_R), passive_x0)])


def _fit_passive(t: _toy.ToyTracks, surf: fitting.Surfaces, init: np.ndarray | None = None,
                 **kw):
    off, sid, local, cov, mask = _toy.passive_sequence(t, RADII, PASSIVE_R)
    return fitting.fit_tracks(surf, off, sid, local, cov, _seeds(t) if init is None else init,
                              measurement_mask=mask, b_field_z=BZ, **kw)


@pytest.fixture(scope="module")
def passive_toy() -> _toy.ToyTracks:
    return _toy.make_toy_tracks(3000, seed=20, thickness_x0=SI_X0, passive_radii=PASSIVE_R,
                                passive_x0=SUPPORT_X0)


def test_passive_surfaces_pulls(passive_toy):
    t = passive_toy
    res = _fit_passive(t, _passive_surfaces(SI_X0, SUPPORT_X0), mass=0.10566)
    assert (res.status == 0).all()
    assert (res.ndf == 2 * NL - 5).all() and (res.n_measurements == NL).all()
    pulls = _pulls(res, t.truth)
    assert np.all(np.abs(pulls.mean(axis=0)) < 0.06), pulls.mean(axis=0)
    assert np.all(np.abs(pulls.std(axis=0) - 1) < 0.05), pulls.std(axis=0)
    assert abs(np.mean(res.chi2 / res.ndf) - 1) < 0.03
    # Without the beam pipe (first passive entry) d0 and z0 come out too narrow.
    off, sid, local, cov, mask = _toy.passive_sequence(t, RADII, PASSIVE_R)
    keep = sid != NL
    nb = fitting.fit_tracks(_passive_surfaces(SI_X0, SUPPORT_X0), off - np.arange(len(off)),
                            sid[keep], local[keep], cov[keep], _seeds(t), b_field_z=BZ,
                            measurement_mask=mask[keep], mass=0.10566)
    assert (nb.status == 0).all()
    assert _pulls(nb, t.truth)[:, 0].std() > 1.1


def test_passive_surfaces_left_out_give_too_narrow_errors(passive_toy):
    # Same tracks, only the measurement layers' own material known: errors too small.
    t = passive_toy
    res = _fit(t, _toy.barrel_surfaces(RADII, thickness_x0=SI_X0), mass=0.10566)
    assert (res.status == 0).all()
    widths = _pulls(res, t.truth).std(axis=0)
    assert np.all(widths[[0, 2, 4]] > 1.3), widths
    assert np.mean(res.chi2 / res.ndf) > 1.3


def test_passive_surfaces_exact_hits_and_ndf(surf0):
    t = _toy.make_toy_tracks(200, seed=21, smear=False, vertex_sigma=0.05)
    ref = _fit(t, surf0, store_states=True)
    res = _fit_passive(t, _passive_surfaces(0.0, 0.0), store_states=True)
    assert (res.status == 0).all()
    np.testing.assert_allclose(res.params, t.truth, rtol=0, atol=1e-8)
    np.testing.assert_array_equal(res.ndf, ref.ndf)
    np.testing.assert_array_equal(res.n_measurements, ref.n_measurements)
    _, sid, *_ = _toy.passive_sequence(t, RADII, PASSIVE_R)
    meas = sid < NL
    np.testing.assert_allclose(res.smoothed[meas], t.true_state, rtol=0, atol=1e-8)
    assert np.isnan(res.measurement_chi2[~meas]).all() and not res.outlier[~meas].any()
    # Smoothed states on passive entries between measurements lie on their cylinder
    # (loc0 = R·φ); the beam pipe before the first measurement gets none.
    inner = ~meas & (sid != NL)
    r = np.asarray((*RADII, *PASSIVE_R))[sid[inner]]
    assert np.all(np.abs(res.smoothed[inner, 0]) <= np.pi * r + 1e-9)
    assert np.isnan(res.smoothed[sid == NL]).all()


def test_passive_surfaces_mbf_equals_rts_and_threads(passive_toy):
    surf = _passive_surfaces(SI_X0, SUPPORT_X0)
    t = _toy.make_toy_tracks(300, seed=22, thickness_x0=SI_X0, passive_radii=PASSIVE_R,
                             passive_x0=SUPPORT_X0, pt_range=(0.5, 2.0))
    a = _fit_passive(t, surf, smoother="mbf", store_states=True, energy_loss=True)
    b = _fit_passive(t, surf, smoother="rts", store_states=True, energy_loss=True)
    assert (a.status == 0).all() and (b.status == 0).all()
    np.testing.assert_allclose(a.params, b.params, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(a.smoothed, b.smoothed, rtol=1e-6, atol=1e-9)

    def scaled(c):  # covariances in units of sqrt(C_ii C_jj)
        d = np.sqrt(np.diagonal(c, axis1=1, axis2=2))
        return c / (d[:, :, None] * d[:, None, :])

    for ca, cb in ((a.cov, b.cov), (a.smoothed_cov, b.smoothed_cov)):
        np.testing.assert_allclose(np.diagonal(ca, axis1=1, axis2=2),
                                   np.diagonal(cb, axis1=1, axis2=2), rtol=1e-5)
        np.testing.assert_allclose(scaled(ca), scaled(cb), rtol=0, atol=1e-6)
    # MBF skips the smoothed states of passive entries when they are not stored.
    d = _fit_passive(t, surf, smoother="mbf", energy_loss=True)
    np.testing.assert_array_equal(d.params, a.params)
    np.testing.assert_array_equal(d.cov, a.cov)
    c = _fit_passive(t, surf, smoother="mbf", store_states=True, energy_loss=True, n_threads=3)
    for name in ("params", "cov", "chi2", "ndf", "status", "smoothed", "smoothed_cov"):
        np.testing.assert_array_equal(getattr(a, name), getattr(c, name))


def test_passive_surfaces_inputs(surf0):
    t = _toy.make_toy_tracks(4, seed=23)
    surf = _passive_surfaces(0.0, 0.03)
    off, sid, local, cov, mask = _toy.passive_sequence(t, RADII, PASSIVE_R)
    init = _seeds(t)

    def call(**kw):
        a = {"track_offsets": off, "surface_id": sid, "measurement": local,
             "measurement_cov": cov, "measurement_mask": mask, **kw}
        return fitting.fit_tracks(surf, a["track_offsets"], a["surface_id"], a["measurement"],
                                  a["measurement_cov"], init, b_field_z=BZ,
                                  measurement_mask=a["measurement_mask"], store_states=True)

    assert (call().status == 0).all()  # NaN rows of passive entries are ignored
    bad = local.copy()
    bad[1] = np.nan  # row 1 is a measurement (row 0 the beam pipe)
    with pytest.raises(ValueError, match="measurement contains NaN"):
        call(measurement=bad)
    with pytest.raises(ValueError, match=r"measurement_mask\[1\] \(=4\)"):
        call(measurement_mask=np.where(np.arange(len(mask)) == 1, 4, mask).astype(np.int8))
    with pytest.raises(ValueError, match="measurement_mask must be integer"):
        call(measurement_mask=mask.astype(float))
    # A negative "covariance" on a passive row is ignored, on a measurement row an error.
    neg = np.where(mask[:, None] == 0, -1.0, cov)
    assert (call(measurement_cov=neg).status == 0).all()
    with pytest.raises(ValueError, match="not positive definite"):
        call(measurement_cov=np.where(np.arange(len(mask))[:, None] == 1, -1.0, cov))
    # Only passive entries: too few measurements, not an exception.
    res = call(measurement_mask=np.where(np.repeat(np.arange(4), len(sid) // 4) == 2, 0, mask))
    assert list(res.status) == [0, 0, fitting.TOO_FEW_MEASUREMENTS, 0]
    assert res.n_measurements[2] == 0
    # A passive entry after the last measurement is skipped: same fit, NaN state.
    extra = np.insert(sid, off[1], NL + 9)  # r = 920 mm after r = 1020 mm: never reached
    res2 = call(track_offsets=off + (np.arange(len(off)) > 0), surface_id=extra,
                measurement=np.insert(local, off[1], np.nan, axis=0),
                measurement_cov=np.insert(cov, off[1], np.nan, axis=0),
                measurement_mask=np.insert(mask, off[1], 0))
    ref = call()
    np.testing.assert_array_equal(res2.params, ref.params)
    assert np.isnan(res2.smoothed[off[1]]).all()


def test_passive_surfaces_are_no_holes():
    t = _toy.make_toy_tracks(20, seed=24)
    surf = _passive_surfaces(0.0, 0.03)
    off, sid, local, cov, mask = _toy.passive_sequence(t, RADII, PASSIVE_R)
    init = _seeds(t)
    # All surfaces are candidates (passive ones included): none is a hole.
    res = fitting.fit_tracks(surf, off, sid, local, cov, init, b_field_z=BZ,
                             measurement_mask=mask, count_holes=True)
    assert (res.status == 0).all() and (res.n_holes == 0).all()
    # Drop measurement layer 3 from the sequence: one hole, the passive entries still none.
    keep = sid != 3
    res = fitting.fit_tracks(surf, np.arange(0, keep.sum() + 1, keep.sum() // 20), sid[keep],
                             local[keep], cov[keep], init, b_field_z=BZ,
                             measurement_mask=mask[keep], count_holes=True)
    assert (res.status == 0).all() and (res.n_holes == 1).all()
    # Drop passive cylinder 4 instead: a passive surface crossed but not listed counts only
    # if it is a candidate; restricting the candidates to the measurement layers gives none.
    keep = sid != NL + 4
    res = fitting.fit_tracks(surf, np.arange(0, keep.sum() + 1, keep.sum() // 20), sid[keep],
                             local[keep], cov[keep], init, b_field_z=BZ,
                             measurement_mask=mask[keep], count_holes=True,
                             hole_surfaces=np.arange(NL))
    assert (res.n_holes == 0).all()
