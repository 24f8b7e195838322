"""DeepCore data: the barrel pixel detector, the jet-core simulation and the CNN windows."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from helixkit import units as u
from helixkit.deepcore import (
    ADC_SCALE,
    N_LAYERS,
    N_OVERLAPS,
    N_PARAMS,
    PARAM_NAMES,
    WINDOW,
    JetSimConfig,
    PixelBarrel,
    PixelLayer,
    Windows,
    jet_windows,
    plot_window,
    simulate_jets,
    simulate_particles,
)
from helixkit.deepcore.simulation import _wrap

DET = PixelBarrel()
MIP = 285.0 * 80.0  # electrons: 285 µm at 80 e/µm (most probable)


@pytest.fixture(scope="module")
def jets():
    return simulate_jets(4, seed=29, jet_pt=(1000.0, 3000.0))


@pytest.fixture(scope="module")
def windows(jets):
    return jet_windows(jets)


def _same_event(a, b):
    for table in ("particles", "pixels", "deposits", "crossings"):
        ta, tb = getattr(a, table), getattr(b, table)
        assert ta.columns == tb.columns
        for c in ta.columns:
            np.testing.assert_array_equal(ta[c], tb[c], err_msg=f"{table}.{c}")
    assert (a.jet_pt, a.jet_eta, a.jet_phi, a.event_id) == (b.jet_pt, b.jet_eta, b.jet_phi,
                                                            b.event_id)


# --------------------------------------------------------------------------- detector
def test_detector_is_cms_phase1_like():
    assert [la.name for la in DET.layers] == ["BPIX1", "BPIX2", "BPIX3", "BPIX4"]
    assert [la.radius for la in DET.layers] == [29.0, 68.0, 109.0, 160.0]
    assert [la.n_modules for la in DET.layers] == [96, 224, 352, 512]
    assert DET.n_modules == 1184
    la = DET.layers[1]
    assert (la.n_rows, la.n_cols, la.pitch_row, la.pitch_col, la.thickness) == (
        160, 416, 0.1, 0.15, 0.285)
    assert 250 < la.z_max < 270
    assert DET.b_field_z == pytest.approx(3.8 * u.T)


def test_detector_round_trips(rng):
    m = rng.integers(0, DET.n_modules, 2000)
    layer, ladder, iz = DET.decode(m)
    np.testing.assert_array_equal(DET.module_id(layer, ladder, iz), m)
    hw = DET.layer_table("half_width")[layer]
    hl = DET.layer_table("half_length")[layer]
    lx, ly, lw = (rng.uniform(-1, 1, len(m)) * s for s in (hw, hl, np.full(len(m), 0.14)))
    x, y, z = DET.to_global(m, lx, ly, lw)
    back = DET.to_local(m, x, y, z)
    for a, b in zip(back, (lx, ly, lw)):
        np.testing.assert_allclose(a, b, atol=1e-9)
    row, col = DET.to_pixel(m, lx, ly)
    np.testing.assert_allclose(DET.from_pixel(m, row, col), (lx, ly), atol=1e-9)
    assert row.min() >= -0.5 and row.max() < 159.5 and col.min() >= -0.5 and col.max() < 415.5
    # the plane normal of a module points at its centre from the beam line
    f = DET.module_frame(m)
    np.testing.assert_allclose(np.arctan2(f["cy"], f["cx"]), f["phi"], atol=1e-12)
    # a straight line from the origin through a point well inside a module finds it
    inner = (np.abs(lx) < hw - 2.0) & (np.abs(ly) < hl - 1.0)
    x, y, z = DET.to_global(m, lx, ly)
    for li in range(N_LAYERS):
        s = inner & (layer == li)
        hit = DET.intersect_line(li, np.zeros(3), np.stack([x[s], y[s], z[s]], 1))
        np.testing.assert_array_equal(hit["module"], m[s])
        np.testing.assert_allclose(hit["lx"], lx[s], atol=1e-9)
        assert hit["inside"].all()


def test_ladders_overlap_in_phi_and_close_the_barrel():
    phi = np.linspace(-np.pi, np.pi, 20001)
    for li, la in enumerate(DET.layers):
        d = np.stack([np.cos(phi), np.sin(phi), np.full_like(phi, 32.5 / la.radius)], 1)
        hit = DET.intersect_line(li, np.zeros(3), d)
        assert hit["inside"].all(), la.name  # no holes in φ
        # neighbouring (inner, outer) ladders overlap by a few % of the ladder step
        step = 2 * np.pi / la.n_ladders
        cover = (math.atan(la.half_width / (la.radius - la.stagger / 2))
                 + math.atan(la.half_width / (la.radius + la.stagger / 2)))
        assert 0.01 < cover / step - 1 < 0.1, la.name


@pytest.mark.parametrize(("change", "field"), [
    ({"radius": -1.0}, "radius"),
    ({"n_ladders": 6}, "n_ladders"),       # holes in φ
    ({"n_ladders": 13}, "n_ladders"),      # odd with stagger
    ({"module_pitch_z": 50.0}, "module_pitch_z"),
    ({"thickness_x0": 2.0}, "thickness_x0"),
])
def test_detector_validation(change, field):
    base = {"name": "L", "radius": 68.0, "n_ladders": 28}
    with pytest.raises(ValueError, match=field):
        PixelLayer(**{**base, **change}).validate()


def test_barrel_validation():
    with pytest.raises(ValueError, match="b_field_z"):
        PixelBarrel(b_field_z=3.8)
    with pytest.raises(ValueError, match="overlap radially"):
        PixelBarrel(layers=(PixelLayer("A", 68.0, 28), PixelLayer("B", 69.0, 28)))
    with pytest.raises(ValueError, match="module"):
        DET.decode(np.array([DET.n_modules]))


# --------------------------------------------------------------------------- simulation
def test_simulation_is_deterministic_per_jet():
    a = simulate_jets(3, seed=7, jet_pt=800.0, pileup_tracks=10)
    b = simulate_jets(2, seed=7, jet_pt=800.0, pileup_tracks=10)
    c = simulate_jets(1, seed=7, jet_pt=800.0, pileup_tracks=10, first_jet=2)
    _same_event(a[0], b[0])
    _same_event(a[1], b[1])
    _same_event(a[2], c[0])
    assert c[0].event_id == 2
    d = simulate_jets(1, seed=8, jet_pt=800.0, pileup_tracks=10)
    assert d[0].n_pixels != a[0].n_pixels or d[0].jet_phi != a[0].jet_phi


def test_jet_event_contents(jets):
    n_layers = []
    for ev in jets:
        ev.validate()
        p, px, cr = ev.particles, ev.pixels, ev.crossings
        fj = p["from_jet"]
        assert 15 <= fj.sum() <= 60 and (~fj).sum() > 0  # fragments and pile-up
        assert p["pt"][fj].min() >= 1.0 - 1e-9
        assert 0.3 < p["pt"][fj].sum() / ev.jet_pt < 1.0  # the charged fraction
        assert px["adc"].dtype == np.uint8 and px["adc"].min() >= 9  # threshold 1800 e
        assert px["charge"].min() >= 1800.0
        assert np.all(np.diff(px["module"] * 10**6 + px["row"] * 1000 + px["col"]) > 0)
        # every particle crossing is on its module's sensor plane
        lx, _, lw = DET.to_local(cr["module"], cr["x"], cr["y"], cr["z"])
        np.testing.assert_allclose(lw, 0.0, atol=1e-6)
        np.testing.assert_allclose(lx, cr["lx"], atol=1e-9)
        assert np.all(DET.module_layer(cr["module"]) == cr["layer"])
        # high-pT fragments well inside the barrel's acceptance cross all four layers
        hard = p["particle_id"][fj & (p["pt"] > 10) & (np.abs(p["eta"]) < 1.0)]
        n_layers += [len(np.unique(cr["layer"][cr["particle_id"] == h])) for h in hard]
    assert len(n_layers) >= 10
    assert np.mean(np.array(n_layers) == 4) > 0.85  # the rest: module gaps along z


def test_isolated_track_gives_one_normal_cluster_per_layer():
    """η = 0 at the centre of a ladder: the path is the 285 µm thickness; the Lorentz drift
    spreads the charge over ~1.1 pixel in r·φ (2 rows), one column in z."""
    rows, cols, charge = [], [], []
    rng = np.random.default_rng(1)
    for seed in range(60):
        ev = simulate_particles([50.0], [0.0], [rng.uniform(-0.01, 0.01)], [1.0],
                                vertex=(0.0, 0.0, 32.575 + rng.uniform(-0.04, 0.04)),
                                seed=seed, noise=0.0)
        cl = ev.clusters()
        assert len(cl) == N_LAYERS
        assert sorted(DET.module_layer(cl.module)) == [0, 1, 2, 3]
        rows += list(cl.size_row)
        cols += list(cl.size_col)
        charge += list(cl.charge)
    rows, cols, charge = map(np.asarray, (rows, cols, charge))
    assert rows.min() >= 1 and rows.max() <= 3 and np.mean(rows == 2) > 0.8
    assert cols.min() >= 1 and cols.max() <= 2 and np.mean(cols == 1) > 0.9
    # Landau-like: most probable ≈ 285 µm x 80 e/µm, median a little above, long upper tail
    assert 0.95 * MIP < np.median(charge) < 1.2 * MIP
    assert np.percentile(charge, 10) > 0.75 * MIP
    assert np.percentile(charge, 95) > 1.3 * MIP


def test_inclined_track_makes_long_clusters():
    ev = simulate_particles([50.0], [1.3], [0.0], [1.0], vertex=(0.0, 0.0, -5.0), seed=3,
                            noise=0.0)
    cl = ev.clusters()
    # along z the path projects onto thickness x sinh(η) / 150 µm ≈ 3.2 pixels
    assert np.all(cl.size_col >= 3)
    assert np.all(cl.charge > 1.4 * MIP)  # path = thickness x cosh(η)


def test_merged_clusters_grow_with_jet_pt():
    def merged_fraction(pt):
        n = m = 0
        for ev in simulate_jets(10, seed=5, jet_pt=pt, pileup_tracks=0.0):
            cl = ev.clusters()
            k = ev.cluster_particles(cl)
            lx, ly = DET.from_pixel(cl.module, cl.row, cl.col)
            d = np.stack(DET.to_global(cl.module, lx, ly), 1) - ev.vertex
            eta = np.arcsinh(d[:, 2] / np.hypot(d[:, 0], d[:, 1]))
            dr = np.hypot(eta - ev.jet_eta, _wrap(np.arctan2(d[:, 1], d[:, 0]) - ev.jet_phi))
            core = (DET.module_layer(cl.module) <= 1) & (dr < 0.1)
            n += core.sum()
            m += (k[core] >= 2).sum()
        return m / n

    low, high = merged_fraction(300.0), merged_fraction(3000.0)
    assert high > 0.08
    assert high > 2 * low


def test_pixel_truth_is_consistent(jets):
    ev = jets[0]
    d, px = ev.deposits, ev.pixels
    # the recorded dominant particle is the largest depositor where it has a deposit
    dom = np.zeros(px.n_rows, np.int64)
    best = np.zeros(px.n_rows)
    for pix, pid, q in zip(d["pixel"], d["particle_id"], d["charge"]):
        if q > best[pix]:
            best[pix], dom[pix] = q, pid
    has = best > 0
    noise = px["particle_id"] == 0
    np.testing.assert_array_equal(has, ~noise)  # pixels without a deposit are noise pixels
    np.testing.assert_array_equal(dom[has], px["particle_id"][has])
    # noise occupancy 1e-5 on the ~100 modules the particles cross: ~70 pixels
    assert 20 < noise.sum() < 150


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"threshold": -1.0}, "threshold"),
    ({"jet_pt": (3000.0, 500.0)}, "jet_pt"),
    ({"adc_saturation": 300}, "adc_saturation"),
    ({"noise": 0.5}, "noise"),
    ({"pileup_tracks": float("nan")}, "pileup_tracks"),
    ({"diffusion_sigma": 7.0}, "diffusion_sigma"),
])
def test_simulation_config_validation(kwargs, field):
    with pytest.raises(ValueError, match=field):
        simulate_jets(1, **kwargs)


def test_simulation_bad_input():
    with pytest.raises(TypeError, match="no field"):
        simulate_jets(1, thresold=1600.0)
    with pytest.raises(ValueError, match="n_jets"):
        simulate_jets(-1)
    with pytest.raises(ValueError, match="detector"):
        simulate_jets(1, detector="cms")
    with pytest.raises(ValueError, match="pt"):
        simulate_particles([-1.0], [0.0], [0.0], [1.0])
    with pytest.raises(ValueError, match="charge"):
        simulate_particles([1.0], [0.0], [0.0], [2.0])
    assert JetSimConfig().jet_pt == (500.0, 3000.0)


# --------------------------------------------------------------------------- windows
def test_window_contract(windows):
    assert (WINDOW, N_LAYERS, N_OVERLAPS, N_PARAMS) == (30, 4, 3, 5)
    assert PARAM_NAMES == ("dx", "dy", "deta", "dphi", "pt")
    n = len(windows)
    assert n > 20
    assert windows.charge.shape == (n, 4, 30, 30) and windows.charge.dtype == np.float32
    assert windows.jet.shape == (n, 2) and windows.jet.dtype == np.float32
    assert windows.tcp.shape == (n, 3, 30, 30) and windows.tcp.dtype == np.float32
    assert windows.params.shape == (n, 3, 5, 30, 30) and windows.params.dtype == np.float32
    for name in ("event", "module", "center_row", "center_col", "axis_eta", "axis_phi"):
        assert getattr(windows, name).shape == (n,), name
    assert windows.layer_module.shape == windows.row0.shape == (n, 4)
    assert set(np.unique(windows.tcp)) <= {0.0, 1.0}
    assert windows.charge.max() <= 255 / ADC_SCALE + 1e-6
    # the seed cluster sits in the middle of its BPIX2 window
    c = windows.center_row - windows.row0[:, 1]
    assert np.all((c >= 14.5) & (c < 15.5))
    assert np.all(windows.charge[:, 1, 14:17, 14:17].sum(axis=(1, 2)) > 0)
    # ... and within ΔR 0.1 of the jet axis
    jet_eta = windows.jet[:, 1]
    assert np.all(np.abs(windows.axis_eta - jet_eta) <= 0.1 + 1e-6)
    # params are zero where there is no target and sensible where there is
    off = np.broadcast_to(windows.tcp[:, :, None] == 0, windows.params.shape)
    assert np.all(windows.params[off] == 0)
    on = windows.tcp == 1
    dx, dy = windows.params[:, :, 0][on], windows.params[:, :, 1][on]
    assert np.all(np.abs(dx) <= 0.5) and np.all(np.abs(dy) <= 0.5)
    assert np.all(windows.params[:, :, 4][on] >= 1.0)
    assert np.all(np.abs(windows.params[:, :, 2][on]) < 0.2)
    assert len(windows) == windows.charge.shape[0]


def test_window_charge_matches_a_pixel_loop(jets, windows):
    """Reference: per window and layer, every pixel of the window's module tested one by one."""
    for n in range(0, len(windows), 7):
        ev = next(e for e in jets if e.event_id == windows.event[n])
        px = ev.pixels
        ref = np.zeros((N_LAYERS, WINDOW, WINDOW), np.float32)
        for li in range(N_LAYERS):
            m, r0, c0 = (windows.layer_module[n, li], windows.row0[n, li],
                         windows.col0[n, li])
            for k in np.flatnonzero(px["module"] == m):
                i, j = px["row"][k] - r0, px["col"][k] - c0
                if 0 <= i < WINDOW and 0 <= j < WINDOW:
                    ref[li, i, j] = px["adc"][k] / ADC_SCALE
        np.testing.assert_array_equal(windows.charge[n], ref)


def test_tcp_target_is_at_the_true_crossing(jets, windows):
    t = windows.truth
    assert t.n_rows > 0 and np.all(t["pt"] >= 1.0)
    for r in range(t.n_rows):
        w, pid = t["window"][r], t["particle_id"][r]
        ev = next(e for e in jets if e.event_id == windows.event[w])
        cr = ev.crossings
        s = (cr["particle_id"] == pid) & (cr["module"] == windows.module[w])
        assert s.sum() == 1
        row, col = cr["row"][s][0], cr["col"][s][0]
        i = math.floor(row + 0.5) - windows.row0[w, 1]
        j = math.floor(col + 0.5) - windows.col0[w, 1]
        assert (i, j) == (math.floor(t["row"][r] + 0.5), math.floor(t["col"][r] + 0.5))
        k = t["slot"][r]
        if k < 0:
            continue
        assert windows.tcp[w, k, i, j] == 1
        dx, dy, deta, dphi, pt = windows.params[w, k, :, i, j]
        assert windows.row0[w, 1] + i + dx == pytest.approx(row, abs=1e-4)
        assert windows.col0[w, 1] + j + dy == pytest.approx(col, abs=1e-4)
        assert pt == pytest.approx(cr["pt"][s][0], rel=1e-6)
        assert windows.axis_eta[w] + deta == pytest.approx(cr["eta"][s][0], abs=1e-5)
        assert _wrap(windows.axis_phi[w] + dphi - cr["phi"][s][0]) == pytest.approx(0,
                                                                                    abs=1e-5)
    # every target pixel is a truth row
    assert int(windows.tcp.sum()) == int((t["slot"] >= 0).sum())


def _same_pixel_event(pts, charges):
    """Particles from the origin that all cross BPIX2 at the same point: lx = 0.05 mm on
    ladder 0 (row 80.0), z = 32.575 mm (column 208.0)."""
    pts, q = np.asarray(pts), np.asarray(charges, float)
    r = math.hypot(67.0, 0.05)
    phi0 = math.atan2(0.05, 67.0) - np.arcsin(-q * DET.b_field_z / pts * r / 2)
    return simulate_particles(pts, np.zeros(len(pts)), phi0, q, vertex=(0.0, 0.0, 32.575),
                              noise=0.0, multiple_scattering=False, seed=1)


def test_overlap_slots_for_particles_crossing_one_pixel():
    ev = _same_pixel_event([30.0, 45.0], [1.0, -1.0])
    c = ev.crossings
    np.testing.assert_allclose(c["row"][c["layer"] == 1], 80.0, atol=1e-6)
    w = jet_windows(ev)
    assert len(w) == 1  # one merged BPIX2 cluster
    assert w.cluster_charge[0] > 1.5 * MIP
    on = np.argwhere(w.tcp[0] == 1)
    assert tuple(on[0][1:]) == tuple(on[1][1:])  # the same pixel ...
    assert sorted(on[:, 0].tolist()) == [0, 1]  # ... in slots 1 and 2
    i, j = on[0][1:]
    assert w.params[0, 0, 4, i, j] == pytest.approx(45.0)  # slot order: falling pT
    assert w.params[0, 1, 4, i, j] == pytest.approx(30.0)
    assert w.tcp[0, 2].sum() == 0
    # three particles use slot 3 too, a fourth gets none
    w4 = jet_windows(_same_pixel_event([10.0, 20.0, 40.0, 30.0], [1, 1, -1, -1]))
    assert w4.tcp[0].sum(axis=(1, 2)).tolist() == [1.0, 1.0, 1.0]
    assert sorted(w4.truth["slot"].tolist()) == [-1, 0, 1, 2]
    assert w4.truth["pt"][w4.truth["slot"] == -1][0] == pytest.approx(10.0)


def test_windows_subset_concat_save_load(windows, tmp_path):
    idx = np.array([2, 0, 0, len(windows) - 1])
    s = windows.subset(idx)
    assert len(s) == 4
    np.testing.assert_array_equal(s.params, windows.params[idx])
    for k, orig in enumerate(idx):
        a = s.truth.take(s.truth["window"] == k)
        b = windows.truth.take(windows.truth["window"] == orig)
        np.testing.assert_array_equal(a["particle_id"], b["particle_id"])
    m = windows.subset(windows.event == windows.event[0])
    assert len(m) == int((windows.event == windows.event[0]).sum())
    both = Windows.concat([s, windows])
    assert len(both) == len(windows) + 4
    assert both.truth.n_rows == s.truth.n_rows + windows.truth.n_rows
    path = windows.save(tmp_path / "w.npz")
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind
    back = Windows.load(path)
    for name in ("charge", "jet", "tcp", "params", "event", "layer_module", "row0"):
        np.testing.assert_array_equal(getattr(back, name), getattr(windows, name))
    for c in windows.truth.columns:
        np.testing.assert_array_equal(back.truth[c], windows.truth[c])
    assert len(Windows.empty()) == 0


def test_windows_bad_input(windows, tmp_path):
    good = windows.subset([0, 1])
    fields = {k: getattr(good, k) for k in Windows._SHAPES}
    with pytest.raises(ValueError, match="charge must have shape"):
        Windows(**{**fields, "charge": np.zeros((2, 4, 28, 28), np.float32)})
    with pytest.raises(ValueError, match="params must have shape"):
        Windows(**{**fields, "params": np.zeros((2, 3, 4, 30, 30), np.float32)})
    bad = good.charge.copy()
    bad[1, 2, 3, 4] = np.nan
    with pytest.raises(ValueError, match="charge must be finite"):
        Windows(**{**fields, "charge": bad})
    with pytest.raises(ValueError, match="jet has 1 windows"):
        Windows(**{**fields, "jet": good.jet[:1]})
    with pytest.raises(ValueError, match="events"):
        jet_windows([])
    with pytest.raises(ValueError, match="events"):
        jet_windows([windows])
    with pytest.raises(ValueError, match="delta_r"):
        jet_windows(simulate_jets(1, seed=1, pileup_tracks=0), delta_r=-0.1)
    with pytest.raises(ValueError, match="parts"):
        Windows.concat([])
    np.savez(tmp_path / "y.npz", a=np.zeros(1))
    with pytest.raises(ValueError, match="not a DeepCore windows file"):
        Windows.load(tmp_path / "y.npz")


def test_nan_pixel_charge_is_reported(jets):
    ev = jets[0]
    px = ev.pixels
    q = px["charge"].copy()
    q[5] = np.nan
    broken = type(ev)(**{**ev.__dict__, "pixels": px.with_column("charge", q)})
    with pytest.raises(ValueError, match=r"pixels.charge\[5\]"):
        jet_windows([broken])


def test_import_is_light():
    code = ("import sys, helixkit.deepcore, helixkit.deepcore.windows; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'matplotlib'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_plot_window(windows, tmp_path):
    pytest.importorskip("matplotlib")
    k = int(np.argmax(np.bincount(windows.truth["window"], minlength=len(windows))))
    path = plot_window(windows, k, tmp_path / "window.png")
    assert path.stat().st_size > 10_000
    with pytest.raises(ValueError, match="index"):
        plot_window(windows, len(windows), tmp_path / "no.png")
