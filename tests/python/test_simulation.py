"""Physics checks of the built-in simulation."""

from __future__ import annotations

import numpy as np
import pytest

from helixkit import units as u
from helixkit.data import SimulationConfig, generate_events, read_trackml, simulate_event, trackml_like
from helixkit.data import write_trackml


@pytest.fixture(scope="module")
def event():
    return simulate_event(mu=20, seed=3)


def _layer_rows(ev):
    geo = ev.geometry
    return geo.arrays(), geo.layer_indices(ev.hits["volume_id"], ev.hits["layer_id"])


def test_deterministic_for_a_seed():
    a, b, c = (simulate_event(mu=5, seed=s) for s in (7, 7, 8))
    for col in ("x", "y", "z", "volume_id", "module_id"):
        assert np.array_equal(a.hits[col], b.hits[col])
    assert np.array_equal(a.truth["particle_id"], b.truth["particle_id"])
    assert a.n_hits != c.n_hits or not np.array_equal(a.hits["x"], c.hits["x"])


def test_hits_lie_on_their_surfaces_within_resolution(event):
    geo, row = _layer_rows(event)
    assert (row >= 0).all()
    x, y, z = (event.hits[c].astype(np.float64) for c in "xyz")
    r = np.hypot(x, y)
    barrel = geo["kind"][row] == 0
    # The coordinate a surface fixes is exact (float32 precision).
    np.testing.assert_allclose(r[barrel], geo["position"][row[barrel]], rtol=2e-6)
    np.testing.assert_allclose(z[~barrel], geo["position"][row[~barrel]], rtol=1e-6)
    # The others lie in the layer's extent (smearing may spill by a few sigma).
    v = np.where(barrel, z, r)
    slack = 6 * geo["sigma_v"][row]
    assert (v >= geo["extent_min"][row] - slack).all()
    assert (v <= geo["extent_max"][row] + slack).all()
    # Local residuals (measured - true) have the layer's resolution.
    real = event.hit_particle_id > 0
    tx, ty, tz = (event.truth[c].astype(np.float64) for c in ("tx", "ty", "tz"))
    du = r * (np.angle(np.exp(1j * (np.arctan2(y, x) - np.arctan2(ty, tx)))))
    dv = np.where(barrel, z - tz, r - np.hypot(tx, ty))
    pix = real & np.isin(event.hits["volume_id"], [7, 8, 9])
    assert np.std(du[pix]) == pytest.approx(0.015, rel=0.1)
    assert np.std(dv[pix]) == pytest.approx(0.015, rel=0.1)
    ss = real & (event.hits["volume_id"] == 13)
    assert np.std(dv[ss]) == pytest.approx(1.2, rel=0.1)


def _circle_radius(x, y):
    """Algebraic (Kasa) circle fit."""
    a = np.stack([x, y, np.ones_like(x)], axis=1)
    b = x**2 + y**2
    c, *_ = np.linalg.lstsq(a, b, rcond=None)
    xc, yc = c[0] / 2, c[1] / 2
    return np.sqrt(c[2] + xc**2 + yc**2)


def _fitted_radius_ratio(ev, min_hits=6):
    pids, offsets, order = ev.hits_by_particle()
    parts = ev.particles
    ratio = []
    for k, pid in enumerate(pids):
        rows = order[offsets[k] : offsets[k + 1]]
        if len(rows) < min_hits:
            continue
        p = parts.take(np.array([pid - 1]))
        pt = float(np.hypot(p["px"][0], p["py"][0]))
        if p["parent_id"][0] != 0 or pt < 0.5:
            continue
        r_fit = _circle_radius(ev.truth["tx"][rows].astype(float), ev.truth["ty"][rows].astype(float))
        ratio.append(r_fit / (pt / (2 * u.T)))
    return np.array(ratio)


def test_hits_follow_a_helix_of_the_true_momentum():
    exact = simulate_event(mu=3, seed=5, multiple_scattering=False, energy_loss=False,
                           noise_fraction=0.0)
    ratio = _fitted_radius_ratio(exact)
    assert len(ratio) > 20
    np.testing.assert_allclose(ratio, 1.0, atol=2e-3)
    # With scattering the relation holds on average, with a spread.
    noisy = _fitted_radius_ratio(simulate_event(mu=3, seed=5))
    assert np.median(noisy) == pytest.approx(1.0, abs=0.03)
    assert np.std(noisy) > np.std(ratio)


def _theta_kicks(ev, p_lo, p_hi):
    """Polar-angle change between the first two pixel-barrel crossings, per particle."""
    pid = ev.hit_particle_id
    sel = (ev.hits["volume_id"] == 8) & (pid > 0)
    rows = np.flatnonzero(sel)
    rows = rows[np.lexsort((np.hypot(ev.truth["tx"][rows], ev.truth["ty"][rows]), pid[rows]))]
    p = ev.particles
    out = []
    same = pid[rows][1:] == pid[rows][:-1]
    a, b = rows[:-1][same], rows[1:][same]
    theta = lambda r: np.arctan2(np.hypot(ev.truth["tpx"][r], ev.truth["tpy"][r]), ev.truth["tpz"][r])  # noqa: E731
    pmag = np.sqrt(p["px"] ** 2 + p["py"] ** 2 + p["pz"] ** 2)[pid[a] - 1]
    ok = (pmag > p_lo) & (pmag < p_hi) & (p["parent_id"][pid[a] - 1] == 0)
    out = (theta(b) - theta(a))[ok]
    return out, pmag[ok]


def test_multiple_scattering_widens_as_one_over_p():
    ev = simulate_event(mu=60, seed=11, eta_max=1.0, noise_fraction=0.0)
    lo, plo = _theta_kicks(ev, 0.8, 1.2)
    hi, phi_ = _theta_kicks(ev, 3.0, 5.0)
    assert len(lo) > 100 and len(hi) > 30
    ratio = np.std(lo) / np.std(hi)
    expected = np.mean(phi_) / np.mean(plo)
    assert ratio == pytest.approx(expected, rel=0.3)
    off, _ = _theta_kicks(simulate_event(mu=20, seed=11, eta_max=1.0, multiple_scattering=False),
                          0.8, 1.2)
    assert np.std(off) < 1e-4 < np.std(lo)


def test_counts_scale_with_mu_and_noise_fraction():
    small = np.mean([simulate_event(mu=10, seed=s).n_hits for s in range(3)])
    large = np.mean([simulate_event(mu=40, seed=s).n_hits for s in range(3)])
    assert large / small == pytest.approx(4.0, rel=0.2)
    ev = simulate_event(mu=20, seed=1, noise_fraction=0.1)
    assert np.mean(ev.hit_particle_id == 0) == pytest.approx(0.1, abs=0.01)
    assert simulate_event(mu=0, seed=1).n_particles == 0


def test_truth_weights_and_particles(event):
    w = event.truth["weight"]
    assert float(w.sum()) == pytest.approx(1.0, rel=1e-5)
    assert (w[event.hit_particle_id == 0] == 0).all()
    parts = event.particles
    nh = np.bincount(event.hit_particle_id, minlength=event.n_particles + 1)[1:]
    assert np.array_equal(nh, parts["nhits"])
    few = np.isin(event.hit_particle_id, parts["particle_id"][parts["nhits"] < 4])
    assert (w[few] == 0).all()
    sec = ~parts["primary"]
    assert sec.any()
    assert (parts["parent_id"][sec] > 0).all()
    assert np.median(np.hypot(parts["vx"][sec], parts["vy"][sec])) > 1.0
    assert np.median(np.abs(parts["vx"][~sec])) < 0.05
    pt = np.hypot(parts["px"], parts["py"])
    assert np.median(pt[~sec]) < 1.0 < pt.max()


def test_energy_loss_reduces_momentum_along_the_track():
    ev = simulate_event(mu=5, seed=2, energy_loss=True, multiple_scattering=False)
    pid = ev.hit_particle_id
    rows = np.flatnonzero(pid > 0)
    dist = np.hypot(np.hypot(ev.truth["tx"], ev.truth["ty"]), ev.truth["tz"])[rows]
    rows = rows[np.lexsort((dist, pid[rows]))]
    # The momentum recorded at the first crossing is before any loss: skip it.
    rows = rows[1:][pid[rows][1:] == pid[rows][:-1]]
    p_hit = np.sqrt(ev.truth["tpx"] ** 2 + ev.truth["tpy"] ** 2 + ev.truth["tpz"] ** 2)[rows]
    parts = ev.particles
    p0 = np.sqrt(parts["px"] ** 2 + parts["py"] ** 2 + parts["pz"] ** 2)[pid[rows] - 1]
    assert (p_hit <= p0 * (1 + 1e-5)).all()
    assert (p_hit < p0 * (1 - 1e-5)).mean() > 0.95


def test_bad_configs_name_the_field():
    with pytest.raises(ValueError, match="noise_fraction"):
        simulate_event(mu=1, noise_fraction=1.5)
    with pytest.raises(ValueError, match="mu"):
        simulate_event(mu=-1)
    with pytest.raises(TypeError, match="no field"):
        simulate_event(mu=1, not_a_field=3)
    with pytest.raises(ValueError, match="geometry"):
        simulate_event(mu=1, geometry="trackml")
    with pytest.raises(ValueError, match="n_events"):
        list(generate_events(-1))
    SimulationConfig().validate()


def test_generated_events_are_reproducible_and_round_trip(tmp_path):
    evs = list(generate_events(3, mu=5, seed=9, first_event_id=100))
    again = list(generate_events(2, mu=5, seed=9, first_event_id=100))
    assert [e.event_id for e in evs] == [100, 101, 102]
    assert np.array_equal(evs[1].hits["x"], again[1].hits["x"])
    write_trackml(evs[0], tmp_path)
    back = read_trackml(tmp_path, 100)
    for col in ("x", "y", "z", "module_id"):
        assert np.array_equal(back.hits[col], evs[0].hits[col])
    assert np.array_equal(back.truth["weight"], evs[0].truth["weight"])


def test_custom_geometry_is_used():
    geo = trackml_like().with_material(0.0)
    ev = simulate_event(mu=3, seed=1, geometry=geo)
    assert ev.geometry is geo
