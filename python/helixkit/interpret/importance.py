"""Permutation importance of input features and of neurons of any layer of a
torch model (this module imports torch; ``helixkit.interpret`` loads it lazily) (Breiman; scikit-learn's semantics for features).

A feature's (or neuron's) importance is the drop in a score when its values are
shuffled across the samples, the others kept: ``baseline - permuted``, oriented so
that positive means "the model needs it" whether the metric is a score (higher is
better: efficiency, purity, F1) or a loss / resolution (lower is better).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray

from .._table import format_table


@dataclass(frozen=True)
class Importance:
    """Permutation importances of named columns (features or neurons)."""

    names: tuple[str, ...]
    baseline: float
    importances: NDArray[np.float64]  # (n_columns, n_repeats), baseline - permuted (oriented)
    confidence: float

    @property
    def mean(self) -> NDArray[np.float64]:
        return self.importances.mean(axis=1)

    @property
    def std(self) -> NDArray[np.float64]:
        """Standard deviation over repeats (ddof = 0, as scikit-learn)."""
        return self.importances.std(axis=1)

    @property
    def interval(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Student-t confidence interval of the mean importance over the repeats."""
        from scipy import stats  # noqa: PLC0415  (scipy is heavy; only for the t quantile)

        r = self.importances.shape[1]
        if r < 2:
            return self.mean.copy(), self.mean.copy()
        half = stats.t.ppf(0.5 + self.confidence / 2, r - 1) * self.importances.std(
            axis=1, ddof=1
        ) / np.sqrt(r)
        return self.mean - half, self.mean + half

    def ranking(self) -> list[int]:
        return [int(i) for i in np.argsort(-self.mean, kind="stable")]

    def table(self, top: int | None = None) -> str:
        lo, hi = self.interval
        rows = [
            [self.names[i], f"{self.mean[i]:.4g}", f"{self.std[i]:.2g}", f"[{lo[i]:.4g}, {hi[i]:.4g}]"]
            for i in self.ranking()[:top]
        ]
        return format_table(rows, ["column", "importance", "std", f"{self.confidence:.0%} CI"])


def _check_common(n_repeats: int, confidence: float) -> None:
    if not isinstance(n_repeats, (int, np.integer)) or isinstance(n_repeats, bool):
        msg = f"n_repeats must be an int, got {type(n_repeats).__name__}"
        raise TypeError(msg)
    if n_repeats < 1:
        msg = f"n_repeats (={n_repeats}) must be >= 1"
        raise ValueError(msg)
    if not 0 < confidence < 1:
        msg = f"confidence (={confidence}) must be in (0, 1)"
        raise ValueError(msg)


def _seed(random_state: int | np.random.RandomState | None) -> int:
    """One seed for every column, drawn as scikit-learn draws it."""
    if random_state is None or isinstance(random_state, (int, np.integer)):
        rs = np.random.RandomState(random_state)
    elif isinstance(random_state, np.random.RandomState):
        rs = random_state
    else:
        msg = f"random_state must be None, an int or a numpy RandomState, got {type(random_state).__name__}"
        raise TypeError(msg)
    return int(rs.randint(np.iinfo(np.int32).max + 1))


def _permutations(n: int, seed: int, n_repeats: int) -> list[NDArray[np.intp]]:
    """The row order of the column after each repeat. scikit-learn shuffles an
    index array in place each repeat and applies it to the already permuted
    column, so the orders compose; they are reproduced here."""
    rs = np.random.RandomState(seed)
    idx = np.arange(n)
    order = np.arange(n)
    out = []
    for _ in range(n_repeats):
        rs.shuffle(idx)
        order = order[idx]
        out.append(order.copy())
    return out


def permutation_scores(
    score: Callable[[int, NDArray[np.intp]], float],
    baseline: float,
    n_columns: int,
    n_samples: int,
    *,
    names: Sequence[str] | None = None,
    greater_is_better: bool = True,
    n_repeats: int = 5,
    random_state: int | np.random.RandomState | None = None,
    confidence: float = 0.95,
) -> Importance:
    """The permutation loop on its own: ``score(column, order)`` evaluates the
    model with that column's values taken from the rows ``order``."""
    _check_common(n_repeats, confidence)
    seed = _seed(random_state)
    perms = _permutations(n_samples, seed, n_repeats)
    sign = 1.0 if greater_is_better else -1.0
    imp = np.empty((n_columns, n_repeats))
    for c in range(n_columns):
        for r, order in enumerate(perms):
            imp[c, r] = sign * (baseline - float(score(c, order)))
    names = tuple(names) if names is not None else tuple(str(i) for i in range(n_columns))
    if len(names) != n_columns:
        msg = f"names has {len(names)} entries for {n_columns} columns"
        raise ValueError(msg)
    return Importance(names, float(baseline), imp, float(confidence))


def _module_by_name(model: torch.nn.Module, layer: str | torch.nn.Module) -> torch.nn.Module:
    if isinstance(layer, torch.nn.Module):
        if not any(m is layer for m in model.modules()):
            msg = "layer is not a submodule of model"
            raise ValueError(msg)
        return layer
    if not isinstance(layer, str):
        msg = f"layer must be a submodule name or a torch.nn.Module, got {type(layer).__name__}"
        raise TypeError(msg)
    modules = dict(model.named_modules())
    if layer not in modules:
        msg = f"layer {layer!r} is not a submodule of the model (have: {sorted(modules)[:12]} ...)"
        raise ValueError(msg)
    return modules[layer]


def layer_activations(
    model: torch.nn.Module,
    inputs: torch.Tensor,
    layers: Sequence[str],
    *,
    forward: Callable[[torch.nn.Module, torch.Tensor], torch.Tensor] | None = None,
) -> dict[str, NDArray[np.float64]]:
    """The outputs of the named submodules on ``inputs`` (one forward pass), as
    (N, m) float64 arrays (extra leading dimensions flattened into N)."""
    grabbed: dict[str, torch.Tensor] = {}
    handles = []
    for name in layers:
        module = _module_by_name(model, name)

        def hook(_m, _i, out, name=name):
            grabbed[name] = out.detach()

        handles.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            (forward or (lambda m, x: m(x)))(model, inputs)
    finally:
        for h in handles:
            h.remove()
    return {
        n: grabbed[n].reshape(-1, grabbed[n].shape[-1]).double().cpu().numpy() for n in layers
    }


def permutation_importance(
    model: torch.nn.Module,
    inputs: torch.Tensor | ArrayLike,
    target: torch.Tensor | ArrayLike | None,
    metric: Callable[[torch.Tensor, torch.Tensor | None], float],
    *,
    layer: str | torch.nn.Module | None = None,
    neurons: Sequence[int] | None = None,
    names: Sequence[str] | None = None,
    greater_is_better: bool = True,
    n_repeats: int = 5,
    random_state: int | np.random.RandomState | None = None,
    confidence: float = 0.95,
    forward: Callable[[torch.nn.Module, torch.Tensor], torch.Tensor] | None = None,
) -> Importance:
    """Permutation importance of the input features (``layer=None``) or of the
    neurons of one layer of a torch model.

    Parameters
    ----------
    model : torch.nn.Module
        Evaluated in ``eval()`` mode under ``torch.no_grad()``.
    inputs : (N, F) tensor or array
        The samples (the training set, as the seed recommends: which quantities
        the model *uses*, not how well it generalises).
    target : tensor or array, optional
        Passed to ``metric`` as is.
    metric : callable
        ``metric(output, target) -> float``: the model's loss (``greater_is_better
        =False``), signal efficiency, purity, F1, a resolution, ...
    layer : str or torch.nn.Module, optional
        Permute the neurons (last dimension of the output) of this submodule
        through a forward hook: neuron j's activation of sample i is replaced by
        that of sample order[i]; everything downstream sees the permuted value.
    neurons : sequence of int, optional
        Only these neurons (default: all).
    n_repeats, random_state :
        As scikit-learn: one seed drawn from ``random_state`` for every column;
        with the same random state the feature importances equal scikit-learn's.
    confidence : float
        Level of the Student-t interval of the mean importance (``.interval``).
    forward : callable, optional
        ``forward(model, inputs) -> output`` for models not called as ``model(x)``.
    """
    if not isinstance(model, torch.nn.Module):
        msg = f"model must be a torch.nn.Module, got {type(model).__name__}"
        raise TypeError(msg)
    if not callable(metric):
        msg = f"metric must be callable, got {type(metric).__name__}"
        raise TypeError(msg)
    x = inputs if isinstance(inputs, torch.Tensor) else torch.as_tensor(np.asarray(inputs))
    y = target if target is None or isinstance(target, torch.Tensor) else torch.as_tensor(
        np.asarray(target)
    )
    if x.ndim < 2:
        msg = f"inputs must have shape (N, F), got {tuple(x.shape)}"
        raise ValueError(msg)
    n = x.shape[0]
    if y is not None and y.shape[0] != n:
        msg = f"inputs has {n} samples but target has {y.shape[0]}"
        raise ValueError(msg)
    run = forward or (lambda m, t: m(t))
    was_training = model.training
    model.eval()

    def evaluate(t: torch.Tensor) -> float:
        with torch.no_grad():
            return float(metric(run(model, t), y))

    try:
        baseline = evaluate(x)
        if layer is None:
            cols = list(neurons) if neurons is not None else list(range(x.shape[1]))

            def score(c: int, order: NDArray[np.intp]) -> float:
                xp = x.clone()
                j = cols[c]
                xp[:, j] = x[torch.from_numpy(order), j]
                return evaluate(xp)

            col_names = names or [str(j) for j in cols]
        else:
            module = _module_by_name(model, layer)
            acts: dict[str, torch.Tensor] = {}
            grab = module.register_forward_hook(lambda _m, _i, out: acts.setdefault("a", out))
            try:
                evaluate(x)
            finally:
                grab.remove()
            full = acts["a"]
            if full.shape[0] != n:
                msg = f"layer output has {full.shape[0]} rows for {n} samples"
                raise ValueError(msg)
            m = full.shape[-1]
            cols = list(neurons) if neurons is not None else list(range(m))
            bad = [j for j in cols if not 0 <= j < m]
            if bad:
                msg = f"neurons {bad[:5]} out of range for a layer of {m} neurons"
                raise ValueError(msg)

            def score(c: int, order: NDArray[np.intp]) -> float:
                j = cols[c]
                src = full[torch.from_numpy(order), ..., j]

                def swap(_m, _i, out):
                    out = out.clone()
                    out[..., j] = src
                    return out

                h = module.register_forward_hook(swap)
                try:
                    return evaluate(x)
                finally:
                    h.remove()

            col_names = names or [f"neuron {j}" for j in cols]
        return permutation_scores(
            score, baseline, len(cols), n, names=col_names,
            greater_is_better=greater_is_better, n_repeats=n_repeats,
            random_state=random_state, confidence=confidence,
        )
    finally:
        model.train(was_training)
