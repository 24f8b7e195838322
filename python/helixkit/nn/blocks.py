"""Network building blocks shared by helixkit's ML systems."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ..graph import knn_graph


class ResFCNN(nn.Module):
    """gnn_tracking's residual fully connected network.

    The input is L2-normalised per row (unless ``normalize_input=False``), then encoder → (depth − 1) residual
    blocks ``h = √α·h + √(1−α)·W relu(h)`` → decoder (applied to ``relu(h)``).
    """

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int, depth: int,
                 alpha: float, *, normalize_input: bool = True) -> None:
        super().__init__()
        self.alpha = float(alpha)
        self.normalize_input = normalize_input
        self.encoder = nn.Linear(in_dim, hidden_dim)
        self.blocks = nn.ModuleList(nn.Linear(hidden_dim, hidden_dim) for _ in range(depth - 1))
        self.decoder = nn.Linear(hidden_dim, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.normalize_input:
            x = x / x.norm(dim=1, keepdim=True).clamp_min(1e-6)
        h = self.encoder(x)
        a = self.alpha
        for lin in self.blocks:
            h = math.sqrt(a) * h + math.sqrt(1 - a) * lin(torch.relu(h))
        return self.decoder(torch.relu(h))


def mlp(in_dim: int, hidden_dim: int, out_dim: int, n_hidden: int = 1) -> nn.Sequential:
    """Linear → ReLU blocks (``n_hidden`` of them) → Linear."""
    layers: list[nn.Module] = []
    d = in_dim
    for _ in range(n_hidden):
        layers += [nn.Linear(d, hidden_dim), nn.ReLU()]
        d = hidden_dim
    layers.append(nn.Linear(d, out_dim))
    return nn.Sequential(*layers)


def scatter_sum(src: torch.Tensor, index: torch.Tensor, n: int) -> torch.Tensor:
    """Row sums of ``src`` grouped by ``index`` into ``n`` rows (torch_scatter's scatter_add)."""
    out = src.new_zeros((n, *src.shape[1:]))
    return out.index_add_(0, index, src)


def nearest_within(x: np.ndarray, r: float, max_neighbors: int, *, query: np.ndarray | None = None,
                   n_threads: int = 0) -> np.ndarray:
    """Edges to the at most ``max_neighbors`` nearest points of ``x`` within ``r`` (C++).

    The same edge set as ``radius_graph(x, r, max_num_neighbors=max_neighbors)``, found as a
    kNN search with a radius cut, which prunes by the k-th distance: far cheaper while an
    embedding is still collapsed and every point lies within ``r`` of every other.
    Layout of :func:`helixkit.graph.knn_graph` (row 0 = neighbour in ``x``, row 1 = query).
    """
    n_cand = len(x) - (1 if query is None else 0)
    k = min(int(max_neighbors), n_cand)
    if k < 1:
        return np.zeros((2, 0), np.int64)
    return knn_graph(x, k, max_radius=float(r), query=query, n_threads=n_threads)
