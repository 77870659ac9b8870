"""LangChain's official Qdrant vector store (langchain-qdrant, pinned in
requirements.txt) against a running Vesta, unchanged: it creates collections
with Qdrant's named form of the default vector ("" ), writes and queries
through that name, filters on metadata, deletes and fetches by id, and runs
maximal marginal relevance on the server (query API "mmr"); with
vector_name=..., the same through a named vector."""

import uuid

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_qdrant import QdrantVectorStore
from qdrant_client import models

# Texts with hand-made embeddings: two near-duplicates about cats, one about
# dogs, one about birds; queries are embedded with the same table.
VECTORS = {
    "cats purr": [1.0, 0.0, 0.0, 0.0],
    "cats purr loudly": [0.99, 0.05, 0.0, 0.0],
    "dogs bark": [0.6, 0.8, 0.0, 0.0],
    "birds sing": [0.0, 0.0, 1.0, 0.0],
}
# A query that is none of the texts: relevance 0.904 (cats purr loudly),
# 0.896 (cats purr), 0.697 (dogs), 0.398 (birds).
QUERIES = {"a cat?": [0.9, 0.2, 0.4, 0.0]}


class TableEmbeddings(Embeddings):
    def embed_documents(self, texts):
        # LangChain embeds "dummy_text" to learn the dimension.
        return [list(VECTORS.get(t, [0.5] * 4)) for t in texts]

    def embed_query(self, text):
        return list(VECTORS.get(text) or QUERIES[text])


@pytest.fixture
def store(vesta_url, client):
    texts = list(VECTORS)
    metadatas = [{"animal": t.split()[0], "n": i} for i, t in enumerate(texts)]
    return QdrantVectorStore.from_texts(texts, TableEmbeddings(), metadatas=metadatas,
                                        url=vesta_url, collection_name="lc",
                                        force_recreate=True)


def test_the_collection_is_made_with_the_default_vector_name(store, client):
    info = client.get_collection("lc")
    assert info.config.params.vectors.size == 4
    assert info.config.params.vectors.distance == models.Distance.COSINE
    assert client.count("lc").count == 4


def test_similarity_search_with_scores_and_metadata(store):
    hits = store.similarity_search_with_score("cats purr", k=2)
    assert [d.page_content for d, _ in hits] == ["cats purr", "cats purr loudly"]
    assert hits[0][1] == pytest.approx(1.0, abs=1e-3)  # float16 rows
    assert hits[0][0].metadata["animal"] == "cats"
    assert hits[0][0].metadata["_collection_name"] == "lc"


def test_metadata_filter(store):
    only_dogs = models.Filter(must=[models.FieldCondition(
        key="metadata.animal", match=models.MatchValue(value="dogs"))])
    docs = store.similarity_search("cats purr", k=3, filter=only_dogs)
    assert [d.page_content for d in docs] == ["dogs bark"]


def test_add_get_and_delete_by_id(store):
    VECTORS["fish swim"] = [0.0, 0.0, 0.0, 1.0]
    try:
        ids = store.add_documents([Document(page_content="fish swim", metadata={"n": 9})],
                                  ids=[str(uuid.uuid4())])
        assert [d.page_content for d in store.get_by_ids(ids)] == ["fish swim"]
        assert store.similarity_search("fish swim", k=1)[0].metadata["n"] == 9
        assert store.delete(ids=ids)
        assert store.get_by_ids(ids) == []
    finally:
        del VECTORS["fish swim"]


def test_score_threshold_retriever(store):
    retriever = store.as_retriever(search_type="similarity_score_threshold",
                                   search_kwargs={"score_threshold": 0.9, "k": 4})
    assert [d.page_content for d in retriever.invoke("cats purr")] == [
        "cats purr", "cats purr loudly"]


def test_maximal_marginal_relevance_runs_on_the_server(store):
    # LangChain passes lambda_mult as Qdrant's "diversity". With none, the
    # nearest two; with some, the near-duplicate of the first gives way to
    # the least similar to it (0.5 * 0.398 - 0.5 * 0.0 beats dogs' 0.028).
    plain = store.max_marginal_relevance_search("a cat?", k=2, fetch_k=4, lambda_mult=0.0)
    assert [d.page_content for d in plain] == ["cats purr loudly", "cats purr"]
    scored = store.max_marginal_relevance_search_with_score_by_vector(
        QUERIES["a cat?"], k=2, fetch_k=4, lambda_mult=0.5)
    assert [d.page_content for d, _ in scored] == ["cats purr loudly", "birds sing"]
    # Scores stay the query's (cosine 0.398), not MMR's (0.199).
    assert scored[1][1] == pytest.approx(0.398, abs=2e-3)
    # Candidates are the nearest fetch_k: with 3, birds is not among them.
    near = store.max_marginal_relevance_search("a cat?", k=2, fetch_k=3, lambda_mult=0.5)
    assert [d.page_content for d in near] == ["cats purr loudly", "dogs bark"]


def test_from_existing_collection(store, vesta_url):
    again = QdrantVectorStore.from_existing_collection(embedding=TableEmbeddings(),
                                                       collection_name="lc", url=vesta_url)
    assert again.similarity_search("birds sing", k=1)[0].page_content == "birds sing"


def test_a_named_vector_store_round_trip(vesta_url, client):
    # QdrantVectorStore(vector_name=...) names the collection's vector and
    # writes, searches and reopens the store through that name.
    texts = list(VECTORS)
    store = QdrantVectorStore.from_texts(texts, TableEmbeddings(), url=vesta_url,
                                         collection_name="lc_named", vector_name="dense",
                                         force_recreate=True)
    vectors = client.get_collection("lc_named").config.params.vectors
    assert set(vectors) == {"dense"} and vectors["dense"].size == 4
    hits = store.similarity_search_with_score("dogs bark", k=1)
    assert [d.page_content for d, _ in hits] == ["dogs bark"]
    mmr = store.max_marginal_relevance_search("a cat?", k=2, fetch_k=4, lambda_mult=0.3)
    assert [d.page_content for d in mmr][0] == "cats purr loudly"
    # Opening the existing collection checks its vector's name and size.
    again = QdrantVectorStore.from_existing_collection(
        embedding=TableEmbeddings(), collection_name="lc_named", url=vesta_url,
        vector_name="dense")
    assert [d.page_content for d in again.similarity_search("birds sing", k=1)] == ["birds sing"]
