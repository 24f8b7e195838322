"""Permutation importance of features and neurons (issue 30)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
inspection = pytest.importorskip("sklearn.inspection")

from helixkit.interpret import permutation_importance  # noqa: E402


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)
    ).double()


def _r2(out, y):
    out = out.reshape(-1)
    return float(1 - ((out - y) ** 2).sum() / ((y - y.mean()) ** 2).sum())


class _Wrapped:
    """The torch model as a scikit-learn estimator (score = R^2)."""

    def __init__(self, model):
        self.model = model

    def fit(self, X, y):
        return self

    def score(self, X, y):
        with torch.no_grad():
            return _r2(self.model(torch.as_tensor(X)), torch.as_tensor(y))


def test_feature_importance_equals_sklearn():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    model = _model()
    with torch.no_grad():
        y = model(torch.as_tensor(X)).reshape(-1).numpy() + 0.1 * rng.normal(size=300)
    want = inspection.permutation_importance(_Wrapped(model), X, y, n_repeats=4, random_state=7)
    got = permutation_importance(model, X, y, _r2, n_repeats=4, random_state=7)
    np.testing.assert_allclose(got.importances, want.importances, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got.mean, want.importances_mean, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got.std, want.importances_std, rtol=1e-9, atol=1e-14)
    lo, hi = got.interval
    assert (lo <= got.mean).all() and (got.mean <= hi).all()


def test_neuron_importance_finds_the_neuron_the_output_reads():
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.ReLU(), torch.nn.Linear(5, 1))
    with torch.no_grad():
        model[2].weight.zero_()
        model[2].weight[0, 3] = 2.0  # the output reads only neuron 3
        model[0].bias.fill_(0.5)
    x = torch.randn(500, 3)
    with torch.no_grad():
        y = model(x).reshape(-1)

    def loss(out, t):
        return float(((out.reshape(-1) - t) ** 2).mean())

    imp = permutation_importance(
        model, x, y, loss, layer="1", greater_is_better=False, n_repeats=3, random_state=0
    )
    assert imp.ranking()[0] == 3
    assert imp.mean[3] > 0
    np.testing.assert_array_equal(imp.mean[[0, 1, 2, 4]], 0.0)
    # the hook is removed: the model answers as before
    with torch.no_grad():
        assert torch.equal(model(x).reshape(-1), y)
    assert "neuron 3" in imp.table(top=2)


def test_bad_arguments():
    model = _model()
    x = np.zeros((10, 4))
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        permutation_importance(object(), x, None, _r2)
    with pytest.raises(ValueError, match="n_repeats"):
        permutation_importance(model, x, np.zeros(10), _r2, n_repeats=0)
    with pytest.raises(ValueError, match="inputs has 10 samples but target has 9"):
        permutation_importance(model, x, np.zeros(9), _r2)
    with pytest.raises(ValueError, match="layer 'nope'"):
        permutation_importance(model, x, np.zeros(10), _r2, layer="nope")
