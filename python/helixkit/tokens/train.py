"""Train the hit tokeniser on the built-in simulation (``helixkit train hit_tokenizer --config
cfg.json``). A config file holds three optional sections, each checked strictly::

    {"data":  {"n_train_events": 20, "n_val_events": 3, "mu": 50, "seed": 0},
     "model": {"latent_dim": 4, "codebook_size": 2048, "levels": 4},
     "train": {"epochs": 20, "batch_size": 1024, "lr": 2e-3}}

The codebooks start from k-means on the untrained encoder's latents of (up to) 50,000
training hits; they then follow the encoder by their moving averages.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from ..data import Event, generate_events
from ..nn.training import Trainer, is_main_process, seed_everything, training_sections
from .data import HitSample, hit_sample
from .model import HitTokenizer, HitTokenizerConfig

#: Training hits the k-means initialisation of the codebooks runs on.
KMEANS_HITS = 50_000


def simulate(n: int, mu: float, seed: int, first: int) -> list[Event]:
    """``n`` simulated events (pile-up ``mu``, seed ``seed``, ids from ``first``)."""
    return list(generate_events(n, mu=mu, seed=seed, first_event_id=first))


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
    if events is None:
        train_ev = simulate(data.n_train_events, data.mu, data.seed, 0)
        val_ev = simulate(data.n_val_events, data.mu, data.seed + 1, data.n_train_events)
    else:
        train_ev, val_ev = events
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


__all__ = ["KMEANS_HITS", "simulate", "train_hit_tokenizer"]
