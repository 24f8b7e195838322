"""TrackFormer: track-parameter regression from a track's hits with a transformer encoder.

- :class:`TrackFormer`, :class:`TrackFormerConfig` (registered model ``"trackformer"``),
  :func:`build_sequences` (events → padded hit sequences and targets),
  :func:`three_point_estimate` (the helix baseline), :func:`export_onnx`;
- :func:`train_trackformer` (``helixkit train trackformer``),
  :func:`evaluate_trackformer` (``helixkit evaluate trackformer``: against the Kalman fit);
- :func:`~helixkit.trackformer.demo.demo_stage` (its ``helixkit demo`` stage).

Shipped weights: ``helixkit.nn.pretrained("trackformer")``. Names are imported on first
use, so ``import helixkit.trackformer`` does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "model": ["INPUT_SETS", "TARGET_SETS", "TrackFormer", "TrackFormerConfig", "TrackSequences",
              "build_sequences", "export_onnx", "first_hit_phi", "middle_hit_curvature",
              "perigee_from_targets", "targets_to_pt", "three_point_estimate"],
    "train": ["simulate", "train_trackformer"],
    "evaluate": ["evaluate_trackformer"],
}, submodules=["cli", "demo", "evaluate", "model", "train"])

if TYPE_CHECKING:
    from .evaluate import evaluate_trackformer
    from .model import (
        INPUT_SETS,
        TARGET_SETS,
        TrackFormer,
        TrackFormerConfig,
        TrackSequences,
        build_sequences,
        export_onnx,
        first_hit_phi,
        middle_hit_curvature,
        perigee_from_targets,
        targets_to_pt,
        three_point_estimate,
    )
    from .train import simulate, train_trackformer
