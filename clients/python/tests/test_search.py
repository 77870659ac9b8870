"""JSON search (`/points/search`, `/points/query`, `/points/search/batch`) with
filters through VestaClient, checked against exact answers computed here in
float64."""

import numpy as np
import pytest

from vesta_client import (
    BadRequest,
    Filter,
    SearchRequest,
    field_range,
    has_id,
    is_empty,
    is_null,
    match_any,
    match_except,
    match_value,
)

DIM = 16
N = 200
SEED = 20261201


@pytest.fixture
def corpus(client):
    """N points in a Dot collection: float16-exact vectors (so stored rows
    equal them), payloads with a tag, a number and some empty/null fields."""
    rng = np.random.default_rng(SEED)
    vectors = rng.standard_normal((N, DIM)).astype(np.float16).astype(np.float32)
    payloads = []
    for i in range(N):
        p = {"n": i, "tag": ["red", "green", "blue"][i % 3]}
        if i % 10 == 0:
            p["note"] = None
        elif i % 10 == 1:
            p["note"] = []
        else:
            p["note"] = [f"x{i}"]
        payloads.append(p)
    client.create_collection("s", dim=DIM, distance="Dot")
    client.upsert_batch("s", list(range(N)), vectors, payloads, batch_size=64)
    queries = rng.standard_normal((4, DIM)).astype(np.float32)
    return client, vectors, payloads, queries


def exact(vectors, query, keep=None, k=10):
    scores = vectors.astype(np.float64) @ query.astype(np.float64)
    order = [i for i in np.argsort(-scores, kind="stable") if keep is None or keep(i)]
    return order[:k], scores


def test_search_matches_exact_dot_products(corpus):
    client, vectors, _, queries = corpus
    for q in queries:
        hits = client.search("s", q, limit=10)
        want, scores = exact(vectors, q)
        assert [h.id for h in hits] == want
        np.testing.assert_allclose([h.score for h in hits], scores[want], rtol=1e-5, atol=1e-5)
        assert all(h.payload is None and h.vector is None for h in hits)


def test_query_route_answers_as_search(corpus):
    client, _, _, queries = corpus
    for q in queries:
        assert client.query("s", q, limit=7, with_payload=True) == \
            client.search("s", q, limit=7, with_payload=True)


def test_offset_threshold_payload_and_vector(corpus):
    client, vectors, payloads, queries = corpus
    q = queries[0]
    want, scores = exact(vectors, q, k=15)
    hits = client.search("s", q, limit=5, offset=10, with_payload=["tag"], with_vector=True)
    assert [h.id for h in hits] == want[10:15]
    assert [h.payload for h in hits] == [{"tag": payloads[i]["tag"]} for i in want[10:15]]
    np.testing.assert_array_equal(np.array([h.vector for h in hits], dtype=np.float32),
                                  vectors[want[10:15]])
    threshold = float(scores[want[4]]) - 1e-3
    assert [h.id for h in client.search("s", q, limit=50, score_threshold=threshold)] == want[:5]


@pytest.mark.parametrize("name,flt,keep", [
    ("match_value", Filter(must=[match_value("tag", "red")]), lambda p: p["tag"] == "red"),
    ("match_any", Filter(must=[match_any("tag", ["red", "blue"])]),
     lambda p: p["tag"] in ("red", "blue")),
    ("match_except", Filter(must=[match_except("tag", ["red"])]), lambda p: p["tag"] != "red"),
    ("range", Filter(must=[field_range("n", gte=50, lt=120)]), lambda p: 50 <= p["n"] < 120),
    ("must_not", Filter(must_not=[field_range("n", gt=20)]), lambda p: p["n"] <= 20),
    ("should", Filter(should=[match_value("tag", "green"), field_range("n", lt=10)]),
     lambda p: p["tag"] == "green" or p["n"] < 10),
    ("min_should", Filter(min_should=([match_value("tag", "green"), field_range("n", lt=100),
                                       has_id(list(range(0, N, 2)))], 2)),
     lambda p: sum([p["tag"] == "green", p["n"] < 100, p["n"] % 2 == 0]) >= 2),
    ("has_id", Filter(must=[has_id([3, 30, 33, 130])]), lambda p: p["n"] in (3, 30, 33, 130)),
    ("is_empty", Filter(must=[is_empty("note")]), lambda p: not p["note"]),
    ("is_null", Filter(must=[is_null("note")]), lambda p: p["note"] is None),
    ("nested", Filter(must=[Filter(should=[match_value("tag", "red"), match_value("tag", "blue")]),
                            field_range("n", lt=60)]),
     lambda p: p["tag"] in ("red", "blue") and p["n"] < 60),
    ("dict", {"must": [{"key": "tag", "match": {"value": "blue"}}]}, lambda p: p["tag"] == "blue"),
])
def test_filtered_search_matches_exact_filtered_answers(corpus, name, flt, keep):
    client, vectors, payloads, queries = corpus
    for q in queries[:2]:
        want, _ = exact(vectors, q, keep=lambda i: keep(payloads[i]), k=12)
        assert [h.id for h in client.search("s", q, limit=12, filter=flt)] == want, name
    assert client.count("s", flt) == sum(keep(p) for p in payloads), name


def test_search_batch_answers_each_search_in_order(corpus):
    client, vectors, _, queries = corpus
    red = Filter(must=[match_value("tag", "red")])
    answers = client.search_batch("s", [SearchRequest(q, limit=4) for q in queries] +
                                  [SearchRequest(queries[0], limit=3, filter=red)])
    assert len(answers) == len(queries) + 1
    for q, hits in zip(queries, answers):
        assert [h.id for h in hits] == exact(vectors, q, k=4)[0]
    assert [h.id for h in answers[-1]] == \
        exact(vectors, queries[0], keep=lambda i: i % 3 == 0, k=3)[0]


def test_search_errors_name_the_field(corpus):
    client, _, _, _ = corpus
    with pytest.raises(BadRequest) as err:
        client.search("s", [1.0] * (DIM - 1))
    assert f"has {DIM - 1} values, expected 1 x {DIM}" in err.value.message
    with pytest.raises(BadRequest) as err:
        client.search_batch("s", [SearchRequest([0.0] * DIM), SearchRequest([0.0] * DIM,
                                                                            limit=5000)])
    assert err.value.message.startswith("searches[1].limit")
