"""Pictures of DeepCore windows (matplotlib, imported on first use; PNG output)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .. import _hep
from ..plots import plain_log_ticks, pyplot, save_figure, wilson_interval
from .detector import PixelBarrel
from .evaluate import DR_BINS, JET_PT_BINS, PT_BINS, MethodResult, efficiency_counts
from .windows import ADC_SCALE, N_LAYERS, N_OVERLAPS, WINDOW, Windows

if TYPE_CHECKING:
    from matplotlib.axes import Axes

_SLOT_MARKERS = ("o", "s", "^")
_SLOT_COLOURS = ("#d62728", "#ff7f0e", "#9467bd")
_METHOD_STYLE = {"standard": ("#1f77b4", "o", "standard (clusters → triplets)"),
                 "jetcore": ("#2ca02c", "s", "JetCore-like (cluster splitting)"),
                 "deepcore": ("#d62728", "^", "DeepCore (CNN crossings)")}


def plot_window(windows: Windows, index: int, path: str | os.PathLike[str], *,
                title: str | None = None, label_pt: float = 5.0,
                detector: PixelBarrel | None = None) -> Path:
    """One window: the pixel charge of its four layers and its true track crossing points.

    Panels 1-4 show BPIX1-4 (ADC counts, white = no pixel fired, hatched grey = outside
    the module); a cross marks where the window axis crosses the layer. On the seed layer
    the true crossing points of the pT >= 1 GeV particles are drawn (marker = overlap
    slot, size grows with pT; the six hardest above ``label_pt`` GeV labelled). Panel 5 is the
    TCP target: how many particles cross each pixel (overlap slots used).

    Parameters
    ----------
    windows : Windows
    index : int
        The window to draw.
    path : str or PathLike
        Output PNG (written atomically).
    title : str, optional
        Default: event, jet pT / η and the window axis.
    label_pt : float
        Crossings above this pT [GeV] get a text label.
    detector : PixelBarrel, optional
        The detector of the windows' events (for the module edges; default CMS Phase-1).
    """
    if not isinstance(windows, Windows):
        msg = f"windows must be a helixkit.deepcore.Windows, got {type(windows).__name__}"
        raise ValueError(msg)
    n = len(windows)
    if not -n <= int(index) < n:
        msg = f"index (={index}) out of range for {n} windows"
        raise ValueError(msg)
    index = int(index) % n
    det = detector if detector is not None else PixelBarrel()
    plt = pyplot()
    from matplotlib.colors import BoundaryNorm, ListedColormap  # noqa: PLC0415  (matplotlib is lazy)

    adc = windows.charge[index] * ADC_SCALE  # back to ADC counts
    seed = windows.seed_layer
    t = windows.truth
    mine = t["window"] == index
    rows, cols, slots, pts = t["row"][mine], t["col"][mine], t["slot"][mine], t["pt"][mine]
    vmax = max(float(adc.max()), 1.0)
    # physical proportions: one row is pitch_row high, one column pitch_col wide
    aspect = [la.pitch_row / la.pitch_col for la in det.layers]

    fig, axes = plt.subplots(1, N_LAYERS + 1, figsize=(4.2 * (N_LAYERS + 1), 4.0),
                             constrained_layout=True)
    # no pixel fired: transparent (shows the hatching of the area outside the module)
    cmap = plt.get_cmap("viridis").with_extremes(bad=(1.0, 1.0, 1.0, 0.0))
    extent = (-0.5, WINDOW - 0.5, -0.5, WINDOW - 0.5)
    im = None
    for li in range(N_LAYERS):
        ax = axes[li]
        img = np.ma.masked_equal(adc[li], 0.0)
        ax.set_facecolor("white")
        _shade_outside(ax, windows, index, li, det)
        im = ax.imshow(img, origin="lower", cmap=cmap, vmin=0.0, vmax=vmax, extent=extent,
                       interpolation="nearest", aspect=aspect[li])
        c_r = windows.center_row[index] - windows.row0[index, seed] if li == seed else WINDOW // 2
        c_c = windows.center_col[index] - windows.col0[index, seed] if li == seed else WINDOW // 2
        ax.plot([c_c], [c_r], marker="+", color="black", ms=12, mew=1.2, ls="none")
        n_fired = int((adc[li] > 0).sum())
        name = f"BPIX{li + 1}" + (" (seed layer; true crossings: ○ slot 1, □ 2, △ 3, "
                                  "pT in GeV)" if li == seed else "")
        mod = windows.layer_module[index, li]
        ax.set_title(f"{name}\nmodule {mod}, {n_fired} pixels, ΣADC = {adc[li].sum():.0f}",
                     fontsize=9)
        ax.set_xlabel("column (z, 150 µm)")
        if li == 0:
            ax.set_ylabel("row (r·φ, 100 µm)")
        if li == seed:
            _draw_crossings(ax, rows, cols, slots, pts, label_pt)
    fig.colorbar(im, ax=list(axes[:N_LAYERS]), location="bottom", shrink=0.5, pad=0.02,
                 label=f"ADC counts (input = ADC / {ADC_SCALE:g})")

    ax = axes[N_LAYERS]
    n_cross = windows.tcp[index].sum(axis=0)
    tcp_cmap = ListedColormap(["#f4f4f4", *_SLOT_COLOURS[:N_OVERLAPS]])
    norm = BoundaryNorm(np.arange(-0.5, N_OVERLAPS + 1.0), tcp_cmap.N)
    im2 = ax.imshow(n_cross, origin="lower", cmap=tcp_cmap, norm=norm, extent=extent,
                    interpolation="nearest", aspect=aspect[seed])
    ax.scatter(cols, rows, s=6, color="black", zorder=3, label="exact crossing point")
    if len(rows):
        ax.legend(loc="upper right", fontsize=7, framealpha=0.8)
    ax.set_title(f"TCP target on BPIX{seed + 1}\n{int(mine.sum())} particles with "
                 f"pT ≥ 1 GeV, {int((slots >= 1).sum())} in overlap slots 2-3", fontsize=9)
    ax.set_xlabel("column (z, 150 µm)")
    cb = fig.colorbar(im2, ax=ax, location="bottom", shrink=0.8, pad=0.02,
                      ticks=np.arange(N_OVERLAPS + 1))
    cb.set_label("particles crossing the pixel")
    for a in axes:
        a.set_xlim(extent[0], extent[1])
        a.set_ylim(extent[2], extent[3])
        a.set_xticks(range(0, WINDOW, 5))
        a.set_yticks(range(0, WINDOW, 5))
        a.tick_params(labelsize=8)
    if title is None:
        jet_pt, jet_eta = windows.jet[index]
        title = (f"DeepCore window {index}: event {windows.event[index]}, jet pT = "
                 f"{jet_pt:.0f} GeV, η = {jet_eta:+.2f}; window axis η = "
                 f"{windows.axis_eta[index]:+.3f}, φ = {windows.axis_phi[index]:+.3f}; "
                 f"seed cluster {windows.cluster_charge[index] / 1000:.0f} ke")
    fig.suptitle(title, fontsize=11)
    return save_figure(fig, path)


def _draw_crossings(ax: Axes, rows: np.ndarray, cols: np.ndarray, slots: np.ndarray,
                    pts: np.ndarray, label_pt: float, max_labels: int = 6) -> None:
    """Hollow markers at the true crossing points (marker and colour = overlap slot, size
    grows with pT), so that the pixel charge below stays visible; the hardest ones get
    their pT written next to them."""
    size = 12 + 16 * np.log10(np.maximum(pts, 1.0))
    for k in range(-1, N_OVERLAPS):
        s = slots == k
        if not s.any():
            continue
        marker = _SLOT_MARKERS[k] if k >= 0 else "x"
        colour = _SLOT_COLOURS[k] if k >= 0 else "black"
        label = f"slot {k + 1}" if k >= 0 else "no slot (4th+)"
        ax.scatter(cols[s], rows[s], s=size[s], marker=marker, label=label,
                   facecolors="none" if k >= 0 else colour, edgecolors=colour,
                   linewidths=1.1, zorder=3)
    hard = np.argsort(-pts)[:max_labels]
    for h in hard:
        if pts[h] >= label_pt:
            ax.annotate(f"{pts[h]:.0f}", (cols[h], rows[h]), xytext=(4, 3),
                        textcoords="offset points", fontsize=7, color="#d62728", zorder=4)


def _shade_outside(ax: Axes, windows: Windows, index: int, layer: int, det: PixelBarrel
                   ) -> None:
    """Hatch the window pixels that lie outside the layer's module (they read 0)."""
    mod = windows.layer_module[index, layer]
    r0, c0 = int(windows.row0[index, layer]), int(windows.col0[index, layer])
    n_rows, n_cols = det.layers[layer].n_rows, det.layers[layer].n_cols
    if mod < 0:
        r_lo, r_hi, c_lo, c_hi = 0, 0, 0, 0
    else:
        r_lo, r_hi = max(0, -r0), min(WINDOW, n_rows - r0)
        c_lo, c_hi = max(0, -c0), min(WINDOW, n_cols - c0)
    outside = np.ones((WINDOW, WINDOW), bool)
    if r_hi > r_lo and c_hi > c_lo:
        outside[r_lo:r_hi, c_lo:c_hi] = False
    if outside.any():
        ax.contourf(np.arange(WINDOW), np.arange(WINDOW), outside.astype(float),
                    levels=[0.5, 1.5], colors="none", hatches=["////"], zorder=0)
        ax.imshow(np.ma.masked_equal(outside.astype(float), 0), origin="lower",
                  cmap="Greys", vmin=0, vmax=4, alpha=0.5,
                  extent=(-0.5, WINDOW - 0.5, -0.5, WINDOW - 0.5), zorder=0)


def plot_efficiencies(results: dict[str, MethodResult], path: str | os.PathLike[str], *,
                      title: str = "") -> Path:
    """Seeding efficiency of each method vs particle pT, vs ΔR to the jet axis (pT > 10 GeV)
    and vs jet pT (pT > 10 GeV), with 68 % Wilson intervals (the methods spread across each
    bin, horizontal bars spanning it; mplhep when installed); the fourth panel splits
    pT > 10 GeV into particles in merged and isolated BPIX2 clusters."""
    plt = pyplot()
    panels = (("pt", PT_BINS), ("delta_r", DR_BINS), ("jet_pt", JET_PT_BINS))
    with _hep.style():
        fig, axes = plt.subplots(1, 4, figsize=(19, 4.6), constrained_layout=True)
        curves: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {v: [] for v, _ in panels}
        styles = []
        for n_key, (key, res) in enumerate(results.items()):
            colour, marker, label = _METHOD_STYLE.get(key, ("black", "o", key))
            styles.append(({"color": colour, "marker": marker, "markersize": 5}, label))
            hi = res.pt >= 10.0
            sub = MethodResult(res.found[hi], res.pt[hi], res.delta_r[hi], res.jet_pt[hi],
                               res.n_seeds, res.n_fake, res.n_duplicate, res.seconds)
            for var, bins in panels:
                curves[var].append(efficiency_counts(res if var == "pt" else sub, var, bins))
            if res.merged is not None:
                vals = [res.summary(10.0, merged=m) for m in (False, True)]
                xs = np.arange(2) + 0.25 * (n_key - 1)
                axes[3].bar(xs, [v["efficiency"] for v in vals], width=0.24, color=colour,
                            label=label)
        for ax, (var, bins) in zip(axes[:3], panels, strict=True):
            ys, errs = [], []
            for k, n in curves[var]:
                with np.errstate(invalid="ignore", divide="ignore"):
                    y = np.where(n > 0, k / np.maximum(n, 1), np.nan)
                lo, hi_ = wilson_interval(k, n)
                ys.append(y)
                errs.append(np.vstack([np.clip(y - lo, 0, None), np.clip(hi_ - y, 0, None)]))
            _hep.draw_points(ax, bins, ys, errs, labels=[lab for _, lab in styles],
                             series_kwargs=[kw for kw, _ in styles])
            ax.set_xlim(bins[0], bins[-1])
        axes[0].set_xscale("log")
        plain_log_ticks(axes[0], PT_BINS[0], PT_BINS[-1])
        axes[0].set_xlabel("particle pT [GeV]")
        axes[0].set_title("efficiency vs particle pT")
        axes[1].set_xlabel("ΔR(particle, jet axis)")
        axes[1].set_title("vs ΔR to the jet axis (pT > 10 GeV)")
        axes[2].set_xlabel("jet pT [GeV]")
        axes[2].set_title("vs jet pT (particles with pT > 10 GeV)")
        axes[3].set_xticks([0, 1], ["isolated BPIX2 cluster", "merged BPIX2 cluster"])
        axes[3].minorticks_off()
        axes[3].set_title("pT > 10 GeV: isolated vs merged clusters")
        for ax in axes:
            ax.set_ylim(0.0, 1.05)
            ax.set_ylabel("seeding efficiency")
            ax.grid(alpha=0.3)
        axes[0].legend(loc="lower left", fontsize=8)
        _hep.experiment_label(fig)
        if title:
            fig.suptitle(f"Jet-core seeding efficiency: {title}", fontsize=11)
        return save_figure(fig, path)


def plot_residuals(res: MethodResult, path: str | os.PathLike[str], *,
                   min_pt: float = 10.0) -> Path:
    """DeepCore's residuals (predicted - true) of the crossing row (r·φ) and column (z) in
    µm, the direction η and φ, and pT / pT_true, for isolated and merged BPIX2 clusters
    (particles with pT >= ``min_pt``; nearest crossing within 3 pixels)."""
    t = res.residuals
    if t is None:
        msg = "res has no residuals (a DeepCore result with deta/dphi/pt crossings)"
        raise ValueError(msg)
    plt = pyplot()
    fig, axes = plt.subplots(1, 5, figsize=(21, 4.0), constrained_layout=True)
    sel = np.asarray(t["pt"]) >= min_pt
    panels = (("d_row", 100.0, np.linspace(-300, 300, 61), "Δ row (r·φ) [µm]"),
              ("d_col", 150.0, np.linspace(-450, 450, 61), "Δ column (z) [µm]"),
              ("d_eta", 1e3, np.linspace(-30, 30, 61), "Δη (direction) × 10³"),
              ("d_phi", 1e3, np.linspace(-30, 30, 61), "Δφ (direction) [mrad]"),
              ("pt_ratio", 1.0, np.linspace(0, 3, 61), "predicted pT / true pT"))
    for ax, (col, scale, bins, label) in zip(axes, panels, strict=True):
        for merged, colour, name in ((False, "#1f77b4", "isolated"), (True, "#d62728", "merged")):
            s = sel & (np.asarray(t["merged"]) == merged)
            if not s.any():
                continue
            v = t["pt_pred"][s] / t["pt"][s] if col == "pt_ratio" else t[col][s] * scale
            ax.hist(np.clip(v, bins[0], bins[-1]), bins=bins, histtype="step", lw=1.5,
                    color=colour, density=True, label=f"{name} ({int(s.sum()):,})")
        ax.set_xlabel(label)
        ax.set_yticks([])
        ax.grid(alpha=0.3)
    axes[0].axvspan(-100, 100, color="grey", alpha=0.12, lw=0, label="± 1 pixel")
    axes[1].axvspan(-150, 150, color="grey", alpha=0.12, lw=0, label="± 1 pixel")
    axes[0].legend(fontsize=8, loc="upper left")
    fig.suptitle(f"DeepCore crossing residuals on BPIX2 (particles with pT ≥ {min_pt:g} GeV, "
                 "nearest predicted crossing within 3 pixels; overflow in the edge bins)",
                 fontsize=11)
    return save_figure(fig, path)


def plot_prediction(windows: Windows, index: int, prob: np.ndarray, params: np.ndarray,
                    path: str | os.PathLike[str], *, thresholds: tuple[float, ...] = (0.7, 0.85, 1.0)
                    ) -> Path:
    """One window's BPIX2 charge, its true TCP map and the predicted TCP probability of the
    three overlap slots (``prob`` (3, 30, 30), ``params`` (3, 5, 30, 30) from
    :meth:`DeepCoreModel.predict`), with the true crossing points (circles) and the
    predicted crossings above threshold (pixel + predicted dx / dy; crosses)."""
    if not isinstance(windows, Windows):
        msg = f"windows must be a helixkit.deepcore.Windows, got {type(windows).__name__}"
        raise ValueError(msg)
    prob = np.asarray(prob, np.float64)
    params = np.asarray(params, np.float64)
    if prob.shape != (N_OVERLAPS, WINDOW, WINDOW) or params.shape[:1] != (N_OVERLAPS,):
        msg = f"prob must have shape (3, 30, 30) and params (3, 5, 30, 30), got {prob.shape}, {params.shape}"
        raise ValueError(msg)
    plt = pyplot()
    seed = windows.seed_layer
    t = windows.truth
    mine = t["window"] == index
    rows, cols = t["row"][mine], t["col"][mine]
    extent = (-0.5, WINDOW - 0.5, -0.5, WINDOW - 0.5)
    fig, axes = plt.subplots(1, 2 + N_OVERLAPS, figsize=(4.2 * (2 + N_OVERLAPS), 4.3),
                             constrained_layout=True)
    adc = windows.charge[index, seed] * ADC_SCALE
    cmap = plt.get_cmap("viridis").with_extremes(bad=(1.0, 1.0, 1.0, 0.0))
    im = axes[0].imshow(np.ma.masked_equal(adc, 0.0), origin="lower", cmap=cmap, extent=extent,
                        interpolation="nearest", aspect=2 / 3)
    fig.colorbar(im, ax=axes[0], location="bottom", shrink=0.8, pad=0.02, label="ADC counts")
    axes[0].set_title(f"BPIX{seed + 1} charge ({int((adc > 0).sum())} pixels)", fontsize=9)
    n_cross = windows.tcp[index].sum(axis=0)
    im = axes[1].imshow(n_cross, origin="lower", cmap="Greys", vmin=0, vmax=N_OVERLAPS,
                        extent=extent, interpolation="nearest", aspect=2 / 3)
    fig.colorbar(im, ax=axes[1], location="bottom", shrink=0.8, pad=0.02,
                 label="true particles crossing the pixel")
    axes[1].set_title(f"true TCP ({int(mine.sum())} crossings, pT ≥ 1 GeV)", fontsize=9)
    for k in range(N_OVERLAPS):
        ax = axes[2 + k]
        im = ax.imshow(prob[k], origin="lower", cmap="magma", vmin=0, vmax=1, extent=extent,
                       interpolation="nearest", aspect=2 / 3)
        fig.colorbar(im, ax=ax, location="bottom", shrink=0.8, pad=0.02,
                     label=f"predicted TCP probability, slot {k + 1}")
        fire = prob[k] > thresholds[k]
        i, j = np.nonzero(fire)
        ax.scatter(j + params[k, 1, i, j], i + params[k, 0, i, j], marker="x", s=18,
                   color="#00e5ff", lw=1.0, zorder=4, label="predicted crossing")
        ax.set_title(f"slot {k + 1}: {int(fire.sum())} pixels above {thresholds[k]:g}",
                     fontsize=9)
    for ax in axes:
        ax.scatter(cols, rows, s=30, facecolors="none", edgecolors="#ff7f0e", lw=1.0,
                   zorder=3, label="true crossing")
        ax.set_xlim(extent[0], extent[1])
        ax.set_ylim(extent[2], extent[3])
        ax.set_xlabel("column (z, 150 µm)")
        ax.tick_params(labelsize=8)
    axes[0].set_ylabel("row (r·φ, 100 µm)")
    axes[2].legend(loc="upper right", fontsize=7, framealpha=0.8)
    jet_pt, jet_eta = windows.jet[index]
    fig.suptitle(f"DeepCore on window {index} (event {windows.event[index]}, jet pT "
                 f"{jet_pt:.0f} GeV, η {jet_eta:+.2f}): predicted vs true track crossing "
                 "points on BPIX2", fontsize=11)
    return save_figure(fig, path)
