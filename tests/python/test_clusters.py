"""Simulated pixel clusters (TrackML cells) and the cluster-shape hit features."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from helixkit.data import Layer, Table, read_trackml, simulate_event, write_trackml
from helixkit.data.geometry import Geometry
from helixkit.nn.features import hit_features, n_features

PIXELS = (7, 8, 9)


def _truth_direction(ev, rows):
    """(d_w, d_u, d_v) of the true direction in each hit's sensor frame (u along phi)."""
    t, h = ev.truth, ev.hits
    p = np.stack([np.asarray(t[c], np.float64)[rows] for c in ("tpx", "tpy", "tpz")], 1)
    p /= np.maximum(np.linalg.norm(p, axis=1, keepdims=True), 1e-12)   # noise: zero
    x, y = (np.asarray(h[c], np.float64)[rows] for c in "xy")
    r = np.hypot(x, y)
    d_r = (p[:, 0] * x + p[:, 1] * y) / r
    d_phi = (-p[:, 0] * y + p[:, 1] * x) / r
    barrel = h["volume_id"][rows] == 8
    return np.where(barrel, d_r, p[:, 2]), d_phi, np.where(barrel, p[:, 2], d_r)


def test_simulated_cells_are_complete_deterministic_and_leave_hits_unchanged():
    ev = simulate_event(mu=20, seed=7)
    again = simulate_event(mu=20, seed=7)
    plain = simulate_event(mu=20, seed=7, cells=False)
    assert plain.cells is None and ev.cells is not None
    for name in ev.hits.columns:
        assert np.array_equal(ev.hits[name], plain.hits[name])
    for name in ev.cells.columns:
        assert np.array_equal(ev.cells[name], again.cells[name])
    # every hit has a cluster; no (hit, ch0, ch1) cell twice; values positive and finite
    counts = np.bincount(ev.cells["hit_id"], minlength=ev.n_hits + 1)[1:]
    assert (counts >= 1).all()
    key = np.stack([ev.cells["hit_id"], ev.cells["ch0"], ev.cells["ch1"]], 1)
    assert len(np.unique(key, axis=0)) == ev.cells.n_rows
    assert np.isfinite(ev.cells["value"]).all() and (ev.cells["value"] > 0).all()
    # a hit's charge is its path length in units of the sensor thickness (x log-normal)
    rows = np.flatnonzero(np.isin(ev.hits["volume_id"], PIXELS) & (ev.hit_particle_id > 0))
    d_w, _, _ = _truth_direction(ev, rows)
    charge = np.bincount(ev.cells["hit_id"], weights=ev.cells["value"],
                         minlength=ev.n_hits + 1)[1:][rows]
    ratio = charge * np.maximum(np.abs(d_w), 0.05)
    assert abs(np.median(np.log(ratio))) < 0.03 and 0.2 < np.std(np.log(ratio)) < 0.3


def test_cluster_extent_follows_the_incidence_angle():
    """Extent − 1 in cells is, on average, the projected path |t·d_u/d_w| / pitch."""
    ev = simulate_event(mu=30, seed=11)
    rows = np.flatnonzero(np.isin(ev.hits["volume_id"], PIXELS) & (ev.hit_particle_id > 0))
    d_w, d_u, d_v = _truth_direction(ev, rows)
    f, _ = hit_features(ev, volumes=None, extra=("cells",))
    ext_u, ext_v = f[rows, 9], f[rows, 10]
    ok = np.abs(d_w) > 0.2                                  # below: the length cap applies
    exp_u = 0.15 * np.abs(d_u / d_w) / 0.05
    exp_v = 0.15 * np.abs(d_v / d_w) / 0.05625
    # a segment L cells long crosses floor(L) + 1 or ceil(L) + 1 cells; an end cell it only
    # clips (less than a quarter of a cell) can be missed, as a readout threshold would
    for ext, exp in ((ext_u, exp_u), (ext_v, exp_v)):
        dev = (ext - 1 - exp)[ok]
        assert (dev > -1.5).all() and (dev < 1 + 1e-5).all()
        assert abs(dev.mean()) < 0.25          # the clipped end cells: ~0.15 cell short


def test_cluster_features_by_hand_and_against_truth():
    ev = simulate_event(mu=5, seed=3)
    base, rows = hit_features(ev, volumes=PIXELS)
    assert n_features(("cluster",)) == 12 and n_features() == 7
    h0, h1 = int(ev.hits["hit_id"][rows[0]]), int(ev.hits["hit_id"][rows[1]])
    others = ev.cells.take(~np.isin(ev.cells["hit_id"], [h0, h1]))
    cells = Table({"hit_id": np.concatenate([[h0, h0, h0, h1, h1], others["hit_id"]]),
                   "ch0": np.concatenate([[5, 6, 7, 1, 2], others["ch0"]]),
                   "ch1": np.concatenate([[11, 10, 9, 4, 4], others["ch1"]]),
                   "value": np.concatenate([[0.5, 0.25, 0.25, 1.0, 1.0], others["value"]])})
    f, _ = hit_features(dataclasses.replace(ev, cells=cells), volumes=PIXELS, extra=("cluster",))
    assert np.array_equal(f[:, :7], base)
    assert ev.hits["volume_id"][rows[0]] == 7 and ev.hits["z"][rows[0]] < 0   # a negative endcap
    # hit 0: 3 x 3 cells along the anti-diagonal -> |d_u/d_w| = 2 pitch_u / t, |d_v/d_w| =
    # 2 pitch_v / t, sign(d_u d_v) = -1; endcap: w = z (outward: -z), v = r (outward: +r)
    a, b = 2 * 0.05 / 0.15, 2 * 0.05625 / 0.15
    n = math.sqrt(1 + a * a + b * b)
    assert f[0, 7:] == pytest.approx([math.log(3), 0.0, b / n, max(-10 * a / n, -3), -1 / n],
                                     abs=1e-6)
    # hit 1: two cells side by side in u: |d_u/d_w| = pitch_u / t, no d_v, sign unresolved
    n = math.sqrt(1 + (0.05 / 0.15) ** 2)
    assert f[1, 7:] == pytest.approx([math.log(2), math.log(2), 0, 0, -1 / n], abs=1e-6)
    # on simulated clusters the estimated direction follows the truth
    ev = simulate_event(mu=30, seed=12)
    f, rows = hit_features(ev, volumes=PIXELS, extra=("cluster",))
    real = ev.hit_particle_id[rows] > 0
    t = np.stack([np.asarray(ev.truth[c], np.float64)[rows] for c in ("tpx", "tpy", "tpz")], 1)
    t = t[real] / np.linalg.norm(t[real], axis=1, keepdims=True)
    x, y = (np.asarray(ev.hits[c], np.float64)[rows][real] for c in "xy")
    u_r = (t[:, 0] * x + t[:, 1] * y) / np.hypot(x, y)
    u_phi = (-t[:, 0] * y + t[:, 1] * x) / np.hypot(x, y)
    fr = f[real]
    assert np.corrcoef(fr[:, 11], t[:, 2])[0, 1] > 0.95 and np.median(np.abs(fr[:, 11] - t[:, 2])) < 0.03
    assert np.corrcoef(fr[:, 9], u_r)[0, 1] > 0.9
    signed = fr[:, 10] != 0
    assert signed.sum() > 100 and (np.sign(fr[signed, 10]) == np.sign(u_phi[signed])).mean() > 0.9


def test_cluster_features_bad_input():
    ev = simulate_event(mu=3, seed=1)
    with pytest.raises(ValueError, match="cells table"):
        hit_features(dataclasses.replace(ev, cells=None), extra=("cluster",))
    with pytest.raises(ValueError, match="geometry"):
        hit_features(dataclasses.replace(ev, geometry=None), extra=("cluster",))
    first = int(ev.hits["hit_id"][0])
    with pytest.raises(ValueError, match="1 hits have no cells"):
        hit_features(dataclasses.replace(ev, cells=ev.cells.take(ev.cells["hit_id"] != first)),
                     extra=("cluster",))
    with pytest.raises(ValueError, match="pitch"):
        Layer(8, 2, "barrel", 30.0, (-100.0, 100.0), (0.01, 0.01), pitch=(0.05, 0.0)).validate()
    with pytest.raises(ValueError, match="sensor_thickness"):
        Layer(8, 2, "barrel", 30.0, (-100.0, 100.0), (0.01, 0.01),
              sensor_thickness=float("nan")).validate()


def test_custom_sensor_geometry_changes_the_clusters():
    """Thicker sensors, same pitch: longer clusters (the simulation reads the layer's sensor)."""
    ev = simulate_event(mu=10, seed=4)
    geo = ev.geometry
    thick = Geometry([dataclasses.replace(x, sensor_thickness=2 * x.sensor_thickness)
                      for x in geo.layers], b_field_z=geo.b_field_z, pixel_volumes=geo.pixel_volumes)
    ev2 = simulate_event(mu=10, seed=4, geometry=thick)
    assert ev2.cells.n_rows > 1.3 * ev.cells.n_rows


def test_cells_round_trip_through_trackml_csv(tmp_path):
    ev = simulate_event(mu=5, seed=2)
    write_trackml(ev, tmp_path)
    back = read_trackml(tmp_path)
    for name in ("hit_id", "ch0", "ch1"):
        assert np.array_equal(back.cells[name], ev.cells[name])
    assert np.allclose(back.cells["value"], ev.cells["value"], rtol=1e-6)


def test_learned_configs_take_their_width_from_the_feature_groups():
    from helixkit.learned.gc import GCConfig, GraphConstructionNet
    from helixkit.learned.noise import NoiseConfig
    from helixkit.learned.config import parse_config as _parse

    cfg = _parse({"gc": {"extra_features": ["cluster"]}}, progress=False)
    assert cfg["gc"].in_dim == cfg["oc"].hit_dim == 12 and cfg["noise"].in_dim == 17
    assert cfg["noise"].extra_features == ["cluster"]
    with pytest.raises(ValueError, match="unknown feature group"):
        _parse({"gc": {"extra_features": ["colour"]}}, progress=False)
    with pytest.raises(ValueError, match="list of strings"):
        _parse({"gc": {"extra_features": "cluster"}}, progress=False)
    with pytest.raises(ValueError, match="in_dim"):
        GCConfig(extra_features=["cluster"]).validate()
    with pytest.raises(ValueError, match="in_dim"):
        NoiseConfig(extra_features=["cluster"]).validate()
    gc = GraphConstructionNet(GCConfig(in_dim=12, extra_features=["cluster"], hidden_dim=8))
    with pytest.raises(ValueError, match=r"\(N, 12\) hit features"):
        gc.embed(np.zeros((5, 7), np.float32))
    json.dumps(dataclasses.asdict(gc.config))            # the config stays JSON-serialisable
