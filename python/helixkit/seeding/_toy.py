"""A small deterministic toy event for seeding tests and benchmarks.

Charged particles from the beam line in a uniform solenoid field cross the
TrackML-like pixel detector (barrel layers at r = 32, 72, 116, 172 mm with
|z| < 491 mm; disks at |z| = 600 ... 1500 mm covering r = 30 ... 176 mm).
Hits get linearised multiple scattering (Highland, 2.5 % X0 per layer) and a
15 um Gaussian resolution. Private helper: the real simulation is
``helixkit.data.simulate_event``; this exists so the seeding tests do not
depend on it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import units as u

BARREL_R = (32.0, 72.0, 116.0, 172.0)
BARREL_HALF_Z = 491.0
DISK_Z = (600.0, 700.0, 820.0, 960.0, 1100.0, 1300.0, 1500.0)
DISK_R = (30.0, 176.0)


def toy_event(
    n_particles: int,
    seed: int = 0,
    *,
    b_field_z: float = 2 * u.T,
    pt_range: tuple[float, float] = (0.4, 20.0),
    eta_max: float = 3.0,
    sigma_vz: float = 50.0,
    x0_per_layer: float = 0.025,
    resolution: float = 0.015,
    scattering: bool = True,
) -> dict[str, Any]:
    """Return hits (x, y, z, particle_id, layer) and particles (particle_id, px, py, pz, q, vz).

    pT follows 1/pT^2 between ``pt_range`` [GeV]; eta is uniform in
    [-eta_max, eta_max]; vertex z ~ N(0, sigma_vz) [mm].
    """
    rng = np.random.default_rng(seed)
    n = int(n_particles)
    lo, hi = pt_range
    pt = 1.0 / rng.uniform(1.0 / hi, 1.0 / lo, n)
    eta = rng.uniform(-eta_max, eta_max, n)
    phi0 = rng.uniform(-np.pi, np.pi, n)
    q = rng.choice([-1.0, 1.0], n)
    vz = rng.normal(0.0, sigma_vz, n)
    cot = np.sinh(eta)
    radius = pt / b_field_z  # helix radius [mm]
    p = pt * np.cosh(eta)

    s_list, kind_list, layer_list = [], [], []
    for i, r in enumerate(BARREL_R):
        ok = r < 2 * radius
        s = np.where(ok, 2 * radius * np.arcsin(np.minimum(r / (2 * radius), 1.0)), np.nan)
        z = vz + s * cot
        s = np.where(np.abs(z) < BARREL_HALF_Z, s, np.nan)
        s_list.append(s)
        kind_list.append(0)
        layer_list.append(i)
    for j, zd in enumerate(DISK_Z):
        for sign in (-1.0, 1.0):
            with np.errstate(divide="ignore", invalid="ignore"):
                s = (sign * zd - vz) / cot
            rr = 2 * radius * np.abs(np.sin(s / (2 * radius)))
            good = (s > 0) & (s < np.pi * radius) & (rr >= DISK_R[0]) & (rr <= DISK_R[1])
            s_list.append(np.where(good, s, np.nan))
            kind_list.append(1)
            layer_list.append(100 + j if sign > 0 else 200 + j)
    s_all = np.stack(s_list, axis=1)  # (n, L)
    kind = np.array(kind_list)
    layer = np.array(layer_list)
    order = np.argsort(np.where(np.isnan(s_all), np.inf, s_all), axis=1)
    s_sorted = np.take_along_axis(s_all, order, axis=1)
    kind_sorted = kind[order]
    layer_sorted = layer[order]

    # Linearised multiple scattering: each crossing deflects later hits.
    sin_t = 1.0 / np.cosh(eta)
    cos_t = np.abs(np.tanh(eta))
    n_layers = s_sorted.shape[1]
    disp_t = np.zeros_like(s_sorted)
    disp_l = np.zeros_like(s_sorted)
    if scattering:
        for k in range(n_layers):
            valid = np.isfinite(s_sorted[:, k])
            incid = np.where(kind_sorted[:, k] == 0, sin_t, np.maximum(cos_t, 1e-3))
            x = x0_per_layer / incid
            theta0 = 13.6 * u.MeV / p * np.sqrt(x) * (1 + 0.038 * np.log(x))
            a = rng.normal(0, 1, n) * theta0
            b = rng.normal(0, 1, n) * theta0
            ds = s_sorted[:, k + 1 :] - s_sorted[:, k : k + 1]
            dl = ds / sin_t[:, None]
            upd = valid[:, None] & np.isfinite(ds)
            disp_t[:, k + 1 :] += np.where(upd, a[:, None] * dl, 0)
            disp_l[:, k + 1 :] += np.where(upd, b[:, None] * dl, 0)

    phi_s = phi0[:, None] - q[:, None] * s_sorted / radius[:, None]
    x = -(radius / q)[:, None] * (np.sin(phi_s) - np.sin(phi0)[:, None])
    y = (radius / q)[:, None] * (np.cos(phi_s) - np.cos(phi0)[:, None])
    z = vz[:, None] + s_sorted * cot[:, None]
    r = np.hypot(x, y)
    with np.errstate(invalid="ignore", divide="ignore"):
        ux, uy = -y / r, x / r  # tangential unit vector at the hit
        rx, ry = x / r, y / r
    barrel = kind_sorted == 0
    tang = disp_t + rng.normal(0, resolution, disp_t.shape)
    # barrel: longitudinal deflection moves z; disks: it moves r
    long_b = disp_l / sin_t[:, None] + rng.normal(0, resolution, disp_l.shape)
    long_d = disp_l / np.maximum(cos_t, 1e-3)[:, None] + rng.normal(0, resolution, disp_l.shape)
    x = x + tang * ux + np.where(barrel, 0, long_d * rx)
    y = y + tang * uy + np.where(barrel, 0, long_d * ry)
    z = z + np.where(barrel, long_b, 0)

    valid = np.isfinite(s_sorted)
    pid = np.broadcast_to(np.arange(1, n + 1)[:, None], valid.shape)
    perm = rng.permutation(int(valid.sum()))
    out_pid = pid[valid][perm].astype(np.int64)
    return {
        "x": x[valid][perm].astype(np.float32),
        "y": y[valid][perm].astype(np.float32),
        "z": z[valid][perm].astype(np.float32),
        "particle_id": out_pid,
        "layer": layer_sorted[valid][perm].astype(np.int32),
        "particles": {
            "particle_id": np.arange(1, n + 1, dtype=np.int64),
            "px": pt * np.cos(phi0),
            "py": pt * np.sin(phi0),
            "pz": pt * cot,
            "q": q.astype(np.int32),
            "vz": vz,
            "nhits": valid.sum(axis=1).astype(np.int32),
        },
    }
