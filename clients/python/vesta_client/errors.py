"""The exceptions the client raises.

Every failure is a `VestaError`: an answer from the server other than 2xx is an
`ApiError` (a subclass per status the server uses), carrying the HTTP status
and the server's own message, which names the field at fault
(`points[3].vector[1] must be a number, got string`); a request that got no
answer is a `TransportError` (`Timeout` when a time limit ran out); an import
job that failed or was cancelled is an `ImportJobError`."""

from __future__ import annotations

from typing import Any


class VestaError(Exception):
    """Base of every error the client raises.

    `status_code` is the HTTP status of the server's answer, or None when
    there was none (a `TransportError`); `message` is the server's message,
    or a description of what failed."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message if status_code is None else f"HTTP {status_code}: {message}")
        self.message = message
        self.status_code = status_code


class TransportError(VestaError):
    """No answer: the connection failed, broke, or a time limit ran out."""


class Timeout(TransportError):
    """A connect, read or write time limit (the client's `timeout`) ran out,
    or `wait_for_job`'s `timeout` did (the job goes on)."""


class ApiError(VestaError):
    """The server answered with a status other than 2xx.

    `status_code` is that status and `message` the text of the server's
    `{"status": {"error": "..."}}` envelope (the start of the body when the
    answer was not Vesta's JSON, e.g. from a proxy)."""

    status_code: int

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message, status_code)


class BadRequest(ApiError):
    """400: the request is malformed; the message names the field."""


class UnprocessableEntity(BadRequest):
    """422: the request is well-formed but its content cannot be applied (a
    graph property value the graph database cannot hold, an edge to a node
    that does not exist); the message names the field (`nodes[2].properties.
    meta`, `edges[0]`). A `BadRequest`, so `except BadRequest` catches both."""


class Unauthorized(ApiError):
    """401: no API key, or a key the server does not know."""


class Forbidden(ApiError):
    """403: the read-only API key on a route that writes."""


class NotFound(ApiError):
    """404: an unknown collection, alias, point, snapshot or route."""


class Conflict(ApiError):
    """409: a name already taken, a non-numeric id among binary search hits,
    or an operation the server's configuration refuses (snapshots with
    `--storage memory`)."""


class PayloadTooLarge(ApiError):
    """413: a body over `--max-body-bytes` or an upsert over `--max-batch-points`."""


class ServerError(ApiError):
    """5xx: the server failed (500 is a bug in the server)."""


class ServiceUnavailable(ServerError):
    """503: a lock wait timed out or the write-ahead log failed; the write was
    not applied and may be retried. The graph routes answer 503 when the
    server has no graph database (`--neo4j-uri`)."""


class BadGateway(ServerError):
    """502 from a graph write with `wait="delivered"`: the graph database
    refused its operations for good (the message is its own). The vectors
    are written; the operations are a dead letter (`graph_dead_letters`)."""


class GatewayTimeout(ServerError):
    """504 from a graph write with `wait="delivered"`: the write is durable
    but was not delivered to the graph database within `timeout` seconds;
    it will be (`graph_status` follows it). Do not repeat the write for
    it."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: UnprocessableEntity,
    502: BadGateway,
    503: ServiceUnavailable,
    504: GatewayTimeout,
}


def error_for_status(status_code: int, message: str) -> ApiError:
    """The `ApiError` subclass for `status_code`, holding `message`."""
    cls = _BY_STATUS.get(status_code)
    if cls is None:
        cls = ServerError if status_code >= 500 else ApiError
    return cls(message, status_code)


class ImportJobError(VestaError):
    """An import job ended without completing (`VestaClient.wait_for_job`
    and the `import_*` methods raise it). `job` is the job as it ended
    (`ImportJob`: its `failure`, `errors` with their lines, and how many
    points it imported, which stay in the collection); `status_code` is
    None, as no request failed."""

    def __init__(self, message: str, job: Any) -> None:
        super().__init__(message)
        self.job = job


class ImportJobFailed(ImportJobError):
    """The job failed: a bad point under `on_error="abort"` (`job.failure`
    names its line), or a server-side error such as its collection deleted."""


class ImportJobCancelled(ImportJobError):
    """The job was cancelled (`DELETE /jobs/{id}`, e.g. `cancel_job`)."""
