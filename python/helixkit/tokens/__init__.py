"""Hit tokenisation: a VQ-VAE that turns hits into tokens (``"hit_tokenizer"``).

- :class:`HitTokenizer`, :class:`HitTokenizerConfig` (registered ``"hit_tokenizer"``): encoder
  MLP → residual EMA vector quantiser (k-means initialisation, dead-code restarts, commitment
  loss, straight-through gradients) → decoder MLP; ``encode`` / ``decode`` / ``reconstruct``;
- :func:`train_hit_tokenizer` (``helixkit train hit_tokenizer``),
  :func:`evaluate_hit_tokenizer` (``helixkit evaluate hit_tokenizer``: resolution per
  coordinate and layer, codebook use), :func:`codebook_study` (resolution vs codebook size);
- :func:`hit_sample`, :func:`layer_index`, :func:`track_order` (events → tokeniser inputs);
- :func:`~helixkit.tokens.demo.demo_stage` (its ``helixkit demo`` stage).

Shipped weights: ``helixkit.nn.pretrained("hit_tokenizer")``. Names are imported on first
use, so ``import helixkit.tokens`` does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "model": ["HitTokenizer", "HitTokenizerConfig", "ResidualQuantizer", "kmeans",
              "nearest_code"],
    "data": ["HitSample", "hit_sample", "layer_index", "track_order"],
    "train": ["train_hit_tokenizer"],
    "evaluate": ["codebook_study", "evaluate_hit_tokenizer", "tokenizer_metrics"],
}, submodules=["cli", "data", "demo", "evaluate", "model", "run", "train"])

if TYPE_CHECKING:
    from .data import HitSample, hit_sample, layer_index, track_order
    from .evaluate import codebook_study, evaluate_hit_tokenizer, tokenizer_metrics
    from .model import HitTokenizer, HitTokenizerConfig, ResidualQuantizer, kmeans, nearest_code
    from .train import train_hit_tokenizer
