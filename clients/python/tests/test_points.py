"""Upsert (points, columns, numpy, batches), retrieve, delete, count, scroll and
payload updates through VestaClient against a real `vesta serve`."""

import uuid

import numpy as np
import pytest

from vesta_client import (
    BadRequest,
    Filter,
    Point,
    Record,
    field_range,
    has_id,
    match_value,
)

DIM = 6


def float16_exact(rng, rows, dim=DIM):
    """Random float32 vectors that float16 holds exactly, so what the server
    stores (float16 rows) reads back equal."""
    return rng.standard_normal((rows, dim)).astype(np.float16).astype(np.float32)


@pytest.fixture
def dot(client):
    client.create_collection("pts", dim=DIM, distance="Dot")
    return client


def test_upsert_points_and_dicts_with_every_id_kind(dot):
    u = uuid.UUID("550E8400-E29B-41D4-A716-446655440000")
    dot.upsert("pts", [
        Point(7, [1, 0, 0, 0, 0, 0], {"kind": "int"}),
        Point(u, [0, 1, 0, 0, 0, 0], {"kind": "uuid"}),
        {"id": "doc-7", "vector": np.array([0, 0, 1, 0, 0, 0], dtype=np.float32),
         "payload": {"kind": "string", "tags": ["a", "b"]}},
        {"id": np.int64(8), "vector": [0, 0, 0, 1, 0, 0]},
    ])
    records = dot.retrieve("pts", ["doc-7", 7, str(u).upper(), 8, 999], with_vector=True)
    assert records == [
        Record("doc-7", {"kind": "string", "tags": ["a", "b"]}, [0, 0, 1, 0, 0, 0]),
        Record(7, {"kind": "int"}, [1, 0, 0, 0, 0, 0]),
        Record(str(u), {"kind": "uuid"}, [0, 1, 0, 0, 0, 0]),  # canonical lowercase
        Record(8, {}, [0, 0, 0, 1, 0, 0]),
    ]


def test_upsert_batch_from_numpy_in_several_requests(dot):
    rng = np.random.default_rng(101)
    n = 53
    vectors = float16_exact(rng, n)
    ids = np.arange(1000, 1000 + n, dtype=np.uint64)
    payloads = [{"i": i, "even": i % 2 == 0} for i in range(n)]
    dot.upsert_batch("pts", ids, vectors, payloads, batch_size=10)
    assert dot.count("pts") == n
    got = {r.id: r for r in dot.scroll_all("pts", page_size=7, with_vector=True)}
    assert sorted(got) == ids.tolist()
    for i, point_id in enumerate(ids.tolist()):
        assert got[point_id].payload == payloads[i]
        np.testing.assert_array_equal(np.array(got[point_id].vector, dtype=np.float32), vectors[i])


def test_upsert_batch_from_lists_without_payloads(dot):
    dot.upsert_batch("pts", ["a", "b"], [[1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1]])
    assert [r.payload for r in dot.retrieve("pts", ["a", "b"])] == [{}, {}]


def test_upsert_batch_checks_lengths_before_sending(dot):
    with pytest.raises(ValueError, match="2 ids but 1 vectors"):
        dot.upsert_batch("pts", [1, 2], [[0] * DIM])
    with pytest.raises(ValueError, match="1 ids but 2 payloads"):
        dot.upsert_batch("pts", [1], [[0] * DIM], [{}, {}])
    assert dot.count("pts") == 0


def test_upsert_splits_by_the_clients_batch_size(dot):
    # A request of upsert_batch_size points would fail if it were one request
    # holding a bad point; the first batches land, the bad one fails whole.
    points = [Point(i, [float(i)] * DIM) for i in range(25)]
    points[22] = Point(22, [1.0] * (DIM - 1))
    with pytest.raises(BadRequest) as err:
        dot.upsert("pts", points, batch_size=10)
    assert "(points[2])" in err.value.message
    assert dot.count("pts") == 20


def test_nan_in_a_vector_is_refused_before_sending(dot):
    with pytest.raises(ValueError, match="NaN and Infinity are not JSON"):
        dot.upsert("pts", [Point(1, [float("nan")] + [0.0] * (DIM - 1))])


def test_retrieve_payload_selection_and_missing_ids(dot):
    dot.upsert("pts", [Point(1, [1] * DIM, {"city": "Paris", "meta": {"lang": "fr", "src": "x"}})])
    def payload(selector):
        return dot.retrieve("pts", [1], with_payload=selector)[0].payload

    assert payload(["meta.lang"]) == {"meta": {"lang": "fr"}}
    assert payload({"exclude": ["meta"]}) == {"city": "Paris"}
    assert payload(False) is None
    assert dot.retrieve("pts", [2, 3]) == []


def test_delete_by_ids_and_by_filter(dot):
    dot.upsert_batch("pts", list(range(10)), np.eye(10, DIM, dtype=np.float32),
                     [{"n": i} for i in range(10)])
    dot.delete("pts", [0, 1])
    dot.delete("pts", filter=Filter(must=[field_range("n", gte=7)]))
    assert sorted(r.id for r in dot.scroll_all("pts")) == [2, 3, 4, 5, 6]
    with pytest.raises(ValueError, match="exactly one of ids and filter"):
        dot.delete("pts")
    with pytest.raises(ValueError, match="exactly one of ids and filter"):
        dot.delete("pts", [2], filter={})


def test_count_with_filters(dot):
    dot.upsert_batch("pts", list(range(12)), np.ones((12, DIM), dtype=np.float32),
                     [{"n": i, "tag": "odd" if i % 2 else "even"} for i in range(12)])
    assert dot.count("pts") == 12
    assert dot.count("pts", Filter(must=[match_value("tag", "odd")])) == 6
    assert dot.count("pts", {"must": [{"key": "n", "range": {"lt": 3}}]}) == 3
    assert dot.count("pts", Filter(must_not=[has_id([0, 1, 2])])) == 9


def test_scroll_pages_in_id_order(dot):
    ids = [5, 3, "b", "a", 1, "550e8400-e29b-41d4-a716-446655440000"]
    dot.upsert_batch("pts", ids, np.ones((len(ids), DIM), dtype=np.float32))
    page = dot.scroll("pts", limit=4)
    assert [p.id for p in page.points] == [1, 3, 5, "550e8400-e29b-41d4-a716-446655440000"]
    assert page.next_offset == "a"
    page = dot.scroll("pts", limit=4, offset=page.next_offset, with_payload=False)
    assert [p.id for p in page.points] == ["a", "b"]
    assert page.next_offset is None
    assert page.points[0].payload is None


def test_scroll_with_filter_and_vectors(dot):
    dot.upsert_batch("pts", [1, 2, 3], np.eye(3, DIM, dtype=np.float32),
                     [{"keep": True}, {"keep": False}, {"keep": True}])
    page = dot.scroll("pts", filter=Filter(must=[match_value("keep", True)]), with_vector=True)
    assert [(p.id, p.vector) for p in page.points] == [
        (1, [1, 0, 0, 0, 0, 0]), (3, [0, 0, 1, 0, 0, 0])]


def test_set_overwrite_delete_and_clear_payload(dot):
    dot.upsert_batch("pts", [1, 2, 3], np.ones((3, DIM), dtype=np.float32),
                     [{"a": 1, "b": 1}, {"a": 2, "b": 2}, {"a": 3, "b": 3}])

    def payloads():
        return {r.id: r.payload for r in dot.scroll_all("pts")}

    dot.set_payload("pts", {"c": "x"}, ids=[1])
    dot.set_payload("pts", {"b": 20}, filter=Filter(must=[match_value("a", 2)]))
    assert payloads() == {1: {"a": 1, "b": 1, "c": "x"}, 2: {"a": 2, "b": 20}, 3: {"a": 3, "b": 3}}
    dot.overwrite_payload("pts", {"only": True}, ids=[3])
    assert payloads()[3] == {"only": True}
    dot.delete_payload("pts", ["b", "c"], ids=[1, 2])
    assert payloads() == {1: {"a": 1}, 2: {"a": 2}, 3: {"only": True}}
    dot.clear_payload("pts", filter=Filter(must=[field_range("a", gte=2)]))
    assert payloads() == {1: {"a": 1}, 2: {}, 3: {"only": True}}
    dot.clear_payload("pts", ids=[1, 3])
    assert payloads() == {1: {}, 2: {}, 3: {}}
