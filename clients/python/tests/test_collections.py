"""Collections, payload indexes and aliases through VestaClient against a real
`vesta serve`."""

import threading

import httpx
import pytest

from vesta_client import (
    BadRequest,
    Conflict,
    CreateAlias,
    DeleteAlias,
    Distance,
    NotFound,
    PayloadSchemaType,
    Point,
    RenameAlias,
)


def test_create_get_list_exists_delete(client):
    for name, distance in (("cos", Distance.COSINE), ("dot", "Dot"), ("euc", Distance.EUCLID)):
        client.create_collection(name, dim=5, distance=distance)
    assert sorted(client.list_collections()) == ["cos", "dot", "euc"]
    info = client.get_collection("dot")
    assert (info.dim, info.distance, info.points_count) == (5, Distance.DOT, 0)
    assert info.status == "green"
    assert info.raw["config"]["params"]["vectors"] == {"size": 5, "distance": "Dot"}
    assert client.collection_exists("euc")
    assert client.delete_collection("euc") is True
    assert not client.collection_exists("euc")
    assert client.delete_collection("euc") is False


def test_a_collection_whose_vector_is_named_reads_as_any_other(client, server):
    # Created through Qdrant's named form by another client: the info names
    # the vector, and points come back with plain vectors.
    response = httpx.put(f"{server.url}/collections/pics", json={
        "vectors": {"image": {"size": 2, "distance": "Dot"}}})
    assert response.status_code == 200, response.text
    info = client.get_collection("pics")
    assert (info.vector_name, info.dim, info.distance) == ("image", 2, Distance.DOT)
    client.upsert("pics", [Point(1, [1.0, 0.0]), Point(2, [0.0, 1.0])])
    assert client.retrieve("pics", [1], with_vector=True)[0].vector == [1.0, 0.0]
    hits = client.search("pics", [0.0, 3.0], limit=1, with_vector=True)
    assert [(h.id, h.vector) for h in hits] == [(2, [0.0, 1.0])]


def test_points_count_follows_upserts(client):
    client.create_collection("docs", dim=2)
    client.upsert("docs", [Point(i, [1.0, float(i)]) for i in range(7)])
    assert client.get_collection("docs").points_count == 7


def test_create_existing_collection_is_conflict_with_the_servers_message(client):
    client.create_collection("docs", dim=3)
    with pytest.raises(Conflict) as err:
        client.create_collection("docs", dim=3)
    assert err.value.status_code == 409
    assert "docs" in err.value.message


def test_bad_name_and_missing_collection_errors(client):
    with pytest.raises(BadRequest) as err:
        client.create_collection("bad name", dim=3)
    assert "may only contain" in err.value.message
    with pytest.raises(NotFound) as err:
        client.get_collection("nope")
    assert err.value.message == "collection 'nope' does not exist"


def test_payload_index_is_listed_with_its_points_and_can_be_deleted(client):
    client.create_collection("docs", dim=2)
    client.upsert("docs", [Point(1, [1, 0], {"city": "Paris"}), Point(2, [0, 1], {"n": 3})])
    client.create_payload_index("docs", "city", PayloadSchemaType.KEYWORD)
    client.create_payload_index("docs", "n", "integer")
    client.create_payload_index("docs", "n", "integer")  # again: nothing happens
    schema = client.get_collection("docs").payload_schema
    assert {k: (v.data_type, v.points) for k, v in schema.items()} == {
        "city": ("keyword", 1), "n": ("integer", 1)}
    client.delete_payload_index("docs", "city")
    assert list(client.get_collection("docs").payload_schema) == ["n"]


def test_aliases_create_list_rename_delete(client):
    client.create_collection("v1", dim=2)
    client.create_collection("v2", dim=2)
    client.create_alias("live", "v1")
    client.create_alias("other", "v2")
    assert [(a.alias_name, a.collection_name) for a in client.list_aliases()] == [
        ("live", "v1"), ("other", "v2")]
    assert [a.alias_name for a in client.list_aliases("v1")] == ["live"]
    client.rename_alias("other", "renamed")
    assert [a.alias_name for a in client.list_aliases("v2")] == ["renamed"]
    client.delete_alias("renamed")
    assert [a.alias_name for a in client.list_aliases()] == ["live"]
    with pytest.raises(NotFound):
        client.delete_alias("renamed")


def test_reads_and_writes_go_through_an_alias(client):
    client.create_collection("v1", dim=2)
    client.create_alias("live", "v1")
    client.upsert("live", [Point(1, [1, 0])])
    assert client.count("v1") == 1
    assert client.get_collection("live").points_count == 1
    assert [h.id for h in client.search("live", [1, 0])] == [1]


def test_update_aliases_is_all_or_nothing(client):
    client.create_collection("v1", dim=2)
    client.create_alias("live", "v1")
    with pytest.raises(NotFound) as err:
        client.update_aliases([DeleteAlias("live"), CreateAlias("v1", "second"),
                               CreateAlias("missing", "third")])
    assert err.value.message.startswith("actions[2].create_alias.collection_name")
    assert [(a.alias_name, a.collection_name) for a in client.list_aliases()] == [("live", "v1")]
    client.update_aliases([RenameAlias("live", "now"),
                           {"create_alias": {"collection_name": "v1", "alias_name": "raw"}}])
    assert [a.alias_name for a in client.list_aliases()] == ["now", "raw"]


def test_swap_alias_is_atomic_for_concurrent_readers(client):
    # v1 holds one point, v2 two: every count through the alias during the
    # swaps must be 1 or 2, never a missing alias (404) or anything else.
    client.create_collection("v1", dim=2)
    client.create_collection("v2", dim=2)
    client.upsert("v1", [Point(1, [1, 0])])
    client.upsert("v2", [Point(1, [1, 0]), Point(2, [0, 1])])
    client.swap_alias("live", "v1")  # creates it
    seen, failures = set(), []
    stop = threading.Event()

    def read():
        while not stop.is_set():
            try:
                seen.add(client.count("live"))
            except Exception as e:  # noqa: BLE001 - recorded and asserted below
                failures.append(e)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(40):
            client.swap_alias("live", "v2" if i % 2 == 0 else "v1")
    finally:
        stop.set()
        reader.join(timeout=30)
    assert failures == []
    assert seen <= {1, 2}
    assert [(a.alias_name, a.collection_name) for a in client.list_aliases()] == [("live", "v1")]
