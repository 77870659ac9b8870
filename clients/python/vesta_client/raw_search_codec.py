"""The binary batch search's wire format, version 1 (docs/api.md, "Binary
batch search"): a request `VSQ1` header and a row-major matrix of
little-endian float32 or float16 queries; a response `VSR1` header and, per
query, k entries of a u64 id and (when asked) an f32 score.

Both directions work with numpy (arrays in, arrays out, no copies beyond the
byte conversion) or without it (lists in, lists out, through `struct`)."""

from __future__ import annotations

import math
import numbers
import struct
from typing import Any, NamedTuple

try:
    import numpy as _np
except ImportError:  # numpy is optional
    _np = None

REQUEST_MAGIC = b"VSQ1"
RESPONSE_MAGIC = b"VSR1"
DTYPE_FLOAT32 = 1
DTYPE_FLOAT16 = 2
FLAG_SCORES = 1

# The id of the entries that pad a query with fewer than k hits; their score is NaN.
PADDING_ID = 2**64 - 1

_REQUEST_HEADER = struct.Struct("<4sBBHIII")  # magic, dtype, flags, reserved, rows, dim, k
_RESPONSE_HEADER = struct.Struct("<4sII")  # magic, rows, k
_FLOAT16_MAX = 65504.0


class RawSearchResult(NamedTuple):
    """`ids[i][j]` and `scores[i][j]` are query i's j-th hit, best first.

    numpy: `ids` a (rows, k) uint64 array, `scores` a (rows, k) float32 array
    (None when scores were not asked for). Without numpy: lists of lists of
    int and float. Padding entries (fewer than k points) have id `PADDING_ID`
    and score NaN."""

    ids: Any
    scores: Any


def numpy_available() -> bool:
    return _np is not None


def encode_request(queries: Any, k: int, *, float16: bool = False, with_scores: bool = True,
                   use_numpy: bool | None = None) -> bytes:
    """The request body for `queries` (rows x dim: a 2-D array or a list of
    equal-length lists; a 1-D vector is one query). `float16` halves the
    bytes sent; values are rounded to float16 on the way (|x| > 65504 is an
    error). `use_numpy` None: numpy when it is installed."""
    if use_numpy is None:
        use_numpy = _np is not None
    if not 1 <= k < 2**32:
        raise ValueError(f"k must be 1 to 2**32 - 1, got {k}")
    dtype = DTYPE_FLOAT16 if float16 else DTYPE_FLOAT32
    flags = FLAG_SCORES if with_scores else 0
    if use_numpy:
        matrix = _np.asarray(queries, dtype=_np.float32)
        if matrix.ndim == 1:  # one vector: one query; nothing: no query
            matrix = matrix.reshape(1 if matrix.size else 0, -1 if matrix.size else 0)
        if matrix.ndim != 2:
            raise ValueError(f"queries must be a matrix (rows x dim), got {matrix.ndim} dimensions")
        rows, dim = matrix.shape
        if float16:
            finite = matrix[_np.isfinite(matrix)]
            if finite.size and float(_np.abs(finite).max()) > _FLOAT16_MAX:
                raise ValueError("a query value is outside the float16 range (|x| > 65504)")
            values = matrix.astype("<f2").tobytes()
        else:
            values = matrix.astype("<f4", copy=False).tobytes()
    else:
        given = list(queries)
        if given and isinstance(given[0], numbers.Real):  # one vector: one query
            given = [given]
        matrix = [[float(x) for x in row] for row in given]
        rows = len(matrix)
        dim = len(matrix[0]) if rows else 0
        for i, row in enumerate(matrix):
            if len(row) != dim:
                raise ValueError(f"query {i} has {len(row)} values, query 0 has {dim}")
        flat = [x for row in matrix for x in row]
        if float16:
            if any(abs(x) > _FLOAT16_MAX for x in flat if math.isfinite(x)):
                raise ValueError("a query value is outside the float16 range (|x| > 65504)")
            values = struct.pack(f"<{len(flat)}e", *flat)
        else:
            values = struct.pack(f"<{len(flat)}f", *flat)
    header = _REQUEST_HEADER.pack(REQUEST_MAGIC, dtype, flags, 0, rows, dim, k)
    return header + values


def decode_response(body: bytes, *, with_scores: bool = True,
                    use_numpy: bool | None = None) -> RawSearchResult:
    """The ids and scores of a `VSR1` response body."""
    if use_numpy is None:
        use_numpy = _np is not None
    if len(body) < _RESPONSE_HEADER.size:
        raise ValueError(f"response is {len(body)} bytes, shorter than the 12-byte header")
    magic, rows, k = _RESPONSE_HEADER.unpack_from(body, 0)
    if magic != RESPONSE_MAGIC:
        raise ValueError(f"response magic must be {RESPONSE_MAGIC!r}, got {magic!r}")
    entry_bytes = 12 if with_scores else 8
    expected = _RESPONSE_HEADER.size + rows * k * entry_bytes
    if len(body) != expected:
        raise ValueError(f"response is {len(body)} bytes, its header says {expected} "
                         f"(12 + rows {rows} x k {k} x {entry_bytes} bytes)")
    offset = _RESPONSE_HEADER.size
    if use_numpy:
        fields = [("id", "<u8")] + ([("score", "<f4")] if with_scores else [])
        entries = _np.frombuffer(body, dtype=_np.dtype(fields), offset=offset).reshape(rows, k)
        # Own the memory in native byte order (frombuffer views the body).
        ids = entries["id"].astype(_np.uint64)
        scores = entries["score"].astype(_np.float32) if with_scores else None
        return RawSearchResult(ids, scores)
    if with_scores:
        flat = list(struct.iter_unpack("<Qf", body[offset:]))
        ids = [[flat[r * k + j][0] for j in range(k)] for r in range(rows)]
        scores = [[flat[r * k + j][1] for j in range(k)] for r in range(rows)]
        return RawSearchResult(ids, scores)
    flat_ids = struct.unpack(f"<{rows * k}Q", body[offset:])
    return RawSearchResult([list(flat_ids[r * k:(r + 1) * k]) for r in range(rows)], None)
