from __future__ import annotations

import numpy as np
import pytest

from helixkit.evaluation import (
    binned_resolution,
    charge_misid_rate,
    clipped_std,
    gaussian_lsq_fit,
    gaussian_ml,
    quantile_width,
    shortest_interval,
)


@pytest.fixture
def gauss_with_outliers(rng):
    core = rng.normal(0.3, 2.0, 20000)
    outliers = rng.uniform(-200, 200, 600)  # 3 % far tails
    return np.concatenate([core, outliers])


def test_clipping_recovers_sigma_despite_outliers(gauss_with_outliers):
    # the plain std is ruined by the tails; 3-sigma clipping gets back to ~2
    assert np.std(gauss_with_outliers) > 10
    # clipping at 3 sigma removes 0.27 % of the core too: std shrinks by ~1.3 %
    assert clipped_std(gauss_with_outliers) == pytest.approx(2.0 * 0.987, rel=0.03)


def test_quantile_method_on_known_distributions(rng):
    x = rng.normal(0, 1.5, 400_000)
    assert quantile_width(x, n_sigma=2.0) == pytest.approx(1.5, rel=0.02)
    # a uniform on [-1, 1]: quantiles at +-1 sigma-equivalent are +-0.6827
    u = rng.uniform(-1, 1, 400_000)
    assert quantile_width(u, n_sigma=1.0) == pytest.approx(0.6827, rel=0.01)


def test_gaussian_fits_and_shortest_interval(rng):
    x = rng.normal(1.0, 0.5, 50_000)
    mu, s = gaussian_ml(x)
    assert (mu, s) == (pytest.approx(1.0, abs=0.01), pytest.approx(0.5, rel=0.01))
    mu, s = gaussian_lsq_fit(x)
    assert (mu, s) == (pytest.approx(1.0, abs=0.02), pytest.approx(0.5, rel=0.03))
    lo, hi, half = shortest_interval(x)
    assert half == pytest.approx(0.5, rel=0.02)
    assert lo < 1.0 < hi


def test_binned_and_charge():
    rng = np.random.default_rng(1)
    pt = rng.uniform(1, 10, 30_000)
    res = rng.normal(0, 1, 30_000) * 0.01 * pt  # width grows with pT
    b = binned_resolution(res, pt, [1, 4, 7, 10])
    assert np.all(np.diff(b.width) > 0)
    assert b.counts.sum() == 30_000
    assert charge_misid_rate([1, -1, 1, 1], [1, 1, 1, -1]) == 0.5
    with pytest.raises(ValueError, match="method"):
        binned_resolution(res, pt, [1, 10], method="nope")
    with pytest.raises(ValueError, match="empty"):
        clipped_std([])
    with pytest.raises(ValueError, match="NaN"):
        quantile_width([1.0, np.nan])
