"""Scale-out: many events on a Dask cluster, training with PyTorch DistributedDataParallel.

- :func:`map_events` — one event per task on a Dask ``LocalCluster`` (default, sized to the
  machine) or any scheduler address; results in input order, per-event outputs written
  atomically (a rerun skips finished events), failures reported with the event, no
  oversubscription (workers × threads = cores; torch, numba and helixkit follow the
  worker's thread count); :func:`event_mapper` hands the same to the systems' evaluations.
- :func:`launch` — ``nproc`` training processes in one torch.distributed group (what
  ``helixkit train ... --nproc N`` runs); :class:`helixkit.nn.Trainer` trains with DDP there.

Dask is the optional extra ``distributed`` (``pip install 'helixkit[distributed]'``), imported
when first used. Event sources (:class:`~helixkit.data.SimulatedEvent`, TrackML / ACTS
directories) live in :mod:`helixkit.data.sources`. See docs/distributed.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "mapping": ["EventFailure", "EventsFailed", "default_layout", "event_mapper",
                "local_cluster", "map_events"],
    "ddp": ["init_from_env", "launch"],
}, submodules=["ddp", "mapping"])

if TYPE_CHECKING:
    from .ddp import init_from_env, launch
    from .mapping import (
        EventFailure,
        EventsFailed,
        default_layout,
        event_mapper,
        local_cluster,
        map_events,
    )
