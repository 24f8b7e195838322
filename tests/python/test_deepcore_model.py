"""The DeepCore CNN (helixkit.deepcore.model) and its training loop (helixkit.deepcore.train),
on synthetic windows made here: Gaussian charge blobs on the four layers along a straight
line from the vertex, the track crossing point (TCP) at the BPIX2 blob's centre."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from helixkit import nn as hnn  # noqa: E402
from helixkit.deepcore.model import (  # noqa: E402
    N_LAYERS,
    N_OVERLAPS,
    N_PARAMS,
    VBERTA_LAYERS,
    WINDOW,
    DeepCoreConfig,
    DeepCoreModel,
    crossings,
    export_onnx,
)
from helixkit.deepcore.train import DeepCoreDataConfig, train_deepcore  # noqa: E402

# layer radii relative to BPIX2 (29, 68, 109, 160 mm): a track's offset from the window
# axis grows with the radius
SCALE = np.array([29.0, 68.0, 109.0, 160.0]) / 68.0


@dataclass
class Synthetic:
    charge: np.ndarray
    jet: np.ndarray
    tcp: np.ndarray
    params: np.ndarray
    centre: np.ndarray  # (N, n_tracks, 2): true (row, col) of the BPIX2 crossings

    def __len__(self) -> int:
        return len(self.charge)


def synthetic(n: int, seed: int = 0, n_tracks: int = 1, sigma: float = 0.8) -> Synthetic:
    rng = np.random.default_rng(seed)
    charge = np.zeros((n, N_LAYERS, WINDOW, WINDOW), np.float32)
    tcp = np.zeros((n, N_OVERLAPS, WINDOW, WINDOW), np.float32)
    params = np.zeros((n, N_OVERLAPS, N_PARAMS, WINDOW, WINDOW), np.float32)
    centre = np.zeros((n, n_tracks, 2))
    grid = np.arange(WINDOW, dtype=np.float64)
    for w in range(n):
        for t in range(n_tracks):
            # BPIX2 crossing; offsets of the other layers proportional to the radius
            off = rng.uniform(-7.0, 7.0, 2)
            pos2 = 14.5 + off + rng.uniform(-0.5, 0.5, 2)
            centre[w, t] = pos2
            pt = rng.uniform(5.0, 100.0)
            for layer in range(N_LAYERS):
                r0, c0 = 14.5 + (pos2 - 14.5) * SCALE[layer]
                blob = np.exp(-0.5 * (((grid[:, None] - r0) ** 2 + (grid[None, :] - c0) ** 2)
                                      / sigma**2))
                charge[w, layer] += np.where(blob > 0.05, blob, 0.0).astype(np.float32)
            i, j = (np.floor(pos2 + 0.5)).astype(int)
            k = int(tcp[w, :, i, j].sum())
            if k < N_OVERLAPS:
                tcp[w, k, i, j] = 1.0
                params[w, k, :, i, j] = (pos2[0] - i, pos2[1] - j, off[1] * 1e-3,
                                         off[0] * 1e-3, pt)
    jet = np.stack([rng.uniform(500.0, 2000.0, n), rng.uniform(-1.4, 1.4, n)], 1)
    return Synthetic(charge, jet.astype(np.float32), tcp, params, centre)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A default-size model trained on 600 synthetic windows (also the training loop's
    checkpoints and history)."""
    out = tmp_path_factory.mktemp("deepcore")
    # roi_floor 0.1 (DeepCore: 0.01): with 300 steps the pixels far from every crossing
    # (the corners) need the stronger pull towards 0; the default gets there with more data
    cfg = {"model": {"roi_floor": 0.1},
           "train": {"epochs": 16, "batch_size": 32, "lr": 3e-3, "seed": 1, "patience": 16}}
    model = train_deepcore(cfg, out, windows=(synthetic(600, 1), synthetic(64, 2)),
                           progress=False)
    return model, out


def _batch(s: Synthetic) -> tuple[torch.Tensor, ...]:
    return tuple(torch.from_numpy(a) for a in (s.charge, s.jet, s.tcp, s.params))


def test_shapes_and_predict_outputs():
    torch.manual_seed(0)
    s = synthetic(5)
    model = DeepCoreModel()
    logits, par = model(torch.from_numpy(s.charge), torch.from_numpy(s.jet))
    assert logits.shape == (5, N_OVERLAPS, WINDOW, WINDOW)
    assert par.shape == (5, N_OVERLAPS, N_PARAMS, WINDOW, WINDOW)
    prob, phys = model.predict(s.charge, s.jet, batch_size=2)
    assert prob.dtype == np.float32 and phys.dtype == np.float32
    assert prob.shape == logits.shape and phys.shape == par.shape
    assert np.all((prob >= 0) & (prob <= 1))
    np.testing.assert_allclose(prob, torch.sigmoid(logits).detach().numpy(), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(phys, model.physical(par).detach().numpy(), rtol=1e-5,
                               atol=1e-5)
    # the batch size does not change the result; torch tensors are accepted
    prob2, _ = model.predict(torch.from_numpy(s.charge), s.jet.astype(np.float64),
                             batch_size=128)
    np.testing.assert_allclose(prob, prob2, rtol=1e-5, atol=1e-6)
    # vberta's sizes build and run too
    big = DeepCoreModel(DeepCoreConfig(**VBERTA_LAYERS))
    assert big(torch.from_numpy(s.charge), torch.from_numpy(s.jet))[1].shape == par.shape
    assert sum(p.numel() for p in big.parameters()) > 10 * sum(
        p.numel() for p in model.parameters())


@torch.no_grad()
def test_loss_terms_and_roi():
    torch.manual_seed(0)
    s = synthetic(8, n_tracks=2)
    model = DeepCoreModel()
    terms = model.loss_terms(_batch(s))
    assert set(terms) == {"tcp", "params", "total"}
    assert float(terms["total"]) == pytest.approx(float(terms["tcp"] + terms["params"]))
    roi = model.roi_map(torch.from_numpy(s.tcp))
    assert roi.shape == (8, 1, WINDOW, WINDOW)
    # a 5 x 5 square around each crossing (roi_radius 2)
    n_max = 2 * 25
    assert torch.all(roi.sum((1, 2, 3)) <= n_max) and torch.all(roi.sum((1, 2, 3)) >= 9)
    # the parameter loss counts only pixels with a crossing: wrong values elsewhere are free
    noisy = s.params.copy()
    noisy[s.tcp[:, :, None].repeat(N_PARAMS, 2) == 0] = 1e3
    assert float(model.loss_terms(_batch(Synthetic(s.charge, s.jet, s.tcp, noisy,
                                                   s.centre)))["params"]) == \
        pytest.approx(float(terms["params"]), rel=1e-6)
    # clipped at 5 sigma: a huge error costs 25 per parameter at most
    far = s.params.copy()
    far[s.tcp[:, :, None].repeat(N_PARAMS, 2) == 1] = 1e6
    clipped = float(model.loss_terms(_batch(Synthetic(s.charge, s.jet, s.tcp, far,
                                                      s.centre)))["params"])
    assert clipped == pytest.approx(25.0, rel=1e-4)
    # the other ROI modes and pos_weight change the TCP term
    for kw in ({"roi": "none"}, {"roi": "hard"}, {"pos_weight": 1.0}):
        torch.manual_seed(0)
        other = DeepCoreModel(DeepCoreConfig(**kw))
        assert float(other.loss_terms(_batch(s))["tcp"]) != pytest.approx(float(terms["tcp"]))


def test_loss_decreases_over_a_few_steps():
    torch.manual_seed(0)
    s = synthetic(32)
    batch = _batch(s)
    model = DeepCoreModel()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    with torch.no_grad():
        first = float(model.loss(batch))
    for _ in range(25):
        opt.zero_grad()
        loss = model.loss(batch)
        loss.backward()
        opt.step()
    with torch.no_grad():
        assert float(model.loss(batch)) < 0.7 * first


def test_learns_the_crossing_point(trained):
    model, _ = trained
    s = synthetic(100, seed=9)
    prob, par = model.predict(s.charge, s.jet)
    best = prob[:, 0].reshape(len(s), -1).argmax(1)
    i, j = np.divmod(best, WINDOW)
    d = np.maximum(np.abs(i - s.centre[:, 0, 0]), np.abs(j - s.centre[:, 0, 1]))
    assert np.mean(d <= 1.0) > 0.9, np.mean(d <= 1.0)
    # the crossings of the threshold rules find most tracks, with few far-off ones
    cr = crossings(prob, par, s.charge, thresholds=(0.5, 1.0, 1.0), raised=(0.5, 1.0, 1.0))
    assert cr.n_rows > 0
    dr = np.hypot(cr["row"] - s.centre[cr["window"], 0, 0],
                  cr["col"] - s.centre[cr["window"], 0, 1])
    assert np.mean(dr < 1.5) > 0.8
    assert len(np.unique(cr["window"][dr < 1.5])) > 0.7 * len(s)


def test_training_writes_checkpoints_history_and_resumes(trained, tmp_path):
    model, out = trained
    for name in ("best.pt", "last.pt", "history.csv", "history.json", "loss.png",
                 "run_config.json"):
        assert (out / name).is_file(), name
    history = json.loads((out / "history.json").read_text())
    assert len(history) >= 2 and history[-1]["val_loss"] < history[0]["val_loss"]
    run = json.loads((out / "run_config.json").read_text())
    assert run["windows"] == "given" and run["n_train_windows"] == 600
    assert run["train"]["batch_size"] == 32
    # checkpoint round trip through the registry
    loaded = hnn.load(out / "best.pt", expect="deepcore")
    assert type(loaded) is DeepCoreModel
    s = synthetic(7, seed=3)
    a, b = model.predict(s.charge, s.jet), loaded.predict(s.charge, s.jet)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    path = hnn.save(model, tmp_path / "m.pt")
    np.testing.assert_array_equal(hnn.load(path).predict(s.charge, s.jet)[0], a[0])
    # resume: one more epoch on top of the finished run's last.pt
    res = tmp_path / "resume"
    res.mkdir()
    (res / "last.pt").write_bytes((out / "last.pt").read_bytes())
    done = len(history)
    cfg = {"train": {"epochs": done + 1, "batch_size": 32, "lr": 3e-3, "seed": 1,
                     "patience": 100}}
    train_deepcore(cfg, res, windows=(synthetic(40, 1), synthetic(16, 2)), resume=True,
                   progress=False)
    assert len(json.loads((res / "history.json").read_text())) == done + 1


def test_training_on_simulated_jets(tmp_path):
    cfg = {"data": {"n_train_jets": 3, "n_val_jets": 1, "seed": 4},
           "train": {"epochs": 1, "batch_size": 64}}
    model = train_deepcore(cfg, tmp_path, progress=False)
    run = json.loads((tmp_path / "run_config.json").read_text())
    assert run["windows"] == "simulated" and run["n_train_windows"] > 3
    assert run["data"]["n_train_jets"] == 3
    assert isinstance(model, DeepCoreModel)


def test_bad_training_input(tmp_path):
    good = synthetic(4)
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['n_jets'\]"):
        train_deepcore({"data": {"n_jets": 3}}, tmp_path, windows=(good, good))
    with pytest.raises(ValueError, match="unknown section"):
        train_deepcore({"modle": {}}, tmp_path, windows=(good, good))
    with pytest.raises(ValueError, match="n_train_jets"):
        DeepCoreDataConfig(n_train_jets=0).validate()
    with pytest.raises(ValueError, match="jet_pt"):
        DeepCoreDataConfig(jet_pt=[3000.0, 500.0]).validate()
    bad = Synthetic(good.charge[:, :3], good.jet, good.tcp, good.params, good.centre)
    with pytest.raises(ValueError, match=r"windows\[0\] \(train\)\.charge must be .*shape"):
        train_deepcore({}, tmp_path, windows=(bad, good))
    nan = Synthetic(good.charge, good.jet.copy(), good.tcp, good.params, good.centre)
    nan.jet[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"windows\[1\] \(val\)\.jet must be finite"):
        train_deepcore({}, tmp_path, windows=(good, nan))
    half = Synthetic(good.charge, good.jet, good.tcp * 0.5, good.params, good.centre)
    with pytest.raises(ValueError, match="tcp must hold only 0 and 1"):
        train_deepcore({}, tmp_path, windows=(half, good))
    with pytest.raises(ValueError, match=r"\(train, val\) pair"):
        train_deepcore({}, tmp_path, windows=(good,))


def _empty_layers(charge: np.ndarray, window: int, layers: list[int]) -> np.ndarray:
    out = charge.copy()
    out[window, layers] = 0.0
    return out


def test_threshold_rules():
    n = 4
    charge = np.full((n, N_LAYERS, WINDOW, WINDOW), 0.0, np.float32)
    charge[:, :, 10, 10] = 1.0                       # every layer has charge
    prob = np.zeros((n, N_OVERLAPS, WINDOW, WINDOW), np.float32)
    prob[:, 0, 5, 5] = 0.75       # fires at 0.7, not at the raised 0.8
    prob[:, 0, 6, 6] = 0.95       # fires either way
    prob[:, 1, 7, 7] = 0.875      # slot 2: fires at 0.85, not at the raised 0.9
    prob[:, 2, 8, 8] = 1.0        # slot 3: threshold 1.0 never fires, not even at 1.0
    params = np.zeros((n, N_OVERLAPS, N_PARAMS, WINDOW, WINDOW), np.float32)
    params[:, 0, :, 6, 6] = (0.25, -0.5, 0.01, -0.02, 42.0)
    charge = _empty_layers(charge, 1, [0])          # window 1: empty BPIX1 -> raised
    charge = _empty_layers(charge, 2, [1])          # window 2: empty BPIX2 -> nothing
    charge = _empty_layers(charge, 3, [2, 3])       # window 3: empty BPIX3 and 4 -> raised
    cr = crossings(prob, params, charge)
    assert set(cr.columns) == {"window", "slot", "row", "col", "deta", "dphi", "pt", "prob"}
    rows = list(zip(cr["window"].tolist(), cr["slot"].tolist(),
                    np.floor(cr["row"] + 1e-9).astype(int).tolist()))
    assert rows == [(0, 0, 5), (0, 0, 6), (0, 1, 7), (1, 0, 6), (3, 0, 6)]
    assert 2 not in cr["window"]
    assert 2 not in cr["slot"]
    hit = (cr["window"] == 0) & (cr["slot"] == 0) & (cr["prob"] > 0.9)
    assert cr["row"][hit][0] == pytest.approx(6.25) and cr["col"][hit][0] == pytest.approx(5.5)
    assert cr["deta"][hit][0] == pytest.approx(0.01) and cr["pt"][hit][0] == pytest.approx(42.0)
    assert cr["window"].dtype == np.int64 and cr["slot"].dtype == np.int8
    # thresholds of 1.0 never fire, even for a probability of exactly 1
    assert crossings(np.ones_like(prob), params, charge, thresholds=(1.0, 1.0, 1.0),
                     raised=(1.0, 1.0, 1.0)).n_rows == 0
    # custom thresholds
    low = crossings(prob, params, charge, thresholds=(0.5, 0.5, 0.5), raised=(0.5, 0.5, 0.5))
    assert set(low["window"].tolist()) == {0, 1, 3}
    with pytest.raises(ValueError, match="raised"):
        crossings(prob, params, charge, thresholds=(0.9, 0.9, 0.9), raised=(0.8, 0.9, 1.0))
    with pytest.raises(ValueError, match="thresholds"):
        crossings(prob, params, charge, thresholds=(0.7, 0.85))
    with pytest.raises(ValueError, match="thresholds"):
        crossings(prob, params, charge, thresholds=(0.7, 0.85, 1.5))
    with pytest.raises(ValueError, match="params must be"):
        crossings(prob, params[:, :2], charge)
    with pytest.raises(ValueError, match="same N"):
        crossings(prob, params, charge[:2])
    # the model's shortcut gives the same as predict + crossings
    torch.manual_seed(0)
    model = DeepCoreModel()
    s = synthetic(3)
    p, q = model.predict(s.charge, s.jet)
    a = model.find_crossings(s.charge, s.jet, thresholds=(0.3, 0.5, 1.0),
                             raised=(0.3, 0.5, 1.0))
    b = crossings(p, q, s.charge, thresholds=(0.3, 0.5, 1.0), raised=(0.3, 0.5, 1.0))
    for col in a.columns:
        np.testing.assert_array_equal(a[col], b[col])


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"trunk_channels": []}, "trunk_channels"),
    ({"trunk_channels": [16, 0], "trunk_kernels": [5, 3]}, "trunk_channels"),
    ({"trunk_kernels": [5, 4]}, "trunk_kernels"),
    ({"trunk_kernels": [5]}, "trunk_kernels"),
    ({"param_channels": [1.5]}, "param_channels"),
    ({"prob_channels": [-1]}, "prob_channels"),
    ({"prob_kernel": 2}, "prob_kernel"),
    ({"param_kernel": 0}, "param_kernel"),
    ({"jet_pt_scale": 0.0}, "jet_pt_scale"),
    ({"jet_eta_scale": float("nan")}, "jet_eta_scale"),
    ({"pos_weight": -1.0}, "pos_weight"),
    ({"roi": "ROIsoft"}, "roi"),
    ({"roi_radius": -1}, "roi_radius"),
    ({"roi_floor": 2.0}, "roi_floor"),
    ({"param_offset": [0.0] * 4}, "param_offset"),
    ({"param_scale": [0.3, 0.3, 0.02, 0.0, 50.0]}, "param_scale"),
    ({"param_clip": 0.0}, "param_clip"),
    ({"param_weight": -0.5}, "param_weight"),
])
def test_config_validation(kwargs, field):
    with pytest.raises(ValueError, match=rf"DeepCoreConfig: {field} \(="):
        DeepCoreModel(DeepCoreConfig(**kwargs))


def test_config_is_strict_through_the_registry():
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['channels'\]"):
        hnn.config_from_dict(DeepCoreConfig, {"channels": [8]})
    assert "deepcore" in hnn.available()


@pytest.mark.parametrize(("charge", "jet", "match"), [
    (np.zeros((2, 3, 30, 30), np.float32), np.zeros((2, 2), np.float32), r"charge must have shape"),
    (np.zeros((2, 4, 30, 29), np.float32), np.zeros((2, 2), np.float32), r"charge must have shape"),
    (np.zeros((2, 4, 30, 30), np.int32), np.zeros((2, 2), np.float32), r"charge must have a floating"),
    (np.zeros((2, 4, 30, 30), np.float32), np.zeros((2, 3), np.float32), r"jet must have shape"),
    (np.zeros((2, 4, 30, 30), np.float32), np.zeros((2, 2), bool), r"jet must have a floating"),
    (np.zeros((2, 4, 30, 30), np.float32), np.zeros((3, 2), np.float32), r"jet has 3 rows"),
    (np.full((2, 4, 30, 30), np.nan, np.float32), np.zeros((2, 2), np.float32),
     r"charge must be finite"),
    (np.zeros((2, 4, 30, 30), np.float32), np.array([[1.0, np.inf]] * 2, np.float32),
     r"jet must be finite"),
])
def test_bad_input(charge, jet, match):
    model = DeepCoreModel()
    with pytest.raises(ValueError, match=match):
        model.predict(charge, jet)
    with pytest.raises(ValueError, match="batch_size"):
        model.predict(np.zeros((1, 4, 30, 30), np.float32), np.zeros((1, 2), np.float32),
                      batch_size=0)


def test_empty_input():
    prob, par = DeepCoreModel().predict(np.zeros((0, 4, 30, 30), np.float32),
                                        np.zeros((0, 2), np.float32))
    assert prob.shape == (0, 3, 30, 30) and par.shape == (0, 3, 5, 30, 30)
    assert crossings(prob, par, np.zeros((0, 4, 30, 30), np.float32)).n_rows == 0


def test_onnx_export_round_trip(tmp_path):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    model = DeepCoreModel().eval()
    path = export_onnx(model, tmp_path / "deepcore.onnx")
    sess = ort.InferenceSession(str(path))
    s = synthetic(11, seed=5)
    prob, par = sess.run(None, {"charge": s.charge, "jet": s.jet})
    ref_prob, ref_par = model.predict(s.charge, s.jet)
    np.testing.assert_allclose(prob, ref_prob, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(par, ref_par, rtol=1e-4, atol=1e-4)


def test_constants_match_the_windows_module():
    from helixkit.deepcore import model, windows  # noqa: PLC0415

    for name in ("WINDOW", "N_LAYERS", "N_OVERLAPS", "N_PARAMS", "PARAM_NAMES"):
        assert getattr(model, name) == getattr(windows, name), name


def test_cli_train_and_evaluate(tmp_path, capsys):
    """``helixkit train deepcore`` on a few simulated jets, then ``helixkit evaluate
    deepcore`` with that checkpoint: the three methods' table, the resolutions, JSON and
    plots."""
    from helixkit.cli import main  # noqa: PLC0415  (the CLI only for this test)

    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"data": {"n_train_jets": 3, "n_val_jets": 1, "seed": 4},
                               "model": {"trunk_channels": [8], "trunk_kernels": [3]},
                               "train": {"epochs": 1, "batch_size": 64}}))
    run = tmp_path / "run"
    assert main(["train", "deepcore", "--config", str(cfg), "--out", str(run),
                 "--no-progress"]) == 0
    out = tmp_path / "eval"
    assert main(["evaluate", "deepcore", "--checkpoint", str(run / "best.pt"), "--events", "2",
                 "--jet-pt", "1000,1500", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    for name in ("standard", "JetCore-like", "DeepCore", "isolated", "merged"):
        assert name in text
    m = json.loads((out / "deepcore_eval.json").read_text())
    assert m["n_jets"] == 2 and m["jet_pt"] == [1000.0, 1500.0]
    assert set(m["methods"]) == {"standard", "jetcore", "deepcore"}
    for png in ("deepcore_efficiency.png", "deepcore_residuals.png", "deepcore_window.png"):
        assert (out / png).stat().st_size > 10_000, png
    with pytest.raises(SystemExit):
        main(["evaluate", "deepcore", "--jet-pt", "3000,1000"])
    assert "MIN <= MAX" in capsys.readouterr().err
    assert main(["evaluate", "trackformer", "--jet-pt", "1000,2000"]) == 2


def test_threshold_rules_match_the_plain_definition_at_float32_neighbours():
    """``crossings`` fires exactly where ``prob > threshold`` (float64 threshold) under the
    empty-layer rules, also for probabilities one float32 step either side of a threshold."""
    rng = np.random.default_rng(1)
    n = 200
    p = rng.random((n, 3, 30, 30)).astype(np.float32)
    for t in (0.7, 0.85, 0.8, 0.9, 0.3):
        f = np.float32(t)
        near = [np.nextafter(f, np.float32(0)), f, np.nextafter(f, np.float32(2))]
        p.flat[rng.integers(0, p.size, 2000)] = rng.choice(near, 2000)
    q = (rng.random((n, 4, 30, 30)) * (rng.random((n, 4, 30, 30)) < 0.02)).astype(np.float32)
    for layer, frac in ((1, 0.2), (0, 0.2), (3, 0.1)):
        q[rng.random(n) < frac, layer] = 0
    par = rng.normal(size=(n, 3, 5, 30, 30)).astype(np.float32)
    for thr, high in (((0.7, 0.85, 1.0), (0.8, 0.9, 1.0)), ((0.3, 0.1, 0.0), (0.3, 0.1, 0.5))):
        t = crossings(p, par, q, thresholds=thr, raised=high)
        empty = ~(q > 0).any(axis=(2, 3))
        per = np.where(empty[:, [0, 2, 3]].any(1)[:, None], high, thr)
        fire = (p > per[:, :, None, None]) & ~empty[:, 1, None, None, None]
        w, k, i, j = np.nonzero(fire)
        np.testing.assert_array_equal(t["window"], w)
        np.testing.assert_array_equal(t["slot"], k)
        np.testing.assert_array_equal(t["row"], i + par[w, k, 0, i, j].astype(np.float64))
        np.testing.assert_array_equal(t["prob"], p[w, k, i, j].astype(np.float64))
