"""Hashing vs standard seeding on ACTS's own simulation (needs pyacts).

Fatras muons in ACTS's GenericDetector (one vertex per event, pT 0.5-10 GeV,
|eta| < 2.5), pixel measurements turned into global space points; seeding
config: ACTS's generic-detector example (as the ACTS parity test in
tests/python/test_seeding.py) with maxSeedsPerSpM 1 and 5; hashing at m = 1
with the given (bucket_size, phi_bins) pairs. Efficiency: particles with
pT > 1 GeV and >= 3 pixel space points that have a seed made of three of their
own space points. Single-threaded; time = one run per event, mean over events.

    PYTHONPATH=python python scripts/hashing_fatras_check.py --muons 8000 \
        --configs '[[150, 400], [200, 800]]'
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from helixkit import seeding
from helixkit import units as u
from helixkit.fitting import acts_reference as ar
from helixkit.seeding.hashing import HashingConfig, find_seeds_hashing


def seed_config(m: int) -> seeding.SeedFinderConfig:
    return seeding.SeedFinderConfig(
        r_max=200 * u.mm, delta_r_min=1 * u.mm, delta_r_max=60 * u.mm,
        collision_region_min=-250 * u.mm, collision_region_max=250 * u.mm,
        z_min=-2000 * u.mm, z_max=2000 * u.mm, max_seeds_per_spm=m, sigma_scattering=5,
        rad_length_per_seed=0.1, min_pt=500 * u.MeV, impact_max=3 * u.mm,
        cot_theta_max=7.40627, b_field_z=2 * u.T)


def pixel_events(n_events: int, muons: int, seed: int) -> list[tuple[np.ndarray, ...]]:
    """(x, y, z, track index per space point, selected-track mask) per event."""
    data = ar.run_acts_truth_tracking(n_events=n_events, muons_per_event=muons, seed=seed)
    volume = ((data.geometry_id.astype(np.uint64) >> np.uint64(56)) & np.uint64(0xFF)).astype(int)
    pos = (data.center + data.rotation[:, :, 0] * data.measurement[:, :1]
           + data.rotation[:, :, 1] * data.measurement[:, 1:2])
    ntr = np.diff(data.track_offsets)
    track_of = np.repeat(np.arange(len(ntr)), ntr)
    event_of = data.event[track_of]
    out = []
    for e in np.unique(event_of):
        sel = (event_of == e) & np.isin(volume, (7, 8, 9))  # pixel volumes
        p = pos[sel].astype(np.float32)
        tid = track_of[sel]
        npix = np.bincount(tid, minlength=len(ntr))
        good = (data.true_pt > 1.0) & (data.event == e) & (npix >= 3)
        out.append((p[:, 0].copy(), p[:, 1].copy(), p[:, 2].copy(), tid, good))
    return out


def evaluate(events: list[tuple[np.ndarray, ...]], run) -> tuple[float, float, float]:
    """(efficiency, seeds per event, ms per event)."""
    found = n_sel = n_seeds = 0
    times = []
    for x, y, z, tid, good in events:
        t0 = time.perf_counter()
        res = run(x, y, z)
        times.append(time.perf_counter() - t0)
        tr = res.triplets
        own = (tid[tr[:, 0]] == tid[tr[:, 1]]) & (tid[tr[:, 1]] == tid[tr[:, 2]])
        has = np.zeros(len(good), bool)
        has[tid[tr[own, 0]]] = True
        found += int((has & good).sum())
        n_sel += int(good.sum())
        n_seeds += len(tr)
    return found / n_sel, n_seeds / len(events), 1e3 * float(np.mean(times))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=2)
    ap.add_argument("--muons", type=int, default=8000, help="muons per event")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--configs", default="[[150, 400], [200, 800]]",
                    help="JSON list of [bucket_size, phi_bins] for hashing")
    args = ap.parse_args()
    events = pixel_events(args.events, args.muons, args.seed)
    print(f"pixel space points/event {np.mean([len(e[0]) for e in events]):.0f}, "
          f"selected particles/event {np.mean([e[4].sum() for e in events]):.0f}")
    print("| method | m | bucket_size | phi_bins | efficiency | seeds/event | ms/event |")
    print("|---|---|---|---|---|---|---|")
    for m in (1, 5):
        cfg = seed_config(m)
        eff, spe, ms = evaluate(events, lambda x, y, z, c=cfg: seeding.find_seeds(x, y, z, c, n_threads=1))
        print(f"| standard | {m} | | | {eff:.4f} | {spe:.0f} | {ms:.1f} |", flush=True)
    cfg1 = seed_config(1)
    for k, pb in json.loads(args.configs):
        h = HashingConfig(bucket_size=int(k), phi_bins=int(pb))
        eff, spe, ms = evaluate(events, lambda x, y, z, h=h: find_seeds_hashing(x, y, z, cfg1, h, 1))
        print(f"| hashing | 1 | {k} | {pb} | {eff:.4f} | {spe:.0f} | {ms:.1f} |", flush=True)


if __name__ == "__main__":
    main()
