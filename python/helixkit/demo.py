"""The main job: ``helixkit demo``.

simulate → seed → fit → cluster → report, on the built-in simulation, with a
summary table (printed and written as Markdown/JSON) and PNG plots.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ._table import format_table

STAGES = ("seeding", "fitting", "clustering", "learned")


class _Report:
    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.sections: list[tuple[str, str]] = []
        self.results: dict[str, Any] = {}
        self.plots: list[str] = []

    def table(self, title: str, rows: list[list[Any]], headers: list[str]) -> None:
        print(f"\n== {title} ==")
        print(format_table(rows, headers))
        self.sections.append((title, format_table(rows, headers, markdown=True)))

    def plot(self, path: Path) -> None:
        self.plots.append(str(path.relative_to(self.out_dir)))

    def write(self) -> None:
        md = ["# helixkit demo report", ""]
        for title, table in self.sections:
            md += [f"## {title}", "", table, ""]
        if self.plots:
            md += ["## Plots", ""] + [f"![{p}]({p})" for p in self.plots] + [""]
        (self.out_dir / "report.md").write_text("\n".join(md))
        (self.out_dir / "results.json").write_text(json.dumps(self.results, indent=2, default=_json))


def _json(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def run_demo(
    out_dir: str | Path = "demo-output",
    *,
    n_events: int = 3,
    mu: float = 50.0,
    seed: int = 0,
    n_threads: int = 0,
    stages: tuple[str, ...] = STAGES,
    progress: bool = True,
) -> dict[str, Any]:
    """Run the demo chain and write ``report.md``, ``results.json`` and PNG plots to ``out_dir``."""
    from .data import generate_events  # noqa: PLC0415
    from .plots import plot_event  # noqa: PLC0415

    if n_events < 1:
        msg = f"n_events must be >= 1, got {n_events}"
        raise ValueError(msg)
    unknown = set(stages) - set(STAGES)
    if unknown:
        msg = f"unknown demo stage(s) {sorted(unknown)}; choose from {STAGES}"
        raise ValueError(msg)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = _Report(out)

    t0 = time.perf_counter()
    events = list(generate_events(n_events, mu=mu, seed=seed, progress=progress))
    t_sim = time.perf_counter() - t0
    rows = []
    for ev in events:
        s = ev.summary()
        rows.append([s["event_id"], s["hits"], s["particles"], s["noise_hits"]])
    report.table(
        f"Simulated events (<mu> = {mu:g}, {t_sim / n_events:.2f} s/event)",
        rows,
        ["event", "hits", "particles", "noise hits"],
    )
    report.results["simulation"] = {"mu": mu, "seconds_per_event": t_sim / n_events, "events": rows}
    report.plot(plot_event(events[0], out / "event_display.png"))

    for stage in stages:
        fn = _STAGE_FUNCS.get(stage)
        if fn is None:
            continue
        t0 = time.perf_counter()
        fn(events, report, n_threads=n_threads, seed=seed)
        print(f"[{stage}: {time.perf_counter() - t0:.2f} s]")

    report.write()
    print(f"\nreport: {out / 'report.md'}")
    return report.results


_STAGE_FUNCS: dict[str, Callable[..., None]] = {}
