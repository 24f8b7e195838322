"""Config helpers shared by every ML system: strict dataclass configs and JSON config files."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def config_from_dict(config_cls: type[T], values: dict[str, Any], *, where: str = "config") -> T:
    """Build a config dataclass strictly: unknown keys are an error."""
    names = {f.name for f in dataclasses.fields(config_cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - names)
    if unknown:
        msg = f"{where}: unknown key(s) {unknown} for {config_cls.__name__}; valid: {sorted(names)}"
        raise ValueError(msg)
    cfg = config_cls(**values)
    if hasattr(cfg, "validate"):
        cfg.validate()
    return cfg


def load_json_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a JSON config file into a dict (errors name the file)."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        msg = f"config file {path} does not exist"
        raise ValueError(msg) from None
    except json.JSONDecodeError as exc:
        msg = f"config file {path} is not valid JSON: {exc}"
        raise ValueError(msg) from None
    if not isinstance(data, dict):
        msg = f"config file {path} must hold a JSON object"
        raise ValueError(msg)
    return data


@dataclass
class DataConfig:
    """Simulated training data of a config file's ``data`` section: events for training and
    validation (different seeds), their pile-up and the first seed."""

    n_train_events: int = 40
    n_val_events: int = 5
    mu: float = 50.0
    seed: int = 0

    def validate(self) -> None:
        for name in ("n_train_events", "n_val_events"):
            if getattr(self, name) < 1:
                msg = f"DataConfig: {name} (={getattr(self, name)}) must be >= 1"
                raise ValueError(msg)
        if self.mu <= 0:
            msg = f"DataConfig: mu (={self.mu}) must be > 0"
            raise ValueError(msg)


__all__ = ["DataConfig", "config_from_dict", "load_json_config"]
