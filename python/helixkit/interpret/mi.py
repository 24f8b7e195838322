"""Mutual information between multi-dimensional variables (KSG estimator 1, and
Ross 2014 when one side is discrete), entropies, the single-neuron MI table,
layer proficiency and the random-variable calibration.

Notation: N samples; X is (N, d_x), Y is (N, d_y). All neighbour searches use the
max-norm on the native k-d tree (``helixkit.graph.ksg_counts``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._table import format_table
from .._validation import (
    as_numpy,
    as_sample_rows,
    check_n_threads,
    check_neighbours_k,
)
from ..graph import ksg_counts, max_norm_count_within, max_norm_kth_distance

EULER_GAMMA = 0.57721566490153286061


@lru_cache(maxsize=8)
def _digamma_int(n_max: int) -> NDArray[np.float64]:
    """psi(n) for n = 0 .. n_max (psi(0) is unused and set to nan).

    psi(1) = -gamma and psi(n + 1) = psi(n) + 1 / n: exact recurrences for the
    integer arguments the estimators need, without scipy. Cached (a table of
    MI estimates at one N reuses it) and read-only.
    """
    out = np.empty(n_max + 1)
    out[0] = np.nan
    if n_max >= 1:
        out[1:] = -EULER_GAMMA + np.concatenate(([0.0], np.cumsum(1.0 / np.arange(1, n_max))))
    out.setflags(write=False)
    return out


def _standardized(arr: np.ndarray, name: str) -> np.ndarray:
    """Each column divided by its standard deviation (as scikit-learn's
    ``scale(with_mean=False)``); a constant column is an error."""
    std = arr.std(axis=0)
    bad = np.flatnonzero(~(std > 0))
    if bad.size:
        msg = f"{name} column {int(bad[0])} is constant (standard deviation 0)"
        raise ValueError(msg)
    return np.ascontiguousarray(arr / std)


def _labels(a: ArrayLike, name: str) -> NDArray[np.int64]:
    """Discrete values (one column or rows of several) as labels 0 .. L-1."""
    arr = as_numpy(a)
    if arr.dtype.kind not in "iubf":
        msg = f"{name} must be numeric, got dtype {arr.dtype}"
        raise ValueError(msg)
    if arr.dtype.kind == "f" and arr.size and not np.isfinite(arr).all():
        msg = f"{name} contains NaN or inf"
        raise ValueError(msg)
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        msg = f"{name} must have shape (N,) or (N, D), got shape {arr.shape}"
        raise ValueError(msg)
    _, inverse = np.unique(arr, axis=0, return_inverse=True)
    labels = inverse.reshape(-1).astype(np.int64)
    if labels.size and labels.max() == 0:
        msg = f"{name} takes a single value (a constant discrete variable)"
        raise ValueError(msg)
    return labels


def _same_n(nx: int, ny: int, x_name: str, y_name: str) -> int:
    if nx != ny:
        msg = f"{x_name} has {nx} samples but {y_name} has {ny}"
        raise ValueError(msg)
    return nx


def _mi_cc(x: np.ndarray, y: np.ndarray, k: int, n_threads: int) -> float:
    n = len(x)
    _, nx, ny = ksg_counts(x, y, k, n_threads=n_threads)
    psi = _digamma_int(n)
    return float(psi[k] + psi[n] - np.mean(psi[nx + 1]) - np.mean(psi[ny + 1]))


def _mi_cd(c: np.ndarray, labels: np.ndarray, k: int, n_threads: int) -> float:
    """Ross (2014): k-th neighbour among the points of the same label, then all
    points strictly within that distance; points alone in their label are left out."""
    counts = np.bincount(labels)
    keep = counts[labels] > 1
    c = np.ascontiguousarray(c[keep])
    labels = labels[keep]
    n = len(c)
    radius = np.empty(n)
    k_all = np.empty(n, dtype=np.int64)
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        k_l = min(k, len(rows) - 1)
        radius[rows] = max_norm_kth_distance(c[rows], k_l, n_threads=n_threads)
        k_all[rows] = k_l
    m_all = max_norm_count_within(c, radius, strict=True, n_threads=n_threads).astype(np.int64) + 1
    psi = _digamma_int(n)
    return float(psi[n] + np.mean(psi[k_all]) - np.mean(psi[counts[labels]]) - np.mean(psi[m_all]))


def _mi_dd(a: np.ndarray, b: np.ndarray) -> float:
    n = len(a)
    joint = np.unique(np.stack([a, b], axis=1), axis=0, return_counts=True)
    pairs, n_ab = joint
    n_a = np.bincount(a)[pairs[:, 0]]
    n_b = np.bincount(b)[pairs[:, 1]]
    return float(np.sum(n_ab / n * np.log(n * n_ab / (n_a * n_b))))


def mutual_information(
    X: ArrayLike,
    Y: ArrayLike,
    k: int = 3,
    *,
    x_discrete: bool = False,
    y_discrete: bool = False,
    standardize: bool = True,
    n_threads: int = 0,
) -> float:
    """Mutual information I(X; Y) in nats between multi-dimensional variables.

    Continuous X and Y: the Kraskov-Stoegbauer-Grassberger estimator 1,
    ``psi(k) + psi(N) - <psi(n_x + 1) + psi(n_y + 1)>``, where the k-th neighbour
    distance is the max-norm in the joint (X, Y) space and n_x, n_y count the other
    samples strictly inside it in the X and the Y space. One discrete side (e.g.
    the charge): Ross (2014). Both discrete: the plug-in estimate.

    Parameters
    ----------
    X, Y : (N,) or (N, D) array_like
        Samples of the two variables (rows paired). A whole layer's activations
        may be one variable.
    k : int
        Neighbour rank, ``1 <= k < N`` (scikit-learn's ``n_neighbors``, default 3).
    x_discrete, y_discrete : bool
        Treat that side as discrete (its distinct values or rows are labels).
    standardize : bool
        Divide each continuous column by its standard deviation first (as
        scikit-learn does), so that no column dominates the max-norm.
    n_threads : int
        0 means all cores; the result does not depend on it.

    Returns
    -------
    float
        The estimate; it can be slightly negative for independent variables
        (scikit-learn clips it at 0, this function does not).

    Raises
    ------
    ValueError
        Mismatched sample counts, ``k >= N``, NaN / inf, a constant column.
    """
    n_threads = check_n_threads(n_threads)
    if x_discrete and y_discrete:
        a = _labels(X, "X")
        b = _labels(Y, "Y")
        _same_n(len(a), len(b), "X", "Y")
        return _mi_dd(a, b)
    if x_discrete or y_discrete:
        c_in, d_in, c_name, d_name = (Y, X, "Y", "X") if x_discrete else (X, Y, "X", "Y")
        c = as_sample_rows(c_in, c_name)
        labels = _labels(d_in, d_name)
        n = _same_n(len(c), len(labels), c_name, d_name) if x_discrete else _same_n(
            len(labels), len(c), d_name, c_name
        )
        check_neighbours_k(k, n)
        if standardize:
            c = _standardized(c, c_name)
        return _mi_cd(c, labels, int(k), n_threads)
    x = as_sample_rows(X, "X")
    y = as_sample_rows(Y, "Y")
    n = _same_n(len(x), len(y), "X", "Y")
    k = check_neighbours_k(k, n)
    if standardize:
        x = _standardized(x, "X")
        y = _standardized(y, "Y")
    else:
        for arr, name in ((x, "X"), (y, "Y")):
            bad = np.flatnonzero(~(np.ptp(arr, axis=0) > 0))
            if bad.size:
                msg = f"{name} column {int(bad[0])} is constant"
                raise ValueError(msg)
    return _mi_cc(x, y, k, n_threads)


def entropy(X: ArrayLike, k: int = 3, *, discrete: bool = False, n_threads: int = 0) -> float:
    """Entropy of X in nats: the plug-in estimate for a discrete X, else the
    Kozachenko-Leonenko differential entropy with the max-norm,
    ``psi(N) - psi(k) + d <log(2 eps)>`` (eps: distance to the k-th neighbour),
    in the units of X."""
    if discrete:
        labels = _labels(X, "X")
        p = np.bincount(labels) / len(labels)
        return float(-np.sum(p * np.log(p)))
    x = as_sample_rows(X, "X")
    n, d = x.shape
    k = check_neighbours_k(k, n)
    eps = max_norm_kth_distance(x, k, n_threads=check_n_threads(n_threads))
    if not (eps > 0).all():
        msg = "X has repeated samples (a zero k-th neighbour distance); entropy is undefined"
        raise ValueError(msg)
    psi = _digamma_int(n)
    return float(psi[n] - psi[k] + d * np.mean(np.log(2.0 * eps)))


def conditional_entropy(
    Y: ArrayLike,
    X: ArrayLike,
    k: int = 3,
    *,
    y_discrete: bool = False,
    x_discrete: bool = False,
    n_threads: int = 0,
) -> float:
    """H(Y | X) = H(Y) - I(X; Y) in nats: what remains unknown about Y (e.g. a
    track's q/pT) once X (e.g. a layer's latent vector) is known. H(Y) is in the
    units of Y for a continuous Y (a differential entropy)."""
    h = entropy(Y, k, discrete=y_discrete, n_threads=n_threads)
    mi = mutual_information(
        X, Y, k, x_discrete=x_discrete, y_discrete=y_discrete, n_threads=n_threads
    )
    return h - mi


@dataclass(frozen=True)
class MITable:
    """Mutual information (nats) of rows (neurons, layers, random variables)
    with columns (high-level variables)."""

    rows: tuple[str, ...]
    columns: tuple[str, ...]
    values: NDArray[np.float64]  # (len(rows), len(columns))

    def top(self, column: str, n: int = 5) -> list[tuple[str, float]]:
        """The n rows with the largest MI with `column`."""
        j = self.columns.index(column)
        order = np.argsort(-self.values[:, j], kind="stable")[:n]
        return [(self.rows[i], float(self.values[i, j])) for i in order]

    def table(self, floatfmt: str = ".3f") -> str:
        body = [[r, *(format(v, floatfmt) for v in row)] for r, row in zip(self.rows, self.values)]
        return format_table(body, ["", *self.columns])

    def to_dict(self) -> dict[str, dict[str, float]]:
        return {
            r: {c: float(v) for c, v in zip(self.columns, row)}
            for r, row in zip(self.rows, self.values)
        }


def _variables(
    variables: Mapping[str, ArrayLike], n: int, discrete: Sequence[str]
) -> dict[str, np.ndarray]:
    if not isinstance(variables, Mapping) or not variables:
        msg = "variables must be a non-empty mapping name -> (N,) array"
        raise TypeError(msg)
    out = {}
    for name, v in variables.items():
        if name in discrete:
            arr = _labels(v, f"variables[{name!r}]")
        else:
            arr = _standardized(as_sample_rows(v, f"variables[{name!r}]"), f"variables[{name!r}]")
        _same_n(n, len(arr), "activations", f"variables[{name!r}]")
        out[name] = arr
    unknown = set(discrete) - set(variables)
    if unknown:
        msg = f"discrete names {sorted(unknown)} are not among the variables"
        raise ValueError(msg)
    return out


def _live_columns(acts: np.ndarray) -> np.ndarray:
    return np.flatnonzero(acts.std(axis=0) > 0)


def neuron_mi_table(
    activations: ArrayLike,
    variables: Mapping[str, ArrayLike],
    k: int = 3,
    *,
    discrete: Sequence[str] = (),
    names: Sequence[str] | None = None,
    n_threads: int = 0,
) -> MITable:
    """MI of every single neuron (column of ``activations``) with every variable.

    Dead neurons (constant activation) get MI 0: a constant carries no information.
    """
    acts = as_sample_rows(activations, "activations")
    n, m = acts.shape
    k = check_neighbours_k(k, n)
    n_threads = check_n_threads(n_threads)
    vars_ = _variables(variables, n, discrete)
    names = tuple(names) if names is not None else tuple(f"n{i}" for i in range(m))
    if len(names) != m:
        msg = f"names has {len(names)} entries for {m} neurons"
        raise ValueError(msg)
    values = np.zeros((m, len(vars_)))
    items = list(vars_.items())

    def neuron(i: int) -> np.ndarray:
        # one thread per neuron, the neurons side by side: a single 1-D MI at 10^5 samples
        # gains only 1.35x from a second thread, a table of them 2x from two at once; each
        # MI is the same for any thread count, so the table is too
        col = np.ascontiguousarray(acts[:, i : i + 1] / acts[:, i].std())
        return np.array([_mi_cd(col, v, k, 1) if name in discrete else _mi_cc(col, v, k, 1)
                         for name, v in items])

    live = _live_columns(acts)
    workers = min(n_threads or (os.cpu_count() or 1), len(live))
    if workers > 1:
        with ThreadPoolExecutor(workers) as pool:   # the kernels release the GIL
            rows = list(pool.map(neuron, live))
    else:
        rows = [neuron(i) for i in live]
    for i, row in zip(live, rows, strict=True):
        values[i] = row
    return MITable(names, tuple(vars_), values)


def _reduced(acts: np.ndarray, max_dims: int) -> np.ndarray:
    """Live columns, standardized; projected on the top `max_dims` principal
    components when there are more (a k-d tree cannot search hundreds of
    dimensions; the MI of a projection is a lower bound of the layer's)."""
    live = _live_columns(acts)
    a = acts[:, live] / acts[:, live].std(axis=0)
    if a.shape[1] <= max_dims:
        return np.ascontiguousarray(a)
    centred = a - a.mean(axis=0)
    _, _, vt = np.linalg.svd(centred[:: max(1, len(a) // 20000)], full_matrices=False)
    return _standardized(centred @ vt[:max_dims].T, "principal components")


def layer_proficiency(
    layers: Mapping[str, ArrayLike],
    variables: Mapping[str, ArrayLike],
    k: int = 3,
    *,
    discrete: Sequence[str] = (),
    max_dims: int = 16,
    n_threads: int = 0,
) -> MITable:
    """MI between each layer's whole activation vector (one m-dimensional
    variable) and each high-level variable.

    Dead neurons are dropped; a layer with more than ``max_dims`` live neurons is
    projected on its ``max_dims`` leading principal components first (stated in
    the report; the MI of a projection cannot exceed the layer's).
    """
    if not isinstance(layers, Mapping) or not layers:
        msg = "layers must be a non-empty mapping name -> (N, m) activations"
        raise TypeError(msg)
    if max_dims < 1:
        msg = f"max_dims (={max_dims}) must be >= 1"
        raise ValueError(msg)
    n_threads = check_n_threads(n_threads)
    values = []
    columns: tuple[str, ...] = ()
    for lname, acts_in in layers.items():
        acts = as_sample_rows(acts_in, f"layers[{lname!r}]")
        n = len(acts)
        k = check_neighbours_k(k, n)
        vars_ = _variables(variables, n, discrete)
        columns = tuple(vars_)
        a = _reduced(acts, max_dims)
        row = []
        for name, v in vars_.items():
            if a.shape[1] == 0:
                row.append(0.0)
            elif name in discrete:
                row.append(_mi_cd(a, v, k, n_threads))
            else:
                row.append(_mi_cc(a, v, k, n_threads))
        values.append(row)
    return MITable(tuple(layers), columns, np.asarray(values))


def random_calibration(
    variables: Mapping[str, ArrayLike],
    k: int = 3,
    *,
    discrete: Sequence[str] = (),
    seed: int = 0,
    n_threads: int = 0,
) -> MITable:
    """MI of each variable with random variables independent of it (uniform,
    normal, Poisson(3) plus a 1e-6 jitter against ties): the estimator's noise
    floor at this N. Any MI not clearly above these rows is not information."""
    first = next(iter(variables.values()))
    n = len(as_numpy(first))
    rng = np.random.default_rng(seed)
    randoms = {
        "uniform": rng.uniform(size=n),
        "normal": rng.normal(size=n),
        "poisson": rng.poisson(3.0, size=n) + 1e-6 * rng.normal(size=n),
    }
    table = neuron_mi_table(
        np.stack(list(randoms.values()), axis=1), variables, k,
        discrete=discrete, names=list(randoms), n_threads=n_threads,
    )
    return table


def gaussian_mi(rho: float, dims: int) -> float:
    """Analytic MI of X, Y in R^dims, (X_i, Y_i) bivariate normal with correlation
    rho, independent across i: ``-dims / 2 * log(1 - rho^2)``."""
    return -0.5 * dims * float(np.log1p(-rho * rho))
