from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from helixkit.data import (
    decode_barcode,
    decode_geometry_id,
    encode_barcode,
    encode_geometry_id,
    read_acts_csv,
)

# --- hand-computed identifiers ---------------------------------------------------
# geometry ids: volume | boundary | layer | approach | sensitive | extra
GEO_A = 0x0700_0020_0000_0D00  # volume 7, layer 2, sensitive 13
GEO_B = 0x0800_0040_0000_0100  # volume 8, layer 4, sensitive 1
GEO_C = 0xC800_0040_0000_0103  # volume 200, layer 4, sensitive 1, extra 3 (> 2**63)
# barcodes (pv, sv, part, gen, sub) packed as pv<<52 | sv<<40 | part<<24 | gen<<16 | sub
P1 = (1, 0, 1, 0, 0)  # 2**52 + 2**24
P2 = (1, 0, 2, 0, 0)  # 2**52 + 2 * 2**24
P3 = (1, 0, 1, 1, 0)  # 2**52 + 2**24 + 2**16 (a secondary of P1)
PID = {P1: 4503599644147712, P2: 4503599660924928, P3: 4503599644213248}


def test_decode_geometry_id_hand_computed() -> None:
    f = decode_geometry_id(np.array([GEO_A, GEO_B, GEO_C, 0x1234_5678_9ABC_DEF0], dtype=np.uint64))
    assert f["volume"].tolist() == [7, 8, 200, 0x12]
    assert f["boundary"].tolist() == [0, 0, 0, 0x34]
    assert f["layer"].tolist() == [2, 4, 4, 0x567]
    assert f["approach"].tolist() == [0, 0, 0, 0x89]
    assert f["sensitive"].tolist() == [13, 1, 1, 0xABCDE]
    assert f["extra"].tolist() == [0, 0, 3, 0xF0]
    # int64 storage of the same bits (as numpy/pandas give for ids >= 2**63)
    as_int = np.array([GEO_C], dtype=np.uint64).view(np.int64)
    assert as_int[0] < 0
    assert decode_geometry_id(as_int)["volume"].tolist() == [200]
    assert decode_geometry_id([GEO_A])["sensitive"].tolist() == [13]


def test_encode_geometry_id_inverts_decode() -> None:
    ids = encode_geometry_id(
        [7, 8, 200, 0x12], [2, 4, 4, 0x567], [13, 1, 1, 0xABCDE],
        boundary=[0, 0, 0, 0x34], approach=[0, 0, 0, 0x89], extra=[0, 0, 3, 0xF0],
    )
    assert ids.dtype == np.uint64
    assert [int(v) for v in ids] == [GEO_A, GEO_B, GEO_C, 0x1234_5678_9ABC_DEF0]
    with pytest.raises(ValueError, match=r"field 'layer' must be in \[0, 4095\]"):
        encode_geometry_id(1, 4096)
    with pytest.raises(ValueError, match="must be an integer array"):
        decode_geometry_id(np.array([1.0]))


def test_barcode_hand_computed() -> None:
    pids = encode_barcode(*np.array([P1, P2, P3]).T)
    assert pids.dtype == np.int64
    assert pids.tolist() == [PID[P1], PID[P2], PID[P3]]
    comps = decode_barcode(pids)
    assert comps["particle_id_part"].tolist() == [1, 2, 1]
    assert comps["particle_id_gen"].tolist() == [0, 0, 1]
    top = encode_barcode(4095, 4095, 65535, 255, 65535)
    assert int(top) == -1  # all 64 bits set
    with pytest.raises(ValueError, match=r"'particle_id_pv' = 4096 does not fit in 12 bits"):
        encode_barcode(4096, 0, 1, 0, 0)
    with pytest.raises(ValueError, match="'particle_id_sub.*' = -1"):
        encode_barcode(1, 0, 1, 0, -1)


# --- hand-written ACTS CSV samples ---------------------------------------------------

SIMHITS = [  # barcode, geometry id, tx, ty, tz, tpx, tpy, tpz
    (P1, GEO_A, 31.0, 2.0, 10.0, 1.0, 0.1, 0.3),
    (P1, GEO_B, 72.0, 5.0, 23.0, 0.99, 0.12, 0.3),
    (P2, GEO_A, 30.0, -4.0, -8.0, 0.5, -0.1, -0.2),
    (P2, GEO_B, 71.0, -9.0, -20.0, 0.49, -0.13, -0.2),
    (P3, GEO_C, 150.0, 20.0, 40.0, 0.05, 0.01, 0.02),
    (P1, GEO_C, 150.5, 19.0, 41.0, 0.98, 0.15, 0.3),
]
# measurement id -> geometry id; map rows in file order (measurement 4 merges sim hits 4 and 5)
MEASUREMENTS = {3: GEO_B, 0: GEO_A, 4: GEO_C, 1: GEO_B, 2: GEO_A}
MAP = [(0, 0), (1, 1), (2, 2), (3, 3), (4, 4), (4, 5)]
PARTICLES = [  # barcode, pdg, vx, vy, vz, px, py, pz, q
    (P1, 211, 0.01, -0.02, 1.5, 1.0, 0.1, 0.3, 1.0),
    (P2, -211, 0.01, -0.02, 1.5, 0.5, -0.1, -0.2, -1.0),
    (P3, 11, 149.0, 19.0, 39.0, 0.05, 0.01, 0.02, -1.0),
]
SPACEPOINTS = [  # measurement_id_1, measurement_id_2, x, y, z
    (0, -1, 31.01, 2.01, 10.02),
    (2, -1, 30.02, -4.01, -7.99),
    (1, 3, 71.5, -2.0, 1.0),
    (4, -1, 150.2, 19.6, 40.4),
]


def _barcode_cells(bc: tuple, split: bool) -> list[str]:
    return [str(v) for v in bc] if split else [str(PID[bc])]


def write_sample(directory: Path, *, split: bool = True, spacepoints: str | None = "new") -> Path:
    """Write event 0 in the ACTS Examples CSV layout; ``split``: >= v44 barcode columns."""
    directory.mkdir(parents=True, exist_ok=True)
    pre = directory / "event000000000-"
    id_header = (
        "particle_id_pv,particle_id_sv,particle_id_part,particle_id_gen,particle_id_subpart"
        if split
        else "particle_id"
    )
    lines = [f"{id_header},particle_type,process,vx,vy,vz,vt,px,py,pz,m,q"]
    for bc, pdg, vx, vy, vz, px, py, pz, q in PARTICLES:
        row = [*_barcode_cells(bc, split), str(pdg), "0", str(vx), str(vy), str(vz), "0"]
        lines.append(",".join([*row, str(px), str(py), str(pz), "0.13957", str(q)]))
    (Path(str(pre) + "particles_simulated.csv")).write_text("\n".join(lines) + "\n")

    if split:
        head = f"{id_header},geometry_id,"
    else:  # old writers put geometry_id after particle_id as well
        head = "particle_id,geometry_id,"
    lines = [head + "tx,ty,tz,tt,tpx,tpy,tpz,te,deltapx,deltapy,deltapz,deltae,index"]
    for i, (bc, geo, tx, ty, tz, px, py, pz) in enumerate(SIMHITS):
        vals = [tx, ty, tz, 0.1, px, py, pz, 1.0, 0, 0, 0, -0.001, i]
        lines.append(",".join([*_barcode_cells(bc, split), str(geo), *map(str, vals)]))
    (Path(str(pre) + "hits.csv")).write_text("\n".join(lines) + "\n")

    lines = [
        "measurement_id,geometry_id,local_key,local0,local1,phi,theta,time,"
        "var_local0,var_local1,var_phi,var_theta,var_time"
    ]
    for mid, geo in MEASUREMENTS.items():
        lines.append(f"{mid},{geo},3,0.1,-0.2,0,0,0,0.0001,0.0025,0,0,0")
    (Path(str(pre) + "measurements.csv")).write_text("\n".join(lines) + "\n")

    lines = ["measurement_id,hit_id", *(f"{m},{h}" for m, h in MAP)]
    (Path(str(pre) + "measurement-simhit-map.csv")).write_text("\n".join(lines) + "\n")

    if spacepoints == "new":
        lines = ["measurement_id_1,geometry_id_1,measurement_id_2,geometry_id_2,x,y,z,var_r,var_z"]
        for m1, m2, x, y, z in SPACEPOINTS:
            g2 = MEASUREMENTS[m2] if m2 >= 0 else 0
            lines.append(f"{m1},{MEASUREMENTS[m1]},{m2},{g2},{x},{y},{z},0.01,0.04")
        (Path(str(pre) + "spacepoint.csv")).write_text("\n".join(lines) + "\n")
    elif spacepoints == "old":
        lines = ["measurement_id,sp_x,sp_y,sp_z,sp_radius,sp_covr,sp_covz"]
        for m1, _, x, y, z in SPACEPOINTS:
            lines.append(f"{m1},{x},{y},{z},{np.hypot(x, y)},0.01,0.04")
        (Path(str(pre) + "spacepoints.csv")).write_text("\n".join(lines) + "\n")
    return directory


@pytest.mark.parametrize("split", [True, False])
def test_measurement_hits_with_both_barcode_formats(tmp_path: Path, split: bool) -> None:
    ev = read_acts_csv(write_sample(tmp_path, split=split, spacepoints=None), 0)
    assert ev.event_id == 0
    assert ev.hits["hit_id"].tolist() == [3, 0, 4, 1, 2]  # measurement ids, file order
    # positions are those of the matched (first mapped) sim hit
    sim_row = {0: 0, 1: 1, 2: 2, 3: 3, 4: 4}
    for row, mid in enumerate(ev.hits["hit_id"].tolist()):
        _, geo, tx, ty, tz, px, py, pz = SIMHITS[sim_row[mid]]
        assert ev.hits["x"][row] == np.float32(tx)
        assert ev.hits["z"][row] == np.float32(tz)
        assert int(ev.hits["geometry_id"][row]) == MEASUREMENTS[mid] == geo
        assert ev.truth["tpx"][row] == np.float32(px)
    assert ev.hits["volume_id"].tolist() == [8, 7, 200, 8, 7]
    assert ev.hits["layer_id"].tolist() == [4, 2, 4, 4, 2]
    assert ev.hits["module_id"].tolist() == [1, 13, 1, 1, 13]
    assert ev.hits["geometry_id"].dtype == np.uint64
    # measurement 4 merges sim hits of P3 and P1: truth is the first map entry (P3)
    assert ev.truth["particle_id"].tolist() == [PID[P2], PID[P1], PID[P3], PID[P1], PID[P2]]
    np.testing.assert_allclose(ev.truth["weight"], 0.2)
    parts = ev.particles
    assert parts["particle_id"].tolist() == [PID[P1], PID[P2], PID[P3]]
    assert parts["nhits"].tolist() == [2, 2, 1]
    assert parts["primary"].tolist() == [True, True, False]
    assert parts["q"].tolist() == [1, -1, -1]
    assert parts["q"].dtype == np.int32
    assert parts["particle_id_gen"].tolist() == [0, 0, 1]
    assert parts["particle_type"].tolist() == [211, -211, 11]
    assert parts["m"][0] == np.float32(0.13957)


def test_both_barcode_formats_give_the_same_event(tmp_path: Path) -> None:
    a = read_acts_csv(write_sample(tmp_path / "new", split=True), 0)
    b = read_acts_csv(write_sample(tmp_path / "old", split=False), 0)
    for table in ("hits", "truth", "particles"):
        ta, tb = getattr(a, table), getattr(b, table)
        assert ta.columns == tb.columns
        for c in ta:
            np.testing.assert_array_equal(ta[c], tb[c], err_msg=f"{table}.{c}")


@pytest.mark.parametrize("fmt", ["new", "old"])
def test_spacepoint_hits(tmp_path: Path, fmt: str) -> None:
    ev = read_acts_csv(write_sample(tmp_path, spacepoints=fmt), 0)
    assert ev.hits["hit_id"].tolist() == [0, 1, 2, 3]
    assert ev.hits["x"].tolist() == [np.float32(sp[2]) for sp in SPACEPOINTS]
    assert ev.hits["measurement_id"].tolist() == [0, 2, 1, 4]
    second = [-1, -1, 3, -1] if fmt == "new" else [-1, -1, -1, -1]
    assert ev.hits["measurement_id_2"].tolist() == second
    assert ev.hits["volume_id"].tolist() == [7, 7, 8, 200]
    assert ev.hits["var_z"].tolist() == [np.float32(0.04)] * 4
    # truth of the strip space point comes from its first measurement (sim hit 1, P1)
    assert ev.truth["particle_id"].tolist() == [PID[P1], PID[P2], PID[P1], PID[P3]]
    assert ev.truth["tx"].tolist() == [31.0, 30.0, 72.0, 150.0]
    assert ev.particles["nhits"].tolist() == [2, 1, 1]
    forced = read_acts_csv(tmp_path, 0, hits_from="measurements")
    assert forced.n_hits == 5


def test_noise_space_point(tmp_path: Path) -> None:
    d = write_sample(tmp_path)
    with (d / "event000000000-measurements.csv").open("a") as fh:
        fh.write(f"5,{GEO_A},3,0,0,0,0,0,0.0001,0.0025,0,0,0\n")
    with (d / "event000000000-spacepoint.csv").open("a") as fh:
        fh.write(f"5,{GEO_A},-1,0,33.5,1.5,9.0,0.01,0.04\n")
    ev = read_acts_csv(d, 0)
    assert ev.truth["particle_id"][-1] == 0
    assert ev.truth["weight"][-1] == 0
    assert ev.truth["tx"][-1] == np.float32(33.5)  # noise: truth position = measured
    np.testing.assert_allclose(ev.truth["weight"].sum(), 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match=r"measurement 5 has no sim hit"):
        read_acts_csv(d, 0, hits_from="measurements")


def test_particle_file_choice_and_unknown_particles(tmp_path: Path) -> None:
    d = write_sample(tmp_path)
    src = (d / "event000000000-particles_simulated.csv").read_text().splitlines()
    # the generator-level file lacks the secondary P3
    (d / "event000000000-particles.csv").write_text("\n".join(src[:3]) + "\n")
    with pytest.raises(ValueError, match=r"hits.csv: column 'particle_id' refers to 1 particle"):
        read_acts_csv(d, 0, particles="particles")
    ev = read_acts_csv(d, 0, particles="particles", allow_unknown_particles=True)
    assert ev.n_particles == 2
    with pytest.raises(ValueError, match=r"file not found: event000000000-particles_final.csv"):
        read_acts_csv(d, 0, particles="particles_final")


def _replace(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, count))


@pytest.mark.parametrize(
    ("file", "old", "new", "pattern"),
    [
        ("measurement-simhit-map", "4,5", "9,5", r"map.csv: column 'measurement_id' has 1 value\(s\) not in measurements \(first: 9\)"),
        ("measurement-simhit-map", "4,5", "4,6", r"map.csv: column 'hit_id' has 1 value\(s\) outside the 6 sim hits"),
        ("measurement-simhit-map", "4,5", "4,x", r"map.csv: column 'hit_id', line 7: 'x' is not an integer"),
        ("measurements", "measurement_id,geometry_id", "measurement_id,geo_id", r"measurements.csv: missing required column\(s\) 'geometry_id'"),
        ("measurements", f"4,{GEO_C}", f"3,{GEO_C}", r"measurements.csv: column 'measurement_id' has duplicate values"),
        ("measurements", f"0,{GEO_A}", f"0,{GEO_B}", r"measurement 0 .* linked to a sim hit on another surface"),
        ("measurements", f"0,{GEO_A}", "0,-5", r"measurements.csv: column 'geometry_id', line 3: -5 does not fit in uint64"),
        ("hits", "1,0,1,1,0,", "1,0,1,1,0,0,", r"hits.csv: line 6 has 20 fields but the header has 19"),
        ("hits", "particle_id_part,", "particle_id_prt,", r"hits.csv: missing column 'particle_id' .*missing particle_id_part"),
        ("particles_simulated", "1,0,2,0,0", "1,0,2,0,-3", r"particles_simulated.csv: column 'particle_id_subpart', row 1: barcode component -3 is negative"),
        ("particles_simulated", "1,0,2,0,0", "1,0,1,0,0", r"particles_simulated.csv: column 'particle_id' has duplicate values"),
        ("particles_simulated", ",-1.0\n", ",-0.5\n", r"particles_simulated.csv: column 'q' has a non-integer charge"),
        ("spacepoint", "measurement_id_1,", "meas_1,", r"spacepoint.csv: missing columns: need 'measurement_id'"),
        ("spacepoint", "\n2,", "\n7,", r"spacepoint.csv: column 'measurement_id_1' has 1 value\(s\) not in measurements \(first: 7\)"),
        ("spacepoint", ",3,", ",8,", r"spacepoint.csv: column 'measurement_id_2' has 1 value\(s\) not in measurements"),
    ],
)
def test_corrupt_acts_files(tmp_path: Path, file: str, old: str, new: str, pattern: str) -> None:
    d = write_sample(tmp_path)
    _replace(d / f"event000000000-{file}.csv", old, new)
    with pytest.raises(ValueError, match=pattern):
        read_acts_csv(d, 0)


def test_missing_and_empty_acts_files(tmp_path: Path) -> None:
    d = write_sample(tmp_path)
    with pytest.raises(ValueError, match=r"event000000001-particles_simulated.csv / "):
        read_acts_csv(d, 1)
    meas = d / "event000000000-measurements.csv"
    meas.write_text(meas.read_text().splitlines()[0] + "\n")
    with pytest.raises(ValueError, match=r"measurements.csv: empty event"):
        read_acts_csv(d, 0)
    (d / "event000000000-measurement-simhit-map.csv").unlink()
    with pytest.raises(ValueError, match=r"measurement-simhit-map.csv: file not found|file not found: event000000000-measurement-simhit-map"):
        read_acts_csv(d, 0)
    with pytest.raises(ValueError, match=r"hits_from must be"):
        read_acts_csv(d, 0, hits_from="cells")
    with pytest.raises(ValueError, match="not a directory"):
        read_acts_csv(d / "nope", 0)
    d2 = write_sample(tmp_path / "b", spacepoints=None)
    with pytest.raises(ValueError, match=r"spacepoints.csv / event000000000-spacepoint.csv"):
        read_acts_csv(d2, 0, hits_from="spacepoints")


def test_acts_event_round_trips_through_trackml(tmp_path: Path) -> None:
    from helixkit.data import read_trackml, write_trackml

    ev = read_acts_csv(write_sample(tmp_path / "acts"), 0)
    write_trackml(ev, tmp_path / "tml")
    back = read_trackml(tmp_path / "tml", 0)
    assert back.hits["geometry_id"].dtype == np.uint64
    assert int(back.hits["geometry_id"][-1]) == GEO_C  # > 2**63 survives
    for table in ("hits", "truth"):
        for c in getattr(ev, table):
            np.testing.assert_array_equal(getattr(back, table)[c], getattr(ev, table)[c])
    np.testing.assert_array_equal(back.particles["primary"], ev.particles["primary"])


# --- the ACTS 48 flavour: raw-byte local_key, nan global positions, unbounded barcodes ----

DATA = Path(__file__).resolve().parents[1] / "data" / "acts48"


def _acts48_measurements(path: Path, keys: list[int], *, global_xyz: bool = False) -> None:
    """Rewrite a sample's measurements as ACTS 48.1 does: local_key as one raw byte."""
    head = (b"measurement_id,geometry_id,local_key,local0,local1,phi,theta,time,"
            b"var_local0,var_local1,var_phi,var_theta,var_time,global_x,global_y,global_z\n")
    rows = []
    sim = {m: SIMHITS[h] for m, h in MAP if m not in {r for r, _ in MAP[: MAP.index((m, h))]}}
    for (mid, geo), key in zip(MEASUREMENTS.items(), keys, strict=True):
        xyz = ",".join(str(v + 0.5) for v in sim[mid][2:5]) if global_xyz else "nan,nan,nan"
        rows.append(b"%d,%d," % (mid, geo) + bytes([key])
                    + b",0.1,-0.2,0,0,0,0.0001,0.0025,0,0,0," + xyz.encode() + b"\n")
    path.write_bytes(head + b"".join(rows))


@pytest.mark.parametrize("keys", [[6, 6, 6, 6, 6], [6, 44, 10, 13, 3], [6, 0, 255, 49, 6]],
                         ids=["ctrl", "comma-newline-cr", "nul-ff-digit"])
def test_local_key_written_as_a_raw_byte(tmp_path: Path, keys: list[int]) -> None:
    d = write_sample(tmp_path, spacepoints=None)
    meas = d / "event000000000-measurements.csv"
    _acts48_measurements(meas, keys)
    ev = read_acts_csv(d, 0)
    assert ev.n_hits == 5
    assert ev.hits["hit_id"].tolist() == [3, 0, 4, 1, 2]
    # global_x = nan: positions are still the sim hits'
    assert ev.hits["x"][1] == np.float32(31.0)


def test_finite_global_positions_are_the_measurement_positions(tmp_path: Path) -> None:
    d = write_sample(tmp_path, spacepoints=None)
    _acts48_measurements(d / "event000000000-measurements.csv", [6] * 5, global_xyz=True)
    ev = read_acts_csv(d, 0)
    assert ev.hits["x"][1] == np.float32(31.5)  # measured; truth stays the sim hit
    assert ev.truth["tx"][1] == np.float32(31.0)


def test_raw_byte_local_key_errors(tmp_path: Path) -> None:
    d = write_sample(tmp_path, spacepoints=None)
    meas = d / "event000000000-measurements.csv"
    _acts48_measurements(meas, [6] * 5)
    lines = meas.read_bytes().split(b"\n")
    lines[3] = lines[3].replace(b",\x06,", b",12,", 1)  # text on one row of a raw-byte file
    meas.write_bytes(b"\n".join(lines))
    with pytest.raises(ValueError, match=r"measurements.csv: column 'local_key', line 4: "
                                         r"expected one raw byte"):
        read_acts_csv(d, 0)
    _acts48_measurements(meas, [6] * 5)
    meas.write_bytes(meas.read_bytes().replace(b"nan,nan,nan\n", b"nan,inf,nan\n", 1))
    with pytest.raises(ValueError, match=r"measurements.csv: column 'global_y', line 2: inf"):
        read_acts_csv(d, 0)


def _renumber_vertices(d: Path, pv: dict[int, int]) -> None:
    """Give the primary-vertex components new values (e.g. beyond the 12-bit packing)."""
    for stem in ("particles_simulated", "hits"):
        f = d / f"event000000000-{stem}.csv"
        lines = f.read_text().splitlines()
        out = [lines[0]]
        for line in lines[1:]:
            first, rest = line.split(",", 1)
            out.append(f"{pv[int(first)]},{rest}")
        f.write_text("\n".join(out) + "\n")


def test_more_than_4095_vertices(tmp_path: Path) -> None:
    d = write_sample(tmp_path)
    _renumber_vertices(d, {1: 10_000})  # every particle of the sample is from vertex 1
    ev = read_acts_csv(d, 0)  # auto: dense ids
    parts = ev.particles
    # lexicographic order of (pv, sv, part, gen, subpart): P1 < P3 (part 1, gen 1) < P2
    assert parts["particle_id"].tolist() == [1, 3, 2]
    assert parts["particle_id_pv"].tolist() == [10_000] * 3
    assert parts["particle_id_part"].tolist() == [1, 2, 1]
    assert parts["nhits"].tolist() == [2, 1, 1]  # space-point hits
    # same truth structure as the packed sample, with the dense ids
    ref = read_acts_csv(write_sample(tmp_path / "ref"), 0)
    dense = {PID[P1]: 1, PID[P3]: 2, PID[P2]: 3}
    assert ev.truth["particle_id"].tolist() == [dense[p] for p in ref.truth["particle_id"]]
    with pytest.raises(ValueError, match=r"'particle_id_pv' = 10000 does not fit in 12 bits.*"
                                         r"particle_ids='dense'"):
        read_acts_csv(d, 0, particle_ids="packed")
    # packed ids stay available (and are the default) when everything fits
    assert read_acts_csv(tmp_path / "ref", 0, particle_ids="dense").particles[
        "particle_id"].tolist() == [1, 3, 2]
    with pytest.raises(ValueError, match="particle_ids must be"):
        read_acts_csv(d, 0, particle_ids="packd")  # type: ignore[arg-type]


def test_header_only_simhit_file_is_a_value_error(tmp_path: Path) -> None:
    d = write_sample(tmp_path)
    hits = d / "event000000000-hits.csv"
    hits.write_text(hits.read_text().splitlines()[0] + "\n")
    with pytest.raises(ValueError, match=r"map.csv: column 'hit_id' has \d+ value\(s\) outside "
                                         r"the 0 sim hits"):
        read_acts_csv(d, 0)
    mp = d / "event000000000-measurement-simhit-map.csv"
    mp.write_text("measurement_id,hit_id\n")
    ev = read_acts_csv(d, 0)  # space points, no sim hits at all: every hit is noise
    assert ev.n_hits == 4
    assert (ev.truth["particle_id"] == 0).all()
    assert ev.truth["tx"].tolist() == ev.hits["x"].tolist()
    with pytest.raises(ValueError, match="has no sim hit"):
        read_acts_csv(d, 0, hits_from="measurements")


def test_checked_in_acts48_sample() -> None:
    """Files written by ACTS 48.1 itself (scripts/make_acts_csv_sample.py, Fatras on the
    GenericDetector: 2 vertices x 2 pions): raw-byte local_key, nan global_x."""
    raw = (DATA / "event000000000-measurements.csv").read_bytes()
    assert b",\x06," in raw  # the flavour under test
    assert b"nan" in raw
    ev = read_acts_csv(DATA, 0)
    assert ev.n_hits == 43
    assert ev.particles["particle_id_pv"].tolist() == [1, 1, 2, 2]
    assert ev.particles["nhits"].tolist() == [10, 11, 10, 12]
    assert set(np.unique(ev.hits["volume_id"]).tolist()) <= {7, 8, 9, 12, 13, 14, 16, 17, 18}
    d = np.hypot(ev.hits["x"] - ev.truth["tx"], ev.hits["y"] - ev.truth["ty"])
    assert (d == 0).all()  # measurement hits sit at their sim hit (no global position)
    r = np.hypot(ev.hits["x"], ev.hits["y"])
    assert r.min() > 25
    assert r.max() < 1100


def test_pyacts_written_event_with_4200_vertices(tmp_path: Path) -> None:
    """ACTS 48 writes the files itself (pyacts); one vertex per pion, > 4,095 vertices."""
    pytest.importorskip("acts.examples")
    spec = importlib.util.spec_from_file_location(
        "make_acts_csv_sample",
        Path(__file__).resolve().parents[2] / "scripts" / "make_acts_csv_sample.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.write_acts_csv(tmp_path, vertices=4200, particles_per_vertex=1, seed=3)
    ev = read_acts_csv(tmp_path, 0)
    parts = ev.particles
    assert parts.n_rows >= 4200
    assert parts["particle_id_pv"].max() == 4200
    assert len(np.unique(parts["particle_id"])) == parts.n_rows
    assert parts["particle_id"].min() == 1  # dense numbering
    pid = ev.truth["particle_id"]
    assert (pid != 0).all()  # Fatras sim hits: no noise
    assert np.isin(pid, parts["particle_id"]).all()
    assert parts["nhits"].sum() == ev.n_hits
