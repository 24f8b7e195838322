"""Next-hit prediction: the helix baseline, track sequences, the model, track following."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from helixkit.cli import main  # noqa: E402
from helixkit.data import (  # noqa: E402
    Event,
    generate_events,
    geometry_from_hits,
    read_trackml,
    write_trackml,
)
from helixkit.nn import load, pretrained  # noqa: E402
from helixkit.tokens import HitTokenizer  # noqa: E402
from helixkit.tokens.evaluate import compare_next_hit, evaluate_next_hit  # noqa: E402
from helixkit.tokens.follow import (  # noqa: E402
    check_tokenizer,
    follow,
    following_efficiency,
    helix_next_hits,
    helix_predictor,
    model_predictor,
    predict_next_hits,
)
from helixkit.tokens.helix import Helix, helix_to_layer, navigate, track_helix  # noqa: E402
from helixkit.tokens.nexthit import NextHitConfig, NextHitModel, batch_tensors  # noqa: E402
from helixkit.tokens.sequences import track_sequences  # noqa: E402
from helixkit.tokens.train import train_next_hit  # noqa: E402


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


def test_lever_arm_helix_is_exact_without_material_and_better_with_it(event):
    """The lever-arm helix (first, middle, last hit) is exact on an unscattered, unsmeared
    event like the last-three-hits helix, and the better one on a realistic event."""
    s = track_sequences([event], None, min_pt=1.0)
    t = 5
    sel = np.flatnonzero(s.length > t + 1)
    lay, pos, found = navigate(track_helix(s.xyz, sel, t), event.geometry)
    assert np.median(np.linalg.norm(pos[found] - s.xyz[sel[found], t + 1], axis=1)) < 1e-3
    real = next(iter(generate_events(1, mu=10, seed=4)))
    r = track_sequences([real], None, min_pt=1.0)
    step = np.arange(r.max_len)[None, :]
    target = (step >= 3) & (step < r.length[:, None] - 1)
    med = {}
    for lever in (False, True):
        p = helix_next_hits(r, real.geometry, lever_arm=lever)
        d = np.linalg.norm(p["xyz"] - np.roll(r.xyz, -1, 1), axis=2)[target]
        med[lever] = np.median(np.where(np.isfinite(d), d, np.inf))
    assert med[True] < 0.95 * med[False]
    with pytest.raises(ValueError, match="step"):
        track_helix(s.xyz, np.array([0]), np.array([1]))


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


def test_predictions_do_not_depend_on_the_batch(event):
    """Length-bucketed batches and heads on the in-track steps only: a track's predictions are
    the same alone as among all tracks, and zero past its end."""
    torch.manual_seed(1)
    s = track_sequences([event], None, min_pt=0.5)
    model = NextHitModel(NextHitConfig(codebook_size=8, levels=1, d_model=16, n_heads=2,
                                       n_blocks=1, ff=16)).eval()
    s.tokens[np.arange(s.max_len)[None, :] < s.length[:, None]] = 0
    full = predict_next_hits(model, s, event.geometry)
    pick = np.array([len(s) - 1, 0, len(s) // 2])
    part = predict_next_hits(model, s.subset(pick), event.geometry)
    for k in ("token", "layer", "prior_ok"):
        np.testing.assert_array_equal(part[k], full[k][pick])
    np.testing.assert_allclose(part["xyz"], full["xyz"][pick], atol=1e-3)
    past = np.arange(s.max_len)[None, :] >= s.length[:, None]
    assert (full["xyz"][past] == 0).all() and np.isfinite(full["xyz"]).all()


def test_cli_trains_and_evaluates_a_next_hit_model(tmp_path):
    cfg = tmp_path / "nh.json"
    cfg.write_text('{"data": {"n_train_events": 1, "n_val_events": 1, "mu": 5, "seed": 1},'
                   ' "model": {"d_model": 16, "n_heads": 2, "n_blocks": 1, "ff": 16},'
                   ' "train": {"epochs": 1, "num_threads": 1}}')
    for name in ("next_hit", "next_hit_tokens"):
        assert main(["train", name, "--config", str(cfg), "--out", str(tmp_path / name),
                     "--no-progress"]) == 0
    model = load(tmp_path / "next_hit" / "best.pt", expect="next_hit")
    token_model = load(tmp_path / "next_hit_tokens" / "best.pt", expect="next_hit_tokens")
    res = evaluate_next_hit(model, token_model=token_model, n_events=1, mu=5.0,
                            follow_mu=(5.0,), out_dir=tmp_path / "eval")
    names = [r["model"] for r in res["metrics"]["rows"]]
    assert names == ["next_hit", "token_only", "helix", "helix_lever_arm"]
    assert set(res["following"]["5"]) == {"next_hit", "helix", "helix_lever_arm"}
    assert (tmp_path / "eval" / "next_hit_eval.json").is_file()
    assert len(res["plots"]) == 2
    with pytest.raises(ValueError, match="fingerprint"):
        check_tokenizer(model, HitTokenizer())


def test_shipped_next_hit_model_beats_its_targets_on_fresh_events():
    """The shipped next-hit model on one fresh <mu> = 20 event: median error within 1.5 x the
    helix's, >= 99 % of next hits within 100 mm, layer accuracy >= 98 %."""
    tok = pretrained("hit_tokenizer")
    ev = list(generate_events(1, mu=20, seed=777))
    m = compare_next_hit(ev, pretrained("next_hit"), pretrained("next_hit_tokens"), tok)
    rows = {r["model"]: r for r in m["rows"]}
    assert rows["next_hit"]["median"] <= 1.5 * rows["helix"]["median"]
    assert rows["next_hit"]["within_100"] >= 0.99
    assert rows["next_hit"]["layer_accuracy"] >= 0.98
    assert rows["token_only"]["token_accuracy"] > 0.2


def test_trains_on_trackml_events_without_geometry(tmp_path):
    """TrackML CSV events (no geometry): the training infers one from the hits; the config's
    data.events is checked."""
    for ev in generate_events(2, mu=5, seed=9):
        write_trackml(ev, tmp_path / "csv")
    cfg = {"data": {"events": str(tmp_path / "csv"), "n_train_events": 1, "n_val_events": 1},
           "model": {"d_model": 16, "n_heads": 2, "n_blocks": 1, "ff": 16},
           "train": {"epochs": 1, "num_threads": 1}}
    model = train_next_hit(cfg, tmp_path / "run", progress=False)
    assert model.config.helix_prior and (tmp_path / "run" / "best.pt").is_file()
    read = [read_trackml(tmp_path / "csv", k) for k in (0, 1)]
    assert read[0].geometry is None
    res = evaluate_next_hit(model, token_model=model, events=read, follow_events=0)
    rows = {r["model"]: r for r in res["metrics"]["rows"]}
    assert rows["helix"]["within_100"] > 0.9 and res["events"]["n"] == 2
    with pytest.raises(ValueError, match="n_train_events"):
        train_next_hit({**cfg, "data": {**cfg["data"], "n_train_events": 5}}, tmp_path / "r2",
                       progress=False)
    with pytest.raises(ValueError, match="config.data.events"):
        train_next_hit({**cfg, "data": {"events": str(tmp_path / "nowhere")}}, tmp_path / "r3",
                       progress=False)


def test_geometry_from_hits_recovers_the_simulated_detector():
    """Every layer's shape, position and (from the truth positions) resolution come back."""
    ev = next(iter(generate_events(1, mu=20, seed=5)))
    g, true = geometry_from_hits(ev), ev.geometry
    assert len(g) == len(true)
    for L in true.layers:
        G = g.layers[g.index(L.volume_id, L.layer_id)]
        assert G.kind == L.kind and abs(G.position - L.position) < 2.0
        assert 0.5 * L.resolution[0] < G.resolution[0] < 1.5 * L.resolution[0]
        assert G.extent[0] >= L.extent[0] - 30 and G.extent[1] <= L.extent[1] + 30
    with pytest.raises(ValueError, match="resolution"):
        geometry_from_hits(Event(hits=ev.hits, event_id=0))
    with pytest.raises(ValueError, match="no events"):
        geometry_from_hits([])
