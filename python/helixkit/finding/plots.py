"""PNG plots of track-finding performance: efficiency, fake and duplicate rates vs pT and η."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .. import _hep
from ..evaluation import TrackFindingMetrics
from ..plots import plain_log_ticks, pyplot, save_figure, wilson_interval

_ROWS = (("efficiency", "efficiency (selected particles)", "particle", "n_found", "n_particles"),
         ("fake_rate", "fake rate (tracks)", "track", "n_fake", "n_tracks"),
         ("duplicate_rate", "duplicate rate (matched tracks)", "track", "n_duplicate",
          "n_matched"))


#: Bins with fewer tracks do not set a rate panel's y range (their bars are clipped).
_MIN_SCALE = 20


def _rate_top(ys: list[np.ndarray], errs: list[np.ndarray], counts: list[np.ndarray]) -> float:
    """Top of a rate panel: 1.15 x the highest point or upper bar among bins with at least
    _MIN_SCALE tracks (all bins if none has that many), at least 0.01, at most 1.05."""
    def highest(min_n: int) -> float:
        vals = [0.0]
        for y, e, c in zip(ys, errs, counts, strict=True):
            ok = np.isfinite(y) & (c >= min_n)
            if ok.any():
                vals.append(float(np.max(y[ok] + e[1][ok])))
        return max(vals)
    top = highest(_MIN_SCALE) or highest(1)
    return min(1.05, max(0.01, 1.15 * top))


def plot_track_finding(metrics: dict[str, TrackFindingMetrics], path: str | Path, *,
                       title: str | None = None) -> Path:
    """Efficiency (vs the particle's pT / η), fake and duplicate rates (vs the track's) with
    68 % Wilson intervals, one series per entry of ``metrics`` (spread across each bin, with
    horizontal bars spanning it; mplhep when installed); a panel whose rates are all zero
    says so instead of showing an empty frame."""
    plt = pyplot()
    with _hep.style():
        fig, axes = plt.subplots(len(_ROWS), 2, figsize=(11, 10), squeeze=False)
        for j, var in enumerate(("pt", "eta")):
            for i, (attr, label, whose, passed, total) in enumerate(_ROWS):
                ax: Any = axes[i][j]
                ys, errs, names, counts = [], [], [], []
                edges = None
                for name, m in metrics.items():
                    b = m.binned[var]
                    edges = b["edges"] if edges is None else edges
                    if not np.array_equal(b["edges"], edges):
                        msg = f"metrics {name!r} has other {var} bins than the first series"
                        raise ValueError(msg)
                    k, n = b[passed], b[total]
                    y = np.where(n > 0, np.asarray(b[attr], dtype=float), np.nan)
                    lo, hi = wilson_interval(k, n)
                    ys.append(y)
                    counts.append(np.asarray(n))
                    errs.append(np.vstack([np.clip(y - lo, 0, None), np.clip(hi - y, 0, None)]))
                    names.append(name)
                drawn = _hep.draw_points(ax, edges, ys, errs, labels=names) if ys else 0
                all_zero = all(np.all(y[np.isfinite(y)] == 0) for y in ys)
                ax.set_xlabel(f"{whose} pT [GeV]" if var == "pt" else f"{whose} η")
                ax.set_ylabel(label)
                ax.grid(alpha=0.3)
                if var == "pt" and edges is not None:
                    ax.set_xscale("log")
                    ax.set_xlim(edges[0], edges[-1])
                    plain_log_ticks(ax, edges[0], edges[-1])
                elif edges is not None:
                    ax.set_xlim(edges[0], edges[-1])
                if not drawn:
                    ax.text(0.5, 0.5, "no entries", ha="center", va="center",
                            transform=ax.transAxes, color="gray")
                    ax.set_yticks([])
                elif attr == "efficiency":
                    ax.set_ylim(min(0.8, ax.get_ylim()[0]), 1.02)
                else:
                    # the y range follows the points and the bars of bins with at least
                    # _MIN_SCALE tracks: the Wilson bar of a bin with a handful of tracks
                    # (a 0 of 3 at the η edge reaches 0.35) would flatten every other bin
                    top = _rate_top(ys, errs, counts)
                    clipped = any(np.any((c < _MIN_SCALE) & (c > 0) & (y + e[1] > top))
                                  for y, e, c in zip(ys, errs, counts, strict=True))
                    ax.set_ylim(-0.02 * top, top)
                    notes = []
                    if all_zero:  # the points sit on 0; the Wilson upper bars say how sure
                        notes.append(f"no {attr.split('_')[0]} tracks in any bin")
                    if clipped:
                        notes.append(f"bars of bins with < {_MIN_SCALE} tracks clipped")
                    if notes:
                        ax.text(0.5, 0.92, "; ".join(notes), ha="center", va="top",
                                transform=ax.transAxes, color="gray", fontsize=9,
                                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8})
        _hep.experiment_label(fig)
        # one legend under the panels: it never covers a point
        handles, labels = axes[0][0].get_legend_handles_labels()
        if handles:
            fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 2),
                       fontsize=9, frameon=False)
        if title:
            fig.suptitle(title)
        n_rows_legend = (len(labels) + 1) // 2 if handles else 0
        fig.tight_layout(rect=(0, 0.03 * n_rows_legend + 0.01, 1, 1))
        return save_figure(fig, path)


__all__ = ["plot_track_finding"]
