"""Sub-commands of the ``helixkit`` CLI (each registers its own parser)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("info", help="print build information (threads, versions)")
    p.set_defaults(func=_info)

    p = sub.add_parser(
        "demo",
        help="simulate -> seed -> fit -> cluster -> report, on the built-in simulation",
        description="Run the main helixkit chain on simulated events and write a report with plots.",
    )
    p.add_argument("--out", default="demo-output", help="output directory (default: %(default)s)")
    p.add_argument("--events", type=int, default=3, help="number of events (default: %(default)s)")
    p.add_argument("--mu", type=float, default=50.0, help="mean pile-up <mu> (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p.add_argument("--threads", type=int, default=0, help="worker threads, 0 = all cores")
    p.add_argument(
        "--stages",
        default=None,
        help="comma-separated subset of stages to run after the simulation (default: all)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=_demo)

    p = sub.add_parser(
        "simulate",
        help="simulate events with the built-in detector and write TrackML CSV",
        description="Simulate pile-up events in the built-in TrackML-like detector (2 T) "
        "and write them as TrackML CSV files (event<9 digits>-{hits,particles,truth}.csv).",
    )
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--events", type=int, default=10, help="number of events (default: %(default)s)")
    p.add_argument("--mu", type=float, default=200.0, help="mean pile-up <mu> (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p.add_argument("--first-event", type=int, default=0, help="first event id (default: 0)")
    p.add_argument("--gzip", action="store_true", help="write .csv.gz")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=_simulate)

    from .seeding import hashing_study  # noqa: PLC0415
    from .training import trackformer as _tf  # noqa: PLC0415

    st = sub.add_parser("study", help="performance studies (hashing seeding scan)")
    hashing_study.register(st.add_subparsers(dest="study", metavar="STUDY"))

    _tf.register(sub)


def _info(args: argparse.Namespace) -> int:
    import numpy as np  # noqa: PLC0415

    from . import __version__, hardware_threads  # noqa: PLC0415

    print(f"helixkit {__version__}; numpy {np.__version__}; threads {hardware_threads()}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .demo import STAGES, run_demo  # noqa: PLC0415

    stages = STAGES if args.stages is None else tuple(s for s in args.stages.split(",") if s)
    run_demo(
        args.out,
        n_events=args.events,
        mu=args.mu,
        seed=args.seed,
        n_threads=args.threads,
        stages=stages,
        progress=not args.no_progress,
    )
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from .data import generate_events, write_trackml  # noqa: PLC0415

    if args.events < 1:
        msg = f"--events must be >= 1, got {args.events}"
        raise ValueError(msg)
    n = 0
    for ev in generate_events(
        args.events,
        mu=args.mu,
        seed=args.seed,
        first_event_id=args.first_event,
        progress=not args.no_progress,
    ):
        write_trackml(ev, args.out, compress=args.gzip)
        n += 1
    print(f"wrote {n} events to {args.out}")
    return 0
