"""Detector geometry of the built-in simulation: barrel cylinders and endcap disks.

A :class:`Geometry` is plain data that users can build, edit or replace (an
ODD- or ITk-like layout is a different list of :class:`Layer` objects). All
lengths are in mm, the field in native units (``2 * units.T``).

Local measurement coordinates (used by the simulation's smearing and by the
Kalman fitter):

* barrel layer (cylinder of radius ``r``): ``u = r * phi`` (tangential), ``v = z``;
* endcap layer (disk at ``z``): ``u = r * phi`` (tangential), ``v = r`` (radial).

``resolution = (sigma_u, sigma_v)`` in mm; ``thickness_x0`` is the layer's
material in radiation lengths at normal incidence. ``pitch = (pitch_u, pitch_v)``
and ``sensor_thickness`` (mm) describe the sensor's readout cells, from which the
simulation makes TrackML-style clusters (cells) and
:func:`helixkit.features.hit_features` reads the cluster shape back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

import numpy as np

from .. import units as u

if TYPE_CHECKING:
    from .event import Event

BARREL = 0
ENDCAP = 1


@dataclass(frozen=True)
class Layer:
    """One sensitive layer.

    Attributes
    ----------
    volume_id, layer_id : int
        TrackML-style identifiers.
    kind : {"barrel", "endcap"}
    position : float
        Barrel: radius [mm]. Endcap: signed z [mm].
    extent : (float, float)
        Barrel: (z_min, z_max) [mm]. Endcap: (r_min, r_max) [mm].
    resolution : (float, float)
        (sigma_u, sigma_v) [mm] in local coordinates (see module docstring).
    thickness_x0 : float
        Material x/X0 at normal incidence.
    n_phi_modules, n_modules_2 : int
        Module segmentation in phi and in z (barrel) or r (endcap); module_id
        numbering is ``1 + i_2 * n_phi_modules + i_phi``.
    efficiency : float
        Probability that a crossing produces a hit.
    pitch : (float, float)
        Readout cell size (pitch_u, pitch_v) [mm]; TrackML pixels are
        0.05 x 0.05625 mm, short strips 0.08 x 1.2, long strips 0.12 x 10.8.
    sensor_thickness : float
        Depleted sensor thickness [mm] that a crossing track ionises.
    """

    volume_id: int
    layer_id: int
    kind: Literal["barrel", "endcap"]
    position: float
    extent: tuple[float, float]
    resolution: tuple[float, float]
    thickness_x0: float = 0.02
    n_phi_modules: int = 32
    n_modules_2: int = 10
    efficiency: float = 1.0
    pitch: tuple[float, float] = (0.05, 0.05625)
    sensor_thickness: float = 0.15

    def validate(self) -> None:
        name = f"Layer(volume_id={self.volume_id}, layer_id={self.layer_id})"
        if self.kind not in ("barrel", "endcap"):
            msg = f"{name}: kind must be 'barrel' or 'endcap', got {self.kind!r}"
            raise ValueError(msg)
        if self.kind == "barrel" and not self.position > 0:
            msg = f"{name}: barrel position (radius) must be > 0 mm, got {self.position}"
            raise ValueError(msg)
        lo, hi = self.extent
        if not hi > lo:
            msg = f"{name}: extent must satisfy max > min, got {self.extent}"
            raise ValueError(msg)
        if self.kind == "endcap" and lo < 0:
            msg = f"{name}: endcap extent (r_min, r_max) must be >= 0, got {self.extent}"
            raise ValueError(msg)
        if min(self.resolution) <= 0:
            msg = f"{name}: resolution must be > 0 mm, got {self.resolution}"
            raise ValueError(msg)
        if not 0 <= self.thickness_x0 < 1:
            msg = f"{name}: thickness_x0 must be in [0, 1), got {self.thickness_x0}"
            raise ValueError(msg)
        if self.n_phi_modules < 1 or self.n_modules_2 < 1:
            msg = f"{name}: module counts must be >= 1"
            raise ValueError(msg)
        if not 0 <= self.efficiency <= 1:
            msg = f"{name}: efficiency must be in [0, 1], got {self.efficiency}"
            raise ValueError(msg)
        if len(self.pitch) != 2 or not all(np.isfinite(p) and p > 0 for p in self.pitch):
            msg = f"{name}: pitch must be two finite values > 0 mm, got {self.pitch}"
            raise ValueError(msg)
        if not (np.isfinite(self.sensor_thickness) and self.sensor_thickness > 0):
            msg = f"{name}: sensor_thickness must be finite and > 0 mm, got {self.sensor_thickness}"
            raise ValueError(msg)


@dataclass
class Geometry:
    """A list of layers in a uniform solenoid field along z."""

    layers: list[Layer]
    b_field_z: float = 2.0 * u.T
    name: str = "custom"
    pixel_volumes: tuple[int, ...] = (7, 8, 9)
    _index: dict[tuple[int, int], int] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        if not self.layers:
            msg = f"Geometry {self.name!r}: layers must not be empty"
            raise ValueError(msg)
        if not 0 < abs(self.b_field_z) <= 0.01:
            msg = (
                f"Geometry {self.name!r}: b_field_z={self.b_field_z} is not in native units; "
                "use e.g. 2 * units.T"
            )
            raise ValueError(msg)
        self._index = {}
        for i, layer in enumerate(self.layers):
            layer.validate()
            key = (layer.volume_id, layer.layer_id)
            if key in self._index:
                msg = f"Geometry {self.name!r}: duplicate (volume_id, layer_id) {key}"
                raise ValueError(msg)
            self._index[key] = i

    def __len__(self) -> int:
        return len(self.layers)

    def index(self, volume_id: int, layer_id: int) -> int:
        try:
            return self._index[(int(volume_id), int(layer_id))]
        except KeyError:
            msg = f"Geometry {self.name!r} has no layer (volume_id={volume_id}, layer_id={layer_id})"
            raise KeyError(msg) from None

    def layer_indices(self, volume_id: np.ndarray, layer_id: np.ndarray) -> np.ndarray:
        """Vectorised ``index``: layer row of every hit, -1 where unknown."""
        keys = np.asarray(volume_id, dtype=np.int64) * 100000 + np.asarray(layer_id, dtype=np.int64)
        table = np.array(
            [lay.volume_id * 100000 + lay.layer_id for lay in self.layers], dtype=np.int64
        )
        order = np.argsort(table)
        pos = np.searchsorted(table[order], keys)
        pos = np.clip(pos, 0, len(table) - 1)
        found = table[order][pos] == keys
        return np.where(found, order[pos], -1).astype(np.int64)

    def arrays(self) -> dict[str, np.ndarray]:
        """Structure-of-arrays view (for vectorised code and the C++ kernels)."""
        lay = self.layers
        return {
            "volume_id": np.array([x.volume_id for x in lay], dtype=np.int32),
            "layer_id": np.array([x.layer_id for x in lay], dtype=np.int32),
            "kind": np.array([BARREL if x.kind == "barrel" else ENDCAP for x in lay], dtype=np.int8),
            "position": np.array([x.position for x in lay], dtype=np.float64),
            "extent_min": np.array([x.extent[0] for x in lay], dtype=np.float64),
            "extent_max": np.array([x.extent[1] for x in lay], dtype=np.float64),
            "sigma_u": np.array([x.resolution[0] for x in lay], dtype=np.float64),
            "sigma_v": np.array([x.resolution[1] for x in lay], dtype=np.float64),
            "thickness_x0": np.array([x.thickness_x0 for x in lay], dtype=np.float64),
            "n_phi_modules": np.array([x.n_phi_modules for x in lay], dtype=np.int32),
            "n_modules_2": np.array([x.n_modules_2 for x in lay], dtype=np.int32),
            "efficiency": np.array([x.efficiency for x in lay], dtype=np.float64),
            "pitch_u": np.array([x.pitch[0] for x in lay], dtype=np.float64),
            "pitch_v": np.array([x.pitch[1] for x in lay], dtype=np.float64),
            "sensor_thickness": np.array([x.sensor_thickness for x in lay], dtype=np.float64),
        }

    def with_material(self, scale: float) -> Geometry:
        """A copy with all material scaled (``0`` gives a material-free detector)."""
        return Geometry(
            [replace(x, thickness_x0=x.thickness_x0 * scale) for x in self.layers],
            b_field_z=self.b_field_z,
            name=f"{self.name} (material x{scale:g})",
            pixel_volumes=self.pixel_volumes,
        )

    def with_resolution(self, scale: float) -> Geometry:
        """A copy with all resolutions scaled (use a tiny scale for near-exact hits)."""
        return Geometry(
            [
                replace(x, resolution=(x.resolution[0] * scale, x.resolution[1] * scale))
                for x in self.layers
            ],
            b_field_z=self.b_field_z,
            name=f"{self.name} (resolution x{scale:g})",
            pixel_volumes=self.pixel_volumes,
        )


def trackml_like(b_field_z: float = 2.0 * u.T) -> Geometry:
    """The default TrackML-like detector (pixels, short and long strips) in a 2 T field.

    Sensors: pixels 0.15 mm thick, short strips 0.25 mm, long strips 0.35 mm.
    """
    layers: list[Layer] = []
    pix_res = (0.015, 0.015)
    ss_res = (0.043, 1.2)
    ls_res = (0.072, 10.0)
    # readout cells (TrackML's detectors.csv): pixels 0.05 x 0.05625 mm (the Layer default)
    ss_pitch = (0.08, 1.2)
    ls_pitch = (0.12, 10.8)

    for i, r in enumerate([32.0, 72.0, 116.0, 172.0]):
        layers.append(
            Layer(8, 2 * (i + 1), "barrel", r, (-491.0, 491.0), pix_res, 0.025,
                  n_phi_modules=int(8 + r / 4), n_modules_2=14)
        )
    pix_disks = [600.0, 700.0, 820.0, 960.0, 1100.0, 1300.0, 1500.0]
    for vol, sign in ((7, -1.0), (9, 1.0)):
        zs = sorted(sign * z for z in pix_disks)
        for i, z in enumerate(zs):
            layers.append(
                Layer(vol, 2 * (i + 1), "endcap", z, (30.0, 176.0), pix_res, 0.025,
                      n_phi_modules=48, n_modules_2=4)
            )
    for i, r in enumerate([260.0, 360.0, 500.0, 660.0]):
        layers.append(
            Layer(13, 2 * (i + 1), "barrel", r, (-1083.0, 1083.0), ss_res, 0.035,
                  n_phi_modules=int(r / 6), n_modules_2=21, pitch=ss_pitch,
                  sensor_thickness=0.25)
        )
    for i, r in enumerate([820.0, 1020.0]):
        layers.append(
            Layer(17, 2 * (i + 1), "barrel", r, (-1083.0, 1083.0), ls_res, 0.045,
                  n_phi_modules=int(r / 10), n_modules_2=12, pitch=ls_pitch,
                  sensor_thickness=0.35)
        )
    strip_disks = [1220.0, 1500.0, 1800.0, 2150.0, 2550.0, 2950.0]
    for vol, sign, rr in ((12, -1.0, (260.0, 700.0)), (14, 1.0, (260.0, 700.0))):
        zs = sorted(sign * z for z in strip_disks)
        for i, z in enumerate(zs):
            layers.append(Layer(vol, 2 * (i + 1), "endcap", z, rr, ss_res, 0.035,
                                n_phi_modules=64, n_modules_2=6, pitch=ss_pitch,
                                sensor_thickness=0.25))
    for vol, sign, rr in ((16, -1.0, (720.0, 1020.0)), (18, 1.0, (720.0, 1020.0))):
        zs = sorted(sign * z for z in strip_disks)
        for i, z in enumerate(zs):
            layers.append(Layer(vol, 2 * (i + 1), "endcap", z, rr, ls_res, 0.045,
                                n_phi_modules=96, n_modules_2=3, pitch=ls_pitch,
                                sensor_thickness=0.35))
    return Geometry(layers, b_field_z=b_field_z, name="trackml_like", pixel_volumes=(7, 8, 9))


def _iqr(v: np.ndarray) -> float:
    q75, q25 = np.percentile(v, [75, 25])
    return float(q75 - q25)


def geometry_from_hits(events: Event | Sequence[Event], *, b_field_z: float = 2.0 * u.T,
                       resolution: tuple[float, float] | None = None,
                       name: str = "from hits") -> Geometry:
    """An approximate :class:`Geometry` of the detector that recorded ``events`` (an
    :class:`~helixkit.data.Event` or several), for events read without one (TrackML, ACTS
    CSV): one layer per (volume_id, layer_id), a cylinder at the hits' median radius where
    the hits spread more in z than in r (a barrel layer), else a disk at their median z;
    extent: the hits' range. Resolutions: ``resolution`` (sigma_u, sigma_v) [mm] if given,
    else from the truth positions (tx, ty, tz) where the events have them (the RMS of the
    measured - true local coordinates, >= 1 µm), else ``ValueError``. Material, module counts
    and pitch keep the :class:`Layer` defaults (the geometry is for extrapolation and
    windows, not for simulation)."""
    evs: list[Event] = [events] if hasattr(events, "hits") else list(events)  # type: ignore[list-item]
    if not evs:
        msg = "events: no events given"
        raise ValueError(msg)
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("vol", "lay", "x", "y", "z", "tx",
                                                          "ty", "tz")}
    with_truth = resolution is None and all(
        e.has_truth and all(c in e.truth.columns for c in ("tx", "ty", "tz")) for e in evs)
    for e in evs:
        h = e.hits
        for k, c in (("vol", "volume_id"), ("lay", "layer_id"), ("x", "x"), ("y", "y"),
                     ("z", "z")):
            cols[k].append(np.asarray(h[c], dtype=np.float64))
        if with_truth:
            for c in ("tx", "ty", "tz"):
                cols[c].append(np.asarray(e.truth[c], dtype=np.float64))
    a = {k: np.concatenate(v) for k, v in cols.items() if v}
    if len(a["x"]) == 0:
        msg = "events: no hits"
        raise ValueError(msg)
    if not all(np.isfinite(a[k]).all() for k in ("x", "y", "z")):
        msg = "events: hit positions must be finite (found NaN or inf in x, y or z)"
        raise ValueError(msg)
    if resolution is None and not with_truth:
        msg = ("resolution: not given, and the events have no truth positions (tx, ty, tz) "
               "to measure it from; pass resolution=(sigma_u, sigma_v) in mm")
        raise ValueError(msg)
    r = np.hypot(a["x"], a["y"])
    key = a["vol"].astype(np.int64) * 100_000 + a["lay"].astype(np.int64)
    layers = []
    for k in np.unique(key):
        s = key == k
        rs, zs = r[s], a["z"][s]
        barrel = _iqr(zs) > _iqr(rs)
        if resolution is not None:
            res = (float(resolution[0]), float(resolution[1]))
        else:
            tr = np.hypot(a["tx"][s], a["ty"][s])
            dphi = np.angle(np.exp(1j * (np.arctan2(a["y"][s], a["x"][s])
                                         - np.arctan2(a["ty"][s], a["tx"][s]))))
            dv = zs - a["tz"][s] if barrel else rs - tr
            res = (max(float(np.sqrt(np.mean((tr * dphi) ** 2))), 1e-3),
                   max(float(np.sqrt(np.mean(dv ** 2))), 1e-3))
        if barrel:
            pos, ext = float(np.median(rs)), (float(zs.min()), float(zs.max()))
        else:
            pos, ext = float(np.median(zs)), (float(rs.min()), float(rs.max()))
        if not ext[1] > ext[0]:
            ext = (ext[0] - 1.0, ext[1] + 1.0)
        layers.append(Layer(int(k // 100_000), int(k % 100_000),
                            "barrel" if barrel else "endcap", pos, ext, res))
    return Geometry(layers, b_field_z=b_field_z, name=name)
