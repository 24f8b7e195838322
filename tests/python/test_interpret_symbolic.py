"""Symbolic fits of a neuron (issue 30): the built-in search recovers known formulas."""

from __future__ import annotations

import numpy as np
import pytest
from helixkit.interpret.symbolic import evaluate_formula, symbolic_fit


def _hits(n=6000, seed=1):
    rng = np.random.default_rng(seed)
    r = rng.uniform(30, 1000, n)
    z = rng.uniform(-2000, 2000, n)
    theta = np.arctan2(r, z)
    return {"r": r, "z": z, "theta": theta, "eta": -np.log(np.tan(theta / 2)),
            "rho": rng.uniform(1, 1000, n), "phi": rng.uniform(-np.pi, np.pi, n)}


def test_recovers_the_seed_formula():
    v = _hits()
    y = np.sin(v["theta"]) * 0.035 * np.sqrt(v["rho"])
    fit = symbolic_fit(y, v)
    best = fit.best
    assert best.terms == ("sin(theta)*sqrt(rho)",), fit.table(5)
    assert best.coefficients[0] == pytest.approx(0.035, rel=1e-9)
    assert abs(best.intercept) < 1e-9
    assert best.r2 == pytest.approx(1.0, abs=1e-12)
    assert np.allclose(evaluate_formula(best, v), y)


def test_recovers_a_two_term_formula_under_noise():
    v = _hits(seed=2)
    rng = np.random.default_rng(3)
    y = 2e-6 * v["r"] ** 2 + 0.5 * np.cos(v["phi"]) + 0.3 + 0.01 * rng.normal(size=len(v["r"]))
    best = symbolic_fit(y, v, max_samples=3000).best
    assert set(best.terms) == {"r^2", "cos(phi)"}
    coef = dict(zip(best.terms, best.coefficients))
    assert coef["r^2"] == pytest.approx(2e-6, rel=0.01)
    assert coef["cos(phi)"] == pytest.approx(0.5, rel=0.01)
    assert best.intercept == pytest.approx(0.3, abs=0.01)
    assert 0.99 < best.r2 < 1.0


def test_unrelated_target_has_low_r2():
    v = _hits(seed=4)
    y = np.random.default_rng(5).normal(size=len(v["r"]))
    assert symbolic_fit(y, v, max_terms=1).best.r2 < 0.01


def test_bad_input():
    v = _hits(n=100)
    with pytest.raises(ValueError, match="constant"):
        symbolic_fit(np.ones(100), v)
    with pytest.raises(ValueError, match=r"variables\['r'\] has shape"):
        symbolic_fit(np.arange(100.0), {**v, "r": np.ones(5)})
    with pytest.raises(ValueError, match="NaN"):
        symbolic_fit(np.r_[np.nan, np.arange(99.0)], v)
    with pytest.raises(ValueError, match="max_terms"):
        symbolic_fit(np.arange(100.0), v, max_terms=3)
    with pytest.raises(TypeError, match="variables"):
        symbolic_fit(np.arange(100.0), [1, 2])
    with pytest.raises(TypeError, match="top"):
        symbolic_fit(np.arange(100.0), v, top=1.5)


def test_sin_and_cos_only_of_angles():
    v = _hits(n=500, seed=6)
    y = np.cos(v["phi"]) + 1e-3 * v["z"]
    terms = {t for f in symbolic_fit(y, v, top=200).formulas for t in f.terms}
    assert "cos(phi)" in terms
    assert not any(t.startswith(("sin(z", "cos(z", "sin(r", "cos(r")) or "*sin(r" in t
                   or "*cos(z" in t for t in terms)
