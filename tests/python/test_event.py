from __future__ import annotations

import numpy as np
import pytest

from helixkit.data import Event, Geometry, Layer, Table, trackml_like
from helixkit import units as u


def _tiny_event() -> Event:
    hits = Table(
        {
            "hit_id": np.arange(1, 7),
            "x": np.array([30, 70, 110, -30, -70, 1], dtype=np.float32),
            "y": np.array([1, 2, 3, -1, -2, 0], dtype=np.float32),
            "z": np.array([5, 10, 15, -5, -10, 0], dtype=np.float32),
            "volume_id": np.array([8, 8, 8, 8, 8, 9], dtype=np.int32),
            "layer_id": np.array([2, 4, 6, 2, 4, 2], dtype=np.int32),
            "module_id": np.ones(6, dtype=np.int32),
        }
    )
    truth = Table(
        {
            "hit_id": np.arange(1, 7),
            "particle_id": np.array([11, 11, 11, 22, 22, 0]),
            "weight": np.full(6, 1 / 5, dtype=np.float32),
        }
    )
    particles = Table(
        {
            "particle_id": np.array([11, 22]),
            "px": np.array([1.0, -0.5], dtype=np.float32),
            "py": np.array([0.0, 0.0], dtype=np.float32),
            "pz": np.array([0.1, -0.1], dtype=np.float32),
        }
    )
    return Event(hits=hits, truth=truth, particles=particles, event_id=7)


def test_table_rejects_ragged_and_nd_columns():
    with pytest.raises(ValueError, match="column 'b' has 2 rows"):
        Table({"a": np.zeros(3), "b": np.zeros(2)})
    with pytest.raises(ValueError, match="must be 1-D"):
        Table({"a": np.zeros((3, 2))})


def test_table_slicing_and_pandas():
    t = Table({"a": np.arange(5), "b": np.arange(5) * 2.0})
    s = t.take(np.array([4, 0]))
    assert s["a"].tolist() == [4, 0]
    assert t.mask(t["a"] > 2).n_rows == 2
    with pytest.raises(KeyError, match="no column 'c'"):
        t["c"]
    pd = pytest.importorskip("pandas")
    df = t.to_pandas()
    assert isinstance(df, pd.DataFrame)
    assert df["b"].tolist() == [0, 2, 4, 6, 8]


def test_event_slices_keep_truth_aligned():
    ev = _tiny_event()
    barrel = ev.volume(8)
    assert barrel.n_hits == 5
    assert barrel.truth["particle_id"].tolist() == [11, 11, 11, 22, 22]
    lay = ev.layer(8, 4)
    assert lay.hits["hit_id"].tolist() == [2, 5]
    assert lay.hit_particle_id.tolist() == [11, 22]
    assert ev.particle_hits(22).tolist() == [3, 4]
    pids, offsets, order = ev.hits_by_particle()
    assert pids.tolist() == [11, 22]
    assert [order[offsets[k] : offsets[k + 1]].tolist() for k in range(2)] == [[0, 1, 2], [3, 4]]
    assert ev.summary()["noise_hits"] == 1


def test_event_rejects_misaligned_truth():
    ev = _tiny_event()
    bad = ev.truth.take(np.array([1, 0, 2, 3, 4, 5]))
    with pytest.raises(ValueError, match="not aligned"):
        Event(hits=ev.hits, truth=bad)
    with pytest.raises(ValueError, match="truth has 2 rows"):
        Event(hits=ev.hits, truth=ev.truth.take(slice(0, 2)))


def test_default_geometry_matches_trackml_layout():
    geo = trackml_like()
    arr = geo.arrays()
    pix_barrel = arr["position"][(arr["volume_id"] == 8)]
    assert pix_barrel.tolist() == [32.0, 72.0, 116.0, 172.0]
    assert sorted(np.unique(arr["volume_id"]).tolist()) == [7, 8, 9, 12, 13, 14, 16, 17, 18]
    assert geo.b_field_z == pytest.approx(2 * u.T)
    idx = geo.layer_indices(np.array([8, 9, 99]), np.array([4, 2, 2]))
    assert idx[0] == geo.index(8, 4)
    assert idx[1] == geo.index(9, 2)
    assert idx[2] == -1
    assert geo.with_material(0).arrays()["thickness_x0"].max() == 0


def test_geometry_validation_names_the_field():
    with pytest.raises(ValueError, match="b_field_z"):
        Geometry([Layer(8, 2, "barrel", 30.0, (-100.0, 100.0), (0.01, 0.01))], b_field_z=2.0)
    with pytest.raises(ValueError, match="resolution"):
        Geometry([Layer(8, 2, "barrel", 30.0, (-100.0, 100.0), (0.0, 0.01))])
    with pytest.raises(ValueError, match="duplicate"):
        lay = Layer(8, 2, "barrel", 30.0, (-100.0, 100.0), (0.01, 0.01))
        Geometry([lay, lay])
