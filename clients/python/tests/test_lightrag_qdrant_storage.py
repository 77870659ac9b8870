"""LightRAG's own Qdrant vector storage (lightrag-hku's QdrantVectorDBStorage,
unchanged, through the official qdrant-client it depends on) pointed at Vesta
with QDRANT_URL: a user of LightRAG with Qdrant can switch to Vesta without
our adapter. The same knowledge graph, queries and deletion as
test_lightrag_pipeline.py, offline."""

import asyncio

import pytest

pytest.importorskip("lightrag", reason="lightrag-hku is not installed "
                    "(clients/python/requirements-test.txt pins it)")
from lightrag import LightRAG
from lightrag.utils import compute_mdhash_id

from lightrag_support import THRESHOLD, CountingEmbedder, char_tokenizer
from test_lightrag_pipeline import KG, check_retrieval_context, no_llm, retrieval_context


@pytest.fixture(autouse=True)
def clean(client):
    yield


def test_lightrags_qdrant_storage_inserts_queries_and_deletes_through_vesta(
        client, server, tmp_path, monkeypatch):
    monkeypatch.setenv("QDRANT_URL", server.url)

    async def go():
        rag = LightRAG(
            working_dir=str(tmp_path), workspace="qd",
            embedding_func=CountingEmbedder().func(), llm_model_func=no_llm,
            tokenizer=char_tokenizer(), vector_storage="QdrantVectorDBStorage",
            vector_db_storage_cls_kwargs={"cosine_better_than_threshold": THRESHOLD})
        await rag.initialize_storages()
        try:
            await rag.ainsert_custom_kg(KG)
            names = sorted(client.list_collections())
            naive, local = await retrieval_context(rag)
            deleted = await rag.adelete_by_entity("Alice")
            alice = await rag.entities_vdb.get_by_id(compute_mdhash_id("Alice", prefix="ent-"))
            bob = await rag.entities_vdb.get_by_id(compute_mdhash_id("Bob", prefix="ent-"))
        finally:
            await rag.finalize_storages()
        return names, naive, local, deleted, alice, bob

    names, naive, local, deleted, alice, bob = asyncio.run(go())
    assert any("entities" in n for n in names), names
    check_retrieval_context(naive, local)
    assert deleted.status == "success"
    assert alice is None
    assert bob is not None and bob["entity_name"] == "Bob"
