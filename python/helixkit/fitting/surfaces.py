"""Measurement surfaces for the Kalman fitter (planes, cylinders, disks).

Local coordinates follow ACTS: plane (x, y) in the plane frame; cylinder
(R·φ, z); disk (r, φ). A surface's frame is a centre and a rotation whose
columns are the local x, y, z axes in global coordinates.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _core
from .._validation import as_float_array, as_int_array, as_numpy
from ..data.geometry import BARREL, Geometry

PLANE = 0
CYLINDER = 1
DISK = 2

#: Radiation length of silicon [mm], used for TrackML module thickness.
SILICON_X0 = 93.7


class Surfaces:
    """A validated set of surfaces addressed by index.

    Parameters
    ----------
    type : (S,) int
        0 plane, 1 cylinder, 2 disk.
    center : (S, 3) float
        Centres [mm].
    rotation : (S, 3, 3) float
        Rotations; column j is local axis j in global coordinates.
    radius : (S,) float
        Cylinder radii [mm] (ignored for planes and disks).
    bounds : (S, 4) float
        (loc0 min, loc0 max, loc1 min, loc1 max), used for hole counting.
    thickness_x0 : (S,) float
        Material in radiation lengths at normal incidence.
    """

    def __init__(self, type: Any, center: Any, rotation: Any, radius: Any, bounds: Any,  # noqa: A002
                 thickness_x0: Any) -> None:
        t = as_int_array(type, "type", np.int8)
        n = len(t)
        c = as_float_array(center, "center").reshape(n, 3) if n else np.zeros((0, 3))
        rot = as_float_array(rotation, "rotation")
        if rot.size != 9 * n:
            msg = f"rotation must have shape ({n}, 3, 3), got {rot.shape}"
            raise ValueError(msg)
        b = as_float_array(bounds, "bounds", finite=False)
        if np.isnan(b).any() or b.size != 4 * n:
            msg = f"bounds must be ({n}, 4) without NaN, got shape {b.shape}"
            raise ValueError(msg)
        self.type = t
        self.center = np.ascontiguousarray(c)
        self.rotation = np.ascontiguousarray(rot.reshape(n, 9))
        self.radius = np.ascontiguousarray(as_float_array(radius, "radius").reshape(n))
        self.bounds = np.ascontiguousarray(b.reshape(n, 4))
        self.thickness_x0 = np.ascontiguousarray(
            as_float_array(thickness_x0, "thickness_x0").reshape(n))
        self._native = _core.SurfaceSet(self.type, self.center, self.rotation, self.radius,
                                        self.bounds, self.thickness_x0)

    def __len__(self) -> int:
        return len(self.type)

    def __repr__(self) -> str:
        kinds = np.bincount(self.type, minlength=3)
        return f"Surfaces({len(self)}: {kinds[0]} planes, {kinds[1]} cylinders, {kinds[2]} disks)"

    def space_points_to_local(self, surface_id: Any, xyz: Any, cov: Any
                              ) -> tuple[np.ndarray, np.ndarray]:
        """Project space points (global x, y, z and a 3x3 covariance) on their surfaces.

        ``cov`` may be (n, 3) variances or (n, 3, 3). Returns local values (n, 2)
        and local covariances (n, 3) as (var0, var1, cov01).
        """
        sid = np.ascontiguousarray(as_numpy(surface_id), dtype=np.int32)
        pts = as_float_array(xyz, "xyz", ndim=2)
        c = as_float_array(cov, "cov")
        if c.ndim == 2 and c.shape[1:] == (3,):
            c = np.einsum("ni,ij->nij", c, np.eye(3))
        c = np.ascontiguousarray(c)
        return self._native.space_points_to_local(sid, pts, c)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_geometry(cls, geometry: Geometry) -> Surfaces:
        """One cylinder (barrel layer) or disk (endcap layer) per layer, same index."""
        g = geometry.arrays()
        n = len(g["kind"])
        barrel = g["kind"] == BARREL
        center = np.zeros((n, 3))
        center[~barrel, 2] = g["position"][~barrel]
        radius = np.where(barrel, g["position"], 0.0)
        bounds = np.empty((n, 4))
        bounds[:, 0] = np.where(barrel, -np.pi * radius, g["extent_min"])
        bounds[:, 1] = np.where(barrel, np.pi * radius, g["extent_max"])
        bounds[:, 2] = np.where(barrel, g["extent_min"], -np.pi)
        bounds[:, 3] = np.where(barrel, g["extent_max"], np.pi)
        rot = np.tile(np.eye(3), (n, 1, 1))
        return cls(np.where(barrel, CYLINDER, DISK), center, rot, radius, bounds,
                   g["thickness_x0"])

    @classmethod
    def from_trackml_detectors(cls, detectors: Any, *, x0: float = SILICON_X0) -> Surfaces:
        """Planes from a TrackML ``detectors.csv`` table (one row per module).

        ``detectors`` is a mapping of columns (a pandas DataFrame or a
        :class:`helixkit.data.Table`) with cx, cy, cz, rot_xu .. rot_zw,
        module_t, module_minhu, module_maxhu, module_hv. Material is
        ``module_t / x0``; bounds are the module's half-lengths (trapezoids use
        the larger half-width).
        """
        col = {k: np.asarray(detectors[k], dtype=np.float64) for k in (
            "cx", "cy", "cz", "rot_xu", "rot_xv", "rot_xw", "rot_yu", "rot_yv", "rot_yw",
            "rot_zu", "rot_zv", "rot_zw", "module_t", "module_minhu", "module_maxhu",
            "module_hv")}
        n = len(col["cx"])
        center = np.stack([col["cx"], col["cy"], col["cz"]], axis=1)
        rot = np.stack([col[f"rot_{a}{b}"] for a in "xyz" for b in "uvw"], axis=1).reshape(n, 3, 3)
        hu = np.maximum(col["module_minhu"], col["module_maxhu"])
        hv = col["module_hv"]
        bounds = np.stack([-hu, hu, -hv, hv], axis=1)
        return cls(np.full(n, PLANE), center, rot, np.zeros(n), bounds, col["module_t"] / x0)


def geometry_measurements(geometry: Geometry, layer: np.ndarray, x: Any, y: Any, z: Any
                          ) -> tuple[np.ndarray, np.ndarray]:
    """Local measurements of hits on the layers of a built-in geometry.

    Barrel (cylinder): (R·φ, z) with variances (σu², σv²). Endcap (disk):
    (r, φ) with variances (σv², (σu / r)²), the simulation's smearing of u = r·φ
    and v = r. Returns local values (n, 2) and covariances (n, 3).
    """
    g = geometry.arrays()
    layer = np.asarray(layer, dtype=np.int64)
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    z = np.asarray(z, dtype=np.float64)
    barrel = g["kind"][layer] == BARREL
    phi = np.arctan2(y, x)
    r = np.hypot(x, y)
    su, sv = g["sigma_u"][layer], g["sigma_v"][layer]
    loc = np.empty((len(layer), 2))
    loc[:, 0] = np.where(barrel, g["position"][layer] * phi, r)
    loc[:, 1] = np.where(barrel, z, phi)
    cov = np.zeros((len(layer), 3))
    cov[:, 0] = np.where(barrel, su**2, sv**2)
    cov[:, 1] = np.where(barrel, sv**2, (su / np.maximum(r, 1e-9)) ** 2)
    return loc, cov
