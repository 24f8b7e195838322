"""TrackML CSV read/write: helixkit (validating) vs pandas.read_csv / to_csv.

helixkit parses with its C++ parser (``test_read_helixkit``); ``test_read_helixkit_arrow`` forces
the pyarrow path it falls back to, ``test_read_helixkit_numpy`` the numpy.loadtxt path (the same
checks everywhere); pandas reads the same three files with ``read_csv(dtype=...)`` and no
validation.

Default size is small so that CI's ``--benchmark-disable`` smoke run is quick;
``HELIXKIT_BENCH_FULL=1`` uses a 10^5-hit event (a <mu> = 200 TrackML event).

    HELIXKIT_BENCH_FULL=1 PYTHONPATH=python python -m pytest benchmarks/bench_io.py \
        --benchmark-columns=min,median,mean,rounds
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from helixkit.data import Event, Table, read_trackml, write_trackml
from helixkit.data.event import HIT_COLUMNS, PARTICLE_COLUMNS, TRUTH_COLUMNS

N_HITS = 100_000 if os.environ.get("HELIXKIT_BENCH_FULL") else 5_000


def synthetic_event(n_hits: int, seed: int = 1) -> Event:
    """A TrackML-like event: realistic magnitudes, ~10 hits per particle, 10% noise."""
    rng = np.random.default_rng(seed)
    n_part = max(n_hits // 10, 1)
    pid = np.unique(rng.integers(1, 2**60, 2 * n_part))[:n_part]
    hit_id = np.arange(1, n_hits + 1, dtype=np.int64)
    owner = np.where(rng.random(n_hits) < 0.1, 0, pid[rng.integers(0, n_part, n_hits)])
    r = rng.uniform(30, 1000, n_hits)
    phi = rng.uniform(-np.pi, np.pi, n_hits)
    x, y = (r * np.cos(phi)).astype(np.float32), (r * np.sin(phi)).astype(np.float32)
    z = rng.uniform(-3000, 3000, n_hits).astype(np.float32)
    hits = {
        "hit_id": hit_id, "x": x, "y": y, "z": z,
        "volume_id": rng.choice([7, 8, 9, 12, 13, 14, 16, 17, 18], n_hits).astype(np.int32),
        "layer_id": (2 * rng.integers(1, 8, n_hits)).astype(np.int32),
        "module_id": rng.integers(1, 3000, n_hits).astype(np.int32),
    }
    f = lambda s: rng.normal(0, s, n_hits).astype(np.float32)  # noqa: E731
    truth = {
        "hit_id": hit_id, "particle_id": owner, "tx": x + f(0.01), "ty": y + f(0.01),
        "tz": z + f(0.05), "tpx": f(1), "tpy": f(1), "tpz": f(3),
        "weight": rng.random(n_hits).astype(np.float32) / n_hits,
    }
    g = lambda s: rng.normal(0, s, n_part).astype(np.float32)  # noqa: E731
    parts = {
        "particle_id": pid,
        "particle_type": rng.choice([211, -211, 11, -11, 13], n_part).astype(np.int32),
        "vx": g(0.01), "vy": g(0.01), "vz": g(50), "px": g(1), "py": g(1), "pz": g(3),
        "q": rng.choice([-1, 1], n_part).astype(np.int32),
        "nhits": rng.integers(0, 20, n_part).astype(np.int32),
    }
    assert list(hits) == list(HIT_COLUMNS) and list(truth) == list(TRUTH_COLUMNS)
    assert list(parts) == list(PARTICLE_COLUMNS)
    return Event(hits=Table(hits), truth=Table(truth), particles=Table(parts), event_id=1000)


@pytest.fixture(scope="module")
def event() -> Event:
    return synthetic_event(N_HITS)


@pytest.fixture(scope="module", params=[False, True], ids=["csv", "csv.gz"])
def event_dir(request, event: Event, tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("csvgz" if request.param else "csv")
    write_trackml(event, d, compress=request.param)
    return d


def _pandas_read(d: Path) -> dict:
    pd = pytest.importorskip("pandas")
    out = {}
    schemas = {"hits": HIT_COLUMNS, "truth": TRUTH_COLUMNS, "particles": PARTICLE_COLUMNS}
    for name, schema in schemas.items():
        files = sorted(d.glob(f"event000001000-{name}.csv*"))
        out[name] = pd.read_csv(files[0], dtype=schema)
    return out


@pytest.mark.benchmark(group="io-read")
def test_read_helixkit(benchmark, event_dir: Path) -> None:
    ev = benchmark(read_trackml, event_dir, 1000)
    assert ev.n_hits == N_HITS


@pytest.mark.benchmark(group="io-read")
@pytest.mark.parametrize("parser", ["arrow", "numpy"])
def test_read_helixkit_fallback(benchmark, event_dir: Path, monkeypatch, parser: str) -> None:
    from helixkit.data import _csv

    if parser == "arrow":
        pytest.importorskip("pyarrow")
    monkeypatch.setenv("HELIXKIT_CSV_PARSER", parser)
    _csv._arrow_csv.cache_clear()
    try:
        ev = benchmark(read_trackml, event_dir, 1000)
    finally:
        monkeypatch.delenv("HELIXKIT_CSV_PARSER")
        _csv._arrow_csv.cache_clear()
    assert ev.n_hits == N_HITS


@pytest.mark.benchmark(group="io-read")
def test_read_pandas(benchmark, event_dir: Path) -> None:
    pytest.importorskip("pandas")
    tables = benchmark(_pandas_read, event_dir)
    assert len(tables["hits"]) == N_HITS


@pytest.mark.benchmark(group="io-write")
def test_write_helixkit(benchmark, event: Event, tmp_path: Path) -> None:
    benchmark(write_trackml, event, tmp_path)
    assert read_trackml(tmp_path, 1000).n_hits == N_HITS


@pytest.mark.benchmark(group="io-write")
def test_write_pandas(benchmark, event: Event, tmp_path: Path) -> None:
    pytest.importorskip("pandas")
    frames = {n: getattr(event, n).to_pandas() for n in ("hits", "truth", "particles")}

    def write() -> None:
        for name, df in frames.items():
            df.to_csv(tmp_path / f"event000001000-{name}.csv", index=False)

    benchmark(write)
    assert read_trackml(tmp_path, 1000).n_hits == N_HITS
