"""ACTS's CKF chain vs helixkit's on the same ACTS GenericDetector events (pyacts)."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("acts.examples")

from helixkit.finding import acts_reference as far


@pytest.fixture(scope="module")
def run():
    return far.run_acts_ckf_chain(n_events=2, particles_per_event=200, seed=5)


@pytest.fixture(scope="module")
def cmp(run):
    return far.compare_chains(run, n_threads=1)


def test_events_and_acts_tracks(run):
    assert far.acts_available()
    assert run.n_events == 2
    assert len(run.acts_tracks) == len(run.n_seeds) == 2
    for ev, tr, n_seeds, seeds in zip(run.events, run.acts_tracks, run.n_seeds, run.seeds,
                                      strict=True):
        assert ev.geometry is None
        assert ev.has_truth
        assert set(np.unique(ev.hits["volume_id"])) <= {7, 8, 9, 12, 13, 14, 16, 17, 18}
        # the muons (primaries) and every particle that left a measurement
        pid = ev.truth["particle_id"]
        assert np.isin(pid[pid != 0], ev.particles["particle_id"]).all()
        assert int(ev.particles["primary"].sum()) == 200
        # a measurement lies within a few sigma of its sim hit (long strips: 3.1 mm along)
        d = np.hypot(ev.hits["x"] - ev.truth["tx"], ev.hits["y"] - ev.truth["ty"])
        assert np.nanmedian(d) < 0.1
        assert n_seeds == len(seeds) > 200
        for key in ("ckf", "ambi"):
            t = tr[key]
            n = len(t["offsets"]) - 1
            assert n >= 180
            assert len(t["pt"]) == len(t["eta"]) == n
            assert t["offsets"][-1] == len(t["hits"])
            assert (np.diff(t["offsets"]) >= 7).all()
            assert t["hits"].max() < ev.n_hits
            # innermost first
            r = np.hypot(ev.hits["x"][t["hits"]], ev.hits["y"][t["hits"]])
            first, last = r[t["offsets"][:-1]], r[t["offsets"][1:] - 1]
            assert (first < last).mean() > 0.99
        assert len(tr["ambi"]["pt"]) <= len(tr["ckf"]["pt"])
    assert run.timing["TrackFindingAlgorithm"] > 0


def test_acts_efficiency_and_comparison(cmp):
    m = cmp["metrics"]
    for key in ("acts_ckf", "acts_ambi"):
        assert m[key]["efficiency"] > 0.9, (key, m[key])
        assert m[key]["fake_rate"] < 0.05, (key, m[key])
    assert m["acts_ambi"]["duplicate_rate"] <= m["acts_ckf"]["duplicate_rate"]
    for key in ("helixkit_ckf", "helixkit"):
        for q in ("efficiency", "fake_rate", "duplicate_rate"):
            assert math.isfinite(m[key][q]), (key, q)
    assert m["acts_ckf"]["n_particles"] == m["helixkit"]["n_particles"] > 300
    for side in ("acts", "helixkit"):
        ms = cmp["ms_per_event"][side]
        assert ms["ckf"] > 0, (side, ms)
        assert math.isfinite(ms["chain"]), (side, ms)
    for v in cmp["ratio_helixkit_over_acts"].values():
        assert math.isfinite(v)
        assert v > 0
    assert cmp["surfaces"] == "module planes"
    # parity on ACTS's module planes (small sample: within 1 %, 3093 particles: 0.04 %)
    assert m["helixkit"]["efficiency"] >= m["acts_ambi"]["efficiency"] - 0.01, m
    assert m["helixkit_on_acts_seeds"]["efficiency"] >= m["acts_ambi"]["efficiency"] - 0.01, m
    assert m["helixkit"]["fake_rate"] <= m["acts_ambi"]["fake_rate"] + 0.005, m
    assert cmp["mean_measurements"]["helixkit"] > cmp["mean_measurements"]["acts_ambi"] - 0.3
    # the seeding sees ACTS's space-point variances (finding.seeding_variances): the same seeds
    assert cmp["n_seeds"]["acts_found_by_helixkit"] >= 0.999, cmp["n_seeds"]
    # no more duplicates before ambiguity resolution than ACTS (overlaps before the seed hits)
    assert m["helixkit_ckf"]["duplicate_rate"] <= m["acts_ckf"]["duplicate_rate"] + 0.005, m


def test_space_point_variances_are_acts(run):
    from helixkit.finding import detector_for, space_point_variances

    for ev, sp in zip(run.events, run.spacepoints, strict=True):
        det = detector_for(ev, modules=run.modules, passive=run.passive)
        vr, vz = space_point_variances(det, ev.hits["x"], ev.hits["y"])
        m = sp["measurement"]
        np.testing.assert_allclose(vr[m], sp["var_r"], rtol=2e-3, atol=1e-12)
        np.testing.assert_allclose(vz[m], sp["var_z"], rtol=2e-3, atol=1e-9)


def test_seeds_on_derived_surfaces_are_acts(run):
    # without module frames the space points get the measurements' own variances on the
    # derived layers (not the layer-depth spread the CKF adds): still ACTS's seeds
    from helixkit.finding import reconstruct

    for ev, seeds in zip(run.events, run.seeds, strict=True):
        tr = reconstruct(ev, n_threads=1)
        assert far._seed_agreement(seeds, tr.info["seeds"]) >= 0.995  # noqa: SLF001
