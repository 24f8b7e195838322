"""The parquet event dataset (write / lazy read) and Event <-> awkward."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from helixkit.data import (
    Event,
    Table,
    parquet_event_ids,
    read_parquet_events,
    simulate_event,
    write_parquet_events,
)


@pytest.fixture(scope="module")
def events() -> list[Event]:
    return [simulate_event(mu=2, seed=s, event_id=10 + s) for s in range(3)]


def _same(a: Event, b: Event) -> None:
    assert a.event_id == b.event_id
    assert (a.cells is None) == (b.cells is None)
    for name in ("hits", "truth", "particles", "cells"):
        ta, tb = getattr(a, name), getattr(b, name)
        if ta is None:
            continue
        assert ta.columns == tb.columns, name
        for c in ta:
            assert ta[c].dtype == tb[c].dtype, (name, c)
            np.testing.assert_array_equal(ta[c], tb[c], err_msg=f"{name}.{c}")


def test_round_trip_lazily(events: list[Event], tmp_path: Path) -> None:
    ids = write_parquet_events(iter(events), tmp_path / "ds")
    assert ids == [10, 11, 12]
    assert parquet_event_ids(tmp_path / "ds") == ids
    files = sorted(p.name for p in (tmp_path / "ds").iterdir())
    assert files == ["cells.parquet", "hits.parquet", "particles.parquet", "truth.parquet"]
    for f in files:
        pf = pq.ParquetFile(tmp_path / "ds" / f)
        assert pf.metadata.num_row_groups == 3  # one row group per event
        mode = stat.S_IMODE(os.stat(tmp_path / "ds" / f).st_mode)
        umask = os.umask(0)
        os.umask(umask)
        assert mode == 0o666 & ~umask
    hits = pq.read_table(tmp_path / "ds" / "hits.parquet")
    assert hits.schema.field("x").type == pa.float32()
    assert hits.schema.field("volume_id").type == pa.int32()
    assert hits.schema.field("hit_id").type == pa.int64()
    it = read_parquet_events(tmp_path / "ds")
    first = next(it)  # lazy: one event read
    _same(first, events[0])
    for a, b in zip(it, events[1:], strict=True):
        _same(a, b)
    picked = list(read_parquet_events(tmp_path / "ds", events=[12, 10]))
    assert [e.event_id for e in picked] == [12, 10]
    _same(picked[0], events[2])


def test_pandas_and_dask_read_the_files(events: list[Event], tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    write_parquet_events(events, tmp_path)
    df = pd.read_parquet(tmp_path / "truth.parquet")
    assert len(df) == sum(e.n_hits for e in events)
    assert df.groupby("event_id").size().tolist() == [e.n_hits for e in events]


def test_bad_datasets(events: list[Event], tmp_path: Path) -> None:
    d = tmp_path / "ds"
    write_parquet_events(events, d)
    with pytest.raises(ValueError, match=r"hits.parquet: column 'event_id' has no event 99"):
        list(read_parquet_events(d, events=[10, 99]))
    with pytest.raises(TypeError, match="events must hold ints"):
        list(read_parquet_events(d, events=["10"]))
    # truncated file
    t = d / "truth.parquet"
    raw = t.read_bytes()
    t.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match=r"truth.parquet: not a readable parquet file"):
        list(read_parquet_events(d))
    t.write_bytes(raw)
    # a file with another schema (a truth table without particle_id)
    tab = pq.read_table(t).drop_columns(["particle_id"])
    pq.write_table(tab, t)
    with pytest.raises(ValueError, match=r"truth.parquet: no helixkit.event_ids metadata"):
        list(read_parquet_events(d))
    write_parquet_events(events, d)
    key = b"helixkit.event_ids"
    meta = pq.ParquetFile(t).metadata.metadata[key]

    def rewrite(table, sizes: list[int]) -> None:
        w = pq.ParquetWriter(t, table.schema)
        start = 0
        for n in sizes:  # one row group per write_table call
            w.write_table(table.slice(start, n))
            start += n
        w.add_key_value_metadata({key: meta})
        w.close()

    full = pq.read_table(t)
    rewrite(full, [full.num_rows])
    with pytest.raises(ValueError, match=r"truth.parquet: 1 row groups for 3 events"):
        list(read_parquet_events(d))
    rewrite(full.drop_columns(["particle_id"]), [e.n_hits for e in events])
    with pytest.raises(ValueError, match=r"truth.parquet: missing column\(s\) 'particle_id'"):
        list(read_parquet_events(d))
    # a row group holding another event than the metadata says
    shifted = full.set_column(0, "event_id", pa.array(np.full(full.num_rows, 11, np.int64)))
    rewrite(shifted, [e.n_hits for e in events])
    with pytest.raises(ValueError, match=r"truth.parquet: column 'event_id', row group 0: holds "
                                         r"event 11, expected 10"):
        next(read_parquet_events(d))
    with pytest.raises(ValueError, match=r"not a directory"):
        list(read_parquet_events(tmp_path / "none"))
    with pytest.raises(ValueError, match=r"hits.parquet: file not found"):
        list(read_parquet_events(tmp_path))


def test_write_rejects_inconsistent_events(events: list[Event], tmp_path: Path) -> None:
    other = Event(hits=events[1].hits.with_column("extra", np.ones(events[1].n_hits)),
                  truth=events[1].truth, particles=events[1].particles,
                  cells=events[1].cells, event_id=11)
    with pytest.raises(ValueError, match=r"events\[1\] \(event 11\) hits: columns differ"):
        write_parquet_events([events[0], other], tmp_path / "a")
    assert not (tmp_path / "a" / "hits.parquet").exists()  # nothing half-written
    assert not [p for p in (tmp_path / "a").iterdir()]
    no_truth = Event(hits=events[1].hits, cells=events[1].cells, event_id=11)
    with pytest.raises(ValueError, match=r"every event of a dataset needs the same tables"):
        write_parquet_events([events[0], no_truth], tmp_path / "b")
    with pytest.raises(ValueError, match=r"event id 10 appears twice"):
        write_parquet_events([events[0], events[0]], tmp_path / "c")
    with pytest.raises(TypeError, match=r"events\[0\] must be a helixkit.data.Event"):
        write_parquet_events([1], tmp_path / "d")
    with pytest.raises(ValueError, match="nothing to write"):
        write_parquet_events([], tmp_path / "e")
    with pytest.raises(TypeError, match="path must be a path"):
        write_parquet_events(events, 5)


def test_awkward_round_trip(events: list[Event]) -> None:
    ak = pytest.importorskip("awkward")
    ev = events[0]
    rec = ev.to_awkward()
    assert isinstance(rec, ak.Record)
    assert int(rec["event_id"]) == ev.event_id
    assert len(rec["hits"]) == ev.n_hits
    assert ak.to_numpy(rec["hits"]["x"]).dtype == np.float32
    np.testing.assert_array_equal(ak.to_numpy(rec["truth"]["particle_id"]),
                                  ev.truth["particle_id"])
    _same(Event.from_awkward(rec), ev)
    no_truth = Event(hits=ev.hits, event_id=3)
    back = Event.from_awkward(no_truth.to_awkward())
    assert back.event_id == 3
    assert not back.has_truth
    with pytest.raises(TypeError, match="record must be an awkward.Record"):
        Event.from_awkward({"hits": []})
    with pytest.raises(ValueError, match="record has no field 'hits'"):
        Event.from_awkward(ak.Record({"x": 1}))
    assert isinstance(Table({"a": [1]}), Table)
