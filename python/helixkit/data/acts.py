"""ACTS Examples CSV events (``ActsExamples/Io/Csv`` writers) read into an :class:`Event`.

Files of event ``N`` in one directory, ``event<N, 9 digits>-<stem>.csv``:

============================  =========================================================
stem                          content (columns used)
============================  =========================================================
``particles_simulated``,      particle_id (or the five ``particle_id_*`` columns),
``particles_initial``,        particle_type, process, vx, vy, vz, vt, px, py, pz, m, q
``particles``,
``particles_generated``       (the first that exists, in this order, unless chosen)
``hits`` / ``simhits``        simulated hits: particle id, geometry_id, tx, ty, tz, tt,
                              tpx, tpy, tpz, te, deltap*, index; the row number is the
                              sim-hit index used by the map
``measurements``              measurement_id, geometry_id, local0/1, var_local0/1, ...
``measurement-simhit-map``    measurement_id, hit_id (sim-hit row number)
``spacepoints`` /             measurement_id (or measurement_id_1 [, measurement_id_2]),
``spacepoint``                x, y, z (or sp_x, sp_y, sp_z), var_r, var_z (or sp_covr,
                              sp_covz)  -- optional
============================  =========================================================

Hits of the returned event
--------------------------
* If a space-point file exists (``hits_from="auto"`` or ``"spacepoints"``), every
  space point is a hit: ``hit_id`` is its row number, x, y, z its global
  position, and ``measurement_id`` (``measurement_id_2``: the second strip
  measurement, -1 if none) links it to the measurements.
* Otherwise (or ``hits_from="measurements"``) every measurement is a hit with
  ``hit_id = measurement_id``. ACTS measurements only store local coordinates,
  so their global position is **the true position of the matched sim hit** (no
  smearing): fine for truth studies and seeding tests, optimistic for resolutions.

``volume_id``, ``layer_id`` and ``module_id`` (the ACTS *sensitive* number) are
decoded from the measurement's ``geometry_id`` (kept as a uint64 column).

Truth
-----
The matched sim hit of a measurement is its first entry in the
measurement-simhit-map (merged clusters have several). For a strip space point,
truth comes from its first measurement. Truth gives particle_id, tx, ty, tz
(sim-hit position), tpx, tpy, tpz (momentum before the interaction) and a
weight (uniform over non-noise hits, summing to 1; ACTS has no TrackML weights).
Hits with no sim hit are noise (particle_id 0).

Particle ids
------------
ACTS >= v44 writes the barcode as five columns ``particle_id_pv, _sv, _part,
_gen, _subpart`` (unbounded integers); older versions one ``particle_id``
(uint64) with the pre-v44 packing (``MultiIndex<12, 12, 16, 8, 16>``, most
significant first)::

    particle_id = pv << 52 | sv << 40 | part << 24 | gen << 16 | subpart

(the uint64 value reinterpreted as int64). ``particle_ids`` of
:func:`read_acts_csv` chooses the int64 ``particle_id`` of the five-column files:

* ``"packed"``: the pre-v44 packing above, so both formats give the same id for
  the same particle; a component that does not fit its bit width (e.g. more than
  4,095 primary vertices: a particle gun with one vertex per particle, high
  pile-up) is an error.
* ``"dense"``: 1, 2, 3, ... in the lexicographic order of the barcodes
  (pv, sv, part, gen, subpart) of the particle file and the sim hits, with no
  limit on any component. Ids are unique within the event only.
* ``"auto"`` (default): ``"packed"`` when every barcode of the event fits,
  ``"dense"`` otherwise.

The components are always kept as columns (the stable identity of a particle),
and ``primary = (sv == 0) & (gen == 0)``.

ACTS 48 flavour
---------------
ACTS writes the 8-bit ``local_key`` of ``measurements.csv`` as one raw byte (not
digits), and ``global_x, global_y, global_z`` as ``nan`` when the writer has no
surfaces; both are accepted (``local_key`` is read as its integer value). When
``global_x/y/z`` are finite for every measurement, they are the positions of
measurement hits instead of the sim-hit positions.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ._csv import check_unique, index_of, read_csv
from .event import Event, Table
from .trackml import check_truth_particles

__all__ = [
    "BARCODE_FIELDS",
    "GEOMETRY_ID_FIELDS",
    "decode_barcode",
    "decode_geometry_id",
    "encode_barcode",
    "encode_geometry_id",
    "read_acts_csv",
]

#: (name, mask) of the fields of ``Acts::GeometryIdentifier``
GEOMETRY_ID_FIELDS: tuple[tuple[str, int], ...] = (
    ("volume", 0xFF00_0000_0000_0000),
    ("boundary", 0x00FF_0000_0000_0000),
    ("layer", 0x0000_FFF0_0000_0000),
    ("approach", 0x0000_000F_F000_0000),
    ("sensitive", 0x0000_0000_0FFF_FF00),
    ("extra", 0x0000_0000_0000_00FF),
)

#: (column, bit width) of the packed particle barcode, most significant first
BARCODE_FIELDS: tuple[tuple[str, int], ...] = (
    ("particle_id_pv", 12),
    ("particle_id_sv", 12),
    ("particle_id_part", 16),
    ("particle_id_gen", 8),
    ("particle_id_subpart", 16),
)
_BARCODE_COLUMNS = [name for name, _ in BARCODE_FIELDS]


def _shift(mask: int) -> int:
    return (mask & -mask).bit_length() - 1


def _as_uint64(ids: Any, name: str) -> np.ndarray:
    arr = np.asarray(ids)
    if arr.dtype == object:
        try:
            arr = np.array([int(v) for v in arr.ravel()], dtype=np.uint64).reshape(arr.shape)
        except (TypeError, ValueError, OverflowError):
            msg = f"{name} must hold integers in [0, 2**64), got {ids!r:.80}"
            raise ValueError(msg) from None
    if arr.dtype.kind == "u":
        return arr.astype(np.uint64, copy=False)
    if arr.dtype.kind == "i":
        # int64 storage of a uint64 id (pandas/numpy readers): reinterpret the bits
        return arr.astype(np.int64, copy=False).view(np.uint64)
    msg = f"{name} must be an integer array (uint64 or int64), got dtype {arr.dtype}"
    raise ValueError(msg)


def decode_geometry_id(ids: Any) -> dict[str, np.ndarray]:
    """Split ACTS geometry identifiers into their fields.

    Parameters
    ----------
    ids : array_like of uint64 (int64 is reinterpreted bit for bit)

    Returns
    -------
    dict
        ``volume, boundary, layer, approach, sensitive, extra`` -> int32 arrays
        of the shape of ``ids``.
    """
    v = _as_uint64(ids, "geometry ids")
    return {
        name: ((v & np.uint64(mask)) >> np.uint64(_shift(mask))).astype(np.int32)
        for name, mask in GEOMETRY_ID_FIELDS
    }


def encode_geometry_id(
    volume: Any,
    layer: Any = 0,
    sensitive: Any = 0,
    *,
    boundary: Any = 0,
    approach: Any = 0,
    extra: Any = 0,
) -> np.ndarray:
    """ACTS geometry identifiers (uint64) from their fields.

    The inverse of :func:`decode_geometry_id`; fields must fit their masks.
    """
    values = {
        "volume": volume,
        "boundary": boundary,
        "layer": layer,
        "approach": approach,
        "sensitive": sensitive,
        "extra": extra,
    }
    out = np.uint64(0)
    for name, mask in GEOMETRY_ID_FIELDS:
        arr = np.asarray(values[name])
        if arr.dtype.kind not in "iu":
            msg = f"geometry id field {name!r} must be integer, got dtype {arr.dtype}"
            raise ValueError(msg)
        limit = mask >> _shift(mask)
        if arr.size and (arr.min() < 0 or arr.max() > limit):
            msg = f"geometry id field {name!r} must be in [0, {limit}]"
            raise ValueError(msg)
        out = out | (arr.astype(np.uint64) << np.uint64(_shift(mask)))
    return np.asarray(out, dtype=np.uint64)


def encode_barcode(pv: Any, sv: Any, part: Any, gen: Any, subpart: Any) -> np.ndarray:
    """Pack the five ACTS barcode components into int64 particle ids.

    Layout (pre-v44 ACTS barcode): ``pv << 52 | sv << 40 | part << 24 | gen << 16 |
    subpart``, the uint64 reinterpreted as int64.

    Raises
    ------
    ValueError
        If a component is negative or exceeds its bit width (12, 12, 16, 8, 16).
    """
    parts = dict(zip(_BARCODE_COLUMNS, (pv, sv, part, gen, subpart)))
    out = np.uint64(0)
    shift = 64
    for name, width in BARCODE_FIELDS:
        arr = np.asarray(parts[name])
        if arr.dtype.kind not in "iu":
            msg = f"barcode component {name!r} must be integer, got dtype {arr.dtype}"
            raise ValueError(msg)
        if arr.size and (arr.min() < 0 or arr.max() >= (1 << width)):
            bad = arr[(arr < 0) | (arr >= (1 << width))].ravel()[0]
            msg = (
                f"barcode component {name!r} = {bad} does not fit in {width} bits "
                f"[0, {(1 << width) - 1}]"
            )
            raise ValueError(msg)
        shift -= width
        out = out | (arr.astype(np.uint64) << np.uint64(shift))
    return np.asarray(out, dtype=np.uint64).view(np.int64)


def decode_barcode(ids: Any) -> dict[str, np.ndarray]:
    """The five barcode components (int32 arrays) of int64/uint64 particle ids."""
    v = _as_uint64(ids, "particle ids")
    out: dict[str, np.ndarray] = {}
    shift = 64
    for name, width in BARCODE_FIELDS:
        shift -= width
        out[name] = ((v >> np.uint64(shift)) & np.uint64((1 << width) - 1)).astype(np.int32)
    return out


# --- reading ---------------------------------------------------------------------

_F4 = np.float32
_PARTICLE_DTYPES: dict[str, Any] = {
    "particle_id": np.uint64,
    **dict.fromkeys(_BARCODE_COLUMNS, np.int64),
    "particle_type": np.int32,
    "process": np.int64,
    **dict.fromkeys(("vx", "vy", "vz", "vt", "px", "py", "pz", "m"), _F4),
    "q": _F4,
}
_MEAS_NAN_OK = ("global_x", "global_y", "global_z")
_SIMHIT_DTYPES: dict[str, Any] = {
    "particle_id": np.uint64,
    **dict.fromkeys(_BARCODE_COLUMNS, np.int64),
    "geometry_id": np.uint64,
    **dict.fromkeys(
        ("tx", "ty", "tz", "tt", "tpx", "tpy", "tpz", "te", "deltapx", "deltapy", "deltapz"), _F4
    ),
    "deltae": _F4,
    "index": np.int64,
}
_MEAS_DTYPES: dict[str, Any] = {
    "measurement_id": np.int64,
    "geometry_id": np.uint64,
    "local_key": np.int64,
    **dict.fromkeys(
        (
            "global_x",
            "global_y",
            "global_z",
            "local0",
            "local1",
            "phi",
            "theta",
            "time",
            "var_local0",
            "var_local1",
            "var_phi",
            "var_theta",
            "var_time",
        ),
        _F4,
    ),
}
_MAP_DTYPES: dict[str, Any] = {"measurement_id": np.int64, "hit_id": np.int64}
_SP_DTYPES: dict[str, Any] = {
    "measurement_id": np.int64,
    "measurement_id_1": np.int64,
    "measurement_id_2": np.int64,
    "geometry_id": np.uint64,
    "geometry_id_1": np.uint64,
    "geometry_id_2": np.uint64,
    **dict.fromkeys(("x", "y", "z", "t", "var_r", "var_z"), _F4),
    **dict.fromkeys(("sp_x", "sp_y", "sp_z", "sp_radius", "sp_covr", "sp_covz"), _F4),
}
PARTICLE_STEMS = ("particles_simulated", "particles_initial", "particles", "particles_generated")


def _acts_file(directory: Path, event: int, stems: tuple[str, ...]) -> Path | None:
    for stem in stems:
        for ext in (".csv", ".csv.gz"):
            p = directory / f"event{event:09d}-{stem}{ext}"
            if p.exists():
                return p
    return None


def _require_file(directory: Path, event: int, stems: tuple[str, ...]) -> Path:
    p = _acts_file(directory, event, stems)
    if p is None:
        names = " / ".join(f"event{event:09d}-{s}.csv" for s in stems)
        msg = f"{directory}: file not found: {names}"
        raise ValueError(msg)
    return p


ParticleIds = Literal["auto", "packed", "dense"]


def _components(cols: dict[str, np.ndarray], path: Path) -> np.ndarray | None:
    """(N, 5) int64 barcode components of a five-column file (None: one-column file)."""
    if "particle_id" in cols:
        return None
    missing = [c for c in _BARCODE_COLUMNS if c not in cols]
    if missing:
        msg = (
            f"{path}: missing column 'particle_id' (or the five columns "
            f"{', '.join(_BARCODE_COLUMNS)}; missing {', '.join(missing)})"
        )
        raise ValueError(msg)
    comps = np.stack([cols[c] for c in _BARCODE_COLUMNS], axis=1).reshape(-1, 5)
    bad = comps < 0
    if bad.any():
        row, col = np.argwhere(bad)[0]
        msg = (
            f"{path}: column {_BARCODE_COLUMNS[col]!r}, row {row}: barcode component "
            f"{comps[row, col]} is negative"
        )
        raise ValueError(msg)
    return comps


def _fits_packing(comps: np.ndarray) -> bool:
    limits = np.array([(1 << w) - 1 for _, w in BARCODE_FIELDS])
    return bool((comps <= limits).all()) if len(comps) else True


def _pack(comps: np.ndarray, path: Path) -> np.ndarray:
    try:
        return encode_barcode(*comps.T).reshape(-1)
    except ValueError as exc:
        msg = f"{path}: {exc} (use particle_ids='dense' for barcodes beyond the packing)"
        raise ValueError(msg) from None


def _dense_ids(keys: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """1-based rank of every row of ``keys`` among the unique rows of ``reference``."""
    uniq = np.unique(reference, axis=0)
    view = np.dtype([(f"f{i}", np.int64) for i in range(5)])
    u = np.ascontiguousarray(uniq).view(view).reshape(-1)
    k = np.ascontiguousarray(keys).view(view).reshape(-1)
    return (np.searchsorted(u, k) + 1).astype(np.int64)


def _component_columns(comps: np.ndarray | None, pid: np.ndarray) -> dict[str, np.ndarray]:
    if comps is None:
        return decode_barcode(pid)
    out = {}
    for i, c in enumerate(_BARCODE_COLUMNS):
        col = comps[:, i]
        out[c] = col.astype(np.int32) if col.size == 0 or col.max() < 2**31 else col
    return out


def _read_particles(path: Path, cols: dict[str, np.ndarray], pid: np.ndarray,
                    comps: np.ndarray | None) -> Table:
    comps_cols = _component_columns(comps, pid)
    check_unique(pid, path, "particle_id")
    if (pid == 0).any():
        msg = f"{path}: particle id 0 (all components zero) is the invalid barcode"
        raise ValueError(msg)
    q = cols["q"]
    qi = np.rint(q)
    if (qi != q).any():
        msg = f"{path}: column 'q' has a non-integer charge ({q[qi != q][0]})"
        raise ValueError(msg)
    out: dict[str, np.ndarray] = {"particle_id": pid, "particle_type": cols["particle_type"]}
    for c in ("vx", "vy", "vz", "px", "py", "pz"):
        out[c] = cols[c]
    out["q"] = qi.astype(np.int32)
    out["nhits"] = np.zeros(len(pid), np.int32)  # filled once truth is known
    out["primary"] = (comps_cols["particle_id_sv"] == 0) & (comps_cols["particle_id_gen"] == 0)
    out.update(comps_cols)
    done = set(out) | {"particle_id"} | set(_BARCODE_COLUMNS)
    out.update({k: v for k, v in cols.items() if k not in done})
    return Table(out, name="particles")


def read_acts_csv(
    directory: str | os.PathLike[str],
    event: int,
    *,
    particles: str | None = None,
    hits_from: Literal["auto", "spacepoints", "measurements"] = "auto",
    allow_unknown_particles: bool = False,
    particle_ids: ParticleIds = "auto",
) -> Event:
    """Read one event written by the ACTS Examples CSV writers.

    Parameters
    ----------
    directory : path-like
    event : int
        Event number (files ``event<9 digits>-*.csv``).
    particles : str, optional
        Stem of the particle file (e.g. ``"particles_initial"``); by default the
        first of ``particles_simulated, particles_initial, particles,
        particles_generated`` that exists.
    hits_from : {"auto", "spacepoints", "measurements"}
        Which objects become the event's hits (see the module docstring).
    allow_unknown_particles : bool
        Accept sim hits of particles missing from the particle file (e.g. the
        generator-level file, which lacks secondaries). By default an error.
    particle_ids : {"auto", "packed", "dense"}
        How the five barcode columns of ACTS >= v44 become the int64
        ``particle_id`` (module docstring): the pre-v44 packing, a dense
        numbering with no limit, or the packing when every barcode fits it.

    Returns
    -------
    Event
        hits: hit_id, x, y, z, volume_id, layer_id, module_id, geometry_id,
        measurement_id (+ space-point / variance columns); truth aligned with hits;
        particles with the components of the barcode and ``primary``.

    Raises
    ------
    ValueError
        Missing or malformed files, unknown ids in the map or the space points,
        inconsistent geometry ids, empty events.
    """
    d = Path(directory)
    if not d.is_dir():
        msg = f"{d}: not a directory"
        raise ValueError(msg)
    event = int(event)
    if event < 0:
        msg = f"event must be >= 0, got {event}"
        raise ValueError(msg)
    if hits_from not in ("auto", "spacepoints", "measurements"):
        msg = f"hits_from must be 'auto', 'spacepoints' or 'measurements', got {hits_from!r}"
        raise ValueError(msg)
    if particle_ids not in ("auto", "packed", "dense"):
        msg = f"particle_ids must be 'auto', 'packed' or 'dense', got {particle_ids!r}"
        raise ValueError(msg)

    part_path = _require_file(d, event, (particles,) if particles else PARTICLE_STEMS)
    sim_path = _require_file(d, event, ("hits", "simhits"))
    meas_path = _require_file(d, event, ("measurements",))
    map_path = _require_file(d, event, ("measurement-simhit-map",))
    sp_path = None
    if hits_from != "measurements":
        sp_path = _acts_file(d, event, ("spacepoints", "spacepoint"))
        if sp_path is None and hits_from == "spacepoints":
            _require_file(d, event, ("spacepoints", "spacepoint"))

    part_required = ["particle_type", "vx", "vy", "vz", "px", "py", "pz", "q"]
    part_cols = read_csv(part_path, _PARTICLE_DTYPES, required=part_required)
    part_comps = _components(part_cols, part_path)

    sim_required = ["geometry_id", "tx", "ty", "tz", "tpx", "tpy", "tpz"]
    sim = read_csv(sim_path, _SIMHIT_DTYPES, required=sim_required)
    sim_comps = _components(sim, sim_path)
    if (part_comps is None) != (sim_comps is None):
        msg = (
            f"{part_path.name} and {sim_path.name} use different barcode formats "
            f"(one 'particle_id' column vs the five particle_id_* columns)"
        )
        raise ValueError(f"{d}: {msg}")
    if part_comps is None or sim_comps is None:
        part_pid = part_cols["particle_id"].view(np.int64)
        sim_pid = sim["particle_id"].view(np.int64)
    else:
        mode = particle_ids
        if mode == "auto":
            fits = _fits_packing(part_comps) and _fits_packing(sim_comps)
            mode = "packed" if fits else "dense"
        if mode == "packed":
            part_pid = _pack(part_comps, part_path)
            sim_pid = _pack(sim_comps, sim_path)
        else:
            both = np.concatenate([part_comps, sim_comps])
            part_pid = _dense_ids(part_comps, both)
            sim_pid = _dense_ids(sim_comps, both)
    particle_table = _read_particles(part_path, part_cols, part_pid, part_comps)

    meas = read_csv(
        meas_path,
        _MEAS_DTYPES,
        required=["measurement_id", "geometry_id"],
        byte_columns=("local_key",),
        nan_ok=_MEAS_NAN_OK,
    )
    meas_id = meas["measurement_id"]
    if len(meas_id) == 0:
        msg = f"{meas_path}: empty event (no measurements)"
        raise ValueError(msg)
    check_unique(meas_id, meas_path, "measurement_id")

    link = read_csv(map_path, _MAP_DTYPES, required=["measurement_id", "hit_id"])
    link_meas_row = index_of(
        link["measurement_id"], meas_id, path=map_path, column="measurement_id", what="measurements"
    )
    bad = (link["hit_id"] < 0) | (link["hit_id"] >= len(sim_pid))
    if bad.any():
        msg = (
            f"{map_path}: column 'hit_id' has {int(bad.sum())} value(s) outside the "
            f"{len(sim_pid)} sim hits of {sim_path.name} (first: {link['hit_id'][bad][0]})"
        )
        raise ValueError(msg)
    # matched sim hit of every measurement: its first entry in the map (-1: none)
    first_rows, first_idx = np.unique(link_meas_row, return_index=True)
    meas_simhit = np.full(len(meas_id), -1, np.int64)
    meas_simhit[first_rows] = link["hit_id"][first_idx]
    matched = meas_simhit >= 0
    geo_sim = sim["geometry_id"][meas_simhit[matched]]
    if (geo_sim != meas["geometry_id"][matched]).any():
        i = int(np.flatnonzero(geo_sim != meas["geometry_id"][matched])[0])
        mid = meas_id[matched][i]
        msg = (
            f"{map_path}: measurement {mid} ({meas_path.name} geometry_id "
            f"{meas['geometry_id'][matched][i]}) is linked to a sim hit on another surface "
            f"({sim_path.name} geometry_id {geo_sim[i]})"
        )
        raise ValueError(msg)

    hit_cols: dict[str, np.ndarray] = {}
    if sp_path is not None:
        sp = read_csv(sp_path, _SP_DTYPES)
        id_col = next((c for c in ("measurement_id_1", "measurement_id") if c in sp), None)
        layouts = (("x", "y", "z"), ("sp_x", "sp_y", "sp_z"))
        pos_cols = next((c for c in layouts if c[0] in sp), None)
        if id_col is None or pos_cols is None or any(c not in sp for c in pos_cols):
            msg = (
                f"{sp_path}: missing columns: need 'measurement_id' (or 'measurement_id_1') "
                f"and x, y, z (or sp_x, sp_y, sp_z); header has {', '.join(sp)}"
            )
            raise ValueError(msg)
        n = len(sp[id_col])
        if n == 0:
            msg = f"{sp_path}: empty event (no space points)"
            raise ValueError(msg)
        meas_row = index_of(sp[id_col], meas_id, path=sp_path, column=id_col, what="measurements")
        hit_cols["hit_id"] = np.arange(n, dtype=np.int64)
        for out_name, col in zip(("x", "y", "z"), pos_cols):
            hit_cols[out_name] = sp[col]
        if "measurement_id_2" in sp:
            second = sp["measurement_id_2"]
            has2 = second >= 0
            index_of(
                second[has2], meas_id, path=sp_path, column="measurement_id_2", what="measurements"
            )
        else:
            second = np.full(n, -1, np.int64)
        extra = {"measurement_id_2": second}
        for out_name, names in (("var_r", ("var_r", "sp_covr")), ("var_z", ("var_z", "sp_covz"))):
            col = next((c for c in names if c in sp), None)
            if col is not None:
                extra[out_name] = sp[col]
    else:
        meas_row = np.arange(len(meas_id))
        measured = all(c in meas for c in _MEAS_NAN_OK) and all(
            np.isfinite(meas[c]).all() for c in _MEAS_NAN_OK
        )
        if measured:
            hit_cols["hit_id"] = meas_id.copy()
            for c in ("x", "y", "z"):
                hit_cols[c] = meas["global_" + c]
        elif not matched.all():
            mid = meas_id[~matched][0]
            msg = (
                f"{map_path}: measurement {mid} has no sim hit, so it has no global position "
                f"(ACTS measurements are local); provide a space-point file"
            )
            raise ValueError(msg)
        else:
            hit_cols["hit_id"] = meas_id.copy()
            for c in ("x", "y", "z"):
                hit_cols[c] = sim["t" + c][meas_simhit]
        extra = {c: meas[c] for c in ("var_local0", "var_local1") if c in meas}

    geometry_id = meas["geometry_id"][meas_row]
    fields = decode_geometry_id(geometry_id)
    hit_cols["volume_id"] = fields["volume"]
    hit_cols["layer_id"] = fields["layer"]
    hit_cols["module_id"] = fields["sensitive"]
    hit_cols["geometry_id"] = geometry_id
    hit_cols["measurement_id"] = meas_id[meas_row]
    hit_cols.update(extra)
    hits = Table(hit_cols, name="hits")

    simhit = meas_simhit[meas_row]
    has = simhit >= 0
    idx = np.where(has, simhit, 0)
    truth_cols: dict[str, np.ndarray] = {"hit_id": hits["hit_id"]}
    n_sim = len(sim_pid)

    def at_simhit(values: np.ndarray, default: Any) -> np.ndarray:
        # a header-only sim-hit file has nothing to index (every hit is then noise)
        return np.where(has, values[idx], default) if n_sim else np.broadcast_to(
            np.asarray(default), has.shape)

    truth_cols["particle_id"] = at_simhit(sim_pid, 0).astype(np.int64)
    for c in ("x", "y", "z"):
        truth_cols["t" + c] = at_simhit(sim["t" + c], hits[c]).astype(np.float32)
    for c in ("tpx", "tpy", "tpz"):
        truth_cols[c] = at_simhit(sim[c], 0).astype(np.float32)
    n_signal = int(has.sum())
    truth_cols["weight"] = np.where(has, 1.0 / max(n_signal, 1), 0.0).astype(np.float32)
    truth = Table(truth_cols, name="truth")

    pid = truth["particle_id"]
    if not allow_unknown_particles:
        check_truth_particles(pid, particle_table["particle_id"], sim_path)
    ids, counts = np.unique(pid[pid != 0], return_counts=True)
    nhits = np.zeros(particle_table.n_rows, np.int32)
    if len(ids):
        row = np.searchsorted(ids, particle_table["particle_id"])
        row_c = np.minimum(row, len(ids) - 1)
        hit = ids[row_c] == particle_table["particle_id"]
        nhits[hit] = counts[row_c[hit]]
    particle_table = particle_table.with_column("nhits", nhits)
    return Event(hits=hits, truth=truth, particles=particle_table, event_id=event)
