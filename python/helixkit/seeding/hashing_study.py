"""Study: hashing seeding against standard seeding on simulated dense events.

Scans ``bucket_size`` x ``phi_bins`` x ``metric`` (hashing at one
``max_seeds_per_spm``) and standard seeding at several ``max_seeds_per_spm``;
for each it measures efficiency, fake rate, duplication, seeds per event and
time per event (hashing: Annoy training and querying included), writes a
markdown table, ``hashing_study.json`` and PNG plots (scan, and performance vs
pT and eta).

Run ``helixkit study hashing --help`` or
``python -m helixkit.seeding.hashing_study --help``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..data import Event
from ..data.sources import Mapper
from ..report import Report, describe_sample
from .hashing import (
    HashingConfig,
    choose_seeding,
    find_seeds_hashing,
    find_seeds_hashing_in_event,
)
from .metrics import pool_events, pool_positions, seeding_metrics
from .plots import plot_seeding_performance
from .triplet import SeedFinderConfig, find_seeds, find_seeds_in_event

__all__ = ["demo_stage", "main", "register", "run_study"]


def _prepare(n_events: int, mu: float, seed: int) -> list[dict[str, Any]]:
    from ..data import simulate_event  # noqa: PLC0415  (numba: not at `helixkit --help`)

    out = []
    for i in range(n_events):
        ev = simulate_event(mu=mu, seed=seed + i, event_id=i)
        rows = np.flatnonzero(np.isin(ev.hits["volume_id"], ev.geometry.pixel_volumes))
        out.append({
            "event": ev,
            "rows": rows,
            "x": np.ascontiguousarray(ev.hits["x"][rows], dtype=np.float32),
            "y": np.ascontiguousarray(ev.hits["y"][rows], dtype=np.float32),
            "z": np.ascontiguousarray(ev.hits["z"][rows], dtype=np.float32),
        })
    return out


def _evaluate(
    events: list[dict[str, Any]], run: Any, repeats: int
) -> tuple[dict[str, Any], Any]:

    triplets, times, parts, summaries = [], [], [], []
    for ev in events:
        best, best_res = np.inf, None
        for _ in range(repeats):
            t0 = time.perf_counter()
            res = run(ev)
            dt = time.perf_counter() - t0
            if dt < best:
                best, best_res = dt, res
        triplets.append(ev["rows"][best_res.triplets])
        times.append(best)
        timing = getattr(best_res, "timing", None)  # breakdown of the fastest run
        if timing is not None:
            parts.append(timing.as_dict())
        buckets = getattr(best_res, "buckets", None)
        if buckets is not None:
            summaries.append(buckets.summary())
    trip, sp_pid, particles, sel = pool_events([e["event"] for e in events], triplets)
    m = seeding_metrics(trip, sp_pid, particles, sel)
    row: dict[str, Any] = {
        "efficiency": m.efficiency,
        "fake_rate": m.fake_rate,
        "duplication_rate": m.duplication_rate,
        "seeds_per_event": m.n_seeds / len(events),
        "ms_per_event": 1e3 * float(np.mean(times)),
    }
    if parts:
        for key in ("train", "query", "buckets", "seeding", "merge"):
            row[f"{key}_ms"] = 1e3 * float(np.mean([p[key] for p in parts]))
    if summaries:
        for key in ("n_buckets", "size_mean", "size_max", "coverage", "overlap"):
            row[f"bucket_{key}"] = float(np.mean([sm[key] for sm in summaries]))
    return row, m


def run_study(
    out_dir: str | Path = "hashing-study",
    *,
    n_events: int = 5,
    mu: float = 20.0,
    seed: int = 0,
    bucket_sizes: Sequence[int] = (50, 100, 200),
    phi_bins: Sequence[int] = (50, 100),
    metrics: Sequence[str] = ("phi", "phi_eta"),
    index: str = "native",
    hashing_max_seeds: int = 1,
    standard_max_seeds: Sequence[int] = (1, 2, 5),
    n_threads: int = 1,
    repeats: int = 3,
    plots: bool = True,
    auto: bool = False,
) -> list[dict[str, Any]]:
    """Run the scan and write ``hashing_study.md``, ``hashing_study.json`` and PNGs.

    ``auto``: two more rows, ``"hashing (rule)"`` (hashing at ``hashing_max_seeds``
    with :meth:`HashingConfig.for_density` of each event's pixel space points) and
    ``"auto"`` (what :func:`~helixkit.seeding.choose_seeding` picks per event: that
    hashing, or standard seeding at ``hashing_max_seeds``), with the choices and their
    reasons in the rows (``choices``) and under the table.

    Seeding config: ``SeedFinderConfig.acts_odd`` (ACTS ODD pu200, as the ACTS
    hashing script) with the given ``max_seeds_per_spm``; pixel volumes of the
    built-in TrackML-like simulation; particles with pT > 1 GeV, |eta| < 2.5
    and >= 3 pixel layers count for efficiency (as in ``helixkit demo``).
    Times are the best of ``repeats`` runs per event, averaged over events.
    """
    if n_events < 1 or repeats < 1:
        msg = f"n_events (={n_events}) and repeats (={repeats}) must be >= 1"
        raise ValueError(msg)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    events = _prepare(n_events, mu, seed)
    rows: list[dict[str, Any]] = []
    ms: dict[str, Any] = {}
    for m in standard_max_seeds:
        cfg = SeedFinderConfig.acts_odd(max_seeds_per_spm=int(m))
        row, met = _evaluate(
            events, lambda ev, c=cfg: find_seeds(ev["x"], ev["y"], ev["z"], c, n_threads=n_threads), repeats
        )
        row.update(method="standard", max_seeds_per_spm=int(m))
        rows.append(row)
        ms[f"standard m={m}"] = met
    hcfg_seed = SeedFinderConfig.acts_odd(max_seeds_per_spm=int(hashing_max_seeds))
    best_key, best_eff = None, -1.0
    for metric, bs, pb in itertools.product(metrics, bucket_sizes, phi_bins):
        hcfg = HashingConfig(bucket_size=int(bs), phi_bins=int(pb), metric=metric, index=index)
        row, met = _evaluate(
            events,
            lambda ev, h=hcfg: find_seeds_hashing(ev["x"], ev["y"], ev["z"], hcfg_seed, h, n_threads),
            repeats,
        )
        row.update(method="hashing", max_seeds_per_spm=int(hashing_max_seeds), metric=metric,
                   bucket_size=int(bs), phi_bins=int(pb), index=index)
        rows.append(row)
        key = f"hashing {metric} k={bs} phi_bins={pb} m={hashing_max_seeds}"
        ms[key] = met
        if row["efficiency"] > best_eff:
            best_key, best_eff = key, row["efficiency"]
    if auto:
        rows.extend(_auto_rows(events, hcfg_seed, int(hashing_max_seeds), index, n_threads,
                               repeats))
    info = {
        "n_events": n_events, "mu": mu, "seed": seed, "n_threads": n_threads, "repeats": repeats,
        "particles_per_event": float(np.mean([e["event"].particles.n_rows for e in events])),
        "space_points_per_event": float(np.mean([len(e["x"]) for e in events])),
        "selection": "pT > 1 GeV, |eta| < 2.5, >= 3 pixel layers",
    }
    (out / "hashing_study.json").write_text(json.dumps({"info": info, "rows": rows}, indent=1))
    (out / "hashing_study.md").write_text(format_table(rows, info))
    if plots:
        _plot_scan(rows, out / "hashing_scan.png")
        chosen = {k: v for k, v in ms.items() if k.startswith("standard")}
        if best_key is not None:
            chosen[best_key] = ms[best_key]
        plot_seeding_performance(chosen, out / "hashing_vs_standard.png",
                                 title="hashing vs standard seeding")
    return rows


def _auto_rows(events: list[dict[str, Any]], seed_cfg: SeedFinderConfig, max_seeds: int,
               index: str, n_threads: int, repeats: int) -> list[dict[str, Any]]:
    """The density rule's hashing row and the ``choose_seeding`` row of :func:`run_study`."""
    rules = [HashingConfig.for_density(len(ev["x"]), index=index) for ev in events]
    choices = [choose_seeding(len(ev["x"]), index=index) for ev in events]
    by_id = {id(ev): k for k, ev in enumerate(events)}

    def rule(ev: dict[str, Any]) -> Any:
        return find_seeds_hashing(ev["x"], ev["y"], ev["z"], seed_cfg, rules[by_id[id(ev)]],
                                  n_threads)

    def chosen(ev: dict[str, Any]) -> Any:
        ch = choices[by_id[id(ev)]]
        if ch.method == "hashing":
            return find_seeds_hashing(ev["x"], ev["y"], ev["z"], seed_cfg, ch.hashing_config,
                                      n_threads)
        return find_seeds(ev["x"], ev["y"], ev["z"], seed_cfg, n_threads=n_threads)

    out = []
    for method, run in (("hashing (rule)", rule), ("auto", chosen)):
        row, _ = _evaluate(events, run, repeats)
        row.update(method=method, max_seeds_per_spm=max_seeds, metric=rules[0].metric,
                   bucket_size=round(float(np.mean([r.bucket_size for r in rules]))),
                   phi_bins=rules[0].phi_bins, index=index,
                   choices=[{"method": c.method, "reason": c.reason} for c in choices])
        out.append(row)
    return out


def format_table(rows: list[dict[str, Any]], info: dict[str, Any]) -> str:
    """Markdown table of a study."""
    lines = [
        f"Events: {info['n_events']} x <mu> = {info['mu']:g} "
        f"({info['particles_per_event']:.0f} particles, {info['space_points_per_event']:.0f} pixel "
        f"space points per event); selection {info['selection']}; n_threads = {info['n_threads']}; "
        f"time = best of {info['repeats']} per event, mean over events.",
        "",
        "| method | m | metric | bucket_size | phi_bins | efficiency | fake rate | dup. rate "
        "| seeds/event | ms/event | train+query ms | seeding ms | buckets | bucket size (mean / max) "
        "| overlap | coverage |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        tq = r.get("train_ms", 0.0) + r.get("query_ms", 0.0)
        lines.append(
            f"| {r['method']} | {r['max_seeds_per_spm']} | {r.get('metric', '')} "
            f"| {r.get('bucket_size', '')} | {r.get('phi_bins', '')} | {r['efficiency']:.4f} "
            f"| {r['fake_rate']:.4f} | {r['duplication_rate']:.3f} | {r['seeds_per_event']:.0f} "
            f"| {r['ms_per_event']:.2f} | {tq:.2f} | {r.get('seeding_ms', r['ms_per_event']):.2f} "
            + (f"| {r['bucket_n_buckets']:.0f} | {r['bucket_size_mean']:.0f} / {r['bucket_size_max']:.0f} "
               f"| {r['bucket_overlap']:.2f} | {r['bucket_coverage']:.3f} |"
               if "bucket_overlap" in r else "| | | | |")
        )
    for r in rows:
        if r["method"] == "auto":
            lines += ["", "choose_seeding, per event (before seeding):"]
            lines += [f"- event {k}: {c['reason']}" for k, c in enumerate(r["choices"])]
    return "\n".join(lines) + "\n"


def _plot_scan(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    items = [("efficiency", "efficiency"), ("fake_rate", "fake rate"),
             ("seeds_per_event", "seeds / event"), ("ms_per_event", "time [ms/event]")]
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    hashing = [r for r in rows if r["method"] == "hashing"]
    series = sorted({(r["metric"], r["phi_bins"]) for r in hashing})
    for ax, (attr, label) in zip(axes.flat, items):
        for metric, pb in series:
            sel = sorted((r for r in hashing if r["metric"] == metric and r["phi_bins"] == pb),
                         key=lambda r: r["bucket_size"])
            ax.plot([r["bucket_size"] for r in sel], [r[attr] for r in sel], "o-",
                    label=f"hashing {metric}, {pb} phi bins")
        for r in rows:
            if r["method"] == "standard":
                ax.axhline(r[attr], ls="--", lw=1, color=f"C{5 + r['max_seeds_per_spm'] % 5}",
                           label=f"standard m={r['max_seeds_per_spm']}")
        ax.set_xlabel("bucket_size")
        ax.set_ylabel(label)
        ax.set_xscale("log")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def demo_stage(
    events: list[Event],
    report: Report,
    *,
    n_threads: int,
    seed: int,
    hashing_config: HashingConfig | str | None = None,
    mapper: Mapper | None = None,
) -> None:
    """``helixkit demo`` stage "hashing": hashing vs standard seeding on the demo events.

    Same signature as the demo's other stages. Runs standard seeding (ACTS ODD config) at
    maxSeedsPerSpM 1 and 5 and hashing seeding at maxSeedsPerSpM 1 with
    ``hashing_config``; default (None): ``HashingConfig(bucket_size=100, phi_bins=100)``
    (native Annoy index, metric "phi", ACTS's script values, the time-neutral choice at
    the demo's <mu> = 50). Not the density rule (``hashing_config="auto"``): it is
    calibrated on ACTS Fatras GenericDetector events and loses efficiency on the built-in
    detector at <mu> = 50 (docs/hashing.md). The stage's results also hold what
    :func:`~helixkit.seeding.choose_seeding` says for each event before seeding
    (``results["hashing"]["choice"]``: method and reason), shown in the table's title.
    """
    del seed  # the index seed is part of hashing_config
    hcfg: HashingConfig | str = (HashingConfig(bucket_size=100, phi_bins=100)
                                 if hashing_config is None else hashing_config)
    choices = [choose_seeding(ev, volumes=ev.geometry.pixel_volumes) for ev in events]
    methods = {
        "standard m=1": lambda ev: find_seeds_in_event(
            ev, SeedFinderConfig.acts_odd(max_seeds_per_spm=1),
            volumes=ev.geometry.pixel_volumes, n_threads=n_threads),
        "standard m=5": lambda ev: find_seeds_in_event(
            ev, SeedFinderConfig.acts_odd(max_seeds_per_spm=5),
            volumes=ev.geometry.pixel_volumes, n_threads=n_threads),
        "hashing m=1": lambda ev: find_seeds_hashing_in_event(
            ev, SeedFinderConfig.acts_odd(max_seeds_per_spm=1), hcfg, n_threads,
            volumes=ev.geometry.pixel_volumes),
    }
    rows, results, metrics = [], {}, {}
    for name, run in methods.items():
        trips, times = [], []
        for ev in events:
            t0 = time.perf_counter()
            res = run(ev)
            times.append(time.perf_counter() - t0)
            trips.append(res.triplets)
        m = seeding_metrics(*pool_events(events, trips), sp_xyz=pool_positions(events),
                            b_field_z=events[0].geometry.b_field_z)
        metrics[name] = m
        d = m.as_dict()
        d["ms_per_event"] = 1e3 * float(np.mean(times))
        results[name] = d
        rows.append([name, d["n_seeds"] / len(events), d["efficiency"], d["fake_rate"],
                     d["duplication_rate"], d["ms_per_event"]])
    used = [HashingConfig.for_density(int(np.isin(ev.hits["volume_id"],
                                                  ev.geometry.pixel_volumes).sum()))
            for ev in events] if hcfg == "auto" else [hcfg]
    first = used[0]
    results["hashing_config"] = {f: getattr(first, f) for f in first.__dataclass_fields__}
    results["choice"] = [{"method": c.method, "reason": c.reason} for c in choices]
    report.results["hashing"] = results
    sizes = sorted({c.bucket_size for c in used})
    what = ("density rule: " if hcfg == "auto" else "") + (
        f"{first.index}, metric {first.metric}, bucket_size "
        f"{'/'.join(map(str, sizes))}, {first.phi_bins} phi bins")
    report.table(
        f"Hashing seeding ({what}) vs standard seeding (ACTS ODD config, pixel volumes); "
        f"choose_seeding: {'; '.join(sorted({c.reason for c in choices}))}",
        rows, ["method", "seeds/event", "efficiency", "fake rate", "duplication rate", "ms/event"],
    )
    caption = (f"{describe_sample(report.results, len(events))} · selection: particles pT > 1 GeV, |η| < 2.5, "
               f"≥ 3 pixel layers · {first.index} buckets of {'/'.join(map(str, sizes))}")
    report.plot(plot_seeding_performance(metrics, report.out_dir / "hashing.png",
                                         title="hashing vs standard seeding", caption=caption))


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v]


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="hashing-study", help="output directory")
    p.add_argument("--events", type=int, default=5, help="number of simulated events")
    p.add_argument("--mu", type=float, default=20.0, help="pile-up <mu> (20: ~1000 particles/event)")
    p.add_argument("--seed", type=int, default=0, help="simulation seed of the first event")
    p.add_argument("--bucket-sizes", type=_ints, default=[50, 100, 200],
                   help="comma-separated bucket_size values (neighbours per query point)")
    p.add_argument("--phi-bins", type=_ints, default=[50, 100],
                   help="comma-separated phi_bins values (query points merged per phi bin); "
                   "dense events (<mu> = 200): try --bucket-sizes 300,350 --phi-bins 800")
    p.add_argument("--metrics", default="phi,phi_eta", help="comma-separated: phi, phi_eta")
    p.add_argument("--index", default="native", choices=("native", "annoy", "exact"),
                   help="neighbour index: Annoy's algorithm in C++ (native), the annoy package, or exact")
    p.add_argument("--hashing-max-seeds", type=int, default=1, help="maxSeedsPerSpM for hashing")
    p.add_argument("--standard-max-seeds", type=_ints, default=[1, 2, 5],
                   help="comma-separated maxSeedsPerSpM values of the standard-seeding peers")
    p.add_argument("--threads", type=int, default=1, help="threads for both methods (0 = all cores)")
    p.add_argument("--repeats", type=int, default=3, help="runs per event; the fastest is timed")
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--no-auto", dest="auto", action="store_false",
                   help="leave out the density rule's rows (HashingConfig.for_density, "
                        "choose_seeding)")


def _handler(args: argparse.Namespace) -> int:
    rows = run_study(
        args.out, n_events=args.events, mu=args.mu, seed=args.seed,
        bucket_sizes=args.bucket_sizes, phi_bins=args.phi_bins,
        metrics=[m for m in args.metrics.split(",") if m], index=args.index,
        hashing_max_seeds=args.hashing_max_seeds, standard_max_seeds=args.standard_max_seeds,
        n_threads=args.threads, repeats=args.repeats, plots=not args.no_plots, auto=args.auto,
    )
    print((Path(args.out) / "hashing_study.md").read_text())
    return 0 if rows else 1


def register(sub: Any) -> None:
    """Add ``hashing`` to the sub-parsers of ``helixkit study``."""
    p = sub.add_parser("hashing", help="scan hashing seeding vs standard seeding on simulated events")
    _add_arguments(p)
    p.set_defaults(func=_handler)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helixkit.seeding.hashing_study", description=__doc__)
    _add_arguments(parser)
    return _handler(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
