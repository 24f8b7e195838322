"""The CKF's own track parameters against the refit's: pull widths and chi2/ndf.

    PYTHONPATH=python python benchmarks/ckf_pulls.py [acts]

Built-in simulation: truth seeds on two <mu> = 60 events (no noise), primary particles
with pT > 1 GeV, tracks with >= 7 measurements, pulls against the particle's true
perigee. With ``acts`` (needs pyacts): the pure tracks of ``reconstruct`` on 3 Fatras
GenericDetector events x 1000 muons (ACTS's module planes) against their particles.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from helixkit import finding, fitting
from helixkit.data.simulation import simulate_event


def _truth_seeds(ev):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "python"))
    from test_finding import _truth_seeds as seeds

    return seeds(ev)


def _truth_perigee(parts, b_field_z: float) -> np.ndarray:
    return fitting.perigee_from_momenta(
        np.stack([parts["vx"], parts["vy"], parts["vz"]], 1),
        np.stack([parts["px"], parts["py"], parts["pz"]], 1), parts["q"],
        b_field_z=b_field_z)[0]


def _pull(tr, k: int, truth: np.ndarray) -> np.ndarray:
    d = tr.params[k] - truth
    d[2] = (d[2] + np.pi) % (2 * np.pi) - np.pi
    return d / np.sqrt(np.diag(tr.cov[k]))


def _row(label: str, pulls: dict, chi2: dict) -> str:
    w = {f: " ".join(f"{x:.2f}" for x in np.std(pulls[f], axis=0)) for f in pulls}
    return (f"| {label} ({len(pulls[True])} tracks) | {w[False]} | {w[True]} | "
            f"{np.mean(chi2[False]):.3f} / {np.mean(chi2[True]):.3f} |")


def simulation(seed: int) -> str:
    ev = simulate_event(mu=60, seed=seed, noise_fraction=0.0)
    seeds, owner = _truth_seeds(ev)
    cfg = finding.CkfConfig(seed_deduplication=False,
                            selector=finding.TrackSelectorConfig(n_measurements_min=3))
    parts = ev.particles
    prow = {int(p): i for i, p in enumerate(parts["particle_id"])}
    pt = np.hypot(parts["px"], parts["py"])
    truth = _truth_perigee(parts, ev.geometry.b_field_z)
    pulls, chi2 = {}, {}
    for fit in (False, True):
        tr = finding.find_tracks_ckf(ev, seeds, config=cfg, fit=fit)
        pulls[fit], chi2[fit] = [], []
        for k in range(len(tr)):
            i = prow[int(owner[tr.seed[k]])]
            if (pt[i] < 1.0 or not parts["primary"][i] or tr.status[k] != 0
                    or len(tr.track_hits(k, outliers=False)) < 7):
                continue
            pulls[fit].append(_pull(tr, k, truth[i]))
            chi2[fit].append(tr.chi2[k] / tr.ndf[k])
    return _row(f"simulation, event {seed}", pulls, chi2)


def acts_events() -> str:
    from helixkit import units as u
    from helixkit.finding import acts_reference as far

    run = far.run_acts_ckf_chain(n_events=3, particles_per_event=1000, seed=1)
    extra = {"modules": run.modules, "passive": run.passive}
    pulls, chi2 = {False: [], True: []}, {False: [], True: []}
    for ev in run.events:
        pid = ev.truth["particle_id"]
        parts = ev.particles
        prow = {int(p): i for i, p in enumerate(parts["particle_id"])}
        truth = _truth_perigee(parts, 2.0 * u.T)
        for refit in (False, True):
            tr = finding.reconstruct(ev, refit=refit, **extra)
            for k in range(len(tr)):
                h = tr.track_hits(k, outliers=False)
                v, c = np.unique(pid[h], return_counts=True)
                if c.max() < len(h) or int(v[c.argmax()]) not in prow:
                    continue  # pure tracks only
                pulls[refit].append(_pull(tr, k, truth[prow[int(v[c.argmax()])]]))
                chi2[refit].append(tr.chi2[k] / tr.ndf[k])
    return _row("ACTS GenericDetector, 3 x 1000 muons", pulls, chi2)


def main() -> None:
    print("| pull width (d0, z0, phi, theta, q/p) | CKF's own | refit | chi2/ndf mean, CKF / refit |")
    print("|---|---|---|---|")
    for seed in (7, 8):
        print(simulation(seed), flush=True)
    if "acts" in sys.argv[1:]:
        print(acts_events())


if __name__ == "__main__":
    main()
