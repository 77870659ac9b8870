"""Bulk import jobs through VestaClient against a real `vesta serve`: NDJSON
from points, binary from numpy columns (float32 and float16, payloads with
gaps), progress callbacks, bad points under on_error skip and abort (with
their lines), cancellation, idempotency keys, and the binary encoder with
and without numpy."""

import json
import uuid

import numpy as np
import pytest

from vesta_client import (
    BadRequest,
    ImportJob,
    ImportJobCancelled,
    ImportJobError,
    ImportJobFailed,
    JobState,
    NotFound,
    Point,
    Timeout,
)
from vesta_client import import_codec

DIM = 8


def vectors(rng, rows, dim=DIM):
    """float32 values that float16 holds exactly: what the server stores."""
    return rng.standard_normal((rows, dim)).astype(np.float16).astype(np.float32)


@pytest.fixture
def euclid(client):
    client.create_collection("imp", dim=DIM, distance="Euclid")
    return client


def test_import_points_reports_progress_until_completed(euclid):
    rng = np.random.default_rng(1)
    matrix = vectors(rng, 20_000)
    points = (Point(i, matrix[i], {"i": i, "tag": f"t{i % 3}"}) for i in range(20_000))
    seen: list[ImportJob] = []
    job = euclid.import_points("imp", points, progress=seen.append, poll_interval=0.02)
    assert job.state == JobState.COMPLETED and job.finished
    assert (job.points_total, job.points_done, job.points_skipped) == (20_000, 20_000, 0)
    assert job.format == "ndjson" and job.on_error == "skip" and job.errors == []
    assert seen and seen[-1] == job
    assert all(a.points_done <= b.points_done for a, b in zip(seen, seen[1:]))
    assert euclid.count("imp") == 20_000
    [record] = euclid.retrieve("imp", [12_345], with_vector=True)
    assert record.payload == {"i": 12_345, "tag": "t0"}
    assert record.vector == matrix[12_345].tolist()
    assert euclid.get_job(job.id) == job
    assert job.id in [j.id for j in euclid.list_jobs()]


@pytest.mark.parametrize("float16", [False, True])
def test_import_binary_from_numpy_columns(euclid, float16):
    rng = np.random.default_rng(2)
    ids = np.arange(1_000, 4_000, dtype=np.uint64)
    matrix = vectors(rng, len(ids))
    payloads = [None if i % 10 == 0 else {"i": int(i), "text": "línea\nnueva"} for i in ids]
    job = euclid.import_binary("imp", ids, matrix, payloads, float16=float16)
    assert job.format == "binary" and job.points_done == len(ids)
    records = euclid.retrieve("imp", [1_000, 1_001, 3_999], with_vector=True)
    assert [r.payload for r in records] == [{}, {"i": 1_001, "text": "línea\nnueva"},
                                           {"i": 3_999, "text": "línea\nnueva"}]
    assert records[1].vector == matrix[1].tolist()


def test_bad_points_are_skipped_with_their_lines(euclid):
    rng = np.random.default_rng(3)
    good = [{"id": i, "vector": v.tolist()} for i, v in enumerate(vectors(rng, 10))]
    body = "\n".join(json.dumps(p) for p in good[:4]) + "\n{not json\n" + \
        json.dumps({"id": 99, "vector": [1.0, 2.0]}) + "\n" + \
        "\n".join(json.dumps(p) for p in good[4:]) + "\n"
    job = euclid.import_points("imp", body.encode())
    assert job.state == JobState.COMPLETED
    assert (job.points_done, job.points_skipped) == (10, 2)
    assert [e.line for e in job.errors] == [5, 6]
    assert "line 6: vector has 2 values, the collection's size is 8" in job.errors[1].message


def test_abort_stops_at_the_first_bad_point_and_raises(euclid):
    rng = np.random.default_rng(4)
    points = [{"id": i, "vector": v.tolist()} for i, v in enumerate(vectors(rng, 100))]
    points[60]["vector"] = [1e6] * DIM  # beyond float16
    with pytest.raises(ImportJobFailed) as failed:
        euclid.import_points("imp", points, on_error="abort")
    job = failed.value.job
    assert isinstance(failed.value, ImportJobError) and failed.value.status_code is None
    assert job.state == JobState.FAILED and job.errors[0].line == 61
    assert "line 61" in job.failure and "on_error=abort" in job.failure
    assert "line 61" in str(failed.value)
    # Points are imported in chunks; none past the bad one.
    assert job.points_done <= 60
    assert euclid.count("imp") == job.points_done


def test_a_queued_job_times_out_waiting_then_is_cancelled(euclid):
    rng = np.random.default_rng(5)
    big = euclid.start_binary_import("imp", np.arange(300_000, dtype=np.uint64),
                                     vectors(rng, 300_000))
    queued = euclid.start_import("imp", [Point(10**9, [0.5] * DIM)])
    assert queued.state == JobState.QUEUED
    with pytest.raises(Timeout):
        euclid.wait_for_job(queued.id, timeout=0.05, poll_interval=0.01)
    assert euclid.cancel_job(queued.id).state == JobState.CANCELLED
    with pytest.raises(ImportJobCancelled) as cancelled:
        euclid.wait_for_job(queued)
    assert cancelled.value.job.points_done == 0
    assert euclid.wait_for_job(big).points_done == 300_000
    assert euclid.retrieve("imp", [10**9]) == []


def test_an_idempotency_key_answers_the_first_job(euclid):
    rng = np.random.default_rng(6)
    points = [Point(i, v) for i, v in enumerate(vectors(rng, 50))]
    key = f"load {uuid.uuid4()} & more"  # sent as a header: any characters
    first = euclid.import_points("imp", points, idempotency_key=key)
    again = euclid.start_import("imp", points[:1], idempotency_key=key)
    assert again.id == first.id and again.idempotency_key == key
    assert again.points_total == 50


def test_import_errors_from_the_server_are_api_errors(client):
    with pytest.raises(NotFound):
        client.start_import("missing", [Point(1, [0.0] * DIM)])
    client.create_collection("imp", dim=DIM)
    with pytest.raises(BadRequest, match="binary import of 4-value vectors"):
        client.start_binary_import("imp", [1], [[1.0, 2.0, 3.0, 4.0]])
    with pytest.raises(NotFound):
        client.get_job("import-0000000000000000")
    with pytest.raises(ValueError, match="on_error"):
        client.start_import("imp", [], on_error="ignore")


def test_binary_encoding_is_the_same_with_and_without_numpy():
    rng = np.random.default_rng(7)
    ids = [0, 1, 2**64 - 1]
    matrix = vectors(rng, 3, dim=5)
    payloads = [{"a": 1}, None, {"b": [1, 2]}]
    for float16 in (False, True):
        with_numpy = import_codec.encode_binary(np.array(ids, dtype=np.uint64), matrix, payloads,
                                                float16=float16, use_numpy=True)
        without = import_codec.encode_binary(ids, matrix.tolist(), payloads, float16=float16,
                                             use_numpy=False)
        assert with_numpy == without
    body = import_codec.encode_binary(ids, matrix, payloads)
    assert body[:4] == b"VIMP" and len(body) == 20 + 3 * 8 + 3 * 5 * 4 + 8 + len(
        b'{"a":1}\n\n{"b":[1,2]}\n')
    with pytest.raises(ValueError, match="unsigned 64-bit"):
        import_codec.encode_binary([-1], [[1.0]], None, use_numpy=False)
    with pytest.raises(ValueError, match="unsigned 64-bit"):
        import_codec.encode_binary(np.array([-1]), [[1.0]], None, use_numpy=True)
    with pytest.raises(ValueError, match="no string or UUID ids"):
        import_codec.encode_binary(["doc-1"], [[1.0]], None)
    with pytest.raises(ValueError, match="float16"):
        import_codec.encode_binary([1], [[70000.0]], None, float16=True)
    with pytest.raises(ValueError, match="NaN"):
        import_codec.encode_ndjson([{"id": 1, "vector": [float("nan")]}])
