"""Per-event inputs of the learned-tracking stages: what training and evaluation feed each
network (hit features, the noise cut, the GC embedding, the graph and its edge inputs)."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch

from ..data import Event, layer_key
from ..graph import hits_of_interest
from ..nn.features import feature_columns, hit_features
from .edge import EdgeConfig, edge_graph, edge_inputs
from .gc import GCConfig, GraphConstructionNet
from .noise import NoiseClassifier, noise_features, noise_mask
from .oc import OCConfig, graph_inputs


class _HasFeatureConfig(Protocol):
    config: GCConfig | EdgeConfig


def feature_groups(model: GraphConstructionNet | NoiseClassifier | _HasFeatureConfig,
                   ) -> tuple[str, ...]:
    """The extra hit-feature groups a GC, noise or edge model was trained with."""
    return tuple(getattr(model.config, "extra_features", ()) or ())


def hit_geometry(event: Event, rows: np.ndarray) -> tuple[np.ndarray, ...]:
    """x, y, z (mm) and layer id of the hits ``rows`` (geometric doublets, track filter)."""
    hits = event.hits
    return (*(np.asarray(hits[c], np.float64)[rows] for c in ("x", "y", "z")),
            layer_key(event, rows))


def gc_batch(event: Event, volumes: tuple[int, ...] | None,
             cfg: GCConfig) -> tuple[torch.Tensor, ...]:
    """Inputs of the GC embedding for one event: (features, particle_id, of_interest)."""
    feats, rows = hit_features(event, volumes=volumes, extra=tuple(cfg.extra_features))
    pt_thld = cfg.pt_thld
    pid = event.hit_particle_id[rows]
    oi = hits_of_interest(event, pt_min=pt_thld)[rows]
    return torch.from_numpy(feats), torch.from_numpy(pid.astype(np.int64)), torch.from_numpy(oi)


def oc_batch(event: Event, gc_model: GraphConstructionNet, oc_config: OCConfig, *,
             volumes: tuple[int, ...] | None = (7, 8, 9),
             noise_model: NoiseClassifier | None = None,
             n_threads: int = 0) -> tuple[torch.Tensor | np.ndarray, ...]:
    """Inputs of the OC GNN for one event: (node, edge, edge_index, particle_id, of_interest,
    rows); the GC embedding is frozen (computed without gradients)."""
    feats, rows = hit_features(event, volumes=volumes, extra=feature_groups(gc_model))
    feats, rows = filter_noise(feats, rows, feature_groups(gc_model), noise_model, n_threads)
    emb = gc_model.embed(feats)
    node, edge, ei = graph_inputs(feats, emb, oc_config, n_threads=n_threads)
    pid = torch.from_numpy(event.hit_particle_id[rows].astype(np.int64))
    oi = torch.from_numpy(hits_of_interest(event, pt_min=oc_config.pt_thld)[rows])
    return node, edge, ei, pid, oi, rows


def filter_noise(feats: np.ndarray, rows: np.ndarray, extra: tuple[str, ...],
                 noise_model: NoiseClassifier | None,
                 n_threads: int) -> tuple[np.ndarray, np.ndarray]:
    """The hit features and rows the noise classifier keeps (all without one); ``extra``:
    the feature groups of ``feats``."""
    if noise_model is None:
        return feats, rows
    cols = feature_columns(extra, feature_groups(noise_model))
    keep = noise_mask(feats[:, cols], noise_model, n_threads=n_threads)
    return feats[keep], rows[keep]


def edge_batch(event: Event, gc_model: GraphConstructionNet, edge_config: EdgeConfig, *,
               volumes: tuple[int, ...] | None = (7, 8, 9),
               noise_model: NoiseClassifier | None = None,
               n_threads: int = 0) -> tuple[np.ndarray, ...]:
    """Edge-classifier inputs of one event: ``(X, y, inner, outer, rows)``; ``y`` marks edges
    between two hits of the same particle (not noise)."""
    extra = tuple(edge_config.extra_features)
    feats, rows = hit_features(event, volumes=volumes, extra=extra)
    feats, rows = filter_noise(feats, rows, extra, noise_model, n_threads)
    emb = gc_model.embed(feats[:, feature_columns(extra, feature_groups(gc_model))])
    pairs = edge_graph(emb, edge_config, hit_geometry(event, rows), n_threads=n_threads)
    x, inner, outer = edge_inputs(feats, emb, edge_config, edges=pairs)
    pid = event.hit_particle_id[rows]
    y = (pid[inner] == pid[outer]) & (pid[inner] > 0)
    return x, y, inner, outer, rows


def noise_batch(event: Event, volumes: tuple[int, ...] | None,
                extra: tuple[str, ...] = (), direction: bool = False
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs of the noise classifier for one event: (features, is_noise)."""
    feats, rows = hit_features(event, volumes=volumes, extra=extra)
    x = noise_features(feats, extra=extra, direction=direction)
    y = torch.from_numpy(event.hit_particle_id[rows] == 0)
    return torch.from_numpy(x), y


__all__ = ["edge_batch", "feature_groups", "filter_noise", "gc_batch", "hit_geometry",
           "noise_batch", "oc_batch"]
