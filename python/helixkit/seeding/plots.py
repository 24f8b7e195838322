"""PNG plots of seeding performance (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .. import _hep
from ..plots import plain_log_ticks, pyplot, save_figure, wilson_interval
from .metrics import BinnedSeedingMetrics, SeedingMetrics

__all__ = ["plot_seeding_performance"]


def _counts(b: BinnedSeedingMetrics, attr: str) -> tuple[np.ndarray, np.ndarray]:
    """(passed, total) per bin behind a binned fraction."""
    if attr == "efficiency":
        return b.n_matched, b.n_selected
    if attr == "fake_rate":
        n = b.n_seeds.astype(float)
        return np.where(n > 0, np.rint(np.nan_to_num(b.fake_rate) * n), 0), n
    return np.zeros(len(b.centers)), np.zeros(len(b.centers))


def plot_seeding_performance(
    metrics: SeedingMetrics | dict[str, SeedingMetrics],
    path: str | Path,
    *,
    title: str | None = None,
    caption: str | None = None,
) -> Path:
    """Efficiency, duplication rate and fake rate vs pT and eta, as one PNG.

    Points sit at the bin centres (several series spread across the bin) with horizontal
    bars spanning the bin, drawn with mplhep in its experiment-neutral style when mplhep is
    installed (plain matplotlib otherwise). Efficiency and fake rate carry 68 % Wilson
    intervals; the fake rate is binned in the seed's own pT and eta (:func:`seeding_metrics`
    with ``sp_xyz`` and ``b_field_z``). A panel without data says so instead of showing empty
    axes.

    Parameters
    ----------
    metrics : SeedingMetrics or {label: SeedingMetrics}
        One result, or several to overlay (e.g. helixkit vs ACTS).
    path : str or Path
        Output file (parent directories are created; written atomically).
    title : str, optional
    caption : str, optional
        What the plot shows (sample, <mu>, selection, number of events), printed
        under the title.

    Returns
    -------
    Path of the written file.
    """
    plt = pyplot()
    series = metrics if isinstance(metrics, dict) else {"seeds": metrics}
    rows = [("efficiency", "efficiency (selected particles)"),
            ("duplication_rate", "duplication rate"),
            ("fake_rate", "fake rate (all seeds)")]
    with _hep.style():
        fig, axes = plt.subplots(len(rows), 2, figsize=(10, 9.6), squeeze=False)
        first = series[next(iter(series))]
        for j, var in enumerate(("pt", "eta")):
            edges = first.binned[var].edges
            for i, (attr, label) in enumerate(rows):
                ax: Any = axes[i][j]
                ys, errs, names = [], [], []
                for name, m in series.items():
                    b = m.binned[var]
                    y = np.asarray(getattr(b, attr), dtype=float)
                    err = None
                    if attr in ("efficiency", "fake_rate"):
                        lo, hi = wilson_interval(*_counts(b, attr))
                        err = np.vstack([np.clip(y - lo, 0, None), np.clip(hi - y, 0, None)])
                    ys.append(y)
                    errs.append(err)
                    names.append(name)
                drawn = _hep.draw_points(ax, edges, ys, errs, labels=names)
                ax.set_xlabel("pT [GeV]" if var == "pt" else "η")
                ax.set_ylabel(label)
                if var == "pt":
                    ax.set_xscale("log")
                    ax.set_xlim(max(0.1, edges[1] / 2), edges[-1])
                    plain_log_ticks(ax, max(0.1, edges[1] / 2), edges[-1])
                else:
                    ax.set_xlim(edges[0], edges[-1])
                if not drawn:
                    why = ("no seed positions given (seeding_metrics(sp_xyz=..., b_field_z=...))"
                           if attr == "fake_rate" else "no entries")
                    ax.text(0.5, 0.5, why, ha="center", va="center", transform=ax.transAxes,
                            fontsize=8, color="0.4", wrap=True)
                    ax.set_yticks([])
                elif attr in ("efficiency", "fake_rate"):
                    ax.set_ylim(bottom=0, top=min(1.05, ax.get_ylim()[1] * 1.1 + 0.02))
                ax.grid(alpha=0.3)
        _hep.experiment_label(fig)
        fig.suptitle(title or "seeding performance")
        if caption:
            fig.text(0.5, 0.945, caption, ha="center", va="top", fontsize=8.5, color="0.25")
        # several series: one legend under the panels, where it never covers a point
        handles, labels = [], []
        for ax in (a for row in axes for a in row):
            handles, labels = ax.get_legend_handles_labels()
            if handles:
                break
        bottom = 0.0
        if len(series) > 1 and handles:
            fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4),
                       fontsize=9, frameon=False)
            bottom = 0.025 * ((len(labels) + 3) // 4) + 0.01
        fig.tight_layout(rect=(0, bottom, 1, 0.93 if caption else 0.97))
        return save_figure(fig, path)
