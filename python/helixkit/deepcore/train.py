"""Train the DeepCore CNN (``train_deepcore(config, out_dir)``). A config holds three optional
sections, each checked strictly::

    {"data":  {"n_train_jets": 1000, "n_val_jets": 100, "seed": 0,
               "jet_pt": [500, 3000], "pileup_tracks": 40},
     "model": {"trunk_channels": [12, 12, 12], "pos_weight": 10, "roi": "soft"},
     "train": {"epochs": 20, "batch_size": 128, "lr": 1e-3}}

The ``data`` section simulates jets (:func:`helixkit.deepcore.simulate_jets`, training and
validation jets from one seed, disjoint: the validation jets continue the training ones) and
cuts them into windows (:func:`helixkit.deepcore.jet_windows`); ``windows=(train, val)``
trains on windows made elsewhere instead (any objects with numpy attributes ``charge``,
``jet``, ``tcp``, ``params`` and ``__len__``). Checkpoints (``last.pt``, ``best.pt``), the
history (CSV, JSON, loss PNG) and ``run_config.json`` go to ``out_dir``.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from .. import units as u
from .._validation import require
from ..nn.training import Trainer, is_main_process, seed_everything, training_sections
from .model import DeepCoreConfig, DeepCoreModel
from .simulation import simulate_jets
from .windows import N_LAYERS, N_OVERLAPS, N_PARAMS, WINDOW, jet_windows

#: The ``train`` section's defaults for DeepCore (DeepCore trains with Adam in batches of
#: 64; 128 is as fast per window on 2 CPU cores and halves the optimiser steps).
TRAIN_DEFAULTS: dict[str, Any] = {"epochs": 20, "batch_size": 128, "lr": 1e-3,
                                  "weight_decay": 0.0, "patience": 4}


class WindowArrays(Protocol):
    """What training reads from a set of windows (e.g. :class:`helixkit.deepcore.Windows`)."""

    charge: np.ndarray
    jet: np.ndarray
    tcp: np.ndarray
    params: np.ndarray

    def __len__(self) -> int: ...


@dataclass
class DeepCoreDataConfig:
    """The ``data`` section: simulated jets for training and validation (GeV)."""

    n_train_jets: int = 1000
    n_val_jets: int = 100
    seed: int = 0
    jet_pt: list[float] = field(default_factory=lambda: [500.0 * u.GeV, 3000.0 * u.GeV])
    pileup_tracks: float = 40.0

    def validate(self) -> None:
        for name in ("n_train_jets", "n_val_jets"):
            v = getattr(self, name)
            require(isinstance(v, int) and not isinstance(v, bool) and v >= 1, self, name,
                    "must be an integer >= 1")
        require(isinstance(self.seed, int) and self.seed >= 0, self, "seed",
                "must be an integer >= 0")
        require(isinstance(self.jet_pt, (list, tuple)) and len(self.jet_pt) == 2
                and all(isinstance(v, (int, float)) and math.isfinite(v) for v in self.jet_pt)
                and 0 < self.jet_pt[0] <= self.jet_pt[1], self, "jet_pt",
                "must be [min, max] GeV with 0 < min <= max")
        require(isinstance(self.pileup_tracks, (int, float)) and
                math.isfinite(self.pileup_tracks) and self.pileup_tracks >= 0, self,
                "pileup_tracks", "must be finite and >= 0")


def simulate_windows(data: DeepCoreDataConfig) -> tuple[WindowArrays, WindowArrays]:
    """Training and validation windows of the ``data`` section's jets."""
    data.validate()
    kw = {"seed": data.seed, "jet_pt": tuple(float(v) for v in data.jet_pt),
          "pileup_tracks": float(data.pileup_tracks)}
    train = jet_windows(simulate_jets(data.n_train_jets, **kw))
    val = jet_windows(simulate_jets(data.n_val_jets, first_jet=data.n_train_jets, **kw))
    return train, val


_SHAPES = {"charge": (N_LAYERS, WINDOW, WINDOW), "jet": (2,),
           "tcp": (N_OVERLAPS, WINDOW, WINDOW), "params": (N_OVERLAPS, N_PARAMS, WINDOW, WINDOW)}


def window_tensors(windows: WindowArrays, name: str = "windows") -> tuple[torch.Tensor, ...]:
    """(charge, jet, tcp, params) float32 tensors of ``windows`` (sharing memory with
    float32 C-contiguous arrays); a ``ValueError`` naming the attribute for a missing one,
    a wrong shape, different lengths, NaN / inf, or a ``tcp`` other than 0 / 1."""
    out = []
    n = len(windows)
    if n == 0:
        msg = f"{name}: no windows (length 0)"
        raise ValueError(msg)
    for attr, tail in _SHAPES.items():
        a = getattr(windows, attr, None)
        if a is None:
            msg = f"{name} has no attribute {attr!r} (need charge, jet, tcp, params)"
            raise ValueError(msg)
        a = np.asarray(a)
        if a.dtype.kind not in "fiu" or a.shape != (n, *tail):
            want = ", ".join([str(n), *map(str, tail)])
            msg = f"{name}.{attr} must be a numeric array of shape ({want}), got {a.shape} {a.dtype}"
            raise ValueError(msg)
        a = np.ascontiguousarray(a, dtype=np.float32)
        if not np.isfinite(a).all():
            msg = f"{name}.{attr} must be finite (it holds NaN or inf)"
            raise ValueError(msg)
        out.append(torch.from_numpy(a))
    if not torch.all((out[2] == 0) | (out[2] == 1)):
        msg = f"{name}.tcp must hold only 0 and 1"
        raise ValueError(msg)
    return tuple(out)


def train_deepcore(config: dict[str, Any], out_dir: str | Path, *,
                   windows: tuple[WindowArrays, WindowArrays] | None = None,
                   resume: bool = False, progress: bool = True) -> DeepCoreModel:
    """Train on ``windows=(train, val)`` or on the ``data`` section's simulated jets, with
    early stopping on the validation loss; returns the best model (eval mode).

    ``resume``: continue from ``out_dir/last.pt`` (same config and data)."""
    data, mcfg, tcfg = training_sections(config, DeepCoreConfig, progress=progress,
                                         train_defaults=TRAIN_DEFAULTS,
                                         data_config=DeepCoreDataConfig)
    seed_everything(tcfg.seed)
    simulated = windows is None
    if windows is None:
        windows = simulate_windows(data)
    if not isinstance(windows, (tuple, list)) or len(windows) != 2:
        msg = "windows must be a (train, val) pair of window sets"
        raise ValueError(msg)
    train = window_tensors(windows[0], "windows[0] (train)")
    val = window_tensors(windows[1], "windows[1] (val)")
    model = DeepCoreModel(mcfg)
    out = Path(out_dir)
    trainer = Trainer(model, lambda m, b: m.loss(b), tcfg, out)
    if resume:
        trainer.resume(out / "last.pt")
    trainer.fit(train, val)
    if is_main_process():
        out.mkdir(parents=True, exist_ok=True)
        (out / "run_config.json").write_text(json.dumps(
            {"data": asdict(data), "model": asdict(mcfg), "train": asdict(tcfg),
             "n_train_windows": len(train[0]), "n_val_windows": len(val[0]),
             "windows": "simulated" if simulated else "given"}, indent=1))
    return model


__all__ = ["TRAIN_DEFAULTS", "DeepCoreDataConfig", "WindowArrays", "simulate_windows",
           "train_deepcore", "window_tensors"]
