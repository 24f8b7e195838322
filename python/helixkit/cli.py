"""The ``helixkit`` command line interface.

Top of the layer picture (docs/architecture.md): the kernels' commands (``info``, ``demo``,
``simulate``, ``study``) are defined here or by their package, and every ML system adds its
models to ``train`` / ``evaluate`` through its ``cli.COMMANDS``
(:class:`helixkit._commands.SystemCommands`). Nothing here imports torch: ``helixkit
--help`` stays fast.
"""

from __future__ import annotations

import argparse
import functools
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__, hardware_threads
from ._commands import SystemCommands
from .deepcore import cli as deepcore_cli
from .finding import study as tracking_study
from .interpret import cli as interpret_cli
from .learned import cli as learned_cli
from .seeding import hashing_study
from .tokens import cli as tokens_cli
from .trackformer import cli as trackformer_cli

#: The ML systems, in the order their models are listed.
SYSTEMS: tuple[SystemCommands, ...] = (trackformer_cli.COMMANDS, learned_cli.COMMANDS,
                                       tokens_cli.COMMANDS, deepcore_cli.COMMANDS)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="helixkit",
        description="Fast track reconstruction kernels, ML models and metrics.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

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
    _add_workers(p)
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
    _add_workers(p)
    p.set_defaults(func=_simulate)

    st = sub.add_parser("study", help="performance studies (hashing seeding scan, seeding "
                        "choices at track level, tokeniser codebook sizes)")
    studies = st.add_subparsers(dest="study", metavar="STUDY")
    hashing_study.register(studies)
    tracking_study.register(studies)
    tokens_cli.register(studies)

    _add_train_evaluate(sub)
    for system in SYSTEMS:
        if system.register is not None:
            system.register(sub)
    interpret_cli.register(sub)
    return parser


def _add_train_evaluate(sub: argparse._SubParsersAction) -> None:
    """``train`` / ``evaluate``: one positional MODEL over every system's models."""
    train_models = [m for s in SYSTEMS for m in s.train_models]
    p = sub.add_parser(
        "train", help=f"train a model ({', '.join(train_models)})",
        description="Train on the built-in simulation. "
        + "; ".join(s.train_help for s in SYSTEMS if s.train_models) + ".")
    p.add_argument("model", choices=train_models)
    p.add_argument("--config", help="JSON config file (sections checked strictly)")
    p.add_argument("--out", default=None, help="run directory (default: runs/MODEL)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--nproc", type=int, default=1,
                   help="training processes on this machine, PyTorch DistributedDataParallel "
                        "(gloo on CPU; default: 1 = the single-process training); for several "
                        "machines run under torchrun instead")
    p.set_defaults(func=_train)

    eval_models = [m for s in SYSTEMS for m in s.evaluate_models]
    mu_defaults = "; ".join(f"{s.evaluate_mu:g} {', '.join(s.evaluate_models)}"
                            for s in SYSTEMS if s.evaluate_models)
    p = sub.add_parser("evaluate", help="evaluate a trained model ("
                       + "; ".join(s.evaluate_help for s in SYSTEMS if s.evaluate_models) + ")")
    p.add_argument("model", choices=eval_models)
    p.add_argument("--checkpoint", default=None,
                   help="model checkpoint (default: the shipped pretrained model)")
    p.add_argument("--events", type=int, default=5)
    p.add_argument("--mu", type=float, default=None,
                   help=f"pile-up of the test events (default: {mu_defaults})")
    p.add_argument("--seed", type=int, default=12345)
    p.add_argument("--out", default=None, help="write JSON + plots here")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    _add_workers(p)
    options = [(s, s.add_evaluate_options(p)) for s in SYSTEMS
               if s.add_evaluate_options is not None]
    p.set_defaults(func=_evaluate, system_options=options)


def _add_workers(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("scale-out (Dask; pip install 'helixkit[distributed]')")
    g.add_argument("--workers", type=int, default=None,
                   help="spread the events over N worker processes of a local Dask cluster "
                        "(workers x threads = cores); same results as the serial run")
    g.add_argument("--scheduler", default=None,
                   help="address of a running Dask scheduler (e.g. tcp://host:8786) to run "
                        "the events on")


def _mapper(args: argparse.Namespace) -> Any:
    """The event mapper that --workers / --scheduler ask for (None: serial), checked
    before any work starts."""
    workers, scheduler = getattr(args, "workers", None), getattr(args, "scheduler", None)
    if workers is None and scheduler is None:
        return None
    if workers is not None and (workers < 1 or scheduler is not None):
        msg = (f"--workers must be >= 1, got {workers}" if workers < 1 else
               "--workers and --scheduler: give one (a scheduler has its own workers)")
        raise ValueError(msg)
    from .distributed import event_mapper  # noqa: PLC0415  (dask)

    mapper = event_mapper(scheduler=scheduler, n_workers=workers,
                          progress=not getattr(args, "no_progress", False))
    if scheduler is not None:
        mapper.connect()        # now: an unreachable scheduler fails before any work
    return mapper


def _with_mapper(run: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    args.mapper = _mapper(args)
    try:
        return run(args)
    finally:
        if args.mapper is not None:
            args.mapper.close()


def _system(model: str, kind: str) -> SystemCommands:
    for s in SYSTEMS:
        if model in (s.train_models if kind == "train" else s.evaluate_models):
            return s
    msg = f"{kind}: no system provides model {model!r}"
    raise ValueError(msg)


def _train(args: argparse.Namespace) -> int:
    system = _system(args.model, "train")
    if args.nproc < 1:
        msg = f"--nproc must be >= 1, got {args.nproc}"
        raise ValueError(msg)
    if args.nproc == 1:
        from .distributed.ddp import init_from_env  # noqa: PLC0415  (torch)

        init_from_env()          # under torchrun: join its process group
        return system.train(args)
    from .distributed.ddp import launch  # noqa: PLC0415  (torch)

    args.no_progress = True      # one bar per process would interleave
    launch(_train_rank, args.nproc, system.train, args)
    return 0


def _train_rank(train: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> None:
    train(args)


def _evaluate(args: argparse.Namespace) -> int:
    # a system's own options are an error with another model
    for s, options in args.system_options:
        if args.model not in s.options_for and any(getattr(args, d) is not None
                                                   for _, d in options):
            msg = (f"{' / '.join(f for f, _ in options)}: only for "
                   f"'evaluate {' / '.join(s.options_for)}', not {args.model}")
            raise ValueError(msg)
    system = _system(args.model, "evaluate")
    args.mu = system.evaluate_mu if args.mu is None else args.mu
    return _with_mapper(system.evaluate, args)


def _info(args: argparse.Namespace) -> int:
    print(f"helixkit {__version__}; numpy {np.__version__}; threads {hardware_threads()}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .demo import STAGES, run_demo  # noqa: PLC0415  (the demo imports torch)

    stages = STAGES if args.stages is None else tuple(s for s in args.stages.split(",") if s)

    def run(args: argparse.Namespace) -> int:
        run_demo(
            args.out,
            n_events=args.events,
            mu=args.mu,
            seed=args.seed,
            n_threads=args.threads,
            stages=stages,
            progress=not args.no_progress,
            mapper=args.mapper,
        )
        return 0

    return _with_mapper(run, args)


def _simulate(args: argparse.Namespace) -> int:
    from .data import generate_events, write_trackml  # noqa: PLC0415  (numba)

    if args.events < 1:
        msg = f"--events must be >= 1, got {args.events}"
        raise ValueError(msg)
    if args.workers is not None or args.scheduler is not None:
        return _with_mapper(_simulate_distributed, args)
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


def _simulate_distributed(args: argparse.Namespace) -> int:
    """``simulate --workers N``: each worker simulates and writes its events; the files are
    those of the serial run. A marker per finished event (removed at the end) lets a rerun
    after a crash skip what is done."""
    from .data import simulated_events  # noqa: PLC0415
    from .distributed import map_events  # noqa: PLC0415  (dask)

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        msg = f"--out: {out} exists and is not a directory"
        raise ValueError(msg)
    sources = simulated_events(args.events, mu=args.mu, seed=args.seed,
                               first_event_id=args.first_event)
    marks = out / ".helixkit-done"
    map_events(functools.partial(_write_event, out=str(out), compress=args.gzip), sources,
               scheduler=args.scheduler, n_workers=args.workers, out_dir=marks,
               progress=not args.no_progress)
    shutil.rmtree(marks, ignore_errors=True)
    print(f"wrote {len(sources)} events to {args.out}")
    return 0


def _write_event(event: Any, *, n_threads: int, out: str, compress: bool) -> int:
    from .data import write_trackml  # noqa: PLC0415

    write_trackml(event, out, compress=compress)
    return event.n_hits


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.version:
        print(__version__)
        return 0
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except (ValueError, TypeError) as exc:
        # bad input (docs/reliability.md): one line naming what is wrong, exit code 2
        print(f"helixkit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        # an output directory that is a file or not writable, a missing checkpoint, ...
        where = f": {exc.filename}" if exc.filename else ""
        what = exc.strerror or str(exc)
        print(f"helixkit {args.command}: error: {what}{where}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
