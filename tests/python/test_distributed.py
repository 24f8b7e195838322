"""Scale-out (issue 31): event sources, map_events on a 2-process LocalCluster (results equal
to serial, atomic per-event outputs and reruns, failures named, a killed worker), the CLI's
--workers / --scheduler / --nproc, and DDP training (2 gloo processes; N = 1 is the
single-process training bit for bit)."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("distributed")
torch = pytest.importorskip("torch")
import cloudpickle  # noqa: E402
from helixkit.cli import main  # noqa: E402
from helixkit.data import (  # noqa: E402
    Event,
    SimulatedEvent,
    TrackMLEvent,
    expand_sources,
    generate_events,
    simulated_events,
    write_trackml,
)
from helixkit.data.sources import serial  # noqa: E402
from helixkit.distributed import (  # noqa: E402
    EventFailure,
    EventsFailed,
    default_layout,
    local_cluster,
    map_events,
)

cloudpickle.register_pickle_by_value(sys.modules[__name__])   # workers cannot import tests/


def _digest(ev: Event) -> str:
    h = hashlib.sha256()
    for table in (ev.hits, ev.truth, ev.particles):
        for c in table.columns:
            h.update(np.ascontiguousarray(table[c]).tobytes())
    return h.hexdigest()


def _summary(event: Event, *, n_threads: int) -> dict:
    from helixkit import seeding

    res = seeding.find_seeds_in_event(event, seeding.SeedFinderConfig.acts_odd(),
                                      volumes=event.geometry.pixel_volumes, n_threads=n_threads)
    return {"event_id": event.event_id, "digest": _digest(event), "n_seeds": len(res.triplets),
            "threads": n_threads}


def _fails_on_two(event: Event, *, n_threads: int) -> int:
    if event.event_id == 2:
        msg = "no good: event 2"
        raise RuntimeError(msg)
    return event.event_id


def _kill_once(event: Event, *, n_threads: int, marker: str) -> int:
    if event.event_id == 1 and not os.path.exists(marker):
        Path(marker).write_text("killed")
        os._exit(1)            # the worker process dies mid-event
    return event.event_id


def _never(event: Event, *, n_threads: int) -> None:
    msg = "a finished event was run again"
    raise AssertionError(msg)


@pytest.fixture(scope="module")
def client():
    import distributed

    cluster = local_cluster(2, 1)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def test_simulated_sources_are_generate_events():
    for got, want in zip(simulated_events(3, mu=5, seed=7, first_event_id=40),
                         generate_events(3, mu=5, seed=7, first_event_id=40)):
        ev = got.load()
        assert ev.event_id == want.event_id and _digest(ev) == _digest(want)
    # an int k is event k of the simulation, whatever else is asked for
    assert expand_sources([2], mu=5, seed=7)[0] == SimulatedEvent(2, mu=5.0, seed=7)
    assert _digest(SimulatedEvent(2, mu=5, seed=7).load()) == _digest(
        list(generate_events(3, mu=5, seed=7))[2])


def test_path_sources_and_bad_sources(tmp_path):
    for ev in generate_events(2, mu=2, seed=1, first_event_id=4):
        write_trackml(ev, tmp_path)
    assert expand_sources(tmp_path) == [TrackMLEvent(str(tmp_path), 4),
                                        TrackMLEvent(str(tmp_path), 5)]
    assert expand_sources([tmp_path / "event000000005"]) == [TrackMLEvent(str(tmp_path), 5)]
    with pytest.raises(ValueError, match="sources\\[0\\].*neither a directory"):
        expand_sources([tmp_path / "nope"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no TrackML or ACTS"):
        expand_sources([tmp_path / "empty"])
    with pytest.raises(ValueError, match=">= 0"):
        expand_sources([-1])
    with pytest.raises(TypeError, match="sources\\[1\\].*float"):
        expand_sources([1, 2.5])
    with pytest.raises(ValueError, match="named twice"):
        map_events(_summary, [1, 1], progress=False)
    with pytest.raises(ValueError, match="retries"):
        map_events(_summary, [1], retries=-1)
    with pytest.raises(ValueError, match="n_workers"):
        default_layout(0, None)


def test_default_layout_fills_the_cores():
    cores = os.cpu_count() or 1
    assert default_layout(None, None) == (cores, 1)
    assert default_layout(1, None) == (1, cores)
    assert default_layout(3, 2) == (3, 2)


def test_map_events_equals_serial_in_input_order(client):
    sources = simulated_events(4, mu=10, seed=3)
    got = map_events(_summary, sources[::-1], client=client, progress=False)
    want = serial(_summary, sources[::-1], n_threads=1)
    assert got == want
    assert [g["event_id"] for g in got] == [3, 2, 1, 0]
    assert {g["threads"] for g in got} == {1}       # workers x threads = 2 x 1


def test_outputs_are_atomic_and_a_rerun_skips_them(client, tmp_path):
    out = tmp_path / "out"
    first = map_events(_summary, [0, 1, 2], client=client, out_dir=out, mu=5,
                       progress=False)
    files = sorted(p.name for p in out.iterdir())
    assert files == [f"sim-seed0-mu5-event00000000{k}.pkl" for k in range(3)]
    mask = os.umask(0)
    os.umask(mask)
    assert {p.stat().st_mode & 0o777 for p in out.iterdir()} == {0o666 & ~mask}
    again = map_events(_never, [0, 1, 2], client=client, out_dir=out, mu=5, progress=False)
    assert again == first


def test_a_failing_event_is_named_and_the_others_finish(client):
    with pytest.raises(EventsFailed, match="sim-seed0-mu3-event000000002: RuntimeError: no good") \
            as info:
        map_events(_fails_on_two, range(5), client=client, mu=3, retries=0, progress=False)
    res = info.value.results
    assert [r for i, r in enumerate(res) if i != 2] == [0, 1, 3, 4]
    assert isinstance(res[2], EventFailure) and "no good" in res[2].error
    res = map_events(_fails_on_two, range(5), client=client, mu=3, retries=0, progress=False,
                     errors="return")
    assert isinstance(res[2], EventFailure) and res[4] == 4
    with pytest.raises(EventsFailed):
        map_events(_fails_on_two, range(3), client=client, mu=3, retries=0, progress=False,
                   fail_fast=True)


def test_a_killed_worker_loses_no_event(tmp_path):
    import functools

    marker = tmp_path / "killed"
    res = map_events(functools.partial(_kill_once, marker=str(marker)), range(4), mu=2,
                     n_workers=2, threads_per_worker=1, progress=False)
    assert marker.exists()               # a worker really died on event 1
    assert res == [0, 1, 2, 3]           # ... and Dask ran it again elsewhere, once


def _tree_digest(d: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.iterdir())}


def test_cli_workers_give_the_serial_outputs(tmp_path, capsys):
    a, b = tmp_path / "serial", tmp_path / "workers"
    assert main(["simulate", "--out", str(a), "--events", "3", "--mu", "4", "--no-progress",
                 "--first-event", "2"]) == 0
    assert main(["simulate", "--out", str(b), "--events", "3", "--mu", "4", "--no-progress",
                 "--first-event", "2", "--workers", "2"]) == 0
    assert _tree_digest(a) == _tree_digest(b) and len(_tree_digest(a)) == 12   # 4 files x 3
    ea, eb = tmp_path / "ev_serial", tmp_path / "ev_workers"
    assert main(["evaluate", "learned_tracking", "--events", "2", "--mu", "10",
                 "--out", str(ea)]) == 0
    assert main(["evaluate", "learned_tracking", "--events", "2", "--mu", "10",
                 "--out", str(eb), "--workers", "2", "--no-progress"]) == 0
    ja = json.loads((ea / "learned_tracking_eval.json").read_text())
    jb = json.loads((eb / "learned_tracking_eval.json").read_text())
    assert ja["metrics"] == jb["metrics"] and ja["working_point"] == jb["working_point"]
    capsys.readouterr()
    assert main(["simulate", "--out", str(b), "--events", "1", "--workers", "0"]) == 2
    assert "--workers must be >= 1" in capsys.readouterr().err
    assert main(["evaluate", "trackformer", "--scheduler", "tcp://127.0.0.1:9"]) == 2
    assert "cannot reach" in capsys.readouterr().err


def _history(d: Path) -> list[dict]:
    return json.loads((d / "history.json").read_text())


def _weights(p: Path) -> dict:
    return torch.load(p, map_location="cpu", weights_only=True)["state_dict"]


def test_ddp_training(tmp_path):
    cfg = tmp_path / "tf.json"
    cfg.write_text(json.dumps({"data": {"n_train_events": 2, "n_val_events": 1, "mu": 4},
                               "model": {"model_dim": 16, "n_heads": 2, "n_layers": 1},
                               "train": {"epochs": 4, "batch_size": 64, "lr": 3e-3,
                                         "num_threads": 1}}))
    plain, one, two, two_again = (tmp_path / n for n in ("plain", "one", "two", "two_again"))
    assert main(["train", "trackformer", "--config", str(cfg), "--out", str(plain),
                 "--no-progress"]) == 0
    assert main(["train", "trackformer", "--config", str(cfg), "--out", str(one),
                 "--no-progress", "--nproc", "1"]) == 0
    for a, b in zip(_weights(plain / "best.pt").values(), _weights(one / "best.pt").values()):
        assert torch.equal(a, b)                      # N = 1: the single-process training
    assert main(["train", "trackformer", "--config", str(cfg), "--out", str(two),
                 "--nproc", "2"]) == 0
    hist = _history(two)
    assert hist[-1]["train_loss"] < hist[0]["train_loss"]   # 2 gloo processes learn
    assert not all(torch.equal(a, b) for a, b in zip(_weights(plain / "best.pt").values(),
                                                      _weights(two / "best.pt").values()))
    assert main(["train", "trackformer", "--config", str(cfg), "--out", str(two_again),
                 "--nproc", "2"]) == 0
    for a, b in zip(_weights(two / "best.pt").values(),
                    _weights(two_again / "best.pt").values()):
        assert torch.equal(a, b)                      # same seeds, same N: same weights
    def losses(d: Path) -> list[dict]:
        return [{k: v for k, v in h.items() if k != "epoch_s"} for h in _history(d)]

    assert losses(two) == losses(two_again)
    assert main(["train", "trackformer", "--config", str(cfg), "--nproc", "0"]) == 2


def test_ddp_trains_a_learned_stage(tmp_path):
    """Event batches (one per event) through the DistributedSampler: ``train gc --nproc 2``."""
    cfg = tmp_path / "gc.json"
    cfg.write_text(json.dumps({"data": {"n_train_events": 3, "n_val_events": 1, "mu": 3},
                               "gc": {"hidden_dim": 16, "depth": 2},
                               "gc_train": {"epochs": 3, "num_threads": 1}}))
    assert main(["train", "gc", "--config", str(cfg), "--out", str(tmp_path / "run"),
                 "--nproc", "2"]) == 0
    hist = json.loads((tmp_path / "run" / "gc" / "history.json").read_text())
    assert len(hist) == 3 and all(np.isfinite(h["val_loss"]) for h in hist)
    assert (tmp_path / "run" / "gc" / "best.pt").is_file()


def test_demo_with_workers_reports_the_serial_numbers(tmp_path):
    def results(out: Path) -> dict:
        res = json.loads((out / "results.json").read_text())
        learned = res["learned"]["rows"]
        return {"events": res["simulation"]["events"], "learned": learned,
                "seeding": res["seeding"]["efficiency"]}

    a, b = tmp_path / "serial", tmp_path / "workers"
    base = ["demo", "--events", "2", "--mu", "5", "--no-progress", "--stages",
            "seeding,learned"]
    assert main([*base, "--out", str(a)]) == 0
    assert main([*base, "--out", str(b), "--workers", "2"]) == 0
    assert results(a) == results(b)
