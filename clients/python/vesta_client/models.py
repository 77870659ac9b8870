"""Typed values the client sends and returns.

Requests take plain Python values where Vesta's JSON is already plain (ids,
payloads, vectors); the dataclasses here give names to the answers and to
the structured parts of requests (filters, alias actions, points). Every
request type has `to_json()`, the exact JSON the server reads (docs/api.md),
and every answer type `from_json()`, so a caller may mix them with raw JSON."""

from __future__ import annotations

import enum
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

# A point id: an unsigned 64-bit integer, a UUID (a `uuid.UUID` or its string,
# echoed back in canonical lowercase hyphenated form) or any other string of 1
# to 256 bytes (a Vesta extension). Answers carry `int` or `str`.
PointId = Union[int, str, uuid.UUID]

# `with_payload`: True / False, a list of key paths (`["city", "meta.lang"]`),
# or `{"include": [...]}` / `{"exclude": [...]}`.
PayloadSelector = Union[bool, Sequence[str], Mapping[str, Sequence[str]]]

# One filter condition, as Qdrant's JSON (see the helper functions below).
Condition = Mapping[str, Any]


class Distance(str, enum.Enum):
    """A collection's metric. Scores follow Qdrant: Cosine and Dot, higher is
    better; Euclid, the distance, lower is better."""

    COSINE = "Cosine"
    DOT = "Dot"
    EUCLID = "Euclid"


class PayloadSchemaType(str, enum.Enum):
    """The kinds of payload index the server builds."""

    KEYWORD = "keyword"
    INTEGER = "integer"
    FLOAT = "float"


def point_id_json(point_id: PointId) -> int | str:
    """`point_id` as JSON: UUIDs as their hyphenated string; booleans refused
    (Python's `True` is an `int`, and never meant as id 1)."""
    if isinstance(point_id, bool):
        raise TypeError("a point id must be an int, a str or a uuid.UUID, got bool")
    if isinstance(point_id, uuid.UUID):
        return str(point_id)
    if isinstance(point_id, (int, str)):
        return point_id
    # numpy integers and other int-like ids.
    if hasattr(point_id, "__index__"):
        return int(point_id.__index__())
    raise TypeError("a point id must be an int, a str or a uuid.UUID, "
                    f"got {type(point_id).__name__}")


def _answer_vector(value: Any) -> list[float] | None:
    """A vector in an answer: the array, or {name: array} from a collection
    whose one vector is named."""
    if isinstance(value, Mapping) and len(value) == 1:
        return next(iter(value.values()))
    return value


def vector_json(vector: Any) -> list[float]:
    """A vector (a sequence of numbers or a 1-D numpy array) as a JSON list."""
    if hasattr(vector, "tolist"):
        return vector.tolist()
    return [float(x) for x in vector]


# ---------------------------------------------------------------- filters


@dataclass
class Filter:
    """A payload filter: `must` (all hold), `should` (at least one holds),
    `must_not` (none holds), `min_should` (at least `count` of `conditions`
    hold). Conditions are the dicts the helpers below return, or nested
    `Filter`s. Wherever a filter is taken, a plain dict in Qdrant's JSON
    form works too."""

    must: list[Condition | Filter] = field(default_factory=list)
    should: list[Condition | Filter] = field(default_factory=list)
    must_not: list[Condition | Filter] = field(default_factory=list)
    min_should: tuple[list[Condition | Filter], int] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in ("must", "should", "must_not"):
            conditions = getattr(self, name)
            if conditions:
                out[name] = [_condition_json(c) for c in conditions]
        if self.min_should is not None:
            conditions, count = self.min_should
            out["min_should"] = {"conditions": [_condition_json(c) for c in conditions],
                                 "min_count": count}
        return out


def _condition_json(condition: Condition | Filter) -> Any:
    return condition.to_json() if isinstance(condition, Filter) else condition


def filter_json(value: Filter | Mapping[str, Any] | None) -> Any:
    """A filter argument as JSON (None stays None)."""
    if value is None or isinstance(value, Mapping):
        return value
    if isinstance(value, Filter):
        return value.to_json()
    raise TypeError(f"a filter must be a Filter or a dict, got {type(value).__name__}")


def match_value(key: str, value: str | int | bool) -> Condition:
    """`key` (a dot path, `a.b`, `a[].b`) equals `value`; an array matches
    when any element does."""
    return {"key": key, "match": {"value": value}}


def match_any(key: str, values: Sequence[str | int | bool]) -> Condition:
    """`key` equals one of `values`."""
    return {"key": key, "match": {"any": list(values)}}


def match_except(key: str, values: Sequence[str | int | bool]) -> Condition:
    """`key` exists and equals none of `values`."""
    return {"key": key, "match": {"except": list(values)}}


def field_range(key: str, *, gt: float | None = None, gte: float | None = None,
                lt: float | None = None, lte: float | None = None) -> Condition:
    """`key` is a number within the given bounds."""
    bounds = {name: value for name, value in
              (("gt", gt), ("gte", gte), ("lt", lt), ("lte", lte)) if value is not None}
    return {"key": key, "range": bounds}


def has_id(ids: Sequence[PointId]) -> Condition:
    """The point's id is one of `ids`."""
    return {"has_id": [point_id_json(i) for i in ids]}


def is_empty(key: str) -> Condition:
    """`key` is missing, null or an empty array."""
    return {"is_empty": {"key": key}}


def is_null(key: str) -> Condition:
    """`key` is null."""
    return {"is_null": {"key": key}}


# ---------------------------------------------------------------- points


@dataclass
class Point:
    """A point to upsert. `vector` is a sequence of numbers or a 1-D numpy
    array; `payload` a JSON object (None: no payload)."""

    id: PointId
    vector: Any
    payload: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": point_id_json(self.id), "vector": vector_json(self.vector)}
        if self.payload is not None:
            out["payload"] = dict(self.payload)
        return out


@dataclass(frozen=True)
class Record:
    """A stored point, as retrieve and scroll return it: `payload` is None
    when not asked for, `vector` None when not asked for (Cosine vectors
    come back normalised, as stored)."""

    id: int | str
    payload: dict[str, Any] | None = None
    vector: list[float] | None = None

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Record:
        return cls(id=value["id"], payload=value.get("payload"),
                   vector=_answer_vector(value.get("vector")))


@dataclass(frozen=True)
class ScoredPoint:
    """A search hit, best first: `score` follows the collection's `Distance`."""

    id: int | str
    score: float
    payload: dict[str, Any] | None = None
    vector: list[float] | None = None

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> ScoredPoint:
        return cls(id=value["id"], score=value["score"], payload=value.get("payload"),
                   vector=_answer_vector(value.get("vector")))


@dataclass(frozen=True)
class ScrollPage:
    """One page of a scroll; `next_offset` is the id to pass as `offset` for
    the next page, None after the last."""

    points: list[Record]
    next_offset: int | str | None


@dataclass
class SearchRequest:
    """One entry of a search batch; the fields mean what `VestaClient.search`'s
    parameters do."""

    vector: Any
    limit: int = 10
    filter: Filter | Mapping[str, Any] | None = None
    offset: int = 0
    score_threshold: float | None = None
    with_payload: PayloadSelector = False
    with_vector: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"vector": vector_json(self.vector), "limit": self.limit,
                               "with_payload": payload_selector_json(self.with_payload),
                               "with_vector": self.with_vector}
        if self.filter is not None:
            out["filter"] = filter_json(self.filter)
        if self.offset:
            out["offset"] = self.offset
        if self.score_threshold is not None:
            out["score_threshold"] = self.score_threshold
        return out


def payload_selector_json(value: PayloadSelector) -> Any:
    if isinstance(value, (bool, Mapping)):
        return value if isinstance(value, bool) else dict(value)
    if isinstance(value, str):
        raise TypeError("with_payload takes a list of key paths, not a single string")
    return list(value)


# ---------------------------------------------------------------- collections


@dataclass(frozen=True)
class PayloadIndexInfo:
    """A payload index: its `data_type` and how many points have an indexed value."""

    data_type: str
    points: int


@dataclass(frozen=True)
class CollectionInfo:
    """`GET /collections/{name}`: `dim` and `distance` of its vectors, the live
    `points_count`, the payload indexes by field; `raw` is the whole answer;
    `vector_name` is the vector's name when it was created named, else ""."""

    status: str
    points_count: int
    dim: int
    distance: Distance
    payload_schema: dict[str, PayloadIndexInfo]
    raw: dict[str, Any] = field(repr=False, compare=False)
    vector_name: str = ""

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> CollectionInfo:
        vectors = value["config"]["params"]["vectors"]
        vector_name = ""
        if "size" not in vectors and len(vectors) == 1:
            vector_name, vectors = next(iter(vectors.items()))
        schema = {name: PayloadIndexInfo(data_type=info.get("data_type", ""),
                                         points=info.get("points", 0))
                  for name, info in (value.get("payload_schema") or {}).items()}
        return cls(status=value.get("status", ""), points_count=value.get("points_count", 0),
                   dim=vectors["size"], distance=Distance(vectors["distance"]),
                   payload_schema=schema, raw=dict(value), vector_name=vector_name)


# ---------------------------------------------------------------- aliases


@dataclass(frozen=True)
class AliasDescription:
    alias_name: str
    collection_name: str


@dataclass(frozen=True)
class CreateAlias:
    """Makes `alias_name` point to `collection_name` (re-points it when it is
    already an alias)."""

    collection_name: str
    alias_name: str

    def to_json(self) -> dict[str, Any]:
        return {"create_alias": {"collection_name": self.collection_name,
                                 "alias_name": self.alias_name}}


@dataclass(frozen=True)
class DeleteAlias:
    alias_name: str

    def to_json(self) -> dict[str, Any]:
        return {"delete_alias": {"alias_name": self.alias_name}}


@dataclass(frozen=True)
class RenameAlias:
    old_alias_name: str
    new_alias_name: str

    def to_json(self) -> dict[str, Any]:
        return {"rename_alias": {"old_alias_name": self.old_alias_name,
                                 "new_alias_name": self.new_alias_name}}


AliasAction = Union[CreateAlias, DeleteAlias, RenameAlias]


# ---------------------------------------------------------------- snapshots


@dataclass(frozen=True)
class SnapshotDescription:
    """A collection snapshot on the server: `size` in bytes, `creation_time`
    as the server writes it (ISO 8601, UTC)."""

    name: str
    creation_time: str | None
    size: int
    checksum: str | None = None

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> SnapshotDescription:
        return cls(name=value["name"], creation_time=value.get("creation_time"),
                   size=value.get("size", 0), checksum=value.get("checksum"))


# ---------------------------------------------------------------- import jobs


class JobState(str, enum.Enum):
    """Where an import job stands; the last three are final."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class BadPoint:
    """A point an import job skipped (`on_error="skip"`) or stopped at
    (`"abort"`): `line` is the 1-based line of an NDJSON body, or the 0-based
    row of a binary one; `message` says what is wrong (`line 3: vector has
    7 values, the collection's size is 8`)."""

    line: int
    message: str


@dataclass(frozen=True)
class ImportJob:
    """A bulk import job as `GET /jobs/{id}` reports it. `points_done` counts
    points durable in the collection; `errors` holds the first 100 bad
    points; `failure` says why a `FAILED` job stopped; `rate` is points per
    second of the current run (its average once finished) and `eta_seconds`
    the time left at that rate (None when unknown); times are ISO 8601 UTC
    strings, None until they happen."""

    id: str
    collection: str
    state: JobState
    format: str
    on_error: str
    points_total: int
    points_done: int
    points_skipped: int
    rate: float = 0.0
    eta_seconds: float | None = None
    errors: list[BadPoint] = field(default_factory=list)
    failure: str | None = None
    idempotency_key: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    restarts: int = 0

    @property
    def finished(self) -> bool:
        """Completed, failed or cancelled: the job will not change again."""
        return self.state in (JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED)

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> ImportJob:
        return cls(id=value["id"], collection=value["collection"],
                   state=JobState(value["state"]), format=value.get("format", ""),
                   on_error=value.get("on_error", ""),
                   points_total=int(value.get("points_total", 0)),
                   points_done=int(value.get("points_done", 0)),
                   points_skipped=int(value.get("points_skipped", 0)),
                   rate=float(value.get("rate") or 0.0), eta_seconds=value.get("eta_seconds"),
                   errors=[BadPoint(line=int(e["line"]), message=e["message"])
                           for e in value.get("errors") or []],
                   failure=value.get("failure"), idempotency_key=value.get("idempotency_key"),
                   created_at=value.get("created_at"), started_at=value.get("started_at"),
                   finished_at=value.get("finished_at"), restarts=int(value.get("restarts", 0)))


# ---------------------------------------------------------------- graph

# A graph node's id (docs/graph.md): a string of 1 to 256 bytes or an
# integer 0..2**63-1 (what a graph integer holds); a `uuid.UUID` is sent as
# its string. A node's vector is the point with the same id.
NodeId = Union[int, str, uuid.UUID]

# The longest string node id (and string point id), in UTF-8 bytes.
MAX_STRING_ID_BYTES = 256
_MAX_NODE_NUMBER = 2**63 - 1

# The UUID forms the server reads as a UUID point id (core/point_id.h,
# Uuid::parse): hyphenated 8-4-4-4-12 or 32 hex digits, either wrapped in
# braces, after an optional "urn:uuid:"; hex digits in any case.
_UUID_TEXT = re.compile(
    r"(?:urn:uuid:|URN:UUID:)?(?P<open>\{)?"
    r"(?P<hex>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|[0-9a-fA-F]{32})(?(open)\})")


def node_id_json(node_id: NodeId) -> int | str:
    """`node_id` as JSON: UUIDs as their hyphenated string; booleans refused."""
    if isinstance(node_id, bool):
        raise TypeError("a node id must be an int, a str or a uuid.UUID, got bool")
    if isinstance(node_id, uuid.UUID):
        return str(node_id)
    if isinstance(node_id, (int, str)):
        return node_id
    if hasattr(node_id, "__index__"):  # numpy integers
        return int(node_id.__index__())
    raise TypeError(f"a node id must be an int, a str or a uuid.UUID, got {type(node_id).__name__}")


def node_point_id(node_id: NodeId) -> int | str:
    """The id of the point that holds node `node_id`'s vector (and its
    properties, plus `"vesta_node_id"`, as payload) in the collection named
    by its upsert, as the server answers it: the same id (docs/graph.md),
    with a string that is a UUID in any form the server reads (hyphenated
    or not, in braces, `urn:uuid:`, any case) as its canonical lowercase
    hyphenated form, which is how the server echoes it. Raises ValueError
    for an id no node can have (negative, over 2**63 - 1, an empty string
    or one over 256 bytes).

        client.retrieve("entities", [node_point_id(node)], with_vector=True)
    """
    value = node_id_json(node_id)
    if isinstance(value, int):
        if not 0 <= value <= _MAX_NODE_NUMBER:
            raise ValueError(f"an integer node id must be in 0..2**63-1, got {value}")
        return value
    match = _UUID_TEXT.fullmatch(value)
    if match:
        return str(uuid.UUID(match.group("hex")))
    size = len(value.encode("utf-8"))
    if not 1 <= size <= MAX_STRING_ID_BYTES:
        raise ValueError(f"a string node id must be 1..{MAX_STRING_ID_BYTES} bytes, got {size}")
    return value


@dataclass
class GraphNode:
    """A node to upsert into the graph of a workspace, with its vector.

    `vector` (a sequence of numbers or a 1-D numpy array, of the
    collection's dimension) becomes the point `node_point_id(id)`;
    `labels` are added to the node besides the workspace's own label;
    `properties` are set on the node (`SET n += properties`: a None value
    removes that property) and are the point's payload with
    `"vesta_node_id"`. Property values: None, bool, numbers, strings, or
    lists of bools, numbers or strings."""

    id: NodeId
    vector: Any
    labels: Sequence[str] = ()
    properties: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        if isinstance(self.labels, str):
            raise TypeError("labels takes a list of labels, not a single string")
        out: dict[str, Any] = {"id": node_id_json(self.id), "vector": vector_json(self.vector)}
        if self.labels:
            out["labels"] = list(self.labels)
        if self.properties is not None:
            out["properties"] = dict(self.properties)
        return out


@dataclass
class GraphEdge:
    """A relationship `(source)-[:type]->(target)` to upsert: both ends must
    be nodes of the same request or points already in the collection. One
    edge exists per source, type and target; `properties` are set on it as
    on nodes. In `graph_delete`, `type` may be None: every edge from source
    to target."""

    source: NodeId
    target: NodeId
    type: str | None = None
    properties: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": node_id_json(self.source),
                               "target": node_id_json(self.target)}
        if self.type is not None:
            out["type"] = self.type
        if self.properties is not None:
            out["properties"] = dict(self.properties)
        return out


class GraphDelivery(str, enum.Enum):
    """How far a graph write had gone when the server answered: `DURABLE` (the
    vectors and the graph operations are in the log; the operations reach
    the graph database later) or `DELIVERED` (committed there too). As
    `wait=`, what the server waits for before answering."""

    DURABLE = "durable"
    DELIVERED = "delivered"


@dataclass(frozen=True)
class GraphWriteResult:
    """A graph upsert's or delete's answer: the log record's `sequence`, its
    `status`, and how many `nodes` and `edges` the request named."""

    sequence: int
    status: GraphDelivery
    nodes: int
    edges: int

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> GraphWriteResult:
        return cls(sequence=int(value["sequence"]), status=GraphDelivery(value["status"]),
                   nodes=int(value.get("nodes", 0)), edges=int(value.get("edges", 0)))


@dataclass(frozen=True)
class GraphConnection:
    """The dispatcher's link to the graph database: its `uri`, whether it is
    `connected`, the last error it met (None when there was none), and how
    many graph transactions it committed and retried."""

    uri: str
    connected: bool
    last_error: str | None = None
    transactions: int = 0
    retries: int = 0

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> GraphConnection:
        return cls(uri=value.get("uri", ""), connected=bool(value.get("connected", False)),
                   last_error=value.get("last_error"),
                   transactions=int(value.get("transactions") or 0),
                   retries=int(value.get("retries") or 0))


@dataclass(frozen=True)
class GraphStatus:
    """`GET /graph/{workspace}/status`: the log records and graph operations
    of this workspace not yet delivered, the newest sequence delivered (of
    any workspace; None before the first), how long the oldest waiting
    record has waited (seconds), the dead letters, whether this server is
    the one that delivers (`leader`: with `--postgres-mode shared`, one
    server of the workspace does; None when the server does not say), and
    the connection; `raw` is the whole answer."""

    workspace: str
    pending_records: int
    pending_operations: int
    last_delivered_sequence: int | None
    lag_seconds: float
    dead_letters: int
    graph: GraphConnection
    leader: bool | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> GraphStatus:
        last = value.get("last_delivered_sequence")
        return cls(workspace=value["workspace"],
                   pending_records=int(value.get("pending_records", 0)),
                   pending_operations=int(value.get("pending_operations", 0)),
                   last_delivered_sequence=None if last is None else int(last),
                   lag_seconds=float(value.get("lag_seconds") or 0.0),
                   dead_letters=int(value.get("dead_letters", 0)),
                   graph=GraphConnection.from_json(value.get("graph") or {}),
                   leader=value.get("leader"), raw=dict(value))


@dataclass(frozen=True)
class DeadLetter:
    """A request's graph operations that the graph database refused for good
    (`error` is its message); `operations` as the server keeps them.
    `retry_graph_dead_letters` puts them back in the outbox."""

    sequence: int
    workspace: str
    error: str
    operations: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> DeadLetter:
        return cls(sequence=int(value["sequence"]), workspace=value.get("workspace", ""),
                   error=value.get("error", ""), operations=dict(value.get("operations") or {}))
