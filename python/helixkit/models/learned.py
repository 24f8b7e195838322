"""The assembled learned tracking model: noise filter → GC embedding → kNN graph → OC GNN → DBSCAN.

One checkpoint holds the three networks, their configs and the clustering
working point (eps, min_samples), so ``models.load(path)`` or
``models.pretrained("learned_tracking")`` gives a ready track finder.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from torch import nn

from .._validation import require
from . import config_from_dict, register_model
from .gc import GCConfig, GraphConstructionNet
from .noise import NoiseClassifier, NoiseConfig, noise_features
from .oc import CondensationNet, OCConfig, embed_clusters, graph_inputs


@dataclass
class LearnedTrackingConfig:
    gc: dict[str, Any] = field(default_factory=dict)
    oc: dict[str, Any] = field(default_factory=dict)
    noise: dict[str, Any] | None = None
    eps: float = 0.1
    min_samples: int = 1
    volumes: list[int] | None = field(default_factory=lambda: [7, 8, 9])

    def validate(self) -> None:
        require(self.eps > 0, self, "eps", "must be > 0")
        require(self.min_samples >= 1, self, "min_samples", "must be >= 1")
        for name in ("gc", "oc"):
            require(isinstance(getattr(self, name), dict), self, name, "must be a dict")
        require(self.noise is None or isinstance(self.noise, dict), self, "noise",
                "must be a dict or None")


@register_model("learned_tracking", LearnedTrackingConfig)
class LearnedTracking(nn.Module):
    """``find_tracks(event)`` → track label per hit (−1 = none), with a timing breakdown."""

    def __init__(self, config: LearnedTrackingConfig | None = None) -> None:
        super().__init__()
        cfg = config or LearnedTrackingConfig()
        cfg.validate()
        self.config = cfg
        self.gc = GraphConstructionNet(config_from_dict(GCConfig, cfg.gc, where="config.gc"))
        self.oc = CondensationNet(config_from_dict(OCConfig, cfg.oc, where="config.oc"))
        self.noise = (NoiseClassifier(config_from_dict(NoiseConfig, cfg.noise,
                                                       where="config.noise"))
                      if cfg.noise is not None else None)
        self.last_timing: dict[str, float] = {}

    @classmethod
    def from_parts(cls, gc: GraphConstructionNet, oc: CondensationNet,
                   noise: NoiseClassifier | None = None, *, eps: float, min_samples: int,
                   volumes: tuple[int, ...] | None = (7, 8, 9)) -> LearnedTracking:
        from dataclasses import asdict  # noqa: PLC0415

        vols = None if volumes is None else list(volumes)
        if noise is not None and noise.config.volumes != vols:
            msg = (f"the noise classifier was trained on volumes {noise.config.volumes}, the "
                   f"pipeline uses {vols}: its per-event feature standardisation would differ")
            raise ValueError(msg)
        if noise is not None and list(noise.config.extra_features) != list(
                gc.config.extra_features):
            msg = (f"the noise classifier was trained with extra_features "
                   f"{noise.config.extra_features}, the GC model with "
                   f"{gc.config.extra_features}: the pipeline computes the hit features once")
            raise ValueError(msg)

        cfg = LearnedTrackingConfig(gc=asdict(gc.config), oc=asdict(oc.config),
                                    noise=None if noise is None else asdict(noise.config),
                                    eps=float(eps), min_samples=int(min_samples),
                                    volumes=None if volumes is None else list(volumes))
        model = cls(cfg)
        model.gc.load_state_dict(gc.state_dict())
        model.oc.load_state_dict(oc.state_dict())
        if noise is not None:
            model.noise.load_state_dict(noise.state_dict())
        model.eval()
        return model

    def find_tracks(self, event: Any, *, eps: float | None = None,
                    min_samples: int | None = None, n_threads: int = 0) -> np.ndarray:
        from ..features import hit_features  # noqa: PLC0415
        from ..graph import dbscan  # noqa: PLC0415

        vols = None if self.config.volumes is None else tuple(self.config.volumes)
        t = {}
        t0 = time.perf_counter()
        feats, rows = hit_features(event, volumes=vols,
                                   extra=tuple(self.gc.config.extra_features))
        t["features"] = time.perf_counter() - t0
        if self.noise is not None and len(rows) > 16:
            t0 = time.perf_counter()
            p = self.noise.noise_probability(noise_features(feats, n_threads=n_threads))
            keep = p < self.noise.config.threshold
            feats, rows = feats[keep], rows[keep]
            t["noise_filter"] = time.perf_counter() - t0
        labels = np.full(event.n_hits, -1, dtype=np.int64)
        if len(rows) <= self.oc.config.k:
            self.last_timing = t
            return labels
        t0 = time.perf_counter()
        emb = self.gc.embed(feats)
        t["embedding"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        node, edge, ei = graph_inputs(feats, emb, self.oc.config, n_threads=n_threads)
        t["graph"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        _, x = embed_clusters(self.oc, node, edge, ei)
        t["gnn"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        labels[rows] = dbscan(x, self.config.eps if eps is None else eps,
                              self.config.min_samples if min_samples is None else min_samples,
                              n_threads=n_threads)
        t["clustering"] = time.perf_counter() - t0
        self.last_timing = t
        return labels


__all__ = ["LearnedTracking", "LearnedTrackingConfig"]
