"""Config helpers shared by every ML system: strict dataclass configs and JSON config files."""

from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


_NUMBER = (int, float)


def _accepts(tp: Any, value: Any) -> bool | None:
    """Whether ``value`` fits the annotation ``tp`` (None: not a kind checked here)."""
    if tp is Any:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        verdicts = [_accepts(a, value) for a in typing.get_args(tp)]
        if any(v is None for v in verdicts):
            return None
        return any(verdicts)
    if tp is type(None):
        return value is None
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, _NUMBER) and not isinstance(value, bool)
    if tp is str:
        return isinstance(value, str)
    base = origin or tp
    if base in (list, tuple):
        return isinstance(value, (list, tuple))
    if base is dict:
        return isinstance(value, dict)
    return None


def _kind(tp: Any) -> str:
    names = {bool: "a bool", int: "an integer", float: "a number", str: "a string",
             type(None): "null"}
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return " or ".join(_kind(a) for a in typing.get_args(tp))
    base = typing.get_origin(tp) or tp
    return names.get(tp) or {list: "a list", tuple: "a list", dict: "an object"}.get(base, str(tp))


def _check_types(config_cls: type, values: dict[str, Any], where: str) -> None:
    """``TypeError`` naming ``<where>.<key>`` for a value of the wrong JSON type
    (``"5"`` for an integer, ``null`` for a number)."""
    try:
        hints = typing.get_type_hints(config_cls)
    except (NameError, TypeError):  # an annotation that cannot be resolved: leave it
        return
    for name, value in values.items():
        tp = hints.get(name)
        if tp is not None and _accepts(tp, value) is False:
            msg = f"{where}: {name} must be {_kind(tp)}, got {type(value).__name__} {value!r}"
            raise TypeError(msg)


def config_from_dict(config_cls: type[T], values: dict[str, Any], *, where: str = "config") -> T:
    """Build a config dataclass strictly: unknown keys are an error."""
    names = {f.name for f in dataclasses.fields(config_cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - names)
    if unknown:
        msg = f"{where}: unknown key(s) {unknown} for {config_cls.__name__}; valid: {sorted(names)}"
        raise ValueError(msg)
    _check_types(config_cls, values, where)
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
    except IsADirectoryError:
        msg = f"config file {path} is a directory, not a JSON file"
        raise ValueError(msg) from None
    except UnicodeDecodeError as exc:
        msg = f"config file {path} is not UTF-8 text (a binary file?): {exc.reason} at byte {exc.start}"
        raise ValueError(msg) from None
    except json.JSONDecodeError as exc:
        msg = f"config file {path} is not valid JSON: {exc}"
        raise ValueError(msg) from None
    except OSError as exc:
        msg = f"config file {path} cannot be read: {exc.strerror or exc}"
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
