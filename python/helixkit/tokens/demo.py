"""The tokens system's ``helixkit demo`` stage: the shipped tokeniser, next-hit model and
token-only model on the demo events."""

from __future__ import annotations

from ..data import Event
from ..data.sources import Mapper
from ..nn.registry import pretrained
from ..report import Report
from .data import hit_sample
from .evaluate import (
    FOLLOW_HEADERS,
    NEXT_HIT_HEADERS,
    compare_next_hit,
    following_rows,
    following_study,
    next_hit_rows,
    public_metrics,
    tokenizer_metrics,
)


def demo_stage(events: list[Event], report: Report, *, n_threads: int, seed: int,
               mapper: Mapper | None = None) -> None:
    """``pretrained("hit_tokenizer")`` on every hit of the demo events: reconstruction error
    per coordinate, codebook use per level, the same-token rate, throughput; then
    ``pretrained("next_hit")`` next to the token-only model and the helix (next-hit error on
    the tracks with pT > 1 GeV) and track following from truth seeds, model vs helix."""
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
    report.results["tokens"] = public_metrics(m)
    _next_hit(events, report, model)


def _next_hit(events: list[Event], report: Report, tokenizer: object) -> None:
    model, token_model = pretrained("next_hit"), pretrained("next_hit_tokens")
    m = compare_next_hit(events, model, token_model, tokenizer)
    f = following_study(events, model, tokenizer)
    report.table(
        f"Next-hit prediction (shipped pretrained('next_hit') vs the token-only model, the "
        f"helix through the last three hits and the helix through the first, middle and last "
        f"hits (lever arm); {m['n_tracks']:,} tracks with pT > 1 GeV, every "
        f"step after three hits; model {m['tracks_per_second']:.3g} tracks/s)",
        next_hit_rows(m), NEXT_HIT_HEADERS)
    report.table(
        "Track following from 3-hit truth seeds (pT > 1 GeV): predict the next layer and "
        "position, take the best hit inside a 10 mm window, one hole allowed",
        [row[1:] for row in following_rows({0.0: f})], FOLLOW_HEADERS[1:])
    report.results["next_hit"] = {
        "metrics": {k: v for k, v in m.items() if k not in ("by_step", "by_layer")},
        "following": {n: public_metrics(r) for n, r in f.items()}}


__all__ = ["demo_stage"]
