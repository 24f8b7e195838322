"""Scale-out: serial vs ``map_events`` on a 2-worker LocalCluster, and DDP with 2 vs 1 process.

Per event (⟨μ⟩ = 200 in the full run): the classical chain (simulation + triplet seeding +
truth-track Kalman fit) and the learned pipeline (shipped model). Peers in the same run:
serial with 1 thread, serial with 2 threads, ``map_events`` with 2 workers × 1 thread (on a
cluster started beforehand; its start-up is timed on its own). DDP: ``helixkit train
trackformer`` with ``--nproc 1`` and ``--nproc 2`` on one config.

    HELIXKIT_BENCH_FULL=1 pytest benchmarks/bench_distributed.py --benchmark-only   # pytest
    python benchmarks/bench_distributed.py [n_events] [mu] [chain,learned] [rounds]   # table

Without HELIXKIT_BENCH_FULL the pytest run is a smoke test (2 events at ⟨μ⟩ = 5).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("distributed")
import cloudpickle  # noqa: E402
from helixkit.data import Event, SimulatedEvent, simulated_events  # noqa: E402
from helixkit.distributed import local_cluster, map_events  # noqa: E402

FULL = os.environ.get("HELIXKIT_BENCH_FULL") == "1"
N_EVENTS, MU = (8, 200.0) if FULL else (2, 5.0)
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def chain(event: Event, *, n_threads: int) -> int:
    """Triplet seeding (ACTS ODD config, pixels) and the truth-track Kalman fit."""
    from helixkit import fitting, seeding

    res = seeding.find_seeds_in_event(event, seeding.SeedFinderConfig.acts_odd(),
                                      volumes=event.geometry.pixel_volumes, n_threads=n_threads)
    fit = fitting.fit_truth_tracks(event, min_hits=7, n_threads=n_threads)
    return len(res.triplets) + len(fit.status)


_MODEL: dict[str, Any] = {}


def learned(event: Event, *, n_threads: int) -> int:
    """The shipped learned pipeline (loaded once per process)."""
    from helixkit.nn import pretrained

    if "m" not in _MODEL:
        _MODEL["m"] = pretrained("learned_tracking")
        _MODEL["m"].find_tracks(simulated_events(1, mu=5, seed=99)[0].load(), n_threads=1)
    return int((_MODEL["m"].find_tracks(event, n_threads=n_threads) >= 0).sum())


@dataclasses.dataclass(frozen=True)
class _TimedSimulatedEvent(SimulatedEvent):
    """A simulated event whose simulation time rides on the event it makes (measured where it
    runs; a module-level list would not do: the benchmark's code is pickled by value, and each
    pickled function carries its own copy of the module's globals)."""

    def load(self) -> Event:
        t0 = time.perf_counter()
        ev = super().load()
        ev._bench_load_s = time.perf_counter() - t0  # type: ignore[attr-defined]
        return ev


def _timed(event: Event, *, n_threads: int, fn: Any) -> tuple[Any, float, int]:
    """``fn``'s result, the seconds the event took on the worker (its simulation included)
    and the worker's process id."""
    t0 = time.perf_counter()
    out = fn(event, n_threads=n_threads)
    return out, time.perf_counter() - t0 + getattr(event, "_bench_load_s", 0.0), os.getpid()


def _warm(mu: float = 2.0) -> None:
    """One event at the benchmark's own density through both works (a different seed from the
    measured events): numba compiled, the model loaded, and the process's heap grown to the
    event's size, so that no side pays a first event the other does not."""
    ev = simulated_events(1, mu=mu, seed=7)[0].load()
    chain(ev, n_threads=1)
    learned(ev, n_threads=1)


def serial_run(fn: Any, n_threads: int) -> list[Any]:
    import torch

    torch.set_num_threads(max(n_threads, 1))
    return [fn(s.load(), n_threads=n_threads) for s in simulated_events(N_EVENTS, mu=MU)]


def _plain_process(work: str, indices: list[int], mu: float, ready: Any, start: Any,
                   done: Any) -> None:
    """One of the two plain processes (no Dask): warmed like a worker, then its share."""
    import torch

    torch.set_num_threads(1)
    _warm(mu)
    ready.put(os.getpid())
    start.wait()
    for k in indices:
        WORK[work](SimulatedEvent(k, mu=mu).load(), n_threads=1)
    done.put(os.getpid())


def two_plain_processes(work: str, n_events: int, mu: float) -> float:
    """The machine's own 2-process speed: events 0, 2, 4, ... in one process and 1, 3, ... in
    another, both started and warmed beforehand (the peer that shows what two processes on
    these cores give without any scheduler). Wall seconds."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    ready, done, start = ctx.Queue(), ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=_plain_process,
                         args=(work, list(range(r, n_events, 2)), mu, ready, start, done))
             for r in range(2)]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get()
    t0 = time.perf_counter()
    start.set()
    for _ in procs:
        done.get()
    wall = time.perf_counter() - t0
    for p in procs:
        p.join()
    return wall


@pytest.fixture(scope="module")
def client():
    import distributed

    cluster = local_cluster(2, 1)
    c = distributed.Client(cluster)
    c.run(_warm, MU)             # every worker: model loaded, numba kernels compiled
    yield c
    c.close()
    cluster.close()


WORK = {"chain": chain, "learned": learned}


@pytest.mark.parametrize("work", list(WORK))
@pytest.mark.parametrize("threads", [1, 2])
def test_serial(benchmark, work, threads):
    benchmark.group = f"distributed-{work}"
    benchmark.pedantic(serial_run, args=(WORK[work], threads), rounds=1, iterations=1)


@pytest.mark.parametrize("work", list(WORK))
def test_map_events_2x1(benchmark, client, work):
    benchmark.group = f"distributed-{work}"
    out = benchmark.pedantic(map_events, args=(WORK[work], simulated_events(N_EVENTS, mu=MU)),
                             kwargs={"client": client, "progress": False}, rounds=1,
                             iterations=1)
    assert out == serial_run(WORK[work], 1)


def _ddp_config(path: Path, full: bool = FULL) -> Path:
    n = (40, 5) if full else (2, 1)
    cfg = {"data": {"n_train_events": n[0], "n_val_events": n[1], "mu": 50.0},
           "train": {"epochs": 3 if full else 1, "patience": 10}}
    path.write_text(json.dumps(cfg))
    return path


def ddp_train(nproc: int, tmp: Path, full: bool = FULL) -> dict[str, float]:
    """``helixkit train trackformer --nproc N``: seconds per epoch and training samples/s."""
    import subprocess

    cfg = _ddp_config(tmp / "tf.json", full)
    out = tmp / f"run{nproc}"
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "helixkit.cli", "train", "trackformer",
                           "--config", str(cfg), "--out", str(out), "--nproc", str(nproc),
                           "--no-progress"], capture_output=True, text=True)
    if proc.returncode != 0:     # what the ranks printed, not only the exit status
        msg = (f"helixkit train trackformer --nproc {nproc} exited {proc.returncode}:\n"
               f"{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")
        raise RuntimeError(msg)
    wall = time.perf_counter() - t0
    hist = json.loads((out / "history.json").read_text())
    return {"wall_s": wall, "epochs": len(hist),
            "epoch_s": min(h["epoch_s"] for h in hist)}


@pytest.mark.benchmark(group="ddp")
@pytest.mark.parametrize("nproc", [1, 2])
def test_ddp_trackformer(benchmark, nproc, tmp_path):
    benchmark.pedantic(ddp_train, args=(nproc, tmp_path), rounds=1, iterations=1)


def _best(t: dict[str, float], key: str, seconds: float) -> bool:
    """Keep the smallest time of ``key``; True when this one is it."""
    if seconds < t.get(key, float("inf")):
        t[key] = seconds
        return True
    return False


def main() -> None:
    import distributed

    global N_EVENTS, MU  # noqa: PLW0603
    if len(sys.argv) > 1:
        N_EVENTS = int(sys.argv[1])
    if len(sys.argv) > 2:
        MU = float(sys.argv[2])
    works = sys.argv[3].split(",") if len(sys.argv) > 3 else list(WORK)
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    rows = []
    t0 = time.perf_counter()
    cluster = local_cluster(2, 1)
    c = distributed.Client(cluster)
    startup = time.perf_counter() - t0
    c.run(_warm, MU)             # every worker: model loaded, numba kernels compiled
    _warm(MU)                    # ... and here, for the serial runs
    for name, fn in ((w, WORK[w]) for w in works):
        # rounds of all four peers, interleaved; each peer's best round (the machine's speed
        # drifts by 20 % between minutes here, so one pass of each would compare drifts)
        t: dict[str, float] = {}
        busy: dict[int, float] = {}
        for _ in range(rounds):
            for threads in (1, 2):
                t0 = time.perf_counter()
                serial_run(fn, threads)
                _best(t, f"serial {threads}t", time.perf_counter() - t0)
            t0 = time.perf_counter()
            sources = [_TimedSimulatedEvent(k, mu=MU) for k in range(N_EVENTS)]
            out = map_events(functools.partial(_timed, fn=fn), sources, client=c,
                             progress=False)
            if _best(t, "map_events 2x1", time.perf_counter() - t0):
                busy = {}
                for _, dt, pid in out:
                    busy[pid] = busy.get(pid, 0.0) + dt
            _best(t, "2 plain processes", two_plain_processes(name, N_EVENTS, MU))
        ideal = t["serial 1t"] / 2
        rows.append((name, t, t["serial 1t"] / t["map_events 2x1"],
                     t["serial 2t"] / t["map_events 2x1"],
                     (t["map_events 2x1"] - ideal) / t["serial 1t"],
                     (t["map_events 2x1"] - max(busy.values())) / t["serial 1t"],
                     (max(busy.values()) - sum(busy.values()) / 2) / t["serial 1t"],
                     sum(busy.values()) / t["serial 1t"],
                     t["map_events 2x1"] / t["2 plain processes"] - 1.0))
    c.close()
    cluster.close()
    print(f"{N_EVENTS} events, <mu> = {MU:g}; best of {rounds} interleaved rounds per peer; "
          f"cluster start-up {startup:.1f} s (not included)")
    print("| per event | serial 1 thread [s] | serial 2 threads [s] | 2 plain processes [s] | "
          "map_events 2 x 1 [s] | speed-up vs serial 1t | vs serial 2t | 2 plain processes vs "
          "serial 1t | map_events vs 2 plain processes | wall - serial/2, of serial | "
          "scheduling: wall - busiest worker, of serial | tail: busiest - mean worker, of "
          "serial | sum of worker times / serial |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, t, s1, s2, over, sched, tail, busy, vs_plain in rows:
        print(f"| {name} | {t['serial 1t']:.1f} | {t['serial 2t']:.1f} | "
              f"{t['2 plain processes']:.1f} | {t['map_events 2x1']:.1f} | {s1:.2f}x | "
              f"{s2:.2f}x | {t['serial 1t'] / t['2 plain processes']:.2f}x | "
              f"{100 * vs_plain:+.1f} % | {100 * over:+.1f} % | "
              f"{100 * sched:+.1f} % | {100 * tail:+.1f} % | {busy:.2f} |")
    if works != list(WORK):
        return
    with tempfile.TemporaryDirectory() as tmp:
        d = {n: ddp_train(n, Path(tmp), full=True) for n in (1, 2)}
    print("| DDP, helixkit train trackformer | nproc 1 | nproc 2 | speed-up (= samples/s ratio) |")
    print("|---|---|---|---|")
    print(f"| fastest epoch [s] | {d[1]['epoch_s']:.2f} | {d[2]['epoch_s']:.2f} | "
          f"{d[1]['epoch_s'] / d[2]['epoch_s']:.2f}x |")
    print(f"| whole run, {d[1]['epochs']} epochs (simulation on every rank) [s] | "
          f"{d[1]['wall_s']:.1f} | {d[2]['wall_s']:.1f} | {d[1]['wall_s'] / d[2]['wall_s']:.2f}x |")


if __name__ == "__main__":
    main()
