"""Training on several processes with PyTorch's DistributedDataParallel.

``launch(fn, nproc, *args)`` starts ``nproc`` processes on this machine (gloo on CPU; NCCL
where every rank has a GPU), joins them into one process group and runs ``fn(*args)`` in each;
:class:`helixkit.nn.Trainer` then trains with DDP (a ``DistributedSampler`` over the batches,
gradient all-reduce, rank 0 writes). For several machines, start ``helixkit train ...`` under
``torchrun`` instead: :func:`init_from_env` joins the group torchrun describes.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from typing import Any


def _backend() -> str:
    import torch  # noqa: PLC0415

    return "nccl" if torch.cuda.is_available() and torch.distributed.is_nccl_available() \
        else "gloo"


def _rank_main(rank: int, nproc: int, store: str, threads: int, backend: str,
               fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    import torch  # noqa: PLC0415
    import torch.distributed as dist  # noqa: PLC0415

    torch.set_num_threads(threads)
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(nproc), LOCAL_RANK=str(rank))
    # a file store, not a TCP one: no server thread in rank 0 that could go away while
    # another rank still talks to it at shutdown
    dist.init_process_group(backend, init_method=f"file://{store}", rank=rank,
                            world_size=nproc)
    try:
        fn(*args)
        dist.barrier()           # every rank done before any tears the group down
    finally:
        dist.destroy_process_group()
    # Success: leave without the interpreter's shutdown. torch's C++ threads (gloo, the DDP
    # reducer) can still be joinable when static destructors run, and a std::thread destroyed
    # joinable aborts the process ("terminate called without an active exception", SIGABRT
    # in about one run in ten), which mp.spawn reports as a failed training. Everything this
    # rank wrote is closed by now; only the standard streams need flushing.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def launch(fn: Callable[..., Any], nproc: int, *args: Any, threads: int | None = None,
           backend: str | None = None) -> None:
    """Run ``fn(*args)`` in ``nproc`` processes joined into one torch.distributed group.

    ``fn`` must be picklable (a module-level function). Each process gets ``threads`` torch
    threads (default: the cores divided among the processes, so nothing is oversubscribed).
    An exception in any process is raised here after all have stopped.
    """
    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        msg = f"nproc: must be an integer >= 1, got {nproc!r}"
        raise ValueError(msg)
    if nproc == 1:
        fn(*args)
        return
    import torch.multiprocessing as mp  # noqa: PLC0415

    cores = os.cpu_count() or 1
    t = threads if threads is not None else max(cores // nproc, 1)
    with tempfile.TemporaryDirectory(prefix="helixkit-ddp-") as tmp:
        mp.spawn(_rank_main, args=(nproc, os.path.join(tmp, "store"), t,
                                   backend or _backend(), fn, args), nprocs=nproc, join=True)


def init_from_env() -> bool:
    """Join the process group that ``torchrun`` describes (``WORLD_SIZE`` > 1 in the
    environment, ``MASTER_ADDR`` / ``MASTER_PORT`` set); False when there is none."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    import torch.distributed as dist  # noqa: PLC0415

    if not dist.is_initialized():
        dist.init_process_group(_backend(), init_method="env://")
    return True


__all__ = ["init_from_env", "launch"]
