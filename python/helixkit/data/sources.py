"""Event sources and mappers: one event is one unit of work.

A *source* names an event without holding it — a simulated event, a TrackML event, an ACTS
CSV event, or an :class:`~helixkit.data.Event` already in memory: small and picklable (the
event is made or read where the work runs) with a ``key`` that names its outputs, so a rerun
recognises finished events.

A *mapper* is ``mapper(fn, sources) -> list``: it calls ``fn(event, n_threads=...)`` for every
source's event and returns the results in input order. Systems take an optional mapper
(default :func:`serial`) so the CLI can hand them a Dask one
(:func:`helixkit.distributed.event_mapper`) without the systems knowing about Dask.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np

from .acts import read_acts_csv
from .event import Event
from .trackml import list_trackml_events, read_trackml

R = TypeVar("R")

_ACTS_RE = re.compile(r"^event(\d{9})-(measurements|hits)\.csv(\.gz)?$")


@dataclass(frozen=True)
class SimulatedEvent:
    """Event ``index`` of ``generate_events(..., mu=mu, seed=seed)``: the same event whatever
    the number of events, as :func:`helixkit.data.generate_events` guarantees."""

    index: int
    mu: float = 200.0
    seed: int = 0
    event_id: int | None = None
    overrides: tuple[tuple[str, Any], ...] = field(default=())

    @property
    def key(self) -> str:
        extra = "".join(f"-{k}{v}" for k, v in self.overrides)
        return f"sim-seed{self.seed}-mu{self.mu:g}{extra}-event{self.index:09d}"

    def load(self) -> Event:
        from .simulation import simulate_event  # noqa: PLC0415  (numba: where it runs)

        child = np.random.SeedSequence(self.seed, spawn_key=(self.index,))
        eid = self.index if self.event_id is None else self.event_id
        return simulate_event(mu=self.mu, seed=child, event_id=eid, **dict(self.overrides))


@dataclass(frozen=True)
class TrackMLEvent:
    """A TrackML event: ``directory`` and ``event_id`` (files ``event<9 digits>-hits.csv``...)."""

    directory: str
    event_id: int

    @property
    def key(self) -> str:
        return f"trackml-event{self.event_id:09d}"

    def load(self) -> Event:
        return read_trackml(self.directory, self.event_id)


@dataclass(frozen=True)
class ActsEvent:
    """An event written by the ACTS Examples CSV writers in ``directory``."""

    directory: str
    event: int

    @property
    def key(self) -> str:
        return f"acts-event{self.event:09d}"

    def load(self) -> Event:
        return read_acts_csv(self.directory, self.event)


@dataclass(frozen=True)
class InMemoryEvent:
    """An :class:`~helixkit.data.Event` passed as it is (shipped to the worker)."""

    event: Event

    @property
    def key(self) -> str:
        return f"event{self.event.event_id:09d}"

    def load(self) -> Event:
        return self.event


Source = SimulatedEvent | TrackMLEvent | ActsEvent | InMemoryEvent


def simulated_events(n_events: int, *, mu: float = 200.0, seed: int = 0,
                     first_event_id: int = 0, **overrides: Any) -> list[SimulatedEvent]:
    """The sources of ``generate_events(n_events, mu, seed, first_event_id=...)``, in order."""
    if isinstance(n_events, bool) or not isinstance(n_events, int) or n_events < 0:
        msg = f"n_events: must be an integer >= 0, got {n_events!r}"
        raise ValueError(msg)
    extra = tuple(sorted(overrides.items()))
    return [SimulatedEvent(k, mu=float(mu), seed=int(seed), event_id=first_event_id + k,
                           overrides=extra) for k in range(n_events)]


def expand_sources(sources: Iterable[Any], *, mu: float = 200.0, seed: int = 0) -> list[Source]:
    """Sources from what a user names: an int k (event k of the simulation at ``mu`` and
    ``seed``), a directory (all its TrackML events, or else all its ACTS CSV events), a
    TrackML event prefix (``dir/event000000001``), an :class:`~helixkit.data.Event`, or a
    source object. Checked here, before any work starts."""
    if isinstance(sources, (str, os.PathLike, Event)):
        sources = [sources]
    out: list[Source] = []
    for i, s in enumerate(sources):
        if isinstance(s, (SimulatedEvent, TrackMLEvent, ActsEvent, InMemoryEvent)):
            out.append(s)
        elif isinstance(s, Event):
            out.append(InMemoryEvent(s))
        elif isinstance(s, bool) or (not isinstance(s, int) and not isinstance(
                s, (str, os.PathLike))):
            msg = (f"sources[{i}]: expected an event index, a path, an Event or a source, "
                   f"got {type(s).__name__}")
            raise TypeError(msg)
        elif isinstance(s, int):
            if s < 0:
                msg = f"sources[{i}]: a simulated event index must be >= 0, got {s}"
                raise ValueError(msg)
            out.append(SimulatedEvent(s, mu=float(mu), seed=int(seed)))
        else:
            out.extend(_path_sources(Path(s), i))
    return out


def _path_sources(path: Path, i: int) -> list[Source]:
    if path.is_dir():
        ids = list_trackml_events(path)
        if ids:
            return [TrackMLEvent(str(path), e) for e in ids]
        acts = sorted({int(m.group(1)) for name in os.listdir(path)
                       if (m := _ACTS_RE.match(name))})
        if acts:
            return [ActsEvent(str(path), e) for e in acts]
        msg = f"sources[{i}]: {path} holds no TrackML or ACTS CSV events"
        raise ValueError(msg)
    m = re.match(r"^event(\d{9})$", path.name)
    if m and path.parent.is_dir() and int(m.group(1)) in list_trackml_events(path.parent):
        return [TrackMLEvent(str(path.parent), int(m.group(1)))]
    msg = (f"sources[{i}]: {path} is neither a directory of events nor a TrackML event prefix "
           "(dir/event<9 digits>) with a hits file")
    raise ValueError(msg)


class Mapper(Protocol):
    """``mapper(fn, sources) -> [fn(event, n_threads=...) for each source's event]``."""

    def __call__(self, fn: Callable[..., R], sources: Sequence[Any], /) -> list[R]: ...


def event_itself(event: Event, *, n_threads: int) -> Event:
    """The event as made where the mapper runs: ``mapper(event_itself, sources)`` simulates or
    reads the events there and returns them."""
    return event


def serial(fn: Callable[..., R], sources: Sequence[Any], /, *, n_threads: int = 0) -> list[R]:
    """The mapper that runs here, one event after the other."""
    return [fn(s.load(), n_threads=n_threads) for s in expand_sources(sources)]


__all__ = ["ActsEvent", "InMemoryEvent", "Mapper", "SimulatedEvent", "Source", "TrackMLEvent",
           "event_itself", "expand_sources", "serial", "simulated_events"]
