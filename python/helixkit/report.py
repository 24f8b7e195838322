"""The report a run writes: tables (printed, and Markdown in ``report.md``), PNG plots and
a ``results.json`` — what ``helixkit demo`` and each system's demo stage fill."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ._table import format_table


class Report:
    """Tables and plots of one run in ``out_dir``; ``results`` is written as JSON."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.sections: list[tuple[str, str]] = []
        self.results: dict[str, Any] = {}
        self.plots: list[str] = []
        #: In-memory results one stage hands to a later one (not written).
        self.artifacts: dict[str, Any] = {}

    def table(self, title: str, rows: list[list[Any]], headers: list[str]) -> None:
        """Print a table and keep it (Markdown) for the report."""
        print(f"\n== {title} ==")
        print(format_table(rows, headers))
        self.sections.append((title, format_table(rows, headers, markdown=True)))

    def sample(self, n_events: int) -> str:
        """What the events are, for plot captions: the simulation's <mu> when this run
        simulated them, and the number of events."""
        sim = self.results.get("simulation")
        if isinstance(sim, dict) and "mu" in sim:
            return f"sample: built-in simulation, ⟨μ⟩ = {sim['mu']:g}, {n_events} events"
        return f"sample: {n_events} events"

    def plot(self, path: Path) -> None:
        """Add a PNG written under ``out_dir`` to the report."""
        self.plots.append(str(path.relative_to(self.out_dir)))

    def write(self) -> None:
        """Write ``report.md`` and ``results.json``."""
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


__all__ = ["Report"]
