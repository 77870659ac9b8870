"""LlamaIndex's official Qdrant vector store (llama-index-vector-stores-qdrant,
pinned in requirements.txt) against a running Vesta, unchanged: it creates its
collection (dense only: one unnamed vector, which it then addresses by
Qdrant's name for it, ""), adds nodes with their metadata, queries with and
without metadata filters, fetches nodes by id, and deletes by document and by
node."""

from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores.types import (MetadataFilter, MetadataFilters,
                                                  VectorStoreQuery)
from llama_index.vector_stores.qdrant import QdrantVectorStore
from qdrant_client import models


def nodes():
    out = []
    for i in range(10):
        node = TextNode(text=f"chunk {i}", embedding=[1.0, i / 10, 0.0, 0.5],
                        metadata={"i": i, "parity": "even" if i % 2 == 0 else "odd"})
        node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=f"doc-{i % 3}")
        out.append(node)
    return out


def test_add_query_filter_get_and_delete(client):
    store = QdrantVectorStore(client=client, collection_name="li")
    chunks = nodes()
    assert len(store.add(chunks)) == 10
    assert client.count("li").count == 10
    # LlamaIndex made the collection itself: one unnamed Cosine vector.
    assert client.get_collection("li").config.params.vectors.size == 4

    query = [1.0, 0.9, 0.0, 0.5]
    result = store.query(VectorStoreQuery(query_embedding=query, similarity_top_k=3))
    assert [n.text for n in result.nodes] == ["chunk 9", "chunk 8", "chunk 7"]
    assert result.similarities[0] > result.similarities[1] > result.similarities[2]
    assert result.nodes[0].metadata["i"] == 9

    even = MetadataFilters(filters=[MetadataFilter(key="parity", value="even")])
    result = store.query(VectorStoreQuery(query_embedding=query, similarity_top_k=3,
                                          filters=even))
    assert [n.text for n in result.nodes] == ["chunk 8", "chunk 6", "chunk 4"]

    got = store.get_nodes(node_ids=[chunks[1].node_id, chunks[2].node_id])
    assert sorted(n.text for n in got) == ["chunk 1", "chunk 2"]

    store.delete("doc-0")  # chunks 0, 3, 6, 9
    assert client.count("li").count == 6
    store.delete_nodes([chunks[8].node_id])
    assert client.count("li").count == 5
    result = store.query(VectorStoreQuery(query_embedding=query, similarity_top_k=2))
    assert [n.text for n in result.nodes] == ["chunk 7", "chunk 5"]


def test_an_existing_unnamed_collection_is_used_as_it_is(client):
    client.create_collection("made", vectors_config=models.VectorParams(
        size=4, distance=models.Distance.DOT))
    store = QdrantVectorStore(client=client, collection_name="made")
    store.add(nodes()[:3])
    result = store.query(VectorStoreQuery(query_embedding=[0.0, 1.0, 0.0, 0.0],
                                          similarity_top_k=1))
    assert [n.text for n in result.nodes] == ["chunk 2"]
