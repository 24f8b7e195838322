"""Fixed Kalman-fit workloads for profiling and before/after comparisons.

Not a pytest benchmark: a driver that makes a sample once, fits it (e.g. under
``valgrind --tool=callgrind``) and compares the outputs of two builds::

    PYTHONPATH=python python benchmarks/kf_driver.py make /tmp/kf/toy.npz --kind toy
    PYTHONPATH=python python benchmarks/kf_driver.py make /tmp/kf/acts.npz --kind acts
    PYTHONPATH=python python benchmarks/kf_driver.py fit /tmp/kf/toy.npz --out /tmp/kf/a.npz
    PYTHONPATH=python python benchmarks/kf_driver.py compare /tmp/kf/a.npz /tmp/kf/b.npz

Samples: ``toy`` is bench_fitting.py's toy (10 barrel cylinders, 3 % X0) with
5 passive cylinders (1 % X0) in between; ``acts`` is the ACTS GenericDetector
comparison of bench_fitting_acts.py (planes plus passive cylinders and disks,
needs pyacts). ``fit`` uses the options of those benchmarks (muon mass,
scattering; energy loss for ``acts``); ``--states`` also stores the smoothed states.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from helixkit import fitting
from helixkit import units as u
from helixkit.fitting import _toy
from helixkit.fitting.kalman import default_initial_cov
from helixkit.fitting.surfaces import Surfaces

BZ = 2.0 * u.T
RADII = (32.0, 72.0, 116.0, 172.0, 260.0, 360.0, 500.0, 660.0, 820.0, 1020.0)
PASSIVE = (50.0, 140.0, 310.0, 580.0, 900.0)
SURF_KEYS = ("type", "center", "rotation", "radius", "bounds", "thickness_x0")


def make_toy(n: int, seed: int) -> dict[str, np.ndarray]:
    t = _toy.make_toy_tracks(n, seed=seed, radii=RADII, thickness_x0=0.03, pt_range=(0.5, 10.0),
                             eta_max=1.0, passive_radii=PASSIVE, passive_x0=0.01)
    nl = len(RADII)
    init, _ = fitting.estimate_track_params(t.xyz[0::nl], t.xyz[nl // 2::nl],
                                            t.xyz[nl - 1::nl], b_field_z=BZ)
    icov = default_initial_cov(init)
    off, sid, local, cov, mask = _toy.passive_sequence(t, RADII, PASSIVE)
    s = _toy.barrel_surfaces((*RADII, *PASSIVE), thickness_x0=0.03)
    x0 = np.r_[np.full(len(RADII), 0.03), np.full(len(PASSIVE), 0.01)]
    d = {f"s_{k}": getattr(s, k) for k in SURF_KEYS}
    d["s_thickness_x0"] = x0
    d.update(offsets=off, surface_id=sid, measurement=local, measurement_cov=cov, mask=mask,
             init=init, init_cov=icov, energy_loss=np.array(False),
             mass=np.array(0.10566))
    return d


def make_acts(n_events: int, seed: int) -> dict[str, np.ndarray]:
    from helixkit.fitting import acts_reference as ar  # noqa: PLC0415

    data = ar.run_acts_truth_tracking(n_events=n_events, muons_per_event=50, seed=seed)
    init, icov = ar.smeared_start(data)
    inp = ar.helixkit_inputs(data, start=(init, icov))
    d = {f"s_{k}": getattr(inp.surfaces, k) for k in SURF_KEYS}
    d.update(offsets=inp.track_offsets, surface_id=inp.surface_id, measurement=inp.measurement,
             measurement_cov=inp.measurement_cov, mask=inp.measurement_mask, init=init,
             init_cov=icov, energy_loss=np.array(True), mass=np.array(ar.MUON_MASS),
             acts_us_per_track=np.array(data.acts_us_per_track))
    return d


def fit(d: dict[str, np.ndarray], repeat: int, smoother: str, states: bool
        ) -> tuple[object, float]:
    surf = Surfaces(*(d[f"s_{k}"] for k in SURF_KEYS))
    times = []
    res = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = fitting.fit_tracks(
            surf, d["offsets"], d["surface_id"], d["measurement"], d["measurement_cov"],
            d["init"], initial_cov=d["init_cov"], measurement_mask=d["mask"], b_field_z=BZ,
            mass=float(d["mass"]), energy_loss=bool(d["energy_loss"]), multiple_scattering=True,
            smoother=smoother, store_states=states, n_threads=1)
        times.append(time.perf_counter() - t0)
    return res, float(np.min(times))


def compare(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    same_status = np.array_equal(a["status"], b["status"])
    print(f"status identical: {same_status}; ok tracks {int((a['status'] == 0).sum())} / "
          f"{len(a['status'])}")
    ok = (a["status"] == 0) & (b["status"] == 0)
    for key in ("params", "cov", "chi2", "smoothed", "smoothed_cov"):
        if key not in a or key not in b:
            continue
        x, y = a[key], b[key]
        if key.startswith("smoothed"):
            fin = np.isfinite(x) & np.isfinite(y)
            if not np.array_equal(np.isfinite(x), np.isfinite(y)):
                print(f"  {key}: NaN pattern differs")
        else:
            fin = np.broadcast_to(ok.reshape(-1, *([1] * (x.ndim - 1))), x.shape)
        x, y = x[fin], y[fin]
        scale = np.maximum(np.abs(x), np.abs(y))
        rel = np.abs(x - y) / np.where(scale > 0, scale, 1.0)
        if key in ("cov", "smoothed_cov"):
            # relative to the matrix scale: off-diagonal elements may be ~0
            xm, ym = a[key], b[key]
            sh = (-1, 5, 5)
            xm, ym = xm.reshape(sh), ym.reshape(sh)
            good = np.isfinite(xm).all(axis=(1, 2)) & np.isfinite(ym).all(axis=(1, 2))
            xm, ym = xm[good], ym[good]
            dg = np.sqrt(np.abs(np.einsum("nii->ni", xm)))
            corr = (xm - ym) / (dg[:, :, None] * dg[:, None, :])
            print(f"  {key}: max |rel| {rel.max():.3g}, max |dcov|/(sigma_i sigma_j) "
                  f"{np.abs(corr).max():.3g}")
        elif key == "params":
            sig = np.sqrt(np.abs(np.einsum("nii->ni", a["cov"])))[ok]
            pull = np.abs(a[key][ok] - b[key][ok]) / sig
            print(f"  {key}: max |rel| {rel.max():.3g}, max |diff|/sigma {pull.max():.3g} "
                  f"(over {rel.size} values)")
        else:
            print(f"  {key}: max |rel| {rel.max():.3g} (over {rel.size} values)")


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("out")
    m.add_argument("--kind", choices=("toy", "acts"), default="toy")
    m.add_argument("--n", type=int, default=2000, help="toy tracks / ACTS events x 50")
    m.add_argument("--seed", type=int, default=0)
    f = sub.add_parser("fit")
    f.add_argument("data")
    f.add_argument("--out")
    f.add_argument("--repeat", type=int, default=1)
    f.add_argument("--smoother", default="mbf")
    f.add_argument("--states", action="store_true", help="store_states (for compare)")
    c = sub.add_parser("compare")
    c.add_argument("a")
    c.add_argument("b")
    args = ap.parse_args()
    if args.cmd == "make":
        d = make_toy(args.n, args.seed) if args.kind == "toy" else make_acts(args.n, args.seed + 7)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        np.savez(args.out, **d)
        n = len(d["offsets"]) - 1
        print(f"{n} tracks, {len(d['mask'])} entries ({int((d['mask'] == 0).sum())} passive)")
    elif args.cmd == "fit":
        d = dict(np.load(args.data))
        res, t = fit(d, args.repeat, args.smoother, args.states)
        n = len(d["offsets"]) - 1
        print(f"{n} tracks: {1e6 * t / n:.2f} us/track (best of {args.repeat}), "
              f"ok {int((res.status == 0).sum())}")
        if args.out:
            extra = {"smoothed": res.smoothed, "smoothed_cov": res.smoothed_cov} if args.states \
                else {}
            np.savez(args.out, params=res.params, cov=res.cov, chi2=res.chi2, status=res.status,
                     **extra)
    else:
        compare(dict(np.load(args.a)), dict(np.load(args.b)))


if __name__ == "__main__":
    main()
