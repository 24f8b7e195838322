"""DeepCore's ``helixkit demo`` stage: the shipped ``pretrained("deepcore")`` next to the
standard seeding and the JetCore-like splitting in the cores of a few TeV jets."""

from __future__ import annotations

from ..data import Event
from ..data.sources import Mapper
from ..nn.registry import pretrained
from ..report import Report
from .plots import plot_efficiencies, plot_prediction
from .simulation import simulate_jets
from .study import (
    EFFICIENCY_HEADERS,
    RESOLUTION_HEADERS,
    compare_methods,
    dense_window,
    efficiency_rows,
    resolution_metrics,
    resolution_rows,
)

#: Jets of the demo (a jet region is its own event: the demo's tracking events have no
#: TeV jets).
N_JETS = 8
JET_PT = (1000.0, 3000.0)


def demo_stage(events: list[Event], report: Report, *, n_threads: int, seed: int,
               mapper: Mapper | None = None) -> None:
    """Seeding in the cores of ``N_JETS`` simulated 1-3 TeV jets (its own events, seed
    derived from ``seed``): efficiency, fakes, duplicates, time per method; DeepCore's
    crossing resolutions; an efficiency plot and one dense window's predicted TCP maps."""
    model = pretrained("deepcore")
    jets = simulate_jets(N_JETS, jet_pt=JET_PT, seed=1000 + int(seed))
    results, win = compare_methods(jets, model)
    report.table(
        f"Jet-core seeding (DeepCore, shipped pretrained('deepcore'), vs the standard triplet "
        f"seeding and a JetCore-like cluster splitting; {N_JETS} jets with pT "
        f"{JET_PT[0]:.0f}-{JET_PT[1]:.0f} GeV, particles within ΔR 0.1 of the axis; "
        f"{len(win):,} windows)",
        efficiency_rows(results, N_JETS), EFFICIENCY_HEADERS)
    res_m = resolution_metrics(results["deepcore"])
    report.table("DeepCore crossing resolution on BPIX2 (nearest crossing within 3 pixels)",
                 resolution_rows(res_m), RESOLUTION_HEADERS)
    report.results["deepcore"] = {
        "methods": {k: r.summary(10.0) for k, r in results.items()}, "resolution": res_m}
    report.plot(plot_efficiencies(results, report.out_dir / "deepcore_efficiency.png",
                                  title=f"{N_JETS} jets (demo)"))
    if len(win):
        i = dense_window(win)
        prob, params = model.predict(win.charge[i:i + 1], win.jet[i:i + 1])
        report.plot(plot_prediction(win, i, prob[0], params[0],
                                    report.out_dir / "deepcore_window.png"))


__all__ = ["demo_stage"]
