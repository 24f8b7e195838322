"""Pre-emptive noise-hit classifier.

A residual FCNN scores every hit; hits scored above a threshold are dropped
before graph construction. Inputs: the geometric hit features of
:func:`helixkit.features.hit_features` plus neighbourhood features — the
log-distances to the 1st, 2nd, 4th, 8th and 16th nearest hit in
(cos φ, sin φ, η) (exact kNN in C++), which tell hits on a particle's path
(aligned neighbours on other layers) from uniformly scattered noise. Features
are standardised per event. Positive class = noise (``particle_id == 0``);
the loss is class-weighted binary cross entropy (``pos_weight = n_real /
n_noise``). The working point is the threshold whose false-positive rate on
real hits is at most ``max_fpr`` (0.5 % by default).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from .._validation import require
from ..graph import knn_graph
from ..nn.blocks import ResFCNN
from ..nn.features import n_features
from ..nn.registry import register_model

NEIGHBOUR_RANKS = (1, 2, 4, 8, 16)


@dataclass
class NoiseConfig:
    in_dim: int = 12
    hidden_dim: int = 64
    depth: int = 3
    alpha: float = 0.6
    max_fpr: float = 0.005
    threshold: float = 1.0   # probability above which a hit is called noise (set by training)
    volumes: list[int] | None = field(default_factory=lambda: [7, 8, 9])  # trained on (None = all)
    extra_features: list[str] = field(default_factory=list)  # hit-feature groups trained on

    def validate(self) -> None:
        require(self.in_dim >= 1, self, "in_dim", "must be >= 1")
        try:
            width = n_features(tuple(self.extra_features)) + len(NEIGHBOUR_RANKS)
        except ValueError as e:
            raise ValueError(f"NoiseConfig.extra_features: {e}") from None
        require(not self.extra_features or self.in_dim == width, self, "in_dim",
                f"must be {width} with extra_features {list(self.extra_features)}")
        require(self.hidden_dim >= 1, self, "hidden_dim", "must be >= 1")
        require(self.depth >= 1, self, "depth", "must be >= 1")
        require(0 <= self.alpha <= 1, self, "alpha", "must be in [0, 1]")
        require(0 < self.max_fpr < 1, self, "max_fpr", "must be in (0, 1)")
        require(0 <= self.threshold <= 1, self, "threshold", "must be in [0, 1]")


def noise_features(features: np.ndarray, *, n_threads: int = 0) -> np.ndarray:
    """Per-event standardised classifier inputs from the (N, 7) hit features."""
    n = len(features)
    kmax = max(NEIGHBOUR_RANKS)
    if n <= kmax:
        msg = f"noise classification needs more than {kmax} hits, got {n}"
        raise ValueError(msg)
    ang = np.ascontiguousarray(features[:, [1, 2, 4]], dtype=np.float32)
    _, dist = knn_graph(ang, kmax, n_threads=n_threads, return_distances=True)
    dist = dist.reshape(n, kmax)[:, [k - 1 for k in NEIGHBOUR_RANKS]]
    f = np.concatenate([features, np.log(dist + 1e-5)], axis=1).astype(np.float64)
    f = (f - f.mean(0)) / np.maximum(f.std(0), 1e-9)
    return f.astype(np.float32)


@register_model("noise", NoiseConfig)
class NoiseClassifier(nn.Module):
    """ResFCNN (no input L2-normalisation: inputs are standardised) → one logit per hit."""

    def __init__(self, config: NoiseConfig | None = None) -> None:
        super().__init__()
        cfg = config or NoiseConfig()
        cfg.validate()
        self.config = cfg
        self.net = ResFCNN(cfg.in_dim, cfg.hidden_dim, 1, cfg.depth, cfg.alpha,
                           normalize_input=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)

    @torch.no_grad()
    def noise_probability(self, x: np.ndarray) -> np.ndarray:
        self.eval()
        return torch.sigmoid(self(torch.from_numpy(np.ascontiguousarray(x, np.float32)))).numpy()


def weighted_bce(logits: torch.Tensor, is_noise: torch.Tensor) -> torch.Tensor:
    """Class-weighted binary cross entropy, positives (noise) weighted by n_real / n_noise."""
    n_pos = float(is_noise.sum())
    n_neg = float(len(is_noise)) - n_pos
    pos_weight = torch.tensor(n_neg / n_pos if n_pos > 0 else 1.0)
    return nn.functional.binary_cross_entropy_with_logits(
        logits, is_noise.to(logits.dtype), pos_weight=pos_weight)


def roc_curve(score: Any, positive: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False- and true-positive rates for every distinct threshold (descending).

    Returns ``(fpr, tpr, thresholds)``; a hit is called positive when
    ``score >= threshold``. The first point is (0, 0) with threshold +inf.
    """
    s = np.asarray(score, np.float64)
    y = np.asarray(positive, bool)
    if s.shape != y.shape or s.ndim != 1:
        msg = "score and positive must be 1-D arrays of equal length"
        raise ValueError(msg)
    if not np.isfinite(s).all():
        msg = "score contains NaN or inf"
        raise ValueError(msg)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        msg = f"ROC needs both classes, got {n_pos} positives and {n_neg} negatives"
        raise ValueError(msg)
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    last = np.r_[np.flatnonzero(s[1:] != s[:-1]), len(s) - 1]   # last index of each tie group
    tp = np.cumsum(y)[last]
    fp = (last + 1) - tp
    return (np.r_[0.0, fp / n_neg], np.r_[0.0, tp / n_pos], np.r_[np.inf, s[last]])


def roc_auc(score: Any, positive: Any) -> float:
    """Area under the ROC curve (trapezoids; ties count one half)."""
    fpr, tpr, _ = roc_curve(score, positive)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def working_point(score: Any, positive: Any, max_fpr: float) -> tuple[float, float, float]:
    """The lowest threshold with false-positive rate <= ``max_fpr``: (threshold, fpr, tpr)."""
    fpr, tpr, thr = roc_curve(score, positive)
    i = int(np.flatnonzero(fpr <= max_fpr)[-1])
    return float(thr[i]), float(fpr[i]), float(tpr[i])


def noise_mask(features: np.ndarray, noise_model: NoiseClassifier, *,
               n_threads: int = 0) -> np.ndarray:
    """True for hits the classifier keeps (noise probability below its threshold)."""
    p = noise_model.noise_probability(noise_features(features, n_threads=n_threads))
    return p < noise_model.config.threshold


__all__ = ["NEIGHBOUR_RANKS", "NoiseClassifier", "NoiseConfig", "noise_features", "noise_mask",
           "roc_auc", "roc_curve", "weighted_bce", "working_point"]
