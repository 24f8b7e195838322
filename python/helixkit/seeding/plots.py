"""PNG plots of seeding performance (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .metrics import SeedingMetrics

__all__ = ["plot_seeding_performance"]


def plot_seeding_performance(
    metrics: SeedingMetrics | dict[str, SeedingMetrics],
    path: str | Path,
    *,
    title: str | None = None,
) -> Path:
    """Efficiency, duplication rate and fake rate vs pT and eta, as one PNG.

    Parameters
    ----------
    metrics : SeedingMetrics or {label: SeedingMetrics}
        One result, or several to overlay (e.g. helixkit vs ACTS).
    path : str or Path
        Output file (parent directories are created).

    Returns
    -------
    Path of the written file.
    """
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    series = metrics if isinstance(metrics, dict) else {"seeds": metrics}
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = [("efficiency", "efficiency"), ("duplication_rate", "duplication rate"),
            ("fake_rate", "fake rate")]
    fig, axes = plt.subplots(len(rows), 2, figsize=(10, 9), squeeze=False)
    for j, var in enumerate(("pt", "eta")):
        for i, (attr, label) in enumerate(rows):
            ax: Any = axes[i][j]
            for name, m in series.items():
                b = m.binned[var]
                y = np.asarray(getattr(b, attr), dtype=float)
                if not np.isfinite(y).any():
                    continue
                yerr = b.efficiency_error if attr == "efficiency" else None
                ax.errorbar(b.centers, y, xerr=0.5 * np.diff(b.edges), yerr=yerr,
                            fmt="o", ms=3, label=name)
            ax.set_xlabel("particle pT [GeV]" if var == "pt" else "eta")
            ax.set_ylabel(label)
            if var == "pt":
                ax.set_xscale("log")
                ax.set_xlim(left=max(0.1, series[next(iter(series))].binned[var].edges[1] / 2))
            ax.grid(alpha=0.3)
            if ax.has_data() and len(series) > 1:
                ax.legend(fontsize=8)
    fig.suptitle(title or "seeding performance")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
