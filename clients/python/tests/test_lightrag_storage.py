"""VestaVectorDBStorage against lightrag-hku's BaseVectorStorage contract and
a real `vesta serve`: buffering until index_done_callback, read-your-writes,
cosine threshold, entity and relation deletes with LightRAG's ids, workspace
isolation, drop, and the failure paths."""

import asyncio
import inspect

import numpy as np
import pytest

pytest.importorskip("lightrag", reason="lightrag-hku is not installed "
                    "(clients/python/requirements-test.txt pins it)")
from lightrag.base import BaseVectorStorage, StorageNameSpace
from lightrag.utils import compute_mdhash_id

from lightrag_support import DIM, THRESHOLD, CountingEmbedder, embed_words, make_storage
from conftest import API_KEY
from vesta_client import Point, Unauthorized
from vesta_client.lightrag import VestaVectorDBStorage, collection_name


def run(coro):
    return asyncio.run(coro)


@pytest.fixture(autouse=True)
def clean(client):
    """Every test here leaves the file-storage server without collections."""
    yield


def entity(name, description, source="chunk-1"):
    return compute_mdhash_id(name, prefix="ent-"), {
        "entity_name": name, "content": f"{name}\n{description}", "source_id": source,
        "file_path": "notes.txt", "entity_type": "thing"}  # entity_type is not a meta field


def relation(src, tgt, description):
    return compute_mdhash_id(src + tgt, prefix="rel-"), {
        "src_id": src, "tgt_id": tgt, "content": f"{src}\t{tgt}\n{description}",
        "source_id": "chunk-1", "file_path": "notes.txt", "weight": 1.0}


ENTITIES = dict([entity("Alice", "an engineer who writes compilers"),
                 entity("Bob", "a baker who bakes bread in Lyon"),
                 entity("Acme", "a company that builds compilers")])


def test_every_abstract_method_is_implemented():
    abstract = (set(BaseVectorStorage.__abstractmethods__)
                | set(StorageNameSpace.__abstractmethods__))
    assert abstract >= {"query", "upsert", "delete", "delete_entity", "delete_entity_relation",
                        "get_by_id", "get_by_ids", "get_vectors_by_ids", "index_done_callback",
                        "drop"}
    assert not VestaVectorDBStorage.__abstractmethods__
    for name in abstract | {"initialize", "finalize", "drop_pending_index_ops"}:
        method = VestaVectorDBStorage.__dict__[name]
        assert inspect.iscoroutinefunction(method), name
        base = getattr(BaseVectorStorage, name)
        assert list(inspect.signature(method).parameters) == \
            list(inspect.signature(base).parameters), name


def test_collection_names_by_workspace_and_namespace():
    assert collection_name("lightrag", "", "entities") == "lightrag_entities"
    assert collection_name("lightrag", "team-1", "chunks") == "lightrag_team-1_chunks"
    a = collection_name("lightrag", "a b", "chunks")
    b = collection_name("lightrag", "a_b", "chunks")
    assert a != b and a.startswith("lightrag_a_b_chunks-")
    long = collection_name("lightrag", "w" * 400, "chunks")
    assert len(long) == 255 and long != collection_name("lightrag", "w" * 401, "chunks")


def test_initialize_creates_a_cosine_collection_per_workspace_namespace(client, server):
    async def go():
        for workspace in ("", "ws"):
            storage = make_storage(server.url, "entities", workspace=workspace)
            await storage.initialize()
            await storage.initialize()  # again: nothing changes
            await storage.finalize()
    run(go())
    assert sorted(client.list_collections()) == ["lightrag_entities", "lightrag_ws_entities"]
    info = client.get_collection("lightrag_ws_entities")
    assert (info.dim, info.distance.value) == (DIM, "Cosine")


def test_upserts_are_buffered_until_index_done_and_embedded_once(client, server):
    embedder = CountingEmbedder()

    async def go():
        storage = make_storage(server.url, "entities", embedder=embedder)
        await storage.initialize()
        await storage.upsert(dict(list(ENTITIES.items())[:2]))
        await storage.upsert(ENTITIES)  # Alice and Bob again
        alice_id = compute_mdhash_id("Alice", prefix="ent-")
        buffered = await storage.get_by_id(alice_id)
        before = (client.count(storage.collection_name), await storage.query("Alice", top_k=5))
        embedded_before_flush = len(embedder.texts)
        await storage.index_done_callback()
        await storage.index_done_callback()  # nothing left: no request, no embedding
        after = await storage.query("engineer compilers", top_k=5)
        await storage.finalize()
        return storage, alice_id, buffered, before, embedded_before_flush, after

    storage, alice_id, buffered, before, embedded_before_flush, after = run(go())
    assert buffered["id"] == alice_id and buffered["entity_name"] == "Alice"
    assert "entity_type" not in buffered  # only meta fields are kept
    assert isinstance(buffered["created_at"], int)
    # Before the flush the server holds nothing and only the query was embedded.
    assert before == (0, [])
    assert embedded_before_flush == 1
    # Each record embedded once, however often it was upserted; plus 2 queries.
    assert sorted(embedder.texts[1:-1]) == sorted(f["content"] for f in ENTITIES.values())
    assert client.count(storage.collection_name) == 3
    assert [r["entity_name"] for r in after] == ["Alice", "Acme"]
    top = after[0]
    assert top["id"] == alice_id and top["content"] == ENTITIES[alice_id]["content"]
    assert top["created_at"] == top["__created_at__"] and top["distance"] >= THRESHOLD
    q = embed_words(["engineer compilers"])[0]
    v = embed_words([ENTITIES[alice_id]["content"]])[0]
    assert top["distance"] == pytest.approx(q @ v / np.linalg.norm(q) / np.linalg.norm(v),
                                            abs=2e-3)


def test_query_keeps_only_hits_at_or_above_the_threshold(server):
    embedder = CountingEmbedder()

    async def go():
        storage = make_storage(server.url, "entities", embedder=embedder)
        await storage.initialize()
        await storage.upsert(ENTITIES)
        await storage.index_done_callback()
        unrelated = await storage.query("quantum chromodynamics", top_k=10)
        everything = await storage.query("x", top_k=10, query_embedding=embed_words(
            ["Alice Bob Acme"])[0].tolist())
        await storage.finalize()
        return unrelated, everything

    unrelated, everything = run(go())
    assert unrelated == []
    assert sorted(r["entity_name"] for r in everything) == ["Acme", "Alice", "Bob"]
    assert all(r["distance"] >= THRESHOLD for r in everything)
    # query_embedding given: the query text is not embedded.
    assert "x" not in embedder.texts


def test_get_by_ids_and_vectors_read_buffered_and_stored_records(server):
    embedder = CountingEmbedder()
    ids = list(ENTITIES)

    async def go():
        storage = make_storage(server.url, "entities", embedder=embedder)
        await storage.initialize()
        await storage.upsert({ids[0]: ENTITIES[ids[0]]})
        await storage.index_done_callback()
        await storage.upsert({ids[1]: ENTITIES[ids[1]]})  # buffered only
        records = await storage.get_by_ids([ids[1], "ent-missing", ids[0]])
        vectors = await storage.get_vectors_by_ids([ids[0], ids[1], "ent-missing"])
        embedded_lazily = len(embedder.texts)
        await storage.index_done_callback()  # reuses the lazily embedded vector
        embedded_after_flush = len(embedder.texts)
        stored = await storage.get_vectors_by_ids([ids[1]])
        await storage.finalize()
        return records, vectors, embedded_lazily, embedded_after_flush, stored

    records, vectors, embedded_lazily, embedded_after_flush, stored = run(go())
    assert [r and r["entity_name"] for r in records] == ["Bob", None, "Alice"]
    assert sorted(vectors) == sorted(ids[:2])
    # Stored Cosine vectors come back normalised and rounded to float16.
    want = embed_words([ENTITIES[ids[0]]["content"]])[0]
    np.testing.assert_allclose(vectors[ids[0]], want / np.linalg.norm(want), atol=1e-3)
    # The buffered one is the embedding function's own output.
    np.testing.assert_array_equal(vectors[ids[1]], embed_words([ENTITIES[ids[1]]["content"]])[0])
    assert embedded_lazily == embedded_after_flush == 2
    want = embed_words([ENTITIES[ids[1]]["content"]])[0]
    np.testing.assert_allclose(stored[ids[1]], want / np.linalg.norm(want), atol=1e-3)


def test_delete_and_delete_entity_are_buffered_and_use_lightrags_ids(client, server):
    async def go():
        storage = make_storage(server.url, "entities")
        await storage.initialize()
        await storage.upsert(ENTITIES)
        await storage.index_done_callback()
        bob = compute_mdhash_id("Bob", prefix="ent-")
        await storage.delete_entity("Alice")
        await storage.delete([bob])
        hidden = await storage.get_by_ids([compute_mdhash_id("Alice", prefix="ent-"), bob])
        vectors = await storage.get_vectors_by_ids([bob])
        on_server = client.count(storage.collection_name)
        await storage.index_done_callback()
        left = [r.id for r in client.scroll_all(storage.collection_name)]
        # An upsert after a buffered delete wins over it.
        await storage.delete([bob])
        await storage.upsert({bob: ENTITIES[bob]})
        await storage.index_done_callback()
        final = sorted(r.payload["entity_name"] for r in client.scroll_all(storage.collection_name))
        await storage.finalize()
        return hidden, vectors, on_server, left, final

    hidden, vectors, on_server, left, final = run(go())
    assert hidden == [None, None] and vectors == {}
    assert on_server == 3
    assert left == [compute_mdhash_id("Acme", prefix="ent-")]
    assert final == ["Acme", "Bob"]


def test_delete_entity_relation_removes_both_directions_at_once(client, server):
    relations = dict([relation("Alice", "Acme", "works at"), relation("Bob", "Alice", "knows"),
                      relation("Bob", "Acme", "supplies")])

    async def go():
        storage = make_storage(server.url, "relationships")
        await storage.initialize()
        await storage.upsert(relations)
        await storage.index_done_callback()
        pending_id, pending = relation("Acme", "Alice", "employs")
        await storage.upsert({pending_id: pending})
        await storage.delete_entity_relation("Alice")
        on_server = sorted((r.payload["src_id"], r.payload["tgt_id"])
                           for r in client.scroll_all(storage.collection_name))
        buffered = await storage.get_by_id(pending_id)
        await storage.index_done_callback()
        after_flush = client.count(storage.collection_name)
        await storage.finalize()
        return on_server, buffered, after_flush

    on_server, buffered, after_flush = run(go())
    assert on_server == [("Bob", "Acme")]
    assert buffered is None  # the buffered Acme -> Alice relation was dropped too
    assert after_flush == 1


def test_workspaces_are_isolated_and_drop_empties_only_its_own(client, server):
    async def go():
        one = make_storage(server.url, "chunks", workspace="one")
        two = make_storage(server.url, "chunks", workspace="two")
        for storage, text in ((one, "red apples grow here"), (two, "red cars drive there")):
            await storage.initialize()
            await storage.upsert({"chunk-a": {"content": text, "full_doc_id": "doc-1",
                                              "file_path": "f.txt"}})
            await storage.index_done_callback()
        seen = [(await s.query("red", top_k=5))[0]["content"] for s in (one, two)]
        same_id = [(await s.get_by_id("chunk-a"))["content"] for s in (one, two)]
        dropped = await one.drop()
        counts = [client.count(s.collection_name) for s in (one, two)]
        still_there = client.collection_exists(one.collection_name)
        for s in (one, two):
            await s.finalize()
        return seen, same_id, dropped, counts, still_there

    seen, same_id, dropped, counts, still_there = run(go())
    assert seen == same_id == ["red apples grow here", "red cars drive there"]
    assert dropped == {"status": "success", "message": "data dropped"}
    assert counts == [0, 1] and still_there


def test_drop_pending_index_ops_discards_the_buffers(client, server):
    async def go():
        storage = make_storage(server.url, "entities")
        await storage.initialize()
        await storage.upsert({"ent-keep": ENTITIES[compute_mdhash_id("Acme", prefix="ent-")]})
        await storage.index_done_callback()
        await storage.upsert(ENTITIES)
        await storage.delete(["ent-keep"])
        await storage.drop_pending_index_ops()
        await storage.index_done_callback()
        ids = [r.id for r in client.scroll_all(storage.collection_name)]
        await storage.finalize()
        return ids

    assert run(go()) == ["ent-keep"]


def test_a_failed_flush_raises_and_keeps_the_buffers_for_the_next(client, server):
    embedder = CountingEmbedder()

    async def go():
        storage = make_storage(server.url, "entities", embedder=embedder)
        await storage.initialize()
        await storage.upsert(ENTITIES)
        embedder.fail_next = True
        with pytest.raises(RuntimeError, match="embedding model unavailable"):
            await storage.index_done_callback()
        count_after_failure = client.count(storage.collection_name)
        await storage.finalize()  # flushes, then closes
        return storage, count_after_failure

    storage, count_after_failure = run(go())
    assert count_after_failure == 0
    assert client.count(storage.collection_name) == 3


def test_records_written_as_vesta_import_writes_them_are_read(client, server):
    # `vesta import --format lightrag-nano` keeps NanoVectorDB's fields as the
    # payload, __created_at__ and __write_seq__ included, in lightrag_<ns>.
    client.create_collection("lightrag_entities", dim=DIM)
    client.upsert("lightrag_entities", [Point("ent-1", embed_words(["Alice engineer"])[0], {
        "entity_name": "Alice", "content": "Alice engineer", "source_id": "chunk-1",
        "file_path": "a.txt", "__created_at__": 1700000000, "__write_seq__": 12345})])

    async def go():
        storage = make_storage(server.url, "entities", workspace="")
        await storage.initialize()
        record = await storage.get_by_id("ent-1")
        hits = await storage.query("Alice", top_k=3)
        await storage.finalize()
        return record, hits

    record, hits = run(go())
    assert record == {"entity_name": "Alice", "content": "Alice engineer", "source_id": "chunk-1",
                      "file_path": "a.txt", "__created_at__": 1700000000, "id": "ent-1",
                      "created_at": 1700000000}
    assert [h["id"] for h in hits] == ["ent-1"]


def test_configuration_errors(client, server):
    with pytest.raises(ValueError, match="cosine_better_than_threshold must be specified"):
        make_storage(server.url, "entities", cosine_better_than_threshold=None)
    client.create_collection("lightrag_ws_chunks", dim=DIM + 1)

    async def go():
        storage = make_storage(server.url, "chunks")
        try:
            await storage.initialize()
        finally:
            await storage.finalize()

    with pytest.raises(ValueError, match=f"size {DIM + 1}, but the embedding function makes {DIM}"):
        run(go())

    async def uninitialized():
        storage = make_storage(server.url, "chunks")
        await storage.upsert({"chunk-1": {"content": "x"}})
        await storage.index_done_callback()

    with pytest.raises(RuntimeError, match="not initialized"):
        run(uninitialized())


def test_api_key_from_kwargs_or_environment(keyed_client, keyed_server, monkeypatch):
    monkeypatch.delenv("VESTA_API_KEY", raising=False)
    async def count_after_upsert(**kwargs):
        storage = make_storage(keyed_server.url, "chunks", **kwargs)
        await storage.initialize()
        await storage.upsert({"chunk-1": {"content": "hello world"}})
        await storage.index_done_callback()
        n = keyed_client.count(storage.collection_name)
        await storage.finalize()
        return n

    with pytest.raises(Unauthorized):
        run(count_after_upsert())
    assert run(count_after_upsert(vesta_api_key=API_KEY)) == 1
    monkeypatch.setenv("VESTA_API_KEY", API_KEY)
    monkeypatch.setenv("VESTA_URL", keyed_server.url)
    assert run(count_after_upsert(vesta_url=None)) == 1
