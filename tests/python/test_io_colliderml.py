"""ColliderML parquet shards: small synthetic shards written in the Release-1 schema."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from helixkit.data import (
    ODD_VOLUMES,
    colliderml_event_ids,
    iter_colliderml,
    read_colliderml,
    read_trackml,
    write_trackml,
)

F4 = pa.float32()


def _lists(rows: list[dict], name: str, typ) -> pa.Array:
    return pa.array([r[name] for r in rows], type=pa.list_(typ))


def make_events(n_events: int = 3, seed: int = 0) -> tuple[list[dict], list[dict]]:
    """Hit and particle rows of ``n_events`` ODD-like events (EDM4hep indices from 0)."""
    rng = np.random.default_rng(seed)
    hit_rows, part_rows = [], []
    for e in range(n_events):
        n_part = 4 + e
        index = np.sort(rng.choice(50, n_part, replace=False))
        index[0] = 0  # EDM4hep index 0 is a real particle
        owner = rng.integers(0, n_part, 6 * n_part)
        vol = rng.choice([v for vs in ODD_VOLUMES.values() for v in vs], len(owner))
        x = rng.uniform(-1000, 1000, len(owner)).astype(np.float32)
        hit_rows.append({
            "event_id": 100 + e,
            "x": x.tolist(), "y": (x * 0.5).tolist(), "z": (x * 2).tolist(),
            "true_x": (x + 0.01).tolist(), "true_y": (x * 0.5).tolist(),
            "true_z": (x * 2).tolist(), "time": np.abs(x / 300).tolist(),
            "particle_id": index[owner].tolist(),
            "volume_id": vol.tolist(), "layer_id": (2 * rng.integers(1, 5, len(owner))).tolist(),
            "surface_id": rng.integers(1, 3000, len(owner)).tolist(),
            "detector": rng.integers(0, 9, len(owner)).tolist(),
        })
        part_rows.append({
            "event_id": 100 + e,
            "particle_id": index.tolist(),
            "pdg_id": rng.choice([211, -211, 13, 11], n_part).tolist(),
            "mass": [0.1396] * n_part, "energy": rng.uniform(1, 10, n_part).tolist(),
            "charge": rng.choice([-1.0, 1.0], n_part).tolist(),
            "vx": [0.0] * n_part, "vy": [0.0] * n_part, "vz": rng.normal(0, 50, n_part).tolist(),
            "time": [0.0] * n_part,
            "px": rng.normal(0, 1, n_part).tolist(), "py": rng.normal(0, 1, n_part).tolist(),
            "pz": rng.normal(0, 3, n_part).tolist(),
            "perigee_d0": [0.0] * n_part, "perigee_z0": [0.0] * n_part,
            "num_tracker_hits": [0] * n_part, "num_calo_hits": [0] * n_part,
            "primary": [True] * n_part, "vertex_primary": [1] * n_part,
            "parent_id": [-1, *index[:-1].tolist()],
        })
    return hit_rows, part_rows


HIT_TYPES = {"x": F4, "y": F4, "z": F4, "true_x": F4, "true_y": F4, "true_z": F4, "time": F4,
             "particle_id": pa.uint64(), "volume_id": pa.uint8(), "layer_id": pa.uint16(),
             "surface_id": pa.uint32(), "detector": pa.uint8()}
PART_TYPES = {"particle_id": pa.uint64(), "pdg_id": pa.int64(), "mass": F4, "energy": F4,
              "charge": F4, "vx": F4, "vy": F4, "vz": F4, "time": F4, "px": F4, "py": F4,
              "pz": F4, "perigee_d0": F4, "perigee_z0": F4, "num_tracker_hits": pa.uint16(),
              "num_calo_hits": pa.uint16(), "primary": pa.bool_(),
              "vertex_primary": pa.uint16(), "parent_id": pa.int64()}


def write_shard(path: Path, rows: list[dict], types: dict, *, row_group_size: int = 2) -> Path:
    cols = {"event_id": pa.array([r["event_id"] for r in rows], type=pa.uint32())}
    cols.update({name: _lists(rows, name, typ) for name, typ in types.items()})
    pq.write_table(pa.table(cols), path, row_group_size=row_group_size)
    return path


@pytest.fixture
def shards(tmp_path: Path) -> tuple[Path, Path, list[dict], list[dict]]:
    hits, parts = make_events()
    h = write_shard(tmp_path / "ttbar_pu0_tracker_hits.parquet", hits, HIT_TYPES)
    p = write_shard(tmp_path / "ttbar_pu0_particles.parquet", parts, PART_TYPES)
    return h, p, hits, parts


def test_read_one_event(shards) -> None:
    h, p, hits, parts = shards
    ev = read_colliderml(h, p, event=101)
    row, prow = hits[1], parts[1]
    assert ev.event_id == 101
    n = len(row["x"])
    assert ev.hits["hit_id"].tolist() == list(range(n))  # position in the event's lists
    np.testing.assert_array_equal(ev.hits["x"], np.float32(row["x"]))
    assert ev.hits["module_id"].tolist() == row["surface_id"]
    assert ev.hits["volume_id"].dtype == np.int32
    assert ev.hits["detector"].tolist() == row["detector"]
    np.testing.assert_array_equal(ev.truth["tx"], np.float32(row["true_x"]))
    # EDM4hep index 0 is a real particle: helixkit ids are index + 1
    assert ev.truth["particle_id"].tolist() == [i + 1 for i in row["particle_id"]]
    assert (ev.truth["particle_id"] != 0).all()
    assert ev.particles["particle_id"].tolist() == [i + 1 for i in prow["particle_id"]]
    assert ev.particles["edm4hep_index"].tolist() == prow["particle_id"]
    assert ev.particles["edm4hep_index"][0] == 0
    assert ev.particles["parent_id"].tolist() == [0, *[i + 1 for i in prow["particle_id"][:-1]]]
    assert ev.particles["q"].dtype == np.int32
    counts = {i + 1: row["particle_id"].count(i) for i in prow["particle_id"]}
    assert ev.particles["nhits"].tolist() == [counts[k] for k in ev.particles["particle_id"]]
    # tp* = the particle's momentum (no momentum at the hit in ColliderML)
    k = ev.particles["particle_id"].tolist().index(ev.truth["particle_id"][0])
    assert ev.truth["tpx"][0] == ev.particles["px"][k]
    np.testing.assert_allclose(ev.truth["weight"].sum(), 1.0, rtol=1e-5)


def test_iterate_and_list_events(shards, tmp_path: Path) -> None:
    h, p, hits, _ = shards
    assert colliderml_event_ids(h) == [100, 101, 102]
    evs = list(iter_colliderml(h, p))
    assert [e.event_id for e in evs] == [100, 101, 102]
    assert [e.n_hits for e in evs] == [len(r["x"]) for r in hits]
    picked = list(iter_colliderml(h, events=[102, 100]))
    assert [e.event_id for e in picked] == [102, 100]
    assert picked[0].particles.n_rows == 0  # no particle shard
    assert np.isnan(picked[0].truth["tpx"]).all()
    with pytest.raises(ValueError, match=r"column 'event_id' has no event 7 \(3 events"):
        list(iter_colliderml(h, events=[100, 7]))
    # the event round-trips through TrackML CSV
    write_trackml(evs[2], tmp_path / "tml")
    back = read_trackml(tmp_path / "tml", 102)
    np.testing.assert_array_equal(back.truth["particle_id"], evs[2].truth["particle_id"])


def test_single_event_shard_needs_no_event(tmp_path: Path) -> None:
    hits, _ = make_events(1)
    h = write_shard(tmp_path / "h.parquet", hits, HIT_TYPES)
    assert read_colliderml(h).event_id == 100
    hits, _ = make_events(2)
    h2 = write_shard(tmp_path / "h2.parquet", hits, HIT_TYPES)
    with pytest.raises(ValueError, match="holds 2 events; pass event="):
        read_colliderml(h2)
    with pytest.raises(TypeError, match="event must be an int"):
        read_colliderml(h2, event="100")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="tracker_hits must be a path"):
        read_colliderml(3)  # type: ignore[arg-type]


def test_bad_shards(shards, tmp_path: Path) -> None:
    h, p, hits, parts = shards
    with pytest.raises(ValueError, match=r"column 'event_id' has no event 5 \(3 events"):
        read_colliderml(h, p, event=5)
    with pytest.raises(ValueError, match="file not found"):
        read_colliderml(tmp_path / "nope.parquet", event=100)
    # truncated file
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(h.read_bytes()[: h.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"cut.parquet: not a readable parquet file"):
        read_colliderml(cut, event=100)
    # a shard of another table / another schema
    with pytest.raises(ValueError, match=r"particles.parquet: missing column\(s\) 'layer_id'"):
        read_colliderml(p, event=100)
    types = dict(HIT_TYPES, layer_id=pa.string())
    bad_rows = [dict(r, layer_id=[str(v) for v in r["layer_id"]]) for r in hits]
    bad = write_shard(tmp_path / "str.parquet", bad_rows, types)
    with pytest.raises(ValueError, match=r"str.parquet: column 'layer_id' has type list<[a-z]+: "
                                         r"string>, expected a list of int or uint"):
        read_colliderml(bad, event=100)
    # lists of different lengths in one event
    short = [dict(r) for r in hits]
    short[1]["y"] = short[1]["y"][:-1]
    sh = write_shard(tmp_path / "short.parquet", short, HIT_TYPES)
    with pytest.raises(ValueError, match=r"short.parquet: column 'y', row 1 \(event 101\): "
                                         r"\d+ values, but column 'x' has"):
        read_colliderml(sh, event=101)
    evs = iter_colliderml(sh)
    assert next(evs).event_id == 100  # the good event before it
    with pytest.raises(ValueError, match=r"column 'y', row 1"):
        next(evs)
    # a hit of a particle the particle shard lacks
    lost = [dict(r) for r in parts]
    lost[0]["particle_id"] = lost[0]["particle_id"][1:]
    for c in PART_TYPES:
        if c != "particle_id":
            lost[0][c] = lost[0][c][1:]
    lp = write_shard(tmp_path / "lost.parquet", lost, PART_TYPES)
    with pytest.raises(ValueError, match=r"tracker_hits.parquet: column 'particle_id', row 0 "
                                         r"\(event 100\): hit \d+ belongs to particle index 0, "
                                         r"which is not in .*lost.parquet"):
        read_colliderml(h, lp, event=100)
    # NaN, null and non-integer charge
    nan = [dict(r) for r in hits]
    nan[2]["z"] = [float("nan"), *nan[2]["z"][1:]]
    nh = write_shard(tmp_path / "nan.parquet", nan, HIT_TYPES)
    with pytest.raises(ValueError, match=r"column 'z', row 2 \(event 102\): value 0 is nan"):
        read_colliderml(nh, event=102)
    null = [dict(r) for r in hits]
    null[0]["x"] = None
    nl = write_shard(tmp_path / "null.parquet", null, HIT_TYPES)
    with pytest.raises(ValueError, match=r"column 'x', row 0 \(event 100\): null list"):
        read_colliderml(nl, event=100)
    frac = [dict(r) for r in parts]
    frac[1]["charge"] = [0.5, *frac[1]["charge"][1:]]
    fp = write_shard(tmp_path / "frac.parquet", frac, PART_TYPES)
    with pytest.raises(ValueError, match=r"column 'charge', row 1: non-integer charge 0.5"):
        read_colliderml(h, fp, event=101)
    dup = [dict(r) for r in hits]
    dup[2]["event_id"] = 100
    dh = write_shard(tmp_path / "dup.parquet", dup, HIT_TYPES)
    with pytest.raises(ValueError, match=r"column 'event_id', row 2: event id 100 is repeated"):
        read_colliderml(dh, event=100)
