"""``map_events``: one event per task on a Dask cluster (a ``LocalCluster`` by default, any
scheduler address for a real one). Dask schedules, retries and reschedules; helixkit adds
the event sources, per-event outputs written atomically (a rerun skips finished events),
failure reports that name the event, and thread counts that do not oversubscribe the cores.
"""

from __future__ import annotations

import functools
import os
import pickle
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._files import default_file_mode
from ..data.sources import Source, expand_sources


@dataclass(frozen=True)
class EventFailure:
    """An event whose processing raised: its source, the error and the worker's traceback."""

    source: Source
    error: str
    traceback: str

    @property
    def key(self) -> str:
        return self.source.key


class EventsFailed(RuntimeError):
    """Some events raised; ``failures`` names them, ``results`` holds every event's result in
    input order (an :class:`EventFailure` where it failed)."""

    def __init__(self, failures: list[EventFailure], results: list[Any]) -> None:
        self.failures = failures
        self.results = results
        lines = "; ".join(f"{f.key}: {f.error}" for f in failures[:5])
        more = f" (+{len(failures) - 5} more)" if len(failures) > 5 else ""
        super().__init__(f"{len(failures)} of {len(results)} events failed: {lines}{more}")


def _dask() -> Any:
    try:
        import distributed  # noqa: PLC0415
    except ImportError as exc:   # the optional extra
        msg = ("helixkit.distributed needs Dask: pip install 'helixkit[distributed]' "
               "(dask[distributed])")
        raise ImportError(msg) from exc
    return distributed


def default_layout(n_workers: int | None, threads_per_worker: int | None) -> tuple[int, int]:
    """(workers, threads per worker) with workers × threads = the machine's cores."""
    cores = os.cpu_count() or 1
    for name, v in (("n_workers", n_workers), ("threads_per_worker", threads_per_worker)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            msg = f"{name}: must be an integer >= 1, got {v!r}"
            raise ValueError(msg)
    if n_workers is None and threads_per_worker is None:
        return cores, 1
    if n_workers is None:
        return max(cores // threads_per_worker, 1), threads_per_worker
    if threads_per_worker is None:
        return n_workers, max(cores // n_workers, 1)
    return n_workers, threads_per_worker


def local_cluster(n_workers: int | None = None, threads_per_worker: int | None = None,
                  **kwargs: Any) -> Any:
    """A Dask ``LocalCluster`` of worker processes sized to the machine (workers × threads =
    cores), each worker's torch / numba / OpenMP thread pools set to its thread count."""
    distributed = _dask()
    import dask  # noqa: PLC0415

    n, t = default_layout(n_workers, threads_per_worker)
    env = {"OMP_NUM_THREADS": str(t), "NUMBA_NUM_THREADS": str(t), "MKL_NUM_THREADS": str(t)}
    kwargs.setdefault("dashboard_address", ":0")   # a free port: clusters side by side
    kwargs.setdefault("silence_logs", 40)   # logging.ERROR: a killed worker is not news
    # Dask's nannies export MALLOC_TRIM_THRESHOLD_=65536, which also switches off glibc's
    # dynamic mmap threshold: every large torch activation is then mmap'ed and page-faulted
    # anew, and the learned pipeline ran 2x slower in a worker than in a plain process
    # (measured: edge classifier 22-29 s vs 9-11 s per <mu> = 200 event). Not for ours.
    pre = {k: v for k, v in dask.config.get("distributed.nanny.pre-spawn-environ", {}).items()
           if k != "MALLOC_TRIM_THRESHOLD_"}
    with dask.config.set({"distributed.nanny.pre-spawn-environ": pre}):
        return distributed.LocalCluster(n_workers=n, threads_per_worker=t, processes=True,
                                        env=env, **kwargs)


def _write_atomic(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.chmod(tmp, 0o666 & ~_umask())
        os.chmod(tmp, default_file_mode())  # mkstemp's 0o600 would leak
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _run(source: Source, fn: Callable[..., Any], n_threads: int, out: str | None) -> Any:
    """On the worker: load the event, run ``fn``, store its result atomically."""
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(max(n_threads, 1))
    result = fn(source.load(), n_threads=n_threads)
    if "torch" in sys.modules:       # fn may have imported it: keep later events in bounds
        sys.modules["torch"].set_num_threads(max(n_threads, 1))
    if out is not None:
        _write_atomic(Path(out) / f"{source.key}.pkl", result)
    return result


def map_events(fn: Callable[..., Any], sources: Iterable[Any], *, client: Any = None,
               scheduler: str | None = None, n_workers: int | None = None,
               threads_per_worker: int | None = None, progress: bool = True,
               retries: int = 1, out_dir: str | os.PathLike[str] | None = None,
               fail_fast: bool = False, errors: str = "raise", mu: float = 200.0,
               seed: int = 0) -> list[Any]:
    """``[fn(event, n_threads=t) for each source]`` on a Dask cluster, in input order.

    Parameters
    ----------
    fn : callable ``fn(event, *, n_threads) -> result``
        Picklable (a module-level function or a ``functools.partial`` of one); ``n_threads``
        is the worker's thread count (pass it to the kernels).
    sources : event indices, paths, Events or sources
        See :func:`~helixkit.distributed.expand_sources` (an int k is event k of the
        simulation at ``mu`` and ``seed``).
    client, scheduler, n_workers, threads_per_worker
        An existing ``distributed.Client``; else a scheduler address to connect to; else a
        :func:`local_cluster` (default: one single-threaded worker process per core).
    retries : times a task that *raised* is tried again (a worker that dies is handled by
        Dask itself: its tasks move to another worker).
    out_dir : each event's result is pickled atomically to ``out_dir/<source key>.pkl`` by
        the worker that made it; on a rerun, events with a result there are not run again.
    fail_fast : stop at the first failed event (the others are cancelled) instead of
        finishing them; ``errors="raise"`` then raises :class:`EventsFailed`, ``"return"``
        puts an :class:`EventFailure` in that event's place.
    """
    if errors not in ("raise", "return"):
        msg = f"errors: must be 'raise' or 'return', got {errors!r}"
        raise ValueError(msg)
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        msg = f"retries: must be an integer >= 0, got {retries!r}"
        raise ValueError(msg)
    items = expand_sources(sources, mu=mu, seed=seed)
    keys = [s.key for s in items]
    if len(set(keys)) != len(keys):
        dup = sorted({k for k in keys if keys.count(k) > 1})[:3]
        msg = f"sources: the same event is named twice ({dup})"
        raise ValueError(msg)
    out = None if out_dir is None else Path(out_dir)
    if out is not None and out.exists() and not out.is_dir():
        msg = f"out_dir: {out} exists and is not a directory"
        raise ValueError(msg)
    results: list[Any] = [None] * len(items)
    todo = []
    for i, s in enumerate(items):
        done = out / f"{s.key}.pkl" if out is not None else None
        if done is not None and done.is_file():
            with open(done, "rb") as fh:
                results[i] = pickle.load(fh)
        else:
            todo.append(i)
    if not todo:
        return results
    distributed = _dask()
    mine = client is None
    if mine:
        client, cluster = _connect(scheduler, n_workers, threads_per_worker)
    try:
        return _collect(distributed, client, fn, items, todo, results, out, progress, retries,
                        fail_fast, errors, threads_per_worker)
    finally:
        if mine:
            _disconnect(client, cluster)


def _connect(scheduler: str | None, n_workers: int | None,
             threads_per_worker: int | None) -> tuple[Any, Any]:
    """``(client, cluster)``: a client of the scheduler at ``scheduler`` (cluster None), or of
    a new :func:`local_cluster`."""
    distributed = _dask()
    if scheduler is not None:
        try:
            return distributed.Client(scheduler, timeout="10s"), None
        except (OSError, TimeoutError) as exc:
            msg = f"scheduler: cannot reach {scheduler!r} ({exc})"
            raise ValueError(msg) from None
    cluster = local_cluster(n_workers, threads_per_worker)
    return distributed.Client(cluster), cluster


def _disconnect(client: Any, cluster: Any) -> None:
    client.close()
    if cluster is not None:
        cluster.close()


def _worker_threads(client: Any, requested: int | None) -> int:
    if requested is not None:
        return requested
    info = client.scheduler_info().get("workers", {})
    counts = [w.get("nthreads", 1) for w in info.values()]
    return min(counts) if counts else 1


def _collect(distributed: Any, client: Any, fn: Callable[..., Any], items: list[Source],
             todo: list[int], results: list[Any], out: Path | None, progress: bool,
             retries: int, fail_fast: bool, errors: str,
             threads_per_worker: int | None) -> list[Any]:
    threads = _worker_threads(client, threads_per_worker)
    task = functools.partial(_run, fn=fn, n_threads=threads,
                             out=None if out is None else str(out))
    futures = client.map(task, [items[i] for i in todo], retries=retries, pure=False,
                         key=[f"helixkit-{items[i].key}-{os.getpid()}-{id(items)}" for i in todo])
    where = {f.key: i for f, i in zip(futures, todo)}
    bar = None
    if progress:
        from tqdm.auto import tqdm  # noqa: PLC0415

        bar = tqdm(total=len(todo), desc="events", unit="event")
    failures: list[EventFailure] = []
    try:
        for fut in distributed.as_completed(futures):
            i = where[fut.key]
            if fut.status == "finished":
                results[i] = fut.result()
            else:
                exc = fut.exception()
                tb = "".join(traceback.format_tb(fut.traceback())) if fut.traceback() else ""
                failures.append(EventFailure(items[i], f"{type(exc).__name__}: {exc}", tb))
                results[i] = failures[-1]
                if fail_fast:
                    for other in futures:
                        other.cancel()
                    break
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    if fail_fast and failures:
        results = [r if r is not None else EventFailure(items[i], "cancelled (fail_fast)", "")
                   for i, r in enumerate(results)]
    if failures and errors == "raise":
        raise EventsFailed(failures, results)
    return results


def event_mapper(*, client: Any = None, scheduler: str | None = None,
                 n_workers: int | None = None, threads_per_worker: int | None = None,
                 progress: bool = True) -> Callable[[Callable[..., Any], Sequence[Any]],
                                                    list[Any]]:
    """A :class:`helixkit.data.sources.Mapper` that runs on Dask: what the CLI's ``--workers`` /
    ``--scheduler`` hand to the systems. One cluster serves every call (started by
    ``mapper.connect()`` or the first call, closed by ``mapper.close()``)."""
    state: dict[str, Any] = {}

    def connect() -> Any:
        if "client" not in state:
            state["client"], state["cluster"] = (client, None) if client is not None else \
                _connect(scheduler, n_workers, threads_per_worker)
        return state["client"]

    def mapper(fn: Callable[..., Any], items: Sequence[Any], /) -> list[Any]:
        return map_events(fn, items, client=connect(), progress=progress,
                          threads_per_worker=threads_per_worker)

    def close() -> None:
        if "client" in state and client is None:      # ours, not the caller's
            _disconnect(state["client"], state["cluster"])
        state.clear()

    mapper.connect = connect  # type: ignore[attr-defined]
    mapper.close = close  # type: ignore[attr-defined]
    return mapper


__all__ = ["EventFailure", "EventsFailed", "default_layout", "event_mapper", "local_cluster",
           "map_events"]
