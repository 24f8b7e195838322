"""Trained models: a registry, checkpoints with their config, and shipped weights.

Every model class is registered under a name with :func:`register_model` and
is built from a config dataclass. A checkpoint (:func:`save`) stores the model
name, its config, its state dict and the metrics it was saved with, so
:func:`load` restores it without knowing its class in advance.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

_REGISTRY: dict[str, tuple[type, type]] = {}
_FORMAT = "helixkit-model/1"


def register_model(name: str, config_cls: type) -> Any:
    """Class decorator: register ``cls(config)`` under ``name``."""

    def deco(cls: type) -> type:
        _REGISTRY[name] = (cls, config_cls)
        cls.model_name = name
        return cls

    return deco


def _ensure_registered() -> None:
    from . import edge, gc, learned, noise, oc, trackformer  # noqa: F401, PLC0415


def available() -> list[str]:
    _ensure_registered()
    return sorted(_REGISTRY)


def config_from_dict(config_cls: type, values: dict[str, Any], *, where: str = "config") -> Any:
    """Build a config dataclass strictly: unknown keys are an error."""
    names = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        msg = f"{where}: unknown key(s) {unknown} for {config_cls.__name__}; valid: {sorted(names)}"
        raise ValueError(msg)
    cfg = config_cls(**values)
    if hasattr(cfg, "validate"):
        cfg.validate()
    return cfg


def save(model: Any, path: str | os.PathLike[str], *, metrics: dict[str, Any] | None = None,
         extra: dict[str, Any] | None = None) -> Path:
    """Write a checkpoint atomically (temp file + rename)."""
    import torch  # noqa: PLC0415

    name = getattr(model, "model_name", None)
    if name not in _REGISTRY:
        msg = f"{type(model).__name__} is not a registered helixkit model"
        raise ValueError(msg)
    sync = getattr(model, "sync_config", None)
    if callable(sync):      # a bundle whose parts' configs may have moved since it was made
        sync()
    payload = {
        "format": _FORMAT,
        "model": name,
        "config": dataclasses.asdict(model.config),
        "state_dict": model.state_dict(),
        "metrics": dict(metrics or {}),
        "extra": dict(extra or {}),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    import torch  # noqa: PLC0415

    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:  # torch raises many types for corrupt files
        msg = f"{path}: not a readable helixkit checkpoint ({type(exc).__name__}: {exc})"
        raise ValueError(msg) from exc
    if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
        msg = f"{path}: not a helixkit checkpoint (missing format {_FORMAT!r})"
        raise ValueError(msg)
    return payload


def load(path: str | os.PathLike[str], *, expect: str | None = None) -> Any:
    """Restore a model (in eval mode) with its config from a checkpoint.

    ``expect``: require a specific model name (a checkpoint of another model
    is a ``ValueError``).
    """
    _ensure_registered()
    payload = read_checkpoint(path)
    name = payload["model"]
    if name not in _REGISTRY:
        msg = f"{path}: unknown model {name!r}; known: {sorted(_REGISTRY)}"
        raise ValueError(msg)
    if expect is not None and name != expect:
        msg = f"{path}: checkpoint holds a {name!r} model, expected {expect!r}"
        raise ValueError(msg)
    cls, config_cls = _REGISTRY[name]
    model = cls(config_from_dict(config_cls, payload["config"], where=str(path)))
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        msg = f"{path}: weights do not match the {name!r} config ({exc})"
        raise ValueError(msg) from exc
    model.metrics = payload.get("metrics", {})
    model.eval()
    return model


def pretrained(name: str) -> Any:
    """Load weights shipped with helixkit (trained on the built-in simulation)."""
    weights = resources.files(__name__) / "weights"
    ref = weights / f"{name}.pt"
    if not ref.is_file():
        shipped = sorted(p.name[:-3] for p in weights.iterdir() if p.name.endswith(".pt")) \
            if weights.is_dir() else []
        msg = f"no pretrained model {name!r}; shipped: {shipped}"
        raise ValueError(msg)
    with resources.as_file(ref) as p:
        return load(p, expect=name)


__all__ = ["available", "config_from_dict", "load", "pretrained", "register_model", "save"]
