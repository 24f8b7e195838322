from __future__ import annotations

import contextlib
import gzip
import os
from pathlib import Path

import numpy as np
import pytest

from helixkit.data import (
    Event,
    Table,
    _csv,
    list_trackml_events,
    read_trackml,
    simulate_event,
    write_trackml,
)
from helixkit.data.event import CELL_COLUMNS, HIT_COLUMNS, PARTICLE_COLUMNS, TRUTH_COLUMNS
from helixkit.data.trackml import check_truth_particles


def _random_f32(rng: np.random.Generator, n: int) -> np.ndarray:
    """Finite float32 values from random bit patterns (all exponents, subnormals, -0.0)."""
    bits = rng.integers(0, 2**32, size=4 * n, dtype=np.uint64).astype(np.uint32)
    vals = bits.view(np.float32)
    vals = vals[np.isfinite(vals)][:n]
    vals[:4] = [-0.0, np.float32(1e-45), np.finfo(np.float32).max, np.float32(0.1)]
    return vals


def make_event(seed: int = 0, n_hits: int = 400, n_particles: int = 50, cells: bool = True) -> Event:
    rng = np.random.default_rng(seed)
    pids = np.unique(rng.integers(1, 2**62, size=2 * n_particles))[:n_particles]
    pids = rng.permutation(pids)
    hit_id = rng.permutation(np.arange(1, n_hits + 1, dtype=np.int64))
    hit_pid = np.where(rng.random(n_hits) < 0.2, 0, pids[rng.integers(0, n_particles, n_hits)])

    def col(dtype, n):
        if np.dtype(dtype) == np.float32:
            return _random_f32(rng, n)
        return rng.integers(-(2**30), 2**30, n).astype(dtype)

    hits = {k: col(t, n_hits) for k, t in HIT_COLUMNS.items()}
    hits["hit_id"] = hit_id
    truth = {k: col(t, n_hits) for k, t in TRUTH_COLUMNS.items()}
    truth["hit_id"] = hit_id
    truth["particle_id"] = hit_pid
    parts = {k: col(t, n_particles) for k, t in PARTICLE_COLUMNS.items()}
    parts["particle_id"] = pids
    parts["primary"] = rng.random(n_particles) < 0.5
    cell_table = None
    if cells:
        n_cells = 3 * n_hits
        c = {k: col(t, n_cells) for k, t in CELL_COLUMNS.items()}
        c["hit_id"] = hit_id[rng.integers(0, n_hits, n_cells)]
        cell_table = Table(c)
    return Event(
        hits=Table(hits),
        truth=Table(truth),
        particles=Table(parts),
        cells=cell_table,
        event_id=1000,
    )


def assert_tables_identical(a: Table, b: Table) -> None:
    assert a.columns == b.columns
    for name in a:
        assert a[name].dtype == b[name].dtype, name
        assert a[name].tobytes() == b[name].tobytes(), name


@pytest.mark.parametrize("compress", [False, True])
def test_round_trip_is_bit_exact(tmp_path: Path, compress: bool) -> None:
    event = make_event()
    written = write_trackml(event, tmp_path, compress=compress)
    ext = ".csv.gz" if compress else ".csv"
    assert sorted(written) == ["cells", "hits", "particles", "truth"]
    assert all(p.name.endswith(ext) for p in written.values())
    back = read_trackml(tmp_path / "event000001000")
    assert back.event_id == 1000
    for name in ("hits", "truth", "particles", "cells"):
        assert_tables_identical(getattr(event, name), getattr(back, name))
    if compress:
        with gzip.open(written["hits"], "rt") as fh:
            assert fh.readline().strip() == "hit_id,x,y,z,volume_id,layer_id,module_id"


def test_read_by_directory_and_event_id(tmp_path: Path) -> None:
    event = make_event(cells=False)
    write_trackml(event, tmp_path)
    a = read_trackml(tmp_path, 1000)
    b = read_trackml(tmp_path)  # the only event in the directory
    assert a.cells is None
    assert_tables_identical(a.hits, b.hits)
    assert list_trackml_events(tmp_path) == [1000]
    no_cells = read_trackml(tmp_path, 1000, cells=False)
    assert no_cells.cells is None
    with pytest.raises(ValueError, match="contradicts"):
        read_trackml(tmp_path / "event000001000", 7)


def test_list_events_and_choice_required(tmp_path: Path) -> None:
    for eid in (12, 3):
        ev = make_event(cells=False)
        ev.event_id = eid
        write_trackml(ev, tmp_path, compress=eid == 3)
    (tmp_path / "event000000099-truth.csv").write_text("x\n")  # no hits: not an event
    (tmp_path / "notes.txt").write_text("hello")
    assert list_trackml_events(tmp_path) == [3, 12]
    with pytest.raises(ValueError, match="holds 2 events"):
        read_trackml(tmp_path)
    assert read_trackml(tmp_path, 3).event_id == 3


def test_handwritten_files_are_parsed_and_truth_is_aligned(tmp_path: Path) -> None:
    (tmp_path / "event000000005-hits.csv").write_text(
        "hit_id,x,y,z,volume_id,layer_id,module_id\r\n"
        "1,-64.4099,-7.1637,-1502.5,7,2,1\r\n"
        "2,-55.3361,0.635342,-1502.5,7,2,1\r\n"
        "3,-83.8305,-1.14301,-1502.5,7,2,1\r\n"
    )
    # truth in another order and with columns permuted
    (tmp_path / "event000000005-truth.csv").write_text(
        "hit_id,tx,particle_id,ty,tz,tpx,tpy,tpz,weight\n"
        "3,-83.8,0,-1.1,-1502.5,0,0,0,0\n"
        "1,-64.4,22525763437723648,-7.2,-1502.5,-0.25,-0.03,-3.7,0.000100\n"
        "2,-55.3,4503599627370496,0.6,-1502.5,-0.16,0.01,-4.3,0.00009\n"
    )
    (tmp_path / "event000000005-particles.csv").write_text(
        "particle_id,vx,vy,vz,px,py,pz,q,nhits,particle_type\n"
        "4503599627370496,-0.009,0.009,-0.38,-0.16,0.01,-4.3,1,10,211\n"
        "22525763437723648,-0.01,0.004,-6.3,-0.25,-0.03,-3.7,-1,12,-211\n"
    )
    ev = read_trackml(tmp_path, 5)
    assert ev.hits["x"].dtype == np.float32
    assert ev.hits["x"][0] == np.float32(-64.4099)
    assert ev.hits["volume_id"].dtype == np.int32
    np.testing.assert_array_equal(ev.truth["hit_id"], [1, 2, 3])
    np.testing.assert_array_equal(
        ev.truth["particle_id"], [22525763437723648, 4503599627370496, 0]
    )
    assert ev.truth["tx"][1] == np.float32(-55.3)
    assert ev.particles["particle_type"].tolist() == [211, -211]
    assert ev.particles["q"].tolist() == [1, -1]


def test_event_without_truth(tmp_path: Path) -> None:
    event = make_event(cells=False)
    no_truth = Event(hits=event.hits, event_id=4)
    write_trackml(no_truth, tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["event000000004-hits.csv"]
    back = read_trackml(tmp_path, 4)
    assert not back.has_truth
    with pytest.raises(ValueError, match="truth.csv: file not found"):
        read_trackml(tmp_path, 4, truth=True)
    write_trackml(event, tmp_path)
    assert read_trackml(tmp_path, 1000, truth=False).truth.n_rows == 0


def test_writer_replaces_stale_twins(tmp_path: Path) -> None:
    event = make_event()
    write_trackml(event, tmp_path)
    write_trackml(event, tmp_path, compress=True)
    assert sorted(os.listdir(tmp_path)) == sorted(
        f"event000001000-{t}.csv.gz" for t in ("hits", "truth", "particles", "cells")
    )
    no_cells = Event(
        hits=event.hits, truth=event.truth, particles=event.particles, event_id=1000
    )
    write_trackml(no_cells, tmp_path)
    assert "event000001000-cells.csv.gz" not in os.listdir(tmp_path)
    assert read_trackml(tmp_path, 1000).cells is None


def test_write_is_atomic_on_bad_data(tmp_path: Path) -> None:
    event = make_event(cells=False)
    write_trackml(event, tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    parts = dict(event.particles)
    parts["px"] = parts["px"].copy()
    parts["px"][3] = np.nan  # particles are formatted after hits and truth
    bad = Event(hits=event.hits, truth=event.truth, particles=Table(parts), event_id=1000)
    with pytest.raises(ValueError, match=r"particles: column 'px' has a non-finite value"):
        write_trackml(bad, tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_write_is_atomic_on_io_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    event = make_event()
    out = tmp_path / "out"

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(_csv.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_trackml(event, out)
    assert os.listdir(out) == []  # no partial or temporary file left behind


def test_write_rejects_bad_events(tmp_path: Path) -> None:
    event = make_event(cells=False)
    hits = dict(event.hits)
    hits["volume_id"] = hits["volume_id"].astype(np.int64) + 2**40
    with pytest.raises(ValueError, match="'volume_id' has values outside the int32 range"):
        write_trackml(Event(hits=Table(hits)), tmp_path)
    empty = Event(hits=Table({k: np.zeros(0, t) for k, t in HIT_COLUMNS.items()}))
    with pytest.raises(ValueError, match="empty event"):
        write_trackml(empty, tmp_path)
    assert os.listdir(tmp_path) == []


# --- corrupt and inconsistent files -------------------------------------------


@pytest.fixture
def event_dir(tmp_path: Path) -> Path:
    write_trackml(make_event(n_hits=20, n_particles=5), tmp_path)
    return tmp_path


def _edit(path: Path, fn) -> None:
    lines = path.read_text().splitlines()
    path.write_text("\n".join(fn(lines)) + "\n")


def _set_field(lines: list[str], row: int, col: str, value: str) -> list[str]:
    names = lines[0].split(",")
    fields = lines[row].split(",")
    fields[names.index(col)] = value
    lines[row] = ",".join(fields)
    return lines


HITS = "event000001000-hits.csv"
TRUTH = "event000001000-truth.csv"
PARTS = "event000001000-particles.csv"
CELLS = "event000001000-cells.csv"


@pytest.mark.parametrize(
    ("name", "edit", "pattern"),
    [
        (HITS, lambda ls: _set_field(ls, 2, "x", "abc"), r"hits.csv: column 'x', line 3: 'abc' is not a number"),
        (HITS, lambda ls: _set_field(ls, 4, "layer_id", "2.5"), r"hits.csv: column 'layer_id', line 5: '2.5' is not an integer"),
        (HITS, lambda ls: _set_field(ls, 1, "y", ""), r"hits.csv: column 'y', line 2: empty value"),
        (HITS, lambda ls: _set_field(ls, 1, "z", "nan"), r"hits.csv: column 'z', line 2: nan is not finite"),
        (HITS, lambda ls: _set_field(ls, 1, "z", "1e39"), r"hits.csv: column 'z', line 2: 1e\+39 overflows float32"),
        (HITS, lambda ls: _set_field(ls, 3, "volume_id", "3000000000"), r"hits.csv: column 'volume_id', line 4: 3000000000 does not fit in int32"),
        (HITS, lambda ls: [*ls[:3], ls[3] + ",7", *ls[4:]], r"hits.csv: line 4 has 8 fields but the header has 7"),
        (HITS, lambda ls: [*ls[:3], ls[3].rsplit(",", 1)[0], *ls[4:]], r"hits.csv: line 4 has 6 fields"),
        (HITS, lambda ls: [ls[0].replace(",z", ",zz"), *ls[1:]], r"hits.csv: missing required column\(s\) 'z'"),
        (HITS, lambda ls: [ls[0].replace(",z", ",x"), *ls[1:]], r"hits.csv: column 'x' appears more than once"),
        (HITS, lambda ls: [*ls, ls[5]], r"hits.csv: column 'hit_id' has duplicate values"),
        (HITS, lambda ls: ls[:1], r"hits.csv: empty event \(no hits\)"),
        (TRUTH, lambda ls: _set_field(ls, 2, "hit_id", "999999"), r"truth.csv: column 'hit_id' has 1 value\(s\) not in hits \(first: 999999\)"),
        (TRUTH, lambda ls: ls[:-2], r"truth.csv: column 'hit_id' misses 2 of the hits"),
        (TRUTH, lambda ls: [*ls, ls[1]], r"truth.csv: column 'hit_id' has duplicate values"),
        (TRUTH, lambda ls: _set_field(ls, 1, "particle_id", "123"), r"truth.csv: column 'particle_id' refers to 1 particle\(s\) missing from the particles table \(first: 123\)"),
        (TRUTH, lambda ls: _set_field(ls, 1, "particle_id", "9223372036854775808"), r"truth.csv: column 'particle_id', line 2: 9223372036854775808 does not fit in int64"),
        (PARTS, lambda ls: [*ls, ls[1]], r"particles.csv: column 'particle_id' has duplicate values"),
        (PARTS, lambda ls: _set_field(ls, 1, "primary", "maybe"), r"particles.csv: column 'primary', line 2: 'maybe' is not a boolean"),
        (PARTS, lambda ls: [ls[0].replace("nhits", "n_hits"), *ls[1:]], r"particles.csv: missing required column\(s\) 'nhits'"),
        (CELLS, lambda ls: _set_field(ls, 1, "hit_id", "-5"), r"cells.csv: column 'hit_id' has 1 value\(s\) not in hits \(first: -5\)"),
        (CELLS, lambda ls: _set_field(ls, 1, "value", "0x12"), r"cells.csv: column 'value', line 2: '0x12' is not a number"),
    ],
)
@pytest.mark.parametrize("parser", ["native", "arrow", "numpy"])
def test_corrupt_files_raise_value_error(event_dir: Path, name: str, edit, pattern: str,
                                         parser: str, monkeypatch) -> None:
    """The same message whichever parser reads first (C++, pyarrow or numpy)."""
    _edit(event_dir / name, edit)
    with _parser(monkeypatch, parser), pytest.raises(ValueError, match=pattern):
        read_trackml(event_dir, 1000)


def test_extra_columns_keep_values(event_dir: Path) -> None:
    def add(ls):
        ls[0] += ",charge_frac,big"
        for i in range(1, len(ls)):
            ls[i] += f",{i}.5,{2**64 - i}"
        return ls

    _edit(event_dir / HITS, add)
    ev = read_trackml(event_dir, 1000)
    assert ev.hits["charge_frac"].dtype == np.float64
    assert ev.hits["charge_frac"][0] == 1.5
    assert ev.hits["big"].dtype == np.uint64
    assert int(ev.hits["big"][0]) == 2**64 - 1

    _edit(event_dir / HITS, lambda ls: _set_field(ls, 2, "charge_frac", "x1"))
    with pytest.raises(ValueError, match=r"hits.csv: column 'charge_frac', line 3: 'x1' is not a number"):
        read_trackml(event_dir, 1000)


def test_missing_and_unreadable_files(event_dir: Path) -> None:
    (event_dir / PARTS).unlink()
    with pytest.raises(ValueError, match=r"particles.csv: file not found"):
        read_trackml(event_dir, 1000)
    with pytest.raises(ValueError, match=r"event000000007-hits.csv: file not found"):
        read_trackml(event_dir, 7)
    (event_dir / HITS).write_bytes(b"")
    with pytest.raises(ValueError, match=r"hits.csv: empty file \(no header line\)"):
        read_trackml(event_dir, 1000, truth=False)
    (event_dir / HITS).write_bytes(b"hit_id,x,y,z,volume_id,layer_id,module_id\n1,\xff,2,3,7,2,1\n")
    with pytest.raises(ValueError, match=r"hits.csv: not UTF-8 text"):
        read_trackml(event_dir, 1000, truth=False)
    (event_dir / HITS).unlink()
    (event_dir / (HITS + ".gz")).write_bytes(b"\x1f\x8b\x08garbage")
    with pytest.raises(ValueError, match=r"hits.csv.gz: not a valid gzip file"):
        read_trackml(event_dir, 1000, truth=False)
    (event_dir / HITS).write_text("hit_id\n1\n")
    with pytest.raises(ValueError, match=r"both event000001000-hits.csv and event000001000-hits.csv.gz"):
        read_trackml(event_dir, 1000)
    with pytest.raises(ValueError, match="expected a directory"):
        read_trackml(event_dir / "run1")
    with pytest.raises(ValueError, match="not a directory"):
        list_trackml_events(event_dir / "nope")


def test_unknown_float32_extra_column_keeps_its_value(tmp_path: Path) -> None:
    event = make_event(cells=False)
    extra = np.array(np.linspace(0.01, 7.3, event.n_hits), dtype=np.float32)
    ev = Event(hits=event.hits.with_column("charge", extra), truth=event.truth,
               particles=event.particles, event_id=1000)
    write_trackml(ev, tmp_path)
    back = read_trackml(tmp_path, 1000)
    assert back.hits["charge"].dtype == np.float64  # unknown columns come back as float64
    np.testing.assert_array_equal(back.hits["charge"], extra.astype(np.float64))


@contextlib.contextmanager
def _parser(monkeypatch, parser: str):
    """Read with ``parser`` first: "native" (the default), "arrow" or "numpy"."""
    with monkeypatch.context() as m:
        if parser == "native":
            m.delenv("HELIXKIT_CSV_PARSER", raising=False)
        else:
            if parser == "arrow":
                pytest.importorskip("pyarrow")
            m.setenv("HELIXKIT_CSV_PARSER", parser)
        _csv._arrow_csv.cache_clear()
        try:
            yield
        finally:
            _csv._arrow_csv.cache_clear()
    _csv._arrow_csv.cache_clear()


def _read_with(monkeypatch, parser: str, *args):
    with _parser(monkeypatch, parser):
        return read_trackml(*args)


@pytest.mark.parametrize("extras", [False, True])
def test_native_arrow_and_numpy_parsers_agree(tmp_path, monkeypatch, extras: bool) -> None:
    """read_csv's three parsers (C++, pyarrow when installed, numpy.loadtxt) give the same
    columns: random float32 bit patterns (subnormals, -0.0, extremes), 62-bit ids, booleans,
    and (extras) unknown columns, which the C++ parser leaves to pyarrow."""
    pytest.importorskip("pyarrow")
    if extras:
        ev = simulate_event(mu=5, seed=4, event_id=1000)
        ev = Event(hits=ev.hits.with_column("big", np.full(ev.n_hits, 2**64 - 1, np.uint64))
                   .with_column("f", np.linspace(0, 1, ev.n_hits)), truth=ev.truth,
                   particles=ev.particles, event_id=1000)
    else:
        ev = make_event(seed=9, n_hits=3000, n_particles=300)
    write_trackml(ev, tmp_path)
    native, arrow, slow = (_read_with(monkeypatch, p, tmp_path, 1000)
                           for p in ("native", "arrow", "numpy"))
    for name in ("hits", "truth", "particles", *(() if extras else ("cells",))):
        for other in (arrow, slow):
            assert_tables_identical(getattr(native, name), getattr(other, name))
    if extras:
        assert native.hits["big"].dtype == np.uint64
    else:
        assert_tables_identical(native.hits, ev.hits)  # and the round trip is bit-exact


def test_native_parser_reads_the_usual_files(tmp_path, monkeypatch) -> None:
    """A TrackML event written by helixkit is parsed by the C++ parser alone."""
    write_trackml(make_event(n_hits=500, n_particles=40), tmp_path)
    calls = []
    real = _csv._core.parse_numeric_csv

    class Core:
        @staticmethod
        def parse_numeric_csv(*args):
            out = real(*args)
            calls.append(out is not None)
            return out

    def no_arrow(*args):
        raise AssertionError("pyarrow was asked")

    monkeypatch.setattr(_csv, "_core", Core)
    monkeypatch.setattr(_csv, "_parse_arrow", no_arrow)
    ev = read_trackml(tmp_path, 1000)
    assert calls == [True, True, True, True]  # hits, truth, particles, cells
    assert ev.n_hits == 500
    assert ev.particles["primary"].dtype == np.bool_


#: fields a user's file may hold in place of a clean number; the C++ parser refuses the odd
#: ones (spaces, '+', quotes, bad digits ...) and the next parser decides
ODD_FIELDS = ["", " 7", "7 ", "+7", "-0", "007", "1e3", "1E-3", ".5", "5.", "-.5e-2", "nan",
              "NaN", "inf", "-inf", "1e39", "1e-50", "0x10", "true", "TRUE", "0", "1",
              "2147483648", "-2147483649", "9223372036854775808", "1.5", "\t3", '"3"', "3\r",
              "1,2", "3.4028235e38", "3.4028236e38", "1.401298e-45"]


@pytest.mark.parametrize("table", ["hits", "particles"])
def test_odd_fields_read_the_same_whichever_parser_starts(tmp_path, monkeypatch, table) -> None:
    """Each odd field in each column kind (int32, int64, float32, bool): the result, or the
    error message, is the same with the C++ parser first as with pyarrow first (the order
    before the C++ parser); where the C++ parser accepts the text, numpy reads the same."""
    pytest.importorskip("pyarrow")
    ev = make_event(seed=3, n_hits=30, n_particles=6, cells=False)
    cols = {"hits": ("hit_id", "x", "volume_id"),
            "particles": ("particle_id", "px", "q", "primary")}[table]
    path = tmp_path / f"event000001000-{table}.csv"
    n_accepted = 0
    for col in cols:
        for value in ODD_FIELDS:
            write_trackml(ev, tmp_path)
            _edit(path, lambda ls, col=col, value=value: _set_field(ls, 2, col, value))
            raw = path.read_bytes()
            names = raw.split(b"\n", 1)[0].decode().split(",")
            schema = {**PARTICLE_COLUMNS, "primary": np.bool_} if table == "particles" else HIT_COLUMNS
            accepted = _csv._core.parse_numeric_csv(
                raw, raw.index(b"\n") + 1, [_csv._NATIVE_TYPES[np.dtype(schema[n])] for n in names],
                [False] * len(names)) is not None
            outcome = {}
            for parser in ("native", "arrow", "numpy"):
                try:
                    got = _read_with(monkeypatch, parser, tmp_path, 1000)
                    outcome[parser] = getattr(got, table)[col].tobytes()
                except ValueError as exc:
                    outcome[parser] = str(exc)
            assert outcome["native"] == outcome["arrow"], (col, value, outcome)
            if accepted:
                assert outcome["native"] == outcome["numpy"], (col, value, outcome)
                n_accepted += 1
    assert n_accepted >= 3 * len(cols)  # "007", "-0", "1" ... are read natively


@pytest.mark.parametrize("layout", ["crlf", "blank_lines", "no_final_newline", "bom"])
def test_line_layouts_read_the_same_whichever_parser_starts(tmp_path, monkeypatch, layout):
    ev = make_event(seed=5, n_hits=40, n_particles=8, cells=False)
    write_trackml(ev, tmp_path)
    for name in ("hits", "truth", "particles"):
        p = tmp_path / f"event000001000-{name}.csv"
        raw = p.read_bytes()
        if layout == "crlf":
            raw = raw.replace(b"\n", b"\r\n")
        elif layout == "blank_lines":
            lines = raw.split(b"\n")
            raw = b"\n".join([lines[0], b"", *lines[1:4], b"\r", b"", *lines[4:]])
        elif layout == "no_final_newline":
            raw = raw.rstrip(b"\n")
        else:
            raw = b"\xef\xbb\xbf" + raw
        p.write_bytes(raw)
    reads = [_read_with(monkeypatch, parser, tmp_path, 1000)
             for parser in ("native", "arrow", "numpy")]
    for name in ("hits", "truth", "particles"):
        assert_tables_identical(getattr(reads[0], name), getattr(ev, name))
        for other in reads[1:]:
            assert_tables_identical(getattr(reads[0], name), getattr(other, name))


def test_truth_particle_check_counts_distinct_missing_ids() -> None:
    parts = np.array([2**61 + 5, 7, -3, 2**40], dtype=np.int64)  # unsorted, signed, large
    truth = np.array([0, 7, 7, 2**40, -3, 0, 2**61 + 5], dtype=np.int64)
    check_truth_particles(truth, parts, Path("t.csv"))  # 0 is noise, every other id known
    bad = np.r_[truth, [99, 12, 99, 2**61 + 6]]
    with pytest.raises(ValueError, match=r"t.csv: column 'particle_id' refers to 3 particle\(s\) "
                                         r"missing from the particles table \(first: 12\)"):
        check_truth_particles(bad, parts, Path("t.csv"))
    with pytest.raises(ValueError, match="refers to 1 particle"):
        check_truth_particles(np.array([0, 4]), np.zeros(0, np.int64), Path("t.csv"))
