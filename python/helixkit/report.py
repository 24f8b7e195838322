"""The report a run writes: tables (printed, and Markdown in ``report.md``), PNG plots,
a self-contained ``report.html`` (the same tables, the PNGs embedded as base64, so the one
file opens in any browser) and a ``results.json`` — what ``helixkit demo`` and each system's
demo stage fill."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

import numpy as np

from ._table import _fmt, format_table


class Report:
    """Tables and plots of one run in ``out_dir``; ``results`` is written as JSON."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.sections: list[tuple[str, str]] = []
        #: the tables as (title, headers, formatted rows), for report.html
        self.html_tables: list[tuple[str, list[str], list[list[str]]]] = []
        self.results: dict[str, Any] = {}
        self.plots: list[str] = []
        #: In-memory results one stage hands to a later one (not written).
        self.artifacts: dict[str, Any] = {}

    def table(self, title: str, rows: list[list[Any]], headers: list[str]) -> None:
        """Print a table and keep it (Markdown) for the report."""
        print(f"\n== {title} ==")
        print(format_table(rows, headers))
        self.sections.append((title, format_table(rows, headers, markdown=True)))
        self.html_tables.append((title, list(headers), [[_fmt(v) for v in r] for r in rows]))

    def sample(self, n_events: int) -> str:
        """What the events are, for plot captions (:func:`describe_sample`)."""
        return describe_sample(self.results, n_events)

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
        self.write_html()
        (self.out_dir / "results.json").write_text(json.dumps(self.results, indent=2, default=_json))

    def write_html(self, name: str = "report.html") -> Path:
        """A self-contained HTML page: every table, and every plot embedded as a base64 PNG."""
        esc = html.escape
        out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
               "<title>helixkit demo report</title>",
               "<style>body{font-family:sans-serif;margin:2em;max-width:1400px}"
               "table{border-collapse:collapse;margin:0.5em 0 1.5em}"
               "th,td{border:1px solid #bbb;padding:3px 8px;text-align:right}"
               "th{background:#eee}img{max-width:100%;border:1px solid #ddd}"
               "figure{margin:1em 0 2em}</style>",
               "</head>", "<body>", "<h1>helixkit demo report</h1>"]
        for title, headers, rows in self.html_tables:
            out += [f"<h2>{esc(title)}</h2>", "<table>",
                    "<tr>" + "".join(f"<th>{esc(h)}</th>" for h in headers) + "</tr>"]
            out += ["<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in rows]
            out.append("</table>")
        if self.plots:
            out.append("<h2>Plots</h2>")
        for p in self.plots:
            data = base64.b64encode((self.out_dir / p).read_bytes()).decode("ascii")
            out += ["<figure>", f'<img src="data:image/png;base64,{data}" alt="{esc(p)}">',
                    f"<figcaption>{esc(p)}</figcaption>", "</figure>"]
        out += ["</body>", "</html>", ""]
        path = self.out_dir / name
        path.write_text("\n".join(out), encoding="utf-8")
        return path


def describe_sample(results: dict[str, Any], n_events: int) -> str:
    """"sample: built-in simulation, <mu> = 50, 3 events" when a run's ``results`` hold the
    simulation's settings (the demo's first stage), else "sample: 3 events"."""
    sim = results.get("simulation")
    if isinstance(sim, dict) and "mu" in sim:
        return f"sample: built-in simulation, ⟨μ⟩ = {sim['mu']:g}, {n_events} events"
    return f"sample: {n_events} events"


def _json(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


__all__ = ["Report", "describe_sample"]
