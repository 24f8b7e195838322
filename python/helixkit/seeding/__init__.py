"""Track seeding: ACTS-style grid triplet seed finder + seed filter, and seeding metrics.

Quick start::

    from helixkit import seeding, units as u
    cfg = seeding.SeedFinderConfig(min_pt=500 * u.MeV, delta_r_max=300 * u.mm)
    res = seeding.find_seeds(x, y, z, cfg)          # res.triplets: (M, 3) int64
    m = seeding.seeding_metrics(res.triplets, pid_of_sp, particles, selection)
"""

from __future__ import annotations

from .hashing import (
    HASHING_MIN_SPACE_POINTS,
    Buckets,
    HashingConfig,
    HashingResult,
    HashingTiming,
    SeedingChoice,
    build_buckets,
    choose_seeding,
    find_seeds_auto_in_event,
    find_seeds_hashing,
    find_seeds_hashing_in_event,
)
from .metrics import (
    BinnedSeedingMetrics,
    SeedingMetrics,
    pool_events,
    pool_positions,
    seeding_metrics,
    seeding_particles,
)
from .plots import plot_seeding_performance
from .triplet import (
    DEFAULT_VARIANCE_R,
    DEFAULT_VARIANCE_Z,
    SeedConfirmationRange,
    SeedFinderConfig,
    SeedingResult,
    find_seeds,
    find_seeds_in_buckets,
    find_seeds_in_event,
    seeding_grid,
)

__all__ = [
    "HASHING_MIN_SPACE_POINTS",
    "Buckets",
    "HashingConfig",
    "HashingResult",
    "HashingTiming",
    "SeedingChoice",
    "build_buckets",
    "choose_seeding",
    "find_seeds_auto_in_event",
    "find_seeds_hashing",
    "find_seeds_hashing_in_event",
    "DEFAULT_VARIANCE_R",
    "DEFAULT_VARIANCE_Z",
    "BinnedSeedingMetrics",
    "SeedConfirmationRange",
    "SeedFinderConfig",
    "SeedingMetrics",
    "SeedingResult",
    "find_seeds",
    "find_seeds_in_buckets",
    "find_seeds_in_event",
    "plot_seeding_performance",
    "pool_events",
    "pool_positions",
    "seeding_grid",
    "seeding_metrics",
    "seeding_particles",
]
