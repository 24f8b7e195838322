"""The standard path DeepCore is measured against, on the same jet events.

- :func:`space_points`: the pixel clusters of an event (:func:`helixkit.graph.cluster_pixels`)
  as space points — the charge centroid moved to the sensor mid-plane in global coordinates —
  each with its truth: the particle that deposits the most charge in it ("main particle") and
  how many particles deposit a significant charge (2 or more: a *merged* cluster).
- :func:`jetcore_split`: a JetCore-like splitting of the clusters near the jet. CMS's rule:
  a cluster whose charge exceeds 1.2 x the charge expected for the jet direction,
  ``sqrt(1.08 + (pz/pT)^2) x 26 ke``, is taken to hold ``n = round(charge / expected)`` tracks
  (at most ``max_split``) and is split into ``n`` sub-clusters. CMS fits cluster templates;
  here the cluster's pixels are split by a charge-weighted k-means along the cluster's
  principal axis (deterministic: the starting centres are charge quantiles along that
  axis). A sub-cluster's truth is the particle, among those depositing in the cluster,
  whose true crossing is nearest to the sub-cluster's centroid.
- :func:`triplet_seeds`: helixkit's ACTS-style triplet seeding
  (:func:`helixkit.seeding.find_seeds`) on the space points, with a configuration for the
  four-layer barrel (:func:`bpix_seeding_config`: 3.8 T, pT >= 1 GeV, middle space points on
  BPIX2 or BPIX3).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import units as u
from ..graph import PixelClusters
from ..seeding import SeedFinderConfig, find_seeds
from .simulation import JetEvent

#: CMS's JetCore numbers: the most probable charge of a track crossing a BPIX sensor at normal
#: incidence [e], the factor above which a cluster is split, and the offset of the expected
#: path length factor sqrt(offset + (pz/pT)^2).
EXPECTED_CHARGE = 26_000.0
SPLIT_FACTOR = 1.2
PATH_OFFSET = 1.08


@dataclass(frozen=True)
class SpacePoints:
    """Space points from pixel clusters (all arrays (S,)).

    ``x, y, z`` [mm] global, on the sensor mid-plane; ``layer`` (0 = BPIX1), ``module``,
    ``row``, ``col`` (charge centroid, pixel coordinates), ``charge`` [e], ``size``
    (pixels), ``particle_id`` (the main particle; 0: noise), ``n_particles`` (particles
    depositing >= 2,000 e; 2 or more: merged), ``cluster`` (the cluster it comes from),
    ``split`` (made by :func:`jetcore_split`)."""

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    layer: np.ndarray
    module: np.ndarray
    row: np.ndarray
    col: np.ndarray
    charge: np.ndarray
    size: np.ndarray
    particle_id: np.ndarray
    n_particles: np.ndarray
    cluster: np.ndarray
    split: np.ndarray

    def __len__(self) -> int:
        return len(self.x)


def _main_particles(ev: JetEvent, cl: PixelClusters) -> np.ndarray:
    """(C,) the particle depositing the most charge in each cluster (0: none, noise)."""
    d = ev.deposits
    lab = cl.labels[d["pixel"]].astype(np.int64)
    pid = np.asarray(d["particle_id"], np.int64)
    q = np.asarray(d["charge"], np.float64)
    out = np.zeros(len(cl), np.int64)
    if len(lab) == 0:
        return out
    # per cluster the largest deposit sum: sort by (cluster, particle), sum runs, pick max
    span = int(pid.max()) + 1
    key = lab * span + pid
    uniq, inv = np.unique(key, return_inverse=True)
    tot = np.bincount(inv.reshape(-1), weights=q, minlength=len(uniq))
    c, p = uniq // span, uniq % span
    order = np.lexsort((-tot, c))           # per cluster: largest charge first
    first = np.r_[True, c[order][1:] != c[order][:-1]]
    out[c[order][first]] = p[order][first]
    return out


def _points(ev: JetEvent, module: np.ndarray, row: np.ndarray, col: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    det = ev.detector
    lx, ly = det.from_pixel(module, row, col)
    return det.to_global(module, lx, ly)


def space_points(ev: JetEvent, clusters: PixelClusters | None = None) -> SpacePoints:
    """The clusters of ``ev`` (default: :meth:`JetEvent.clusters`) as space points."""
    cl = ev.clusters() if clusters is None else clusters
    if len(cl.labels) != ev.n_pixels:
        msg = (f"clusters: {len(cl.labels)} labels for {ev.n_pixels} pixels; pass clusters of "
               "this event's pixels")
        raise ValueError(msg)
    module = np.asarray(cl.module, np.int64)
    x, y, z = _points(ev, module, cl.row, cl.col) if len(cl) else (np.zeros(0),) * 3
    n = len(cl)
    return SpacePoints(
        x=x, y=y, z=z, layer=ev.detector.module_layer(module) if n else np.zeros(0, np.int64),
        module=module, row=np.asarray(cl.row, np.float64), col=np.asarray(cl.col, np.float64),
        charge=np.asarray(cl.charge, np.float64), size=np.asarray(cl.size, np.int64),
        particle_id=_main_particles(ev, cl), n_particles=ev.cluster_particles(cl),
        cluster=np.arange(n, dtype=np.int64), split=np.zeros(n, dtype=bool))


def _split_pixels(r: np.ndarray, c: np.ndarray, q: np.ndarray, n: int, iters: int = 10
                  ) -> np.ndarray:
    """Charge-weighted k-means of one cluster's pixels into ``n`` groups (labels (P,))."""
    pts = np.stack([r, c], 1)
    mean = np.average(pts, axis=0, weights=q)
    cov = np.cov((pts - mean).T, aweights=q) if len(r) > 1 else np.eye(2)
    axis = np.linalg.eigh(np.atleast_2d(cov))[1][:, -1]
    proj = (pts - mean) @ axis
    order = np.argsort(proj, kind="stable")
    cq = np.cumsum(q[order]) / q.sum()
    centres = np.stack([pts[order][min(int(np.searchsorted(cq, (k + 0.5) / n)), len(r) - 1)]
                        for k in range(n)]).astype(np.float64)
    lab = np.zeros(len(r), np.int64)
    for _ in range(iters):
        d2 = ((pts[:, None, :] - centres[None]) ** 2).sum(-1)
        lab = np.argmin(d2, 1)
        for k in range(n):
            m = lab == k
            if m.any():
                centres[k] = np.average(pts[m], axis=0, weights=q[m])
    return lab


def jetcore_split(ev: JetEvent, clusters: PixelClusters | None = None, *,
                  delta_r: float = 0.1, max_split: int = 4) -> SpacePoints:
    """Space points with JetCore-like splitting (module docstring) of the clusters whose
    direction from the primary vertex lies within ``delta_r`` of the jet axis."""
    if not delta_r > 0 or max_split < 1:
        msg = f"delta_r must be > 0 and max_split >= 1, got {delta_r}, {max_split}"
        raise ValueError(msg)
    cl = ev.clusters() if clusters is None else clusters
    sp = space_points(ev, cl)
    if len(sp) == 0:
        return sp
    v = np.asarray(ev.vertex, np.float64)
    rr = np.hypot(sp.x - v[0], sp.y - v[1])
    eta = np.arcsinh((sp.z - v[2]) / np.maximum(rr, 1e-9))
    phi = np.arctan2(sp.y - v[1], sp.x - v[0])
    dphi = np.angle(np.exp(1j * (phi - ev.jet_phi)))
    near = np.hypot(eta - ev.jet_eta, dphi) <= delta_r
    cot = np.sinh(ev.jet_eta)
    expected = np.sqrt(PATH_OFFSET + cot * cot) * EXPECTED_CHARGE
    n_tracks = np.clip(np.rint(sp.charge / expected), 1, max_split).astype(np.int64)
    split = near & (sp.charge > SPLIT_FACTOR * expected) & (n_tracks >= 2) & (sp.size >= 2)
    if not split.any():
        return sp
    px = ev.pixels
    q_all = ev.calibrated_charge()
    order = np.argsort(cl.labels, kind="stable")
    bounds = np.searchsorted(cl.labels[order], np.arange(len(cl) + 1))
    cross = ev.crossings
    dep = ev.deposits
    dep_lab = cl.labels[dep["pixel"]]
    keep = ~split
    cols = {k: [getattr(sp, k)[keep]] for k in ("module", "row", "col", "charge", "size",
                                                  "particle_id", "n_particles", "cluster")}
    cols["split"] = [np.zeros(int(keep.sum()), dtype=bool)]
    for ci in np.flatnonzero(split):
        pix = order[bounds[ci]:bounds[ci + 1]]
        r = np.asarray(px["row"][pix], np.float64)
        c = np.asarray(px["col"][pix], np.float64)
        q = q_all[pix]
        n = min(int(n_tracks[ci]), len(pix))
        lab = _split_pixels(r, c, q, n)
        # the particles in this cluster and their true crossings on its module
        pids = np.unique(np.asarray(dep["particle_id"])[dep_lab == ci])
        m = (np.asarray(cross["module"]) == cl.module[ci]) & np.isin(
            np.asarray(cross["particle_id"]), pids)
        cr, cc, cp = (np.asarray(cross[k])[m] for k in ("row", "col", "particle_id"))
        for k in range(n):
            s = lab == k
            if not s.any():
                continue
            qr, qc, qq = np.average(r[s], weights=q[s]), np.average(c[s], weights=q[s]), \
                float(q[s].sum())
            best = int(cp[np.argmin((cr - qr) ** 2 + (cc - qc) ** 2)]) if len(cp) else 0
            for key, val in (("module", cl.module[ci]), ("row", qr), ("col", qc),
                             ("charge", qq), ("size", int(s.sum())), ("particle_id", best),
                             ("n_particles", 1), ("cluster", ci), ("split", True)):
                cols[key].append(np.array([val]))
    a = {k: np.concatenate(v) for k, v in cols.items()}
    order2 = np.lexsort((a["col"], a["row"], a["module"]))
    a = {k: v[order2] for k, v in a.items()}
    module = a["module"].astype(np.int64)
    x, y, z = _points(ev, module, a["row"], a["col"])
    return SpacePoints(x=x, y=y, z=z, layer=ev.detector.module_layer(module), module=module,
                       row=a["row"], col=a["col"], charge=a["charge"],
                       size=a["size"].astype(np.int64),
                       particle_id=a["particle_id"].astype(np.int64),
                       n_particles=a["n_particles"].astype(np.int64),
                       cluster=a["cluster"].astype(np.int64), split=a["split"].astype(bool))


def bpix_seeding_config(**overrides: object) -> SeedFinderConfig:
    """Triplet seeding for the four-layer barrel pixel detector: 3.8 T, pT >= 1 GeV, space
    points up to r = 200 mm, doublets 10-140 mm apart in r (no same-layer pairs), middle
    space points on BPIX2 or BPIX3, impact parameter <= 1 mm, vertices within +-150 mm."""
    values: dict[str, object] = {
        "b_field_z": 3.8 * u.T, "min_pt": 1.0 * u.GeV, "r_max": 200.0, "r_min_middle": 50.0,
        "r_max_middle": 130.0, "delta_r_min": 10.0, "delta_r_max": 140.0, "impact_max": 1.0,
        "collision_region_min": -150.0, "collision_region_max": 150.0, "z_min": -350.0,
        "z_max": 350.0, "cot_theta_max": 3.0}
    values.update(overrides)
    return SeedFinderConfig(**values)


def triplet_seeds(sp: SpacePoints, config: SeedFinderConfig | None = None, *,
                  n_threads: int = 0) -> np.ndarray:
    """(M, 3) space-point indices of the triplet seeds (bottom, middle, top)."""
    if len(sp) < 3:
        return np.zeros((0, 3), np.int64)
    cfg = config if config is not None else bpix_seeding_config()
    # cluster position errors: a pixel pitch / sqrt(12), scaled for the merged ones
    var_r = np.full(len(sp), 0.01)
    var_z = np.full(len(sp), (0.150 / np.sqrt(12)) ** 2 * np.maximum(sp.size, 1))
    res = find_seeds(sp.x, sp.y, sp.z, cfg, var_r=var_r, var_z=var_z, n_threads=n_threads)
    return np.asarray(res.triplets, np.int64)


__all__ = ["EXPECTED_CHARGE", "PATH_OFFSET", "SPLIT_FACTOR", "SpacePoints",
           "bpix_seeding_config", "jetcore_split", "space_points", "triplet_seeds"]
