"""The torch Dataset of hit features over simulated and TrackML events."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from helixkit.data import generate_events, trackml_like, write_trackml  # noqa: E402
from helixkit.nn.features import hit_features  # noqa: E402
from helixkit.graph import hits_of_interest  # noqa: E402
from helixkit.nn import HitDataset  # noqa: E402


def test_simulated_items_match_the_event_generator():
    ds = HitDataset.simulated(3, mu=5, seed=7, extra=("cluster",))
    events = list(generate_events(3, mu=5, seed=7))
    assert len(ds) == 3
    for k in (2, 0, -2):                                   # any order, negative indices
        item, ev = ds[k], events[k]
        x, rows = hit_features(ev, volumes=(7, 8, 9), extra=("cluster",))
        assert np.array_equal(item["x"].numpy(), x) and np.array_equal(item["rows"].numpy(), rows)
        assert np.array_equal(item["particle_id"].numpy(), ev.hit_particle_id[rows])
        assert np.array_equal(item["interest"].numpy(), hits_of_interest(ev)[rows])
        assert item["interest"].any() and item["event_id"] == ev.event_id
        key = ev.hits["volume_id"][rows] * 1000 + ev.hits["layer_id"][rows]
        assert np.array_equal(item["layer_key"].numpy(), key)
    # a longer dataset extends a shorter one; a DataLoader iterates events
    assert torch.equal(HitDataset.simulated(5, mu=5, seed=7, extra=("cluster",))[1]["x"],
                       ds[1]["x"])
    loader = torch.utils.data.DataLoader(ds, batch_size=2, collate_fn=HitDataset.collate)
    assert [len(b) for b in loader] == [2, 1]
    with pytest.raises(IndexError, match="out of range"):
        ds[3]


def test_trackml_directory_and_in_memory_events(tmp_path):
    events = list(generate_events(2, mu=3, seed=1, first_event_id=1000))
    for ev in events:
        write_trackml(ev, tmp_path)
    ds = HitDataset.trackml(tmp_path, geometry=trackml_like(), extra=("cells", "cluster"),
                            volumes=None, cache=True)
    mem = HitDataset(events, extra=("cells", "cluster"), volumes=None)
    assert len(ds) == len(mem) == 2
    for k in range(2):
        a, b = ds[k], mem[k]
        assert a["event_id"] == b["event_id"] == 1000 + k
        # positions are stored as float32 in TrackML files: features agree to that precision
        np.testing.assert_allclose(a["x"].numpy(), b["x"].numpy(), atol=2e-5)
        assert torch.equal(a["particle_id"], b["particle_id"])
    assert ds[0] is ds[0]                                  # cached
    assert len(HitDataset.trackml(tmp_path, event_ids=[1001])) == 1


def test_bad_input_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="events: expected a sequence of Event"):
        HitDataset(str(tmp_path))
    with pytest.raises(ValueError, match="events: item 1 is a int"):
        HitDataset([next(generate_events(1, mu=1)), 3])
    with pytest.raises(ValueError, match="extra: unknown feature group"):
        HitDataset.simulated(1, extra=("colour",))
    with pytest.raises(ValueError, match="n_events"):
        HitDataset.simulated(-1)
    with pytest.raises(ValueError, match="mu"):
        HitDataset.simulated(1, mu=float("nan"))
    with pytest.raises(ValueError, match="pt_thld"):
        HitDataset.simulated(1, pt_thld=-1.0)
    with pytest.raises(ValueError, match="unknown option"):
        HitDataset.simulated(1, volume=(7,))
    with pytest.raises(ValueError, match="holds no TrackML events"):
        HitDataset.trackml(tmp_path)
    with pytest.raises(ValueError, match="not a directory"):
        HitDataset.trackml(tmp_path / "missing")
    write_trackml(next(generate_events(1, mu=1)), tmp_path)
    with pytest.raises(ValueError, match=r"no TrackML files for event\(s\) \[7\]"):
        HitDataset.trackml(tmp_path, event_ids=[7])
    with pytest.raises(ValueError, match="no hits in the selected volumes"):
        HitDataset.simulated(1, mu=1, volumes=(99,))[0]
