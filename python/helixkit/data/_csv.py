"""Strict, fast reading and atomic writing of numeric CSV tables.

Shared by the TrackML and ACTS readers. Three parsers, fastest first:

1. ``helixkit._core.parse_numeric_csv`` (C++, multi-threaded, typed: std::from_chars
   straight into the storage dtypes) for tables without unknown columns. It accepts
   only well-formed numeric text (exactly one field per column, no whitespace or
   quotes, integers in range, finite floats) and returns nothing otherwise;
2. pyarrow's CSV reader (multi-threaded, typed; the optional extra ``parquet``) when
   pyarrow is installed;
3. ``numpy.loadtxt`` with a structured dtype (C parser, no pandas).

Text a parser refuses goes to the next one; the checks after parsing are the same
for all. When the numpy path fails too, a slow pure-Python pass over the text finds
the first bad line and reports the file, the line, the column and the problem, so
every error message comes from the same place whichever parser ran first.
``HELIXKIT_CSV_PARSER=arrow`` skips the C++ parser, ``=numpy`` both fast ones (tests,
benchmarks). Nothing here ever returns partially parsed data.

Conventions
-----------
* The first line is the header (column names, comma separated). Column order
  is free; names must be unique.
* Known columns are parsed with the dtype the caller gives; integer columns must
  hold integers that fit that dtype, float columns finite numbers that fit it,
  ``bool`` columns one of ``0/1/true/false`` (any case).
* Unknown ("extra") columns are kept: int64 if every value is an integer,
  float64 otherwise; non-numeric values are an error.
* Floats are written with the shortest representation that reads back to the
  same value of their dtype (numpy's Dragon4), so a write/read round trip is
  bit-exact; files are written to a temporary name and moved into place with
  ``os.replace``.
"""

from __future__ import annotations

import functools
import gzip
import importlib
import io
import os
import re
import shutil
import tempfile
import zlib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .. import _core
from .._files import default_file_mode

_BOOL_TOKENS = {"0": False, "1": True, "false": False, "true": True}


def _kind(dtype: Any) -> str:
    dt = np.dtype(dtype)
    if dt == np.bool_:
        return "bool"
    if dt.kind == "u":
        return "uint"
    if dt.kind == "i":
        return "int"
    if dt.kind == "f":
        return "float"
    msg = f"unsupported column dtype {dt}"
    raise TypeError(msg)


def _parser_choice() -> str:
    """"native" (default), "arrow" or "numpy": the first parser tried (HELIXKIT_CSV_PARSER)."""
    choice = os.environ.get("HELIXKIT_CSV_PARSER", "").lower()
    return choice if choice in ("arrow", "numpy") else "native"


#: the C++ parser's column types (NumericCsvParser::ColumnType)
_NATIVE_TYPES = {np.dtype(np.int32): 0, np.dtype(np.int64): 1, np.dtype(np.uint64): 2,
                 np.dtype(np.float32): 3, np.dtype(np.float64): 4, np.dtype(np.bool_): 5}


def _parse_native(
    raw: bytes,
    start: int,
    names: list[str],
    kinds: list[str],
    dtypes: Mapping[str, Any],
    nan_ok: set[str],
) -> dict[str, np.ndarray] | None:
    """Typed columns of ``raw[start:]`` parsed by the C++ parser (no copy of the text); None
    when a column has no native type (unknown columns) or the parser refuses the text."""
    if _parser_choice() != "native" or "extra" in kinds:
        return None
    types = [_NATIVE_TYPES.get(np.dtype(dtypes[n])) for n in names]
    if any(t is None for t in types):
        return None
    cols = _core.parse_numeric_csv(raw, start, types, [n in nan_ok for n in names])
    if cols is None:
        return None
    return {n: (c.view(np.bool_) if t == 5 else c)
            for n, t, c in zip(names, types, cols, strict=True)}


@functools.cache
def _arrow_csv() -> Any:
    """(pyarrow, pyarrow.csv), or None without pyarrow (optional extra, imported on first read)."""
    if _parser_choice() == "numpy":
        return None
    try:
        return importlib.import_module("pyarrow"), importlib.import_module("pyarrow.csv")
    except ImportError:
        return None


def _parse_arrow(
    raw: bytes,
    start: int,
    names: list[str],
    kinds: list[str],
    dtypes: Mapping[str, Any],
    nan_ok: set[str],
) -> dict[str, np.ndarray] | None:
    """Typed columns of ``raw[start:]`` parsed by pyarrow (a zero-copy slice of the text); None
    when it refuses the text (the caller falls back)."""
    mods = _arrow_csv()
    if mods is None:
        return None
    pa, pcsv = mods
    # parsed straight into the storage dtype (an int32 overflow or a float32 overflow makes
    # pyarrow refuse or gives inf: then the numpy path reports it with its usual message)
    column_types = {
        n: pa.string() if k == "bool" else pa.from_numpy_dtype(np.dtype(dtypes[n]))
        for n, k in zip(names, kinds)
        if k != "extra"
    }
    try:
        table = pcsv.read_csv(
            pa.py_buffer(raw).slice(start),
            read_options=pcsv.ReadOptions(column_names=names, use_threads=True),
            parse_options=pcsv.ParseOptions(delimiter=",", quote_char=False),
            convert_options=pcsv.ConvertOptions(
                column_types=column_types,
                null_values=[],
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowException, ValueError):
        return None
    out: dict[str, np.ndarray] = {}
    for name, kind in zip(names, kinds):
        col = table.column(name)
        if col.null_count:
            return None
        if kind == "extra":
            if col.type == pa.int64():
                out[name] = col.to_numpy()
            elif col.type == pa.float64():
                arr = col.to_numpy()
                if not np.isfinite(arr).all():
                    return None  # the numpy path reports it
                if (np.abs(arr) >= 2.0**63).any():
                    return None  # perhaps uint64 integers: the numpy path keeps them exact
                out[name] = arr
            else:
                return None  # text, bool, dates, uint64: the numpy path decides
        elif kind == "bool":
            out[name] = np.asarray(col.to_pylist(), dtype=str)
        else:
            arr = col.to_numpy()
            if kind == "float":
                finite = np.isfinite(arr)
                if name in nan_ok:
                    finite |= np.isnan(arr)
                if not finite.all():
                    return None  # inf, overflow or nan: the numpy path decides and reports
            out[name] = arr
    return out


_PARSE_DTYPE = {"bool": "U8", "uint": np.uint64, "int": np.int64, "float": np.float64}


def read_bytes(path: Path) -> bytes:
    """Whole file as bytes; ``.gz`` files are decompressed. Errors are ValueErrors."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        msg = f"{path}: file not found"
        raise ValueError(msg) from None
    except OSError as exc:
        msg = f"{path}: cannot read ({exc.strerror or exc})"
        raise ValueError(msg) from None
    if path.name.endswith(".gz"):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            msg = f"{path}: not a valid gzip file ({exc})"
            raise ValueError(msg) from None
    return raw


def _decode(data: bytes, path: Path, offset: int = 0) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        msg = f"{path}: not UTF-8 text (byte {offset + exc.start})"
        raise ValueError(msg) from None


def split_header(raw: bytes, path: Path) -> tuple[list[str], int, int]:
    """Column names, the offset of the body in ``raw`` and the 1-based line number of the
    first body line (the body is not copied: a table's text is parsed where it lies)."""
    start = 3 if raw.startswith(b"\xef\xbb\xbf") else 0
    skipped = 0
    # tolerate blank lines before the header
    while raw.startswith((b"\n", b"\r\n"), start):
        start = raw.index(b"\n", start) + 1
        skipped += 1
    if _blank(raw, start):
        msg = f"{path}: empty file (no header line)"
        raise ValueError(msg)
    nl = raw.find(b"\n", start)
    header, body_start = (raw[start:], len(raw)) if nl < 0 else (raw[start:nl], nl + 1)
    names = [h.strip() for h in _decode(header, path).strip().split(",")]
    for i, name in enumerate(names):
        if not name:
            msg = f"{path}: header column {i + 1} has an empty name"
            raise ValueError(msg)
        if names.index(name) != i:
            msg = f"{path}: column {name!r} appears more than once in the header"
            raise ValueError(msg)
    return names, body_start, skipped + 2


_NON_SPACE = re.compile(rb"\S")


def _blank(raw: bytes, start: int) -> bool:
    """True if ``raw[start:]`` is empty or whitespace (found without copying it)."""
    return _NON_SPACE.search(raw, start) is None


def _body_lines(body: bytes) -> list[str]:
    return body.decode("utf-8", errors="replace").splitlines()


def _token_error(tok: str, kind: str, dtype: Any) -> str | None:
    """Why ``tok`` is not a valid value of ``kind`` (None if it is)."""
    t = tok.strip()
    if not t:
        return "empty value"
    if kind == "bool":
        return None if t.lower() in _BOOL_TOKENS else f"{t!r} is not a boolean (0/1/true/false)"
    if kind in ("int", "uint"):
        try:
            v = int(t)
        except ValueError:
            return f"{t!r} is not an integer"
        info = np.iinfo(np.dtype(dtype))
        if not info.min <= v <= info.max:
            return f"{t} does not fit in {np.dtype(dtype)} [{info.min}, {info.max}]"
        return None
    try:
        v = float(t)
    except ValueError:
        return f"{t!r} is not a number"
    if not np.isfinite(v):
        return f"{t!r} is not finite"
    with np.errstate(over="ignore"):
        narrowed = np.asarray(v).astype(dtype)
    if not np.isfinite(narrowed):
        return f"{t} overflows {np.dtype(dtype)}"
    return None


def _diagnose(
    path: Path,
    names: list[str],
    kinds: list[str],
    dtypes: list[Any],
    body: bytes,
    first: int,
    nan_ok: set[str] | frozenset[str] = frozenset(),
) -> str:
    """Slow path: the first problem in ``body`` as a message (used only after a failure)."""
    _decode(body, path, len(body))  # the offset is approximate: header bytes not counted
    for lineno, line in enumerate(_body_lines(body), start=first):
        if not line.strip():
            continue
        fields = line.split(",")
        if len(fields) != len(names):
            return (
                f"{path}: line {lineno} has {len(fields)} fields but the header has "
                f"{len(names)} columns ({', '.join(names)})"
            )
        for name, kind, dtype, tok in zip(names, kinds, dtypes, fields):
            if name in nan_ok and tok.strip().lower() == "nan":
                continue
            why = _token_error(tok, kind, dtype)
            if why is not None:
                return f"{path}: column {name!r}, line {lineno}: {why}"
    return ""


def _byte_column_pattern(index: int) -> re.Pattern[bytes]:
    # a row whose field ``index`` is one raw byte followed by a comma (the whole row is
    # consumed, so a raw newline byte cannot start a bogus row), or any other line
    lead = rb"(?:[^,\n]*,)" + b"{%d}" % index
    return re.compile(rb"(?m)^(" + lead + rb")([\s\S])(,[^\n]*)$|^([^\n]*)$")


def decode_byte_column(body: bytes, names: list[str], name: str, path: Path, first: int) -> bytes:
    """Rewrite an 8-bit column written as one raw byte per row into decimal text.

    ACTS (dfelibs' CSV writer) writes ``uint8_t`` fields such as ``local_key`` of
    ``measurements.csv`` as the byte itself, not as digits. The column is taken as
    raw bytes when some row holds a single byte there that is not a digit; a file
    whose every value is one digit is read as text (a raw key of 48..57 would be
    ambiguous and is read as the digit). The last column cannot be a raw byte
    column (the byte could be the line end).
    """
    index = names.index(name)
    if index == len(names) - 1:
        return body
    lead = rb"(?:[^,\n]*,)" + b"{%d}" % index
    if re.search(rb"(?m)^" + lead + rb"[^0-9],", body) is None:
        return body
    pattern = _byte_column_pattern(index)
    line = first - 1

    def repl(m: re.Match[bytes]) -> bytes:
        nonlocal line
        line += 1
        if m.group(2) is None:
            rest = m.group(4)
            if not rest.strip():
                return rest
            msg = (
                f"{path}: column {name!r}, line {line}: expected one raw byte (the ACTS "
                f"8-bit flavour of this column, as on the other rows)"
            )
            raise ValueError(msg)
        value = m.group(2)[0]
        if value == 0x0A:
            line += 1  # the raw byte was a newline: the file has one more line here
        return m.group(1) + b"%d" % value + m.group(3)

    return pattern.sub(repl, body)


def read_csv(
    path: Path,
    dtypes: Mapping[str, Any],
    *,
    required: Iterable[str] = (),
    byte_columns: Iterable[str] = (),
    nan_ok: Iterable[str] = (),
) -> dict[str, np.ndarray]:
    """Read a numeric CSV table into a dict of 1-D arrays, in header order.

    Parameters
    ----------
    path : Path
        ``.csv`` or ``.csv.gz`` file.
    dtypes : mapping
        Storage dtype of the known columns (int32/int64/uint64/float32/float64/bool).
    required : iterable of str
        Columns that must be present.
    byte_columns : iterable of str
        Integer columns that may be written as one raw byte per row (ACTS
        ``uint8_t`` fields, see :func:`decode_byte_column`).
    nan_ok : iterable of str
        Float columns where NaN is a valid value (ACTS writes ``global_x`` as
        ``nan`` when it has no surface); inf is still an error.

    Raises
    ------
    ValueError
        Naming the file, and the column and line where applicable, for a missing
        file or column, a malformed row, a non-numeric, non-finite or out-of-range
        value.
    """
    raw = read_bytes(path)
    names, start, first = split_header(raw, path)
    for name in byte_columns:
        if name in names:
            raw, start = decode_byte_column(raw[start:], names, name, path, first), 0
    nan_cols = set(nan_ok)
    missing = [c for c in required if c not in names]
    if missing:
        msg = (
            f"{path}: missing required column(s) {', '.join(repr(m) for m in missing)}; "
            f"header has {', '.join(names)}"
        )
        raise ValueError(msg)
    # extras are parsed as text first, then converted (int64 if possible, else float64)
    kinds = [_kind(dtypes[n]) if n in dtypes else "extra" for n in names]
    parse = [(n, _PARSE_DTYPE[k] if k != "extra" else "U64") for n, k in zip(names, kinds)]
    if _blank(raw, start):
        return {n: np.zeros(0, dtype=dtypes.get(n, np.int64)) for n in names}
    # the C++ parser checks types, ranges and finiteness while parsing: its columns are final
    native = _parse_native(raw, start, names, kinds, dtypes, nan_cols)
    if native is not None:
        return native
    fast = _parse_arrow(raw, start, names, kinds, dtypes, nan_cols)
    if fast is not None:
        lazy_body = functools.cache(lambda: raw[start:])  # the text, only for an error message
        return {
            name: (
                fast[name]
                if kind == "extra"
                else _convert_known(
                    fast[name], kind, np.dtype(dtypes[name]), name, path, first, lazy_body,
                    name in nan_cols,
                )
            )
            for name, kind in zip(names, kinds)
        }
    body = raw[start:]  # the numpy path and its error messages work on the body text
    try:
        table = np.loadtxt(
            io.BytesIO(body),
            delimiter=",",
            dtype=parse,
            comments=None,
            ndmin=1,
            encoding="utf-8",
        )
    except ValueError as exc:
        diag_kinds = [k if k != "extra" else "float" for k in kinds]
        diag_dtypes = [dtypes.get(n, np.float64) for n in names]
        msg = (
            _diagnose(path, names, diag_kinds, diag_dtypes, body, first, nan_cols)
            or f"{path}: {exc}"
        )
        raise ValueError(msg) from None
    out: dict[str, np.ndarray] = {}
    for name, kind in zip(names, kinds):
        col = table[name]
        if col.dtype.kind == "U":
            # text-parsed columns have a fixed width: a value that fills it may be truncated
            too_long = np.char.str_len(col) >= col.dtype.itemsize // 4
            if too_long.any():
                line = _bad_row(too_long, first, body)
                head = str(col[too_long][0])
                msg = f"{path}: column {name!r}, line {line}: value too long ({head!r}...)"
                raise ValueError(msg)
        if kind == "extra":
            out[name] = _convert_extra(col, name, path, first, body)
            continue
        out[name] = _convert_known(
            col, kind, np.dtype(dtypes[name]), name, path, first, body, name in nan_cols
        )
    return out


def _bad_row(mask: np.ndarray, first: int, body: bytes | Callable[[], bytes]) -> int:
    """Line number of the first True row of ``mask`` (blank lines accounted for); ``body`` is
    the text or a function that returns it."""
    if callable(body):
        body = body()
    row = int(np.flatnonzero(mask)[0])
    seen = -1
    for lineno, line in enumerate(_body_lines(body), start=first):
        if line.strip():
            seen += 1
            if seen == row:
                return lineno
    return first + row


def _convert_known(
    col: np.ndarray,
    kind: str,
    dtype: np.dtype,
    name: str,
    path: Path,
    first: int,
    body: bytes | Callable[[], bytes],
    nan_ok: bool = False,
) -> np.ndarray:
    if kind == "bool":
        low = np.char.lower(np.char.strip(col))
        is_true = (low == "1") | (low == "true")
        ok = is_true | (low == "0") | (low == "false")
        if not ok.all():
            line = _bad_row(~ok, first, body)
            bad = str(col[~ok][0])
            msg = f"{path}: column {name!r}, line {line}: {bad!r} is not a boolean (0/1/true/false)"
            raise ValueError(msg)
        return is_true
    if kind == "float":
        with np.errstate(over="ignore"):  # overflow to inf is reported below
            out = col.astype(dtype, copy=False)
        bad = ~np.isfinite(out)
        if nan_ok:
            bad &= ~np.isnan(out)
        if bad.any():
            line = _bad_row(bad, first, body)
            value = float(col[bad][0])
            why = f"{value} overflows {dtype}" if np.isfinite(value) else f"{value} is not finite"
            msg = f"{path}: column {name!r}, line {line}: {why}"
            raise ValueError(msg)
        return out
    if col.dtype != dtype:
        info = np.iinfo(dtype)
        bad = (col < info.min) | (col > info.max)
        if bad.any():
            line = _bad_row(bad, first, body)
            msg = (
                f"{path}: column {name!r}, line {line}: {col[bad][0]} does not fit in "
                f"{dtype} [{info.min}, {info.max}]"
            )
            raise ValueError(msg)
        return col.astype(dtype)
    return col


def _convert_extra(col: np.ndarray, name: str, path: Path, first: int, body: bytes) -> np.ndarray:
    stripped = np.char.strip(col)
    for int_type in (np.int64, np.uint64):
        try:
            return stripped.astype(int_type)
        except (ValueError, OverflowError):
            pass
    integer_like = np.char.isdigit(np.char.lstrip(stripped, "+-"))
    if integer_like.all():
        line = _bad_row(np.ones(len(col), bool), first, body)
        msg = f"{path}: column {name!r}: integers too large for int64/uint64 (near line {line})"
        raise ValueError(msg)
    try:
        out = stripped.astype(np.float64)
    except ValueError:
        tokens = stripped.tolist()
        bad = np.array([_token_error(t, "float", np.float64) is not None for t in tokens])
        line = _bad_row(bad, first, body)
        msg = f"{path}: column {name!r}, line {line}: {str(stripped[bad][0])!r} is not a number"
        raise ValueError(msg) from None
    bad = ~np.isfinite(out)
    if bad.any():
        line = _bad_row(bad, first, body)
        msg = f"{path}: column {name!r}, line {line}: {str(stripped[bad][0])!r} is not finite"
        raise ValueError(msg)
    return out


# --- id checks shared by the readers ----------------------------------------------


def check_unique(ids: np.ndarray, path: Path, column: str) -> None:
    """ValueError naming ``path`` and ``column`` if ``ids`` has a repeated value."""
    if len(ids) < 2 or (ids[1:] > ids[:-1]).all():
        return  # strictly increasing (the usual file order): unique, no sort needed
    s = np.sort(ids)
    dup = s[1:] == s[:-1]
    if dup.any():
        msg = (
            f"{path}: column {column!r} has duplicate values "
            f"(first: {s[1:][dup][0]}, {int(dup.sum())} repeat(s))"
        )
        raise ValueError(msg)


def index_of(
    ids: np.ndarray, reference: np.ndarray, *, path: Path, column: str, what: str
) -> np.ndarray:
    """Row of ``reference`` (unique values) that holds each value of ``ids``.

    A value of ``ids`` missing from ``reference`` is a ValueError naming
    ``path``, ``column`` and ``what`` the reference is.
    """
    order = np.argsort(reference, kind="stable")
    sorted_ref = reference[order]
    pos = np.minimum(np.searchsorted(sorted_ref, ids), max(len(sorted_ref) - 1, 0))
    found = (sorted_ref[pos] == ids) if len(sorted_ref) else np.zeros(len(ids), bool)
    if not found.all():
        bad = ids[~found]
        msg = f"{path}: column {column!r} has {len(bad)} value(s) not in {what} (first: {bad[0]})"
        raise ValueError(msg)
    return order[pos] if len(sorted_ref) else np.zeros(0, np.int64)


# --- writing -------------------------------------------------------------------


def _format_column(name: str, values: np.ndarray, label: str) -> list[str]:
    arr = np.asarray(values)
    if arr.ndim != 1:
        msg = f"{label}: column {name!r} must be 1-D, got shape {arr.shape}"
        raise ValueError(msg)
    if arr.dtype == np.bool_:
        return np.where(arr, "1", "0").tolist()
    if arr.dtype.kind in "iu":
        return arr.astype(str).tolist()
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            msg = f"{label}: column {name!r} has a non-finite value ({arr[i]}) in row {i}"
            raise ValueError(msg)
        # numpy's float -> str cast is the shortest repr that round-trips in the
        # column's own precision (Dragon4), so float32 values read back bit-exact.
        return arr.astype(str).tolist()
    msg = f"{label}: column {name!r} has non-numeric dtype {arr.dtype}; only numbers can be written"
    raise ValueError(msg)


def format_csv(columns: Mapping[str, np.ndarray], label: str) -> bytes:
    """The CSV text (header + rows) of equal-length numeric columns."""
    names = list(columns)
    if not names:
        msg = f"{label}: no columns to write"
        raise ValueError(msg)
    for name in names:
        if "," in name or "\n" in name or not name.strip():
            msg = f"{label}: column name {name!r} cannot be written to CSV"
            raise ValueError(msg)
    cols = [_format_column(n, columns[n], label) for n in names]
    lengths = {len(c) for c in cols}
    if len(lengths) > 1:
        msg = f"{label}: columns have different lengths {sorted(lengths)}"
        raise ValueError(msg)
    lines = [",".join(names), *map(",".join, zip(*cols))]
    return ("\n".join(lines) + "\n").encode("ascii")


def _backup(target: Path) -> str | None:
    """A hard link (or, where links are unsupported, a copy) of an existing target."""
    if not target.exists():
        return None
    fd, bak = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".bak")
    os.close(fd)
    os.unlink(bak)
    try:
        os.link(target, bak)
    except OSError:
        shutil.copy2(target, bak)
    return bak


def write_files_atomically(files: Mapping[Path, bytes], *, remove: Iterable[Path] = ()) -> None:
    """Write every file to a temporary sibling, then move all into place: all or nothing.

    If anything fails before the moves, no target is touched and every
    temporary file is removed. If a move fails, the targets already moved are
    rolled back (the previous file restored from a hard-link backup, or the new
    file removed where there was none), so the directory never holds a mix of
    the old and the new set. New files get the user's normal permissions
    (``0o666 & ~umask``), not ``mkstemp``'s ``0o600``. ``remove`` lists stale
    files deleted after the moves (e.g. the ``.csv`` twin of a freshly written
    ``.csv.gz``).
    """
    mode = default_file_mode()
    temps: list[tuple[str, Path]] = []
    backups: dict[Path, str | None] = {}
    moved: list[Path] = []
    try:
        for target, payload in files.items():
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
            temps.append((tmp, target))
            os.fchmod(fd, mode)
            with os.fdopen(fd, "wb") as fh:
                if target.name.endswith(".gz"):
                    # mtime=0 and no file name: identical events give identical bytes
                    with gzip.GzipFile(
                        filename="", mode="wb", fileobj=fh, mtime=0, compresslevel=6
                    ) as gz:
                        gz.write(payload)
                else:
                    fh.write(payload)
                fh.flush()
                os.fsync(fh.fileno())
        for _, target in temps:
            backups[target] = _backup(target)
        for tmp, target in temps:
            os.replace(tmp, target)
            moved.append(target)
    except BaseException:
        for target in reversed(moved):
            bak = backups.get(target)
            if bak is not None:
                os.replace(bak, target)
            elif target.exists():
                target.unlink()
        for tmp, _ in temps:
            if os.path.exists(tmp):
                os.unlink(tmp)
        for bak in backups.values():
            if bak is not None and os.path.exists(bak):
                os.unlink(bak)
        raise
    for bak in backups.values():
        if bak is not None and os.path.exists(bak):
            os.unlink(bak)
    for stale in remove:
        if stale.exists() and stale not in files:
            stale.unlink()
