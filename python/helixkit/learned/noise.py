"""Pre-emptive noise-hit classifier.

A residual FCNN scores every hit; hits scored above a threshold are dropped
before graph construction. Inputs: the geometric hit features of
:func:`helixkit.features.hit_features` plus neighbourhood features — the
log-distances to the 1st, 2nd, 4th, 8th and 16th nearest hit in
(cos φ, sin φ, η) (exact kNN in C++), which tell hits on a particle's path
(aligned neighbours on other layers) from uniformly scattered noise. Features
are standardised per event. With the ``"cluster"`` feature group and
``direction_features``, three more inputs test the cluster's direction (the
track direction its shape measures; a noise hit's cluster points anywhere):
its polar angle in the (r, z) plane minus that of the line from the origin to
the hit, and over the 16 nearest hits (on other layers) the smallest angle
between the cluster direction and the direction to that hit, alone and summed
with the neighbour's own cluster mismatch — a hit on a track has a neighbour
on the next layer along its cluster direction whose cluster agrees.
Positive class = noise (``particle_id == 0``);
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
from ..nn.features import feature_columns, n_features
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
    direction_features: bool = False  # cluster-direction compatibility (needs "cluster")

    def validate(self) -> None:
        require(self.in_dim >= 1, self, "in_dim", "must be >= 1")
        require(isinstance(self.direction_features, bool), self, "direction_features",
                "must be true or false")
        require(not self.direction_features or "cluster" in self.extra_features, self,
                "direction_features", 'needs the "cluster" feature group in extra_features')
        try:
            width = n_input_features(tuple(self.extra_features), self.direction_features)
        except ValueError as e:
            raise ValueError(f"NoiseConfig.extra_features: {e}") from None
        require(not self.extra_features or self.in_dim == width, self, "in_dim",
                f"must be {width} with extra_features {list(self.extra_features)} and "
                f"direction_features {self.direction_features}")
        require(self.hidden_dim >= 1, self, "hidden_dim", "must be >= 1")
        require(self.depth >= 1, self, "depth", "must be >= 1")
        require(0 <= self.alpha <= 1, self, "alpha", "must be in [0, 1]")
        require(0 < self.max_fpr < 1, self, "max_fpr", "must be in (0, 1)")
        require(0 <= self.threshold <= 1, self, "threshold", "must be in [0, 1]")


#: Inputs that ``direction_features`` adds.
DIRECTION_FEATURES = ("cluster_theta_residual", "best_neighbour_alignment",
                      "best_neighbour_pair_alignment")
#: Hits closer than this in r and in z [m] are on one layer (not a neighbour for alignment).
SAME_LAYER = 0.005


def n_input_features(extra: tuple[str, ...] = (), direction: bool = False) -> int:
    """Width of :func:`noise_features` for hit features with these groups."""
    return n_features(extra) + len(NEIGHBOUR_RANKS) + (len(DIRECTION_FEATURES) if direction
                                                        else 0)


def _direction_features(features: np.ndarray, neighbours: np.ndarray,
                        extra: tuple[str, ...]) -> np.ndarray:
    """(N, 3) cluster-direction compatibility (module docstring); ``neighbours`` (N, k)."""
    cl = feature_columns(extra, ("cluster",))[-5:]
    r, z = features[:, 0].astype(np.float64), features[:, 3].astype(np.float64)
    d_r = np.abs(features[:, cl[2]].astype(np.float64))
    d_z = features[:, cl[4]].astype(np.float64)
    theta_cl = np.arctan2(d_r, d_z)                               # [0, π], outward
    resid = theta_cl - np.arctan2(r, z)
    dr = r[neighbours] - r[:, None]
    dz = z[neighbours] - z[:, None]
    outward = np.where(dr >= 0, 1.0, -1.0)
    theta_pair = np.arctan2(np.abs(dr), dz * outward)
    other = (np.abs(dr) > SAME_LAYER) | (np.abs(dz) > SAME_LAYER)
    mine = np.abs(theta_cl[:, None] - theta_pair)
    theirs = np.abs(theta_cl[neighbours] - theta_pair)
    big = np.pi
    best = np.where(other, mine, big).min(1)
    pair = np.where(other, mine + theirs, 2 * big).min(1)
    return np.stack([resid, np.log(best + 1e-4), np.log(pair + 1e-4)], axis=1)


def noise_features(features: np.ndarray, *, n_threads: int = 0, extra: tuple[str, ...] = (),
                   direction: bool = False) -> np.ndarray:
    """Per-event standardised classifier inputs from the hit features (the 7 base features
    and the groups ``extra``, in :func:`helixkit.nn.features.hit_features`' layout);
    ``direction`` adds :data:`DIRECTION_FEATURES` (needs ``"cluster"`` in ``extra``)."""
    n = len(features)
    kmax = max(NEIGHBOUR_RANKS)
    if n <= kmax:
        msg = f"noise classification needs more than {kmax} hits, got {n}"
        raise ValueError(msg)
    ang = np.ascontiguousarray(features[:, [1, 2, 4]], dtype=np.float32)
    ei, dist = knn_graph(ang, kmax, n_threads=n_threads, return_distances=True)
    dist = dist.reshape(n, kmax)
    parts = [features, np.log(dist[:, [k - 1 for k in NEIGHBOUR_RANKS]] + 1e-5)]
    if direction:
        parts.append(_direction_features(features, ei[0].reshape(n, kmax), tuple(extra)))
    f = np.concatenate(parts, axis=1).astype(np.float64)
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

    def inputs(self, features: np.ndarray, *, n_threads: int = 0) -> np.ndarray:
        """:func:`noise_features` of hit features with this model's groups."""
        cfg = self.config
        return noise_features(features, n_threads=n_threads, extra=tuple(cfg.extra_features),
                              direction=cfg.direction_features)

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
    p = noise_model.noise_probability(noise_model.inputs(features, n_threads=n_threads))
    return p < noise_model.config.threshold


__all__ = ["DIRECTION_FEATURES", "NEIGHBOUR_RANKS", "n_input_features", "NoiseClassifier", "NoiseConfig", "noise_features", "noise_mask",
           "roc_auc", "roc_curve", "weighted_bce", "working_point"]
