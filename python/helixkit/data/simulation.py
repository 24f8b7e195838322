"""The built-in fast detector simulation (TrackML-like, uniform solenoid field).

Everything in helixkit runs on events from here when no external data is at
hand. The physics, in order:

1. **Collisions.** ``n ~ Poisson(mu)`` pile-up collisions, each at a vertex
   smeared by ``vertex_sigma_z`` (50 mm) along z and ``vertex_sigma_xy``
   (15 µm) transversely, each with ``Poisson(charged_per_collision)`` charged
   particles. η is uniform in ``[-eta_max, eta_max]``, φ uniform, and pT follows
   a Tsallis (Lévy) spectrum ``dN/dpT ∝ pT (1 + mT/(nT))^-n`` (T = 0.16 GeV,
   n = 7: most particles below 1 GeV, a power-law tail to tens of GeV),
   truncated to ``[pt_min, pt_max]``. Species: π±, K±, p/p̄, e±, µ± with
   fixed fractions.
2. **Hard scatter** (optional): one more collision at the first vertex with
   ``hard_scatter_particles`` particles from an exponential pT spectrum of
   mean ``hard_scatter_mean_pt``, |η| < 2.5.
3. **Secondaries**: a fraction ``secondary_fraction`` of particles are decay
   products: their vertex is displaced from the parent's along the parent's
   initial direction by an exponential flight distance (mean
   ``secondary_mean_flight`` = 30 mm), their momentum a random fraction of the
   parent's with an angular kink; flagged ``primary = False``.
4. **Propagation**: exact helices in ``B = geometry.b_field_z`` from surface
   to surface (next intersection among all barrel cylinders and endcap disks),
   with Highland multiple scattering at each crossing,
   ``θ0 = 13.6 MeV/(βcp) |q| sqrt(x) (1 + 0.038 ln(x q²/β²))``,
   ``x = thickness_x0 / |cos α|`` (α: incidence angle), as two independent
   Gaussian kicks perpendicular to the direction; optional mean energy loss
   (36.6 MeV per X0, silicon at minimum ionisation). A particle stops when it
   leaves the detector, after half a turn in the transverse plane (loopers
   keep their outgoing branch only), or after ``max_crossings`` crossings.
5. **Hits**: layer efficiency, then the true crossing point smeared in the
   layer's local coordinates (barrel: u = r·φ, v = z; endcap: u = r·φ, v = r)
   with the layer's resolution; the measured point stays exactly on the
   surface. Noise hits (particle_id 0) are added uniformly over the layers'
   areas so that they make up ``noise_fraction`` of all hits.
6. **Clusters** (``cells=True``): each hit gets the TrackML cells its particle
   ionises — the straight segment through the sensor (``sensor_thickness``
   around the true crossing point, along the true direction) is rasterised
   on the layer's ``pitch`` grid; a cell's ``value`` is its share of the
   path times the hit's charge, in units of a normally incident MIP, with
   a log-normal fluctuation (σ = 0.25); the path is sampled at < ½-cell steps,
   so an end cell that it clips by less than ~¼ cell is missed, as a readout
   threshold would miss it. Sensor axes: u along φ, v along z
   (barrel) or r (endcap); ch0/ch1 count cells from the module's lower u/v
   edge, and a cluster crossing a module edge is not split. Noise hits get
   the cluster of a random direction. Drawn after everything else, so the
   hits are the same with and without cells.
7. **Truth weights** as in TrackML: pT weight (0.2 below 0.5 GeV, linear to 1
   at 3 GeV) × order weight (the proposal [10, 8, 6, 5, 3, 3, 3, 5, 6]
   interpolated along the track, hits ordered by |tz − vz|); particles with
   fewer than 4 hits, secondaries and noise get 0; normalised to sum 1.

Hits are sorted by (volume_id, layer_id, φ), so they are *not* grouped by
particle, and get hit_id 1..N. The result is deterministic for a seed.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, fields, replace
from typing import Any

import numba
import numpy as np

from .. import units as u
from .._validation import check_float, check_int, require
from .event import Event, Table
from .geometry import BARREL, Geometry, trackml_like

# PDG id, mass [GeV], fraction among charged pile-up particles
_SPECIES = (
    (211, 0.13957, 0.80),
    (321, 0.49368, 0.11),
    (2212, 0.93827, 0.06),
    (11, 0.000511, 0.02),
    (13, 0.10566, 0.01),
)
_ORDER_PROPOSAL = np.array([10.0, 8.0, 6.0, 5.0, 3.0, 3.0, 3.0, 5.0, 6.0])
_DEDX_PER_X0 = 36.6 * u.MeV  # mean loss of a MIP per radiation length of silicon


#: Bounds of :class:`SimulationConfig` beyond which an event is not computable
#: (memory) or holds no hits (vertices outside the detector).
MAX_MEAN_PARTICLES = 500_000
MAX_VERTEX_SIGMA_Z = 10_000.0 * u.mm
MAX_VERTEX_SIGMA_XY = 1_000.0 * u.mm
MAX_HARD_SCATTER = 100_000


@dataclass(frozen=True)
class SimulationConfig:
    """Settings of :func:`simulate_event` (lengths in mm, momenta in GeV)."""

    mu: float = 200.0
    charged_per_collision: float = 50.0
    eta_max: float = 4.0
    pt_min: float = 0.1 * u.GeV
    pt_max: float = 100.0 * u.GeV
    tsallis_t: float = 0.16 * u.GeV
    tsallis_n: float = 7.0
    vertex_sigma_z: float = 50.0 * u.mm
    vertex_sigma_xy: float = 0.015 * u.mm
    hard_scatter: bool = False
    hard_scatter_particles: int = 100
    hard_scatter_mean_pt: float = 5.0 * u.GeV
    secondary_fraction: float = 0.05
    secondary_mean_flight: float = 30.0 * u.mm
    noise_fraction: float = 0.07
    multiple_scattering: bool = True
    energy_loss: bool = False
    smearing: bool = True
    max_crossings: int = 40
    max_turn: float = math.pi
    cells: bool = True

    def validate(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if f.type in ("bool", bool):
                if not isinstance(v, (bool, np.bool_)):
                    msg = f"SimulationConfig: {f.name} must be a bool, got {type(v).__name__} {v!r}"
                    raise TypeError(msg)
            elif f.type in ("int", int):
                object.__setattr__(self, f.name, check_int(v, f"SimulationConfig: {f.name}"))
            else:
                object.__setattr__(self, f.name, check_float(v, f"SimulationConfig: {f.name}"))
        require(self.mu >= 0, self, "mu", "must be finite and >= 0")
        require(self.mu * self.charged_per_collision <= MAX_MEAN_PARTICLES, self, "mu",
                f"times charged_per_collision (={self.charged_per_collision}) must be <= "
                f"{MAX_MEAN_PARTICLES:g} mean particles per event (HL-LHC: mu ~ 200)")
        require(self.vertex_sigma_z <= MAX_VERTEX_SIGMA_Z, self, "vertex_sigma_z",
                f"must be <= {MAX_VERTEX_SIGMA_Z:g} mm (a wider spread puts the vertices "
                "outside the detector)")
        require(self.vertex_sigma_xy <= MAX_VERTEX_SIGMA_XY, self, "vertex_sigma_xy",
                f"must be <= {MAX_VERTEX_SIGMA_XY:g} mm (a wider spread puts the vertices "
                "outside the detector)")
        require(self.hard_scatter_particles <= MAX_HARD_SCATTER, self, "hard_scatter_particles",
                f"must be <= {MAX_HARD_SCATTER}")
        require(self.charged_per_collision > 0, self, "charged_per_collision", "must be > 0")
        require(0 < self.eta_max <= 6, self, "eta_max", "must be in (0, 6]")
        require(self.pt_min > 0, self, "pt_min", "must be > 0 GeV")
        require(self.pt_max > self.pt_min, self, "pt_max", "must exceed pt_min")
        require(self.tsallis_t > 0, self, "tsallis_t", "must be > 0 GeV")
        require(self.tsallis_n > 3, self, "tsallis_n", "must be > 3")
        require(self.vertex_sigma_z >= 0, self, "vertex_sigma_z", "must be >= 0 mm")
        require(self.vertex_sigma_xy >= 0, self, "vertex_sigma_xy", "must be >= 0 mm")
        require(self.hard_scatter_particles >= 0, self, "hard_scatter_particles", "must be >= 0")
        require(self.hard_scatter_mean_pt > 0, self, "hard_scatter_mean_pt", "must be > 0 GeV")
        require(0 <= self.secondary_fraction < 1, self, "secondary_fraction", "must be in [0, 1)")
        require(self.secondary_mean_flight > 0, self, "secondary_mean_flight", "must be > 0 mm")
        require(0 <= self.noise_fraction < 1, self, "noise_fraction", "must be in [0, 1)")
        require(1 <= self.max_crossings <= 1000, self, "max_crossings", "must be in [1, 1000]")
        require(0 < self.max_turn <= 4 * math.pi, self, "max_turn", "must be in (0, 4 pi]")


_FIELDS = {f.name for f in fields(SimulationConfig)}


def _make_config(config: SimulationConfig | None, overrides: dict[str, Any]) -> SimulationConfig:
    unknown = sorted(set(overrides) - _FIELDS)
    if unknown:
        msg = f"SimulationConfig has no field(s) {unknown}"
        raise TypeError(msg)
    cfg = replace(config or SimulationConfig(), **overrides)
    cfg.validate()
    return cfg


# --------------------------------------------------------------------------- kinematics
def _sample_tsallis_pt(rng: np.random.Generator, n: int, cfg: SimulationConfig) -> np.ndarray:
    """Inverse-CDF sampling of dN/dpT ∝ pT (1 + mT/(nT))^-n on a log grid (pion mass)."""
    grid = np.geomspace(cfg.pt_min, cfg.pt_max, 4096)
    mt = np.sqrt(grid**2 + 0.13957**2)
    pdf = grid * (1.0 + mt / (cfg.tsallis_n * cfg.tsallis_t)) ** (-cfg.tsallis_n)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (pdf[1:] + pdf[:-1]) * np.diff(grid))])
    cdf /= cdf[-1]
    return np.interp(rng.random(n), cdf, grid)


def _particles(rng: np.random.Generator, cfg: SimulationConfig) -> dict[str, np.ndarray]:
    n_coll = int(rng.poisson(cfg.mu)) if cfg.mu > 0 else 0
    counts = rng.poisson(cfg.charged_per_collision, size=n_coll)
    n_pu = int(counts.sum())
    n_hs = cfg.hard_scatter_particles if cfg.hard_scatter else 0
    n_vtx = n_coll + (1 if cfg.hard_scatter else 0)
    vz = rng.normal(0.0, cfg.vertex_sigma_z, n_vtx)
    vx = rng.normal(0.0, cfg.vertex_sigma_xy, n_vtx)
    vy = rng.normal(0.0, cfg.vertex_sigma_xy, n_vtx)
    coll = np.concatenate([np.repeat(np.arange(n_coll), counts), np.full(n_hs, n_vtx - 1)])
    pt = np.concatenate(
        [
            _sample_tsallis_pt(rng, n_pu, cfg),
            np.clip(rng.exponential(cfg.hard_scatter_mean_pt, n_hs) + 1.0, None, cfg.pt_max),
        ]
    )
    eta = np.concatenate(
        [rng.uniform(-cfg.eta_max, cfg.eta_max, n_pu), rng.uniform(-2.5, 2.5, n_hs)]
    )
    n = n_pu + n_hs
    phi = rng.uniform(-np.pi, np.pi, n)
    frac = np.array([s[2] for s in _SPECIES])
    species = rng.choice(len(_SPECIES), size=n, p=frac / frac.sum())
    # PDG sign convention: positive for pi+, K+, p and for e-, mu- (leptons flip).
    pdg = np.array([s[0] for s in _SPECIES])[species] * np.where(species >= 3, -1, 1)
    mass = np.array([s[1] for s in _SPECIES])[species]
    q = rng.choice(np.array([-1, 1]), size=n)
    return {
        "x": vx[coll], "y": vy[coll], "z": vz[coll],
        "px": pt * np.cos(phi), "py": pt * np.sin(phi), "pz": pt * np.sinh(eta),
        "q": q.astype(np.float64), "mass": mass, "pdg": (pdg * q).astype(np.int32),
        "parent": np.zeros(n, dtype=np.int64),
    }


def _add_secondaries(rng: np.random.Generator, p: dict[str, np.ndarray], cfg: SimulationConfig
                     ) -> dict[str, np.ndarray]:
    n_prim = len(p["px"])
    n_sec = int(round(cfg.secondary_fraction / (1 - cfg.secondary_fraction) * n_prim))
    if n_sec == 0 or n_prim == 0:
        return p
    parent = rng.integers(0, n_prim, n_sec)
    pvec = np.stack([p["px"][parent], p["py"][parent], p["pz"][parent]], axis=1)
    pmag = np.linalg.norm(pvec, axis=1)
    direction = pvec / pmag[:, None]
    flight = rng.exponential(cfg.secondary_mean_flight, n_sec)
    # Daughter: a fraction of the parent's momentum, kinked by ~0.2 rad.
    kink = rng.normal(0.0, 0.2, (n_sec, 3))
    ddir = direction + kink - (kink * direction).sum(1, keepdims=True) * direction
    ddir /= np.linalg.norm(ddir, axis=1, keepdims=True)
    dmag = pmag * rng.uniform(0.3, 0.9, n_sec)
    # Keep daughters above pt_min so they can make hits.
    dpt = dmag * np.hypot(ddir[:, 0], ddir[:, 1])
    dmag *= np.maximum(1.0, cfg.pt_min / np.maximum(dpt, 1e-9))
    q = rng.choice(np.array([-1.0, 1.0]), size=n_sec)
    sec = {
        "x": p["x"][parent] + flight * direction[:, 0],
        "y": p["y"][parent] + flight * direction[:, 1],
        "z": p["z"][parent] + flight * direction[:, 2],
        "px": dmag * ddir[:, 0], "py": dmag * ddir[:, 1], "pz": dmag * ddir[:, 2],
        "q": q, "mass": np.full(n_sec, 0.13957),
        "pdg": (211 * q).astype(np.int32), "parent": parent.astype(np.int64) + 1,
    }
    return {k: np.concatenate([p[k], sec[k]]) for k in p}


# --------------------------------------------------------------------------- propagation
@numba.njit(cache=True, nogil=True, fastmath=False)
def _propagate(  # noqa: PLR0912, PLR0915
    x0, y0, z0, px0, py0, pz0, q, mass, bz,
    kind, pos, ext_lo, ext_hi, x0_thick, eff,
    ms_on, eloss_on, max_cross, max_turn, r_env, z_env, rnd_ms, rnd_eff,
):
    n = x0.shape[0]
    n_lay = kind.shape[0]
    out_layer = np.full((n, max_cross), -1, np.int32)
    out = np.zeros((n, max_cross, 6))
    count = np.zeros(n, np.int32)
    for i in range(n):
        x, y, z = x0[i], y0[i], z0[i]
        px, py, pz = px0[i], py0[i], pz0[i]
        turned = 0.0
        last = -1
        for step in range(max_cross):
            pt = math.hypot(px, py)
            if pt < 1e-6:
                break
            kappa = -q[i] * bz / pt
            phi = math.atan2(py, px)
            cot = pz / pt
            best_s = 1e30
            best_l = -1
            cx = x - math.sin(phi) / kappa
            cy = y + math.cos(phi) / kappa
            rho = 1.0 / abs(kappa)
            d = math.hypot(cx, cy)
            for lay in range(n_lay):
                if lay == last:
                    continue
                if kind[lay] == 0:  # barrel cylinder
                    rl = pos[lay]
                    if d < 1e-12 or d + rho < rl or abs(d - rho) > rl:
                        continue
                    a = (rl * rl - rho * rho + d * d) / (2.0 * d)
                    h2 = rl * rl - a * a
                    if h2 < 0.0:
                        continue
                    h = math.sqrt(h2)
                    ux, uy = cx / d, cy / d
                    for sgn in (-1.0, 1.0):
                        qx = a * ux - sgn * h * uy
                        qy = a * uy + sgn * h * ux
                        psi = math.atan2(kappa * (qx - cx), -kappa * (qy - cy))
                        if kappa > 0:
                            dpsi = (psi - phi) % (2.0 * math.pi)
                        else:
                            dpsi = -((phi - psi) % (2.0 * math.pi))
                        s = dpsi / kappa
                        if s <= 1e-9 or s >= best_s:
                            continue
                        zz = z + s * cot
                        if ext_lo[lay] <= zz <= ext_hi[lay]:
                            best_s = s
                            best_l = lay
                else:  # endcap disk
                    if abs(cot) < 1e-12:
                        continue
                    s = (pos[lay] - z) / cot
                    if s <= 1e-9 or s >= best_s:
                        continue
                    ph1 = phi + kappa * s
                    xx = x + (math.sin(ph1) - math.sin(phi)) / kappa
                    yy = y - (math.cos(ph1) - math.cos(phi)) / kappa
                    rr = math.hypot(xx, yy)
                    if ext_lo[lay] <= rr <= ext_hi[lay]:
                        best_s = s
                        best_l = lay
            if best_l < 0:
                break
            turned += abs(kappa) * best_s
            if turned > max_turn:
                break
            ph1 = phi + kappa * best_s
            x = x + (math.sin(ph1) - math.sin(phi)) / kappa
            y = y - (math.cos(ph1) - math.cos(phi)) / kappa
            z = z + best_s * cot
            if kind[best_l] == 0:
                r_now = math.hypot(x, y)  # put the point exactly on the cylinder
                x *= pos[best_l] / r_now
                y *= pos[best_l] / r_now
            else:
                z = pos[best_l]
            px = pt * math.cos(ph1)
            py = pt * math.sin(ph1)
            last = best_l
            if rnd_eff[i, step] < eff[best_l]:
                k = count[i]
                out_layer[i, k] = best_l
                out[i, k, 0] = x
                out[i, k, 1] = y
                out[i, k, 2] = z
                out[i, k, 3] = px
                out[i, k, 4] = py
                out[i, k, 5] = pz
                count[i] = k + 1
            # material effects
            p = math.sqrt(px * px + py * py + pz * pz)
            if kind[best_l] == 0:
                cosi = abs(px * x + py * y) / (p * math.hypot(x, y))
            else:
                cosi = abs(pz) / p
            cosi = max(cosi, 0.05)
            xx0 = x0_thick[best_l] / cosi
            if ms_on and xx0 > 0.0:
                e = math.sqrt(p * p + mass[i] * mass[i])
                beta = p / e
                theta0 = (0.0136 / (beta * p)) * abs(q[i]) * math.sqrt(xx0) * (
                    1.0 + 0.038 * math.log(xx0 * q[i] * q[i] / (beta * beta))
                )
                ux, uy, uz = px / p, py / p, pz / p
                # e1 perpendicular to u and z; e2 = u x e1
                n1 = math.hypot(ux, uy)
                e1x, e1y, e1z = -uy / n1, ux / n1, 0.0
                e2x = uy * e1z - uz * e1y
                e2y = uz * e1x - ux * e1z
                e2z = ux * e1y - uy * e1x
                t1 = theta0 * rnd_ms[i, step, 0]
                t2 = theta0 * rnd_ms[i, step, 1]
                vx = ux + t1 * e1x + t2 * e2x
                vy = uy + t1 * e1y + t2 * e2y
                vz = uz + t1 * e1z + t2 * e2z
                vn = math.sqrt(vx * vx + vy * vy + vz * vz)
                px, py, pz = p * vx / vn, p * vy / vn, p * vz / vn
            if eloss_on and xx0 > 0.0:
                e = math.sqrt(p * p + mass[i] * mass[i]) - 0.0366 * xx0
                if e <= mass[i] * 1.0001:
                    break
                pnew = math.sqrt(e * e - mass[i] * mass[i])
                px, py, pz = px * pnew / p, py * pnew / p, pz * pnew / p
            if math.hypot(x, y) > r_env or abs(z) > z_env:
                break
    return out_layer, out, count


# --------------------------------------------------------------------------- event assembly
def _module_ids(geo: dict[str, np.ndarray], layer: np.ndarray, x: np.ndarray, y: np.ndarray,
                z: np.ndarray) -> np.ndarray:
    phi = np.arctan2(y, x)
    nphi = geo["n_phi_modules"][layer]
    n2 = geo["n_modules_2"][layer]
    i_phi = np.minimum((((phi + np.pi) / (2 * np.pi)) * nphi).astype(np.int64), nphi - 1)
    v = np.where(geo["kind"][layer] == BARREL, z, np.hypot(x, y))
    lo, hi = geo["extent_min"][layer], geo["extent_max"][layer]
    i_2 = np.clip(((v - lo) / (hi - lo) * n2).astype(np.int64), 0, n2 - 1)
    return (1 + i_2 * nphi + i_phi).astype(np.int32)


def _smear(rng: np.random.Generator, geo: dict[str, np.ndarray], layer: np.ndarray,
           x: np.ndarray, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, ...]:
    r = np.hypot(x, y)
    phi = np.arctan2(y, x)
    su, sv = geo["sigma_u"][layer], geo["sigma_v"][layer]
    du = rng.normal(0.0, 1.0, len(x)) * su
    dv = rng.normal(0.0, 1.0, len(x)) * sv
    barrel = geo["kind"][layer] == BARREL
    r_new = np.where(barrel, r, r + dv)
    z_new = np.where(barrel, z + dv, z)
    phi_new = phi + du / np.maximum(r_new, 1e-6)
    return r_new * np.cos(phi_new), r_new * np.sin(phi_new), z_new


def _noise(rng: np.random.Generator, geo: dict[str, np.ndarray], n: int) -> tuple[np.ndarray, ...]:
    barrel = geo["kind"] == BARREL
    lo, hi, pos = geo["extent_min"], geo["extent_max"], geo["position"]
    area = np.where(barrel, 2 * np.pi * pos * (hi - lo), np.pi * (hi**2 - lo**2))
    layer = rng.choice(len(area), size=n, p=area / area.sum())
    phi = rng.uniform(-np.pi, np.pi, n)
    t = rng.random(n)
    r_disk = np.sqrt(lo[layer] ** 2 + t * (hi[layer] ** 2 - lo[layer] ** 2))
    r = np.where(barrel[layer], pos[layer], r_disk)
    z = np.where(barrel[layer], lo[layer] + t * (hi[layer] - lo[layer]), pos[layer])
    return layer, r * np.cos(phi), r * np.sin(phi), z


def _clusters(rng: np.random.Generator, geo: dict[str, np.ndarray], layer: np.ndarray,
              pos: np.ndarray, direction: np.ndarray, hit_id: np.ndarray) -> Table:
    """TrackML cells of every hit: its path through the sensor rasterised on the pitch grid.

    ``pos``: (N, 3) true crossing points (sensor mid-plane), ``direction``: (N, 3)
    directions (any length; zero rows get a random direction).
    """
    n = len(layer)
    norm = np.linalg.norm(direction, axis=1)
    iso = rng.normal(size=(n, 3))
    d = np.where((norm > 0)[:, None], direction, iso)
    d = d / np.linalg.norm(d, axis=1, keepdims=True)
    x, y, z = pos.T
    r = np.hypot(x, y)
    phi = np.arctan2(y, x)
    c, s = np.cos(phi), np.sin(phi)
    d_r = d[:, 0] * c + d[:, 1] * s
    d_phi = -d[:, 0] * s + d[:, 1] * c
    barrel = geo["kind"][layer] == BARREL
    d_w = np.where(barrel, d_r, d[:, 2])       # along the sensor normal
    d_v = np.where(barrel, d[:, 2], d_r)
    d_w = np.where(d_w >= 0, 1.0, -1.0) * np.maximum(np.abs(d_w), 0.05)  # grazing: cap the length
    t = geo["sensor_thickness"][layer]
    pu, pv = geo["pitch_u"][layer], geo["pitch_v"][layer]
    # crossing point in module-local coordinates (u along phi, v along z or r)
    nphi, n2 = geo["n_phi_modules"][layer], geo["n_modules_2"][layer]
    i_phi = np.minimum((((phi + np.pi) / (2 * np.pi)) * nphi).astype(np.int64), nphi - 1)
    u_c = r * (phi + np.pi - i_phi * (2 * np.pi / nphi))
    lo, hi = geo["extent_min"][layer], geo["extent_max"][layer]
    v = np.where(barrel, z, r)
    i_2 = np.clip(((v - lo) / (hi - lo) * n2).astype(np.int64), 0, n2 - 1)
    v_c = v - (lo + i_2 * (hi - lo) / n2)
    du, dv = t * d_phi / d_w / pu, t * d_v / d_w / pv  # segment extent in cells
    u0, v0 = u_c / pu - 0.5 * du, v_c / pv - 0.5 * dv
    k = (2 * (np.ceil(np.abs(du)) + np.ceil(np.abs(dv))) + 2).astype(np.int64)
    owner = np.repeat(np.arange(n), k)
    start = np.cumsum(k) - k
    f = (np.arange(int(k.sum())) - start[owner] + 0.5) / k[owner]
    ch0 = np.floor(u0[owner] + f * du[owner]).astype(np.int64)
    ch1 = np.floor(v0[owner] + f * dv[owner]).astype(np.int64)
    # one cell per distinct (hit, ch0, ch1); its value = its share of the samples
    off = 1 << 20
    key = (owner << 42) | ((ch0 + off) << 21) | (ch1 + off)
    uniq, counts = np.unique(key, return_counts=True)
    h = uniq >> 42
    charge = np.exp(rng.normal(0.0, 0.25, n)) / np.abs(d_w)
    value = charge[h] * counts / k[h]
    return Table({
        "hit_id": hit_id[h].astype(np.int64),
        "ch0": (((uniq >> 21) & ((1 << 21) - 1)) - off).astype(np.int32),
        "ch1": ((uniq & ((1 << 21) - 1)) - off).astype(np.int32),
        "value": value.astype(np.float32),
    })


def trackml_weights(
    particle_id: np.ndarray, tz: np.ndarray, vz_of_hit: np.ndarray, pt_of_hit: np.ndarray,
    eligible: np.ndarray,
) -> np.ndarray:
    """TrackML truth weights (pT weight × order weight along the track), normalised to 1.

    Hits of particles with fewer than 4 hits, of non-eligible particles and
    noise hits (particle_id 0) get weight 0.
    """
    n = len(particle_id)
    w = np.zeros(n, dtype=np.float64)
    good = (particle_id > 0) & eligible
    if not good.any():
        return w.astype(np.float32)
    rows = np.flatnonzero(good)
    order = rows[np.lexsort((np.abs(tz[rows] - vz_of_hit[rows]), particle_id[rows]))]
    pids, start, nh = np.unique(particle_id[order], return_index=True, return_counts=True)
    rank = np.arange(len(order)) - np.repeat(start, nh)
    n_of = np.repeat(nh, nh)
    frac = np.where(n_of > 1, rank / np.maximum(n_of - 1, 1), 0.0)
    order_w = np.interp(frac, np.linspace(0.0, 1.0, len(_ORDER_PROPOSAL)), _ORDER_PROPOSAL)
    pt = pt_of_hit[order]
    pt_w = np.clip(0.2 + (pt - 0.5) * (0.8 / 2.5), 0.2, 1.0)
    ww = order_w * pt_w
    ww[n_of < 4] = 0.0
    w[order] = ww
    total = w.sum()
    return (w / total if total > 0 else w).astype(np.float32)


def simulate_event(
    mu: float | None = None,
    seed: int | np.random.SeedSequence = 0,
    geometry: Geometry | None = None,
    *,
    event_id: int = 0,
    config: SimulationConfig | None = None,
    **overrides: Any,
) -> Event:
    """Simulate one pile-up event in ``geometry`` (default: :func:`trackml_like`).

    Parameters
    ----------
    mu : float, optional
        Mean number of pile-up collisions (overrides ``config.mu``).
    seed : int or numpy.random.SeedSequence
        Same seed, same event.
    geometry : Geometry, optional
    event_id : int
    config : SimulationConfig, optional
    **overrides
        Any :class:`SimulationConfig` field, e.g. ``hard_scatter=True``,
        ``multiple_scattering=False``, ``noise_fraction=0``.

    Returns
    -------
    Event
        With ``hits``, aligned ``truth``, ``particles`` (incl. ``primary`` and
        ``parent_id``), ``geometry`` and, unless ``cells=False``, ``cells``.
    """
    if mu is not None:
        overrides["mu"] = mu
    cfg = _make_config(config, overrides)
    geo_obj = geometry or trackml_like()
    if not isinstance(geo_obj, Geometry):
        msg = f"geometry must be a helixkit.data.Geometry, got {type(geo_obj).__name__}"
        raise ValueError(msg)
    geo = geo_obj.arrays()
    rng = np.random.default_rng(seed)

    p = _add_secondaries(rng, _particles(rng, cfg), cfg)
    n = len(p["px"])
    mc = cfg.max_crossings
    rnd_ms = rng.standard_normal((n, mc, 2))
    rnd_eff = rng.random((n, mc))
    barrel = geo["kind"] == BARREL
    r_env = float(max(geo["position"][barrel].max(initial=0), geo["extent_max"][~barrel].max(initial=0)))
    z_env = float(max(np.abs(geo["extent_min"][barrel]).max(initial=0),
                      np.abs(geo["extent_max"][barrel]).max(initial=0),
                      np.abs(geo["position"][~barrel]).max(initial=0)))
    out_layer, out, count = _propagate(
        p["x"], p["y"], p["z"], p["px"], p["py"], p["pz"], p["q"], p["mass"],
        float(geo_obj.b_field_z),
        geo["kind"].astype(np.int64), geo["position"], geo["extent_min"], geo["extent_max"],
        geo["thickness_x0"], geo["efficiency"],
        cfg.multiple_scattering, cfg.energy_loss, mc, cfg.max_turn,
        r_env + 1.0, z_env + 1.0, rnd_ms, rnd_eff,
    )
    valid = np.arange(mc)[None, :] < count[:, None]
    part_idx = np.nonzero(valid)[0]
    layer = out_layer[valid].astype(np.int64)
    true = out[valid]
    tx, ty, tz = true[:, 0], true[:, 1], true[:, 2]
    if cfg.smearing:
        mx, my, mz = _smear(rng, geo, layer, tx, ty, tz)
    else:
        mx, my, mz = tx, ty, tz

    n_real = len(layer)
    n_noise = int(round(cfg.noise_fraction / (1 - cfg.noise_fraction) * n_real))
    nl, nx, ny, nz = _noise(rng, geo, n_noise)

    pid_all = np.arange(1, n + 1, dtype=np.int64)
    hit_layer = np.concatenate([layer, nl])
    hx, hy, hz = (np.concatenate([a, b]) for a, b in ((mx, nx), (my, ny), (mz, nz)))
    hit_pid = np.concatenate([pid_all[part_idx], np.zeros(n_noise, np.int64)])
    zeros = np.zeros(n_noise)
    ttx, tty, ttz = (np.concatenate([a, b]) for a, b in ((tx, nx), (ty, ny), (tz, nz)))
    tpx, tpy, tpz = (np.concatenate([true[:, k], zeros]) for k in (3, 4, 5))

    vol = geo["volume_id"][hit_layer]
    lay_id = geo["layer_id"][hit_layer]
    hphi = np.arctan2(hy, hx)
    order = np.lexsort((hphi, lay_id, vol))
    hx, hy, hz, hit_layer, hit_pid = hx[order], hy[order], hz[order], hit_layer[order], hit_pid[order]
    ttx, tty, ttz, tpx, tpy, tpz = (a[order] for a in (ttx, tty, ttz, tpx, tpy, tpz))
    hx32, hy32, hz32 = (a.astype(np.float32) for a in (hx, hy, hz))

    nhits = np.bincount(hit_pid, minlength=n + 1)[1:].astype(np.int32)
    primary = p["parent"] == 0
    prow = np.maximum(hit_pid - 1, 0)
    pt_part = np.hypot(p["px"], p["py"])
    weight = trackml_weights(hit_pid, ttz, p["z"][prow], pt_part[prow], primary[prow])

    n_hits = len(hx)
    hit_id = np.arange(1, n_hits + 1, dtype=np.int64)
    hits = Table({
        "hit_id": hit_id, "x": hx32, "y": hy32, "z": hz32,
        "volume_id": geo["volume_id"][hit_layer].astype(np.int32),
        "layer_id": geo["layer_id"][hit_layer].astype(np.int32),
        "module_id": _module_ids(geo, hit_layer, hx, hy, hz),
    })
    truth = Table({
        "hit_id": hit_id, "particle_id": hit_pid,
        "tx": ttx.astype(np.float32), "ty": tty.astype(np.float32), "tz": ttz.astype(np.float32),
        "tpx": tpx.astype(np.float32), "tpy": tpy.astype(np.float32), "tpz": tpz.astype(np.float32),
        "weight": weight,
    })
    particles = Table({
        "particle_id": pid_all, "particle_type": p["pdg"].astype(np.int32),
        "vx": p["x"].astype(np.float32), "vy": p["y"].astype(np.float32),
        "vz": p["z"].astype(np.float32),
        "px": p["px"].astype(np.float32), "py": p["py"].astype(np.float32),
        "pz": p["pz"].astype(np.float32),
        "q": p["q"].astype(np.int32), "nhits": nhits,
        "primary": primary, "parent_id": p["parent"].astype(np.int64),
    })
    cells = None
    if cfg.cells:
        cells = _clusters(rng, geo, hit_layer, np.stack([ttx, tty, ttz], 1),
                          np.stack([tpx, tpy, tpz], 1), hit_id)
    return Event(hits=hits, truth=truth, particles=particles, event_id=int(event_id),
                 geometry=geo_obj, cells=cells)


def generate_events(
    n_events: int,
    mu: float | None = None,
    seed: int = 0,
    geometry: Geometry | None = None,
    *,
    first_event_id: int = 0,
    progress: bool = False,
    config: SimulationConfig | None = None,
    **overrides: Any,
) -> Iterator[Event]:
    """Yield ``n_events`` independent, reproducible events (seeds spawned from ``seed``).

    Event *k* is the same whatever ``n_events`` is, so a longer run extends a shorter one.
    """
    if int(n_events) < 0:
        msg = f"n_events must be >= 0, got {n_events}"
        raise ValueError(msg)
    if mu is not None:
        overrides["mu"] = mu
    cfg = _make_config(config, overrides)
    children = np.random.SeedSequence(seed).spawn(int(n_events))
    it: Any = range(int(n_events))
    if progress:
        from tqdm.auto import tqdm  # noqa: PLC0415

        it = tqdm(it, desc="simulating", unit="event")
    for k in it:
        yield simulate_event(seed=children[k], geometry=geometry, event_id=first_event_id + k,
                             config=cfg)
