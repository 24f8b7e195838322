"""Activation maps of a neuron (issue 30): binned means and the PNGs."""

from __future__ import annotations

import numpy as np
import pytest
from helixkit.interpret.activations import binned_mean, plot_activation_map, plot_activation_vs


def test_binned_mean_is_the_mean_per_bin():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0, 1, 5000), rng.uniform(0, 2, 5000)
    v = 3 * a + b
    g = binned_mean(a, b, v, bins=4, min_count=1)
    ia = np.clip(np.searchsorted(g.edges_a, a, side="right") - 1, 0, 3)
    ib = np.clip(np.searchsorted(g.edges_b, b, side="right") - 1, 0, 3)
    for i, j in [(0, 0), (1, 3), (3, 2)]:
        sel = (ia == i) & (ib == j)
        assert g.count[i, j] == sel.sum()
        assert g.mean[i, j] == pytest.approx(v[sel].mean())
    sparse = binned_mean(a[:10], b[:10], v[:10], bins=8, min_count=3)
    assert np.isnan(sparse.mean[sparse.count < 3]).all()


def test_bad_input():
    with pytest.raises(ValueError, match="b has 3 entries"):
        binned_mean(np.ones(4), np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="bins"):
        binned_mean(np.ones(4), np.ones(4), np.ones(4), bins=1)
    with pytest.raises(ValueError, match="activation contains NaN"):
        plot_activation_map([np.nan, 1.0], [1, 2], [1, 2], [1, 2], model="m", layer="l",
                            neuron=0, sample="s", out="x.png")


def test_plots_are_written(tmp_path):
    rng = np.random.default_rng(1)
    n = 3000
    r = rng.uniform(30, 1000, n)
    phi = rng.uniform(-np.pi, np.pi, n)
    z = rng.uniform(-2000, 2000, n)
    act = np.sqrt(r) * np.sin(np.arctan2(r, z))
    p = plot_activation_map(act, r * np.cos(phi), r * np.sin(phi), z, model="toy", layer="l1",
                            neuron=7, sample="uniform hits", out=tmp_path / "map.png")
    q = plot_activation_vs(act, {"r": r, "z": z, "phi": phi, "noise": rng.normal(size=n)},
                           model="toy", layer="l1", neuron=7, sample="uniform hits",
                           out=tmp_path / "vs.png")
    for path in (p, q):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size > 10_000
