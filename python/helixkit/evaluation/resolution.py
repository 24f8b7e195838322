"""Resolution toolkit: the estimators used to quote track-parameter resolutions.

All take residuals ``r = pred - true`` (or relative residuals) and return a
width; binned versions group by a variable such as true pT or η.

- :func:`clipped_std`: iterative 3σ clipping until stable (TrackFormer's
  ``compute_track_resolution``): drop |r - mean| > n_sigma·std, recompute,
  stop when nothing changes (at most 100 iterations); the std of the inliers.
- :func:`quantile_width`: the quantile method — half the distance between the
  quantiles at ±``n_sigma`` Gaussian-equivalent probabilities around the
  median, divided by ``n_sigma`` (robust to tails beyond ±n_sigma).
- :func:`gaussian_ml`: Gaussian maximum likelihood (mean, std with ddof=0).
- :func:`gaussian_lsq_fit`: a least-squares Gaussian fit to the histogram.
- :func:`shortest_interval`: the shortest interval holding 68.27 % of the
  values; its half-width is σ for a Gaussian.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import as_numpy, check_float

_P68 = 0.6826894921370859


def _values(r: Any, name: str = "residuals") -> np.ndarray:
    a = np.asarray(as_numpy(r), dtype=np.float64).ravel()
    if a.size == 0:
        msg = f"{name} must not be empty"
        raise ValueError(msg)
    if not np.isfinite(a).all():
        msg = f"{name} contains NaN or inf"
        raise ValueError(msg)
    return a


def clipped_std(residuals: Any, n_sigma: float = 3.0, max_iter: int = 100) -> float:
    """Std of the inliers after iterative ``n_sigma`` clipping around the mean."""
    r = _values(residuals)
    keep = np.ones(len(r), bool)
    for _ in range(max_iter):
        m, s = r[keep].mean(), r[keep].std()
        new = np.abs(r - m) <= n_sigma * s
        if np.array_equal(new, keep) or new.sum() < 2:
            break
        keep = new
    return float(r[keep].std())


def quantile_width(residuals: Any, n_sigma: float = 5.0) -> float:
    """σ from the quantiles at ±n_sigma Gaussian-equivalent probability around the median."""
    r = _values(residuals)
    n_sigma = check_float(n_sigma, "n_sigma", positive=True)
    p_hi = 0.5 * (1.0 + math.erf(n_sigma / math.sqrt(2.0)))
    lo, hi = np.quantile(r, [1.0 - p_hi, p_hi])
    return float((hi - lo) / (2 * n_sigma))


def gaussian_ml(residuals: Any) -> tuple[float, float]:
    """Maximum-likelihood Gaussian (mean, sigma)."""
    r = _values(residuals)
    return float(r.mean()), float(r.std())


def gaussian_lsq_fit(residuals: Any, bins: int = 50, n_sigma_range: float = 2.5
                     ) -> tuple[float, float]:
    """Least-squares Gaussian fit to the histogram (mean, sigma).

    Fits ``ln h = a + b x + c x^2`` by weighted linear least squares (weights
    ``h``, Caruana's method) within ±n_sigma_range robust σ of the median, so
    no iterative optimiser (and no SciPy) is needed.
    """
    r = _values(residuals)
    med = float(np.median(r))
    width = shortest_interval(r)[2] or float(r.std()) or 1.0
    h, edges = np.histogram(r, bins=bins, range=(med - n_sigma_range * width,
                                                 med + n_sigma_range * width))
    c = 0.5 * (edges[1:] + edges[:-1]) - med
    ok = h > 0
    if ok.sum() < 3:
        return med, float("nan")
    w = np.sqrt(h[ok].astype(np.float64))
    design = np.stack([np.ones(ok.sum()), c[ok], c[ok] ** 2], axis=1) * w[:, None]
    coef, *_ = np.linalg.lstsq(design, np.log(h[ok]) * w, rcond=None)
    if coef[2] >= 0:
        return med, float("nan")
    sigma = math.sqrt(-1.0 / (2.0 * coef[2]))
    return float(med + coef[1] * sigma**2), float(sigma)


def shortest_interval(residuals: Any, fraction: float = _P68) -> tuple[float, float, float]:
    """Shortest interval holding ``fraction`` of the values: (low, high, half-width)."""
    if not 0 < fraction < 1:
        msg = f"fraction must be in (0, 1), got {fraction}"
        raise ValueError(msg)
    r = np.sort(_values(residuals))
    n = len(r)
    m = max(int(math.ceil(fraction * n)), 1)
    if m >= n:
        return float(r[0]), float(r[-1]), float((r[-1] - r[0]) / 2)
    widths = r[m - 1 :] - r[: n - m + 1]
    i = int(np.argmin(widths))
    return float(r[i]), float(r[i + m - 1]), float(widths[i] / 2)


def charge_misid_rate(q_pred: Any, q_true: Any) -> float:
    """Fraction of tracks whose predicted charge sign differs from the truth."""
    a, b = _values(q_pred, "q_pred"), _values(q_true, "q_true")
    if a.shape != b.shape:
        msg = "q_pred and q_true must have the same length"
        raise ValueError(msg)
    return float(np.mean(np.sign(a) != np.sign(b)))


ESTIMATORS = {
    "clipped": clipped_std,
    "quantile": quantile_width,
    "ml": lambda r: gaussian_ml(r)[1],
    "lsq": lambda r: gaussian_lsq_fit(r)[1],
    "shortest68": lambda r: shortest_interval(r)[2],
}


@dataclass(frozen=True)
class BinnedResolution:
    edges: np.ndarray
    counts: np.ndarray
    width: np.ndarray
    bias: np.ndarray

    @property
    def centers(self) -> np.ndarray:
        return 0.5 * (self.edges[1:] + self.edges[:-1])


def binned_resolution(residuals: Any, variable: Any, edges: Any, *, method: str = "clipped",
                      min_count: int = 10) -> BinnedResolution:
    """Resolution of ``residuals`` in bins of ``variable`` (NaN where < min_count entries)."""
    if method not in ESTIMATORS:
        msg = f"method must be one of {sorted(ESTIMATORS)}, got {method!r}"
        raise ValueError(msg)
    r = _values(residuals)
    v = _values(variable, "variable")
    if r.shape != v.shape:
        msg = "residuals and variable must have the same length"
        raise ValueError(msg)
    edges = np.asarray(edges, np.float64)
    which = np.digitize(v, edges) - 1
    nb = len(edges) - 1
    counts = np.bincount(which[(which >= 0) & (which < nb)], minlength=nb)
    width = np.full(nb, np.nan)
    bias = np.full(nb, np.nan)
    for b in range(nb):
        sel = r[which == b]
        if len(sel) >= min_count:
            width[b] = ESTIMATORS[method](sel)
            bias[b] = float(np.median(sel))
    return BinnedResolution(edges, counts, width, bias)
