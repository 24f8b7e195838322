"""DeepCore's baseline (clusters → space points → triplet seeds, JetCore-like splitting) and
the jet-core seeding evaluation."""

from __future__ import annotations

import numpy as np
import pytest
from helixkit.deepcore import (
    jetcore_split,
    scored_particles,
    seed_baseline,
    seed_deepcore,
    simulate_jets,
    space_points,
    triplet_seeds,
)
from helixkit.deepcore.evaluate import match_crossings


@pytest.fixture(scope="module")
def events():
    return simulate_jets(12, jet_pt=(1500.0, 3000.0), seed=11)


def test_space_points_sit_on_the_true_crossings(events):
    ev = events[0]
    sp = space_points(ev)
    cr = ev.crossings
    single = (sp.n_particles == 1) & (sp.particle_id > 0)
    # a single-particle cluster's centroid is within a pixel or so of its particle's crossing
    key = np.asarray(cr["particle_id"]) * 10_000 + np.asarray(cr["module"])
    order = np.argsort(key)
    at = np.searchsorted(key[order], sp.particle_id[single] * 10_000 + sp.module[single])
    at = order[np.minimum(at, len(key) - 1)]
    d = np.hypot(np.asarray(cr["row"])[at] - sp.row[single],
                 (np.asarray(cr["col"])[at] - sp.col[single]) * 1.5)
    assert np.median(d) < 1.0
    assert set(np.unique(sp.layer)) <= {0, 1, 2, 3}


def test_jetcore_splitting_turns_merged_clusters_into_more_points(events):
    ev = events[0]
    sp, js = space_points(ev), jetcore_split(ev)
    assert len(js) > len(sp) and js.split.any()
    assert np.isclose(js.charge.sum(), sp.charge.sum())       # charge is shared, not made
    with pytest.raises(ValueError, match="delta_r"):
        jetcore_split(ev, delta_r=0.0)


def test_seeds_and_efficiencies(events):
    seeds = triplet_seeds(space_points(events[0]), n_threads=1)
    assert seeds.ndim == 2 and seeds.shape[1] == 3 and len(seeds) > 10
    std, jc = seed_baseline(events), seed_baseline(events, split=True)
    s, j = std.summary(10.0), jc.summary(10.0)
    assert s["particles"] > 50
    # dense cores lose tracks to merged clusters; splitting wins part of them back
    assert s["efficiency"] < 0.9
    assert j["efficiency"] > s["efficiency"] + 0.05


def test_truth_crossings_as_predictions_find_nearly_everything(events):
    """An oracle DeepCore (the true crossing targets as its output) finds >= 90 % of the
    scored particles with few fakes: the windows, merging and matching are consistent."""
    def oracle(win):
        n, k, i, j = np.nonzero(win.tcp > 0.5)
        return {"window": n, "row": i + win.params[n, k, 0, i, j],
                "col": j + win.params[n, k, 1, i, j], "prob": np.ones(len(n))}
    r = seed_deepcore(events, oracle).summary(1.0)
    assert r["efficiency"] > 0.9 and r["fake_rate"] < 0.15

    def shifted(win):
        out = oracle(win)
        out["row"] = out["row"] + 20.0              # 20 pixels off: (almost) nothing matches
        return out
    assert seed_deepcore(events, shifted).summary(1.0)["efficiency"] < 0.05


def test_matching_is_one_to_one():
    sc = {"particle_id": np.array([1, 2]), "module": np.array([7, 7]),
          "row": np.array([10.0, 10.4]), "col": np.array([5.0, 5.0])}
    found, fake, dup = match_crossings(sc, np.array([7, 7, 7, 3]),
                                       np.array([10.1, 10.2, 30.0, 10.0]),
                                       np.array([5.0, 5.0, 5.0, 5.0]))
    assert found.all() and fake == 2 and dup == 0
    found, fake, dup = match_crossings(sc, np.array([7]), np.array([10.2]), np.array([5.0]))
    assert found.sum() == 1 and fake == 0


def test_scored_particles_are_jet_core_particles(events):
    ev = events[0]
    sc = scored_particles(ev, min_pt=1.0)
    assert (sc["pt"] >= 1.0).all() and (sc["delta_r"] <= 0.1).all() and len(sc["pt"]) > 5


def _oracle(win):
    """The true targets as the network's output, with the direction and pT."""
    n, k, i, j = np.nonzero(win.tcp > 0.5)
    p = win.params[n, k, :, i, j]
    return {"window": n, "row": i + p[:, 0], "col": j + p[:, 1], "prob": np.ones(len(n)),
            "slot": k.astype(np.int8), "deta": p[:, 2], "dphi": p[:, 3], "pt": p[:, 4]}


def test_merged_clusters_are_where_the_standard_seeding_loses(events):
    std = seed_baseline(events)
    assert std.merged is not None and 0.05 < std.merged.mean() < 0.9
    iso = std.summary(10.0, merged=False)["efficiency"]
    mer = std.summary(10.0, merged=True)["efficiency"]
    assert iso > mer + 0.3                # merged clusters break the triplets
    assert std.n_duplicate >= 0
    # a particle flagged merged shares its cluster: its cluster holds >= 2 particles
    ev = events[0]
    sc = scored_particles(ev)
    cl = ev.clusters()
    n_part = ev.cluster_particles(cl)
    assert (n_part >= 2).any() and sc["merged"].any() and not sc["merged"].all()


def test_oracle_seeds_carry_the_true_point_direction_and_charge(events):
    r = seed_deepcore(events, _oracle)
    t, seeds = r.residuals, r.seeds
    assert t is not None and seeds is not None and seeds.n_rows == r.n_seeds
    # exact, but for the few particles whose nearest crossing is a neighbour's (a 4th
    # particle in a pixel has no slot; crossings within 0.75 pixels are merged)
    exact = (np.abs(t["d_row"]) < 1e-4) & (np.abs(t["d_col"]) < 1e-4)
    assert exact.mean() > 0.9
    for c in ("d_eta", "d_phi"):
        assert np.abs(t[c][exact]).max() < 1e-4, c
    # (the target is the pT at the crossing, the particle's is at production)
    np.testing.assert_allclose(t["pt_pred"][exact], t["pt"][exact], rtol=1e-2)
    # the seed's point is the particle's true BPIX2 crossing in global coordinates
    ev = events[0]
    cr = ev.crossings
    on2 = np.asarray(cr["layer"]) == 1
    mine = seeds["event"] == ev.event_id
    d = np.min(np.hypot(seeds["x"][mine][:, None] - cr["x"][on2][None, :],
                        seeds["y"][mine][:, None] - cr["y"][on2][None, :]), axis=1)
    assert np.median(d) < 1e-3
    # the charge from the bending is right for the softer tracks (the bend is large)
    soft = exact & (t["pt"] < 20.0)
    q = seeds["q"][t["crossing"]]
    assert soft.sum() > 20 and np.mean(q[soft] == t["q"][soft]) > 0.95
    # jet fragments start at the primary vertex: the seeds' perigee is there too
    near = exact & (t["pt"] > 5.0)
    vz = np.array([e.vertex[2] for e in events])
    z0 = seeds["z0"][t["crossing"][near]]
    assert np.median(np.abs(seeds["d0"][t["crossing"][near]])) < 0.01
    assert np.min(np.abs(z0[:, None] - vz[None, :]), axis=1).max() < 0.05
    assert set(seeds.columns) >= {"x", "y", "z", "eta", "phi", "pt", "q", "d0", "z0",
                                  "phi0", "theta", "qop"}


def test_fakes_exclude_crossings_of_other_particles():
    sc = {"particle_id": np.array([1]), "module": np.array([7]), "row": np.array([10.0]),
          "col": np.array([5.0])}
    others = {"module": np.array([7, 7]), "row": np.array([10.0, 20.0]),
              "col": np.array([5.0, 5.0])}
    mod, row, col = np.array([7, 7, 7, 7]), np.array([10.1, 10.5, 20.2, 25.0]), np.full(4, 5.0)
    found, fake, dup = match_crossings(sc, mod, row, col, others=others)
    # 10.1 finds particle 1, 10.5 duplicates it, 20.2 is another particle's, 25.0 is fake
    assert found.all() and dup == 1 and fake == 1
    found, fake, dup = match_crossings(sc, mod, row, col)
    assert fake == 2 and dup == 1
