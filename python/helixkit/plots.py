"""Event displays and small plotting helpers (matplotlib, Agg backend, PNG output)."""

from __future__ import annotations

import importlib
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._files import default_file_mode

if TYPE_CHECKING:
    from .data import Event


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (imported on first use: it is slow to import)."""
    import matplotlib as mpl  # noqa: PLC0415

    mpl.use("Agg", force=False)
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt


def wilson_interval(k: Any, n: Any, *, z: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a binomial fraction ``k / n`` (``z`` standard deviations; 1 =
    68.3 %), as (lower, upper) arrays; NaN where ``n == 0``. Unlike ``sqrt(p(1-p)/n)`` it
    stays inside [0, 1] and does not vanish at 0 or 1 passed out of a few."""
    k = np.asarray(k, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    bad = n <= 0
    lo = np.where(bad, np.nan, np.clip(centre - half, 0, 1))
    hi = np.where(bad, np.nan, np.clip(centre + half, 0, 1))
    return lo, hi


def plain_log_ticks(ax: Any, lo: float, hi: float, *, axis: str = "x") -> None:
    """Label a log axis spanning [lo, hi] with plain numbers at 1-2-5 steps and no minor
    labels (matplotlib's default labels ``2×10⁰ 3×10⁰ ...`` collide on a short range); over
    more than three decades at 1-5 steps, so that the labels do not run into each other."""
    ticker = importlib.import_module("matplotlib.ticker")
    mantissas = (1, 5) if hi > 1000 * lo else (1, 2, 5)
    steps = [m * 10.0**e for e in range(-3, 5) for m in mantissas]
    ticks = [t for t in steps if lo * (1 - 1e-9) <= t <= hi * (1 + 1e-9)]
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(ticker.FixedLocator(ticks))
    target.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    target.set_minor_formatter(ticker.NullFormatter())


def save_figure(fig: Any, path: str | os.PathLike[str]) -> Path:
    """Save atomically (temp file + rename) so no partial PNG is ever left behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=120, bbox_inches="tight")
        os.chmod(tmp, default_file_mode())  # mkstemp's 0o600 would leak
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
        pyplot().close(fig)
    return path


def plot_event(
    event: Event,
    path: str | os.PathLike[str],
    *,
    n_tracks: int = 12,
    min_pt: float = 1.0,
    seed: int = 0,
    title: str | None = None,
) -> Path:
    """Hits in x–y and r–z, coloured by volume, with a few true tracks drawn on top.

    Parameters
    ----------
    event : helixkit.data.Event
    path : output PNG path
    n_tracks : number of true particles (pT > ``min_pt`` GeV) whose hits are joined by lines
    """
    plt = pyplot()
    hits = event.hits
    x, y, z = (np.asarray(hits[c], dtype=np.float64) for c in ("x", "y", "z"))
    r = np.hypot(x, y)
    vol = np.asarray(hits["volume_id"])
    fig, (ax_xy, ax_rz) = plt.subplots(1, 2, figsize=(14, 6.2), width_ratios=[1, 1.6])
    volumes = np.unique(vol)
    cmap = plt.get_cmap("tab10")
    if event.geometry is not None:
        idx = event.geometry.layer_indices(vol, hits["layer_id"])
        barrel = (idx >= 0) & (event.geometry.arrays()["kind"][np.maximum(idx, 0)] == 0)
    else:  # without a geometry: a volume is barrel-like if it is longer in z than in r
        barrel = np.zeros(len(vol), bool)
        for v in volumes:
            m = vol == v
            barrel[m] = np.ptp(z[m]) > 2 * np.ptp(r[m]) if m.sum() > 1 else True
    for i, v in enumerate(volumes):
        m = vol == v
        kw = {"s": 0.2, "color": cmap(i % 10), "alpha": 0.5, "rasterized": True}
        ax_xy.scatter(x[m & barrel], y[m & barrel], **kw)  # x-y view: barrel layers only
        ax_rz.scatter(z[m], r[m], label=f"volume {v}", **kw)

    if event.has_truth and event.n_particles:
        parts = event.particles
        pt = np.hypot(parts["px"], parts["py"])
        candidates = parts["particle_id"][pt > min_pt]
        rng = np.random.default_rng(seed)
        chosen = rng.choice(candidates, size=min(n_tracks, len(candidates)), replace=False)
        pid = event.hit_particle_id
        for p in chosen:
            rows = np.flatnonzero(pid == p)
            if len(rows) < 2:
                continue
            rows = rows[np.argsort(x[rows] ** 2 + y[rows] ** 2 + z[rows] ** 2)]
            ax_xy.plot(x[rows], y[rows], "-", lw=0.9, color="k", alpha=0.8)
            ax_rz.plot(z[rows], r[rows], "-", lw=0.9, color="k", alpha=0.8)

    ax_xy.set(xlabel="x [mm]", ylabel="y [mm]", title="barrel hits, x–y", aspect="equal")
    ax_rz.set(xlabel="z [mm]", ylabel="r [mm]", title="all hits, r–z")
    ax_rz.legend(markerscale=20, fontsize=7, loc="upper right", ncol=2)
    fig.suptitle(title or f"event {event.event_id}: {event.n_hits} hits, {event.n_particles} particles")
    return save_figure(fig, path)
