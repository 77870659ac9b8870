"""`VestaClient`: Vesta's HTTP API (docs/api.md) as typed Python methods."""

from __future__ import annotations

import json
import numbers
import os
import pathlib
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Union

import httpx

from . import import_codec, raw_search_codec
from .errors import (
    ImportJobCancelled,
    ImportJobFailed,
    Timeout,
    TransportError,
    VestaError,
    error_for_status,
)
from .models import (
    AliasAction,
    AliasDescription,
    CollectionInfo,
    CreateAlias,
    DeadLetter,
    DeleteAlias,
    Distance,
    Filter,
    GraphDelivery,
    GraphEdge,
    GraphNode,
    GraphStatus,
    GraphWriteResult,
    ImportJob,
    JobState,
    NodeId,
    PayloadSchemaType,
    PayloadSelector,
    Point,
    PointId,
    Record,
    RenameAlias,
    ScoredPoint,
    ScrollPage,
    SearchRequest,
    SnapshotDescription,
    filter_json,
    node_id_json,
    payload_selector_json,
    point_id_json,
    vector_json,
)

try:
    import numpy as _np
except ImportError:  # numpy is optional
    _np = None

DEFAULT_URL = "http://127.0.0.1:6333"

# Points per upsert request. The server takes up to --max-batch-points (10,000
# by default) and --max-body-bytes (64 MiB): 1,000 points of 1,536 floats are
# about 30 MB of JSON.
DEFAULT_UPSERT_BATCH_SIZE = 1000

# Queries per binary search request: the server's default --max-search-batch.
DEFAULT_RAW_SEARCH_BATCH_SIZE = 1024

# A time limit: seconds for each of connect, read, write and pool waits (None:
# no limit), or an httpx.Timeout for each apart.
TimeoutSpec = Union[float, httpx.Timeout, None]

FilterSpec = Union[Filter, Mapping[str, Any], None]

# Called with the job after each poll of `wait_for_job` (and the import_*
# methods), the last time with the finished job.
ProgressCallback = Callable[[ImportJob], None]

# How often `wait_for_job` polls, in seconds.
DEFAULT_POLL_INTERVAL = 0.5

# The server's wait for delivery when a graph write with wait="delivered" names
# no timeout (docs/graph.md), and how much longer the client waits for the
# answer than the server waits for the graph database.
DEFAULT_GRAPH_DELIVERY_TIMEOUT_S = 30.0
_GRAPH_ANSWER_MARGIN_S = 10.0

# How many bad points an ImportJobError's message quotes.
_ERRORS_QUOTED = 3

_UNSET: Any = object()


def _segment(value: Any) -> str:
    """One path segment, percent-encoded (names, ids, snapshot names)."""
    return urllib.parse.quote(str(value), safe="")


def _json_default(value: Any) -> Any:
    # numpy arrays and scalars in payloads and vectors.
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _encode_json(body: Any) -> bytes:
    try:
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False,
                          default=_json_default).encode("utf-8")
    except ValueError as e:
        # allow_nan=False: JSON has no NaN or Infinity, and the server would
        # refuse the bare words; say so before sending anything.
        raise ValueError(f"the request cannot be sent as JSON: {e} "
                         "(NaN and Infinity are not JSON; vectors may not hold them)") from e


def _matrix_json(vectors: Any) -> list[list[float]]:
    if hasattr(vectors, "tolist"):
        matrix = vectors.tolist()
        if matrix and not isinstance(matrix[0], list):
            raise ValueError("vectors must be a matrix (points x dim), got a 1-D array")
        return matrix
    return [vector_json(v) for v in vectors]


def _ids_json(ids: Iterable[PointId]) -> list[int | str]:
    if hasattr(ids, "tolist"):
        ids = ids.tolist()
    return [point_id_json(i) for i in ids]


def _point_json(point: Point | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(point, Point):
        return point.to_json()
    if isinstance(point, Mapping):
        return Point(id=point["id"], vector=point["vector"], payload=point.get("payload")).to_json()
    raise TypeError(f"a point must be a Point or a dict, got {type(point).__name__}")


def _selection(ids: Iterable[PointId] | None, filter: FilterSpec) -> dict[str, Any]:
    """The points a delete or payload update acts on: ids or a filter."""
    if (ids is None) == (filter is None):
        raise ValueError("give exactly one of ids and filter")
    if ids is not None:
        return {"points": _ids_json(ids)}
    return {"filter": filter_json(filter)}


def _graph_node_json(node: GraphNode | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(node, GraphNode):
        return node.to_json()
    if isinstance(node, Mapping):
        return GraphNode(id=node["id"], vector=node["vector"], labels=node.get("labels") or (),
                         properties=node.get("properties")).to_json()
    raise TypeError(f"a node must be a GraphNode or a dict, got {type(node).__name__}")


def _graph_edge_json(edge: GraphEdge | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(edge, GraphEdge):
        return edge.to_json()
    if isinstance(edge, Mapping):
        return GraphEdge(source=edge["source"], target=edge["target"], type=edge.get("type"),
                         properties=edge.get("properties")).to_json()
    raise TypeError(f"an edge must be a GraphEdge or a dict, got {type(edge).__name__}")


def _edge_key_json(edge: GraphEdge | Mapping[str, Any] | Sequence[Any]) -> dict[str, Any]:
    """An edge to delete: source, target and, when given, type (properties
    are not part of an edge's identity and are not sent)."""
    if isinstance(edge, GraphEdge):
        source, target, edge_type = edge.source, edge.target, edge.type
    elif isinstance(edge, Mapping):
        source, target, edge_type = edge["source"], edge["target"], edge.get("type")
    elif isinstance(edge, Sequence) and not isinstance(edge, str) and len(edge) in (2, 3):
        source, target = edge[0], edge[1]
        edge_type = edge[2] if len(edge) == 3 else None
    else:
        raise TypeError("an edge to delete must be a GraphEdge, a dict or a (source, target"
                        f"[, type]) tuple, got {edge!r}")
    return GraphEdge(source=source, target=target, type=edge_type).to_json()


def _seconds_param(seconds: float) -> str:
    """A `timeout=` query value: whole seconds without a fraction."""
    if isinstance(seconds, bool) or not isinstance(seconds, numbers.Real) or seconds <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {seconds!r}")
    value = float(seconds)
    return str(int(value)) if value.is_integer() else repr(value)


def _location(location: str | os.PathLike[str]) -> str:
    if isinstance(location, os.PathLike):
        return pathlib.Path(location).resolve().as_uri()
    return location


class VestaClient:
    """A client of one Vesta server: every method is one HTTP request (or a
    few, for upserts and binary searches split into batches) and returns
    once the server answered; writes return once they are durable and
    applied, as the server acknowledges them.

    Failures raise a `VestaError` subclass: `ApiError` (`NotFound`,
    `BadRequest`, ...) with the HTTP status and the server's message, or
    `TransportError` / `Timeout` when no answer came.

    `api_key` is sent in the `api-key` header on every request. `timeout`
    bounds each connect, read and write (seconds; None: no limit).
    `verify` is httpx's: True (system CAs), False, or a CA bundle path / an
    `ssl.SSLContext` for `https://` servers.

    Thread-safety: one client may be shared by threads (httpx's connection
    pool is). Close it (`close()` or a `with` block) to release its
    connections."""

    def __init__(self, url: str = DEFAULT_URL, *, api_key: str | None = None,
                 timeout: TimeoutSpec = 30.0, verify: Any = True,
                 headers: Mapping[str, str] | None = None,
                 upsert_batch_size: int = DEFAULT_UPSERT_BATCH_SIZE) -> None:
        if upsert_batch_size < 1:
            raise ValueError(f"upsert_batch_size must be at least 1, got {upsert_batch_size}")
        all_headers = {"user-agent": "vesta-client-python", **(headers or {})}
        if api_key is not None:
            all_headers["api-key"] = api_key
        self.url = url.rstrip("/")
        self.upsert_batch_size = upsert_batch_size
        self._http = httpx.Client(base_url=self.url, headers=all_headers, timeout=timeout,
                                  verify=verify)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> VestaClient:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # ------------------------------------------------------------ transport

    def request(self, method: str, path: str, *, json: Any = None,
                params: Mapping[str, Any] | None = None, timeout: TimeoutSpec = _UNSET) -> Any:
        """Calls one JSON route (`path` from the server's root, e.g.
        `/collections/docs/points/count`) and returns the `result` of its
        answer, raising as every method does. The typed methods are built on
        it; it also reaches routes this client has no method for yet."""
        response = self._send(method, path, content=None if json is None else _encode_json(json),
                              headers={"content-type": "application/json"} if json is not None
                              else None, params=params, timeout=timeout)
        try:
            return response.json()["result"]
        except (ValueError, KeyError, TypeError) as e:
            raise VestaError(f"{method} {path}: the answer is not Vesta's JSON envelope: "
                             f"{response.text[:200]!r}", response.status_code) from e

    def _send(self, method: str, path: str, *, content: bytes | None = None,
              headers: Mapping[str, str] | None = None, params: Mapping[str, Any] | None = None,
              files: Any = None, timeout: TimeoutSpec = _UNSET) -> httpx.Response:
        kwargs: dict[str, Any] = {}
        if timeout is not _UNSET:
            kwargs["timeout"] = timeout
        try:
            response = self._http.request(method, path, content=content, headers=headers,
                                          params=params, files=files, **kwargs)
        except httpx.TimeoutException as e:
            raise Timeout(f"{method} {path}: timed out ({type(e).__name__}: {e})") from e
        except httpx.HTTPError as e:
            raise TransportError(f"{method} {path}: {type(e).__name__}: {e}") from e
        if not response.is_success:
            raise self._api_error(response)
        return response

    @staticmethod
    def _api_error(response: httpx.Response) -> VestaError:
        message = None
        try:
            message = response.json()["status"]["error"]
        except (ValueError, KeyError, TypeError):
            pass
        if not isinstance(message, str):
            message = response.text[:500] or response.reason_phrase
        return error_for_status(response.status_code, message)

    # ------------------------------------------------------------ service

    def server_info(self) -> dict[str, Any]:
        """`GET /`: `{"title": ..., "version": ...}`."""
        return self._send("GET", "/").json()

    def is_ready(self) -> bool:
        """`GET /readyz` answered 200."""
        try:
            self._send("GET", "/readyz")
        except VestaError:
            return False
        return True

    # ------------------------------------------------------------ collections

    def create_collection(self, name: str, dim: int,
                          distance: Distance | str = Distance.COSINE) -> None:
        """Creates collection `name` of `dim`-dimensional vectors; `Conflict`
        when the name is taken by a collection or an alias."""
        self.request("PUT", f"/collections/{_segment(name)}",
                     json={"vectors": {"size": dim, "distance": Distance(distance).value}})

    def get_collection(self, name: str) -> CollectionInfo:
        """Size, metric, live point count and payload indexes of `name` (a
        collection or an alias); `NotFound` when there is none."""
        return CollectionInfo.from_json(self.request("GET", f"/collections/{_segment(name)}"))

    def list_collections(self) -> list[str]:
        """Collection names (aliases are listed by `list_aliases`)."""
        result = self.request("GET", "/collections")
        return [c["name"] for c in result["collections"]]

    def collection_exists(self, name: str) -> bool:
        """Whether `name` is a collection (or an alias of one)."""
        return bool(self.request("GET", f"/collections/{_segment(name)}/exists")["exists"])

    def delete_collection(self, name: str) -> bool:
        """Deletes collection `name` and its aliases; False when there was no
        such collection (an alias name deletes nothing, as in Qdrant)."""
        return bool(self.request("DELETE", f"/collections/{_segment(name)}"))

    def create_payload_index(self, collection: str, field_name: str,
                             schema: PayloadSchemaType | str) -> None:
        """Indexes payload field `field_name` (a dot path) so filters on it
        need not check every point; creating it again does nothing."""
        self.request("PUT", f"/collections/{_segment(collection)}/index",
                     json={"field_name": field_name,
                           "field_schema": PayloadSchemaType(schema).value})

    def delete_payload_index(self, collection: str, field_name: str) -> None:
        self.request("DELETE",
                     f"/collections/{_segment(collection)}/index/{_segment(field_name)}")

    # ------------------------------------------------------------ aliases

    def update_aliases(self, actions: Sequence[AliasAction | Mapping[str, Any]]) -> None:
        """Applies `actions` in order in one request, all or nothing: either
        every action took effect or none did (the error names the first one
        that failed, `actions[1].create_alias.collection_name: ...`)."""
        self.request("POST", "/collections/aliases",
                     json={"actions": [a if isinstance(a, Mapping) else a.to_json()
                                       for a in actions]})

    def create_alias(self, alias: str, collection: str) -> None:
        """Makes `alias` a second name of `collection`; an existing alias of
        that name is re-pointed."""
        self.update_aliases([CreateAlias(collection_name=collection, alias_name=alias)])

    def delete_alias(self, alias: str) -> None:
        self.update_aliases([DeleteAlias(alias_name=alias)])

    def rename_alias(self, old: str, new: str) -> None:
        self.update_aliases([RenameAlias(old_alias_name=old, new_alias_name=new)])

    def swap_alias(self, alias: str, collection: str) -> None:
        """Points `alias` at `collection` in one atomic step, whether or not
        the alias exists: concurrent requests through the alias see the old
        collection or the new one, never neither. This is a single
        `create_alias` action, which the server applies as a re-point when
        the alias exists, so no window exists in which the alias is gone."""
        self.update_aliases([CreateAlias(collection_name=collection, alias_name=alias)])

    def list_aliases(self, collection: str | None = None) -> list[AliasDescription]:
        """Every alias (sorted by name), or only those of `collection`."""
        path = "/aliases" if collection is None else f"/collections/{_segment(collection)}/aliases"
        return [AliasDescription(alias_name=a["alias_name"], collection_name=a["collection_name"])
                for a in self.request("GET", path)["aliases"]]

    # ------------------------------------------------------------ points

    def upsert(self, collection: str, points: Iterable[Point | Mapping[str, Any]], *,
               batch_size: int | None = None) -> None:
        """Inserts or replaces `points` (`Point`s or `{"id", "vector",
        "payload"}` dicts), sent in requests of `batch_size` points (default:
        the client's `upsert_batch_size`). Each request is all or nothing;
        when one fails, the requests before it have taken effect."""
        size = batch_size or self.upsert_batch_size
        batch: list[dict[str, Any]] = []
        for point in points:
            batch.append(_point_json(point))
            if len(batch) == size:
                self._upsert_json(collection, {"points": batch})
                batch = []
        if batch:
            self._upsert_json(collection, {"points": batch})

    def upsert_batch(self, collection: str, ids: Sequence[PointId], vectors: Any,
                     payloads: Sequence[Mapping[str, Any] | None] | None = None, *,
                     batch_size: int | None = None) -> None:
        """Inserts or replaces points given as columns: `ids`, a `vectors`
        matrix (a numpy array, points x dim, or a list of lists) and
        optional `payloads`, all of one length; sent in the server's batch
        form in requests of `batch_size` points, as `upsert` does."""
        id_list = _ids_json(ids)
        if len(vectors) != len(id_list):
            raise ValueError(f"{len(id_list)} ids but {len(vectors)} vectors")
        if payloads is not None and len(payloads) != len(id_list):
            raise ValueError(f"{len(id_list)} ids but {len(payloads)} payloads")
        size = batch_size or self.upsert_batch_size
        for start in range(0, len(id_list), size):
            end = start + size
            batch: dict[str, Any] = {"ids": id_list[start:end],
                                     "vectors": _matrix_json(vectors[start:end])}
            if payloads is not None:
                batch["payloads"] = [dict(p) if p is not None else None
                                     for p in payloads[start:end]]
            self._upsert_json(collection, {"batch": batch})

    def _upsert_json(self, collection: str, body: dict[str, Any]) -> None:
        self.request("PUT", f"/collections/{_segment(collection)}/points", json=body)

    def retrieve(self, collection: str, ids: Iterable[PointId], *,
                 with_payload: PayloadSelector = True, with_vector: bool = False) -> list[Record]:
        """The points among `ids` that exist, in the order asked."""
        result = self.request("POST", f"/collections/{_segment(collection)}/points",
                              json={"ids": _ids_json(ids),
                                    "with_payload": payload_selector_json(with_payload),
                                    "with_vector": with_vector})
        return [Record.from_json(r) for r in result]

    def delete(self, collection: str, ids: Iterable[PointId] | None = None, *,
               filter: FilterSpec = None) -> None:
        """Deletes the points with `ids`, or those matching `filter` (give one)."""
        self.request("POST", f"/collections/{_segment(collection)}/points/delete",
                     json=_selection(ids, filter))

    def count(self, collection: str, filter: FilterSpec = None) -> int:
        """Live points, or those matching `filter`; always exact."""
        body = {} if filter is None else {"filter": filter_json(filter)}
        return int(self.request("POST", f"/collections/{_segment(collection)}/points/count",
                                json=body)["count"])

    def scroll(self, collection: str, *, filter: FilterSpec = None, limit: int = 10,
               offset: PointId | None = None, with_payload: PayloadSelector = True,
               with_vector: bool = False) -> ScrollPage:
        """One page of points in id order (numbers, then UUIDs, then strings),
        from `offset` (an id, inclusive) on."""
        body: dict[str, Any] = {"limit": limit, "with_payload": payload_selector_json(with_payload),
                                "with_vector": with_vector}
        if filter is not None:
            body["filter"] = filter_json(filter)
        if offset is not None:
            body["offset"] = point_id_json(offset)
        result = self.request("POST", f"/collections/{_segment(collection)}/points/scroll",
                              json=body)
        return ScrollPage(points=[Record.from_json(r) for r in result["points"]],
                          next_offset=result.get("next_page_offset"))

    def scroll_all(self, collection: str, *, filter: FilterSpec = None, page_size: int = 1000,
                   with_payload: PayloadSelector = True,
                   with_vector: bool = False) -> Iterator[Record]:
        """Every point (matching `filter`), a page of `page_size` per request."""
        offset: PointId | None = None
        while True:
            page = self.scroll(collection, filter=filter, limit=page_size, offset=offset,
                               with_payload=with_payload, with_vector=with_vector)
            yield from page.points
            if page.next_offset is None:
                return
            offset = page.next_offset

    # ------------------------------------------------------------ payloads

    def set_payload(self, collection: str, payload: Mapping[str, Any], *,
                    ids: Iterable[PointId] | None = None, filter: FilterSpec = None) -> None:
        """Merges `payload`'s keys into the payloads of the chosen points."""
        self.request("POST", f"/collections/{_segment(collection)}/points/payload",
                     json={"payload": dict(payload), **_selection(ids, filter)})

    def overwrite_payload(self, collection: str, payload: Mapping[str, Any], *,
                          ids: Iterable[PointId] | None = None, filter: FilterSpec = None) -> None:
        """Replaces the payloads of the chosen points with `payload`."""
        self.request("PUT", f"/collections/{_segment(collection)}/points/payload",
                     json={"payload": dict(payload), **_selection(ids, filter)})

    def delete_payload(self, collection: str, keys: Sequence[str], *,
                       ids: Iterable[PointId] | None = None, filter: FilterSpec = None) -> None:
        """Removes `keys` from the payloads of the chosen points."""
        self.request("POST", f"/collections/{_segment(collection)}/points/payload/delete",
                     json={"keys": list(keys), **_selection(ids, filter)})

    def clear_payload(self, collection: str, *, ids: Iterable[PointId] | None = None,
                      filter: FilterSpec = None) -> None:
        """Empties the payloads of the chosen points."""
        self.request("POST", f"/collections/{_segment(collection)}/points/payload/clear",
                     json=_selection(ids, filter))

    # ------------------------------------------------------------ search

    def search(self, collection: str, vector: Any, *, limit: int = 10, filter: FilterSpec = None,
               offset: int = 0, score_threshold: float | None = None,
               with_payload: PayloadSelector = False,
               with_vector: bool = False) -> list[ScoredPoint]:
        """The `limit` nearest points to `vector` (after skipping `offset`),
        best first, through `POST …/points/search`. `score_threshold` keeps
        Cosine and Dot scores at least it, Euclid distances at most it."""
        request = SearchRequest(vector=vector, limit=limit, filter=filter, offset=offset,
                                score_threshold=score_threshold, with_payload=with_payload,
                                with_vector=with_vector)
        result = self.request("POST", f"/collections/{_segment(collection)}/points/search",
                              json=request.to_json())
        return [ScoredPoint.from_json(p) for p in result]

    def search_batch(self, collection: str,
                     searches: Sequence[SearchRequest]) -> list[list[ScoredPoint]]:
        """Several searches in one request (`POST …/points/search/batch`), one
        answer list per search, in order."""
        result = self.request("POST", f"/collections/{_segment(collection)}/points/search/batch",
                              json={"searches": [s.to_json() for s in searches]})
        return [[ScoredPoint.from_json(p) for p in hits] for hits in result]

    def query(self, collection: str, vector: Any, *, limit: int = 10, filter: FilterSpec = None,
              offset: int = 0, score_threshold: float | None = None,
              with_payload: PayloadSelector = False,
              with_vector: bool = False) -> list[ScoredPoint]:
        """As `search`, through Qdrant's newer `POST …/points/query`. (Listing
        points without a vector is `scroll`.)"""
        body = SearchRequest(vector=vector, limit=limit, filter=filter, offset=offset,
                             score_threshold=score_threshold, with_payload=with_payload,
                             with_vector=with_vector).to_json()
        body["query"] = body.pop("vector")
        result = self.request("POST", f"/collections/{_segment(collection)}/points/query",
                              json=body)
        return [ScoredPoint.from_json(p) for p in result["points"]]

    def search_raw(self, collection: str, queries: Any, k: int, *, float16: bool = False,
                   with_scores: bool = True, batch_size: int = DEFAULT_RAW_SEARCH_BATCH_SIZE,
                   as_numpy: bool | None = None) -> raw_search_codec.RawSearchResult:
        """The `k` nearest points to each row of `queries` (a matrix, rows x
        dim; a single vector is one row) through the binary endpoint
        (`POST …/points/search/raw`): no JSON either way, numeric ids only
        (a hit with a string or UUID id is a `Conflict`), no filter.

        Returns `(ids, scores)`: (rows, k) numpy arrays (uint64, float32)
        when numpy is installed (or `as_numpy` is True), lists of lists
        otherwise (`as_numpy` False); `scores` is None when `with_scores` is
        False. A query with fewer than k hits is padded with id
        `PADDING_ID` (2**64 - 1) and score NaN. `float16` sends the queries
        as float16 (half the bytes, values rounded). Rows go in requests of
        `batch_size` (the server's --max-search-batch, 1024 by default)."""
        use_numpy = raw_search_codec.numpy_available() if as_numpy is None else as_numpy
        if use_numpy and not raw_search_codec.numpy_available():
            raise ValueError("as_numpy=True needs numpy, which is not installed")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if use_numpy:
            matrix = _np.asarray(queries, dtype=_np.float32)
            if matrix.ndim == 1:
                matrix = matrix.reshape(1 if matrix.size else 0, -1 if matrix.size else 0)
            chunks = [matrix[i:i + batch_size] for i in range(0, len(matrix), batch_size)]
        else:
            rows = [list(q) for q in ([queries] if _is_vector(queries) else queries)]
            chunks = [rows[i:i + batch_size] for i in range(0, len(rows), batch_size)]
        path = f"/collections/{_segment(collection)}/points/search/raw"
        parts = []
        for chunk in chunks:
            body = raw_search_codec.encode_request(chunk, k, float16=float16,
                                                   with_scores=with_scores, use_numpy=use_numpy)
            response = self._send("POST", path, content=body,
                                  headers={"content-type": "application/octet-stream"})
            parts.append(raw_search_codec.decode_response(response.content,
                                                          with_scores=with_scores,
                                                          use_numpy=use_numpy))
        return _concatenate(parts, k, with_scores, use_numpy)

    # ------------------------------------------------------------ graph

    def graph_upsert(self, workspace: str, collection: str,
                     nodes: Iterable[GraphNode | Mapping[str, Any]],
                     edges: Iterable[GraphEdge | Mapping[str, Any]] = (), *,
                     wait: GraphDelivery | str = GraphDelivery.DURABLE,
                     timeout: float | None = None) -> GraphWriteResult:
        """Writes `nodes` (`GraphNode`s or `{"id", "vector", "labels",
        "properties"}` dicts) and `edges` (`GraphEdge`s or `{"source",
        "target", "type", "properties"}` dicts) into the graph of
        `workspace` (`POST /graph/{workspace}/upsert`, docs/graph.md), each
        node's vector as point `node_point_id(id)` of `collection`, in one
        request: all or nothing, one log record.

        Every edge's ends must be nodes of this request or points already in
        `collection`. `wait="durable"` returns once the write is durable;
        `"delivered"` once the graph database committed it, waiting at most
        `timeout` seconds on the server (default 30, at most 300; the
        client's own read limit is raised to match): past it,
        `GatewayTimeout` (the write is durable and will be delivered); a
        refusal by the graph database is `BadGateway` (a dead letter). A
        property value the graph cannot hold or an edge to a missing node is
        `UnprocessableEntity` naming it."""
        body = {"collection": collection, "nodes": [_graph_node_json(n) for n in nodes],
                "edges": [_graph_edge_json(e) for e in edges]}
        return self._graph_write(workspace, "upsert", body, wait, timeout)

    def graph_delete(self, workspace: str, collection: str, nodes: Iterable[NodeId] = (),
                     edges: Iterable[GraphEdge | Mapping[str, Any] | Sequence[Any]] = (), *,
                     wait: GraphDelivery | str = GraphDelivery.DURABLE,
                     timeout: float | None = None) -> GraphWriteResult:
        """Deletes `nodes` (ids) with their edges, and their points in
        `collection`, and `edges` (`GraphEdge`s, dicts or `(source, target)`
        / `(source, target, type)` tuples; without a type, every edge from
        source to target), in one request (`POST /graph/{workspace}/delete`).
        `wait` and `timeout` as in `graph_upsert`; the result's `nodes` and
        `edges` count what was asked."""
        body = {"collection": collection, "nodes": [node_id_json(n) for n in nodes],
                "edges": [_edge_key_json(e) for e in edges]}
        return self._graph_write(workspace, "delete", body, wait, timeout)

    def _graph_write(self, workspace: str, action: str, body: dict[str, Any],
                     wait: GraphDelivery | str, timeout: float | None) -> GraphWriteResult:
        try:
            wait = GraphDelivery(wait)
        except ValueError:
            raise ValueError(f"wait must be 'durable' or 'delivered', got {wait!r}") from None
        params = {"wait": wait.value}
        if timeout is not None:
            params["timeout"] = _seconds_param(timeout)
        http_timeout: TimeoutSpec = _UNSET
        if wait == GraphDelivery.DELIVERED:
            server_wait = DEFAULT_GRAPH_DELIVERY_TIMEOUT_S if timeout is None else float(timeout)
            http_timeout = self._read_timeout_at_least(server_wait + _GRAPH_ANSWER_MARGIN_S)
        return GraphWriteResult.from_json(
            self.request("POST", f"/graph/{_segment(workspace)}/{action}", json=body,
                         params=params, timeout=http_timeout))

    def _read_timeout_at_least(self, seconds: float) -> TimeoutSpec:
        """The client's time limits with the read limit raised to `seconds`
        (unchanged, `_UNSET`, when it is already that long or unlimited)."""
        limits = self._http.timeout
        if limits.read is None or limits.read >= seconds:
            return _UNSET
        return httpx.Timeout(connect=limits.connect, read=seconds, write=limits.write,
                             pool=limits.pool)

    def graph_status(self, workspace: str) -> GraphStatus:
        """What of `workspace` waits for the graph database, the newest
        sequence delivered, the dead letters and the dispatcher's connection
        (`GET /graph/{workspace}/status`)."""
        return GraphStatus.from_json(self.request("GET", f"/graph/{_segment(workspace)}/status"))

    def graph_dead_letters(self) -> list[DeadLetter]:
        """The graph operations the graph database refused for good, one per
        request, of every workspace (`GET /graph/dead-letters`)."""
        return [DeadLetter.from_json(d)
                for d in self.request("GET", "/graph/dead-letters")["dead_letters"]]

    def retry_graph_dead_letters(self, sequences: Iterable[int] | None = None) -> int:
        """Puts the dead letters with these `sequences` (None: all) back in
        the outbox, delivered after what waits now; returns how many were
        (`POST /graph/dead-letters/retry`). A sequence that is not a dead
        letter is `NotFound`, and then none is retried."""
        body: dict[str, Any] = {}
        if sequences is not None:
            body["sequences"] = [int(s) for s in sequences]
        return int(self.request("POST", "/graph/dead-letters/retry", json=body)["retried"])

    # ------------------------------------------------------------ import jobs

    def start_import(self, collection: str,
                     points: Iterable[Point | Mapping[str, Any]] | bytes, *,
                     on_error: str = "skip", idempotency_key: str | None = None,
                     timeout: TimeoutSpec = _UNSET) -> ImportJob:
        """Submits `points` (`Point`s or `{"id", "vector", "payload"}`
        dicts, any iterable; or `bytes` already in NDJSON) as one bulk import
        job (`POST …/import?format=ndjson`) and returns it as queued; the
        server imports it in the background (`wait_for_job` follows it).

        `on_error`: `"skip"` skips and reports bad points, `"abort"` stops
        the job at the first. With an `idempotency_key` that a job of this
        collection already has, that job is returned and nothing is imported
        again. The body may be up to the server's `--max-import-bytes`
        (1 GiB by default; `PayloadTooLarge` above it): split larger imports
        into several jobs."""
        body = points if isinstance(points, (bytes, bytearray)) else \
            import_codec.encode_ndjson(_point_json(p) for p in points)
        return self._submit_import(collection, bytes(body), "ndjson", "application/x-ndjson",
                                   on_error, idempotency_key, timeout)

    def start_binary_import(self, collection: str, ids: Any, vectors: Any,
                            payloads: Sequence[Mapping[str, Any] | None] | None = None, *,
                            float16: bool = False, on_error: str = "skip",
                            idempotency_key: str | None = None,
                            timeout: TimeoutSpec = _UNSET) -> ImportJob:
        """As `start_import`, in the binary format (`format=binary`): `ids`
        (unsigned 64-bit integers, e.g. a numpy uint64 array; the format has
        no string or UUID ids), a `vectors` matrix (rows x dim) and optional
        `payloads` (a dict or None per row). `float16` sends half the bytes,
        values rounded to float16 (which the server stores anyway)."""
        body = import_codec.encode_binary(ids, vectors, payloads, float16=float16)
        return self._submit_import(collection, body, "binary", "application/octet-stream",
                                   on_error, idempotency_key, timeout)

    def _submit_import(self, collection: str, body: bytes, body_format: str, content_type: str,
                       on_error: str, idempotency_key: str | None,
                       timeout: TimeoutSpec) -> ImportJob:
        if on_error not in ("skip", "abort"):
            raise ValueError(f"on_error must be 'skip' or 'abort', got {on_error!r}")
        params = {"format": body_format, "on_error": on_error}
        headers = {"content-type": content_type}
        if idempotency_key is not None:
            # A header: the server reads the query string without decoding it.
            headers["idempotency-key"] = idempotency_key
        response = self._send("POST", f"/collections/{_segment(collection)}/import",
                              content=body, headers=headers, params=params, timeout=timeout)
        return ImportJob.from_json(response.json()["result"])

    def get_job(self, job_id: str) -> ImportJob:
        """The job's state and progress; `NotFound` for an unknown id (the
        server keeps the last 1,000 finished jobs)."""
        return ImportJob.from_json(self.request("GET", f"/jobs/{_segment(job_id)}"))

    def list_jobs(self) -> list[ImportJob]:
        """Every job the server knows, newest first."""
        return [ImportJob.from_json(j) for j in self.request("GET", "/jobs")]

    def cancel_job(self, job_id: str) -> ImportJob:
        """Cancels a queued or running job; what it imported stays. A running
        job stops after the chunk in hand, so the answer may still say
        `RUNNING` (`wait_for_job` sees it end); a finished job is returned as
        it is."""
        return ImportJob.from_json(self.request("DELETE", f"/jobs/{_segment(job_id)}"))

    def wait_for_job(self, job_id: str | ImportJob, *, progress: ProgressCallback | None = None,
                     poll_interval: float = DEFAULT_POLL_INTERVAL,
                     timeout: float | None = None) -> ImportJob:
        """Polls the job every `poll_interval` seconds until it is finished,
        calling `progress(job)` after each poll (the last time with the
        finished job), and returns it when it completed (bad points skipped
        under `on_error="skip"` are in its `points_skipped` and `errors`).

        Raises `ImportJobFailed` when it failed and `ImportJobCancelled` when
        it was cancelled (both `ImportJobError`s carrying the job, whose
        `errors` give the bad points' lines), and `Timeout` when `timeout`
        seconds passed first (the job goes on; `cancel_job` stops it)."""
        if poll_interval <= 0:
            raise ValueError(f"poll_interval must be positive, got {poll_interval}")
        job_id = job_id.id if isinstance(job_id, ImportJob) else job_id
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.get_job(job_id)
            if progress is not None:
                progress(job)
            if job.finished:
                break
            if deadline is not None and time.monotonic() >= deadline:
                raise Timeout(f"import job {job_id} is still {job.state.value} after {timeout} s "
                              f"({job.points_done} of {job.points_total} points imported)")
            time.sleep(poll_interval if deadline is None
                       else max(0.0, min(poll_interval, deadline - time.monotonic())))
        if job.state == JobState.COMPLETED:
            return job
        errors = "; ".join(e.message for e in job.errors[:_ERRORS_QUOTED])
        imported = f"{job.points_done} of {job.points_total} points were imported"
        if job.state == JobState.CANCELLED:
            raise ImportJobCancelled(f"import job {job.id} was cancelled; {imported}", job)
        raise ImportJobFailed(f"import job {job.id} failed: {job.failure}; {imported}"
                              + (f"; errors: {errors}" if errors else ""), job)

    def import_points(self, collection: str,
                      points: Iterable[Point | Mapping[str, Any]] | bytes, *,
                      on_error: str = "skip", idempotency_key: str | None = None,
                      progress: ProgressCallback | None = None,
                      poll_interval: float = DEFAULT_POLL_INTERVAL,
                      upload_timeout: TimeoutSpec = _UNSET,
                      wait_timeout: float | None = None) -> ImportJob:
        """`start_import` then `wait_for_job`: returns the completed job or
        raises as `wait_for_job` does. `upload_timeout` bounds the upload's
        requests (default: the client's `timeout`), `wait_timeout` the wait."""
        job = self.start_import(collection, points, on_error=on_error,
                                idempotency_key=idempotency_key, timeout=upload_timeout)
        return self.wait_for_job(job.id, progress=progress, poll_interval=poll_interval,
                                 timeout=wait_timeout)

    def import_binary(self, collection: str, ids: Any, vectors: Any,
                      payloads: Sequence[Mapping[str, Any] | None] | None = None, *,
                      float16: bool = False, on_error: str = "skip",
                      idempotency_key: str | None = None,
                      progress: ProgressCallback | None = None,
                      poll_interval: float = DEFAULT_POLL_INTERVAL,
                      upload_timeout: TimeoutSpec = _UNSET,
                      wait_timeout: float | None = None) -> ImportJob:
        """`start_binary_import` then `wait_for_job`, as `import_points`."""
        job = self.start_binary_import(collection, ids, vectors, payloads, float16=float16,
                                       on_error=on_error, idempotency_key=idempotency_key,
                                       timeout=upload_timeout)
        return self.wait_for_job(job.id, progress=progress, poll_interval=poll_interval,
                                 timeout=wait_timeout)

    # ------------------------------------------------------------ snapshots

    def create_snapshot(self, collection: str, *,
                        timeout: TimeoutSpec = _UNSET) -> SnapshotDescription:
        """Writes a snapshot of `collection` on the server (servers with file
        storage only; `--storage memory` answers `Conflict`)."""
        return SnapshotDescription.from_json(
            self.request("POST", f"/collections/{_segment(collection)}/snapshots",
                         timeout=timeout))

    def list_snapshots(self, collection: str) -> list[SnapshotDescription]:
        """The collection's snapshots, sorted by name."""
        return [SnapshotDescription.from_json(s)
                for s in self.request("GET", f"/collections/{_segment(collection)}/snapshots")]

    def delete_snapshot(self, collection: str, name: str) -> bool:
        return bool(self.request(
            "DELETE", f"/collections/{_segment(collection)}/snapshots/{_segment(name)}"))

    def download_snapshot(self, collection: str, name: str, path: str | os.PathLike[str], *,
                          timeout: TimeoutSpec = _UNSET) -> pathlib.Path:
        """Streams snapshot `name` into file `path` and returns that path. The
        bytes go to `<path>.part` first, renamed to `path` once complete, so
        a failed download leaves `path` as it was."""
        target = pathlib.Path(path)
        partial = target.with_name(target.name + ".part")
        url = f"/collections/{_segment(collection)}/snapshots/{_segment(name)}"
        kwargs: dict[str, Any] = {} if timeout is _UNSET else {"timeout": timeout}
        try:
            with self._http.stream("GET", url, **kwargs) as response:
                if not response.is_success:
                    response.read()
                    raise self._api_error(response)
                with open(partial, "wb") as out:
                    for chunk in response.iter_bytes():
                        out.write(chunk)
            os.replace(partial, target)
        except httpx.TimeoutException as e:
            raise Timeout(f"GET {url}: timed out ({type(e).__name__}: {e})") from e
        except httpx.HTTPError as e:
            raise TransportError(f"GET {url}: {type(e).__name__}: {e}") from e
        finally:
            partial.unlink(missing_ok=True)
        return target

    def recover_snapshot(self, collection: str, location: str | os.PathLike[str], *,
                         checksum: str | None = None, timeout: TimeoutSpec = _UNSET) -> None:
        """Replaces (or creates) `collection` with a snapshot file that the
        *server* can read: a `file:///absolute/path` URL, or a path, turned
        into one. The server fetches nothing over the network; to send a
        local file, use `upload_snapshot`. With `checksum` (the file's
        SHA-256 in hex, as `SnapshotDescription.checksum` gives it), a file
        whose SHA-256 differs is refused (`BadRequest`) and nothing changes."""
        body: dict[str, Any] = {"location": _location(location)}
        if checksum is not None:
            body["checksum"] = checksum
        self.request("PUT", f"/collections/{_segment(collection)}/snapshots/recover",
                     json=body, timeout=timeout)

    def upload_snapshot(self, collection: str, path: str | os.PathLike[str], *,
                        checksum: str | None = None, timeout: TimeoutSpec = _UNSET) -> None:
        """Sends snapshot file `path` and recovers `collection` from it
        (replacing or creating it), as a multipart upload like Qdrant's; the
        server writes it to disk as it arrives. `checksum` as for
        `recover_snapshot`."""
        source = pathlib.Path(path)
        with open(source, "rb") as f:
            response = self._send(
                "POST", f"/collections/{_segment(collection)}/snapshots/upload",
                params=None if checksum is None else {"checksum": checksum},
                files={"snapshot": (source.name, f, "application/octet-stream")},
                timeout=timeout)
        response.close()


def _is_vector(queries: Any) -> bool:
    """True when `queries` is one flat vector rather than a list of rows."""
    for first in queries:
        return isinstance(first, numbers.Real)
    return False


def _concatenate(parts: list[raw_search_codec.RawSearchResult], k: int, with_scores: bool,
                 use_numpy: bool) -> raw_search_codec.RawSearchResult:
    if use_numpy:
        if not parts:
            return raw_search_codec.RawSearchResult(
                _np.empty((0, k), dtype=_np.uint64),
                _np.empty((0, k), dtype=_np.float32) if with_scores else None)
        if len(parts) == 1:
            return parts[0]
        return raw_search_codec.RawSearchResult(
            _np.concatenate([p.ids for p in parts]),
            _np.concatenate([p.scores for p in parts]) if with_scores else None)
    ids: list[list[int]] = []
    scores: list[list[float]] | None = [] if with_scores else None
    for part in parts:
        ids.extend(part.ids)
        if scores is not None:
            scores.extend(part.scores)
    return raw_search_codec.RawSearchResult(ids, scores)
