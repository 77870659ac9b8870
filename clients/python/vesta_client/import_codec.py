"""The bulk import's body formats (docs/api.md, "Bulk import"), version 1.

NDJSON: one point a line, `{"id", "vector", "payload"}` (the upsert route's
fields). Binary: a 20-byte header (magic `VIMP`, u16 version 1, u8 dtype 0
float32 / 1 float16, u8 flags bit 0 = payloads follow, u32 dim, u64 rows),
the u64 ids, the row-major little-endian values and, with payloads, a u64
byte count and that many bytes of NDJSON, one line per row (a blank line: no
payload).

The binary encoder works with numpy (matrices in, no copies beyond the byte
conversion) or without it (lists in, through `struct`)."""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

try:
    import numpy as _np
except ImportError:  # numpy is optional
    _np = None

MAGIC = b"VIMP"
VERSION = 1
DTYPE_FLOAT32 = 0
DTYPE_FLOAT16 = 1
FLAG_PAYLOADS = 1

_HEADER = struct.Struct("<4sHBBIQ")  # magic, version, dtype, flags, dim, rows
_FLOAT16_MAX = 65504.0
_U64_MAX = 2**64 - 1


def _dumps(value: Any) -> str:
    # One line (no newline can appear: json.dumps escapes them in strings);
    # NaN and Infinity are refused, as JSON has none.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False,
                      default=lambda v: v.tolist() if hasattr(v, "tolist") else _refuse(v))


def _refuse(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def encode_ndjson(points: Iterable[Mapping[str, Any]]) -> bytes:
    """An NDJSON body of `points`, already in their JSON form
    (`{"id", "vector", "payload"}` dicts)."""
    try:
        return "".join(_dumps(p) + "\n" for p in points).encode("utf-8")
    except ValueError as e:
        raise ValueError(f"the points cannot be sent as JSON: {e} "
                         "(NaN and Infinity are not JSON; vectors may not hold them)") from e


def _payload_section(payloads: Sequence[Mapping[str, Any] | None], rows: int) -> bytes:
    if len(payloads) != rows:
        raise ValueError(f"{rows} ids but {len(payloads)} payloads")
    lines = []
    for i, payload in enumerate(payloads):
        if payload is None:
            lines.append("")
            continue
        if not isinstance(payload, Mapping):
            raise TypeError(f"payloads[{i}] must be a dict or None, got {type(payload).__name__}")
        lines.append(_dumps(dict(payload)))
    return ("\n".join(lines) + "\n").encode("utf-8") if lines else b""


def _id_list(ids: Iterable[Any]) -> list[int]:
    id_list = []
    for i, point_id in enumerate(ids):
        if isinstance(point_id, (bool, str)) or not hasattr(point_id, "__index__"):
            raise ValueError(f"ids[{i}] = {point_id!r} is not an unsigned 64-bit integer (the "
                             "binary format has no string or UUID ids; use the NDJSON import)")
        value = int(point_id.__index__())
        if not 0 <= value <= _U64_MAX:
            raise ValueError(f"ids[{i}] = {value} is not an unsigned 64-bit integer")
        id_list.append(value)
    return id_list


def encode_binary(ids: Any, vectors: Any, payloads: Sequence[Mapping[str, Any] | None] | None,
                  *, float16: bool = False, use_numpy: bool | None = None) -> bytes:
    """A binary body: `ids` (unsigned 64-bit integers; the format has no
    string or UUID ids), `vectors` (rows x dim: a 2-D array or a list of
    equal-length lists) and optional `payloads` (one dict or None per row).
    `float16` halves the value bytes (values rounded; |x| > 65504 is an
    error). `use_numpy` None: numpy when it is installed."""
    if use_numpy is None:
        use_numpy = _np is not None
    dtype = DTYPE_FLOAT16 if float16 else DTYPE_FLOAT32
    if use_numpy:
        if isinstance(ids, _np.ndarray):
            id_array = ids
            if id_array.ndim != 1:
                raise ValueError(f"ids must be one-dimensional, got {id_array.ndim} dimensions")
            if id_array.size and (id_array.dtype.kind not in "iu" or
                                  (id_array.dtype.kind == "i" and int(id_array.min()) < 0)):
                raise ValueError("ids must be unsigned 64-bit integers (the binary format has no "
                                 "string or UUID ids; use the NDJSON import)")
        else:
            # A list: checked one by one (numpy would make 2**64 - 1 a float).
            id_array = _np.array(_id_list(ids), dtype=_np.uint64)
        matrix = _np.asarray(vectors, dtype=_np.float32)
        if matrix.ndim != 2:
            raise ValueError(f"vectors must be a matrix (rows x dim), got {matrix.ndim} "
                             "dimensions")
        rows, dim = matrix.shape
        if rows != id_array.size:
            raise ValueError(f"{id_array.size} ids but {rows} vectors")
        id_bytes = id_array.astype("<u8").tobytes()
        if float16:
            finite = matrix[_np.isfinite(matrix)]
            if finite.size and float(_np.abs(finite).max()) > _FLOAT16_MAX:
                raise ValueError("a vector value is outside the float16 range (|x| > 65504)")
            values = matrix.astype("<f2").tobytes()
        else:
            values = matrix.astype("<f4", copy=False).tobytes()
    else:
        id_list = _id_list(ids)
        matrix_list = [[float(x) for x in row] for row in vectors]
        rows = len(matrix_list)
        if rows != len(id_list):
            raise ValueError(f"{len(id_list)} ids but {rows} vectors")
        dim = len(matrix_list[0]) if rows else 0
        for i, row in enumerate(matrix_list):
            if len(row) != dim:
                raise ValueError(f"vector {i} has {len(row)} values, vector 0 has {dim}")
        flat = [x for row in matrix_list for x in row]
        id_bytes = struct.pack(f"<{rows}Q", *id_list)
        if float16:
            if any(abs(x) > _FLOAT16_MAX for x in flat if math.isfinite(x)):
                raise ValueError("a vector value is outside the float16 range (|x| > 65504)")
            values = struct.pack(f"<{len(flat)}e", *flat)
        else:
            values = struct.pack(f"<{len(flat)}f", *flat)
    if rows and dim == 0:
        raise ValueError("vectors have no values")
    flags = FLAG_PAYLOADS if payloads is not None else 0
    out = _HEADER.pack(MAGIC, VERSION, dtype, flags, dim, rows) + id_bytes + values
    if payloads is not None:
        section = _payload_section(payloads, rows)
        out += struct.pack("<Q", len(section)) + section
    return out
