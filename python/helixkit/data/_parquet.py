"""pyarrow helpers shared by the parquet readers and writers (optional extra ``parquet``).

pyarrow is imported when this module is (the readers that need it are themselves
imported only on first use, :mod:`helixkit._lazy`); without it every entry point
raises an ImportError that says how to install it. Every problem with a file is a
ValueError naming the file, and the column and the row where there is one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

try:  # optional extra: helixkit[parquet]
    import pyarrow as pa
    import pyarrow.parquet as pq
except ImportError:  # pragma: no cover - exercised only without pyarrow
    pa = None
    pq = None

_INSTALL = "pip install 'helixkit[parquet]' (or pip install pyarrow)"


def require_pyarrow(what: str) -> None:
    """ImportError naming ``what`` and the install command when pyarrow is missing."""
    if pa is None:
        msg = f"{what} needs pyarrow: {_INSTALL}"
        raise ImportError(msg)


def as_path(path: Any, name: str) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        msg = f"{name} must be a path (str or os.PathLike), got {type(path).__name__}"
        raise TypeError(msg)
    return Path(path)


def open_parquet(path: Path) -> Any:
    """A ``pyarrow.parquet.ParquetFile``; a missing, truncated or foreign file is a ValueError."""
    if not path.is_file():
        msg = f"{path}: file not found"
        raise ValueError(msg)
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        msg = f"{path}: not a readable parquet file ({exc})"
        raise ValueError(msg) from None


def read_row_group(pf: Any, path: Path, index: int, columns: list[str]) -> Any:
    try:
        return pf.read_row_group(index, columns=columns)
    except (pa.ArrowException, OSError) as exc:
        msg = f"{path}: row group {index} cannot be read ({exc}); the file may be truncated"
        raise ValueError(msg) from None


def read_columns(pf: Any, path: Path, columns: list[str]) -> Any:
    try:
        return pf.read(columns=columns)
    except (pa.ArrowException, OSError) as exc:
        msg = f"{path}: columns {columns} cannot be read ({exc}); the file may be truncated"
        raise ValueError(msg) from None


def value_kind(typ: Any) -> str | None:
    """'int', 'uint', 'float' or 'bool' for a numeric Arrow type, else None."""
    if pa.types.is_boolean(typ):
        return "bool"
    if pa.types.is_unsigned_integer(typ):
        return "uint"
    if pa.types.is_integer(typ):
        return "int"
    if pa.types.is_floating(typ):
        return "float"
    return None


def is_list(typ: Any) -> bool:
    return pa.types.is_list(typ) or pa.types.is_large_list(typ)


def check_schema(
    schema: Any,
    path: Path,
    *,
    lists: dict[str, tuple[str, ...]],
    scalars: dict[str, tuple[str, ...]],
    required: set[str],
) -> None:
    """Every present column of ``lists`` is a list of one of its kinds, of ``scalars`` a
    scalar of one of its kinds; the ``required`` ones must be present."""
    names = set(schema.names)
    missing = sorted(required - names)
    if missing:
        msg = (
            f"{path}: missing column(s) {', '.join(map(repr, missing))}; the file has "
            f"{', '.join(schema.names)} (not the expected schema)"
        )
        raise ValueError(msg)
    for name, kinds in lists.items():
        if name not in names:
            continue
        typ = schema.field(name).type
        if not is_list(typ) or value_kind(typ.value_type) not in kinds:
            msg = (
                f"{path}: column {name!r} has type {typ}, expected a list of "
                f"{' or '.join(kinds)} (one list per event)"
            )
            raise ValueError(msg)
    for name, kinds in scalars.items():
        if name not in names:
            continue
        typ = schema.field(name).type
        if value_kind(typ) not in kinds:
            msg = f"{path}: column {name!r} has type {typ}, expected {' or '.join(kinds)}"
            raise ValueError(msg)


def list_cell(table: Any, name: str, row: int, path: Path, where: str) -> np.ndarray:
    """The values of one list cell as a numpy array (nulls are an error)."""
    cell = table.column(name)[row]
    if not cell.is_valid:
        msg = f"{path}: column {name!r}, row {row} ({where}): null list"
        raise ValueError(msg)
    values = cell.values
    if values.null_count:
        msg = f"{path}: column {name!r}, row {row} ({where}): {values.null_count} null value(s)"
        raise ValueError(msg)
    return values.to_numpy(zero_copy_only=False)


def event_ids(pf: Any, path: Path, column: str = "event_id") -> np.ndarray:
    """The scalar event-id column of a one-row-per-event file (nulls, repeats: errors)."""
    ids = read_columns(pf, path, [column]).column(column)
    if ids.null_count:
        msg = f"{path}: column {column!r} has {ids.null_count} null value(s)"
        raise ValueError(msg)
    arr = ids.to_numpy().astype(np.int64)
    s = np.sort(arr)
    dup = s[1:] == s[:-1]
    if dup.any():
        row = int(np.flatnonzero(arr == s[1:][dup][0])[1])
        msg = f"{path}: column {column!r}, row {row}: event id {s[1:][dup][0]} is repeated"
        raise ValueError(msg)
    return arr


def locate(pf: Any, row: int) -> tuple[int, int]:
    """(row group, row inside it) of a file row."""
    start = 0
    for g in range(pf.metadata.num_row_groups):
        n = pf.metadata.row_group(g).num_rows
        if row < start + n:
            return g, row - start
        start += n
    msg = f"row {row} is beyond the {start} rows of the file"
    raise IndexError(msg)
