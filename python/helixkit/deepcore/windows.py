"""DeepCore training inputs and targets: 30 x 30 pixel windows around BPIX2 seed clusters.

Abbreviations: N windows, L = ``N_LAYERS`` layers (BPIX1-4), K = ``N_OVERLAPS`` overlap
slots, P = ``N_PARAMS`` track parameters, W = ``WINDOW`` pixels.

For every cluster (:func:`helixkit.graph.cluster_pixels`, 8-connectivity) on the seed layer
(``layer=1``: BPIX2) whose direction from the primary vertex lies within ``delta_r`` of the
jet axis and whose calibrated charge is at least ``min_cluster_charge``, :func:`jet_windows`
makes one window:

- the **window axis** is the straight line from the primary vertex through the cluster's
  charge centroid (on the sensor mid-plane); ``axis_eta`` / ``axis_phi`` are its direction;
- on every layer the window is the W x W block of pixels of **one module** around the point
  where the axis crosses that layer: on the seed layer the cluster's module and centroid;
  elsewhere the module whose active area the line crosses (in a φ overlap: the one it is
  deeper inside; in a gap: the nearest). Window pixel ``(i, j)`` is module pixel
  ``(row0 + i, col0 + j)`` with ``row0 = round(center_row) - W // 2`` (likewise ``col0``),
  so the crossing point lies in window pixel (15, 15). Windows are **not** shifted to stay
  inside the module: window pixels beyond the module's edges read 0 (zero padding, no
  pixels of the neighbouring module), and a layer the axis never reaches (beyond |z|)
  reads 0 everywhere, with ``layer_module = -1``;
- ``charge[n, l]`` = ADC counts / ``ADC_SCALE`` (with the default 200 e per count,
  1.0 ≈ 14 ke, DeepCore's normalisation of the pixel charge by 14,000 e);
- ``jet[n]`` = (jet pT [GeV], jet η);
- targets on the seed layer, from the truth crossings of particles with ``pt >= min_pt``
  (1 GeV) on the window's module: the pixel containing the crossing point (mid-plane,
  before Lorentz drift) gets ``tcp[n, k, i, j] = 1`` in slot ``k`` = its rank among the
  particles crossing that pixel, by falling pT (ties: smaller particle id first); a fourth
  and further particle in one pixel gets no slot. ``params[n, k, :, i, j]`` there =
  (``dx``, ``dy``: crossing point minus the pixel centre in pixel units along r·φ (rows)
  and z (columns), in [-0.5, 0.5]; ``deta``, ``dphi``: the particle's direction at the
  crossing minus the window axis; ``pt`` [GeV]); 0 elsewhere.

Memory: a window takes 80 kB as float32 (``params`` 54 kB of it), so 10^5 windows are 8 GB;
make and save them in chunks (``save`` compresses: the maps are mostly zeros).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import InitVar, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike

from .. import units as u
from .._files import default_file_mode
from ..data.event import Table
from .simulation import JetEvent, _wrap

WINDOW = 30
N_LAYERS = 4
N_OVERLAPS = 3
N_PARAMS = 5
PARAM_NAMES = ("dx", "dy", "deta", "dphi", "pt")
ADC_SCALE = 70.0  # ADC counts per unit of input charge: 14,000 e at 200 e per count

_FORMAT = "helixkit.deepcore.windows/1"
_TRUTH_COLUMNS = {"window": np.int64, "particle_id": np.int64, "pt": np.float64,
                  "eta": np.float64, "phi": np.float64, "row": np.float64, "col": np.float64,
                  "slot": np.int8, "delta_r": np.float64, "from_jet": np.bool_}
_HALF = WINDOW // 2


def _empty_truth() -> Table:
    return Table({k: np.zeros(0, t) for k, t in _TRUTH_COLUMNS.items()}, name="truth")


@dataclass
class Windows:
    """DeepCore windows (inputs, targets and bookkeeping); see the module docstring.

    Attributes
    ----------
    charge : (N, 4, 30, 30) float32
        Normalised pixel charge of BPIX1-4 (ADC / ``ADC_SCALE``).
    jet : (N, 2) float32
        Jet pT [GeV] and η.
    tcp : (N, 3, 30, 30) float32
        Track-crossing-point target per overlap slot (1 or 0), on the seed layer.
    params : (N, 3, 5, 30, 30) float32
        ``PARAM_NAMES`` targets per slot where ``tcp`` is 1, else 0.
    event : (N,) int64
        ``JetEvent.event_id`` of the window's event.
    module : (N,) int64
        Seed-layer module of the window.
    center_row, center_col : (N,) float64
        Window centre on the seed layer (the cluster centroid) in pixel coordinates.
    axis_eta, axis_phi : (N,) float64
        Direction of the window axis (primary vertex → seed cluster).
    layer_module : (N, 4) int64
        Module of each layer's window (-1: the axis misses that layer).
    row0, col0 : (N, 4) int32
        Module pixel of each layer's window pixel (0, 0).
    cluster_charge : (N,) float64
        Calibrated charge of the seed cluster [e].
    truth : Table
        One row per (window, particle with pT >= min_pt crossing the window on the seed
        layer): ``window``, ``particle_id``, ``pt`` [GeV], ``eta``, ``phi`` (direction at
        the crossing), ``row``, ``col`` (window pixel coordinates, centres at 0 ... 29),
        ``slot`` (overlap slot, -1 if more than 3 share the pixel), ``delta_r`` (ΔR of the
        particle's direction to the jet axis), ``from_jet``.
    seed_layer : int
        Layer of the seed clusters and of the targets (1 = BPIX2).
    check_finite : bool
        (Constructor only.) Check that the float arrays hold no NaN / inf; ``subset``,
        ``concat`` and :func:`jet_windows` skip it for arrays they built from checked ones.
    """

    charge: np.ndarray
    jet: np.ndarray
    tcp: np.ndarray
    params: np.ndarray
    event: np.ndarray
    module: np.ndarray
    center_row: np.ndarray
    center_col: np.ndarray
    axis_eta: np.ndarray
    axis_phi: np.ndarray
    layer_module: np.ndarray
    row0: np.ndarray
    col0: np.ndarray
    cluster_charge: np.ndarray
    truth: Table = field(default_factory=_empty_truth)
    seed_layer: int = 1
    check_finite: InitVar[bool] = True

    _SHAPES: ClassVar[dict[str, tuple[tuple[int, ...], type]]] = {
        "charge": ((N_LAYERS, WINDOW, WINDOW), np.float32),
        "jet": ((2,), np.float32),
        "tcp": ((N_OVERLAPS, WINDOW, WINDOW), np.float32),
        "params": ((N_OVERLAPS, N_PARAMS, WINDOW, WINDOW), np.float32),
        "event": ((), np.int64),
        "module": ((), np.int64),
        "center_row": ((), np.float64),
        "center_col": ((), np.float64),
        "axis_eta": ((), np.float64),
        "axis_phi": ((), np.float64),
        "layer_module": ((N_LAYERS,), np.int64),
        "row0": ((N_LAYERS,), np.int32),
        "col0": ((N_LAYERS,), np.int32),
        "cluster_charge": ((), np.float64),
    }

    def __post_init__(self, check_finite: bool = True) -> None:
        n = None
        for name, (tail, dtype) in self._SHAPES.items():
            a = np.asarray(getattr(self, name))
            if a.dtype.kind not in "biuf":
                msg = f"Windows: {name} must be numeric, got dtype {a.dtype}"
                raise ValueError(msg)
            if a.ndim != 1 + len(tail) or a.shape[1:] != tail:
                want = ", ".join(["N", *map(str, tail)])
                msg = f"Windows: {name} must have shape ({want}), got {a.shape}"
                raise ValueError(msg)
            if n is None:
                n = a.shape[0]
            elif a.shape[0] != n:
                msg = f"Windows: {name} has {a.shape[0]} windows, charge has {n}"
                raise ValueError(msg)
            if check_finite and a.dtype.kind == "f" and a.size and not np.isfinite(a).all():
                bad = np.argwhere(~np.isfinite(a))[0]
                msg = f"Windows: {name} must be finite, found {a[tuple(bad)]} at {tuple(bad)}"
                raise ValueError(msg)
            setattr(self, name, np.ascontiguousarray(a, dtype=dtype))
        if not isinstance(self.truth, Table):
            self.truth = Table(dict(self.truth), name="truth")
        missing = [c for c in _TRUTH_COLUMNS if c not in self.truth.columns]
        if missing:
            msg = f"Windows: truth lacks the column(s) {missing}"
            raise ValueError(msg)
        self.truth = Table({c: np.asarray(self.truth[c], t) for c, t in _TRUTH_COLUMNS.items()},
                           name="truth")
        w = self.truth["window"]
        if w.size and (w.min() < 0 or w.max() >= len(self)):
            msg = f"Windows: truth.window must index the {len(self)} windows"
            raise ValueError(msg)
        if not 0 <= int(self.seed_layer) < N_LAYERS:
            msg = f"Windows: seed_layer (={self.seed_layer}) must be in [0, {N_LAYERS})"
            raise ValueError(msg)
        self.seed_layer = int(self.seed_layer)

    def __len__(self) -> int:
        return int(self.charge.shape[0])

    @classmethod
    def empty(cls, seed_layer: int = 1) -> Windows:
        """No windows (the arrays have length 0)."""
        arrays = {name: np.zeros((0, *tail), dtype) for name, (tail, dtype) in
                  cls._SHAPES.items()}
        return cls(**arrays, seed_layer=seed_layer)

    def _arrays(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in self._SHAPES}

    def subset(self, idx: ArrayLike | slice) -> Windows:
        """The windows ``idx`` (integer indices, in their order and with repeats, a boolean
        mask or a slice); ``truth`` follows, renumbered."""
        sel = np.arange(len(self))[idx if isinstance(idx, slice) else np.asarray(idx)]
        sel = np.atleast_1d(sel).astype(np.int64)
        tw = self.truth["window"]
        order = np.argsort(tw, kind="stable")
        start = np.searchsorted(tw[order], sel, "left")
        count = np.searchsorted(tw[order], sel, "right") - start
        rep = np.repeat(np.arange(len(sel)), count)
        rows = order[start[rep] + np.arange(len(rep)) - np.repeat(np.cumsum(count) - count,
                                                                     count)]
        truth = self.truth.take(rows).with_column("window", rep)
        return Windows(**{k: v[sel] for k, v in self._arrays().items()}, truth=truth,
                       seed_layer=self.seed_layer, check_finite=False)

    @classmethod
    def concat(cls, parts: Sequence[Windows]) -> Windows:
        """One :class:`Windows` of all ``parts`` in order (truth windows renumbered)."""
        parts = list(parts)
        if not parts:
            msg = "parts: nothing to concatenate (got an empty sequence)"
            raise ValueError(msg)
        for p in parts:
            if not isinstance(p, Windows):
                msg = f"parts must hold Windows, got {type(p).__name__}"
                raise ValueError(msg)
        layers = {p.seed_layer for p in parts}
        if len(layers) > 1:
            msg = f"parts: seed_layer differs between the parts ({sorted(layers)})"
            raise ValueError(msg)
        arrays = {k: np.concatenate([getattr(p, k) for p in parts]) for k in cls._SHAPES}
        offsets = np.cumsum([0] + [len(p) for p in parts[:-1]])
        truth = {c: np.concatenate([p.truth[c] for p in parts]) for c in _TRUTH_COLUMNS}
        truth["window"] = np.concatenate([p.truth["window"] + o for p, o in zip(parts, offsets)])
        return cls(**arrays, truth=Table(truth, name="truth"), seed_layer=parts[0].seed_layer,
                   check_finite=False)

    def save(self, path: str | os.PathLike[str], *, compress: bool = True) -> Path:
        """Write an ``.npz`` atomically (temporary file in the same folder + rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = dict(self._arrays())
        payload.update({f"truth_{c}": self.truth[c] for c in _TRUTH_COLUMNS})
        payload["format"] = np.array(_FORMAT)
        payload["seed_layer"] = np.array(self.seed_layer)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                (np.savez_compressed if compress else np.savez)(fh, **payload)
            os.chmod(tmp, default_file_mode())  # mkstemp's 0o600 would leak
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Windows:
        """Read what :meth:`save` wrote (``ValueError`` naming what is missing or wrong)."""
        with np.load(path, allow_pickle=False) as z:
            if "format" not in z.files or str(z["format"]) != _FORMAT:
                msg = f"{path}: not a DeepCore windows file (format != {_FORMAT!r})"
                raise ValueError(msg)
            need = [*cls._SHAPES, *(f"truth_{c}" for c in _TRUTH_COLUMNS), "seed_layer"]
            missing = [k for k in need if k not in z.files]
            if missing:
                msg = f"{path}: lacks the array(s) {missing}"
                raise ValueError(msg)
            arrays = {k: z[k] for k in cls._SHAPES}
            truth = Table({c: z[f"truth_{c}"] for c in _TRUTH_COLUMNS}, name="truth")
            seed_layer = int(z["seed_layer"])
        return cls(**arrays, truth=truth, seed_layer=seed_layer)

    def __repr__(self) -> str:
        return (f"Windows(n={len(self)}, events={len(np.unique(self.event))}, "
                f"crossings={self.truth.n_rows}, seed_layer={self.seed_layer})")


def _round(x: np.ndarray) -> np.ndarray:
    """Nearest integer, halves up (the pixel whose [i - 0.5, i + 0.5) holds x)."""
    return np.floor(np.asarray(x) + 0.5).astype(np.int64)


def _event_windows(ev: JetEvent, delta_r: float, min_cluster_charge: float, layer: int,
                   min_pt: float) -> dict[str, Any] | None:
    """One event's windows as small per-window arrays plus the sparse entries of the dense
    maps (``q_*``: charge; ``t_*``: targets); None if it has none."""
    det = ev.detector
    pix = ev.pixels
    cl = ev.clusters()
    if len(cl) == 0:
        return None
    cl_layer = det.module_layer(cl.module)
    lx, ly = det.from_pixel(cl.module, cl.row, cl.col)
    gx, gy, gz = det.to_global(cl.module, lx, ly)
    pv = ev.vertex
    d = np.stack([gx - pv[0], gy - pv[1], gz - pv[2]], axis=1)
    a_eta = np.arcsinh(d[:, 2] / np.hypot(d[:, 0], d[:, 1]))
    a_phi = np.arctan2(d[:, 1], d[:, 0])
    dr = np.hypot(a_eta - ev.jet_eta, _wrap(a_phi - ev.jet_phi))
    sel = np.flatnonzero((cl_layer == layer) & (dr <= delta_r)
                         & (cl.charge >= min_cluster_charge))
    n = len(sel)
    if n == 0:
        return None
    d = d[sel]
    mods = np.full((n, N_LAYERS), -1, np.int64)
    c_row = np.full((n, N_LAYERS), np.nan)
    c_col = np.full((n, N_LAYERS), np.nan)
    for li in range(N_LAYERS):
        if li == layer:
            mods[:, li], c_row[:, li], c_col[:, li] = cl.module[sel], cl.row[sel], cl.col[sel]
        else:
            x = det.intersect_line(li, pv[None, :], d)
            mods[:, li], c_row[:, li], c_col[:, li] = x["module"], x["row"], x["col"]
    hit = mods >= 0
    row0 = np.where(hit, _round(np.nan_to_num(c_row)) - _HALF, 0).astype(np.int64)
    col0 = np.where(hit, _round(np.nan_to_num(c_col)) - _HALF, 0).astype(np.int64)

    # ---- inputs: pixels of each (window, layer) module in the window's rows
    nr = int(det.layer_table("n_rows").max())
    pkey = pix["module"] * nr + pix["row"]
    order = np.argsort(pkey, kind="stable")
    skey = pkey[order]
    wi, li = np.nonzero(hit)
    m, r0, c0 = mods[wi, li], row0[wi, li], col0[wi, li]
    start = np.searchsorted(skey, m * nr + np.clip(r0, 0, nr), "left")
    stop = np.searchsorted(skey, m * nr + np.clip(r0 + WINDOW, 0, nr), "left")
    cnt = stop - start
    rep = np.repeat(np.arange(len(m)), cnt)
    at = order[start[rep] + np.arange(len(rep)) - np.repeat(np.cumsum(cnt) - cnt, cnt)]
    i = pix["row"][at].astype(np.int64) - r0[rep]
    j = pix["col"][at].astype(np.int64) - c0[rep]
    ok = (i >= 0) & (i < WINDOW) & (j >= 0) & (j < WINDOW)
    q_entries = (wi[rep][ok], li[rep][ok], i[ok], j[ok], pix["adc"][at][ok] / ADC_SCALE)

    # ---- targets: seed-layer crossings of pT >= min_pt particles on the window's module
    cr = ev.crossings
    ci = np.flatnonzero((cr["layer"] == layer) & (cr["pt"] >= min_pt))
    ci = ci[np.argsort(cr["module"][ci], kind="stable")]
    cmod = cr["module"][ci]
    s_mod, s_r0, s_c0 = mods[:, layer], row0[:, layer], col0[:, layer]
    start = np.searchsorted(cmod, s_mod, "left")
    cnt = np.searchsorted(cmod, s_mod, "right") - start
    w = np.repeat(np.arange(n), cnt)
    k = ci[start[w] + np.arange(len(w)) - np.repeat(np.cumsum(cnt) - cnt, cnt)]
    prow, pcol = cr["row"][k], cr["col"][k]
    i, j = _round(prow) - s_r0[w], _round(pcol) - s_c0[w]
    ok = (i >= 0) & (i < WINDOW) & (j >= 0) & (j < WINDOW)
    w, k, i, j, prow, pcol = w[ok], k[ok], i[ok], j[ok], prow[ok], pcol[ok]
    pid, ppt = cr["particle_id"][k], cr["pt"][k]
    o = np.lexsort((pid, -ppt, j, i, w))
    w, k, i, j, prow, pcol, pid, ppt = (a[o] for a in (w, k, i, j, prow, pcol, pid, ppt))
    new = np.r_[True, (w[1:] != w[:-1]) | (i[1:] != i[:-1]) | (j[1:] != j[:-1])] if len(w) \
        else np.zeros(0, bool)
    first = np.maximum.accumulate(np.where(new, np.arange(len(w)), 0))
    rank = np.arange(len(w)) - first
    peta, pphi = cr["eta"][k], cr["phi"][k]
    ax_eta, ax_phi = a_eta[sel], a_phi[sel]
    s = rank < N_OVERLAPS
    t_par = np.stack([(prow - np.floor(prow + 0.5))[s], (pcol - np.floor(pcol + 0.5))[s],
                      (peta - ax_eta[w])[s], _wrap(pphi - ax_phi[w])[s], ppt[s]], axis=1)
    t_entries = (w[s], rank[s], i[s], j[s], t_par)
    from_jet_all = np.asarray(ev.particles["from_jet"], bool)
    pos = np.clip(np.searchsorted(ev.particles["particle_id"], pid), 0, len(from_jet_all) - 1)
    truth = Table({
        "window": w, "particle_id": pid, "pt": ppt, "eta": peta, "phi": pphi,
        "row": prow - s_r0[w], "col": pcol - s_c0[w],
        "slot": np.where(s, rank, -1).astype(np.int8),
        "delta_r": np.hypot(peta - ev.jet_eta, _wrap(pphi - ev.jet_phi)),
        "from_jet": from_jet_all[pos] if len(from_jet_all) else np.zeros(len(w), bool),
    }, name="truth")
    return {
        "n": np.array(n), "q": q_entries, "t": t_entries, "truth": truth,
        "jet": np.tile(np.array([ev.jet_pt, ev.jet_eta], np.float32), (n, 1)),
        "event": np.full(n, ev.event_id, np.int64), "module": mods[:, layer],
        "center_row": c_row[:, layer], "center_col": c_col[:, layer],
        "axis_eta": ax_eta, "axis_phi": ax_phi, "layer_module": mods,
        "row0": row0.astype(np.int32), "col0": col0.astype(np.int32),
        "cluster_charge": cl.charge[sel],
    }


def _assemble(parts: list[dict[str, Any]], layer: int) -> Windows:
    """Allocate the dense maps once and scatter every event's entries into them."""
    if not parts:
        return Windows.empty(layer)
    sizes = np.array([int(p["n"]) for p in parts])
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    total = int(sizes.sum())
    charge = np.zeros((total, N_LAYERS, WINDOW, WINDOW), np.float32)
    tcp = np.zeros((total, N_OVERLAPS, WINDOW, WINDOW), np.float32)
    params = np.zeros((total, N_OVERLAPS, N_PARAMS, WINDOW, WINDOW), np.float32)
    q = [np.concatenate([p["q"][k] + (o if k == 0 else 0) for p, o in zip(parts, offsets)])
         for k in range(5)]
    charge[q[0], q[1], q[2], q[3]] = q[4]
    t = [np.concatenate([p["t"][k] + (o if k == 0 else 0) for p, o in zip(parts, offsets)])
         for k in range(5)]
    tcp[t[0], t[1], t[2], t[3]] = 1.0
    for k in range(N_PARAMS):
        params[t[0], t[1], k, t[2], t[3]] = t[4][:, k]
    small = {k: np.concatenate([p[k] for p in parts]) for k in Windows._SHAPES
             if k not in ("charge", "tcp", "params")}
    truth = {c: np.concatenate([p["truth"][c] for p in parts]) for c in _TRUTH_COLUMNS}
    truth["window"] = np.concatenate([p["truth"]["window"] + o for p, o in zip(parts, offsets)])
    return Windows(charge=charge, tcp=tcp, params=params, **small,
                   truth=Table(truth, name="truth"), seed_layer=layer, check_finite=False)


def jet_windows(
    events: JetEvent | Sequence[JetEvent],
    *,
    delta_r: float = 0.1,
    min_cluster_charge: float = 5000.0,
    layer: int = 1,
    min_pt: float = 1.0 * u.GeV,
) -> Windows:
    """DeepCore windows of ``events`` (see the module docstring).

    Parameters
    ----------
    events : JetEvent or sequence of JetEvent
    delta_r : float
        Largest ΔR between a seed cluster's direction (from the primary vertex) and the jet
        axis.
    min_cluster_charge : float
        Smallest calibrated seed-cluster charge [electrons] (the default 5,000 e, ~ 1/4 of a
        MIP, drops lone noise pixels but no track clusters).
    layer : int
        Seed layer (0-based; 1 = BPIX2), where the targets are.
    min_pt : float
        Smallest pT of a particle that gets a target [GeV].

    Returns
    -------
    Windows
        Windows of all events, event after event, each event's in cluster order.
    """
    evs = [events] if isinstance(events, JetEvent) else list(events)
    if not evs:
        msg = "events: no events given (an empty sequence)"
        raise ValueError(msg)
    for e in evs:
        if not isinstance(e, JetEvent):
            msg = f"events must hold helixkit.deepcore.JetEvent objects, got {type(e).__name__}"
            raise ValueError(msg)
    if not (np.isfinite(delta_r) and delta_r > 0):
        msg = f"delta_r (={delta_r!r}) must be finite and > 0"
        raise ValueError(msg)
    if not (np.isfinite(min_cluster_charge) and min_cluster_charge >= 0):
        msg = f"min_cluster_charge (={min_cluster_charge!r}) must be finite and >= 0 electrons"
        raise ValueError(msg)
    if int(layer) != layer or not 0 <= layer < N_LAYERS:
        msg = f"layer (={layer!r}) must be an integer in [0, {N_LAYERS})"
        raise ValueError(msg)
    if not (np.isfinite(min_pt) and min_pt > 0):
        msg = f"min_pt (={min_pt!r}) must be finite and > 0 GeV"
        raise ValueError(msg)
    parts = []
    for e in evs:
        e.validate()
        if len(e.detector.layers) != N_LAYERS:
            msg = (f"events: event {e.event_id}'s detector has {len(e.detector.layers)} "
                   f"layers; DeepCore windows need {N_LAYERS}")
            raise ValueError(msg)
        part = _event_windows(e, float(delta_r), float(min_cluster_charge), int(layer),
                              float(min_pt))
        if part is not None:
            parts.append(part)
    return _assemble(parts, int(layer))
