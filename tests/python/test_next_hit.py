"""Next-hit prediction: the helix baseline, track sequences, the model, track following."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from helixkit.data import generate_events  # noqa: E402
from helixkit.tokens.follow import (  # noqa: E402
    follow,
    following_efficiency,
    helix_next_hits,
    helix_predictor,
    model_predictor,
    predict_next_hits,
)
from helixkit.tokens.helix import Helix, helix_to_layer, navigate  # noqa: E402
from helixkit.tokens.nexthit import NextHitConfig, NextHitModel, batch_tensors  # noqa: E402
from helixkit.tokens.sequences import track_sequences  # noqa: E402


def _helix_points(R: float, phi0: float, tan_l: float, s: np.ndarray, sign: float = 1.0
                  ) -> np.ndarray:
    """Points of a helix through the origin (circle radius R, starting direction phi0)."""
    k = sign / R
    x = (np.sin(k * s) * np.cos(phi0) - (1 - np.cos(k * s)) * np.sin(phi0)) / k
    y = (np.sin(k * s) * np.sin(phi0) + (1 - np.cos(k * s)) * np.cos(phi0)) / k
    return np.stack([x, y, tan_l * s], 1)


@pytest.fixture(scope="module")
def event():
    return next(iter(generate_events(1, mu=5, seed=3, multiple_scattering=False,
                                     smearing=False, noise_fraction=0.0)))


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_helix_extrapolation_is_exact_on_a_helix(event, sign):
    geo = event.geometry
    pts = _helix_points(2000.0, 0.3, 0.2, np.array([50.0, 100.0, 150.0, 0.0]), sign)
    h = Helix(pts[None, 0], pts[None, 1], pts[None, 2])
    assert h.kappa[0] == pytest.approx(sign / 2000.0, rel=1e-9)
    # cylinder crossing: compare with a dense scan of the true helix
    s = np.linspace(150, 1500, 200001)
    dense = _helix_points(2000.0, 0.3, 0.2, s, sign)
    r = np.hypot(dense[:, 0], dense[:, 1])
    barrels = [i for i, L in enumerate(geo.layers) if L.kind == "barrel" and L.position > r[0] + 5]
    li = barrels[0]
    j = np.argmin(np.abs(r - geo.layers[li].position))
    pos, ok = helix_to_layer(h, geo, np.array([li]))
    assert ok[0]
    assert np.linalg.norm(pos[0] - dense[j]) < 0.05
    lay, pos2, found = navigate(h, geo)
    assert found[0]
    assert np.hypot(*pos2[0, :2]) == pytest.approx(geo.layers[lay[0]].position, abs=1e-6) or \
        geo.layers[lay[0]].kind == "endcap"


def test_helix_baseline_finds_the_next_hit_without_material(event):
    s = track_sequences([event], None, min_pt=1.0)
    assert len(s) > 10
    h = helix_next_hits(s, event.geometry)
    t = 2
    sel = s.length > t + 1
    d = np.linalg.norm(h["xyz"][sel, t] - s.xyz[sel, t + 1], axis=1)
    # no scattering, no smearing: the helix is exact for almost every track
    assert np.median(d) < 1e-3
    assert np.mean(h["layer"][sel, t] == s.layer[sel, t + 1]) > 0.95


def test_sequences_and_bad_input(event):
    s = track_sequences([event], None, min_pt=0.5)
    assert (s.length >= 4).all()
    assert (s.pt >= 0.5).all()
    valid = np.arange(s.max_len)[None, :] < s.length[:, None]
    assert (s.layer[valid] >= 0).all() and (s.layer[~valid] == -1).all()
    r = np.linalg.norm(s.xyz, axis=2)
    assert (np.diff(np.where(valid, r, 1e9), axis=1)[valid[:, 1:]] >= 0).all()
    with pytest.raises(ValueError, match="min_hits"):
        track_sequences([event], None, min_hits=3)
    with pytest.raises(ValueError, match="events"):
        track_sequences([], None)


def test_model_trains_and_predicts(event):
    torch.manual_seed(0)
    s = track_sequences([event], None, min_pt=0.5)
    s.tokens[np.arange(s.max_len)[None, :] < s.length[:, None]] = 0
    model = NextHitModel(NextHitConfig(codebook_size=8, levels=1, d_model=32, n_heads=2,
                                       n_blocks=1, ff=32))
    batch = batch_tensors(s)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(30):
        loss = model.loss(batch)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert model.loss(batch).item() < first
    p = predict_next_hits(model, s, event.geometry)
    assert p["xyz"].shape == s.xyz.shape and np.isfinite(p["xyz"]).all()
    # causal: a track's predictions at step t do not depend on its later hits
    s2 = s.subset(np.arange(len(s)))
    s2.xyz[:, 5:] += 100.0
    p2 = predict_next_hits(model, s2, event.geometry)
    np.testing.assert_allclose(p["xyz"][:, :3], p2["xyz"][:, :3], atol=1e-3)


def test_following_with_the_helix_finds_tracks(event):
    s = track_sequences([event], None, min_pt=1.0, priors=False)
    res = follow(event, s.rows[:, :3], helix_predictor(event.geometry), window=5.0)
    eff = following_efficiency(event, s.particle_id, res)
    assert np.mean((eff["fraction"] >= 0.75) & eff["majority"]) > 0.9
    with pytest.raises(ValueError, match="seeds"):
        follow(event, s.rows[:, :2], helix_predictor(event.geometry))
    with pytest.raises(ValueError, match="window"):
        follow(event, s.rows[:, :3], helix_predictor(event.geometry), window=float("nan"))
    model = NextHitModel(NextHitConfig(codebook_size=8, levels=1, d_model=16, n_heads=2,
                                       n_blocks=1, ff=16))
    res2 = follow(event, s.rows[:5, :3], model_predictor(model, event.geometry))
    assert (res2.length >= 3).all()


def test_config_is_checked():
    with pytest.raises(ValueError, match="inputs"):
        NextHitModel(NextHitConfig(inputs="xyz"))
    with pytest.raises(ValueError, match="d_model"):
        NextHitModel(NextHitConfig(d_model=30, n_heads=4))
