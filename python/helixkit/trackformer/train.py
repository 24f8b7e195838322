"""Train the TrackFormer on the built-in simulation (``helixkit train trackformer --config
cfg.json``). A config file holds three optional sections, each checked strictly::

    {"data":  {"n_train_events": 40, "n_val_events": 5, "mu": 50, "seed": 0},
     "model": {"inputs": "r_dphi_z", "targets": "qopt_pz", "loss": "mse"},
     "train": {"epochs": 30, "batch_size": 1024, "lr": 5e-4}}
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data import Event, generate_events
from ..nn.training import Trainer, is_main_process, seed_everything, training_sections
from .model import (
    TrackFormer,
    TrackFormerConfig,
    TrackSequences,
    build_sequences,
    middle_hit_curvature,
)


def simulate(n: int, mu: float, seed: int, first: int) -> list[Event]:
    """``n`` simulated events (pile-up ``mu``, seed ``seed``, ids from ``first``)."""
    return list(generate_events(n, mu=mu, seed=seed, first_event_id=first))


def _tensors(seq: TrackSequences) -> tuple[torch.Tensor, ...]:
    return (torch.from_numpy(seq.hits), torch.from_numpy(seq.mask),
            torch.from_numpy(seq.targets.astype(np.float32)))


def train_trackformer(config: dict[str, Any], out_dir: str | Path, *, resume: bool = False,
                      progress: bool = True) -> TrackFormer:
    """Simulate, build sequences, train with early stopping; returns the best model."""
    data, mcfg, tcfg = training_sections(config, TrackFormerConfig, progress=progress)
    seed_everything(tcfg.seed)
    n_tr, n_va = data.n_train_events, data.n_val_events
    train_seq = build_sequences(simulate(n_tr, data.mu, data.seed, 0), mcfg,
                                strict_length=False)
    val_seq = build_sequences(simulate(n_va, data.mu, data.seed + 1, n_tr), mcfg,
                              strict_length=False)
    targets = train_seq.targets.copy()
    if mcfg.prior == "helix":  # least-squares q/pT = c·κ(three-point), then the residual's scale
        kappa = middle_hit_curvature(train_seq.hits, train_seq.mask)
        if not np.any(kappa):
            msg = "prior='helix': the training tracks have no curvature (all κ = 0)"
            raise ValueError(msg)
        mcfg.prior_coef = float(np.dot(kappa, targets[:, 0]) / np.dot(kappa, kappa))
        targets[:, 0] -= mcfg.prior_coef * kappa
    mcfg.target_mean = [float(v) for v in targets.mean(0)]
    mcfg.target_std = [float(v) for v in targets.std(0) + 1e-12]
    model = TrackFormer(mcfg)
    out = Path(out_dir)
    trainer = Trainer(model, lambda m, b: m.loss(b), tcfg, out)
    if resume:
        trainer.resume(out / "last.pt")
    trainer.fit(_tensors(train_seq), _tensors(val_seq))
    if is_main_process():        # rank 0 of a distributed training writes
        (out / "run_config.json").write_text(json.dumps(
            {"data": asdict(data), "model": asdict(mcfg), "train": asdict(tcfg)}, indent=1))
    return model


__all__ = ["simulate", "train_trackformer"]
