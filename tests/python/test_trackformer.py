"""TrackFormer, the model registry and the shared trainer."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from helixkit import nn  # noqa: E402
from helixkit.data import simulate_event  # noqa: E402
from helixkit.trackformer.model import (  # noqa: E402
    TrackFormer,
    TrackFormerConfig,
    build_sequences,
    three_point_estimate,
)
from helixkit.nn import TrainConfig, Trainer, lr_factor  # noqa: E402

SMALL = {"model_dim": 16, "n_heads": 2, "n_layers": 1, "dropout": 0.0, "input_dropout": 0.0}


@pytest.fixture(scope="module")
def data():
    cfg = TrackFormerConfig(**SMALL)
    train = build_sequences([simulate_event(mu=40, seed=s) for s in range(3)], cfg)
    val = build_sequences([simulate_event(mu=40, seed=100)], cfg)
    cfg.target_mean = train.targets.mean(0).tolist()
    cfg.target_std = train.targets.std(0).tolist()
    return cfg, train, val


def _tensors(seq):
    return (torch.from_numpy(seq.hits), torch.from_numpy(seq.mask),
            torch.from_numpy(seq.targets.astype(np.float32)))


def test_sequences_are_ordered_and_selected(data):
    cfg, train, _ = data
    assert len(train) > 150
    assert (np.abs(train.eta) <= 1.0).all() and (train.pt >= 0.5).all() and (train.pt <= 10).all()
    # hits ordered outwards: radius grows along each sequence
    r = np.hypot(train.xyz[..., 0], train.xyz[..., 1])
    assert train.mask[:, :3].all()
    assert (np.diff(r[:, :3], axis=1) > 0).all()
    # r_dphi_z: the first hit has dphi = 0
    assert np.all(train.hits[:, 0, 1] == 0)


def _helix_points(q_over_pt, cot_theta, phi0, radii, b=2.0):
    """Exact hits of a primary helix from the origin at the given transverse radii [mm]."""
    k = 0.299792458 * b * q_over_pt / 1000.0  # signed curvature [1/mm]
    half = np.arcsin(0.5 * radii * abs(k))  # half the turning angle to radius r
    s = 2.0 * half / abs(k)  # transverse arc length
    phi = phi0 - np.sign(k) * half  # azimuth of the point (chord direction)
    return np.stack([radii * np.cos(phi), radii * np.sin(phi), cot_theta * s], -1)


def test_helix_features_recover_curvature_and_slope():
    from helixkit.trackformer.model import _features  # noqa: PLC0415

    radii = np.array([33.0, 72.0, 115.0, 172.0, 260.0, 360.0, 500.0, 660.0, 820.0, 1020.0])
    rows = [(1 / 1.3, 0.4, 0.3), (-1 / 0.6, -0.9, 2.9), (1 / 8.0, 0.05, -3.1)]
    xyz = np.stack([_helix_points(q, c, p, radii) for q, c, p in rows])
    mask = np.ones(xyz.shape[:2], bool)
    mask[1, 7:] = False
    f = _features(xyz, mask, "r_dphi_z_helix")
    assert f.shape == (3, len(radii), 6) and f.dtype == np.float32
    for (q, c, _), fi, mi in zip(rows, f, mask):
        kappa = -0.299792458 * 2.0 * q  # [1/m]; positive charges turn clockwise (phi falls)
        n = int(mi.sum())
        np.testing.assert_allclose(fi[1:n, 3], kappa, rtol=1e-4)  # beam line, first hit, hit i
        np.testing.assert_allclose(fi[1 : n - 1, 4], kappa, rtol=1e-3)  # first, hit i, last
        np.testing.assert_allclose(fi[1:n, 5], c, rtol=1e-4, atol=1e-6)
        assert fi[0, 3] == 0 and fi[0, 5] == 0 and fi[0, 4] == 0 and fi[n - 1, 4] == 0
        assert not fi[~mi].any()
    # the first three columns are the r_dphi_z features
    np.testing.assert_array_equal(f[..., :3], _features(xyz, mask, "r_dphi_z"))
    # a displaced track (the helix shifted off the beam line): κ(first, i, last) is unchanged
    shifted = xyz[:1] + np.array([3.0, -2.0, 0.0])
    g = _features(shifted, mask[:1], "r_dphi_z_helix")
    np.testing.assert_allclose(g[0, 1:9, 4], f[0, 1:9, 4], rtol=1e-4)
    assert abs(g[0, 1, 3] / f[0, 1, 3] - 1) > 0.05  # while the beam-line circle is off
    # the model takes six features per hit, and says so when given three
    model = TrackFormer(TrackFormerConfig(inputs="r_dphi_z_helix", **SMALL))
    assert model.predict_arrays(f, mask).shape == (3, 2)
    with pytest.raises(ValueError, match="6"):
        model.predict_arrays(f[..., :3], mask)


def test_helix_prior_adds_the_scaled_three_point_curvature():
    from helixkit.trackformer.model import _features, middle_hit_curvature  # noqa: PLC0415

    radii = np.array([33.0, 72.0, 115.0, 172.0, 260.0, 360.0])
    rows = [(1 / 1.3, 0.4, 0.3), (-1 / 0.6, -0.9, 2.9), (1 / 8.0, 0.05, -3.1)]
    xyz = np.stack([_helix_points(q, c, p, radii) for q, c, p in rows])
    mask = np.ones(xyz.shape[:2], bool)
    mask[1, 5:] = False  # 5 hits: middle = third
    f = _features(xyz, mask, "r_dphi_z_helix")
    np.testing.assert_allclose(middle_hit_curvature(f, mask), [f[0, 3, 4], f[1, 2, 4], f[2, 3, 4]])
    cfg = TrackFormerConfig(inputs="r_dphi_z_helix", prior="helix", prior_coef=-1.668,
                            target_mean=[0.01, 0.2], target_std=[0.05, 3.0], **SMALL)
    for loss in ("mse", "quantile"):
        model = TrackFormer(dataclasses.replace(cfg, loss=loss))
        torch.nn.init.zeros_(model.head[-1].weight)
        torch.nn.init.zeros_(model.head[-1].bias)  # network output 0 = the target mean
        pred = model.predict_arrays(f, mask)
        np.testing.assert_allclose(pred[:, 0], 0.01 - 1.668 * middle_hit_curvature(f, mask),
                                   rtol=1e-5)
        np.testing.assert_allclose(pred[:, 1], 0.2, rtol=1e-6)
        # with the field's coefficient the prior alone is the helix's q/pT
        np.testing.assert_allclose(pred[:, 0] - 0.01, [q for q, _, _ in rows], rtol=2e-3)
    # the network also sees each hit's curvatures relative to the prior's: zero on an
    # exact helix, non-zero next to a displaced hit
    dev = model._with_deviations(torch.from_numpy(f), torch.from_numpy(mask))[..., -2:].numpy()
    assert dev.shape == (3, len(radii), 2) and np.abs(dev).max() < 0.02
    bent = xyz.copy()
    a = 0.3 / 115.0  # move the third hit 0.3 mm sideways (in φ) at r = 115 mm
    x0, y0 = bent[0, 2, 0], bent[0, 2, 1]
    bent[0, 2, :2] = x0 * np.cos(a) - y0 * np.sin(a), x0 * np.sin(a) + y0 * np.cos(a)
    fb = _features(bent, mask, "r_dphi_z_helix")
    dev = model._with_deviations(torch.from_numpy(fb), torch.from_numpy(mask))[..., -2:].numpy()
    assert np.abs(dev[0, 2]).max() > 0.5 and np.abs(dev[1:]).max() < 0.02
    for bad in ({"inputs": "r_dphi_z"}, {"targets": "pt_pz"}, {"prior": "kalman"}):
        with pytest.raises(ValueError, match="prior"):
            TrackFormerConfig(**{**dataclasses.asdict(cfg), **bad}).validate()


def test_training_loss_ignores_padding(data):
    cfg, train, _ = data
    torch.manual_seed(0)
    model = TrackFormer(cfg).eval()
    hits, mask, target = _tensors(train)
    n = int(mask.sum(1).max())
    wide = torch.cat([hits, torch.zeros(len(hits), 5, hits.shape[2])], 1)
    wide_mask = torch.cat([mask, torch.zeros(len(mask), 5, dtype=torch.bool)], 1)
    with torch.no_grad():
        a = float(model.loss((hits[:, :n], mask[:, :n], target)))
        b = float(model.loss((wide, wide_mask, target)))
    assert a == pytest.approx(b, rel=1e-6)


def test_padding_does_not_change_predictions(data):
    cfg, train, _ = data
    torch.manual_seed(0)
    model = TrackFormer(cfg).eval()
    hits, mask = train.hits[:50], train.mask[:50]
    n = int(mask.sum(1).max())
    short = model.predict_arrays(hits[:, :n], mask[:, :n])
    longer = model.predict_arrays(hits, mask)
    np.testing.assert_allclose(short, longer, rtol=1e-5, atol=1e-6)


def test_short_training_beats_the_mean_on_q_over_pt(data, tmp_path):
    cfg, train, val = data
    torch.manual_seed(0)
    model = TrackFormer(cfg)
    tc = TrainConfig(epochs=15, batch_size=64, lr=5e-3, patience=20, progress=False, seed=0,
                     num_threads=1)
    hist = Trainer(model, lambda m, b: m.loss(b), tc, tmp_path).fit(_tensors(train), _tensors(val))
    pred = model.predict_arrays(val.hits, val.mask)
    truth = val.targets
    mse_model = np.mean((pred[:, 0] - truth[:, 0]) ** 2)
    mse_mean = np.mean((train.targets[:, 0].mean() - truth[:, 0]) ** 2)
    assert mse_model < mse_mean / 5, (mse_model, mse_mean)
    assert hist[-1]["train_loss"] < hist[0]["train_loss"]
    for f in ("best.pt", "last.pt", "history.csv", "history.json", "loss.png"):
        assert (tmp_path / f).exists(), f
    # checkpoint round trip restores identical predictions
    back = nn.load(tmp_path / "best.pt", expect="trackformer")
    np.testing.assert_allclose(back.predict_arrays(val.hits, val.mask), pred, rtol=1e-6)
    out = back.predict(simulate_event(mu=40, seed=100))
    np.testing.assert_array_equal(out["particle_id"], val.particle_id)


def test_trainer_resume_continues_the_run(data, tmp_path):
    cfg, train, val = data
    tc = TrainConfig(epochs=2, batch_size=256, progress=False, patience=10, num_threads=1)
    Trainer(TrackFormer(cfg), lambda m, b: m.loss(b), tc, tmp_path).fit(_tensors(train), _tensors(val))
    tc3 = TrainConfig(epochs=3, batch_size=256, progress=False, patience=10, num_threads=1)
    t = Trainer(TrackFormer(cfg), lambda m, b: m.loss(b), tc3, tmp_path)
    t.resume(tmp_path / "last.pt")
    hist = t.fit(_tensors(train), _tensors(val))
    assert [h["epoch"] for h in hist] == [0, 1, 2]


def test_quantile_loss_and_three_point_baseline(data):
    cfg, train, _ = data
    qcfg = TrackFormerConfig(**{**SMALL, "loss": "quantile"}, target_mean=cfg.target_mean,
                             target_std=cfg.target_std)
    model = TrackFormer(qcfg)
    out = model(torch.from_numpy(train.hits[:4]), torch.from_numpy(train.mask[:4]))
    assert out.shape == (4, 2, 3)
    assert torch.isfinite(model.loss(tuple(t[:4] for t in _tensors(train))))
    pt, _ = three_point_estimate(train.xyz, train.mask, 2 * 0.000299792458)
    rel = (pt - train.pt) / train.pt
    assert abs(np.median(rel)) < 0.02 and np.percentile(np.abs(rel), 68) < 0.1


def test_bad_inputs_and_checkpoints(data, tmp_path):
    cfg, train, _ = data
    model = TrackFormer(cfg)
    with pytest.raises(ValueError, match="max_hits"):
        model.predict_arrays(np.zeros((2, cfg.max_hits + 1, 3), np.float32),
                             np.ones((2, cfg.max_hits + 1), bool))
    bad = train.hits[:2].copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.predict_arrays(bad, train.mask[:2])
    with pytest.raises(ValueError, match="no particles"):
        build_sequences(simulate_event(mu=2, seed=1), cfg, pt=(50.0, 60.0))
    with pytest.raises(ValueError, match="more than the model's max_hits"):
        build_sequences(simulate_event(mu=10, seed=1), TrackFormerConfig(max_hits=3))
    with pytest.raises(ValueError, match="unknown key"):
        nn.config_from_dict(TrackFormerConfig, {"model_dimm": 3})
    with pytest.raises(ValueError, match="inputs"):
        TrackFormer(TrackFormerConfig(inputs="polar"))
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable helixkit checkpoint"):
        nn.load(tmp_path / "junk.pt")
    path = nn.save(model, tmp_path / "tf.pt")
    with pytest.raises(ValueError, match="expected 'learned_tracking'"):
        nn.load(path, expect="learned_tracking")
    with pytest.raises(ValueError, match="no pretrained model"):
        nn.pretrained("nope")


def test_lr_schedule_warmup_then_cosine():
    assert lr_factor(0, 100, 10, 0.0) == pytest.approx(0.1)
    assert lr_factor(9, 100, 10, 0.0) == pytest.approx(1.0)
    assert lr_factor(100, 100, 10, 0.05) == pytest.approx(0.05)
    with pytest.raises(ValueError, match="epochs"):
        TrainConfig(epochs=0).validate()


def test_onnx_export_round_trip(data, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    from helixkit.trackformer.model import export_onnx  # noqa: PLC0415

    cfg, train, _ = data
    model = TrackFormer(cfg).eval()
    path = export_onnx(model, tmp_path / "tf.onnx")
    sess = ort.InferenceSession(str(path))
    hits, mask = train.hits[:37], train.mask[:37]
    out = sess.run(None, {"hits": hits, "mask": mask})[0]
    np.testing.assert_allclose(out, model.predict_arrays(hits, mask), rtol=1e-4, atol=1e-5)
    # a model with the helix prior exports the prior with it
    hcfg = dataclasses.replace(cfg, inputs="r_dphi_z_helix", prior="helix", prior_coef=-1.7)
    seq = build_sequences(simulate_event(mu=40, seed=7), hcfg)
    torch.manual_seed(1)
    model = TrackFormer(hcfg).eval()
    sess = ort.InferenceSession(str(export_onnx(model, tmp_path / "tf_helix.onnx")))
    out = sess.run(None, {"hits": seq.hits, "mask": seq.mask})[0]
    np.testing.assert_allclose(out, model.predict_arrays(seq.hits, seq.mask), rtol=1e-4, atol=1e-5)


def test_shipped_pretrained_model_predicts_pt():
    model = nn.pretrained("trackformer")
    assert model.config.targets == "qopt_pz"
    ev = simulate_event(mu=20, seed=777)
    out = model.predict(ev)
    seq = build_sequences(ev, model.config, strict_length=False)
    np.testing.assert_array_equal(out["particle_id"], seq.particle_id)
    rel = (out["pt"] - seq.pt) / seq.pt
    assert np.median(np.abs(rel)) < 0.05
    assert np.mean(np.sign(out["q_over_pt"]) == seq.q) > 0.97


def test_perigee_targets_and_short_training(tmp_path):
    cfg = TrackFormerConfig(targets="perigee", **SMALL)
    events = [simulate_event(mu=40, seed=s) for s in range(3)]
    train = build_sequences(events, cfg)
    val = build_sequences([simulate_event(mu=40, seed=100)], cfg)
    t = train.targets
    assert t.shape == (len(train), 5)
    np.testing.assert_allclose(t[:, 0], train.q / train.pt)
    np.testing.assert_allclose(t[:, 1], np.sinh(train.eta), rtol=1e-9)  # cot(theta) = pz / pT
    # primaries with |v_xy| < 1 mm: |d0| < 1 mm, z0 within ~1.2 mm of the vertex z (|cot| < 1.2)
    assert np.abs(t[:, 2]).max() < 1.0
    vz = np.concatenate([np.asarray(ev.particles["vz"])[np.searchsorted(
        np.asarray(ev.particles["particle_id"]), train.particle_id[train.event_index == k])]
        for k, ev in enumerate(events)])
    assert np.abs(t[:, 3] - vz).max() < 1.5
    # phi0 is close to the first hit's phi (first hit at r >= 30 mm, pT >= 0.5 GeV)
    assert np.abs(t[:, 4]).max() < 0.1
    np.testing.assert_allclose(train.perigee[:, 3], np.arctan2(1.0, t[:, 1]), atol=1e-9)
    cfg.target_mean = t.mean(0).tolist()
    cfg.target_std = t.std(0).tolist()
    torch.manual_seed(0)
    model = TrackFormer(cfg)
    tc = TrainConfig(epochs=12, batch_size=64, lr=5e-3, patience=20, progress=False, seed=0,
                     num_threads=1)
    Trainer(model, lambda m, b: m.loss(b), tc, tmp_path).fit(_tensors(train), _tensors(val))
    pred = model.predict_arrays(val.hits, val.mask)
    for col in (0, 1):  # q/pT and cot(theta) are learnt well from a few events
        mse_model = np.mean((pred[:, col] - val.targets[:, col]) ** 2)
        mse_mean = np.mean((t[:, col].mean() - val.targets[:, col]) ** 2)
        assert mse_model < mse_mean / 5, (col, mse_model, mse_mean)
    out = model.predict(simulate_event(mu=40, seed=100))
    for key in ("q_over_pt", "cot_theta", "d0", "z0", "dphi0", "phi0", "theta", "q_over_p", "pt"):
        assert out[key].shape == (len(val),), key
    # pT comes from q/pT for perigee models (it was |q/pT| before 2026-12-04)
    np.testing.assert_allclose(out["pt"], 1.0 / np.abs(out["q_over_pt"]))
    phi_true = val.perigee[:, 2]
    dphi = np.angle(np.exp(1j * (out["phi0"] - phi_true)))
    assert np.median(np.abs(dphi)) < 0.02


def test_evaluate_against_kalman_on_the_same_particles(tmp_path):
    from helixkit.trackformer import evaluate_trackformer

    res = evaluate_trackformer(nn.pretrained("trackformer"), n_events=1, mu=10, seed=3,
                               out_dir=tmp_path)
    assert res["n_particles"] > 20
    kf = res["resolution"]["kalman"]["pt_rel"]
    assert 0.002 < np.nanmin(kf) and np.nanmax(kf) < 0.05  # the Kalman fit: ~1 % in pT
    assert "trackformer" in res["table"] and (tmp_path / "trackformer_eval.json").exists()
    # an (untrained) perigee model gets the perigee table too, Kalman widths in physical ranges
    cfg = TrackFormerConfig(targets="perigee", **SMALL)
    per = evaluate_trackformer(TrackFormer(cfg), n_events=1, mu=10, seed=3, out_dir=tmp_path / "p")
    assert (tmp_path / "p" / "trackformer_resolution.png").exists()
    kfp = per["resolution"]["perigee"]["kalman"]
    assert 0 < kfp["d0_all"] < 0.2 and 0 < kfp["z0_all"] < 0.5  # mm
    assert 0 < kfp["phi0_all"] < 0.01 and 0 < kfp["theta_all"] < 0.01  # rad
    # (no "worse than Kalman" check for d0: the primaries' true d0 spread is ~20 um, so even a
    # constant prediction of d0 = 0 is narrower than the fit's resolution)
    assert per["resolution"]["perigee"]["trackformer"]["phi0_all"] > kfp["phi0_all"]
    assert "d0 [um] all pT" in per["table"]


def test_config_files_validate_and_match_the_shipped_model():
    import json  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    from helixkit.nn import config_from_dict  # noqa: PLC0415
    from helixkit.nn.config import DataConfig  # noqa: PLC0415

    root = Path(__file__).resolve().parents[2] / "configs"
    for path in sorted(root.glob("trackformer*.json")):
        cfg = json.loads(path.read_text())
        config_from_dict(DataConfig, cfg["data"], where=f"{path.name}: data")
        config_from_dict(TrackFormerConfig, cfg["model"], where=f"{path.name}: model").validate()
        config_from_dict(TrainConfig, cfg["train"], where=f"{path.name}: train")
    # the shipped weights are what the documented config trains
    shipped = nn.pretrained("trackformer").config
    documented = json.loads((root / "trackformer_helix_prior.json").read_text())["model"]
    for key, value in documented.items():
        assert getattr(shipped, key) == value, key


def test_targets_to_pt_for_every_target_set():
    from helixkit.trackformer.model import TARGET_SETS, targets_to_pt  # noqa: PLC0415

    v = np.array([[-0.5, 1.0, 0.0, 0.0, 0.0], [2.0, 1.0, 0.0, 0.0, 0.0]])
    expect = {"pt_pz": [0.5, 2.0], "qpt_pz": [0.5, 2.0], "qopt_pz": [2.0, 0.5],
              "perigee": [2.0, 0.5]}
    assert set(expect) == set(TARGET_SETS)
    for targets, pt in expect.items():
        n = len(TARGET_SETS[targets])
        np.testing.assert_allclose(targets_to_pt(v[:, :n], targets), pt, err_msg=targets)
