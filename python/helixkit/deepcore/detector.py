"""A CMS-Phase-1-like barrel pixel detector (BPIX1-4) as replaceable plain data.

:class:`PixelBarrel` is a list of :class:`PixelLayer` in a solenoid field along z. Each layer
is ``n_ladders`` ladders tiled in φ, each ladder ``n_modules_z`` flat modules along z. A
module is a flat sensor plane of ``n_rows x n_cols`` pixels (rows along r·φ, columns along
z, CMS's local x / y). Ladder ``k`` of a layer faces the beam at the angle
``phi_offset + k * 2 pi / n_ladders``; its plane lies at the distance ``radius - stagger / 2``
from the beam line for even ``k`` and ``radius + stagger / 2`` for odd ``k``, so that
neighbouring ladders overlap by a few % in φ without touching (as CMS's alternating inner /
outer ladders do). Modules are centred at ``z = (iz - (n_modules_z - 1) / 2) * module_pitch_z``;
the active length ``n_cols * pitch_col`` is a little shorter than the pitch, leaving a
narrow dead gap between neighbours along z.

Module ids are contiguous, 0 ... ``n_modules - 1``, layer after layer:
``module = first_module[layer] + ladder * n_modules_z + iz`` (:meth:`PixelBarrel.module_id`,
:meth:`PixelBarrel.decode`).

Module-local frame (right-handed): ``u`` along increasing φ (tangential, ``lx``), ``v``
along z (``ly``), ``w`` along the outward plane normal (``lw``, 0 on the sensor mid-plane);
the origin is the module centre. Pixel coordinates are floats with pixel centres at integer
values (the convention of :func:`helixkit.graph.cluster_pixels`):
``row = (lx + n_rows * pitch_row / 2) / pitch_row - 0.5`` and likewise ``col`` from ``ly``,
so pixel ``(i, j)`` covers ``row in [i - 0.5, i + 0.5)``.

Lengths in mm, the field in native units (``3.8 * units.T``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import units as u


def _fail(owner: str, name: str, value: object, rule: str) -> None:
    msg = f"{owner}: {name} (={value!r}) {rule}"
    raise ValueError(msg)


@dataclass(frozen=True)
class PixelLayer:
    """One barrel pixel layer of flat modules.

    Attributes
    ----------
    name : str
        Label, e.g. ``"BPIX2"``.
    radius : float
        Mean distance of the ladder planes from the beam line [mm].
    n_ladders : int
        Ladders in φ (even where ``stagger > 0``: inner and outer ladders alternate).
    n_modules_z : int
        Modules per ladder along z.
    module_pitch_z : float
        Distance between module centres along z [mm] (>= the active length).
    stagger : float
        Radial distance between inner (even) and outer (odd) ladder planes [mm].
    phi_offset : float
        φ of ladder 0's plane normal [rad].
    n_rows, n_cols : int
        Pixels along r·φ (local x) and along z (local y).
    pitch_row, pitch_col : float
        Pixel size along r·φ and along z [mm].
    thickness : float
        Sensor thickness [mm].
    thickness_x0 : float
        Material of the layer (sensor, chips, support) in radiation lengths at normal
        incidence, for multiple scattering.
    """

    name: str
    radius: float
    n_ladders: int
    n_modules_z: int = 8
    module_pitch_z: float = 65.0 * u.mm
    stagger: float = 2.0 * u.mm
    phi_offset: float = 0.0
    n_rows: int = 160
    n_cols: int = 416
    pitch_row: float = 0.100 * u.mm
    pitch_col: float = 0.150 * u.mm
    thickness: float = 0.285 * u.mm
    thickness_x0: float = 0.012

    @property
    def half_width(self) -> float:
        """Half of the active width along r·φ [mm]."""
        return 0.5 * self.n_rows * self.pitch_row

    @property
    def half_length(self) -> float:
        """Half of the active length along z [mm]."""
        return 0.5 * self.n_cols * self.pitch_col

    @property
    def z_max(self) -> float:
        """|z| of the outer edge of the active area of the outermost module [mm]."""
        return 0.5 * (self.n_modules_z - 1) * self.module_pitch_z + self.half_length

    @property
    def n_modules(self) -> int:
        return self.n_ladders * self.n_modules_z

    def validate(self) -> None:
        who = f"PixelLayer {self.name!r}"
        for name in ("radius", "module_pitch_z", "pitch_row", "pitch_col", "thickness"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                _fail(who, name, v, "must be finite and > 0 mm")
        for name in ("n_ladders", "n_modules_z", "n_rows", "n_cols"):
            v = getattr(self, name)
            if int(v) != v or v < 1:
                _fail(who, name, v, "must be an integer >= 1")
        if self.n_ladders < 3:
            _fail(who, "n_ladders", self.n_ladders, "must be >= 3 to close the barrel")
        if not (math.isfinite(self.stagger) and 0 <= self.stagger < self.radius):
            _fail(who, "stagger", self.stagger, "must be in [0, radius) mm")
        if self.stagger > 0 and self.n_ladders % 2:
            _fail(who, "n_ladders", self.n_ladders,
                  "must be even when stagger > 0 (inner and outer ladders alternate)")
        if self.module_pitch_z < 2 * self.half_length:
            _fail(who, "module_pitch_z", self.module_pitch_z,
                  f"must be >= the active module length n_cols * pitch_col "
                  f"(={2 * self.half_length:g} mm): modules must not overlap along z")
        if not math.isfinite(self.phi_offset):
            _fail(who, "phi_offset", self.phi_offset, "must be finite")
        if not (math.isfinite(self.thickness_x0) and 0 <= self.thickness_x0 < 1):
            _fail(who, "thickness_x0", self.thickness_x0, "must be in [0, 1)")
        if self.thickness >= 0.5 * self.radius:
            _fail(who, "thickness", self.thickness, "must be < radius / 2 (is it in mm?)")
        # neighbouring ladders (one inner, one outer) must cover φ without holes
        d_in, d_out = self.radius - 0.5 * self.stagger, self.radius + 0.5 * self.stagger
        cover = math.atan(self.half_width / d_in) + math.atan(self.half_width / d_out)
        if cover < 2 * math.pi / self.n_ladders:
            _fail(who, "n_ladders", self.n_ladders,
                  f"leaves holes in φ: modules {2 * self.half_width:g} mm wide at r = "
                  f"{self.radius:g} mm need >= {math.ceil(2 * math.pi / cover)} ladders")


def cms_phase1_layers() -> tuple[PixelLayer, ...]:
    """BPIX1-4 of the CMS Phase-1 pixel detector: 12 / 28 / 44 / 64 ladders at r ≈ 29 / 68 /
    109 / 160 mm, 8 modules of 160 x 416 pixels (100 x 150 µm, 285 µm thick) per ladder."""
    return (
        PixelLayer("BPIX1", 29.0 * u.mm, 12),
        PixelLayer("BPIX2", 68.0 * u.mm, 28),
        PixelLayer("BPIX3", 109.0 * u.mm, 44),
        PixelLayer("BPIX4", 160.0 * u.mm, 64),
    )


@dataclass(frozen=True)
class PixelBarrel:
    """Barrel pixel layers in a uniform solenoid field along z (see the module docstring).

    Parameters
    ----------
    layers : tuple of PixelLayer
        Ordered by radius, innermost first (default: :func:`cms_phase1_layers`).
    b_field_z : float
        Field in native units (default ``3.8 * units.T``).
    name : str
    """

    layers: tuple[PixelLayer, ...] = field(default_factory=cms_phase1_layers)
    b_field_z: float = 3.8 * u.T
    name: str = "cms_phase1_bpix"

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))
        self.validate()

    def validate(self) -> None:
        who = f"PixelBarrel {self.name!r}"
        if not self.layers:
            _fail(who, "layers", self.layers, "must not be empty")
        for layer in self.layers:
            if not isinstance(layer, PixelLayer):
                _fail(who, "layers", type(layer).__name__, "must hold PixelLayer objects")
            layer.validate()
        if not (math.isfinite(self.b_field_z) and abs(self.b_field_z) <= 0.01):
            _fail(who, "b_field_z", self.b_field_z,
                  "looks like Tesla; must be in native units, e.g. 3.8 * units.T")
        for inner, outer in zip(self.layers[:-1], self.layers[1:]):
            # outermost point of the inner layer (module corner) vs the outer layer's planes
            r_in = math.hypot(inner.radius + 0.5 * inner.stagger + 0.5 * inner.thickness,
                              inner.half_width)
            r_out = outer.radius - 0.5 * outer.stagger - 0.5 * outer.thickness
            if r_in >= r_out:
                _fail(who, "layers", f"{inner.name} / {outer.name}",
                      f"overlap radially ({r_in:.1f} mm >= {r_out:.1f} mm); order them by "
                      "radius and keep them apart")

    # ------------------------------------------------------------------ bookkeeping
    def __len__(self) -> int:
        return len(self.layers)

    @property
    def n_modules(self) -> int:
        return int(sum(layer.n_modules for layer in self.layers))

    @cached_property
    def first_module(self) -> NDArray[np.int64]:
        """(n_layers + 1,) first module id of each layer, then the total."""
        return np.concatenate([[0], np.cumsum([la.n_modules for la in self.layers])]).astype(
            np.int64)

    @cached_property
    def _tables(self) -> dict[str, np.ndarray]:
        """Per-module and per-layer structure-of-arrays (for vectorised code)."""
        lay, lad, iz = [], [], []
        for i, la in enumerate(self.layers):
            k, z = np.divmod(np.arange(la.n_modules), la.n_modules_z)
            lay.append(np.full(la.n_modules, i))
            lad.append(k)
            iz.append(z)
        t = {"m_layer": np.concatenate(lay), "m_ladder": np.concatenate(lad),
             "m_iz": np.concatenate(iz)}
        per_layer = {
            "radius": [la.radius for la in self.layers],
            "stagger": [la.stagger for la in self.layers],
            "phi_offset": [la.phi_offset for la in self.layers],
            "n_ladders": [la.n_ladders for la in self.layers],
            "n_modules_z": [la.n_modules_z for la in self.layers],
            "module_pitch_z": [la.module_pitch_z for la in self.layers],
            "n_rows": [la.n_rows for la in self.layers],
            "n_cols": [la.n_cols for la in self.layers],
            "pitch_row": [la.pitch_row for la in self.layers],
            "pitch_col": [la.pitch_col for la in self.layers],
            "thickness": [la.thickness for la in self.layers],
            "thickness_x0": [la.thickness_x0 for la in self.layers],
            "half_width": [la.half_width for la in self.layers],
            "half_length": [la.half_length for la in self.layers],
        }
        for k, v in per_layer.items():
            t[f"l_{k}"] = np.asarray(v, dtype=np.int64 if k.startswith("n_") else np.float64)
        li = t["m_layer"]
        phi = t["l_phi_offset"][li] + t["m_ladder"] * (2 * np.pi / t["l_n_ladders"][li])
        t["m_phi"] = np.angle(np.exp(1j * phi))  # (-pi, pi]
        t["m_dist"] = t["l_radius"][li] + np.where(t["m_ladder"] % 2 == 1, 0.5, -0.5) * \
            t["l_stagger"][li]
        t["m_z"] = (t["m_iz"] - 0.5 * (t["l_n_modules_z"][li] - 1)) * t["l_module_pitch_z"][li]
        return t

    def layer_table(self, key: str) -> np.ndarray:
        """A per-layer column (``"radius"``, ``"n_rows"``, ``"pitch_row"``, ... as in
        :class:`PixelLayer`), as an (n_layers,) array."""
        return self._tables[f"l_{key}"]

    def module_id(self, layer: ArrayLike, ladder: ArrayLike, iz: ArrayLike) -> NDArray[np.int64]:
        """Module id of (layer index, ladder, module index along z)."""
        la = np.asarray(layer, dtype=np.int64)
        self._check_layer(la)
        nz = self._tables["l_n_modules_z"][la]
        nl = self._tables["l_n_ladders"][la]
        lad = np.mod(np.asarray(ladder, dtype=np.int64), nl)
        z = np.asarray(iz, dtype=np.int64)
        if np.any((z < 0) | (z >= nz)):
            msg = "iz: module index along z out of range [0, n_modules_z)"
            raise ValueError(msg)
        return self.first_module[la] + lad * nz + z

    def decode(self, module: ArrayLike) -> tuple[NDArray[np.int64], NDArray[np.int64],
                                                  NDArray[np.int64]]:
        """(layer index, ladder, iz) of module ids."""
        m = self._check_module(module)
        t = self._tables
        return t["m_layer"][m], t["m_ladder"][m], t["m_iz"][m]

    def module_layer(self, module: ArrayLike) -> NDArray[np.int64]:
        """Layer index (0 = BPIX1) of module ids."""
        return self._tables["m_layer"][self._check_module(module)]

    def module_frame(self, module: ArrayLike) -> dict[str, np.ndarray]:
        """Module centre ``(cx, cy, cz)`` [mm] and the plane normal's angle ``phi`` [rad]."""
        m = self._check_module(module)
        t = self._tables
        c, s = np.cos(t["m_phi"][m]), np.sin(t["m_phi"][m])
        return {"cx": t["m_dist"][m] * c, "cy": t["m_dist"][m] * s, "cz": t["m_z"][m],
                "phi": t["m_phi"][m], "dist": t["m_dist"][m]}

    def _check_module(self, module: ArrayLike) -> NDArray[np.int64]:
        m = np.asarray(module)
        if m.dtype.kind not in "iu":
            msg = f"module must be integer module ids, got dtype {m.dtype}"
            raise ValueError(msg)
        m = m.astype(np.int64)
        if m.size and (m.min() < 0 or m.max() >= self.n_modules):
            bad = m[(m < 0) | (m >= self.n_modules)].reshape(-1)[0]
            msg = f"module (={bad}) must be in [0, {self.n_modules}) for {self.name!r}"
            raise ValueError(msg)
        return m

    def _check_layer(self, layer: np.ndarray) -> None:
        if layer.size and (layer.min() < 0 or layer.max() >= len(self.layers)):
            msg = f"layer must be in [0, {len(self.layers)}), got {layer.reshape(-1)[0]}"
            raise ValueError(msg)

    # ------------------------------------------------------------------ coordinates
    def to_local(self, module: ArrayLike, x: ArrayLike, y: ArrayLike, z: ArrayLike
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Global (x, y, z) [mm] → module-local (lx, ly, lw) [mm] (see the module docstring)."""
        f = self.module_frame(module)
        c, s = np.cos(f["phi"]), np.sin(f["phi"])
        dx, dy = np.asarray(x, np.float64) - f["cx"], np.asarray(y, np.float64) - f["cy"]
        return -s * dx + c * dy, np.asarray(z, np.float64) - f["cz"], c * dx + s * dy

    def to_global(self, module: ArrayLike, lx: ArrayLike, ly: ArrayLike, lw: ArrayLike = 0.0
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Module-local (lx, ly, lw) [mm] → global (x, y, z) [mm]."""
        f = self.module_frame(module)
        c, s = np.cos(f["phi"]), np.sin(f["phi"])
        lx, lw = np.asarray(lx, np.float64), np.asarray(lw, np.float64)
        return f["cx"] - s * lx + c * lw, f["cy"] + c * lx + s * lw, f["cz"] + np.asarray(
            ly, np.float64)

    def local_direction(self, module: ArrayLike, dx: ArrayLike, dy: ArrayLike, dz: ArrayLike
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A global direction vector → its (u, v, w) components in the module frame."""
        f = self.module_frame(module)
        c, s = np.cos(f["phi"]), np.sin(f["phi"])
        dx, dy = np.asarray(dx, np.float64), np.asarray(dy, np.float64)
        return -s * dx + c * dy, np.asarray(dz, np.float64) + 0.0 * dx, c * dx + s * dy

    def to_pixel(self, module: ArrayLike, lx: ArrayLike, ly: ArrayLike
                 ) -> tuple[np.ndarray, np.ndarray]:
        """Module-local (lx, ly) [mm] → float (row, col), pixel centres at integers."""
        la = self.module_layer(module)
        t = self._tables
        row = (np.asarray(lx, np.float64) + t["l_half_width"][la]) / t["l_pitch_row"][la] - 0.5
        col = (np.asarray(ly, np.float64) + t["l_half_length"][la]) / t["l_pitch_col"][la] - 0.5
        return row, col

    def from_pixel(self, module: ArrayLike, row: ArrayLike, col: ArrayLike
                   ) -> tuple[np.ndarray, np.ndarray]:
        """Float (row, col) → module-local (lx, ly) [mm]; the inverse of :meth:`to_pixel`."""
        la = self.module_layer(module)
        t = self._tables
        lx = (np.asarray(row, np.float64) + 0.5) * t["l_pitch_row"][la] - t["l_half_width"][la]
        ly = (np.asarray(col, np.float64) + 0.5) * t["l_pitch_col"][la] - t["l_half_length"][la]
        return lx, ly

    def candidate_modules(self, layer: int, phi: ArrayLike, z: ArrayLike, n_phi: int = 1
                          ) -> NDArray[np.int64]:
        """(N, 2 n_phi + 1) module ids of ``layer`` near global (φ, z): the ladder whose
        normal is closest to φ and ``n_phi`` neighbours on each side, at the module index
        along z nearest to ``z`` (clipped to the ladder)."""
        la = self.layers[layer]
        phi = np.asarray(phi, np.float64).reshape(-1)
        z = np.asarray(z, np.float64).reshape(-1)
        step = 2 * np.pi / la.n_ladders
        k0 = np.floor((phi - la.phi_offset) / step + 0.5).astype(np.int64)
        ks = np.mod(k0[:, None] + np.arange(-n_phi, n_phi + 1)[None, :], la.n_ladders)
        iz = np.floor(z / la.module_pitch_z + 0.5 * la.n_modules_z).astype(np.int64)
        iz = np.clip(iz, 0, la.n_modules_z - 1)
        return self.first_module[layer] + ks * la.n_modules_z + iz[:, None]

    def intersect_line(self, layer: int, origin: ArrayLike, direction: ArrayLike
                       ) -> dict[str, np.ndarray]:
        """Where straight lines from ``origin`` (N, 3) along ``direction`` (N, 3) cross
        ``layer``'s modules.

        Of the candidate modules (:meth:`candidate_modules`) the line crosses going forward,
        the one whose active area contains the crossing point with the largest margin to its
        edges (in an overlap: the module that the point is deeper inside); where it crosses
        no active area (a gap, or beyond |z|), the nearest module, with ``inside = False``.

        Returns
        -------
        dict
            ``module`` (N,) int64 (-1 where the line never crosses the layer going forward),
            ``lx``, ``ly`` [mm], ``row``, ``col`` (float pixel coordinates), ``inside`` (N,)
            bool, ``t`` (N,) the line parameter of the crossing.
        """
        if not 0 <= int(layer) < len(self.layers):
            msg = f"layer must be in [0, {len(self.layers)}), got {layer}"
            raise ValueError(msg)
        o = np.atleast_2d(np.asarray(origin, np.float64))
        d = np.atleast_2d(np.asarray(direction, np.float64))
        n = max(len(o), len(d))
        o, d = np.broadcast_to(o, (n, 3)), np.broadcast_to(d, (n, 3))
        la = self.layers[layer]
        # first guess: the crossing of the cylinder of the layer's radius
        a = d[:, 0] ** 2 + d[:, 1] ** 2
        b = o[:, 0] * d[:, 0] + o[:, 1] * d[:, 1]
        cc = o[:, 0] ** 2 + o[:, 1] ** 2 - la.radius ** 2
        t_cyl = (-b + np.sqrt(np.maximum(b * b - a * cc, 0.0))) / np.maximum(a, 1e-300)
        guess = o + t_cyl[:, None] * d
        step = 2 * np.pi / la.n_ladders
        k0 = np.floor((np.arctan2(guess[:, 1], guess[:, 0]) - la.phi_offset) / step + 0.5)
        ks = np.mod(k0.astype(np.int64)[:, None] + np.arange(-1, 2)[None, :], la.n_ladders)
        phik = la.phi_offset + ks * step
        dist = la.radius + np.where(ks % 2 == 1, 0.5, -0.5) * la.stagger
        c, s = np.cos(phik), np.sin(phik)
        dn = d[:, 0, None] * c + d[:, 1, None] * s
        on = o[:, 0, None] * c + o[:, 1, None] * s
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (dist - on) / dn
        ok = (dn > 1e-12) & (t > 0)
        t = np.where(ok, t, 0.0)
        px = o[:, 0, None] + t * d[:, 0, None]
        py = o[:, 1, None] + t * d[:, 1, None]
        pz = o[:, 2, None] + t * d[:, 2, None]
        lx = -s * px + c * py  # the module centre has no tangential component
        iz = np.clip(np.floor(pz / la.module_pitch_z + 0.5 * la.n_modules_z).astype(np.int64),
                     0, la.n_modules_z - 1)
        ly = pz - (iz - 0.5 * (la.n_modules_z - 1)) * la.module_pitch_z
        cand = self.first_module[layer] + ks * la.n_modules_z + iz
        margin = np.minimum(la.half_width - np.abs(lx), la.half_length - np.abs(ly))
        margin = np.where(ok, margin, -np.inf)
        best = np.argmax(margin, axis=1)
        rows = np.arange(n)
        hit = np.isfinite(margin[rows, best])
        module = np.where(hit, cand[rows, best], -1)
        blx, bly = lx[rows, best], ly[rows, best]
        row = (blx + la.half_width) / la.pitch_row - 0.5
        col = (bly + la.half_length) / la.pitch_col - 0.5
        return {"module": module.astype(np.int64), "lx": np.where(hit, blx, np.nan),
                "ly": np.where(hit, bly, np.nan), "row": np.where(hit, row, np.nan),
                "col": np.where(hit, col, np.nan), "inside": hit & (margin[rows, best] >= 0),
                "t": np.where(hit, t[rows, best], np.nan)}
