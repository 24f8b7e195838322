"""Train the hit tokeniser on the built-in simulation (``helixkit train hit_tokenizer --config
cfg.json``). A config file holds three optional sections, each checked strictly::

    {"data":  {"n_train_events": 20, "n_val_events": 3, "mu": 50, "seed": 0},
     "model": {"latent_dim": 4, "codebook_size": 2048, "levels": 4},
     "train": {"epochs": 20, "batch_size": 1024, "lr": 2e-3}}

The codebooks start from k-means on the untrained encoder's latents of (up to) 50,000
training hits; they then follow the encoder by their moving averages.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from ..data import Event, generate_events, geometry_from_hits
from ..data.sources import expand_sources
from ..nn.config import DataConfig
from ..nn.registry import pretrained
from ..nn.training import Trainer, is_main_process, seed_everything, training_sections
from .data import HitSample, hit_sample
from .model import HitTokenizer, HitTokenizerConfig
from .nexthit import (
    NextHitConfig,
    NextHitModel,
    TokenNextHitConfig,
    TokenNextHitModel,
    batch_tensors,
    tokenizer_digest,
)
from .sequences import track_sequences

#: Training hits the k-means initialisation of the codebooks runs on.
KMEANS_HITS = 50_000


def simulate(n: int, mu: float, seed: int, first: int) -> list[Event]:
    """``n`` simulated events (pile-up ``mu``, seed ``seed``, ids from ``first``)."""
    return list(generate_events(n, mu=mu, seed=seed, first_event_id=first))


def simulated_split(data: Any) -> tuple[list[Event], list[Event]]:
    """The training and validation events of a config's ``data`` section (different seeds)."""
    return (simulate(data.n_train_events, data.mu, data.seed, 0),
            simulate(data.n_val_events, data.mu, data.seed + 1, data.n_train_events))


@dataclass
class NextHitDataConfig(DataConfig):
    """The next-hit models' ``data`` section: the simulation's (:class:`DataConfig`), or
    ``events``: a directory of TrackML or ACTS CSV events, whose first ``n_train_events``
    train and next ``n_val_events`` validate (``mu`` and ``seed`` then unused). Events read
    without a geometry get one from their hits (:func:`~helixkit.data.geometry_from_hits`)."""

    events: str = ""

    def validate(self) -> None:
        super().validate()
        if self.events and not Path(self.events).is_dir():
            msg = f"config.data.events: {self.events!r} is not a directory"
            raise ValueError(msg)


def next_hit_events(data: NextHitDataConfig) -> tuple[list[Event], list[Event]]:
    """The training and validation events of a next-hit ``data`` section, with a geometry."""
    if not data.events:
        return simulated_split(data)
    sources = expand_sources([data.events])
    need = data.n_train_events + data.n_val_events
    if len(sources) < need:
        msg = (f"config.data.events: {data.events} holds {len(sources)} events, fewer than "
               f"n_train_events + n_val_events = {need}")
        raise ValueError(msg)
    evs = with_geometry([s.load() for s in sources[:need]])
    return evs[:data.n_train_events], evs[data.n_train_events:]


def with_geometry(events: list[Event]) -> list[Event]:
    """``events``, those without a geometry given one inferred from all of their hits."""
    if all(e.geometry is not None for e in events):
        return events
    geo = geometry_from_hits([e for e in events if e.geometry is None])
    return [e if e.geometry is not None else dataclasses.replace(e, geometry=geo)
            for e in events]


def _tensors(s: HitSample) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.from_numpy(s.xyz), torch.from_numpy(s.layer)


def _check_layers(model: HitTokenizer, s: HitSample, where: str) -> None:
    if model.config.layer_input and len(s) and int(s.layer.max()) >= model.config.n_layer_ids:
        msg = (f"{where}: layer index {int(s.layer.max())} >= model.n_layer_ids "
               f"({model.config.n_layer_ids}); raise n_layer_ids")
        raise ValueError(msg)


def train_hit_tokenizer(config: dict[str, Any], out_dir: str | Path, *, resume: bool = False,
                        progress: bool = True, events: tuple[list[Event], list[Event]] | None = None
                        ) -> HitTokenizer:
    """Simulate (or take ``events`` = (train, validation)), initialise the codebooks by
    k-means, train with early stopping; returns the best model (also ``out_dir/best.pt``)."""
    data, mcfg, tcfg = training_sections(
        config, HitTokenizerConfig, progress=progress,
        train_defaults={"batch_size": 1024, "lr": 2e-3, "weight_decay": 0.0})
    seed_everything(tcfg.seed)
    if events is not None:
        ev = with_geometry([*events[0], *events[1]])
        train_ev, val_ev = ev[:len(events[0])], ev[len(events[0]):]
    else:
        train_ev, val_ev = next_hit_events(data)
    train_s, val_s = hit_sample(train_ev), hit_sample(val_ev)
    model = HitTokenizer(mcfg)
    _check_layers(model, train_s, "training hits")
    _check_layers(model, val_s, "validation hits")
    out = Path(out_dir)
    trainer = Trainer(model, lambda m, b: m.loss(b), tcfg, out)
    if resume:
        trainer.resume(out / "last.pt")
    else:
        g = torch.Generator().manual_seed(tcfg.seed)
        pick = torch.randperm(len(train_s), generator=g)[:KMEANS_HITS]
        xyz, lay = _tensors(train_s)
        with torch.no_grad():
            z = model.encode_latent(xyz[pick], lay[pick] if mcfg.layer_input else None)
        model.quantizer.initialise(z, generator=g)
    trainer.fit(_tensors(train_s), _tensors(val_s))
    if is_main_process():
        (out / "run_config.json").write_text(json.dumps(
            {"data": asdict(data), "model": asdict(mcfg), "train": asdict(tcfg)}, indent=1))
    model.eval()      # (the trainer has loaded the best epoch's weights back)
    return model




def _next_hit_data(events: list[Event], tokenizer: Any, mcfg: Any) -> Any:
    return track_sequences(events, tokenizer, min_pt=NEXT_HIT_MIN_PT, max_len=mcfg.max_len,
                           priors=mcfg.helix_prior and mcfg.inputs == "full")


#: Tracks below this pT [GeV] are not trained on (loopers have no next-layer order).
NEXT_HIT_MIN_PT = 0.5


def train_next_hit(config: dict[str, Any], out_dir: str | Path, *, resume: bool = False,
                   progress: bool = True, tokenizer: HitTokenizer | None = None,
                   events: tuple[list[Event], list[Event]] | None = None,
                   model_name: str = "next_hit") -> Any:
    """Train a :class:`~helixkit.tokens.nexthit.NextHitModel` on the tracks (pT >= 0.5 GeV,
    >= 4 hits) of simulated events (or ``events`` = (train, validation)), tokenised by
    ``tokenizer`` (default: the shipped ``pretrained("hit_tokenizer")``); returns the best
    model (also ``out_dir/best.pt``). The model's codebook size, levels and tokeniser
    fingerprint are taken from the tokeniser. ``model_name="next_hit_tokens"``: the
    token-only baseline. Events read without a geometry (TrackML, ACTS CSV: ``data.events``
    or ``events``) get one inferred from their hits (:func:`with_geometry`)."""
    if model_name not in ("next_hit", "next_hit_tokens"):
        msg = f"model_name must be 'next_hit' or 'next_hit_tokens', got {model_name!r}"
        raise ValueError(msg)
    cls, cfg_cls = (NextHitModel, NextHitConfig) if model_name == "next_hit" else \
        (TokenNextHitModel, TokenNextHitConfig)
    data, mcfg, tcfg = training_sections(
        config, cfg_cls, progress=progress, data_config=NextHitDataConfig,
        train_defaults={"batch_size": 256, "lr": 1e-3, "weight_decay": 1e-4})
    tok = tokenizer if tokenizer is not None else pretrained("hit_tokenizer")
    tc = tok.config
    for field in ("codebook_size", "levels"):
        given = config.get("model", {}).get(field)
        if given is not None and given != getattr(tc, field):
            msg = (f"config.model.{field} = {given} differs from the tokeniser's "
                   f"{getattr(tc, field)} (leave it out: it is taken from the tokeniser)")
            raise ValueError(msg)
    mcfg.codebook_size, mcfg.levels, mcfg.tokenizer = tc.codebook_size, tc.levels, \
        tokenizer_digest(tok)
    seed_everything(tcfg.seed)
    if events is not None:
        ev = with_geometry([*events[0], *events[1]])
        train_ev, val_ev = ev[:len(events[0])], ev[len(events[0]):]
    else:
        train_ev, val_ev = next_hit_events(data)
    train_s, val_s = _next_hit_data(train_ev, tok, mcfg), _next_hit_data(val_ev, tok, mcfg)
    for name, s in (("training", train_s), ("validation", val_s)):
        if len(s) == 0:
            msg = f"{name} events: no tracks with >= 4 hits and pT >= {NEXT_HIT_MIN_PT} GeV"
            raise ValueError(msg)
        top = int(s.layer.max())
        if top >= mcfg.n_layer_ids:
            msg = (f"{name} tracks: layer index {top} >= model.n_layer_ids "
                   f"({mcfg.n_layer_ids}); raise n_layer_ids")
            raise ValueError(msg)
    model = cls(mcfg)
    out = Path(out_dir)
    trainer = Trainer(model, lambda m, b: m.loss(b), tcfg, out)
    if resume:
        trainer.resume(out / "last.pt")
    trainer.fit(batch_tensors(train_s), batch_tensors(val_s))
    if is_main_process():
        (out / "run_config.json").write_text(json.dumps(
            {"data": asdict(data), "model": asdict(mcfg), "train": asdict(tcfg),
             "tracks": {"train": len(train_s), "validation": len(val_s)}}, indent=1))
    model.eval()
    return model


__all__ = ["KMEANS_HITS", "NEXT_HIT_MIN_PT", "NextHitDataConfig", "next_hit_events", "simulate",
           "simulated_split", "train_hit_tokenizer", "train_next_hit", "with_geometry"]
