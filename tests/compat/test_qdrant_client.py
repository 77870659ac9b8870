"""The official qdrant-client against a running Vesta: the operations that
docs/api.md lists as supported must work through it unchanged."""

import json
import uuid

import httpx
import pytest
from conftest import API_KEY, READ_ONLY_API_KEY
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import UnexpectedResponse

DIM = 4


def make_collection(client, name="docs", distance=models.Distance.COSINE):
    client.create_collection(name, vectors_config=models.VectorParams(size=DIM, distance=distance))


def seed(client, name="docs", n=20):
    points = [
        models.PointStruct(id=i, vector=[1.0, i / n, 0.0, 0.5],
                           payload={"n": i, "even": i % 2 == 0, "group": f"g{i % 3}"})
        for i in range(n)
    ]
    client.upsert(name, points=points, wait=True)


def test_create_exists_info_list_delete(client):
    assert not client.collection_exists("docs")
    make_collection(client)
    assert client.collection_exists("docs")
    info = client.get_collection("docs")
    assert info.config.params.vectors.size == DIM
    assert info.config.params.vectors.distance == models.Distance.COSINE
    assert info.points_count == 0
    assert [c.name for c in client.get_collections().collections] == ["docs"]
    assert client.delete_collection("docs")
    assert not client.collection_exists("docs")


def test_create_twice_is_an_error(client):
    make_collection(client)
    with pytest.raises(UnexpectedResponse) as err:
        make_collection(client)
    assert err.value.status_code == 409


def test_recreate_collection(client):
    make_collection(client)
    seed(client)
    client.recreate_collection("docs", vectors_config=models.VectorParams(
        size=8, distance=models.Distance.DOT))
    info = client.get_collection("docs")
    assert info.config.params.vectors.size == 8
    assert info.points_count == 0


def test_upsert_points_and_batch_then_retrieve(client):
    make_collection(client, distance=models.Distance.DOT)
    text_id = str(uuid.UUID("550e8400-e29b-41d4-a716-446655440000"))
    client.upsert("docs", points=[
        models.PointStruct(id=1, vector=[1, 0, 0, 0], payload={"a": 1}),
        models.PointStruct(id=text_id, vector=[0, 1, 0, 0], payload={"a": 2}),
    ])
    client.upsert("docs", points=models.Batch(ids=[2, 3], vectors=[[0, 0, 1, 0], [0, 0, 0, 1]],
                                             payloads=[{"a": 3}, {"a": 4}]))
    assert client.count("docs").count == 4
    records = client.retrieve("docs", ids=[1, text_id, 3, 99], with_vectors=True)
    by_id = {r.id: r for r in records}
    assert set(by_id) == {1, text_id, 3}
    assert by_id[text_id].payload == {"a": 2}
    assert by_id[3].vector == [0.0, 0.0, 0.0, 1.0]


def test_query_points_nearest_with_filter(client):
    make_collection(client)
    seed(client)
    result = client.query_points(
        "docs", query=[1.0, 1.0, 0.0, 0.5], limit=3, with_payload=True,
        query_filter=models.Filter(must=[
            models.FieldCondition(key="even", match=models.MatchValue(value=True)),
            models.FieldCondition(key="n", range=models.Range(gte=4, lt=15)),
        ]))
    assert [p.id for p in result.points] == [14, 12, 10]
    assert all(p.payload["even"] for p in result.points)
    scores = [p.score for p in result.points]
    assert scores == sorted(scores, reverse=True)


def test_the_default_vector_by_its_name_in_every_named_form(client, vesta_url):
    # Qdrant names a collection's default vector "": LangChain and others
    # create, write and query through that name.
    client.create_collection("named", vectors_config={
        "": models.VectorParams(size=DIM, distance=models.Distance.DOT)})
    assert client.get_collection("named").config.params.vectors.size == DIM
    client.upsert("named", points=[
        models.PointStruct(id=1, vector={"": [1.0, 0.0, 0.0, 0.0]}, payload={"k": 1}),
        models.PointStruct(id=2, vector=[0.0, 1.0, 0.0, 0.0])])
    client.upsert("named", points=models.Batch(ids=[3], vectors={"": [[0.0, 0.0, 1.0, 0.0]]}))
    assert client.count("named").count == 3
    hits = client.query_points("named", query=[0.0, 0.0, 2.0, 0.0], using="", limit=1).points
    assert [h.id for h in hits] == [3]
    # The search API's NamedVector (qdrant-client 1.20 no longer sends it).
    r = httpx.post(f"{vesta_url}/collections/named/points/search",
                   json={"vector": {"name": "", "vector": [2.0, 0, 0, 0]}, "limit": 1})
    assert [h["id"] for h in r.json()["result"]] == [1]
    batch = client.query_batch_points("named", requests=[
        models.QueryRequest(query=[0.0, 2.0, 0.0, 0.0], using="", limit=1)])
    assert [h.id for h in batch[0].points] == [2]
    # Any other name is refused, naming it; so is a second vector.
    for call in (
        lambda: client.query_points("named", query=[1.0, 0, 0, 0], using="image"),
        lambda: client.upsert("named", points=[
            models.PointStruct(id=4, vector={"image": [1.0, 0, 0, 0]})]),
        lambda: client.create_collection("two", vectors_config={
            "image": models.VectorParams(size=DIM, distance=models.Distance.DOT),
            "text": models.VectorParams(size=DIM, distance=models.Distance.DOT)}),
    ):
        with pytest.raises(UnexpectedResponse) as err:
            call()
        assert err.value.status_code == 400
        assert "image" in str(err.value.content)


def test_a_collection_whose_one_vector_is_named(client, vesta_url):
    # Qdrant's named vectors, one per collection: created, written, queried,
    # retrieved and described by that name.
    client.create_collection("pics", vectors_config={
        "image": models.VectorParams(size=DIM, distance=models.Distance.DOT)})
    vectors = client.get_collection("pics").config.params.vectors
    assert isinstance(vectors, dict) and vectors["image"].size == DIM
    assert vectors["image"].distance == models.Distance.DOT
    client.upsert("pics", points=[
        models.PointStruct(id=1, vector={"image": [1.0, 0.0, 0.0, 0.0]}, payload={"k": 1}),
        models.PointStruct(id=2, vector={"image": [0.0, 1.0, 0.0, 0.0]})])
    client.upsert("pics", points=models.Batch(ids=[3], vectors={"image": [[0.0, 0.0, 1.0, 0.0]]}))
    hits = client.query_points("pics", query=[0.0, 0.0, 2.0, 0.0], using="image", limit=1,
                               with_vectors=True).points
    assert [h.id for h in hits] == [3]
    assert hits[0].vector == {"image": [0.0, 0.0, 1.0, 0.0]}
    batch = client.query_batch_points("pics", requests=[
        models.QueryRequest(query=[0.0, 2.0, 0.0, 0.0], using="image", limit=1)])
    assert [h.id for h in batch[0].points] == [2]
    records = client.retrieve("pics", ids=[1], with_vectors=True)
    assert records[0].vector == {"image": [1.0, 0.0, 0.0, 0.0]}
    page, _ = client.scroll("pics", limit=1, with_vectors=True)
    assert page[0].vector == {"image": [1.0, 0.0, 0.0, 0.0]}
    r = httpx.post(f"{vesta_url}/collections/pics/points/search",
                   json={"vector": {"name": "image", "vector": [2.0, 0, 0, 0]}, "limit": 1})
    assert [h["id"] for h in r.json()["result"]] == [1]
    # The default vector's name "" and any other are refused, naming both.
    for call in (
        lambda: client.query_points("pics", query=[1.0, 0, 0, 0], using="text"),
        lambda: client.query_points("pics", query=[1.0, 0, 0, 0], using=""),
        lambda: client.upsert("pics", points=[
            models.PointStruct(id=4, vector={"text": [1.0, 0, 0, 0]})]),
    ):
        with pytest.raises(UnexpectedResponse) as err:
            call()
        assert err.value.status_code == 400
        assert 'is named "image"' in json.loads(err.value.content)["status"]["error"]


def points_on_a_line(client, name, payload=lambda i: None):
    """Collection `name` (Dot) with points 0..9 at (i, 1, 0, 0): under the
    query (1, 0, 0, 0) they rank 9, 8, ..., 0."""
    client.create_collection(name, vectors_config=models.VectorParams(
        size=DIM, distance=models.Distance.DOT))
    client.upsert(name, points=[
        models.PointStruct(id=i, vector=[float(i), 1.0, 0.0, 0.0], payload=payload(i))
        for i in range(10)])


def test_query_by_point_id_and_recommendations(client):
    # Search by a stored point's vector, and Qdrant's recommendation query
    # (average_vector); the example points are never answers.
    points_on_a_line(client, "reco")
    hits = client.query_points("reco", query=9, limit=2).points
    assert [h.id for h in hits] == [8, 7]
    hits = client.query_points("reco", query=models.NearestQuery(nearest=9), limit=1).points
    assert [h.id for h in hits] == [8]
    hits = client.query_points("reco", query=models.RecommendQuery(
        recommend=models.RecommendInput(positive=[5])), limit=2).points
    assert [h.id for h in hits] == [9, 8]
    hits = client.query_points("reco", query=models.RecommendQuery(
        recommend=models.RecommendInput(positive=[5], negative=[[20.0, 0.0, 0.0, 0.0]],
                                        strategy=models.RecommendStrategy.AVERAGE_VECTOR)),
        limit=2).points
    assert [h.id for h in hits] == [0, 1]
    with pytest.raises(UnexpectedResponse) as err:
        client.query_points("reco", query=77)
    assert err.value.status_code == 404
    with pytest.raises(UnexpectedResponse) as err:
        client.query_points("reco", query=models.RecommendQuery(
            recommend=models.RecommendInput(positive=[5],
                                            strategy=models.RecommendStrategy.BEST_SCORE)))
    assert err.value.status_code == 400
    assert "best_score" in json.loads(err.value.content)["status"]["error"]


def test_query_points_groups(client):
    # Chunks of documents grouped by their document, best document first.
    points_on_a_line(client, "chunks", payload=lambda i: {"doc": f"d{i % 3}", "n": i})
    result = client.query_points_groups("chunks", query=[1.0, 0.0, 0.0, 0.0], group_by="doc",
                                        limit=2, group_size=2, with_payload=["n"])
    assert [(g.id, [h.id for h in g.hits]) for g in result.groups] == [
        ("d0", [9, 6]), ("d2", [8, 5])]
    assert result.groups[0].hits[0].payload == {"n": 9}


def test_query_points_with_maximal_marginal_relevance(client, vesta_url):
    client.create_collection("mmr", vectors_config=models.VectorParams(
        size=DIM, distance=models.Distance.COSINE))
    client.upsert("mmr", points=[
        models.PointStruct(id=1, vector=[1.0, 0.0, 0.0, 0.0]),
        models.PointStruct(id=2, vector=[0.99, 0.05, 0.0, 0.0]),  # near 1
        models.PointStruct(id=3, vector=[0.6, 0.8, 0.0, 0.0]),
        models.PointStruct(id=4, vector=[0.0, 0.0, 1.0, 0.0])])
    query = [0.9, 0.2, 0.4, 0.0]

    def mmr(diversity, candidates, limit=2, **kw):
        return client.query_points("mmr", query=models.NearestQuery(
            nearest=query, mmr=models.Mmr(diversity=diversity, candidates_limit=candidates)),
            limit=limit, **kw).points

    assert [p.id for p in mmr(0.0, 4)] == [2, 1]  # relevance alone: the nearest
    picked = mmr(0.5, 4)
    assert [p.id for p in picked] == [2, 4]  # 4 differs most from 2
    assert picked[1].score == pytest.approx(0.398, abs=2e-3)  # the query's score
    assert [p.id for p in mmr(0.5, 3)] == [2, 3]  # 4 is not among the 3 nearest
    assert [p.id for p in mmr(0.5, None)] == [2, 1]  # candidates = limit: order only
    with_vectors = mmr(0.5, 4, with_vectors=True)
    assert with_vectors[0].vector == pytest.approx([0.9987, 0.0504, 0.0, 0.0], abs=1e-3)
    assert mmr(0.5, 4)[0].vector is None
    assert [p.id for p in mmr(0.9, 4, score_threshold=0.5)] == [2, 3]  # 4 is below it
    for mmr_json, field in (({"diversity": 1.5}, "query.mmr.diversity"),
                            ({"candidates_limit": -1}, "query.mmr.candidates_limit"),
                            ({"candidates_limit": 5000}, "query.mmr.candidates_limit"),
                            ("many", "query.mmr")):
        r = httpx.post(f"{vesta_url}/collections/mmr/points/query",
                       json={"query": {"nearest": query, "mmr": mmr_json}, "limit": 2})
        assert r.status_code == 400, r.text
        assert field in r.json()["status"]["error"]


def test_payload_index_create_info_filter_delete(client):
    client.create_collection("idx", vectors_config=models.VectorParams(size=2, distance=models.Distance.DOT))
    client.upsert("idx", points=[
        models.PointStruct(id=i, vector=[float(i), 1.0], payload={"city": ["Paris", "Rome"][i % 2], "n": i})
        for i in range(20)])
    client.create_payload_index("idx", field_name="city", field_schema=models.PayloadSchemaType.KEYWORD)
    client.create_payload_index("idx", field_name="n", field_schema=models.PayloadSchemaType.INTEGER)
    schema = client.get_collection("idx").payload_schema
    assert schema["city"].data_type == models.PayloadSchemaType.KEYWORD
    assert schema["n"].points == 20
    hits = client.query_points("idx", query=[1.0, 0.0], limit=3, query_filter=models.Filter(must=[
        models.FieldCondition(key="city", match=models.MatchValue(value="Rome")),
        models.FieldCondition(key="n", range=models.Range(lt=10)),
    ])).points
    assert [h.id for h in hits] == [9, 7, 5]
    client.delete_payload_index("idx", field_name="city")
    assert "city" not in client.get_collection("idx").payload_schema


def test_query_batch_points(client):
    make_collection(client)
    seed(client)
    responses = client.query_batch_points("docs", requests=[
        models.QueryRequest(query=[1.0, 0.0, 0.0, 0.5], limit=1),
        models.QueryRequest(query=[1.0, 1.0, 0.0, 0.5], limit=2,
                            filter=models.Filter(must_not=[
                                models.FieldCondition(key="group", match=models.MatchValue(value="g1"))])),
    ])
    assert [p.id for p in responses[0].points] == [0]
    assert [p.id for p in responses[1].points] == [18, 17]


def test_scroll_with_pagination(client):
    make_collection(client)
    seed(client, n=25)
    seen, offset = [], None
    while True:
        records, offset = client.scroll("docs", limit=7, offset=offset,
                                        scroll_filter=models.Filter(should=[
                                            models.FieldCondition(key="group", match=models.MatchAny(any=["g0", "g2"]))]))
        seen += [r.id for r in records]
        if offset is None:
            break
    assert seen == [i for i in range(25) if i % 3 != 1]


def test_count_and_delete_by_filter_and_ids(client):
    make_collection(client)
    seed(client)
    odd = models.Filter(must=[models.FieldCondition(key="even", match=models.MatchValue(value=False))])
    assert client.count("docs", count_filter=odd).count == 10
    client.delete("docs", points_selector=models.FilterSelector(filter=odd))
    assert client.count("docs").count == 10
    client.delete("docs", points_selector=models.PointIdsList(points=[0, 2]))
    assert client.count("docs").count == 8


def test_payload_updates(client):
    make_collection(client)
    seed(client, n=4)
    client.set_payload("docs", payload={"color": "red"}, points=[1])
    assert client.retrieve("docs", ids=[1])[0].payload == {
        "n": 1, "even": False, "group": "g1", "color": "red"}
    client.overwrite_payload("docs", payload={"only": True}, points=[1])
    assert client.retrieve("docs", ids=[1])[0].payload == {"only": True}
    client.delete_payload("docs", keys=["group"], points=models.Filter(must=[
        models.FieldCondition(key="n", range=models.Range(lte=2))]))
    assert "group" not in client.retrieve("docs", ids=[0])[0].payload
    assert client.retrieve("docs", ids=[3])[0].payload["group"] == "g0"
    client.clear_payload("docs", points_selector=models.PointIdsList(points=[3]))
    assert client.retrieve("docs", ids=[3])[0].payload == {}


def test_errors_surface_as_http_errors(client):
    make_collection(client)
    with pytest.raises(UnexpectedResponse) as err:
        client.upsert("docs", points=[models.PointStruct(id=1, vector=[1.0, 2.0])])
    assert err.value.status_code == 400
    assert b"expected 4" in err.value.content
    with pytest.raises(UnexpectedResponse) as err:
        client.query_points("missing", query=[1.0, 0, 0, 0])
    assert err.value.status_code == 404
    with pytest.raises(UnexpectedResponse) as err:
        client.query_points("docs", query=[1.0, 0, 0, 0], limit=5000)
    assert err.value.status_code == 400
    assert b"limit must be at most 1024" in err.value.content


def alias_pairs(response):
    return sorted((a.alias_name, a.collection_name) for a in response.aliases)


def test_aliases_create_rename_delete_and_list(client):
    make_collection(client, "v1")
    make_collection(client, "v2")
    assert client.update_collection_aliases(change_aliases_operations=[
        models.CreateAliasOperation(create_alias=models.CreateAlias(
            collection_name="v1", alias_name="live")),
        models.CreateAliasOperation(create_alias=models.CreateAlias(
            collection_name="v2", alias_name="next")),
    ])
    assert alias_pairs(client.get_aliases()) == [("live", "v1"), ("next", "v2")]
    assert alias_pairs(client.get_collection_aliases("v1")) == [("live", "v1")]
    client.update_collection_aliases(change_aliases_operations=[
        models.RenameAliasOperation(rename_alias=models.RenameAlias(
            old_alias_name="live", new_alias_name="prod")),
        models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name="next")),
    ])
    assert alias_pairs(client.get_aliases()) == [("prod", "v1")]
    assert alias_pairs(client.get_collection_aliases("v2")) == []
    client.delete_collection("v1")
    assert alias_pairs(client.get_aliases()) == []


def test_query_and_upsert_through_an_alias_and_swap_it(client):
    make_collection(client, "v1")
    make_collection(client, "v2")
    seed(client, "v1", n=5)
    client.upsert("v2", points=[models.PointStruct(id=100, vector=[1.0, 0.0, 0.0, 0.5])])
    client.update_collection_aliases(change_aliases_operations=[
        models.CreateAliasOperation(create_alias=models.CreateAlias(
            collection_name="v1", alias_name="docs_live"))])
    assert [p.id for p in client.query_points("docs_live", query=[1.0, 0.0, 0.0, 0.5],
                                              limit=1).points] == [0]
    client.upsert("docs_live", points=[models.PointStruct(id=7, vector=[0.0, 1.0, 0.0, 0.0])])
    assert client.count("v1").count == 6
    # The swap: delete + create in one request.
    client.update_collection_aliases(change_aliases_operations=[
        models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name="docs_live")),
        models.CreateAliasOperation(create_alias=models.CreateAlias(
            collection_name="v2", alias_name="docs_live")),
    ])
    assert [p.id for p in client.query_points("docs_live", query=[1.0, 0.0, 0.0, 0.5],
                                              limit=1).points] == [100]
    assert client.count("docs_live").count == 1


def test_alias_errors_apply_nothing(client):
    make_collection(client, "v1")
    with pytest.raises(UnexpectedResponse) as err:
        client.update_collection_aliases(change_aliases_operations=[
            models.CreateAliasOperation(create_alias=models.CreateAlias(
                collection_name="v1", alias_name="live")),
            models.CreateAliasOperation(create_alias=models.CreateAlias(
                collection_name="missing", alias_name="other")),
        ])
    assert err.value.status_code == 404
    assert b"actions[1].create_alias.collection_name" in err.value.content
    assert client.get_aliases().aliases == []
    with pytest.raises(UnexpectedResponse) as err:
        client.update_collection_aliases(change_aliases_operations=[
            models.CreateAliasOperation(create_alias=models.CreateAlias(
                collection_name="v1", alias_name="v1"))])
    assert err.value.status_code == 409


def test_with_payload_selects_fields(client):
    make_collection(client)
    client.upsert("docs", points=[
        models.PointStruct(id=i, vector=[1.0, i / 4, 0.0, 0.5],
                           payload={"a": i, "b": "x", "meta": {"lang": "no", "src": "web"}})
        for i in range(3)
    ])
    query = [1.0, 0.0, 0.0, 0.5]
    points = client.query_points("docs", query=query, limit=3, with_payload=["a"]).points
    assert [p.payload for p in points] == [{"a": 0}, {"a": 1}, {"a": 2}]
    include = models.PayloadSelectorInclude(include=["a", "meta.lang"])
    points = client.query_points("docs", query=query, limit=1, with_payload=include).points
    assert points[0].payload == {"a": 0, "meta": {"lang": "no"}}
    exclude = models.PayloadSelectorExclude(exclude=["meta", "b"])
    records, _ = client.scroll("docs", limit=3, with_payload=exclude)
    assert [r.payload for r in records] == [{"a": 0}, {"a": 1}, {"a": 2}]
    records = client.retrieve("docs", ids=[2], with_payload=["meta.src"])
    assert records[0].payload == {"meta": {"src": "web"}}
    responses = client.query_batch_points("docs", requests=[
        models.QueryRequest(query=query, limit=1, with_payload=["b"]),
        models.QueryRequest(query=query, limit=1, with_payload=False),
    ])
    assert responses[0].points[0].payload == {"b": "x"}
    assert responses[1].points[0].payload is None


# The client warns that the key travels over plain HTTP (loopback here).
@pytest.mark.filterwarnings("ignore:Api key is used with an insecure connection")
def test_api_keys(vesta_keyed_url):
    def connect(api_key):
        return QdrantClient(url=vesta_keyed_url, api_key=api_key, https=False, prefer_grpc=False,
                            timeout=30, check_compatibility=False)

    admin, reader = connect(API_KEY), connect(READ_ONLY_API_KEY)
    try:
        make_collection(admin)
        seed(admin, n=5)
        assert reader.count("docs").count == 5
        hits = reader.query_points("docs", query=[1.0, 0.0, 0.0, 0.5], limit=1).points
        assert [p.id for p in hits] == [0]
        assert [r.id for r in reader.retrieve("docs", ids=[1, 2])] == [1, 2]
        with pytest.raises(UnexpectedResponse) as err:
            reader.upsert("docs", points=[models.PointStruct(id=9, vector=[1.0, 0, 0, 0])])
        assert err.value.status_code == 403
        with pytest.raises(UnexpectedResponse) as err:
            reader.delete_collection("docs")
        assert err.value.status_code == 403
        for bad in (connect("wrong-key"), QdrantClient(url=vesta_keyed_url, prefer_grpc=False,
                                                       check_compatibility=False)):
            with pytest.raises(UnexpectedResponse) as err:
                bad.get_collections()
            assert err.value.status_code == 401
            bad.close()
        assert admin.count("docs").count == 5
        assert admin.delete_collection("docs")
    finally:
        admin.close()
        reader.close()


def test_https_with_the_server_certificate_verified(vesta_tls_url):
    import ssl

    from conftest import TLS_CERT
    assert vesta_tls_url.startswith("https://")
    c = QdrantClient(url=vesta_tls_url, prefer_grpc=False, timeout=30, check_compatibility=False,
                     verify=ssl.create_default_context(cafile=TLS_CERT))
    c.create_collection("tls", vectors_config=models.VectorParams(size=2, distance=models.Distance.DOT))
    c.upsert("tls", points=[models.PointStruct(id=1, vector=[1.0, 0.0])])
    assert [p.id for p in c.query_points("tls", query=[1.0, 0.0], limit=1).points] == [1]
    c.delete_collection("tls")
    c.close()
