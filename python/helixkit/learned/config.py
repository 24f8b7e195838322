"""The config file of ``helixkit train gc|oc|edge|noise|learned_tracking|track_filter``.

A config file holds optional sections, each checked strictly (unknown keys are errors)::

    {"data":  {"n_train_events": 8, "n_val_events": 2, "mu": 200, "seed": 0,
               "volumes": [7, 8, 9]},
     "gc":    {"hidden_dim": 128, "loss": "hinge",
               "extra_features": ["cluster"]},        "gc_train":    {"epochs": 20},
     "oc":    {"hidden_dim": 64},                     "oc_train":    {"epochs": 20},
     "noise": {"hidden_dim": 64},                     "noise_train": {"epochs": 20},
     "use_noise_filter": false, "gc_checkpoint": null, "noise_checkpoint": null}

``train learned_tracking`` trains noise classifier → GC → OC in turn, picks the
DBSCAN working point (eps, min_samples) by double-majority efficiency on the
validation events and writes one ``learned_tracking.pt`` that
``nn.load`` / ``nn.pretrained("learned_tracking")`` restore. With
``"method": "edge"`` the OC stage is replaced by the edge classifier
(sections ``edge`` / ``edge_train``, see :mod:`helixkit.learned.edge`), whose
threshold is picked the same way.

With a ``track_filter`` section (``{}`` for the defaults, see
:mod:`helixkit.learned.track_filter`) the edge route ends with a track-candidate filter,
trained on its own events (``track_filter_train``: ``n_train_events`` 6, ``n_val_events``
2, ``epochs``, ``lr``, ``batch_size``, ``seed``) with its cut picked for ``max_fake``;
``train track_filter`` adds one to the edge-route model in ``model_checkpoint`` (default:
the shipped model).

``gc_checkpoint`` / ``noise_checkpoint`` reuse trained stages instead of
training them (``train oc|edge`` needs the GC; with both, ``train
learned_tracking`` trains only the route after the graph), so the last stage
can be studied without paying for the first ones again. ``edge_checkpoint``
starts the edge classifier from trained weights of the same architecture, with at most
its scoring passes (fine-tuning, e.g. on the wider graph of ``"doublets": true``); ``"edge_stages": [2]``
then trains only its second pass, and with ``"refine_passes": 2`` in ``edge``,
``"edge_stages": [3]`` adds a third pass to a trained two-pass classifier. Each of the
three takes a checkpoint of that stage or a ``learned_tracking`` one (the
shipped bundle included), whose part is used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .._validation import require
from ..nn.config import DataConfig, config_from_dict
from ..nn.features import n_features
from ..nn.training import TrainConfig
from .edge import EdgeConfig, check_edge_stages
from .gc import GCConfig
from .noise import NoiseConfig, n_input_features
from .oc import OCConfig
from .track_filter import TrackFilterConfig

SECTIONS = ("data", "gc", "gc_train", "oc", "oc_train", "noise", "noise_train",
            "use_noise_filter", "gc_checkpoint", "noise_checkpoint", "method", "edge",
            "edge_train", "track_filter", "track_filter_train", "model_checkpoint",
            "edge_checkpoint", "edge_stages")

EDGE_TRAIN_DEFAULTS = {"lr": 2e-3, "batch_size": 8192, "epochs": 20}


@dataclass
class LearnedDataConfig(DataConfig):
    """Simulated training data: TrackFormer's data section plus the detector volumes used."""

    n_train_events: int = 8
    n_val_events: int = 2
    mu: float = 200.0
    seed: int = 0
    volumes: list[int] | None = field(default_factory=lambda: [7, 8, 9])


@dataclass
class TrackFilterTrainConfig:
    """Training of the track-candidate filter: its own simulated events (seeds ``data.seed``
    + 2 and + 3, never the edge classifier's), then a short full-batch-style MLP fit."""

    n_train_events: int = 6
    n_val_events: int = 2
    epochs: int = 60
    lr: float = 3e-3
    batch_size: int = 1024
    seed: int = 0

    def validate(self) -> None:
        for name in ("n_train_events", "n_val_events", "epochs", "batch_size"):
            require(getattr(self, name) >= 1, self, name, "must be >= 1")
        require(self.lr > 0, self, "lr", "must be > 0")


def parse_config(config: dict[str, Any], progress: bool = True) -> dict[str, Any]:
    unknown = sorted(set(config) - set(SECTIONS))
    if unknown:
        msg = f"config: unknown section(s) {unknown}; valid: {list(SECTIONS)}"
        raise ValueError(msg)
    out = {"data": config_from_dict(LearnedDataConfig, config.get("data", {}),
                                    where="config.data")}
    # the extra hit-feature groups (gc.extra_features) set every stage's input width
    gc = dict(config.get("gc", {}))
    extra = gc.get("extra_features", [])
    if not isinstance(extra, list) or not all(isinstance(g, str) for g in extra):
        msg = f"config.gc.extra_features must be a list of strings, got {extra!r}"
        raise ValueError(msg)
    try:
        width = n_features(tuple(extra))
    except ValueError as e:
        raise ValueError(f"config.gc.extra_features: {e}") from None
    out["gc"] = config_from_dict(GCConfig, {"in_dim": width, **gc}, where="config.gc")
    oc = {"emb_dim": out["gc"].out_dim, "out_dim": out["gc"].out_dim, "hit_dim": width,
          **config.get("oc", {})}
    out["oc"] = config_from_dict(OCConfig, oc, where="config.oc")
    noise = {"extra_features": list(extra), **config.get("noise", {})}
    groups, direction = noise["extra_features"], noise.get("direction_features", False)
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        msg = f"config.noise.extra_features must be a list of strings, got {groups!r}"
        raise ValueError(msg)
    if not isinstance(direction, bool):
        msg = f"config.noise.direction_features must be true or false, got {direction!r}"
        raise ValueError(msg)
    try:
        noise.setdefault("in_dim", n_input_features(tuple(groups), direction))
    except ValueError as e:
        raise ValueError(f"config.noise.extra_features: {e}") from None
    out["noise"] = config_from_dict(NoiseConfig, noise, where="config.noise")
    edge = {"emb_dim": out["gc"].out_dim, "pt_thld": out["gc"].pt_thld, **config.get("edge", {})}
    out["edge"] = config_from_dict(EdgeConfig, edge, where="config.edge")
    for name in ("gc_train", "oc_train", "noise_train", "edge_train"):
        defaults = EDGE_TRAIN_DEFAULTS if name == "edge_train" else {}
        out[name] = config_from_dict(TrainConfig, {"progress": progress, **defaults,
                                                   **config.get(name, {})},
                                     where=f"config.{name}")
    out["method"] = config.get("method", "oc")
    if out["method"] not in ("oc", "edge"):
        msg = f"config.method must be 'oc' or 'edge', got {out['method']!r}"
        raise ValueError(msg)
    out["use_noise_filter"] = bool(config.get("use_noise_filter", False))
    out["track_filter"] = (None if config.get("track_filter") is None else
                           config_from_dict(TrackFilterConfig, config["track_filter"],
                                            where="config.track_filter"))
    out["track_filter_train"] = config_from_dict(
        TrackFilterTrainConfig, config.get("track_filter_train", {}),
        where="config.track_filter_train")
    for name in ("gc_checkpoint", "noise_checkpoint", "model_checkpoint", "edge_checkpoint"):
        out[name] = config.get(name)
        if out[name] is not None and not isinstance(out[name], str):
            msg = f"config.{name} must be a file path or null, got {out[name]!r}"
            raise ValueError(msg)
    stages = config.get("edge_stages")
    if stages is not None and not isinstance(stages, list):
        msg = f"config.edge_stages must be a list of pass numbers, got {stages!r}"
        raise ValueError(msg)
    # with edge_checkpoint, train_learned checks the passes it has before any event is made
    stages = check_edge_stages(out["edge"], None if out["edge_checkpoint"] else 0, stages,
                               where="config.edge_stages", init_name="config.edge_checkpoint")
    out["edge_stages"] = tuple(stages)
    if out["edge_checkpoint"] and out["method"] != "edge":
        msg = "config.edge_checkpoint: needs \"method\": \"edge\" (it starts the edge classifier)"
        raise ValueError(msg)
    if out["noise_checkpoint"] and not out["use_noise_filter"]:
        msg = "config.noise_checkpoint is given but use_noise_filter is false"
        raise ValueError(msg)
    return out
