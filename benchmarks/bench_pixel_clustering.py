"""Pixel clustering: ``graph.cluster_pixels`` vs scipy.ndimage per module, same groups.

The peer is what a user writes with scipy: group the pixels by module, paint each
module's fired pixels into a dense 160 x 416 image, then ``ndimage.label`` (8-connectivity,
``structure=np.ones((3, 3))``) + ``ndimage.center_of_mass`` + ``ndimage.sum_labels``
per module (one image buffer reused, cleared pixel by pixel). A second, faster peer
calls only ``ndimage.label`` per module and gets the charges and centroids of the whole
event from ``np.bincount``. All give the same per-pixel labels, charges and centroids
(asserted): scipy numbers a module's clusters in raster order, which is our (module,
smallest (row, col) pixel) order.

Event (``dense_event``): a CMS-Phase-1-like barrel pixel detector, 4 layers of 96 / 224 /
352 / 512 modules of 160 (r-phi) x 416 (z) pixels (100 x 150 um, 285 um thick), 8 modules
along z per ladder. Per module a Poisson number of particle clusters (200 / 80 / 45 / 30
per layer); each cluster is 1-10 long in columns, the length growing with the module's
|z| / r as the track's path through the sensor does, and 1-3 pixels wide in rows (charge
sharing, Lorentz drift), at most 10 pixels, with a small tilt; charges are lognormal
around 21 ke shared over the pixels; overlapping clusters add their charge. A jet core
adds 150 clusters in a 40 x 80 pixel window on each of 4 modules (2 in layer 1, 2 in
layer 2), where they merge. 430,367 fired pixels and 66,294 clusters (mean size 6.5),
in shuffled (not module) order. Smoke
mode (the pytest form) uses layer 1 only; ``HELIXKIT_BENCH_FULL=1`` the whole event.

pytest form (CI smoke-runs it with --benchmark-disable)::

    pytest benchmarks/bench_pixel_clustering.py

Report form (docs/deepcore.md; full event, 1 and 2 threads)::

    PYTHONPATH=python python benchmarks/bench_pixel_clustering.py
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
from _timing import best_time
from helixkit import graph

FULL = os.environ.get("HELIXKIT_BENCH_FULL") == "1"
N_ROWS, N_COLS = 160, 416
LAYER_MODULES = (96, 224, 352, 512)  # CMS Phase-1 barrel: 1,184 modules
LAYER_R = (29.0, 68.0, 109.0, 160.0)  # mm
CLUSTERS_PER_MODULE = (200, 80, 45, 30)
MODULE_LENGTH, PITCH_ROW, PITCH_COL, THICKNESS = 66.5, 0.100, 0.150, 0.285  # mm
JET_MODULES = ((0, 43), (0, 44), (1, 99), (1, 100))  # (layer, module index in the layer)
JET_CLUSTERS, JET_WINDOW = 150, (40, 80)


def dense_event(layers: tuple[int, ...] = (0, 1, 2, 3), seed: int = 29) -> tuple[np.ndarray, ...]:
    """(module, row, col, charge) of the fired pixels, shuffled; see the module docstring."""
    rng = np.random.default_rng(seed)
    first = np.concatenate([[0], np.cumsum(LAYER_MODULES)])
    mods, r0, c0, length, width, tilt = [], [], [], [], [], []
    for layer in layers:
        ids = first[layer] + np.arange(LAYER_MODULES[layer])
        z = ((np.arange(LAYER_MODULES[layer]) % 8) - 3.5) * MODULE_LENGTH
        expected = 1 + THICKNESS * np.abs(z) / LAYER_R[layer] / PITCH_COL
        n = rng.poisson(CLUSTERS_PER_MODULE[layer], size=len(ids))
        jets = [k for (jl, k) in JET_MODULES if jl == layer]
        n_jet = np.zeros(len(ids), int)
        n_jet[jets] = JET_CLUSTERS
        total = n + n_jet
        m = np.repeat(ids, total)
        e = np.repeat(expected, total)
        in_jet = np.concatenate([np.r_[np.zeros(a, bool), np.ones(b, bool)]
                                 for a, b in zip(n, n_jet, strict=True)])
        row = rng.integers(0, N_ROWS, size=len(m))
        col = rng.integers(0, N_COLS, size=len(m))
        # the jet core: one window per jet module, clusters crowded into it
        jr = rng.integers(0, N_ROWS - JET_WINDOW[0], size=len(ids))
        jc = rng.integers(0, N_COLS - JET_WINDOW[1], size=len(ids))
        jet_of = np.repeat(np.arange(len(ids)), total)[in_jet]
        row[in_jet] = jr[jet_of] + rng.integers(0, JET_WINDOW[0], size=in_jet.sum())
        col[in_jet] = jc[jet_of] + rng.integers(0, JET_WINDOW[1], size=in_jet.sum())
        mods.append(m)
        r0.append(row)
        c0.append(col)
        length.append(np.clip(np.rint(e + rng.normal(0, 0.7, len(m))), 1, 10).astype(int))
        w = rng.choice([1, 2, 3], p=[0.3, 0.5, 0.2], size=len(m))
        width.append(np.minimum(w, 10 // length[-1]))  # at most 10 pixels
        tilt.append(rng.normal(0, 0.15, len(m)))
    m, r0, c0 = np.concatenate(mods), np.concatenate(r0), np.concatenate(c0)
    length, width, tilt = np.concatenate(length), np.concatenate(width), np.concatenate(tilt)
    # every cluster as a 10 x 3 (along z x along r-phi) stencil, masked to its size
    lz, wr = np.meshgrid(np.arange(10), np.arange(3), indexing="ij")
    use = (lz[None] < length[:, None, None]) & (wr[None] < width[:, None, None])
    rows = r0[:, None, None] + wr[None] + np.rint(lz[None] * tilt[:, None, None]).astype(int)
    cols = c0[:, None, None] + lz[None]
    total_q = rng.lognormal(np.log(21_000.0), 0.3, len(m)) * np.sqrt(length)
    q = (total_q / use.sum((1, 2)))[:, None, None] * rng.uniform(0.5, 1.5, use.shape)
    mm = np.broadcast_to(m[:, None, None], use.shape)
    inside = use & (rows >= 0) & (rows < N_ROWS) & (cols < N_COLS)
    mm, rows, cols, q = mm[inside], rows[inside], cols[inside], q[inside]
    # overlapping clusters: one fired pixel with the summed charge
    key = (mm.astype(np.int64) * N_ROWS + rows) * N_COLS + cols
    uniq, inv = np.unique(key, return_inverse=True)
    charge = np.bincount(inv, weights=q)
    module = uniq // (N_ROWS * N_COLS)
    row = (uniq // N_COLS) % N_ROWS
    col = uniq % N_COLS
    perm = rng.permutation(len(uniq))
    return (module[perm], row[perm].astype(np.int32), col[perm].astype(np.int32),
            charge[perm])


def scipy_cluster_pixels(module: np.ndarray, row: np.ndarray, col: np.ndarray,
                         charge: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per module: dense image -> ndimage.label + center_of_mass + sum_labels.
    Returns (labels, charge, row, col) in the order of ``cluster_pixels``."""
    from scipy import ndimage  # noqa: PLC0415

    structure = np.ones((3, 3), bool)
    order = np.argsort(module, kind="stable")
    _, start = np.unique(module[order], return_index=True)
    bounds = np.append(start, len(order))
    labels = np.empty(len(module), np.int32)
    img = np.zeros((N_ROWS, N_COLS))
    out_q, out_com = [], []
    offset = 0
    for k in range(len(start)):
        sel = order[bounds[k]:bounds[k + 1]]
        r, c = row[sel], col[sel]
        img[r, c] = charge[sel]
        lab, n = ndimage.label(img > 0, structure=structure)
        index = np.arange(1, n + 1)
        out_com.append(np.asarray(ndimage.center_of_mass(img, lab, index)).reshape(-1, 2))
        out_q.append(ndimage.sum_labels(img, lab, index))
        labels[sel] = lab[r, c] - 1 + offset
        img[r, c] = 0.0
        offset += n
    com = np.concatenate(out_com)
    return labels, np.concatenate(out_q), com[:, 0], com[:, 1]


def scipy_label_bincount(module: np.ndarray, row: np.ndarray, col: np.ndarray,
                         charge: np.ndarray) -> tuple[np.ndarray, ...]:
    """A faster scipy user: only ``ndimage.label`` per module, then the cluster charges
    and centroids of the whole event from three ``np.bincount`` calls."""
    from scipy import ndimage  # noqa: PLC0415

    structure = np.ones((3, 3), bool)
    order = np.argsort(module, kind="stable")
    _, start = np.unique(module[order], return_index=True)
    bounds = np.append(start, len(order))
    labels = np.empty(len(module), np.int32)
    fired = np.zeros((N_ROWS, N_COLS), bool)
    offset = 0
    for k in range(len(start)):
        sel = order[bounds[k]:bounds[k + 1]]
        r, c = row[sel], col[sel]
        fired[r, c] = True
        lab, n = ndimage.label(fired, structure=structure)
        labels[sel] = lab[r, c] - 1 + offset
        fired[r, c] = False
        offset += n
    q = np.bincount(labels, weights=charge, minlength=offset)
    return (labels, q, np.bincount(labels, weights=charge * row, minlength=offset) / q,
            np.bincount(labels, weights=charge * col, minlength=offset) / q)


def check_same(ours: graph.PixelClusters, ref: tuple[np.ndarray, ...]) -> None:
    labels, q, r, c = ref
    np.testing.assert_array_equal(ours.labels, labels)
    np.testing.assert_allclose(ours.charge, q, rtol=1e-12)
    np.testing.assert_allclose(ours.row, r, rtol=1e-12)
    np.testing.assert_allclose(ours.col, c, rtol=1e-12)
    np.testing.assert_array_equal(ours.size, np.bincount(labels))


@pytest.fixture(scope="module")
def event() -> tuple[np.ndarray, ...]:
    return dense_event() if FULL else dense_event(layers=(0,))


@pytest.mark.benchmark(group="pixel-clustering")
@pytest.mark.parametrize("n_threads", [1, 2])
def test_cluster_pixels_helixkit(benchmark, event, n_threads):
    res = benchmark(graph.cluster_pixels, *event, n_threads=n_threads)
    benchmark.extra_info.update(n_pixels=len(event[0]), n_clusters=len(res))
    assert len(res) > 1000


@pytest.mark.benchmark(group="pixel-clustering")
def test_cluster_pixels_scipy(benchmark, event):
    pytest.importorskip("scipy")
    ref = benchmark.pedantic(scipy_cluster_pixels, args=event, rounds=3, iterations=1)
    check_same(graph.cluster_pixels(*event), ref)


@pytest.mark.benchmark(group="pixel-clustering")
def test_cluster_pixels_scipy_label_bincount(benchmark, event):
    pytest.importorskip("scipy")
    ref = benchmark.pedantic(scipy_label_bincount, args=event, rounds=3, iterations=1)
    check_same(graph.cluster_pixels(*event), ref)


def report() -> str:
    ev = dense_event()
    module = ev[0]
    res = graph.cluster_pixels(*ev)
    check_same(res, scipy_cluster_pixels(*ev))
    check_same(res, scipy_label_bincount(*ev))
    n_cl = len(res)
    t_ref = best_time(lambda: scipy_cluster_pixels(*ev), 3)
    t_lab = best_time(lambda: scipy_label_bincount(*ev), 3)
    counts = np.bincount(module)
    grouped = tuple(a[np.argsort(module, kind="stable")] for a in ev)
    lines = [
        (f"Event: {len(np.unique(module)):,} modules of {N_ROWS} x {N_COLS} pixels, "
         f"{len(module):,} fired pixels, {n_cl:,} clusters (mean size {res.size.mean():.2f}, "
         f"largest {res.size.max()}); busiest module {counts.max():,} pixels. "
         f"Input in shuffled order. {os.cpu_count()} cores."),
        "",
        "| implementation | threads | time [ms] | clusters/s | speed-up vs scipy label + center_of_mass |",
        "|---|---|---|---|---|",
        (f"| scipy.ndimage label + center_of_mass + sum_labels | 1 | {t_ref * 1e3:.1f} | "
         f"{n_cl / t_ref:.3g} | 1.0 |"),
        (f"| scipy.ndimage label + np.bincount (faster user) | 1 | {t_lab * 1e3:.1f} | "
         f"{n_cl / t_lab:.3g} | {t_ref / t_lab:.1f}x |"),
    ]
    for name, inputs in (("cluster_pixels", ev), ("cluster_pixels, input grouped by module",
                                                  grouped)):
        for t in (1, 2):
            sec = best_time(lambda t=t, inputs=inputs: graph.cluster_pixels(*inputs, n_threads=t),
                            20)
            lines.append(f"| {name} | {t} | {sec * 1e3:.2f} | {n_cl / sec:.3g} | "
                         f"{t_ref / sec:.0f}x ({t_lab / sec:.0f}x vs label + bincount) |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(report())
    sys.exit(0)
