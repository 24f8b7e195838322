"""PNG plots of track-finding performance: efficiency, fake and duplicate rates vs pT and η."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..evaluation import TrackFindingMetrics
from ..plots import pyplot, save_figure

_ROWS = (("efficiency", "efficiency (selected particles)", "particle"),
         ("fake_rate", "fake rate (tracks)", "track"),
         ("duplicate_rate", "duplicate rate (matched tracks)", "track"))


def plot_track_finding(metrics: dict[str, TrackFindingMetrics], path: str | Path, *,
                       title: str | None = None) -> Path:
    """Efficiency (vs the particle's pT / η), fake and duplicate rates (vs the track's) with
    binomial errors, one series per entry of ``metrics``; a panel whose rates are all zero
    says so instead of showing an empty frame."""
    plt = pyplot()
    fig, axes = plt.subplots(len(_ROWS), 2, figsize=(11, 10), squeeze=False)
    for j, var in enumerate(("pt", "eta")):
        for i, (attr, label, whose) in enumerate(_ROWS):
            ax: Any = axes[i][j]
            drawn = False
            all_zero = True
            for k, (name, m) in enumerate(metrics.items()):
                b = m.binned[var]
                e = b["edges"]
                centers = 0.5 * (e[1:] + e[:-1])
                count = b["n_particles"] if attr == "efficiency" else b["n_tracks"]
                if attr == "duplicate_rate":
                    count = b["n_tracks"]
                y = np.asarray(b[attr], dtype=float)
                ok = count > 0
                if not ok.any():
                    continue
                # small horizontal offsets keep overlapping series readable
                shift = (k - 0.5 * (len(metrics) - 1)) * 0.08
                x = centers * (1 + 0.3 * shift) if var == "pt" else centers + shift
                ax.errorbar(x[ok], y[ok], yerr=b[f"{attr}_err"][ok], fmt="o", ms=3.5,
                            capsize=2, label=name)
                drawn = True
                all_zero &= bool(np.all(y[ok] == 0))
            ax.set_xlabel(f"{whose} pT [GeV]" if var == "pt" else f"{whose} η")
            ax.set_ylabel(label)
            ax.grid(alpha=0.3)
            if var == "pt":
                ax.set_xscale("log")
                ticks = [t for t in (0.5, 1, 2, 5, 10, 20, 50, 100)
                         if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
                ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
                ax.minorticks_off()
            if attr == "efficiency":
                ax.set_ylim(min(0.8, ax.get_ylim()[0]), 1.02)
            elif drawn and all_zero:
                ax.set_ylim(-0.01, 0.05)
                ax.text(0.5, 0.6, f"no {attr.split('_')[0]} tracks in any bin", ha="center",
                        transform=ax.transAxes, color="gray")
    # one legend under the panels: it never covers a point
    handles, labels = axes[0][0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 2), fontsize=9,
                   frameon=False)
    if title:
        fig.suptitle(title)
    n_rows_legend = (len(labels) + 1) // 2 if handles else 0
    fig.tight_layout(rect=(0, 0.03 * n_rows_legend + 0.01, 1, 1))
    return save_figure(fig, path)


__all__ = ["plot_track_finding"]
