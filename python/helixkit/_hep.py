"""The optional scikit-hep stack (extra ``hep``): boost-histogram for binned counts, mplhep for
drawing and style.

Everything binned that the metrics and plots need goes through :func:`bin_counts` and
:func:`pass_total`. With boost-histogram installed they fill a ``boost_histogram.Histogram``
(``Variable`` axis on the given edges); without it, numpy's ``searchsorted`` + ``bincount`` give
the same numbers (the test suite checks both paths agree, edges and NaN included). The drawing
helpers use ``mplhep.histplot`` and an experiment-neutral mplhep style when mplhep is installed and
plain matplotlib otherwise.

Binning convention (boost-histogram's): bin ``i`` is ``[edges[i], edges[i + 1])``; values below
``edges[0]``, at or above ``edges[-1]`` (under/overflow) and NaN are not counted. With
``last_closed=True`` the last bin also holds ``edges[-1]`` (``numpy.histogram``'s convention).

Both modules are imported on first use (boost-histogram takes ~0.25 s, mplhep imports
matplotlib), through ``importlib`` as the other optional extras are. ``HELIXKIT_HEP=numpy``
forces the fallback (benchmarks, tests).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

__all__ = ["bin_counts", "boost_histogram", "check_edges", "density", "draw_points",
           "draw_steps", "experiment_label", "mplhep", "pass_total", "style"]

#: what the plots print where an experiment would print its name (no experiment's label)
LABEL = "helixkit"
LABEL_TEXT = "Simulation"


def _optional(name: str) -> Any:
    if os.environ.get("HELIXKIT_HEP", "").lower() == "numpy":
        return None
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


@functools.cache
def boost_histogram() -> Any:
    """The ``boost_histogram`` module, or None (not installed, or ``HELIXKIT_HEP=numpy``)."""
    return _optional("boost_histogram")


@functools.cache
def mplhep() -> Any:
    """The ``mplhep`` module, or None (not installed, or ``HELIXKIT_HEP=numpy``)."""
    return _optional("mplhep")


def check_edges(edges: Any, name: str = "edges") -> np.ndarray:
    """``edges`` as a float64 array: 1-D, at least 2 values, strictly increasing (else
    ValueError naming ``name``)."""
    e = np.asarray(edges, dtype=np.float64)
    if e.ndim != 1 or len(e) < 2 or np.isnan(e).any() or not (np.diff(e) > 0).all():
        msg = f"{name} must be a strictly increasing 1-D array with >= 2 edges, got {e.tolist()}"
        raise ValueError(msg)
    return e


def _values(values: Any, edges: np.ndarray, last_closed: bool) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64).ravel()
    if last_closed:  # numpy.histogram: the last edge belongs to the last bin
        v = np.where(v == edges[-1], edges[-2], v)
    return v


def bin_counts(values: Any, edges: Any, weights: Any = None, *, last_closed: bool = False,
               name: str = "edges") -> np.ndarray:
    """Entries (int64) or summed ``weights`` (float64) per bin of ``edges``.

    Parameters
    ----------
    values : (N,) array_like
        Binned variable; NaN and values outside the edges are not counted.
    edges : (B + 1,) array_like
        Strictly increasing bin edges.
    weights : (N,) array_like, optional
        Summed per bin (booleans count as 0/1), in the order of ``values``.
    last_closed : bool
        Count values equal to ``edges[-1]`` in the last bin (``numpy.histogram``).
    name : str
        Name of ``edges`` in error messages.
    """
    e = check_edges(edges, name)
    v = _values(values, e, last_closed)
    w = None if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if w is not None and w.shape != v.shape:
        msg = f"weights must have one value per entry ({len(v)}), got shape {w.shape}"
        raise ValueError(msg)
    bh = boost_histogram()
    if bh is not None:
        storage = bh.storage.Int64() if w is None else bh.storage.Double()
        h = bh.Histogram(bh.axis.Variable(e), storage=storage)
        h.fill(v, weight=w)
        out = np.array(h.values(flow=False))  # a copy: the histogram's memory is freed
        return out.astype(np.int64) if w is None else out
    nb = len(e) - 1
    idx = np.searchsorted(e, v, side="right") - 1  # NaN sorts last: idx == nb, overflow
    inside = (idx >= 0) & (idx < nb)
    if w is None:
        return np.bincount(idx[inside], minlength=nb).astype(np.int64)
    return np.bincount(idx[inside], weights=w[inside], minlength=nb).astype(np.float64)


def pass_total(values: Any, passed: Any, edges: Any, *, last_closed: bool = False,
               name: str = "edges") -> tuple[np.ndarray, np.ndarray]:
    """(passed, total) entries per bin: the two histograms behind an efficiency."""
    p = np.asarray(passed, dtype=bool).ravel()
    v = np.asarray(values, dtype=np.float64).ravel()
    if p.shape != v.shape:
        msg = f"passed must have one value per entry ({len(v)}), got shape {p.shape}"
        raise ValueError(msg)
    return (bin_counts(v[p], edges, last_closed=last_closed, name=name),
            bin_counts(v, edges, last_closed=last_closed, name=name))


# --- drawing -----------------------------------------------------------------------------

#: on top of mplhep's experiment-neutral ``plothist`` style: sizes for our multi-panel figures
_STYLE_OVERRIDES = {
    "font.size": 10, "axes.labelsize": 11, "axes.titlesize": 10, "xtick.labelsize": 9,
    "ytick.labelsize": 9, "legend.fontsize": 8, "figure.titlesize": 12,
    "xtick.major.pad": 4.0, "ytick.major.pad": 4.0, "axes.labelpad": 4.0,
    "errorbar.capsize": 0, "lines.markersize": 4.5, "legend.frameon": False,
}


@contextlib.contextmanager
def style() -> Iterator[None]:
    """The plots' style while the block runs: mplhep's experiment-neutral ``plothist`` style
    (ticks inside, minor ticks, Latin Modern fonts shipped with mplhep) with sizes for
    multi-panel figures; matplotlib's defaults without mplhep. Nothing global is changed."""
    hep = mplhep()
    base = getattr(getattr(hep, "style", None), "plothist", None)  # mplhep >= 1.3 has it
    if base is None:
        yield
        return
    plt = importlib.import_module("matplotlib.pyplot")
    with plt.style.context([base, _STYLE_OVERRIDES]):
        yield


def experiment_label(fig: Any, rlabel: str = "") -> None:
    """"**helixkit** *Simulation*" in the top-left corner of ``fig`` (where an experiment's
    plot carries its name; no experiment's label is used) and ``rlabel`` in the top-right
    corner. Figure-level, so that it never collides with a panel's title."""
    fig.text(0.005, 0.997, rf"$\mathbf{{{LABEL}}}$ $\mathit{{{LABEL_TEXT}}}$", ha="left",
             va="top", fontsize=11)
    if rlabel:
        fig.text(0.995, 0.997, rlabel, ha="right", va="top", fontsize=9)


def _offsets(edges: np.ndarray, n_series: int) -> list[np.ndarray]:
    """x of each series' points: the bin centre for one series, else spread across the bin
    (mplhep's ``xoffsets=True``: series i at (i + 1) / (n + 1) of the bin width)."""
    w = np.diff(edges)
    if n_series == 1:
        return [edges[:-1] + 0.5 * w]
    return [edges[:-1] + w * (i + 1) / (n_series + 1) for i in range(n_series)]


def draw_points(ax: Any, edges: Any, values: Sequence[Any], errors: Sequence[Any] | None = None,
                *, labels: Sequence[str | None] | None = None, xerr: bool = True,
                series_kwargs: Sequence[dict[str, Any]] | None = None, **kwargs: Any) -> int:
    """Binned values (one array per series; NaN = no point in that bin) as markers with
    vertical ``errors`` ((2, B) lower / upper distances per series, or None) and, with
    ``xerr``, horizontal bars spanning the bin.

    Several series are spread across each bin (mplhep's ``xoffsets``) so that their points
    never hide each other; a series without any finite value is skipped. Drawn by
    ``mplhep.histplot(histtype="errorbar")`` when mplhep is installed, else by
    ``ax.errorbar`` at the same positions. ``series_kwargs`` (one dict per series) and the
    shared ``kwargs`` go to the errorbar calls. Returns the number of series drawn.
    """
    e = check_edges(edges)
    n_all = len(values)
    labels = list(labels) if labels is not None else [None] * n_all
    per = list(series_kwargs) if series_kwargs is not None else [{} for _ in range(n_all)]
    keep = [i for i in range(n_all) if np.isfinite(np.asarray(values[i], np.float64)).any()]
    if not keep:
        return 0
    ys = [np.asarray(values[i], dtype=np.float64) for i in keep]
    errs = [None if errors is None or errors[i] is None else np.asarray(errors[i], np.float64)
            for i in keep]
    labs = [labels[i] for i in keep]
    kws = [{**kwargs, **per[i]} for i in keep]
    n = len(keep)
    hep = mplhep()
    if hep is not None:
        keys = sorted({k for kw in kws for k in kw})
        missing = [k for k in keys if any(k not in kw for kw in kws)]
        if missing:
            msg = f"series_kwargs must give every series the same keys (missing: {missing})"
            raise ValueError(msg)
        chunked = {k: [kw[k] for kw in kws] for k in keys}  # histplot: one value per series
        yerr = None if any(x is None for x in errs) else errs
        hep.histplot(ys if n > 1 else ys[0], e, yerr=yerr if n > 1 or yerr is None else yerr[0],
                     ax=ax, histtype="errorbar", xerr=xerr, label=labs if n > 1 else labs[0],
                     flow="none", xoffsets=n > 1,
                     **{k: (v if n > 1 else v[0]) for k, v in chunked.items()})
        return n
    for x, y, err, lab, kw in zip(_offsets(e, n), ys, errs, labs, kws, strict=True):
        ok = np.isfinite(y)
        xe = np.vstack([x - e[:-1], e[1:] - x])[:, ok] if xerr else None
        ax.errorbar(x[ok], y[ok], yerr=None if err is None else err[:, ok], xerr=xe, label=lab,
                    **{"linestyle": "none", "marker": ".", "elinewidth": 1, **kw})
    return n


def draw_steps(ax: Any, edges: Any, values: Any, **kwargs: Any) -> None:
    """A histogram outline (``values`` per bin of ``edges``): ``mplhep.histplot`` (step) with
    mplhep, ``ax.stairs`` without. ``kwargs`` go to the stairs call."""
    e = check_edges(edges)
    v = np.asarray(values, dtype=np.float64)
    hep = mplhep()
    if hep is not None:
        hep.histplot(v, e, ax=ax, histtype="step", flow="none", **kwargs)
        return
    ax.stairs(v, e, **kwargs)


def density(counts: Any, edges: Any) -> np.ndarray:
    """``counts`` as a probability density over the binned range (``numpy.histogram``'s
    ``density=True``: counts / (total * bin width)); zeros when nothing is binned."""
    c = np.asarray(counts, dtype=np.float64)
    total = c.sum()
    return c / (total * np.diff(np.asarray(edges, np.float64))) if total > 0 else np.zeros_like(c)
