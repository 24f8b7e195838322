"""Symbolic fits of a neuron: which closed formula of the hit and track variables
an activation approximates (the seed found e.g. ``sin θ · 0.035 · √ρ``).

A small built-in search, NumPy only: every variable passes through a fixed set of
unary primitives (x, x², x³, √x and log x where x > 0, 1/x where x stays away from
0, sin and cos of angles (|x| <= 2 pi), exp where |x| < 20), products of two primitives of
different variables are added, and the target is fitted by least squares as
``c0 + c1·t`` and ``c0 + c1·t1 + c2·t2`` over those terms. Candidates are ranked by
R² minus ``complexity_penalty`` per node of the expression tree, so a longer formula
must earn its extra R². (PySR needs Julia, which it downloads on first use, and
gplearn is not a dependency: neither is used.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._table import format_table


@dataclass(frozen=True)
class Formula:
    """One fitted expression ``intercept + Σ coefficient_i · term_i``."""

    terms: tuple[str, ...]
    coefficients: tuple[float, ...]
    intercept: float
    r2: float
    complexity: int
    score: float

    @property
    def expression(self) -> str:
        parts = [f"{c:.4g} * {t}" for c, t in zip(self.coefficients, self.terms)]
        if self.intercept != 0.0:
            parts.append(f"{self.intercept:.4g}")
        return " + ".join(parts).replace("+ -", "- ")

    def __str__(self) -> str:
        return self.expression


@dataclass(frozen=True)
class SymbolicFit:
    """The ranked formulas of one target (best first)."""

    formulas: tuple[Formula, ...]
    n_samples: int
    n_terms_searched: int

    @property
    def best(self) -> Formula:
        return self.formulas[0]

    def table(self, top: int | None = None) -> str:
        rows = [[f.expression, f"{f.r2:.4f}", str(f.complexity), f"{f.score:.4f}"]
                for f in self.formulas[:top]]
        return format_table(rows, ["formula", "R²", "complexity", "score"])


# name template, function, complexity added, domain check on the raw column
_Primitive = tuple[str, Callable[[np.ndarray], np.ndarray], int, Callable[[np.ndarray], bool]]


def _always(_v: np.ndarray) -> bool:
    return True


def _positive(v: np.ndarray) -> bool:
    return bool(np.all(v > 0))


def _non_negative(v: np.ndarray) -> bool:
    return bool(np.all(v >= 0))


def _away_from_zero(v: np.ndarray) -> bool:
    return bool(np.min(np.abs(v)) > 1e-3 * np.max(np.abs(v)))


def _angle_like(v: np.ndarray) -> bool:
    """sin / cos only of angles (|v| <= 2π): the cosine of a length in mm is no formula."""
    return bool(np.max(np.abs(v)) <= 2 * np.pi + 1e-9)


def _moderate(v: np.ndarray) -> bool:
    return bool(np.max(np.abs(v)) < 20)


PRIMITIVES: tuple[_Primitive, ...] = (
    ("{}", lambda v: v, 0, _always),
    ("{}^2", lambda v: v * v, 1, _always),
    ("{}^3", lambda v: v * v * v, 1, _always),
    ("sqrt({})", np.sqrt, 1, _non_negative),
    ("log({})", np.log, 1, _positive),
    ("1/{}", lambda v: 1.0 / v, 1, _away_from_zero),
    ("sin({})", np.sin, 1, _angle_like),
    ("cos({})", np.cos, 1, _angle_like),
    ("exp({})", np.exp, 1, _moderate),
)


def _check_inputs(target: ArrayLike, variables: Mapping[str, ArrayLike]
                  ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    if not isinstance(variables, Mapping) or not variables:
        msg = "variables must be a non-empty mapping name -> (N,) array"
        raise TypeError(msg)
    y = np.asarray(target, dtype=np.float64)
    if y.ndim != 1:
        msg = f"target must be one-dimensional (one neuron), got shape {y.shape}"
        raise ValueError(msg)
    if not np.isfinite(y).all():
        msg = "target contains NaN or inf"
        raise ValueError(msg)
    if y.std() == 0:
        msg = "target is constant (a dead neuron): nothing to fit"
        raise ValueError(msg)
    out = {}
    for name, v in variables.items():
        if not isinstance(name, str) or not name.isidentifier():
            msg = f"variables: name {name!r} must be an identifier (it appears in formulas)"
            raise ValueError(msg)
        a = np.asarray(v, dtype=np.float64)
        if a.shape != y.shape:
            msg = f"variables[{name!r}] has shape {a.shape}, the target {y.shape}"
            raise ValueError(msg)
        if not np.isfinite(a).all():
            msg = f"variables[{name!r}] contains NaN or inf"
            raise ValueError(msg)
        out[name] = a
    return y, out


def _terms(variables: dict[str, np.ndarray], products: bool
           ) -> tuple[list[str], list[int], np.ndarray]:
    names: list[str] = []
    cplx: list[int] = []
    cols: list[np.ndarray] = []
    owner: list[str] = []
    for vname, v in variables.items():
        for template, fn, c, ok in PRIMITIVES:
            if not ok(v):
                continue
            with np.errstate(all="ignore"):
                t = fn(v)
            if not np.isfinite(t).all() or t.std() == 0:
                continue
            names.append(template.format(vname))
            cplx.append(1 + c)
            cols.append(t)
            owner.append(vname)
    n_single = len(names)
    if products:
        for i in range(n_single):
            for j in range(i + 1, n_single):
                if owner[i] == owner[j]:
                    continue
                t = cols[i] * cols[j]
                if not np.isfinite(t).all() or t.std() == 0:
                    continue
                names.append(f"{names[i]}*{names[j]}")
                cplx.append(cplx[i] + cplx[j] + 1)
                cols.append(t)
    return names, cplx, np.stack(cols, axis=1)


def _r2_single(y: np.ndarray, terms: np.ndarray) -> np.ndarray:
    """R² of ``y ≈ c0 + c1·t`` for every column t: the squared correlation."""
    yc = (y - y.mean()) / y.std()
    tc = terms - terms.mean(axis=0)
    sd = tc.std(axis=0)
    return np.clip((yc @ tc / len(y) / sd) ** 2, 0.0, 1.0)


def _lstsq(y: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, float]:
    a = np.column_stack([np.ones(len(y)), cols])
    coef, *_ = np.linalg.lstsq(a, y, rcond=None)
    res = y - a @ coef
    return coef, float(1.0 - res @ res / ((y - y.mean()) @ (y - y.mean())))


def _pairs(y: np.ndarray, terms: np.ndarray, r2: np.ndarray, cplx: np.ndarray, penalty: float,
           n_first: int) -> list[tuple[float, tuple[int, ...]]]:
    """Exact R² of ``c0 + c1·t_a + c2·t_b`` for the ``n_first`` best single terms a and
    every term b (the gain of b is its squared correlation with the residual of y
    after a, both orthogonalised against a), scored with the complexity penalty."""
    yc = y - y.mean()
    ss = float(yc @ yc)
    tc = terms - terms.mean(axis=0)
    norm2 = np.einsum("ij,ij->j", tc, tc)
    out: list[tuple[float, tuple[int, ...]]] = []
    for a in np.argsort(-(r2 - penalty * cplx), kind="stable")[:n_first]:
        ta = tc[:, a]
        res = yc - ta * (ta @ yc) / norm2[a]
        proj = ta @ tc / norm2[a]
        num = res @ tc - (res @ ta) * proj          # res . (t_b - proj_b t_a)
        den = norm2 - proj * proj * norm2[a]        # |t_b - proj_b t_a|^2
        with np.errstate(divide="ignore", invalid="ignore"):
            gain = np.where(den > 1e-9 * norm2, num * num / (den * ss), 0.0)
        total = np.clip(r2[a] + gain, 0.0, 1.0) - penalty * (cplx[a] + cplx + 1)
        total[a] = -np.inf
        for b in np.argsort(-total, kind="stable")[:5]:
            out.append((float(total[b]), tuple(sorted((int(a), int(b))))))
    return out


def symbolic_fit(target: ArrayLike, variables: Mapping[str, ArrayLike], *,
                 max_terms: int = 2, products: bool = True, complexity_penalty: float = 0.002,
                 top: int = 10, n_pairs_from: int = 40, max_samples: int = 5000,
                 seed: int = 0) -> SymbolicFit:
    """The formulas of ``variables`` that best reproduce ``target``, best first.

    Parameters
    ----------
    target : (N,) array
        A neuron's activation over the hits.
    variables : mapping name -> (N,) array
        The hit and track variables (r, z, η, θ, ρ, φ, pT, ...); names must be
        identifiers, they appear in the formulas.
    max_terms : 1 or 2
        Terms per formula besides the intercept.
    products : bool
        Also search products of two primitives of different variables.
    complexity_penalty : float
        Subtracted from R² per node of the expression (variable, unary operator,
        product, each extra term); the ranking key is ``R² - penalty · complexity``.
    n_pairs_from : int
        Two-term formulas pair each of the ``n_pairs_from`` best single terms with
        every term.
    max_samples : int
        The search runs on at most this many samples (drawn with ``seed``); the
        reported coefficients and R² are refitted on all samples.
    """
    if max_terms not in (1, 2):
        msg = f"max_terms (={max_terms!r}) must be 1 or 2"
        raise ValueError(msg)
    if complexity_penalty < 0:
        msg = f"complexity_penalty (={complexity_penalty}) must be >= 0"
        raise ValueError(msg)
    for field, value in (("top", top), ("n_pairs_from", n_pairs_from),
                         ("max_samples", max_samples)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
            msg = f"{field} must be an int, got {type(value).__name__}"
            raise TypeError(msg)
        if value < 1:
            msg = f"{field} (={value}) must be >= 1"
            raise ValueError(msg)
    y, vars_ = _check_inputs(target, variables)
    names, cplx_list, terms = _terms(vars_, products)
    cplx = np.asarray(cplx_list)
    n = len(y)
    sub = np.random.default_rng(seed).choice(n, max_samples, replace=False) \
        if n > max_samples else np.arange(n)
    ys, ts = y[sub], terms[sub]
    r2 = _r2_single(ys, ts)
    candidates: list[tuple[float, tuple[int, ...]]] = [
        (float(r2[i] - complexity_penalty * cplx[i]), (i,)) for i in range(len(names))]
    if max_terms == 2:
        candidates += _pairs(ys, ts, r2, cplx, complexity_penalty, n_pairs_from)
    candidates = sorted(dict((idx, sc) for sc, idx in candidates).items(), key=lambda c: -c[1])
    formulas = []
    for idx, _ in candidates[:top]:
        coef, r2_all = _lstsq(y, terms[:, list(idx)])
        c = int(sum(cplx[i] for i in idx) + len(idx) - 1)
        formulas.append(Formula(tuple(names[i] for i in idx), tuple(float(x) for x in coef[1:]),
                                float(coef[0]), r2_all, c, r2_all - complexity_penalty * c))
    formulas.sort(key=lambda f: -f.score)
    return SymbolicFit(tuple(formulas), n, len(names))


def evaluate_formula(formula: Formula, variables: Mapping[str, ArrayLike]) -> NDArray[np.float64]:
    """The formula's value on ``variables`` (the same names as the fit)."""
    if not isinstance(formula, Formula):
        msg = f"formula must be a Formula, got {type(formula).__name__}"
        raise TypeError(msg)
    vars_ = {k: np.asarray(v, dtype=np.float64) for k, v in variables.items()}
    n = len(next(iter(vars_.values())))
    out = np.full(n, formula.intercept)
    funcs = {template.split("{}")[0] + "|" + template.split("{}")[1]: fn
             for template, fn, _, _ in PRIMITIVES}
    for coef, term in zip(formula.coefficients, formula.terms):
        value = np.ones(n)
        for factor in term.split("*"):
            for key, fn in funcs.items():
                pre, post = key.split("|")
                inner = factor[len(pre): len(factor) - len(post) or None]
                if factor.startswith(pre) and factor.endswith(post) and inner in vars_:
                    value = value * fn(vars_[inner])
                    break
            else:
                msg = f"formula term {factor!r}: unknown variable or operator"
                raise ValueError(msg)
        out += coef * value
    return out


__all__ = ["PRIMITIVES", "Formula", "SymbolicFit", "evaluate_formula", "symbolic_fit"]
