"""Pictures of DeepCore windows (matplotlib, imported on first use; PNG output)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..plots import pyplot, save_figure
from .detector import PixelBarrel
from .windows import ADC_SCALE, N_LAYERS, N_OVERLAPS, WINDOW, Windows

if TYPE_CHECKING:
    from matplotlib.axes import Axes

_SLOT_MARKERS = ("o", "s", "^")
_SLOT_COLOURS = ("#d62728", "#ff7f0e", "#9467bd")


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
