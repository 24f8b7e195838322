from __future__ import annotations

import numpy as np
import pytest

from helixkit import units as u
from helixkit.data import (
    CutFlow,
    Event,
    Table,
    format_cutflow,
    particle_hit_counts,
    select_particles,
    split_events,
)


def hand_event(primary: bool = True) -> Event:
    """Six particles whose cut outcomes are known by construction.

    pid  pT [GeV]  eta       vxy [mm]  hits (layers)      primary
    1    1.0       0         0         4 (4 layers)       yes   -> passes all defaults
    2    0.3       0         0         4                  yes   -> fails pT
    3    2.0       0.5       0         2                  yes   -> fails nhits
    4    5.0       2.0       0         3                  yes   -> fails eta
    5    1.0       0         5.0       3 (2 layers)       no    -> fails vxy
    6    12.0      0         0         3                  no    -> fails pT (upper)
    """
    pt = np.array([1.0, 0.3, 2.0, 5.0, 1.0, 12.0])
    eta = np.array([0, 0, 0.5, 2.0, 0, 0])
    phi = np.array([0.1, 1.0, 2.0, -1.0, -2.5, 3.0])
    parts = {
        "particle_id": np.arange(1, 7, dtype=np.int64),
        "particle_type": np.full(6, 211, np.int32),
        "vx": np.array([0, 0, 0, 0, 3.0, 0], np.float32),
        "vy": np.array([0, 0, 0, 0, 4.0, 0], np.float32),
        "vz": np.zeros(6, np.float32),
        "px": (pt * np.cos(phi)).astype(np.float32),
        "py": (pt * np.sin(phi)).astype(np.float32),
        "pz": (pt * np.sinh(eta)).astype(np.float32),
        "q": np.ones(6, np.int32),
        "nhits": np.zeros(6, np.int32),
    }
    if primary:
        parts["primary"] = np.array([1, 1, 1, 1, 0, 0], bool)
    hit_pid = [1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 6, 0, 0]
    # particle 5 has two hits on the same layer (volume 8, layer 2)
    layer = [2, 4, 6, 8, 2, 4, 6, 8, 2, 4, 2, 4, 6, 2, 2, 4, 2, 4, 6, 2, 4]
    n = len(hit_pid)
    hit_id = np.arange(1, n + 1, dtype=np.int64)
    hits = Table(
        {
            "hit_id": hit_id,
            "x": np.zeros(n, np.float32),
            "y": np.zeros(n, np.float32),
            "z": np.zeros(n, np.float32),
            "volume_id": np.full(n, 8, np.int32),
            "layer_id": np.array(layer, np.int32),
            "module_id": np.ones(n, np.int32),
        }
    )
    truth = Table(
        {
            "hit_id": hit_id,
            "particle_id": np.array(hit_pid, np.int64),
            **{c: np.zeros(n, np.float32) for c in ("tx", "ty", "tz", "tpx", "tpy", "tpz")},
            "weight": np.zeros(n, np.float32),
        }
    )
    return Event(hits=hits, truth=truth, particles=Table(parts))


def test_hit_counts() -> None:
    ev = hand_event()
    assert particle_hit_counts(ev).tolist() == [4, 4, 2, 3, 3, 3]
    assert particle_hit_counts(ev, distinct_layers=True).tolist() == [4, 4, 2, 3, 2, 3]


def test_default_cutflow() -> None:
    mask, flow = select_particles(hand_event())
    assert mask.tolist() == [True, False, False, False, False, False]
    assert isinstance(flow, CutFlow)
    assert flow == [
        ("all", 6),
        ("nhits >= 3", 5),  # drops 3
        ("0.5 <= pT < 10 GeV", 3),  # drops 2 and 6
        ("vxy <= 1 mm", 2),  # drops 5
        ("|eta| <= 1", 1),  # drops 4
    ]


def test_cuts_can_be_disabled_and_changed() -> None:
    ev = hand_event()
    mask, flow = select_particles(ev, min_hits=None, pt=None, max_vxy=None, max_abs_eta=None)
    assert mask.all()
    assert flow == [("all", 6)]
    mask, flow = select_particles(
        ev, min_hits=3, pt=(900 * u.MeV, None), max_vxy=None, max_abs_eta=2.5, primary_only=True
    )
    assert mask.tolist() == [True, False, False, True, False, False]
    assert [name for name, _ in flow] == ["all", "nhits >= 3", "pT >= 0.9 GeV", "|eta| <= 2.5", "primary"]
    mask, _ = select_particles(ev, min_hits=3, pt=None, max_vxy=None, max_abs_eta=None, distinct_layers=True)
    assert mask.tolist() == [True, True, False, True, False, True]


def test_beam_axis_particle_fails_eta_cut() -> None:
    ev = hand_event()
    parts = dict(ev.particles)
    parts["px"] = parts["px"].copy()
    parts["py"] = parts["py"].copy()
    parts["px"][0] = parts["py"][0] = 0.0
    ev2 = Event(hits=ev.hits, truth=ev.truth, particles=Table(parts))
    mask, _ = select_particles(ev2, min_hits=None, pt=None, max_vxy=None, max_abs_eta=4.0)
    assert not mask[0]


def test_invalid_selection_arguments() -> None:
    ev = hand_event(primary=False)
    with pytest.raises(ValueError, match="'primary' column"):
        select_particles(ev, primary_only=True)
    with pytest.raises(ValueError, match=r"pt must satisfy 0 <= min < max"):
        select_particles(ev, pt=(10, 1))
    with pytest.raises(ValueError, match="pt must be a"):
        select_particles(ev, pt=0.5)
    with pytest.raises(ValueError, match="min_hits must be a non-negative integer"):
        select_particles(ev, min_hits=2.5)
    with pytest.raises(ValueError, match="max_vxy must be a non-negative number"):
        select_particles(ev, max_vxy=-1)
    no_truth = Event(hits=ev.hits, particles=ev.particles)
    with pytest.raises(ValueError, match="min_hits needs truth"):
        select_particles(no_truth)
    mask, _ = select_particles(no_truth, min_hits=None)
    assert mask.tolist() == [True, False, True, False, False, False]  # 3 only failed nhits


def test_format_cutflow() -> None:
    _, flow = select_particles(hand_event())
    text = str(flow)
    lines = text.splitlines()
    assert lines[0].split() == ["cut", "left", "this", "cut", "cumulative"]
    assert lines[1].split() == ["all", "6", "100.0", "%", "100.0", "%"]
    assert lines[3].split()[-4:] == ["60.0", "%", "50.0", "%"]  # 3 of 5, 3 of 6
    assert len({len(line) for line in lines}) == 1  # aligned columns
    assert format_cutflow([("all", 0), ("x", 0)], title="empty").splitlines()[0] == "empty"
    assert "-" in format_cutflow([("all", 0), ("x", 0)]).splitlines()[2]


def test_split_events_is_deterministic_and_disjoint() -> None:
    ids = list(range(1000, 1100))
    train, val, test = split_events(ids)
    assert (len(train), len(val), len(test)) == (80, 10, 10)
    assert sorted(train + val + test) == ids
    assert not (set(train) & set(val) or set(train) & set(test) or set(val) & set(test))
    assert split_events(ids) == (train, val, test)
    assert split_events(list(reversed(ids)), seed=0) == (train, val, test)  # order-independent
    assert split_events(ids, seed=1) != (train, val, test)
    assert train == sorted(train)
    # not simply the first 80 ids
    assert train != ids[:80]


def test_split_sizes_and_validation() -> None:
    parts = split_events(np.arange(7), fractions=(0.5, 0.5))
    assert [len(p) for p in parts] == [4, 3]  # cumulative rounding: 3.5 -> 4, then 7
    assert split_events([], fractions=(0.8, 0.2)) == ([], [])
    assert split_events([3], fractions=(1.0,)) == ([3],)
    with pytest.raises(ValueError, match="sum to 1"):
        split_events([1, 2], fractions=(0.8, 0.1))
    with pytest.raises(ValueError, match="non-negative"):
        split_events([1, 2], fractions=(1.2, -0.2))
    with pytest.raises(ValueError, match="unique; 2 appears"):
        split_events([1, 2, 2])
    with pytest.raises(ValueError, match="integers"):
        split_events([1.5, 2.0])
