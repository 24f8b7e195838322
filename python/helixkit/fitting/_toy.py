"""Independent numpy toy tracks in barrel layers (for tests and benchmarks).

Deliberately does not use the C++ propagator: helices are stepped from
cylinder to cylinder with a transverse circle-circle intersection, with
optional Highland scattering after each crossing and Gaussian smearing of the
local measurement (u = R·φ, v = z). Optional passive (material-only) cylinders
between the layers scatter without a hit (:func:`passive_sequence` builds the
fitter input with them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import units as u
from .surfaces import CYLINDER, Surfaces


@dataclass
class ToyTracks:
    offsets: np.ndarray      # (N + 1,)
    layer: np.ndarray        # (M,) index into the radii list
    local: np.ndarray        # (M, 2) measured (R·φ, z)
    local_true: np.ndarray   # (M, 2)
    local_cov: np.ndarray    # (M, 3)
    xyz: np.ndarray          # (M, 3) measured global points
    truth: np.ndarray        # (N, 5) perigee (d0, z0, φ, θ, q/p) at the beam line
    true_state: np.ndarray   # (M, 5) true bound (loc0, loc1, φ, θ, q/p) at each hit
    pt: np.ndarray           # (N,)


def _highland(x: np.ndarray, p: np.ndarray, mass: float) -> np.ndarray:
    e = np.sqrt(p * p + mass * mass)
    beta = p / e
    return 0.0136 / (beta * p) * np.sqrt(x) * (1 + 0.038 * np.log(x / beta**2))


def _scatter(pos: np.ndarray, mom: np.ndarray, r: float, x0: float, mass: float,
             rng: np.random.Generator) -> np.ndarray:
    """Highland-scattered momenta after crossing a cylinder of radius r and X/X0 = x0."""
    m = len(mom)
    p = np.linalg.norm(mom, axis=1)
    uvec = mom / p[:, None]
    cosi = np.abs(uvec[:, 0] * pos[:, 0] + uvec[:, 1] * pos[:, 1]) / r
    th0 = _highland(x0 / cosi, p, mass)
    n1 = np.hypot(uvec[:, 0], uvec[:, 1])
    e1 = np.stack([-uvec[:, 1] / n1, uvec[:, 0] / n1, np.zeros(m)], axis=1)
    e2 = np.cross(uvec, e1)
    t1 = th0 * rng.normal(0, 1, m)
    t2 = th0 * rng.normal(0, 1, m)
    v = uvec + t1[:, None] * e1 + t2[:, None] * e2
    return p[:, None] * v / np.linalg.norm(v, axis=1)[:, None]


def step_to_cylinder(pos: np.ndarray, mom: np.ndarray, q: np.ndarray, radius: float,
                     bz: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Move helices (pos, mom: (n, 3)) to their next outward crossing of r = radius.

    Returns new positions, momenta and a validity mask (False if not reached).
    """
    pt = np.hypot(mom[:, 0], mom[:, 1])
    rho = pt / (np.abs(q) * abs(bz))
    s = np.sign(q * bz)  # +1: clockwise seen from +z
    tx, ty = mom[:, 0] / pt, mom[:, 1] / pt
    cx = pos[:, 0] + rho * s * ty
    cy = pos[:, 1] - rho * s * tx
    a0 = np.arctan2(pos[:, 1] - cy, pos[:, 0] - cx)
    d = np.hypot(cx, cy)
    a = (d * d + rho * rho - radius * radius) / (2 * d)
    h2 = rho * rho - a * a
    ok = h2 >= 0
    h = np.sqrt(np.where(ok, h2, 0.0))
    ex, ey = -cx / d, -cy / d
    best = np.full(len(q), np.inf)
    for sg in (-1.0, 1.0):
        px_ = a * ex - sg * h * ey
        py_ = a * ey + sg * h * ex
        turn = np.mod(s * (a0 - np.arctan2(py_, px_)), 2 * np.pi)
        turn = np.where(turn < 1e-12, turn + 2 * np.pi, turn)
        best = np.minimum(best, turn)
    ok &= best < np.pi
    ang = a0 - s * best
    new = np.empty_like(pos)
    new[:, 0] = cx + rho * np.cos(ang)
    new[:, 1] = cy + rho * np.sin(ang)
    new[:, 2] = pos[:, 2] + rho * best * mom[:, 2] / pt
    c, sn = np.cos(-s * best), np.sin(-s * best)
    newmom = mom.copy()
    newmom[:, 0] = c * mom[:, 0] - sn * mom[:, 1]
    newmom[:, 1] = sn * mom[:, 0] + c * mom[:, 1]
    return new, newmom, ok


def truth_perigee(pos: np.ndarray, mom: np.ndarray, q: np.ndarray, bz: float) -> np.ndarray:
    """Perigee (d0, z0, φ, θ, q/p) w.r.t. the z axis, ACTS sign convention."""
    pt = np.hypot(mom[:, 0], mom[:, 1])
    rho = pt / (np.abs(q) * abs(bz))
    s = np.sign(q * bz)
    tx, ty = mom[:, 0] / pt, mom[:, 1] / pt
    cx = pos[:, 0] + rho * s * ty
    cy = pos[:, 1] - rho * s * tx
    dc = np.hypot(cx, cy)
    # Closest point on the circle to the origin and the turning angle to it.
    a0 = np.arctan2(pos[:, 1] - cy, pos[:, 0] - cx)
    ap = np.arctan2(-cy, -cx)
    turn = np.angle(np.exp(1j * s * (a0 - ap)))  # signed, nearest
    px_, py_ = cx - rho * cx / dc, cy - rho * cy / dc
    phi = np.arctan2(np.sin(np.arctan2(ty, tx) - s * turn), np.cos(np.arctan2(ty, tx) - s * turn))
    d0 = -px_ * np.sin(phi) + py_ * np.cos(phi)
    z0 = pos[:, 2] + rho * turn * mom[:, 2] / pt
    p = np.linalg.norm(mom, axis=1)
    return np.stack([d0, z0, phi, np.arctan2(pt, mom[:, 2]), q / p], axis=1)


def perigee_to_state(params: np.ndarray, bz: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Position, momentum, charge at the perigee point of (d0, z0, φ, θ, q/p)."""
    d0, z0, phi, theta, qop = params.T
    pos = np.stack([-d0 * np.sin(phi), d0 * np.cos(phi), z0], axis=1)
    p = 1.0 / np.abs(qop)
    mom = np.stack([p * np.sin(theta) * np.cos(phi), p * np.sin(theta) * np.sin(phi),
                    p * np.cos(theta)], axis=1)
    return pos, mom, np.sign(qop)


def barrel_states(params: np.ndarray, radii: np.ndarray, bz: float
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Bound states (R·φ, z, φ, θ, q/p) of perigee helices at each barrel radius (no material).

    Returns (n, L, 5) states and (n, L) validity.
    """
    pos, mom, q = perigee_to_state(params, bz)
    out = np.full((len(params), len(radii), 5), np.nan)
    valid = np.ones((len(params), len(radii)), dtype=bool)
    for k, r in enumerate(radii):
        pos, mom, ok = step_to_cylinder(pos, mom, q, float(r), bz)
        valid[:, k] = ok
        out[:, k] = _bound(pos, mom, q, float(r))
    return out, valid


def _bound(pos: np.ndarray, mom: np.ndarray, q: np.ndarray, r: float) -> np.ndarray:
    p = np.linalg.norm(mom, axis=1)
    return np.stack([r * np.arctan2(pos[:, 1], pos[:, 0]), pos[:, 2],
                     np.arctan2(mom[:, 1], mom[:, 0]),
                     np.arctan2(np.hypot(mom[:, 0], mom[:, 1]), mom[:, 2]), q / p], axis=1)


def make_toy_tracks(  # noqa: PLR0913
    n: int, *, seed: int = 0, radii: tuple[float, ...] = (32.0, 72.0, 116.0, 172.0, 260.0,
                                                            360.0, 500.0, 660.0, 820.0, 1020.0),
    sigma: tuple[float, float] = (0.015, 0.015), thickness_x0: float = 0.0,
    pt_range: tuple[float, float] = (0.5, 10.0), eta_max: float = 1.0,
    bz: float = 2.0 * u.T, mass: float = 0.10566, smear: bool = True, vertex_sigma: float = 0.0,
    z_max: float = 1083.0, passive_radii: tuple[float, ...] = (), passive_x0: float = 0.0,
) -> ToyTracks:
    """``n`` toy muons from near the origin through barrel cylinders ``radii``.

    Tracks are kept only while they reach every layer within |z| < z_max, so
    each has exactly ``len(radii)`` hits (tracks not reaching all are redrawn).
    ``passive_radii`` are cylinders of ``passive_x0`` (X/X0 at normal incidence)
    crossed without a hit; the random numbers of the hits and of the
    measurement-layer scattering do not depend on them.
    """
    rng = np.random.default_rng(seed)
    rng_passive = np.random.default_rng([seed, 1])
    radii_arr = np.asarray(radii, dtype=np.float64)
    passive_arr = np.asarray(passive_radii, dtype=np.float64)
    kept: list[tuple] = []
    total = 0
    while total < n:
        m = 2 * (n - total) + 16
        pt = np.exp(rng.uniform(np.log(pt_range[0]), np.log(pt_range[1]), m))
        eta = rng.uniform(-eta_max, eta_max, m)
        phi = rng.uniform(-np.pi, np.pi, m)
        q = rng.choice([-1.0, 1.0], m)
        pos = np.stack([rng.normal(0, vertex_sigma, m), rng.normal(0, vertex_sigma, m),
                        rng.normal(0, 10 * vertex_sigma, m)], axis=1)
        mom = np.stack([pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)], axis=1)
        truth = truth_perigee(pos, mom, q, bz)
        states = np.zeros((m, len(radii_arr), 5))
        meas = np.zeros((m, len(radii_arr), 2))
        xyz = np.zeros((m, len(radii_arr), 3))
        good = np.ones(m, dtype=bool)
        for k, r in enumerate(radii_arr):
            for rp in passive_arr[(passive_arr < r) & (passive_arr > (radii_arr[k - 1] if k
                                                                       else 0.0))]:
                pos, mom, ok = step_to_cylinder(pos, mom, q, float(rp), bz)
                good &= ok & (np.abs(pos[:, 2]) < z_max)
                if passive_x0 > 0:
                    mom = _scatter(pos, mom, float(rp), passive_x0, mass, rng_passive)
            pos, mom, ok = step_to_cylinder(pos, mom, q, float(r), bz)
            good &= ok & (np.abs(pos[:, 2]) < z_max)
            states[:, k] = _bound(pos, mom, q, float(r))
            du = rng.normal(0, sigma[0], m) if smear else np.zeros(m)
            dv = rng.normal(0, sigma[1], m) if smear else np.zeros(m)
            meas[:, k, 0] = states[:, k, 0] + du
            meas[:, k, 1] = states[:, k, 1] + dv
            ph = meas[:, k, 0] / r
            xyz[:, k] = np.stack([r * np.cos(ph), r * np.sin(ph), meas[:, k, 1]], axis=1)
            if thickness_x0 > 0:
                mom = _scatter(pos, mom, float(r), thickness_x0, mass, rng)
        idx = np.flatnonzero(good)[: n - total]
        kept.append((truth[idx], states[idx], meas[idx], xyz[idx], pt[idx]))
        total += len(idx)
    truth = np.concatenate([k[0] for k in kept])
    states = np.concatenate([k[1] for k in kept])
    meas = np.concatenate([k[2] for k in kept])
    xyz = np.concatenate([k[3] for k in kept])
    pts = np.concatenate([k[4] for k in kept])
    nl = len(radii_arr)
    cov = np.zeros((n * nl, 3))
    cov[:, 0] = sigma[0] ** 2
    cov[:, 1] = sigma[1] ** 2
    return ToyTracks(
        offsets=np.arange(0, n * nl + 1, nl, dtype=np.int64),
        layer=np.tile(np.arange(nl), n),
        local=meas.reshape(-1, 2), local_true=states[:, :, :2].reshape(-1, 2), local_cov=cov,
        xyz=xyz.reshape(-1, 3), truth=truth, true_state=states.reshape(-1, 5), pt=pts,
    )


def barrel_surfaces(radii: tuple[float, ...] | np.ndarray, thickness_x0: float = 0.0,
                    z_max: float = 1083.0):  # noqa: ANN201
    """Surfaces (cylinders around z) for the toy radii."""
    r = np.asarray(radii, dtype=np.float64)
    n = len(r)
    bounds = np.stack([-np.pi * r, np.pi * r, np.full(n, -z_max), np.full(n, z_max)], axis=1)
    return Surfaces(np.full(n, CYLINDER), np.zeros((n, 3)), np.tile(np.eye(3), (n, 1, 1)), r,
                    bounds, np.full(n, thickness_x0))


def passive_sequence(t: ToyTracks, radii: tuple[float, ...] | np.ndarray,
                     passive_radii: tuple[float, ...] | np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fitter input with the passive cylinders in each track's sequence.

    Surface ids: measurement layer k is k, passive cylinder j is ``len(radii) + j``
    (as in ``barrel_surfaces((*radii, *passive_radii), ...)``). Returns offsets,
    surface ids, local values (NaN on passive rows), covariances and the mask
    (0 on passive rows).
    """
    r = np.asarray(radii, dtype=np.float64)
    rp = np.asarray(passive_radii, dtype=np.float64)
    nl, n = len(r), len(t.offsets) - 1
    allr = np.concatenate([r, rp])
    order = np.argsort(allr, kind="stable")
    ne = len(order)
    sid = np.tile(order.astype(np.int32), n)
    passive = sid >= nl
    rows = np.arange(n).repeat(ne) * nl + np.where(passive, 0, sid)
    local = np.where(passive[:, None], np.nan, t.local[rows])
    cov = np.where(passive[:, None], np.nan, t.local_cov[rows])
    mask = np.where(passive, 0, 3).astype(np.int8)
    return np.arange(0, n * ne + 1, ne, dtype=np.int64), sid, local, cov, mask
