"""The binary batch search (POST /collections/{name}/points/search/raw), sent
with urllib and numpy as docs/api.md shows, against qdrant-client's
query_points for the same queries on the same server."""

import struct
import urllib.error
import urllib.request

import numpy as np
import pytest
from qdrant_client import models

DIM = 24
N_POINTS = 300
K = 7


def raw_search(url, collection, queries, k, dtype=1, scores=True):
    """Sends `queries` (rows x dim) and returns (ids, scores) as numpy arrays."""
    values = queries.astype("<f4" if dtype == 1 else "<f2")
    rows, dim = values.shape
    header = struct.pack("<4sBBHIII", b"VSQ1", dtype, 1 if scores else 0, 0, rows, dim, k)
    request = urllib.request.Request(
        f"{url}/collections/{collection}/points/search/raw", data=header + values.tobytes(),
        headers={"Content-Type": "application/octet-stream"}, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.headers["Content-Type"] == "application/octet-stream"
        body = response.read()
    magic, got_rows, got_k = struct.unpack_from("<4sII", body, 0)
    assert (magic, got_rows, got_k) == (b"VSR1", rows, k)
    fields = [("id", "<u8")] + ([("score", "<f4")] if scores else [])
    entries = np.frombuffer(body, dtype=np.dtype(fields), offset=12).reshape(rows, k)
    return entries["id"], (entries["score"] if scores else None)


@pytest.fixture
def seeded(client):
    rng = np.random.default_rng(20261126)
    vectors = rng.standard_normal((N_POINTS, DIM)).astype(np.float32)
    client.create_collection("raw", vectors_config=models.VectorParams(
        size=DIM, distance=models.Distance.DOT))
    client.upsert("raw", points=models.Batch(ids=list(range(N_POINTS)),
                                             vectors=vectors.tolist()), wait=True)
    queries = rng.standard_normal((5, DIM)).astype(np.float32)
    return vectors, queries


def client_answers(client, queries, k):
    ids, scores = [], []
    for q in queries:
        points = client.query_points("raw", query=q.tolist(), limit=k).points
        ids.append([p.id for p in points])
        scores.append([p.score for p in points])
    return np.array(ids), np.array(scores)


def test_float32_matches_query_points(client, vesta_url, seeded):
    _, queries = seeded
    ids, scores = raw_search(vesta_url, "raw", queries, K)
    want_ids, want_scores = client_answers(client, queries, K)
    np.testing.assert_array_equal(ids, want_ids)
    np.testing.assert_allclose(scores, want_scores, rtol=1e-6, atol=1e-6)
    ids_only, no_scores = raw_search(vesta_url, "raw", queries, K, scores=False)
    assert no_scores is None
    np.testing.assert_array_equal(ids_only, want_ids)


def test_float16_matches_query_points_within_the_rounding(client, vesta_url, seeded):
    vectors, queries = seeded
    ids, scores = raw_search(vesta_url, "raw", queries, K, dtype=2)
    # The server searches with the float16 values of the queries: the same
    # queries through qdrant-client give the same ids and scores ...
    rounded = queries.astype(np.float16).astype(np.float32)
    want_ids, want_scores = client_answers(client, rounded, K)
    np.testing.assert_array_equal(ids, want_ids)
    np.testing.assert_allclose(scores, want_scores, rtol=1e-6, atol=1e-6)
    # ... and scores within the float16 rounding of the query (a relative
    # 2^-11 per value) of the float32 queries' scores for those points.
    stored = vectors.astype(np.float16).astype(np.float64)
    for q in range(len(queries)):
        rows = stored[ids[q]]
        exact = rows @ queries[q].astype(np.float64)
        bound = 2.0**-11 * (np.abs(rows) @ np.abs(queries[q].astype(np.float64))) + 1e-4
        assert np.all(np.abs(scores[q] - exact) <= bound), (scores[q], exact, bound)


def test_padding_and_errors(client, vesta_url):
    client.create_collection("small", vectors_config=models.VectorParams(
        size=4, distance=models.Distance.EUCLID))
    client.upsert("small", points=[models.PointStruct(id=i, vector=[i, 0, 0, 0])
                                   for i in range(3)], wait=True)
    ids, scores = raw_search(vesta_url, "small", np.zeros((1, 4), np.float32), 5)
    assert ids[0].tolist() == [0, 1, 2, 2**64 - 1, 2**64 - 1]
    assert scores[0][:3].tolist() == [0.0, 1.0, 2.0]  # Euclid: the distance
    assert np.isnan(scores[0][3:]).all()
    with pytest.raises(urllib.error.HTTPError) as err:
        raw_search(vesta_url, "small", np.zeros((1, 3), np.float32), 5)
    assert err.value.code == 400
    assert b"dim 3 does not match the collection's 4" in err.value.read()
    with pytest.raises(urllib.error.HTTPError) as err:
        raw_search(vesta_url, "missing", np.zeros((1, 4), np.float32), 5)
    assert err.value.code == 404
