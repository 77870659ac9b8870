"""A real LightRAG instance with VestaVectorDBStorage as its vector storage:
a knowledge graph inserted without an LLM (ainsert_custom_kg), retrieval
context from naive and local queries (only_need_context, keywords given, so
no LLM is called), an entity deleted with its relations, and two workspaces
on one server. Offline: a bag-of-words embedder and a character tokenizer
replace the model and tiktoken."""

import asyncio

import pytest

pytest.importorskip("lightrag", reason="lightrag-hku is not installed "
                    "(clients/python/requirements-test.txt pins it)")
from lightrag import LightRAG, QueryParam
from lightrag.utils import compute_mdhash_id

from lightrag_support import THRESHOLD, CountingEmbedder, char_tokenizer
from vesta_client.lightrag import register_with_lightrag

KG = {
    "chunks": [
        {"content": "Alice writes compilers at Acme in Paris.", "source_id": "doc-1",
         "file_path": "team.txt"},
        {"content": "Bob bakes bread in Lyon.", "source_id": "doc-2", "file_path": "town.txt"},
    ],
    "entities": [
        {"entity_name": "Alice", "entity_type": "person",
         "description": "Alice is an engineer who writes compilers", "source_id": "doc-1"},
        {"entity_name": "Acme", "entity_type": "organization",
         "description": "Acme is a company in Paris that builds compilers", "source_id": "doc-1"},
        {"entity_name": "Bob", "entity_type": "person", "description": "Bob is a baker in Lyon",
         "source_id": "doc-2"},
    ],
    "relationships": [
        {"src_id": "Alice", "tgt_id": "Acme", "description": "Alice works at Acme",
         "keywords": "employment", "weight": 1.0, "source_id": "doc-1"},
    ],
}


async def no_llm(prompt, **kwargs):
    raise AssertionError("the test calls no LLM")


async def retrieval_context(rag):
    """The naive and local retrieval contexts for the KG above (keywords
    given, only the context asked for: no LLM is called)."""
    naive = await rag.aquery("Who writes compilers?", param=QueryParam(
        mode="naive", only_need_context=True, enable_rerank=False))
    local = await rag.aquery("Alice", param=QueryParam(
        mode="local", only_need_context=True, enable_rerank=False,
        ll_keywords=["Alice engineer"], hl_keywords=["employment"]))
    return naive, local


def check_retrieval_context(naive, local):
    assert "Alice writes compilers at Acme in Paris." in naive
    assert "Bob bakes bread" not in naive  # below the cosine threshold
    assert "Alice is an engineer who writes compilers" in local
    assert "Alice works at Acme" in local


def make_rag(url, working_dir, workspace):
    register_with_lightrag()
    return LightRAG(
        working_dir=str(working_dir), workspace=workspace,
        embedding_func=CountingEmbedder().func(), llm_model_func=no_llm,
        tokenizer=char_tokenizer(), vector_storage="VestaVectorDBStorage",
        vector_db_storage_cls_kwargs={"cosine_better_than_threshold": THRESHOLD,
                                      "vesta_url": url})


@pytest.fixture(autouse=True)
def clean(client):
    yield


def test_lightrag_inserts_queries_and_deletes_through_vesta(client, server, tmp_path):
    async def go():
        rag = make_rag(server.url, tmp_path, "team")
        await rag.initialize_storages()
        try:
            await rag.ainsert_custom_kg(KG)
            counts = {ns: client.count(f"lightrag_team_{ns}")
                      for ns in ("entities", "relationships", "chunks")}
            naive, local = await retrieval_context(rag)
            deleted = await rag.adelete_by_entity("Alice")
            alice = await rag.entities_vdb.get_by_id(compute_mdhash_id("Alice", prefix="ent-"))
            relations_left = client.count("lightrag_team_relationships")
            entities_left = sorted(r.payload["entity_name"]
                                   for r in client.scroll_all("lightrag_team_entities"))
        finally:
            await rag.finalize_storages()
        return counts, naive, local, deleted, alice, relations_left, entities_left

    counts, naive, local, deleted, alice, relations_left, entities_left = asyncio.run(go())
    assert counts == {"entities": 3, "relationships": 1, "chunks": 2}
    check_retrieval_context(naive, local)
    assert deleted.status == "success"
    assert alice is None and relations_left == 0
    assert entities_left == ["Acme", "Bob"]


def test_two_workspaces_on_one_server_see_only_their_own(client, server, tmp_path):
    async def go():
        first = make_rag(server.url, tmp_path / "a", "first")
        second = make_rag(server.url, tmp_path / "b", "second")
        await first.initialize_storages()
        await second.initialize_storages()
        try:
            await first.ainsert_custom_kg({"chunks": KG["chunks"][:1], "entities": [],
                                           "relationships": []})
            await second.ainsert_custom_kg({"chunks": KG["chunks"][1:], "entities": [],
                                            "relationships": []})
            answers = []
            for rag in (first, second):
                answers.append(await rag.aquery("compilers bread", param=QueryParam(
                    mode="naive", only_need_context=True, enable_rerank=False)))
        finally:
            await first.finalize_storages()
            await second.finalize_storages()
        return answers

    first, second = asyncio.run(go())
    assert "Alice writes compilers" in first and "Bob bakes bread" not in first
    assert "Bob bakes bread" in second and "Alice writes compilers" not in second
    assert sorted(n for n in client.list_collections() if n.endswith("_chunks")) == [
        "lightrag_first_chunks", "lightrag_second_chunks"]
