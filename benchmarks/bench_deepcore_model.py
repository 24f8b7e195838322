"""DeepCore CNN inference throughput: windows per second on 2 threads.

``DeepCoreModel.predict`` (default sizes; channels-last convolutions, outputs written in
place) against peers on the same windows in the same run: the same weights run as a plain
NCHW forward pass (torch's default layout), the same network through onnxruntime
(``export_onnx``; skipped without onnx / onnxruntime), and vberta/DeepCore's layer sizes
(``VBERTA_LAYERS``) through ``predict``. The weights are untrained: the time does not
depend on their values.

pytest form (CI smoke-runs it with --benchmark-disable; windows of 60 simulated jets)::

    pytest benchmarks/bench_deepcore_model.py

Report form (docs/deepcore.md; windows of 600 simulated jets, 2 threads)::

    PYTHONPATH=python python benchmarks/bench_deepcore_model.py
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile

import numpy as np
import pytest
from _timing import best_time

torch = pytest.importorskip("torch")

from helixkit.deepcore import jet_windows, simulate_jets  # noqa: E402
from helixkit.deepcore.model import (  # noqa: E402
    N_OVERLAPS,
    N_PARAMS,
    VBERTA_LAYERS,
    WINDOW,
    DeepCoreConfig,
    DeepCoreModel,
    crossings,
    export_onnx,
)

THREADS = 2


def _windows(n_jets: int) -> tuple[np.ndarray, np.ndarray]:
    w = jet_windows(simulate_jets(n_jets, seed=41))
    return w.charge, w.jet


def _model(**kwargs: object) -> DeepCoreModel:
    torch.manual_seed(0)
    return DeepCoreModel(DeepCoreConfig(**kwargs)).eval()


@torch.no_grad()
def nchw(model: DeepCoreModel, charge: np.ndarray, jet: np.ndarray,
         batch_size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """The same network in torch's default NCHW layout (no channels-last), outputs
    converted afterwards: the plain eager way to run it."""
    probs, params = [], []
    for i in range(0, len(charge), batch_size):
        c = torch.from_numpy(charge[i : i + batch_size])
        j = torch.from_numpy(jet[i : i + batch_size])
        n = len(c)
        planes = (j / model.jet_scale).view(n, 2, 1, 1).expand(n, 2, WINDOW, WINDOW)
        h = model.trunk(torch.cat([c, planes], 1))
        probs.append(torch.sigmoid(model.prob_head(h)).numpy())
        p = model.param_head(h).view(n, N_OVERLAPS, N_PARAMS, WINDOW, WINDOW)
        params.append(model.physical(p).numpy())
    return np.concatenate(probs), np.concatenate(params)


def _onnx_session(model: DeepCoreModel, folder: str):  # -> onnxruntime.InferenceSession
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    path = export_onnx(model, os.path.join(folder, "deepcore.onnx"))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = THREADS
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def ort_predict(sess, charge: np.ndarray, jet: np.ndarray, batch_size: int = 128
                ) -> tuple[np.ndarray, np.ndarray]:
    out = [sess.run(None, {"charge": charge[i : i + batch_size], "jet": jet[i : i + batch_size]})
           for i in range(0, len(charge), batch_size)]
    return np.concatenate([o[0] for o in out]), np.concatenate([o[1] for o in out])


@pytest.fixture(scope="module")
def setup():
    torch.set_num_threads(THREADS)
    return _model(), _windows(60)


@pytest.mark.benchmark(group="deepcore-inference")
def test_predict_channels_last(benchmark, setup):
    model, (charge, jet) = setup
    prob, par = benchmark(model.predict, charge, jet)
    benchmark.extra_info.update(windows=len(charge), threads=THREADS)
    assert prob.shape == (len(charge), N_OVERLAPS, WINDOW, WINDOW)


@pytest.mark.benchmark(group="deepcore-inference")
def test_eager_nchw(benchmark, setup):
    model, (charge, jet) = setup
    prob, _ = benchmark(nchw, model, charge, jet)
    np.testing.assert_allclose(prob, model.predict(charge, jet)[0], rtol=1e-4, atol=1e-5)


@pytest.mark.benchmark(group="deepcore-inference")
def test_onnxruntime(benchmark, setup, tmp_path):
    model, (charge, jet) = setup
    sess = _onnx_session(model, str(tmp_path))
    prob, _ = benchmark(ort_predict, sess, charge, jet)
    np.testing.assert_allclose(prob, model.predict(charge, jet)[0], rtol=1e-4, atol=1e-5)


@pytest.mark.benchmark(group="deepcore-inference")
def test_find_crossings_shipped(benchmark, setup):
    """The inference product: windows -> crossings, with the shipped weights (how many
    pixels fire depends on them)."""
    from helixkit.nn import pretrained

    _, (charge, jet) = setup
    model = pretrained("deepcore")
    t = benchmark(model.find_crossings, charge, jet)
    p, q = model.predict(charge, jet)
    ref = crossings(p, q, charge)
    for col in t.columns:
        np.testing.assert_array_equal(t[col], ref[col])


@torch.inference_mode()
def network_only(model: DeepCoreModel, charge: np.ndarray, jet: np.ndarray,
                 batch_size: int = 128) -> None:
    """The convolutions alone (the floor under predict / find_crossings)."""
    c, j = torch.from_numpy(charge), torch.from_numpy(jet)
    for i in range(0, len(c), batch_size):
        model._maps(c[i : i + batch_size], j[i : i + batch_size])  # noqa: SLF001


@pytest.mark.benchmark(group="deepcore-inference")
def test_predict_vberta_sizes(benchmark, setup):
    _, (charge, jet) = setup
    big = _model(**VBERTA_LAYERS)
    benchmark(big.predict, charge[:256], jet[:256])


def _macs(model: DeepCoreModel) -> float:
    return sum(m.in_channels * m.out_channels * m.kernel_size[0] * m.kernel_size[1]
               for m in model.modules() if isinstance(m, torch.nn.Conv2d)) * WINDOW * WINDOW


def report() -> str:
    torch.set_num_threads(THREADS)
    charge, jet = _windows(600)
    n = len(charge)
    model, big = _model(), _model(**VBERTA_LAYERS)
    rows = []
    for bs in (64, 128, 256):
        t = best_time(lambda bs=bs: model.predict(charge, jet, batch_size=bs), 3)
        rows.append((f"predict, default sizes, batch {bs}", n / t))
    from helixkit.nn import pretrained

    shipped = pretrained("deepcore")
    rows.append(("find_crossings, shipped weights (windows -> crossings), batch 128",
                 n / best_time(lambda: shipped.find_crossings(charge, jet), 5)))
    rows.append(("the network alone (convolutions, shipped weights), batch 128",
                 n / best_time(lambda: network_only(shipped, charge, jet), 5)))
    rows.append(("plain NCHW eager forward, default sizes, batch 128",
                 n / best_time(lambda: nchw(model, charge, jet), 3)))
    try:
        with tempfile.TemporaryDirectory() as folder:
            sess = _onnx_session(model, folder)
            rows.append(("onnxruntime (export_onnx), default sizes, batch 128",
                         n / best_time(lambda: ort_predict(sess, charge, jet), 3)))
    except pytest.skip.Exception:
        rows.append(("onnxruntime: not installed", float("nan")))
    m = min(n, 2048)
    rows.append(("predict, vberta/DeepCore sizes (VBERTA_LAYERS), batch 128",
                 m / best_time(lambda: big.predict(charge[:m], jet[:m]), 2)))
    params = sum(p.numel() for p in model.parameters())
    params_big = sum(p.numel() for p in big.parameters())
    lines = [
        (f"{n:,} windows of 600 simulated jets (seed 41), torch {torch.__version__}, "
         f"{THREADS} threads on {platform.processor() or 'CPU'} ({os.cpu_count()} cores); "
         f"default sizes {params:,} weights, {_macs(model) / 1e6:.1f} M multiply-adds per "
         f"window; vberta sizes {params_big:,} weights, {_macs(big) / 1e6:.1f} M."),
        "",
        "| variant | windows/s |",
        "|---|---|",
        *(f"| {name} | {rate:,.0f} |" for name, rate in rows),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(report())
    sys.exit(0)
