"""Graph construction by metric learning (gnn_tracking's GraphConstructionFCNN + hinge loss).

A residual fully connected network maps every hit to a point in a latent
space where hits of the same particle lie close together; the kNN / radius
graph of the embedding (built by :mod:`helixkit.graph` in C++) is the track
candidate graph, and DBSCAN on it gives track candidates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .._validation import require
from ..nn.blocks import ResFCNN, nearest_within
from ..nn.features import n_features
from ..nn.registry import register_model


@dataclass
class GCConfig:
    """ResFCNN embedding and hinge-loss settings."""

    in_dim: int = 7
    hidden_dim: int = 128
    depth: int = 4
    out_dim: int = 8
    alpha: float = 0.6
    r_emb: float = 1.0
    lw_repulsive: float = 1.0
    p_attr: float = 2.0
    p_rep: float = 2.0
    max_num_neighbors: int = 256
    pt_thld: float = 0.9
    loss: str = "hinge"
    tau: float = 0.05
    sigma: float = 0.75
    # extra hit-feature groups (helixkit.features.EXTRA_FEATURES) after the 7 geometric ones
    extra_features: list[str] = field(default_factory=list)

    def validate(self) -> None:
        require(self.in_dim >= 1, self, "in_dim", "must be >= 1")
        try:
            width = n_features(tuple(self.extra_features))
        except ValueError as e:
            raise ValueError(f"GCConfig.extra_features: {e}") from None
        require(not self.extra_features or self.in_dim == width, self, "in_dim",
                f"must be {width} with extra_features {list(self.extra_features)}")
        require(self.hidden_dim >= 1, self, "hidden_dim", "must be >= 1")
        require(self.depth >= 1, self, "depth", "must be >= 1")
        require(1 <= self.out_dim <= 32, self, "out_dim", "must be in [1, 32]")
        require(0 <= self.alpha <= 1, self, "alpha", "must be in [0, 1]")
        require(self.r_emb > 0, self, "r_emb", "must be > 0")
        require(self.lw_repulsive >= 0, self, "lw_repulsive", "must be >= 0")
        require(self.p_attr > 0 and self.p_rep > 0, self, "p_attr", "and p_rep must be > 0")
        require(self.max_num_neighbors >= 1, self, "max_num_neighbors", "must be >= 1")
        require(self.loss in ("hinge", "infonce"), self, "loss", "must be 'hinge' or 'infonce'")
        require(self.tau > 0, self, "tau", "must be > 0")
        require(self.sigma > 0, self, "sigma", "must be > 0")


@register_model("gc", GCConfig)
class GraphConstructionNet(ResFCNN):
    """Input L2-normalisation → encoder → residual blocks √α·x + √(1−α)·W relu(x) → decoder,
    times a learnable latent scale (gnn_tracking's ``GraphConstructionFCNN``)."""

    def __init__(self, config: GCConfig | None = None) -> None:
        cfg = config or GCConfig()
        cfg.validate()
        super().__init__(cfg.in_dim, cfg.hidden_dim, cfg.out_dim, cfg.depth, cfg.alpha)
        self.config = cfg
        self.latent_scale = nn.Parameter(torch.tensor(1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x) * self.latent_scale

    @torch.no_grad()
    def embed(self, features: np.ndarray) -> np.ndarray:
        if features.ndim != 2 or features.shape[1] != self.config.in_dim:
            msg = (f"features: the GC model takes (N, {self.config.in_dim}) hit features "
                   f"(extra_features {list(self.config.extra_features)}), got {features.shape}")
            raise ValueError(msg)
        self.eval()
        return self(torch.from_numpy(np.ascontiguousarray(features, np.float32))).numpy()


def _true_pairs(pid: np.ndarray, oi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All ordered pairs (i, j), i != j, of hits of interest of the same particle."""
    rows = np.flatnonzero(oi)
    order = rows[np.argsort(pid[rows], kind="stable")]
    _, start, cnt = np.unique(pid[order], return_index=True, return_counts=True)
    keep = cnt > 1
    start, cnt = start[keep], cnt[keep]
    if len(cnt) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    # pair (a, b) of group g: a, b in [0, c), a != b, flattened without a Python loop per pair
    n_pairs = cnt * (cnt - 1)
    g = np.repeat(np.arange(len(cnt)), n_pairs)
    k = np.arange(int(n_pairs.sum())) - np.repeat(np.cumsum(n_pairs) - n_pairs, n_pairs)
    c = cnt[g] - 1
    a, b = k // c, k % c
    b = b + (b >= a)
    base = start[g]
    return order[base + a].astype(np.int64), order[base + b].astype(np.int64)


def _repulsive_pairs(emb: torch.Tensor, particle_id: torch.Tensor, cfg: GCConfig,
                     n_threads: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Radius-graph pairs (C++, on the detached embedding; radius r_emb, at most
    ``max_num_neighbors`` nearest per hit) of different particles or with a noise hit.
    Returns (anchor, other): the anchor is the query hit."""
    ei = nearest_within(emb.detach().numpy(), cfg.r_emb, cfg.max_num_neighbors,
                        n_threads=n_threads)
    other, anchor = torch.from_numpy(ei[0]), torch.from_numpy(ei[1])
    diff = (particle_id[other] != particle_id[anchor]) | (particle_id[other] == 0)
    return anchor[diff], other[diff]


def hinge_loss(emb: torch.Tensor, particle_id: torch.Tensor, of_interest: torch.Tensor,
               cfg: GCConfig, n_threads: int = 0) -> tuple[torch.Tensor, dict[str, float]]:
    """Attractive/repulsive hinge loss (gnn_tracking ``GraphConstructionHingeEmbeddingLoss``).

    - attraction: mean of d^p_attr over true pairs (same particle, source hit of interest);
    - repulsion: sum of relu(r_emb − d)^p_rep over radius-graph pairs (r_emb, at most
      ``max_num_neighbors`` nearest per hit, built in C++ on the detached embedding) of
      different particles (or noise), divided by the number of hits of interest.
    """
    oi = of_interest.numpy()
    src, dst = _true_pairs(particle_id.numpy(), oi)
    if len(src):
        s, d = torch.from_numpy(src), torch.from_numpy(dst)
        d_att = (emb[s] - emb[d]).norm(dim=1)
        v_att = (d_att.clamp_min(1e-12) ** cfg.p_attr).mean()
    else:
        v_att = emb.sum() * 0.0
    e0, e1 = _repulsive_pairs(emb, particle_id, cfg, n_threads)
    d_rep = (emb[e0] - emb[e1]).norm(dim=1)
    n_oi = max(int(oi.sum()), 1)
    v_rep = (torch.relu(cfg.r_emb - d_rep) ** cfg.p_rep).sum() / n_oi
    loss = v_att + cfg.lw_repulsive * v_rep
    return loss, {"attractive": float(v_att.detach()), "repulsive": float(v_rep.detach())}


def info_nce_loss(emb: torch.Tensor, particle_id: torch.Tensor, of_interest: torch.Tensor,
                  cfg: GCConfig, n_threads: int = 0) -> tuple[torch.Tensor, dict[str, float]]:
    """Supervised InfoNCE (HEPT's ``InfoNCELoss``, RBF similarity).

    Similarity ``s = exp(−‖Δ‖ / (2σ²))``. Positives: all ordered pairs (i, j) of
    hits of interest of one particle; negatives of an anchor i: its radius-graph
    neighbours (r_emb, at most ``max_num_neighbors``) of another particle or
    noise. Per positive pair ``−log(e^{s_ij/τ} / (e^{s_ij/τ} + Σ_k e^{s_ik/τ}))``,
    averaged per particle, then over particles.
    """
    pid_np = particle_id.numpy()
    src, dst = _true_pairs(pid_np, of_interest.numpy())
    if len(src) == 0:
        zero = emb.sum() * 0.0
        return zero, {"infonce": 0.0}
    two_s2 = 2.0 * cfg.sigma**2
    anchor, other = _repulsive_pairs(emb, particle_id, cfg, n_threads)
    s_neg = torch.exp(-(emb[anchor] - emb[other]).norm(dim=1) / two_s2)
    neg_sum = emb.new_zeros(len(emb)).index_add_(0, anchor, torch.exp(s_neg / cfg.tau))
    s, d = torch.from_numpy(src), torch.from_numpy(dst)
    s_pos = torch.exp(-(emb[s] - emb[d]).norm(dim=1) / two_s2)
    per_pair = torch.log(torch.exp(s_pos / cfg.tau) + neg_sum[s]) - s_pos / cfg.tau
    _, group = np.unique(pid_np[src], return_inverse=True)
    g = torch.from_numpy(group.astype(np.int64))
    n_groups = int(group.max()) + 1
    per_particle = emb.new_zeros(n_groups).index_add_(0, g, per_pair)
    counts = torch.bincount(g, minlength=n_groups).to(emb.dtype)
    loss = (per_particle / counts).mean()
    return loss, {"infonce": float(loss.detach())}


def gc_loss(emb: torch.Tensor, particle_id: torch.Tensor, of_interest: torch.Tensor,
            cfg: GCConfig, n_threads: int = 0) -> tuple[torch.Tensor, dict[str, float]]:
    """The loss selected by ``cfg.loss``."""
    fn = info_nce_loss if cfg.loss == "infonce" else hinge_loss
    return fn(emb, particle_id, of_interest, cfg, n_threads)
