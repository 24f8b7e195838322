"""Graph construction by metric learning (gnn_tracking's GraphConstructionFCNN + hinge loss).

A residual fully connected network maps every hit to a point in a latent
space where hits of the same particle lie close together; the kNN / radius
graph of the embedding (built by :mod:`helixkit.graph` in C++) is the track
candidate graph, and DBSCAN on it gives track candidates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from .._validation import require
from . import register_model


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

    def validate(self) -> None:
        require(self.in_dim >= 1, self, "in_dim", "must be >= 1")
        require(self.hidden_dim >= 1, self, "hidden_dim", "must be >= 1")
        require(self.depth >= 1, self, "depth", "must be >= 1")
        require(1 <= self.out_dim <= 32, self, "out_dim", "must be in [1, 32]")
        require(0 <= self.alpha <= 1, self, "alpha", "must be in [0, 1]")
        require(self.r_emb > 0, self, "r_emb", "must be > 0")
        require(self.lw_repulsive >= 0, self, "lw_repulsive", "must be >= 0")
        require(self.p_attr > 0 and self.p_rep > 0, self, "p_attr", "and p_rep must be > 0")
        require(self.max_num_neighbors >= 1, self, "max_num_neighbors", "must be >= 1")


@register_model("gc", GCConfig)
class GraphConstructionNet(nn.Module):
    """Input L2-normalisation → encoder → residual blocks √α·x + √(1−α)·W relu(x) → decoder."""


    def __init__(self, config: GCConfig | None = None) -> None:
        super().__init__()
        cfg = config or GCConfig()
        cfg.validate()
        self.config = cfg
        self.encoder = nn.Linear(cfg.in_dim, cfg.hidden_dim)
        self.blocks = nn.ModuleList(nn.Linear(cfg.hidden_dim, cfg.hidden_dim)
                                    for _ in range(cfg.depth - 1))
        self.decoder = nn.Linear(cfg.hidden_dim, cfg.out_dim)
        self.latent_scale = nn.Parameter(torch.tensor(1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x / x.norm(dim=1, keepdim=True).clamp_min(1e-6)
        h = self.encoder(x)
        a = self.config.alpha
        for lin in self.blocks:
            h = math.sqrt(a) * h + math.sqrt(1 - a) * lin(torch.relu(h))
        return self.decoder(torch.relu(h)) * self.latent_scale

    @torch.no_grad()
    def embed(self, features: np.ndarray) -> np.ndarray:
        self.eval()
        return self(torch.from_numpy(np.ascontiguousarray(features, np.float32))).numpy()


def hinge_loss(emb: torch.Tensor, particle_id: torch.Tensor, of_interest: torch.Tensor,
               cfg: GCConfig, n_threads: int = 0) -> tuple[torch.Tensor, dict[str, float]]:
    """Attractive/repulsive hinge loss (gnn_tracking ``GraphConstructionHingeEmbeddingLoss``).

    - attraction: mean of d^p_attr over true pairs (same particle, source hit of interest);
    - repulsion: sum of relu(r_emb − d)^p_rep over radius-graph pairs (r_emb, at most
      ``max_num_neighbors`` nearest per hit, built in C++ on the detached embedding) of
      different particles (or noise), divided by the number of hits of interest.
    """
    from ..graph import radius_graph  # noqa: PLC0415

    pid = particle_id.numpy()
    oi = of_interest.numpy()
    # true pairs among hits of interest: all ordered pairs within each particle
    rows = np.flatnonzero(oi)
    order = rows[np.argsort(pid[rows], kind="stable")]
    _, start, cnt = np.unique(pid[order], return_index=True, return_counts=True)
    src_l, dst_l = [], []
    for s, c in zip(start, cnt):
        if c > 1:
            idx = order[s : s + c]
            a, b = np.meshgrid(idx, idx, indexing="ij")
            off = a != b
            src_l.append(a[off])
            dst_l.append(b[off])
    if src_l:
        src = torch.from_numpy(np.concatenate(src_l))
        dst = torch.from_numpy(np.concatenate(dst_l))
        d_att = (emb[src] - emb[dst]).norm(dim=1)
        v_att = (d_att.clamp_min(1e-12) ** cfg.p_attr).mean()
    else:
        v_att = emb.sum() * 0.0
    ei = radius_graph(emb.detach().numpy(), cfg.r_emb, max_num_neighbors=cfg.max_num_neighbors,
                      n_threads=n_threads)
    e0, e1 = torch.from_numpy(ei[0]), torch.from_numpy(ei[1])
    diff = (particle_id[e0] != particle_id[e1]) | (particle_id[e0] == 0)
    e0, e1 = e0[diff], e1[diff]
    d_rep = (emb[e0] - emb[e1]).norm(dim=1)
    n_oi = max(int(oi.sum()), 1)
    v_rep = (torch.relu(cfg.r_emb - d_rep) ** cfg.p_rep).sum() / n_oi
    loss = v_att + cfg.lw_repulsive * v_rep
    return loss, {"attractive": float(v_att.detach()), "repulsive": float(v_rep.detach())}
