"""Shared ML infrastructure of helixkit's systems.

- the model registry and checkpoints: :func:`register_model`, :func:`save`, :func:`load`,
  :func:`pretrained` (weights shipped with a system), :func:`available`;
- configs: :func:`config_from_dict` (strict), :func:`load_json_config`, :class:`DataConfig`;
- training: :class:`TrainConfig`, :class:`Trainer`, :func:`seed_everything`,
  :func:`select_device`;
- inputs: :func:`hit_features` (per-hit features of an event), :class:`HitDataset`
  (a torch dataset of events);
- building blocks (:mod:`helixkit.nn.blocks`): :func:`~helixkit.nn.blocks.mlp`,
  :class:`~helixkit.nn.blocks.ResFCNN`, ...

Names are imported on first use, so ``import helixkit.nn`` does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "registry": ["BUILTIN", "available", "load", "pretrained", "read_checkpoint",
                 "register_model", "save", "shipped"],
    "config": ["DataConfig", "config_from_dict", "load_json_config"],
    "training": ["TrainConfig", "Trainer", "is_main_process", "lr_factor", "plot_history",
                 "seed_everything", "select_device", "training_sections", "world"],
    "features": ["EXTRA_FEATURES", "FEATURE_NAMES", "feature_columns", "hit_features",
                 "n_features"],
    "dataset": ["HitDataset"],
}, submodules=["blocks", "config", "dataset", "features", "registry", "training"])

if TYPE_CHECKING:
    from .config import DataConfig, config_from_dict, load_json_config
    from .dataset import HitDataset
    from .features import EXTRA_FEATURES, FEATURE_NAMES, feature_columns, hit_features, n_features
    from .registry import (
        BUILTIN,
        available,
        load,
        pretrained,
        read_checkpoint,
        register_model,
        save,
        shipped,
    )
    from .training import (
        TrainConfig,
        Trainer,
        lr_factor,
        plot_history,
        seed_everything,
        select_device,
        training_sections,
    )
