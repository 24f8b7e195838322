"""Hit tokenisation (a VQ-VAE that turns hits into tokens) and next-hit prediction.

- :class:`HitTokenizer`, :class:`HitTokenizerConfig` (registered ``"hit_tokenizer"``): encoder
  MLP → residual EMA vector quantiser (k-means initialisation, dead-code restarts, commitment
  loss, straight-through gradients) → decoder MLP; ``encode`` / ``decode`` / ``reconstruct``;
- :func:`train_hit_tokenizer` (``helixkit train hit_tokenizer``),
  :func:`evaluate_hit_tokenizer` (``helixkit evaluate hit_tokenizer``: resolution per
  coordinate and layer, codebook use), :func:`codebook_study` (resolution vs codebook size);
- :func:`hit_sample`, :func:`layer_index`, :func:`track_order` (events → tokeniser inputs);
- :class:`NextHitModel` (registered ``"next_hit"``): a causal transformer over a track's
  tokens, positions and layers → the next token, layer and position; its token-only baseline
  :class:`TokenNextHitModel` (``"next_hit_tokens"``); the physics baseline :class:`Helix`
  (through the last three hits, :func:`navigate` to the next layer);
  :func:`track_sequences` (events → padded track sequences), :func:`predict_next_hits`,
  :func:`follow` (track following from 3-hit seeds), :func:`train_next_hit`,
  :func:`evaluate_next_hit` (``helixkit evaluate next_hit``);
- :func:`~helixkit.tokens.demo.demo_stage` (its ``helixkit demo`` stage).

Shipped weights: ``helixkit.nn.pretrained("hit_tokenizer" | "next_hit" | "next_hit_tokens")``.
Names are imported on first use, so ``import helixkit.tokens`` does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "model": ["HitTokenizer", "HitTokenizerConfig", "ResidualQuantizer", "kmeans",
              "nearest_code"],
    "data": ["HitSample", "hit_sample", "layer_index", "track_order"],
    "helix": ["Helix", "helix_to_layer", "navigate"],
    "sequences": ["TrackSequences", "track_sequences"],
    "nexthit": ["NextHitConfig", "NextHitModel", "TokenNextHitConfig", "TokenNextHitModel"],
    "follow": ["FollowResult", "follow", "following_efficiency", "helix_next_hits",
               "helix_predictor", "model_predictor", "predict_next_hits",
               "token_only_next_hits"],
    "train": ["train_hit_tokenizer", "train_next_hit"],
    "evaluate": ["codebook_study", "compare_next_hit", "evaluate_hit_tokenizer",
                 "evaluate_next_hit", "following_study", "next_hit_metrics",
                 "tokenizer_metrics"],
}, submodules=["cli", "data", "demo", "evaluate", "follow", "helix", "model", "nexthit", "run",
               "sequences", "train"])

if TYPE_CHECKING:
    from .data import HitSample, hit_sample, layer_index, track_order
    from .evaluate import (
        codebook_study,
        compare_next_hit,
        evaluate_hit_tokenizer,
        evaluate_next_hit,
        following_study,
        next_hit_metrics,
        tokenizer_metrics,
    )
    from .follow import (
        FollowResult,
        follow,
        following_efficiency,
        helix_next_hits,
        helix_predictor,
        model_predictor,
        predict_next_hits,
        token_only_next_hits,
    )
    from .helix import Helix, helix_to_layer, navigate
    from .model import HitTokenizer, HitTokenizerConfig, ResidualQuantizer, kmeans, nearest_code
    from .nexthit import NextHitConfig, NextHitModel, TokenNextHitConfig, TokenNextHitModel
    from .sequences import TrackSequences, track_sequences
    from .train import train_hit_tokenizer, train_next_hit
