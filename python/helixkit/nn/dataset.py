"""A torch ``Dataset`` of hit features over simulated or TrackML events.

One item per event (events differ in size, so a ``DataLoader`` takes
``batch_size=None`` or :meth:`HitDataset.collate`): a dict of tensors

- ``x``: (N, F) float32 hit features (:func:`helixkit.nn.hit_features`
  with the dataset's ``volumes``, ``extra`` groups and ``normalize``);
- ``rows``: (N,) int64, the event rows of those hits;
- ``layer_key``: (N,) int64, ``volume_id * 1000 + layer_id``;
- with truth: ``particle_id`` (N,) int64 (0 = noise) and ``interest`` (N,) bool,
  the hits of particles of interest (pT > ``pt_thld``, |η| < 4, hits on ≥ 3
  layers: :func:`helixkit.graph.hits_of_interest`);

plus ``event_id`` (int). Events are read or simulated when an item is asked
for (``cache=True`` keeps the items), and simulated event *k* is the same as
the *k*-th of :func:`helixkit.data.generate_events` with the same seed, whatever
the dataset's length or the order items are asked in.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ..data import Event, Geometry, layer_key, list_trackml_events, read_trackml, simulate_event
from ..graph import hits_of_interest
from .features import EXTRA_FEATURES, hit_features


class HitDataset(Dataset):
    """Hit features and per-hit truth of a sequence of events, one item per event.

    ``events``: a sequence of :class:`~helixkit.data.Event`. See also
    :meth:`simulated` and :meth:`trackml`.
    """

    def __init__(self, events: Sequence[Event], *, volumes: Sequence[int] | None = (7, 8, 9),
                 extra: Sequence[str] = (), normalize: bool = False, pt_thld: float = 0.9,
                 cache: bool = False) -> None:
        if isinstance(events, (str, bytes, os.PathLike)) or not isinstance(events, Sequence):
            msg = (f"events: expected a sequence of Event, got {type(events).__name__} "
                   "(HitDataset.trackml reads a directory, HitDataset.simulated simulates)")
            raise ValueError(msg)
        bad = [i for i, ev in enumerate(events) if not isinstance(ev, Event)]
        if bad:
            msg = f"events: item {bad[0]} is a {type(events[bad[0]]).__name__}, not an Event"
            raise ValueError(msg)
        self._init(len(events), events.__getitem__, volumes=volumes, extra=extra,
                   normalize=normalize, pt_thld=pt_thld, cache=cache)

    def _init(self, n: int, load: Callable[[int], Event], *, volumes: Sequence[int] | None,
              extra: Sequence[str], normalize: bool, pt_thld: float, cache: bool) -> None:
        unknown = sorted(set(extra) - set(EXTRA_FEATURES))
        if unknown:
            msg = f"extra: unknown feature group(s) {unknown}; valid: {sorted(EXTRA_FEATURES)}"
            raise ValueError(msg)
        if not (isinstance(pt_thld, (int, float)) and math.isfinite(pt_thld) and pt_thld >= 0):
            msg = f"pt_thld: must be a finite number >= 0 (GeV), got {pt_thld!r}"
            raise ValueError(msg)
        if volumes is not None and len(volumes) == 0:
            msg = "volumes: must name at least one volume (None: all hits)"
            raise ValueError(msg)
        self._n = int(n)
        self._load = load
        self.volumes = None if volumes is None else tuple(int(v) for v in volumes)
        self.extra = tuple(extra)
        self.normalize = bool(normalize)
        self.pt_thld = float(pt_thld)
        self._cache: dict[int, dict[str, Any]] | None = {} if cache else None

    @classmethod
    def simulated(cls, n_events: int, *, mu: float = 200.0, seed: int = 0,
                  first_event_id: int = 0, geometry: Geometry | None = None,
                  **kwargs: Any) -> HitDataset:
        """``n_events`` events of the built-in simulation at pile-up ``mu``, simulated on
        demand (event k: seed ``SeedSequence(seed).spawn(n_events)[k]``, as in
        :func:`~helixkit.data.generate_events`)."""
        if not isinstance(n_events, (int, np.integer)) or n_events < 0:
            msg = f"n_events: must be an integer >= 0, got {n_events!r}"
            raise ValueError(msg)
        if not (isinstance(mu, (int, float)) and math.isfinite(mu) and mu >= 0):
            msg = f"mu: must be a finite number >= 0, got {mu!r}"
            raise ValueError(msg)
        children = np.random.SeedSequence(seed).spawn(int(n_events))

        def load(k: int) -> Event:
            return simulate_event(mu=mu, seed=children[k], geometry=geometry,
                                  event_id=first_event_id + k)

        self = cls.__new__(cls)
        self._init(int(n_events), load, **_options(kwargs))
        return self

    @classmethod
    def trackml(cls, directory: str | os.PathLike[str], *, event_ids: Sequence[int] | None = None,
                geometry: Geometry | None = None, **kwargs: Any) -> HitDataset:
        """The TrackML events in ``directory`` (all, or ``event_ids``), read on demand.
        ``geometry`` (e.g. :func:`~helixkit.data.trackml_like`) is attached to each event
        when given: the ``"cluster"`` features need the layers' pitch and thickness."""
        path = Path(directory)
        if not path.is_dir():
            msg = f"directory: {path} is not a directory"
            raise ValueError(msg)
        found = list_trackml_events(path)
        ids = found if event_ids is None else [int(e) for e in event_ids]
        missing = sorted(set(ids) - set(found))
        if missing:
            msg = f"event_ids: no TrackML files for event(s) {missing[:5]} in {path}"
            raise ValueError(msg)
        if not ids:
            msg = f"directory: {path} holds no TrackML events"
            raise ValueError(msg)

        def load(k: int) -> Event:
            ev = read_trackml(path, ids[k])
            return ev if geometry is None else dataclasses.replace(ev, geometry=geometry)

        self = cls.__new__(cls)
        self._init(len(ids), load, **_options(kwargs))
        return self

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not isinstance(index, (int, np.integer)):
            msg = f"index: expected an integer, got {type(index).__name__}"
            raise TypeError(msg)
        k = int(index) + (self._n if index < 0 else 0)
        if not 0 <= k < self._n:
            msg = f"index {index} out of range for {self._n} events"
            raise IndexError(msg)
        if self._cache is not None and k in self._cache:
            return self._cache[k]
        item = self.item(self._load(k))
        if self._cache is not None:
            self._cache[k] = item
        return item

    def item(self, event: Event) -> dict[str, Any]:
        """The item of one event (what ``dataset[k]`` returns for its k-th event)."""
        x, rows = hit_features(event, volumes=self.volumes, extra=self.extra,
                               normalize=self.normalize)
        key = layer_key(event, rows)
        out: dict[str, Any] = {
            "x": torch.from_numpy(x), "rows": torch.from_numpy(rows.astype(np.int64)),
            "layer_key": torch.from_numpy(key), "event_id": int(event.event_id),
        }
        if event.has_truth:
            out["particle_id"] = torch.from_numpy(event.hit_particle_id[rows].astype(np.int64))
            out["interest"] = torch.from_numpy(hits_of_interest(event, pt_min=self.pt_thld)[rows])
        return out

    @staticmethod
    def collate(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``DataLoader(..., collate_fn=HitDataset.collate)``: a batch is a list of events."""
        return list(items)


def _options(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` over the defaults of :class:`HitDataset`'s keyword options (unknown → error)."""
    defaults = {name: p.default for name, p in
                inspect.signature(HitDataset.__init__).parameters.items()
                if p.kind is p.KEYWORD_ONLY}
    unknown = sorted(set(kwargs) - set(defaults))
    if unknown:
        msg = f"unknown option(s) {unknown}; valid: {sorted(defaults)}"
        raise ValueError(msg)
    return {**defaults, **kwargs}


__all__ = ["HitDataset"]
