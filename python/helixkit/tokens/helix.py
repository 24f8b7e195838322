"""The physics baseline of next-hit prediction: the helix through a track's last three hits,
extrapolated to a layer of the detector (vectorised numpy, float64, exact for a uniform
solenoid field along z).

The helix's transverse circle is the one through the three hits (signed Menger curvature),
its direction at the last hit the circle's tangent, its dip ``dz/ds`` the last two hits' (ds:
the transverse arc length between them). :func:`extrapolate_to_layers` gives the first
crossing ahead of the last hit with every layer of a :class:`~helixkit.data.Geometry` (a
cylinder: the circle–circle intersection; a disk: ``z = position``), :func:`helix_to_layer`
the crossing with a given layer, :func:`navigate` the first crossing with any layer inside
its extent (the layer the helix meets next). :func:`track_helix` picks the three hits of a
track so far: its last three (the baseline), or its first, middle and last ("lever arm": the
longest lever arm for the curvature and the dip, which the next-hit model reads as its prior).
"""

from __future__ import annotations

import numpy as np

from ..data.geometry import BARREL, Geometry

#: Curvatures below this (1/mm) are treated as straight lines.
STRAIGHT_KAPPA = 1e-9
#: A crossing must lie at least this far ahead of the last hit (transverse arc length, mm).
MIN_STEP = 1.0


class Helix:
    """Helices through the last three hits of n tracks (all arrays (n,) or (n, 2))."""

    def __init__(self, p0: np.ndarray, p1: np.ndarray, p2: np.ndarray) -> None:
        a, b, c = (np.asarray(p, dtype=np.float64) for p in (p0, p1, p2))
        d01, d12, d02 = b[:, :2] - a[:, :2], c[:, :2] - b[:, :2], c[:, :2] - a[:, :2]
        l01, l12, l02 = (np.linalg.norm(d, axis=1) for d in (d01, d12, d02))
        cross = d01[:, 0] * d12[:, 1] - d01[:, 1] * d12[:, 0]
        with np.errstate(invalid="ignore", divide="ignore"):
            kappa = 2.0 * cross / (l01 * l12 * l02)
            chord = d12 / l12[:, None]
            half = np.arcsin(np.clip(0.5 * kappa * l12, -1.0, 1.0))   # half the chord's turn
        kappa = np.where(np.isfinite(kappa), kappa, 0.0)
        half = np.where(np.isfinite(half), half, 0.0)
        cs, sn = np.cos(half), np.sin(half)
        #: unit tangent at the last hit (the chord turned by half its arc's angle)
        self.t = np.stack([chord[:, 0] * cs - chord[:, 1] * sn,
                           chord[:, 0] * sn + chord[:, 1] * cs], 1)
        straight = np.abs(kappa) < STRAIGHT_KAPPA
        with np.errstate(invalid="ignore", divide="ignore"):
            arc = np.where(straight, l12, 2.0 * half / np.where(straight, 1.0, kappa))
            self.tan_lambda = (c[:, 2] - b[:, 2]) / arc
        self.kappa = kappa
        self.straight = straight
        self.p = c
        self.ok = np.isfinite(self.t).all(1) & np.isfinite(self.tan_lambda) & (l12 > 0) & \
            (l01 > 0)

    def __len__(self) -> int:
        return len(self.p)

    def at(self, s: np.ndarray) -> np.ndarray:
        """Positions (n, m, 3) at transverse arc lengths s (n, m) from the last hit."""
        k = self.kappa[:, None]
        ks = k * s
        small = np.abs(ks) < 1e-6
        with np.errstate(invalid="ignore", divide="ignore"):
            f_sin = np.where(small, s * (1 - ks * ks / 6), np.sin(ks) / np.where(small, 1, k))
            f_cos = np.where(small, s * ks / 2, (1 - np.cos(ks)) / np.where(small, 1, k))
        t = self.t[:, None, :]
        n = np.stack([-self.t[:, 1], self.t[:, 0]], 1)[:, None, :]
        xy = self.p[:, None, :2] + t * f_sin[..., None] + n * f_cos[..., None]
        z = self.p[:, None, 2] + self.tan_lambda[:, None] * s
        return np.concatenate([xy, z[..., None]], 2)

    def s_cylinder(self, radius: np.ndarray) -> np.ndarray:
        """Arc length (n, m) to the first crossing ahead with cylinders of radius (m,); inf:
        none."""
        R = np.asarray(radius, dtype=np.float64)[None, :]
        px, py = self.p[:, 0:1], self.p[:, 1:2]
        tx, ty = self.t[:, 0:1], self.t[:, 1:2]
        out = np.full((len(self), R.shape[1]), np.inf)
        # straight lines: |p + t s| = R
        b = px * tx + py * ty
        disc = b * b - (px * px + py * py - R * R)
        with np.errstate(invalid="ignore"):
            sq = np.sqrt(disc)
        for root in (-b - sq, -b + sq):
            good = np.isfinite(root) & (root > MIN_STEP)
            out = np.where(good & (root < out), root, out)
        line = self.straight[:, None] | ~np.isfinite(self.kappa)[:, None]
        # circles: centre c = p + n / kappa, radius rho = 1 / |kappa|
        with np.errstate(invalid="ignore", divide="ignore"):
            k = np.where(self.straight, 1.0, self.kappa)[:, None]
            cx, cy = px - ty / k, py + tx / k
            rho = 1.0 / np.abs(k)
            d = np.hypot(cx, cy)
            a = (R * R - rho * rho + d * d) / (2.0 * d)
            h = np.sqrt(R * R - a * a)
            ux, uy = cx / d, cy / d
            psi0 = np.arctan2(py - cy, px - cx)
            sense = np.sign(k)
            best = np.full_like(out, np.inf)
            for sgn in (-1.0, 1.0):
                qx, qy = a * ux - sgn * h * uy, a * uy + sgn * h * ux
                dpsi = np.mod(sense * (np.arctan2(qy - cy, qx - cx) - psi0), 2 * np.pi)
                s = rho * dpsi
                good = np.isfinite(s) & (s > MIN_STEP)
                best = np.where(good & (s < best), s, best)
        return np.where(line, out, best)

    def s_disk(self, z: np.ndarray) -> np.ndarray:
        """Arc length (n, m) to the disks at z (m,) ahead; inf: none (or beyond one turn)."""
        Z = np.asarray(z, dtype=np.float64)[None, :]
        with np.errstate(invalid="ignore", divide="ignore"):
            s = (Z - self.p[:, 2:3]) / self.tan_lambda[:, None]
        turn = np.abs(self.kappa[:, None] * s)
        good = np.isfinite(s) & (s > MIN_STEP) & (turn < 2 * np.pi)
        return np.where(good, s, np.inf)


def _layer_arrays(geometry: Geometry) -> dict[str, np.ndarray]:
    return geometry.arrays()


def crossings(helix: Helix, geometry: Geometry) -> tuple[np.ndarray, np.ndarray]:
    """(arc length (n, L), inside (n, L)): the first crossing ahead with every layer of the
    geometry, and whether it lies inside the layer's extent."""
    g = _layer_arrays(geometry)
    barrel = g["kind"] == BARREL
    s = np.where(barrel[None, :], helix.s_cylinder(np.where(barrel, g["position"], 1.0)),
                 helix.s_disk(np.where(barrel, 0.0, g["position"])))
    fin = np.isfinite(s)
    pos = helix.at(np.where(fin, s, 0.0))
    r = np.hypot(pos[..., 0], pos[..., 1])
    coord = np.where(barrel[None, :], pos[..., 2], r)
    inside = fin & (coord >= g["extent_min"][None, :]) & (coord <= g["extent_max"][None, :])
    return s, inside


def helix_to_layer(helix: Helix, geometry: Geometry, layer: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(positions (n, 3), found (n,)): each helix's first crossing ahead with its layer
    (``layer``: (n,) indices into ``geometry.layers``; the extent is not required)."""
    g = _layer_arrays(geometry)
    li = np.asarray(layer, dtype=np.int64)
    n = len(helix)
    if len(li) != n:
        msg = f"layer has {len(li)} entries for {n} helices"
        raise ValueError(msg)
    bad = (li < 0) | (li >= len(g["kind"]))
    if bad.any():
        msg = f"layer: index {int(li[bad][0])} outside [0, {len(g['kind'])}) (unknown layer)"
        raise ValueError(msg)
    barrel = g["kind"][li] == BARREL
    pos = g["position"][li]
    s = np.full(n, np.inf)
    if n:
        # one layer per helix: evaluate the (n, 1) forms row by row in one call each
        sc = _diag(helix, np.where(barrel, pos, 1.0), cylinder=True)
        sd = _diag(helix, np.where(barrel, 0.0, pos), cylinder=False)
        s = np.where(barrel, sc, sd)
    found = np.isfinite(s) & helix.ok
    out = helix.at(np.where(found, s, 0.0)[:, None])[:, 0, :]
    return out, found


def _diag(helix: Helix, values: np.ndarray, *, cylinder: bool) -> np.ndarray:
    """s of helix i with the surface ``values[i]`` (the diagonal of the (n, n) forms, without
    building them): group the helices by value."""
    out = np.full(len(helix), np.inf)
    uniq, inv = np.unique(values, return_inverse=True)
    s = helix.s_cylinder(uniq) if cylinder else helix.s_disk(uniq)
    out[:] = s[np.arange(len(helix)), inv]
    return out


def navigate(helix: Helix, geometry: Geometry) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(layer (n,), position (n, 3), found (n,)): the layer each helix meets next inside its
    extent (the smallest arc length ahead), and where."""
    s, inside = crossings(helix, geometry)
    s = np.where(inside, s, np.inf)
    layer = np.argmin(s, axis=1) if s.shape[1] else np.zeros(len(helix), np.int64)
    best = s[np.arange(len(helix)), layer] if len(helix) else np.zeros(0)
    found = np.isfinite(best) & helix.ok
    pos = helix.at(np.where(found, best, 0.0)[:, None])[:, 0, :]
    return layer.astype(np.int64), pos, found


def track_helix(xyz: np.ndarray, track: np.ndarray, step: np.ndarray, *,
                lever_arm: bool = True) -> Helix:
    """The helices of tracks ``track`` (positions ``xyz`` (n, T, 3)) after their hit ``step``
    (>= 2): through hits 0, (step + 1) // 2 and step (``lever_arm``), or through hits
    step - 2, step - 1 and step. In a uniform field without scattering both are exact;
    with measurement errors and multiple scattering the long lever arm is the better
    extrapolation (docs/tokens.md)."""
    track = np.asarray(track, dtype=np.int64)
    step = np.broadcast_to(np.asarray(step, dtype=np.int64), track.shape)
    if len(step) and step.min() < 2:
        msg = f"step must be >= 2 (three hits), got {int(step.min())}"
        raise ValueError(msg)
    if lever_arm:
        return Helix(xyz[track, 0], xyz[track, (step + 1) // 2], xyz[track, step])
    return Helix(xyz[track, step - 2], xyz[track, step - 1], xyz[track, step])


__all__ = ["Helix", "crossings", "helix_to_layer", "navigate", "track_helix"]
