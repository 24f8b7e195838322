from __future__ import annotations

import pytest

from helixkit import _core
from helixkit import units as u


def test_python_units_match_native():
    for name in u.__all__:
        assert getattr(_core.units, name) == pytest.approx(getattr(u, name), rel=1e-15), name


def test_helix_radius_convention():
    # ACTS convention: R = pT / (|q| B) in mm with no conversion factor.
    assert 1 * u.GeV / (2 * u.T) == pytest.approx(1667.82, abs=0.01)
    assert u.helix_radius(500 * u.MeV, 2 * u.T) == pytest.approx(833.91, abs=0.01)
    assert 1 * u.cm == 10 * u.mm
    assert 1 * u.T == pytest.approx(1e4 * u.Gauss)


@pytest.mark.parametrize("threads", [1, 2, 3, 8])
def test_parallel_collect_is_thread_count_invariant(threads):
    ref = _core._parallel_collect_check(5003, 11, 1)
    out = _core._parallel_collect_check(5003, 11, threads)
    assert (out == ref).all()
    assert len(ref) == sum(i % 3 for i in range(5003))
