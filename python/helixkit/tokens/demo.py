"""The hit tokeniser's ``helixkit demo`` stage: the shipped tokeniser on the demo events."""

from __future__ import annotations

from ..data import Event
from ..data.sources import Mapper
from ..nn.registry import pretrained
from ..report import Report
from .data import hit_sample
from .evaluate import tokenizer_metrics


def demo_stage(events: list[Event], report: Report, *, n_threads: int, seed: int,
               mapper: Mapper | None = None) -> None:
    """``pretrained("hit_tokenizer")`` on every hit of the demo events: reconstruction error
    per coordinate, codebook use per level, the same-token rate, throughput."""
    model = pretrained("hit_tokenizer")
    sample = hit_sample(events)
    m = tokenizer_metrics(model, sample, per_layer=False)
    cfg = model.config
    rows = [[c, f"{m[f'rms_{c}']:.3f}", f"{m[f'q68_{c}']:.3f}"] for c in ("rphi", "z", "r")]
    rows.append(["3-D", f"{m['rms_3d']:.3f}", "-"])
    use = ", ".join(f"{100 * u:.1f}" for u in m["code_usage"])
    report.table(
        f"Hit tokeniser (shipped pretrained('hit_tokenizer'): {cfg.levels} levels x "
        f"{cfg.codebook_size} codes, latent dim {cfg.latent_dim}; {m['n_hits']:,} hits; codes "
        f"used per level {use} %; tracks with two hits on one level-0 token "
        f"{100 * m['same_token_tracks_level0']:.1f} %; {m['hits_per_second']:.3g} hits/s)",
        rows, ["coordinate", "RMS error [mm]", "68 % of |error| [mm]"])
    report.results["tokens"] = {k: v for k, v in m.items() if not k.startswith("_")}


__all__ = ["demo_stage"]
