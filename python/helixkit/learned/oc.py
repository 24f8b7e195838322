"""Learned clustering: an interaction-network GNN trained with object condensation.

The GNN (gnn_tracking's ``GraphTCN`` idea, written in plain torch) runs on the
graph that the metric-learning embedding gives (kNN of the embedding, built by
:mod:`helixkit.graph` in C++). Every hit gets a condensation strength
β ∈ (0, 1) and a point in a clustering space; hits of one particle gather
around the particle's condensation point (its hit with the largest β) and
DBSCAN (:func:`helixkit.graph.dbscan`) turns the clustering space into tracks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from .._validation import require
from ..graph import knn_graph
from ..nn.blocks import mlp, nearest_within, scatter_sum
from ..nn.registry import register_model


@dataclass
class OCConfig:
    """GNN sizes and object-condensation loss weights."""

    hit_dim: int = 7           # hit features (helixkit.features.hit_features)
    emb_dim: int = 8           # GC embedding dimension
    hidden_dim: int = 64
    n_layers: int = 4
    alpha: float = 0.5
    out_dim: int = 8
    residual: bool = True      # clustering coordinates = GC embedding + learned shift
    q_min: float = 0.01
    r_rep: float = 1.0
    lw_repulsive: float = 1.0
    lw_coward: float = 0.1
    lw_noise: float = 0.1
    max_num_neighbors: int = 256
    pt_thld: float = 0.9
    k: int = 8
    max_radius: float = 1.0

    def validate(self) -> None:
        for name in ("hit_dim", "emb_dim", "hidden_dim", "n_layers", "max_num_neighbors", "k"):
            require(getattr(self, name) >= 1, self, name, "must be >= 1")
        require(1 <= self.out_dim <= 32, self, "out_dim", "must be in [1, 32]")
        require(not self.residual or self.out_dim == self.emb_dim, self, "out_dim",
                "must equal emb_dim when residual is true")
        require(0 <= self.alpha <= 1, self, "alpha", "must be in [0, 1]")
        require(self.q_min > 0, self, "q_min", "must be > 0")
        require(self.r_rep > 0, self, "r_rep", "must be > 0")
        require(self.max_radius > 0, self, "max_radius", "must be > 0")
        for name in ("lw_repulsive", "lw_coward", "lw_noise"):
            require(getattr(self, name) >= 0, self, name, "must be >= 0")


class InteractionLayer(nn.Module):
    """One interaction-network step with residual node and edge updates.

    Edge update ``e' = e + φ_e(h_src, h_dst, e)`` (the first linear map is split
    per input so it runs on nodes, not edges), node update
    ``h' = √α·h + √(1−α)·φ_n(h, Σ_in e')`` with messages summed per target
    (``index_add_``).
    """

    def __init__(self, hidden: int, alpha: float) -> None:
        super().__init__()
        self.alpha = alpha
        self.w_src = nn.Linear(hidden, hidden, bias=False)
        self.w_dst = nn.Linear(hidden, hidden, bias=False)
        self.w_edge = nn.Linear(hidden, hidden)
        self.edge_out = nn.Linear(hidden, hidden)
        self.node = mlp(2 * hidden, hidden, hidden)

    def forward(self, h: torch.Tensor, e: torch.Tensor, src: torch.Tensor,
                dst: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pre = self.w_src(h)[src] + self.w_dst(h)[dst] + self.w_edge(e)
        e = e + self.edge_out(torch.relu(pre))
        m = scatter_sum(e, dst, len(h))
        a = self.alpha
        h = math.sqrt(a) * h + math.sqrt(1 - a) * self.node(torch.cat([h, m], dim=1))
        return h, e


@register_model("oc", OCConfig)
class CondensationNet(nn.Module):
    """Node/edge encoders → ``n_layers`` interaction layers → β head and clustering head.

    Node inputs: hit features + GC embedding (``hit_dim + emb_dim``); edge inputs:
    embedding difference, its norm, Δr, Δφ, Δz (``emb_dim + 4``). With ``residual``
    the clustering coordinates are the GC embedding plus the head's output, whose
    last layer starts at zero, so the untrained GNN clusters like the GC stage.
    """

    def __init__(self, config: OCConfig | None = None) -> None:
        super().__init__()
        cfg = config or OCConfig()
        cfg.validate()
        self.config = cfg
        h = cfg.hidden_dim
        self.node_encoder = mlp(cfg.hit_dim + cfg.emb_dim, h, h)
        self.edge_encoder = mlp(cfg.emb_dim + 4, h, h)
        self.layers = nn.ModuleList(InteractionLayer(h, cfg.alpha) for _ in range(cfg.n_layers))
        self.beta_head = mlp(h, h, 1)
        self.cluster_head = mlp(h, h, cfg.out_dim)
        if cfg.residual:
            nn.init.zeros_(self.cluster_head[-1].weight)
            nn.init.zeros_(self.cluster_head[-1].bias)

    def forward(self, node_x: torch.Tensor, edge_x: torch.Tensor,
                edge_index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (β (N,), clustering coordinates (N, out_dim))."""
        src, dst = edge_index[0], edge_index[1]
        h = self.node_encoder(node_x)
        e = self.edge_encoder(edge_x)
        for layer in self.layers:
            h, e = layer(h, e, src, dst)
        beta = torch.sigmoid(self.beta_head(h)).squeeze(1).clamp(1e-6, 1 - 1e-4)
        x = self.cluster_head(h)
        if self.config.residual:
            x = x + node_x[:, self.config.hit_dim:]
        return beta, x


def graph_inputs(features: np.ndarray, emb: np.ndarray, cfg: OCConfig, *,
                 n_threads: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Node features, edge features and the (2, E) edge index of the embedding's kNN graph.

    ``features``: the (N, 7) hit features of :func:`helixkit.features.hit_features`
    (r, cos φ, sin φ, z, ...); ``emb``: the GC embedding (N, D). Edges (C++):
    the ``k`` nearest neighbours within ``max_radius`` in the embedding, both
    directions.
    """
    n = len(features)
    if emb.shape[0] != n:
        msg = f"emb has {emb.shape[0]} rows, features {n}"
        raise ValueError(msg)
    if features.shape[1] != cfg.hit_dim or emb.shape[1] != cfg.emb_dim:
        msg = (f"OCConfig expects {cfg.hit_dim} hit features and a {cfg.emb_dim}-D embedding, "
               f"got {features.shape[1]} and {emb.shape[1]}")
        raise ValueError(msg)
    if n > cfg.k:
        ei = knn_graph(emb, cfg.k, max_radius=cfg.max_radius, n_threads=n_threads)
        ei = np.concatenate([ei, ei[::-1]], axis=1)
    else:
        ei = np.zeros((2, 0), np.int64)
    src, dst = ei[0], ei[1]
    f = features
    dphi = np.arctan2(f[src, 2] * f[dst, 1] - f[src, 1] * f[dst, 2],
                      f[src, 1] * f[dst, 1] + f[src, 2] * f[dst, 2])
    demb = emb[src] - emb[dst]
    edge = np.concatenate([demb, np.linalg.norm(demb, axis=1, keepdims=True),
                           (f[src, 0] - f[dst, 0])[:, None] * 10.0, dphi[:, None] * 10.0,
                           (f[src, 3] - f[dst, 3])[:, None]], axis=1).astype(np.float32)
    node = np.concatenate([features, emb], axis=1).astype(np.float32)
    return torch.from_numpy(node), torch.from_numpy(edge), torch.from_numpy(ei)


def condensation_loss(beta: torch.Tensor, x: torch.Tensor, particle_id: torch.Tensor,
                      of_interest: torch.Tensor, cfg: OCConfig, *,
                      n_threads: int = 0) -> tuple[torch.Tensor, dict[str, float]]:
    """Object-condensation loss (gnn_tracking ``CondensationLossRG``).

    Charge ``q = arctanh²β + q_min``. The condensation point (CP) α of every
    particle of interest is its hit with the largest β.

    - attraction: ``Σ_i q_i q_α ‖x_i − x_α‖²`` over the other hits i of each
      particle of interest, divided by ``N_oi − N_pid`` (hits of interest minus
      particles of interest);
    - repulsion: ``Σ q_i q_α (r_rep − ‖x_i − x_α‖)`` over pairs of a hit i and a
      CP α of another particle closer than ``r_rep`` (C++ radius search, at most
      ``max_num_neighbors`` CPs per hit), divided by ``(N_pid − 1)·N_hits``;
    - coward: mean of ``1 − β_α`` over the CPs; noise: mean β of noise hits.
    """
    pid = particle_id.numpy()
    oi = of_interest.numpy()
    n = len(pid)
    q = torch.atanh(beta) ** 2 + cfg.q_min
    rows = np.flatnonzero(oi)
    zero = beta.sum() * 0.0
    parts = {"attractive": 0.0, "repulsive": 0.0, "coward": 0.0, "noise": 0.0}
    noise = torch.from_numpy(pid == 0)
    v_noise = beta[noise].mean() if bool(noise.any()) else zero
    if len(rows) == 0:
        loss = cfg.lw_noise * v_noise
        parts["noise"] = float(v_noise.detach())
        return loss, parts
    # condensation point of each particle of interest: the hit with the largest beta
    b = beta.detach().numpy()
    order = rows[np.lexsort((-b[rows], pid[rows]))]
    first = np.r_[True, pid[order][1:] != pid[order][:-1]]
    cps = order[first]
    n_pid = len(cps)
    group = np.cumsum(first) - 1                   # particle index of every hit in `order`
    cp_of = torch.from_numpy(cps[group])
    members = torch.from_numpy(order)
    others = members != cp_of
    mi, ci = members[others], cp_of[others]
    d2 = ((x[mi] - x[ci]) ** 2).sum(dim=1)
    v_att = (q[mi] * q[ci] * d2).sum() / max(len(rows) - n_pid, 1)
    # repulsion: hits near CPs of other particles
    xd = x.detach().numpy()
    if n_pid > 1:
        ei = nearest_within(xd[cps], cfg.r_rep, cfg.max_num_neighbors, query=xd,
                            n_threads=n_threads)
        cp_local, hit = torch.from_numpy(ei[0]), torch.from_numpy(ei[1])
        cp_hit = torch.from_numpy(cps)[cp_local]
        keep = particle_id[hit] != particle_id[cp_hit]
        hit, cp_hit = hit[keep], cp_hit[keep]
        dist = (x[hit] - x[cp_hit]).norm(dim=1)
        v_rep = (q[hit] * q[cp_hit] * torch.relu(cfg.r_rep - dist)).sum() / ((n_pid - 1) * n)
    else:
        v_rep = zero
    v_coward = (1 - beta[torch.from_numpy(cps)]).mean()
    loss = (v_att + cfg.lw_repulsive * v_rep + cfg.lw_coward * v_coward
            + cfg.lw_noise * v_noise)
    parts.update(attractive=float(v_att.detach()), repulsive=float(v_rep.detach()),
                 coward=float(v_coward.detach()), noise=float(v_noise.detach()))
    return loss, parts


def embed_clusters(model: CondensationNet, node_x: torch.Tensor, edge_x: torch.Tensor,
                   edge_index: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """β and clustering coordinates as numpy arrays (inference, eval mode)."""
    model.eval()
    with torch.no_grad():
        beta, x = model(node_x, edge_x, edge_index)
    return beta.numpy(), x.numpy()


__all__: list[Any] = ["CondensationNet", "InteractionLayer", "OCConfig", "condensation_loss",
                      "embed_clusters", "graph_inputs"]
