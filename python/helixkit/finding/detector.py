"""Detector surfaces and local measurements of an event's hits, for the CKF.

* Events with a built-in :class:`~helixkit.data.Geometry` (the simulation): one
  cylinder (barrel layer) or disk (endcap layer) per layer, the layer's material,
  and the simulation's resolutions (:func:`helixkit.fitting.geometry_measurements`).
* With ``modules`` (:class:`ModulePlanes`, e.g. an ACTS detector's sensitive surfaces by
  geometry id): every hit is a measurement on its own module plane (local position from its
  global one, covariance from ``var_local0`` / ``var_local1``), and the CKF searches layer
  by layer on the surfaces derived as below, carrying each candidate to its module.
* Any other event (TrackML, ACTS CSV): one surface per (volume_id, layer_id),
  derived from its hits: a cylinder at the mean radius spanning the hits' z for a
  layer longer in z than in r (barrel), else a disk at the mean z spanning their
  r (endcap). A hit is projected on its layer's surface (cylinder: (R·φ, z),
  disk: (r, φ)); hits off the mean surface (staggered modules) get the shift
  along the track times the straight-line slope from the beam line added to the
  variance of the coordinate it moves. Variances come from the hits'
  ``var_local0`` / ``var_local1`` (ACTS measurements; loc0 tangential) when
  present, else from ``pixel_resolution`` / ``strip_resolution`` by volume.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .. import units as u
from .._validation import require_instance
from ..data import Event, Geometry
from ..fitting import CYLINDER, DISK, Surfaces, geometry_measurements

#: (σ_tangential, σ_along) [mm] used when the hits carry no variances.
PIXEL_RESOLUTION = (0.015 * u.mm, 0.015 * u.mm)
STRIP_RESOLUTION = (0.035 * u.mm, 1.0 * u.mm)
DEFAULT_PIXEL_VOLUMES = (7, 8, 9)


@dataclass(frozen=True)
class ModulePlanes:
    """Sensitive module planes by ACTS geometry id (K modules).

    ``center`` (K, 3) [mm], ``rotation`` (K, 3, 3) (columns: local axes), ``thickness_x0``
    (K,); ``bounds`` (K, 4) local (loc0 min, max, loc1 min, max), default unbounded.
    """

    geometry_id: np.ndarray
    center: np.ndarray
    rotation: np.ndarray
    thickness_x0: np.ndarray
    bounds: np.ndarray | None = None

    def __post_init__(self) -> None:
        k = len(self.geometry_id)
        for name, shape in (("center", (k, 3)), ("rotation", (k, 3, 3)), ("thickness_x0", (k,))):
            arr = np.asarray(getattr(self, name))
            if arr.shape != shape:
                msg = f"ModulePlanes.{name} must have shape {shape}, got {arr.shape}"
                raise ValueError(msg)
        if len(np.unique(np.asarray(self.geometry_id))) != k:
            msg = "ModulePlanes.geometry_id must be unique"
            raise ValueError(msg)


@dataclass(frozen=True)
class PassiveSurfaces:
    """Material-only surfaces along z (supports, beam pipe, volume boundaries): tracks are
    scattered there, with no search and no hole. Cylinders: ``cyl_r``, ``cyl_half_z``,
    ``cyl_x0``; disks: ``disc_z``, ``disc_rmin``, ``disc_rmax``, ``disc_x0`` [mm, x/X0]."""

    cyl_r: np.ndarray
    cyl_half_z: np.ndarray
    cyl_x0: np.ndarray
    disc_z: np.ndarray
    disc_rmin: np.ndarray
    disc_rmax: np.ndarray
    disc_x0: np.ndarray

    def surfaces(self) -> tuple[np.ndarray, ...]:
        """(type, center, rotation, radius, bounds, x0) rows for :class:`Surfaces`."""
        r = np.asarray(self.cyl_r, np.float64)
        hz = np.asarray(self.cyl_half_z, np.float64)
        dz = np.asarray(self.disc_z, np.float64)
        nc, nd = len(r), len(dz)
        center = np.zeros((nc + nd, 3))
        center[nc:, 2] = dz
        bounds = np.empty((nc + nd, 4))
        bounds[:nc] = np.stack([-np.pi * r, np.pi * r, -hz, hz], axis=1)
        bounds[nc:] = np.stack([np.asarray(self.disc_rmin, np.float64),
                                np.asarray(self.disc_rmax, np.float64),
                                np.full(nd, -np.pi), np.full(nd, np.pi)], axis=1)
        return (np.r_[np.full(nc, CYLINDER), np.full(nd, DISK)].astype(np.int8), center,
                np.tile(np.eye(3), (nc + nd, 1, 1)), np.r_[r, np.zeros(nd)], bounds,
                np.r_[np.asarray(self.cyl_x0, np.float64), np.asarray(self.disc_x0, np.float64)])


@dataclass(frozen=True)
class Detector:
    """Surfaces and per-hit local measurements.

    Attributes
    ----------
    surfaces : helixkit.fitting.Surfaces
    surface_id : (n_hits,) int32
        Surface of every hit; -1 for hits on no surface (not used).
    local : (n_hits, 2) float64
    cov : (n_hits, 3) float64
        (var0, var1, cov01).
    b_field_z : float
    derived : bool
        True if the surfaces were derived from the hits.
    layer, layer_local, layer_offset : arrays or None
        With module planes: the navigation layer of every hit, its position in the layer's
        coordinates and its offset from the layer along the layer's normal.
    passive : (P,) int32 or None
        Indices of material-only surfaces.
    layer_var : (n_hits, 2) float64 or None
        With module planes: each measurement's variance along the layer's coordinates.
    measurement_cov : (n_hits, 3) float64 or None
        Derived surfaces: the measurements' own covariances on them (``cov`` adds the spread
        of the modules' depth in the layer); what :func:`space_point_variances` uses.
    """

    surfaces: Surfaces
    surface_id: np.ndarray
    local: np.ndarray
    cov: np.ndarray
    b_field_z: float
    derived: bool
    layer: np.ndarray | None = None
    layer_local: np.ndarray | None = None
    layer_offset: np.ndarray | None = None
    passive: np.ndarray | None = None
    layer_var: np.ndarray | None = None
    measurement_cov: np.ndarray | None = None

    def __repr__(self) -> str:
        kind = "derived from hits" if self.derived else "from the geometry"
        return f"Detector({self.surfaces!r}, {kind}, {int((self.surface_id >= 0).sum())} hits)"


def detector_for(event: Event, geometry: Geometry | None = None, *, b_field_z: float | None = None,
                 pixel_volumes: tuple[int, ...] = DEFAULT_PIXEL_VOLUMES,
                 pixel_resolution: tuple[float, float] = PIXEL_RESOLUTION,
                 strip_resolution: tuple[float, float] = STRIP_RESOLUTION,
                 material_x0: float = 0.02, modules: ModulePlanes | None = None,
                 passive: PassiveSurfaces | None = None, fold_passive: bool = True
                 ) -> Detector:
    """The CKF's view of ``event``: surfaces and the local measurement of every hit.

    Parameters
    ----------
    geometry : Geometry, optional
        Default ``event.geometry``; without one the surfaces are derived from the
        hits (see the module docstring).
    b_field_z : float, optional
        Field in native units; default the geometry's, else 2 T.
    material_x0 : float
        x/X0 of each derived surface.
    modules : ModulePlanes, optional
        Measurement surfaces by geometry id (needs a ``geometry_id`` hit column).
    passive : PassiveSurfaces, optional
        Material-only surfaces.
    fold_passive : bool
        Add each passive surface's material to the nearest layer of its kind (cylinder:
        nearest radius; disk: nearest z on its side) and that layer's modules, instead of
        navigating to it (about half the CKF's time on the ACTS GenericDetector, whose
        supports sit next to every layer); False navigates to every passive surface.
    """
    det = _detector(event, geometry, b_field_z, pixel_volumes, pixel_resolution,
                    strip_resolution, material_x0, modules)
    if passive is None:
        return det
    return _fold_passive(det, passive) if fold_passive else _with_passive(det, passive)


def _fold_passive(det: Detector, passive: PassiveSurfaces) -> Detector:
    require_instance(passive, PassiveSurfaces, "passive", "helixkit.finding.PassiveSurfaces")
    s = det.surfaces
    on = det.surface_id >= 0
    lay = (det.layer if det.layer is not None else det.surface_id)[on].astype(np.int64)
    layers = np.unique(lay)
    cyl = layers[s.type[layers] == CYLINDER]
    dsk = layers[s.type[layers] == DISK]
    extra = np.zeros(len(s))
    for r, x0 in zip(np.asarray(passive.cyl_r, float), np.asarray(passive.cyl_x0, float)):
        if len(cyl):
            extra[cyl[np.argmin(np.abs(s.radius[cyl] - r))]] += x0
    for z, x0 in zip(np.asarray(passive.disc_z, float), np.asarray(passive.disc_x0, float)):
        side = dsk[np.sign(s.center[dsk, 2]) == np.sign(z)]
        if len(side):
            extra[side[np.argmin(np.abs(s.center[side, 2] - z))]] += x0
    x0 = s.thickness_x0 + extra
    if det.layer is not None:   # the modules of a layer carry its extra material too
        mods, first = np.unique(det.surface_id[on], return_index=True)
        x0[mods] += extra[lay[first]]
    surfaces = Surfaces(s.type, s.center, s.rotation.reshape(len(s), 3, 3), s.radius, s.bounds,
                        x0)
    return replace(det, surfaces=surfaces)


def _with_passive(det: Detector, passive: PassiveSurfaces) -> Detector:
    require_instance(passive, PassiveSurfaces, "passive", "helixkit.finding.PassiveSurfaces")
    s = det.surfaces
    typ, center, rot, radius, bounds, x0 = passive.surfaces()
    n = len(s)
    merged = Surfaces(np.r_[s.type, typ], np.r_[s.center, center],
                      np.r_[s.rotation.reshape(n, 3, 3), rot], np.r_[s.radius, radius],
                      np.r_[s.bounds, bounds], np.r_[s.thickness_x0, x0])
    return replace(det, surfaces=merged, passive=np.arange(n, n + len(typ), dtype=np.int32))


def _detector(event: Event, geometry: Geometry | None, b_field_z: float | None,
              pixel_volumes: tuple[int, ...], pixel_resolution: tuple[float, float],
              strip_resolution: tuple[float, float], material_x0: float,
              modules: ModulePlanes | None) -> Detector:
    require_instance(event, Event, "event", "helixkit.data.Event")
    geo = geometry if geometry is not None else event.geometry
    if geo is not None and not isinstance(geo, Geometry):
        msg = f"geometry must be a helixkit.data.Geometry, got {type(geo).__name__}"
        raise TypeError(msg)
    hits = event.hits
    if hits.n_rows == 0:
        msg = "event has no hits"
        raise ValueError(msg)
    x, y, z = (np.asarray(hits[c], dtype=np.float64) for c in ("x", "y", "z"))
    if not (np.isfinite(x).all() and np.isfinite(y).all() and np.isfinite(z).all()):
        msg = "event.hits x, y, z contain NaN or inf"
        raise ValueError(msg)
    if geo is not None:
        sid = geo.layer_indices(hits["volume_id"], hits["layer_id"])
        on = sid >= 0
        if not on.any():
            msg = (f"no hit of the event is on a layer of geometry {geo.name!r} (the event's "
                   "(volume_id, layer_id) are not the geometry's)")
            raise ValueError(msg)
        local = np.zeros((len(sid), 2))
        cov = np.ones((len(sid), 3))
        cov[:, 2] = 0.0
        loc, c = geometry_measurements(geo, sid[on], x[on], y[on], z[on])
        local[on], cov[on] = loc, c
        bz = geo.b_field_z if b_field_z is None else float(b_field_z)
        return Detector(Surfaces.from_geometry(geo), sid.astype(np.int32), local, cov, bz, False)
    bz = 2 * u.T if b_field_z is None else float(b_field_z)
    det = _derived(event, x, y, z, bz, pixel_volumes, pixel_resolution, strip_resolution,
                   float(material_x0))
    return det if modules is None else _on_modules(event, det, modules, x, y, z)


def _on_modules(event: Event, layers: Detector, modules: ModulePlanes, x: np.ndarray,
                y: np.ndarray, z: np.ndarray) -> Detector:
    """Measurements on module planes, searched on the derived layers."""
    require_instance(modules, ModulePlanes, "modules", "helixkit.finding.ModulePlanes")
    hits = event.hits
    if "geometry_id" not in hits.columns:
        msg = "modules need a geometry_id column in event.hits (ACTS events have one)"
        raise ValueError(msg)
    gid = np.asarray(hits["geometry_id"]).astype(np.uint64)
    mgid = np.asarray(modules.geometry_id).astype(np.uint64)
    order = np.argsort(mgid)
    pos = np.clip(np.searchsorted(mgid[order], gid), 0, len(mgid) - 1)
    found = mgid[order][pos] == gid
    if not found.all():
        bad = int(np.flatnonzero(~found)[0])
        msg = (f"hit row {bad}: geometry_id {int(gid[bad])} is not among the {len(mgid)} "
               "module planes")
        raise ValueError(msg)
    mod = order[pos]
    ls = layers.surfaces
    n_l, k = len(ls), len(mgid)
    rot = np.asarray(modules.rotation, dtype=np.float64)
    center = np.asarray(modules.center, dtype=np.float64)
    bounds = (np.tile([-np.inf, np.inf, -np.inf, np.inf], (k, 1)) if modules.bounds is None
              else np.asarray(modules.bounds, dtype=np.float64))
    # layers keep the mean material of their modules (for holes and outliers)
    x0 = np.asarray(modules.thickness_x0, dtype=np.float64)
    lid = layers.surface_id.astype(np.int64)
    layer_x0 = np.bincount(lid, x0[mod], minlength=n_l) / np.maximum(
        np.bincount(lid, minlength=n_l), 1)
    surfaces = Surfaces(
        np.r_[ls.type, np.zeros(k, np.int8)], np.r_[ls.center, center],
        np.r_[ls.rotation.reshape(n_l, 3, 3), rot], np.r_[ls.radius, np.zeros(k)],
        np.r_[ls.bounds, bounds], np.r_[layer_x0, x0])
    d = np.stack([x, y, z], axis=1) - center[mod]
    loc3 = np.einsum("nji,nj->ni", rot[mod], d)   # R^T (p - c)
    local = np.ascontiguousarray(loc3[:, :2])
    cov = np.zeros((len(x), 3))
    if "var_local0" in hits.columns and "var_local1" in hits.columns:
        cov[:, 0] = np.asarray(hits["var_local0"], dtype=np.float64)
        cov[:, 1] = np.asarray(hits["var_local1"], dtype=np.float64)
    else:
        cov[:, 0], cov[:, 1] = layers.cov[:, 0], layers.cov[:, 0]
    bad = ~((cov[:, 0] > 0) & (cov[:, 1] > 0) & np.isfinite(cov[:, :2]).all(axis=1))
    if bad.any():
        msg = f"hit row {int(np.flatnonzero(bad)[0])}: var_local0/1 must be finite and > 0"
        raise ValueError(msg)
    r = np.hypot(x, y)
    phi = np.arctan2(y, x)
    barrel = ls.type[lid] == CYLINDER
    rad = ls.radius[lid]
    layer_local = np.stack([np.where(barrel, rad * phi, r), np.where(barrel, z, phi)], axis=1)
    offset = np.where(barrel, r - rad, z - ls.center[lid, 2])
    # the module covariance along the layer's coordinates: tangential and z on a
    # cylinder, radial and phi (tangential / r) on a disk
    rs = np.maximum(r, 1e-6)
    radial = np.stack([x / rs, y / rs, np.zeros_like(x)], axis=1)
    tangential = np.stack([-y / rs, x / rs, np.zeros_like(x)], axis=1)
    along = np.where(barrel[:, None], tangential, radial)
    across = np.where(barrel[:, None], np.array([0.0, 0.0, 1.0]), tangential)
    ax_u, ax_v = rot[mod][:, :, 0], rot[mod][:, :, 1]   # module local axes, global frame

    def var_along(d: np.ndarray) -> np.ndarray:
        return cov[:, 0] * np.einsum("ni,ni->n", ax_u, d) ** 2 + cov[:, 1] * np.einsum(
            "ni,ni->n", ax_v, d) ** 2

    layer_var = np.stack([var_along(along), var_along(across)], axis=1)
    layer_var[:, 1] = np.where(barrel, layer_var[:, 1], layer_var[:, 1] / rs**2)
    return Detector(surfaces, (n_l + mod).astype(np.int32), local, cov, layers.b_field_z, True,
                    layer=lid.astype(np.int32), layer_local=np.ascontiguousarray(layer_local),
                    layer_offset=np.ascontiguousarray(offset),
                    layer_var=np.ascontiguousarray(layer_var))


def _derived(event: Event, x: np.ndarray, y: np.ndarray, z: np.ndarray, bz: float,
             pixel_volumes: tuple[int, ...], pix: tuple[float, float],
             strip: tuple[float, float], x0: float) -> Detector:
    hits = event.hits
    vol = np.asarray(hits["volume_id"], dtype=np.int64)
    key = vol * 100000 + np.asarray(hits["layer_id"], dtype=np.int64)
    ukey, sid = np.unique(key, return_inverse=True)
    n_s = len(ukey)
    r = np.hypot(x, y)
    phi = np.arctan2(y, x)

    order = np.argsort(sid, kind="stable")
    starts = np.r_[0, np.flatnonzero(np.diff(sid[order])) + 1]  # one group per surface

    def per(v: np.ndarray, fn: Any) -> np.ndarray:
        return fn.reduceat(v[order], starts)

    r_lo, r_hi = per(r, np.minimum), per(r, np.maximum)
    z_lo, z_hi = per(z, np.minimum), per(z, np.maximum)
    counts = np.bincount(sid, minlength=n_s)
    r_mean = np.bincount(sid, r, minlength=n_s) / counts
    z_mean = np.bincount(sid, z, minlength=n_s) / counts
    barrel = (r_hi - r_lo) < (z_hi - z_lo)
    # A track crosses the mean surface where it meets an off-surface hit displaced
    # by the offset times its slope: the bounds take the layer's largest such shift.
    slope = np.where(barrel[sid], np.abs(z) / np.maximum(r, 1e-6), r / np.maximum(np.abs(z), 1e-6))
    max_slope = per(slope, np.maximum)
    thick = np.where(barrel, r_hi - r_lo, z_hi - z_lo)
    margin = 1.0 * u.mm + thick * max_slope
    center = np.zeros((n_s, 3))
    center[~barrel, 2] = z_mean[~barrel]
    radius = np.where(barrel, r_mean, 0.0)
    bounds = np.empty((n_s, 4))
    bounds[:, 0] = np.where(barrel, -np.pi * radius, np.maximum(r_lo - margin, 0.0))
    bounds[:, 1] = np.where(barrel, np.pi * radius, r_hi + margin)
    bounds[:, 2] = np.where(barrel, z_lo - margin, -np.pi)
    bounds[:, 3] = np.where(barrel, z_hi + margin, np.pi)
    surfaces = Surfaces(np.where(barrel, CYLINDER, DISK), center, np.tile(np.eye(3), (n_s, 1, 1)),
                        radius, bounds, np.full(n_s, x0))
    b = barrel[sid]
    local = np.empty((len(sid), 2))
    local[:, 0] = np.where(b, radius[sid] * phi, r)
    local[:, 1] = np.where(b, z, phi)
    # variances: tangential (u) and along the module (v)
    pixel = np.isin(vol, np.asarray(pixel_volumes, dtype=np.int64))
    su = np.where(pixel, pix[0], strip[0])
    sv = np.where(pixel, pix[1], strip[1])
    var_u, var_v = su**2, sv**2
    if "var_local0" in hits.columns and "var_local1" in hits.columns:
        g0 = np.asarray(hits["var_local0"], dtype=np.float64)
        g1 = np.asarray(hits["var_local1"], dtype=np.float64)
        ok = np.isfinite(g0) & np.isfinite(g1) & (g0 > 0) & (g1 > 0)
        var_u = np.where(ok, g0, var_u)
        var_v = np.where(ok, g1, var_v)
    # off-surface hits: the track crosses the mean surface displaced by the
    # offset times the slope of the line from the beam line (z/r on a cylinder,
    # r/z on a disk)
    slope_b = np.abs(z) / np.maximum(r, 1e-6)
    slope_e = r / np.maximum(np.abs(z), 1e-6)
    shift_b = (r - radius[sid]) * slope_b
    shift_e = (z - z_mean[sid]) * slope_e
    # the measurements' own covariances (what the seeding's space points get), and the CKF's,
    # with the spread of the modules' depth in the layer
    own = np.zeros((len(sid), 3))
    own[:, 0] = np.where(b, var_u, var_v)
    own[:, 1] = np.where(b, var_v, var_u / np.maximum(r, 1e-6) ** 2)
    cov = own.copy()
    cov[:, 0] += np.where(b, 0.0, shift_e**2)
    cov[:, 1] += np.where(b, shift_b**2, 0.0)
    return Detector(surfaces, sid.astype(np.int32), local, cov, bz, True, measurement_cov=own)


def space_point_variances(det: Detector, x: Any, y: Any, default: float = (0.05 * u.mm) ** 2,
                          *, rows: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Variances of the hits' transverse radius and z, from their measurement covariances.

    As ACTS's ``SpacePointUtility::globalCoords`` (what its SpacePointMaker gives the seeding):
    the local covariance on the hit's surface is carried to global coordinates through the
    surface's local axes (plane: its rotation; cylinder: R·φ and z; disk: r and φ) and then to
    (r, z) at the hit's (x, y). On ACTS GenericDetector events this reproduces ACTS's
    space-point variances (to 0.1 %). Hits on no surface, and hits not in ``rows`` (default:
    all), get ``default``.
    """
    require_instance(det, Detector, "det", "helixkit.finding.Detector")
    n = len(det.surface_id)
    xs = np.asarray(x, dtype=np.float64).reshape(-1)
    ys = np.asarray(y, dtype=np.float64).reshape(-1)
    if len(xs) != n or len(ys) != n:
        msg = f"x and y must have one entry per hit of the detector ({n}), got {len(xs)}, {len(ys)}"
        raise ValueError(msg)
    var_r = np.full(n, default)
    var_z = np.full(n, default)
    cand = np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64).reshape(-1)
    on = cand[det.surface_id[cand] >= 0]
    if len(on) == 0:
        return var_r, var_z
    sid = det.surface_id[on]
    srf = det.surfaces
    rot = srf.rotation[sid]                           # (m, 9) row-major: rot[:, 3 i + j]
    kind = srf.type[sid]
    l0, l1 = det.local[on, 0], det.local[on, 1]
    # the local axes in the surface frame: d position / d loc0 (e0) and / d loc1 (e1)
    m = len(on)
    e0 = np.zeros((m, 3))
    e1 = np.zeros((m, 3))
    e0[:, 0] = 1.0                                    # plane: u, v
    e1[:, 1] = 1.0
    cyl = kind == CYLINDER
    phi = l0[cyl] / np.maximum(srf.radius[sid[cyl]], 1e-12)
    e0[cyl] = np.stack([-np.sin(phi), np.cos(phi), np.zeros(len(phi))], axis=1)
    e1[cyl] = (0.0, 0.0, 1.0)
    dsk = kind == DISK
    c, s_ = np.cos(l1[dsk]), np.sin(l1[dsk])
    e0[dsk] = np.stack([c, s_, np.zeros(len(c))], axis=1)
    e1[dsk] = np.stack([-l0[dsk] * s_, l0[dsk] * c, np.zeros(len(c))], axis=1)

    def to_global(e: np.ndarray, i: int) -> np.ndarray:
        # row i of rot @ e
        return rot[:, 3 * i] * e[:, 0] + rot[:, 3 * i + 1] * e[:, 1] + rot[:, 3 * i + 2] * e[:, 2]

    r = np.maximum(np.hypot(xs[on], ys[on]), 1e-12)
    cr, sr = xs[on] / r, ys[on] / r
    # d r / d loc_k and d z / d loc_k
    a0 = cr * to_global(e0, 0) + sr * to_global(e0, 1)
    a1 = cr * to_global(e1, 0) + sr * to_global(e1, 1)
    b0, b1 = to_global(e0, 2), to_global(e1, 2)
    own = det.cov if det.measurement_cov is None else det.measurement_cov
    v0, v1, c01 = own[on, 0], own[on, 1], own[on, 2]
    # (a variance along an axis the measurement does not constrain rounds to +-1e-22)
    var_r[on] = np.maximum(a0 * a0 * v0 + 2.0 * a0 * a1 * c01 + a1 * a1 * v1, 0.0)
    var_z[on] = np.maximum(b0 * b0 * v0 + 2.0 * b0 * b1 * c01 + b1 * b1 * v1, 0.0)
    return var_r, var_z


def seeds_on_distinct_surfaces(det: Detector, seeds: np.ndarray) -> np.ndarray:
    """(S,) bool: the seeds (S, 3 hit rows) whose three hits lie on three different surfaces
    of ``det`` — what the CKF can follow (two hits on one derived layer surface, from
    overlapping modules, cannot)."""
    sid = det.surface_id[np.asarray(seeds, dtype=np.int64).reshape(-1, 3)]
    return ((sid >= 0).all(axis=1) & (sid[:, 0] != sid[:, 1]) & (sid[:, 1] != sid[:, 2])
            & (sid[:, 0] != sid[:, 2]))


def seeding_variances(event: Event, det: Detector, volumes: Any = None
                      ) -> tuple[np.ndarray, np.ndarray]:
    """(var_r, var_z) per hit for the seeding: the event's own ``var_r`` / ``var_z`` columns
    (ACTS space-point or TrackML files) where it has them, else
    :func:`space_point_variances` from the measurements on ``det`` (for the hits of
    ``volumes`` only, when given: the seeding volumes)."""
    hits = event.hits
    names = set(hits.columns)
    if {"var_r", "var_z"} <= names:
        return (np.asarray(hits["var_r"], dtype=np.float64),
                np.asarray(hits["var_z"], dtype=np.float64))
    rows = None if volumes is None else np.flatnonzero(
        np.isin(hits["volume_id"], np.asarray(list(volumes))))
    return space_point_variances(det, hits["x"], hits["y"], rows=rows)


__all__ = ["Detector", "ModulePlanes", "PassiveSurfaces", "PIXEL_RESOLUTION", "STRIP_RESOLUTION", "detector_for",
           "seeding_variances", "seeds_on_distinct_surfaces", "space_point_variances"]
