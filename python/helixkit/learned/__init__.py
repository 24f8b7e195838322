"""Learned tracking: noise filter → metric-learning embedding (GC) → graph → GNN → tracks.

Two routes after the GC embedding's graph: an object-condensation GNN clustered with DBSCAN
(``oc``), or an edge classifier whose scores build tracks by maximum-weight matching, with a
track-candidate filter (``edge``, the shipped model). Modules, bottom to top:

- the networks, one module each: :mod:`~helixkit.learned.gc` (:class:`GraphConstructionNet`),
  :mod:`~helixkit.learned.noise` (:class:`NoiseClassifier`), :mod:`~helixkit.learned.oc`
  (:class:`CondensationNet`), :mod:`~helixkit.learned.edge` (:class:`EdgeClassifier`, graph
  and track building), :mod:`~helixkit.learned.track_filter` (:class:`TrackFilter`);
- :mod:`~helixkit.learned.model`: the assembled :class:`LearnedTracking` and
  :func:`find_tracks` (with the shipped ``pretrained("learned_tracking")`` by default);
- :mod:`~helixkit.learned.batches`: per-event inputs of each stage;
- :mod:`~helixkit.learned.evaluate`: ``evaluate_*`` per stage, :func:`evaluate_learned`;
- :mod:`~helixkit.learned.config` (the ``helixkit train`` config file) and
  :mod:`~helixkit.learned.train`: ``train_*`` per stage, :func:`train_learned`;
- :mod:`~helixkit.learned.cli` and :mod:`~helixkit.learned.demo`: its CLI commands and
  ``helixkit demo`` stage.

Names are imported on first use, so ``import helixkit.learned`` does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "gc": ["GCConfig", "GraphConstructionNet", "gc_loss", "hinge_loss", "info_nce_loss"],
    "noise": ["NoiseClassifier", "NoiseConfig", "noise_features", "noise_mask", "roc_auc",
              "roc_curve", "working_point"],
    "oc": ["CondensationNet", "OCConfig", "condensation_loss", "embed_clusters", "graph_inputs"],
    "edge": ["EdgeClassifier", "EdgeConfig", "build_tracks", "check_edge_stages",
             "doublet_edges", "edge_graph", "edge_inputs", "graph_edges", "triplet_inputs",
             "union_edges"],
    "track_filter": ["TrackFilter", "TrackFilterConfig", "candidate_features", "candidate_truth",
                     "refine_tracks"],
    "model": ["LearnedTracking", "LearnedTrackingConfig", "find_tracks"],
    "batches": ["edge_batch", "gc_batch", "hit_geometry", "noise_batch", "oc_batch"],
    "evaluate": ["TRACK_FILTER_CUTS", "evaluate_edge", "evaluate_event", "evaluate_gc",
                 "evaluate_learned", "evaluate_noise", "evaluate_oc", "evaluate_track_filter",
                 "track_filter_batch"],
    "config": ["LearnedDataConfig", "TrackFilterTrainConfig", "parse_config"],
    "train": ["train_edge", "train_gc", "train_learned", "train_noise", "train_oc",
              "train_track_filter"],
}, submodules=["batches", "cli", "config", "demo", "edge", "evaluate", "gc", "model", "noise",
               "oc", "track_filter", "train"])

if TYPE_CHECKING:
    from .batches import edge_batch, gc_batch, hit_geometry, noise_batch, oc_batch
    from .config import LearnedDataConfig, TrackFilterTrainConfig, parse_config
    from .edge import (
        EdgeClassifier,
        EdgeConfig,
        build_tracks,
        check_edge_stages,
        doublet_edges,
        edge_graph,
        edge_inputs,
        graph_edges,
        triplet_inputs,
        union_edges,
    )
    from .evaluate import (
        TRACK_FILTER_CUTS,
        evaluate_edge,
        evaluate_event,
        evaluate_gc,
        evaluate_learned,
        evaluate_noise,
        evaluate_oc,
        evaluate_track_filter,
        track_filter_batch,
    )
    from .gc import GCConfig, GraphConstructionNet, gc_loss, hinge_loss, info_nce_loss
    from .model import LearnedTracking, LearnedTrackingConfig, find_tracks
    from .noise import (
        NoiseClassifier,
        NoiseConfig,
        noise_features,
        noise_mask,
        roc_auc,
        roc_curve,
        working_point,
    )
    from .oc import CondensationNet, OCConfig, condensation_loss, embed_clusters, graph_inputs
    from .track_filter import (
        TrackFilter,
        TrackFilterConfig,
        candidate_features,
        candidate_truth,
        refine_tracks,
    )
    from .train import (
        train_edge,
        train_gc,
        train_learned,
        train_noise,
        train_oc,
        train_track_filter,
    )
