"""The assembled learned tracking model.

Two routes after the noise filter and the GC embedding's kNN graph:

* ``oc``: object-condensation GNN → DBSCAN (working point eps, min_samples);
* ``edge``: edge classifier → mutual-best-edge track building (working point
  ``edge.threshold``), see :mod:`helixkit.learned.edge`.

One checkpoint holds the networks, their configs and the working point, so
``nn.load(path)`` or ``nn.pretrained("learned_tracking")`` gives a
ready track finder; :func:`find_tracks` runs the shipped one.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from torch import nn

from .._validation import check_float, check_int, check_n_threads, require, require_instance
from ..data import Event
from ..graph import dbscan
from ..nn.config import config_from_dict
from ..nn.features import feature_columns, hit_features
from ..nn.registry import pretrained, register_model
from .batches import feature_groups, hit_geometry
from .edge import EdgeClassifier, EdgeConfig, build_tracks, edge_graph, edge_inputs
from .gc import GCConfig, GraphConstructionNet
from .noise import NoiseClassifier, NoiseConfig
from .oc import CondensationNet, OCConfig, embed_clusters, graph_inputs
from .track_filter import TrackFilter, TrackFilterConfig, refine_tracks


@dataclass
class LearnedTrackingConfig:
    gc: dict[str, Any] = field(default_factory=dict)
    oc: dict[str, Any] | None = field(default_factory=dict)
    noise: dict[str, Any] | None = None
    eps: float = 0.1
    min_samples: int = 1
    volumes: list[int] | None = field(default_factory=lambda: [7, 8, 9])
    edge: dict[str, Any] | None = None
    track_filter: dict[str, Any] | None = None   # edge route only

    def validate(self) -> None:
        require(self.eps > 0, self, "eps", "must be > 0")
        require(self.min_samples >= 1, self, "min_samples", "must be >= 1")
        require(isinstance(self.gc, dict), self, "gc", "must be a dict")
        for name in ("oc", "noise", "edge", "track_filter"):
            require(getattr(self, name) is None or isinstance(getattr(self, name), dict), self,
                    name, "must be a dict or None")
        require((self.oc is None) != (self.edge is None), self, "oc",
                "and edge: exactly one must be given (the route after the graph)")
        require(self.track_filter is None or self.edge is not None, self, "track_filter",
                "needs the edge route")


@register_model("learned_tracking", LearnedTrackingConfig)
class LearnedTracking(nn.Module):
    """``find_tracks(event)`` → track label per hit (−1 = none), with a timing breakdown."""

    def __init__(self, config: LearnedTrackingConfig | None = None) -> None:
        super().__init__()
        cfg = config or LearnedTrackingConfig()
        cfg.validate()
        self.config = cfg
        self.gc = GraphConstructionNet(config_from_dict(GCConfig, cfg.gc, where="config.gc"))
        self.oc = (CondensationNet(config_from_dict(OCConfig, cfg.oc, where="config.oc"))
                   if cfg.oc is not None else None)
        self.edge = (EdgeClassifier(config_from_dict(EdgeConfig, cfg.edge, where="config.edge"))
                     if cfg.edge is not None else None)
        self.noise = (NoiseClassifier(config_from_dict(NoiseConfig, cfg.noise,
                                                       where="config.noise"))
                      if cfg.noise is not None else None)
        self.track_filter = (TrackFilter(config_from_dict(TrackFilterConfig, cfg.track_filter,
                                                          where="config.track_filter"))
                             if cfg.track_filter is not None else None)
        _check_features(self.gc, self.edge, self.noise)
        self.last_timing: dict[str, float] = {}

    @property
    def method(self) -> str:
        """``"edge"`` or ``"oc"``: the route after the graph."""
        return "edge" if self.edge is not None else "oc"

    @property
    def extra_features(self) -> tuple[str, ...]:
        """The hit-feature groups the pipeline computes (each stage takes its columns)."""
        owner = self.edge if self.edge is not None else self.gc
        return tuple(owner.config.extra_features)

    @classmethod
    def from_parts(cls, gc: GraphConstructionNet, oc: CondensationNet | None = None,
                   noise: NoiseClassifier | None = None, *, eps: float = 0.1,
                   min_samples: int = 1, volumes: tuple[int, ...] | None = (7, 8, 9),
                   edge: EdgeClassifier | None = None,
                   track_filter: TrackFilter | None = None) -> LearnedTracking:
        vols = None if volumes is None else list(volumes)
        if noise is not None and noise.config.volumes != vols:
            msg = (f"the noise classifier was trained on volumes {noise.config.volumes}, the "
                   f"pipeline uses {vols}: its per-event feature standardisation would differ")
            raise ValueError(msg)
        owner = edge if edge is not None else gc
        if noise is not None and not set(noise.config.extra_features) <= set(
                owner.config.extra_features):
            msg = (f"the noise classifier needs the feature groups "
                   f"{noise.config.extra_features}, the pipeline computes "
                   f"{owner.config.extra_features} (those of its edge classifier, or GC)")
            raise ValueError(msg)
        cfg = LearnedTrackingConfig(gc=asdict(gc.config),
                                    oc=None if oc is None else asdict(oc.config),
                                    noise=None if noise is None else asdict(noise.config),
                                    eps=float(eps), min_samples=int(min_samples),
                                    volumes=None if volumes is None else list(volumes),
                                    edge=None if edge is None else asdict(edge.config),
                                    track_filter=None if track_filter is None
                                    else asdict(track_filter.config))
        model = cls(cfg)
        for mine, theirs in ((model.gc, gc), (model.oc, oc), (model.edge, edge),
                             (model.noise, noise), (model.track_filter, track_filter)):
            if theirs is not None:
                mine.load_state_dict(theirs.state_dict())
        model.eval()
        return model

    def with_edge_passes(self, n_passes: int) -> LearnedTracking:
        """This pipeline with only the first ``n_passes`` scoring passes of its edge classifier
        (:meth:`EdgeClassifier.truncated`; same threshold and track filter) — the speed /
        efficiency trade-off without retraining."""
        if self.edge is None:
            msg = "n_passes: only for the edge route (this model uses OC + DBSCAN)"
            raise ValueError(msg)
        vols = None if self.config.volumes is None else tuple(self.config.volumes)
        return LearnedTracking.from_parts(self.gc, None, self.noise, volumes=vols,
                                          edge=self.edge.truncated(n_passes),
                                          track_filter=self.track_filter)

    def sync_config(self) -> None:
        """Take the parts' configs as they are now into the bundle's config — what
        :func:`helixkit.nn.save` writes, so a working point moved after loading (e.g.
        ``model.edge.config.threshold``) is saved with the model."""
        self.config.gc = asdict(self.gc.config)
        for name in ("oc", "noise", "edge", "track_filter"):
            part = getattr(self, name)
            setattr(self.config, name, None if part is None else asdict(part.config))

    def set_track_filter(self, track_filter: TrackFilter | None) -> None:
        """Attach (or with None remove) a trained track-candidate filter (edge route)."""
        if track_filter is not None and self.edge is None:
            msg = "track_filter: needs the edge route"
            raise ValueError(msg)
        self.track_filter = track_filter
        self.config.track_filter = None if track_filter is None else asdict(track_filter.config)

    def find_tracks(self, event: Event, *, eps: float | None = None,
                    min_samples: int | None = None, threshold: float | None = None,
                    n_threads: int = 0, use_track_filter: bool = True) -> np.ndarray:
        """Track label per hit (−1 = none); ``eps``/``min_samples`` (oc route) or
        ``threshold`` (edge route) override the stored working point;
        ``use_track_filter=False`` skips the track-candidate filter (edge route)."""
        out = self._find(event, eps=eps, min_samples=min_samples, threshold=threshold,
                         n_threads=n_threads, use_track_filter=use_track_filter)
        return out if isinstance(out, np.ndarray) else out["labels"]

    def edge_candidates(self, event: Event, *, threshold: float | None = None,
                        n_threads: int = 0) -> dict[str, Any] | None:
        """The edge route up to track building, unfiltered: ``rows`` (event hit indices),
        ``labels`` (per row), ``links``, ``score``, ``inner``, ``outer``, ``threshold``;
        None for an event too small for the graph."""
        if self.edge is None:
            msg = "edge_candidates: needs the edge route"
            raise ValueError(msg)
        out = self._find(event, threshold=threshold, n_threads=n_threads,
                         use_track_filter=False, keep_candidates=True)
        return None if isinstance(out, np.ndarray) else out

    @staticmethod
    def hit_geometry(event: Event, rows: np.ndarray) -> tuple[np.ndarray, ...]:
        """x, y, z (mm) and a layer id of the hits ``rows`` — the track filter's inputs."""
        return hit_geometry(event, rows)

    def _find(self, event: Event, *, eps: float | None = None, min_samples: int | None = None,
              threshold: float | None = None, n_threads: int = 0, use_track_filter: bool = True,
              keep_candidates: bool = False) -> Any:
        _check_find_args(event, eps, min_samples, n_threads)
        if threshold is not None:
            threshold = check_float(threshold, "threshold")
            if not 0.0 <= threshold <= 1.0:
                msg = f"threshold must be in [0, 1] (an edge score cut), got {threshold!r}"
                raise ValueError(msg)
        vols = None if self.config.volumes is None else tuple(self.config.volumes)
        extra = self.extra_features
        t = {}
        t0 = time.perf_counter()
        feats, rows = hit_features(event, volumes=vols, extra=extra)
        t["features"] = time.perf_counter() - t0
        if self.noise is not None and len(rows) > 16:
            t0 = time.perf_counter()
            cols = feature_columns(extra, tuple(self.noise.config.extra_features))
            p = self.noise.noise_probability(self.noise.inputs(feats[:, cols], n_threads=n_threads))
            keep = p < self.noise.config.threshold
            feats, rows = feats[keep], rows[keep]
            t["noise_filter"] = time.perf_counter() - t0
        labels = np.full(event.n_hits, -1, dtype=np.int64)
        k = self.edge.config.k if self.edge is not None else self.oc.config.k
        if len(rows) <= k:
            self.last_timing = t
            return labels
        t0 = time.perf_counter()
        emb = self.gc.embed(feats[:, feature_columns(extra, tuple(self.gc.config.extra_features))])
        t["embedding"] = time.perf_counter() - t0
        if self.edge is not None:
            cfg = self.edge.config
            t0 = time.perf_counter()
            geometry = self.hit_geometry(event, rows)
            pairs = edge_graph(emb, cfg, geometry, n_threads=n_threads)
            t["graph"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            x, inner, outer = edge_inputs(feats, emb, cfg, edges=pairs)
            t["edge_features"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            score = self.edge.score(x, inner, outer)
            t["gnn"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            thr = cfg.threshold if threshold is None else threshold
            lab, links = build_tracks(score, inner, outer, len(rows), thr, linking=cfg.linking,
                                      return_links=True)
            t["clustering"] = time.perf_counter() - t0
            self.last_timing = t
            if keep_candidates:
                return {"rows": rows, "labels": lab, "links": links, "score": score,
                        "inner": inner, "outer": outer, "threshold": thr}
            if self.track_filter is not None and use_track_filter:
                t0 = time.perf_counter()
                lab = refine_tracks(self.track_filter, lab, links, score, inner, outer, thr,
                                    *geometry, linking=cfg.linking)
                t["track_filter"] = time.perf_counter() - t0
            labels[rows] = lab
            return labels
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


def _check_features(gc: GraphConstructionNet, edge: EdgeClassifier | None,
                    noise: NoiseClassifier | None) -> None:
    """Every stage's feature groups must be among the ones the pipeline computes."""
    have = set(edge.config.extra_features if edge is not None else gc.config.extra_features)
    for name, part in (("GC", gc), ("noise classifier", noise)):
        if part is not None and not set(part.config.extra_features) <= have:
            msg = (f"the {name} was trained with extra_features {part.config.extra_features}, "
                   f"the pipeline computes {sorted(have)}")
            raise ValueError(msg)
    if edge is not None and edge.config.emb_dim != gc.config.out_dim:
        msg = (f"the edge classifier takes a {edge.config.emb_dim}-D embedding, the GC gives "
               f"{gc.config.out_dim}")
        raise ValueError(msg)


def _check_find_args(event: Any, eps: Any, min_samples: Any, n_threads: Any) -> None:
    """Type and range of find_tracks' arguments, checked on every route (the edge route
    does not use ``eps`` / ``min_samples``, but a bad value is still an error)."""
    require_instance(event, Event, "event", "helixkit.data.Event")
    if eps is not None:
        check_float(eps, "eps", positive=True)
    if min_samples is not None:
        check_int(min_samples, "min_samples", lo=1, hi=2**31 - 1)
    check_n_threads(n_threads)


def find_tracks(event: Event, model: LearnedTracking | GraphConstructionNet | None = None, *,
                eps: float | None = None, min_samples: int | None = None,
                volumes: tuple[int, ...] | None = (7, 8, 9), n_threads: int = 0) -> np.ndarray:
    """Track label per hit of ``event`` (−1 = not in a track or outside the model's volumes).

    ``model``: a :class:`LearnedTracking` (default: the
    shipped ``pretrained("learned_tracking")``), or a bare GC embedding model, which
    is clustered directly with DBSCAN (``eps`` default 0.1, ``min_samples`` 1, ``volumes``).
    """
    _check_find_args(event, eps, min_samples, n_threads)
    if model is None:
        model = pretrained("learned_tracking")
    if hasattr(model, "find_tracks"):
        return model.find_tracks(event, eps=eps, min_samples=min_samples, n_threads=n_threads)
    feats, rows = hit_features(event, volumes=volumes, extra=feature_groups(model))
    emb = model.embed(feats)
    labels = np.full(event.n_hits, -1, dtype=np.int64)
    labels[rows] = dbscan(emb, 0.1 if eps is None else eps,
                          1 if min_samples is None else min_samples, n_threads=n_threads)
    return labels


__all__ = ["LearnedTracking", "LearnedTrackingConfig", "find_tracks"]
