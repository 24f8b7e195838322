"""Trained models: a registry, checkpoints with their config, and shipped weights.

Every model class is registered under a name with :func:`register_model` and
is built from a config dataclass. A checkpoint (:func:`save`) stores the model
name, its config, its state dict and the metrics it was saved with, so
:func:`load` restores it without knowing its class in advance.

The registry sits below the systems and imports none of them: :data:`BUILTIN` names the
module that registers each of helixkit's own models (imported when a name is first
needed), and a system ships its weights in its own package, ``<system>/weights/<name>.pt``.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import tempfile
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .._files import umask_mode
from .config import config_from_dict

if TYPE_CHECKING:
    from torch import nn

_REGISTRY: dict[str, tuple[type, type]] = {}
_FORMAT = "helixkit-model/1"
M = TypeVar("M", bound=type)

#: The module that registers each of helixkit's own models. A new system adds its names
#: here (a string, so the registry does not import the systems above it).
BUILTIN: dict[str, str] = {
    "gc": "helixkit.learned.gc",
    "oc": "helixkit.learned.oc",
    "noise": "helixkit.learned.noise",
    "edge": "helixkit.learned.edge",
    "learned_tracking": "helixkit.learned.model",
    "trackformer": "helixkit.trackformer.model",
    "hit_tokenizer": "helixkit.tokens.model",
    "next_hit": "helixkit.tokens.nexthit",
    "next_hit_tokens": "helixkit.tokens.nexthit",
    "deepcore": "helixkit.deepcore.model",
}


def register_model(name: str, config_cls: type) -> Callable[[M], M]:
    """Class decorator: register ``cls(config)`` under ``name``."""
    def deco(cls: M) -> M:
        _REGISTRY[name] = (cls, config_cls)
        cls.model_name = name
        return cls

    return deco


def _lookup(name: str) -> tuple[type, type] | None:
    """The (class, config class) registered as ``name``, importing its built-in module."""
    if name not in _REGISTRY and name in BUILTIN:
        importlib.import_module(BUILTIN[name])
    return _REGISTRY.get(name)


def available() -> list[str]:
    """Names of all registered models (helixkit's own ones imported)."""
    for module in sorted(set(BUILTIN.values())):
        importlib.import_module(module)
    return sorted(_REGISTRY)


def save(model: nn.Module, path: str | os.PathLike[str], *,
         metrics: dict[str, Any] | None = None, extra: dict[str, Any] | None = None) -> Path:
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
        os.chmod(tmp, umask_mode())  # mkstemp's 0o600 would leak
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


def load(path: str | os.PathLike[str], *, expect: str | None = None) -> nn.Module:
    """Restore a model (in eval mode) with its config from a checkpoint.

    ``expect``: require a specific model name (a checkpoint of another model
    is a ``ValueError``).
    """
    payload = read_checkpoint(path)
    name = payload["model"]
    entry = _lookup(name) if isinstance(name, str) else None
    if entry is None:
        msg = f"{path}: unknown model {name!r}; known: {available()}"
        raise ValueError(msg)
    if expect is not None and name != expect:
        msg = f"{path}: checkpoint holds a {name!r} model, expected {expect!r}"
        raise ValueError(msg)
    cls, config_cls = entry
    model = cls(config_from_dict(config_cls, payload["config"], where=str(path)))
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        msg = f"{path}: weights do not match the {name!r} config ({exc})"
        raise ValueError(msg) from exc
    model.metrics = payload.get("metrics", {})
    model.eval()
    return model


def _weights_dir(module: str) -> Any:
    """``<package of module>/weights``: where a system ships its trained models."""
    return resources.files(module.rpartition(".")[0]) / "weights"


def shipped() -> list[str]:
    """Names of the models whose weights ship with helixkit."""
    names = set()
    for module in set(BUILTIN.values()):
        weights = _weights_dir(module)
        if weights.is_dir():
            names |= {p.name[:-3] for p in weights.iterdir() if p.name.endswith(".pt")}
    return sorted(n for n in names if n in BUILTIN)


def pretrained(name: str) -> nn.Module:
    """Load weights shipped with helixkit (trained on the built-in simulation)."""
    ref = _weights_dir(BUILTIN[name]) / f"{name}.pt" if name in BUILTIN else None
    if ref is None or not ref.is_file():
        msg = f"no pretrained model {name!r}; shipped: {shipped()}"
        raise ValueError(msg)
    with resources.as_file(ref) as p:
        return load(p, expect=name)


__all__ = ["BUILTIN", "available", "load", "pretrained", "read_checkpoint", "register_model",
           "save", "shipped"]
