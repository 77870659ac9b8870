"""vesta-client: a Python client of Vesta's HTTP API.

    from vesta_client import VestaClient, Point, Filter, match_value

    with VestaClient("http://127.0.0.1:6333", api_key=None) as client:
        client.create_collection("docs", dim=4)
        client.upsert("docs", [Point(1, [0.1, 0.2, 0.3, 0.4], {"lang": "en"})])
        hits = client.search("docs", [0.1, 0.2, 0.3, 0.4], limit=3,
                             filter=Filter(must=[match_value("lang", "en")]))

Graph coordination (docs/graph.md): `graph_upsert`, `graph_delete`,
`graph_status`, and `node_point_id` to find a node's vector.

The LightRAG storage adapter is `vesta_client.lightrag.VestaVectorDBStorage`
(it imports LightRAG, so it is not imported here)."""

from .client import DEFAULT_URL, VestaClient
from .errors import (
    ApiError,
    BadGateway,
    BadRequest,
    Conflict,
    Forbidden,
    GatewayTimeout,
    ImportJobCancelled,
    ImportJobError,
    ImportJobFailed,
    NotFound,
    PayloadTooLarge,
    ServerError,
    ServiceUnavailable,
    Timeout,
    TransportError,
    Unauthorized,
    UnprocessableEntity,
    VestaError,
)
from .models import (
    AliasAction,
    AliasDescription,
    BadPoint,
    CollectionInfo,
    CreateAlias,
    DeadLetter,
    DeleteAlias,
    Distance,
    Filter,
    GraphConnection,
    GraphDelivery,
    GraphEdge,
    GraphNode,
    GraphStatus,
    GraphWriteResult,
    ImportJob,
    JobState,
    NodeId,
    PayloadIndexInfo,
    PayloadSchemaType,
    Point,
    PointId,
    Record,
    RenameAlias,
    ScoredPoint,
    ScrollPage,
    SearchRequest,
    SnapshotDescription,
    field_range,
    has_id,
    is_empty,
    is_null,
    match_any,
    match_except,
    match_value,
    node_point_id,
)
from .raw_search_codec import PADDING_ID, RawSearchResult

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_URL", "PADDING_ID", "AliasAction", "AliasDescription",
    "ApiError", "BadGateway", "BadPoint", "BadRequest", "CollectionInfo", "Conflict",
    "CreateAlias", "DeadLetter", "DeleteAlias", "Distance", "Filter", "Forbidden",
    "GatewayTimeout", "GraphConnection", "GraphDelivery", "GraphEdge", "GraphNode",
    "GraphStatus", "GraphWriteResult", "ImportJob", "ImportJobCancelled", "ImportJobError",
    "ImportJobFailed", "JobState", "NodeId", "NotFound", "PayloadIndexInfo", "PayloadSchemaType",
    "PayloadTooLarge",
    "Point", "PointId", "RawSearchResult", "Record", "RenameAlias", "ScoredPoint", "ScrollPage",
    "SearchRequest", "ServerError", "ServiceUnavailable", "SnapshotDescription", "Timeout",
    "TransportError", "Unauthorized", "UnprocessableEntity", "VestaClient", "VestaError",
    "__version__", "field_range", "has_id", "is_empty", "is_null", "match_any", "match_except",
    "match_value", "node_point_id",
]
