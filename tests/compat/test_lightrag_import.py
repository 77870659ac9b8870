"""`vesta import --format lightrag-nano` against a real `vesta serve` (started by
conftest.py), with NanoVectorDB files written by the real nano-vectordb
package (pinned in requirements.txt), checked through the pinned qdrant-client.

LightRAG's files are NanoVectorDB files whose records carry more fields. The
LightRAG package itself is not installed here (with its dependencies it is
over 300 MB), so `write_nano_file(..., lightrag=True)` adds those fields the
way lightrag-hku 1.5.7 does in lightrag/kg/nano_vector_db_impl.py,
NanoVectorDBStorage.upsert() and _flush_pending_locked(), before handing the
records to the real NanoVectorDB.upsert() and save(). A file written by
LightRAG's own storage class is among the C++ test fixtures
(tests/persistence/nano_vectordb/)."""

import base64
import hashlib
import json
import os
import subprocess
import time
import urllib.request
import zlib

import numpy as np
import pytest
from conftest import API_KEY, ROOT
from nano_vectordb import NanoVectorDB
from qdrant_client import models

# LightRAG's meta_fields for its entities store (lightrag/lightrag.py).
ENTITY_FIELDS = ("entity_name", "source_id", "content", "file_path")


def vesta_binary():
    return os.environ.get("VESTA_BINARY", os.path.join(ROOT, "build", "app", "vesta"))


def run_import(url, path, collection, *args, env=None):
    return subprocess.run([vesta_binary(), "import", "--format", "lightrag-nano", str(path),
                           "--collection", collection, "--url", url, *args],
                          capture_output=True, text=True, timeout=120, env=env)


def entities(count, dim, seed):
    """LightRAG-like entities: ids "ent-<md5 of the name>", embeddings that are
    not normalised (as some models give)."""
    rng = np.random.default_rng(seed)
    names = [f"Entity {seed}-{i}" for i in range(count)]
    ids = ["ent-" + hashlib.md5(n.encode()).hexdigest() for n in names]
    embeddings = (rng.standard_normal((count, dim)) * 3).astype(np.float32)
    return ids, names, embeddings


def write_nano_file(path, dim, ids, names, embeddings, lightrag):
    db = NanoVectorDB(dim, storage_file=str(path))
    records = []
    for i, (point_id, name, embedding) in enumerate(zip(ids, names, embeddings)):
        record = {"__id__": point_id}
        if lightrag:
            record["__created_at__"] = int(time.time())
            record["__write_seq__"] = time.time_ns()
            values = {"entity_name": name, "source_id": f"chunk-{i % 7}",
                      "content": f"{name}\nA thing, number {i}.", "file_path": "notes.txt"}
            record.update({k: v for k, v in values.items() if k in ENTITY_FIELDS})
            record["vector"] = base64.b64encode(
                zlib.compress(embedding.astype(np.float16).tobytes())).decode("utf-8")
        else:
            record["entity_name"] = name
        record["__vector__"] = embedding
        records.append(record)
    if records:
        db.upsert(datas=records)
    db.save()
    return json.loads(path.read_text(encoding="utf-8"))


def test_lightrag_file_imports_with_payloads_and_searches_find_each_point(client, vesta_url,
                                                                        tmp_path):
    ids, names, embeddings = entities(300, 48, seed=1)
    path = tmp_path / "vdb_entities.json"
    saved = write_nano_file(path, 48, ids, names, embeddings, lightrag=True)
    assert set(saved) == {"embedding_dim", "data", "matrix"}
    assert "vector" in saved["data"][0] and "__vector__" not in saved["data"][0]

    run = run_import(vesta_url, path, "entities", "--batch-points", "128")
    assert run.returncode == 0, run.stderr
    assert "imported 128/300 points" in run.stderr
    assert "imported 256/300 points" in run.stderr
    assert "imported 300/300 points" in run.stderr
    assert run.stdout.startswith("imported 300 points from ")
    assert "(created, dimension 48, Cosine)" in run.stdout
    assert "\"vector\" field: 300, from the matrix: 0" in run.stdout

    info = client.get_collection("entities")
    assert info.config.params.vectors.size == 48
    assert info.config.params.vectors.distance == models.Distance.COSINE
    assert client.count("entities", exact=True).count == 300

    by_id = {r.id: r for r in client.retrieve("entities", ids=ids[:20], with_payload=True)}
    assert set(by_id) == set(ids[:20])  # string ids come back as they were
    for record in saved["data"][:20]:
        expected = {k: v for k, v in record.items() if k not in ("__id__", "vector")}
        assert by_id[record["__id__"]].payload == expected
        assert by_id[record["__id__"]].payload["entity_name"].startswith("Entity 1-")

    for i in range(0, 300, 23):
        hits = client.query_points("entities", query=embeddings[i].tolist(), limit=3).points
        assert hits[0].id == ids[i]
        assert hits[0].score == pytest.approx(1.0, abs=2e-3)
        assert hits[0].payload["content"].startswith(names[i])


@pytest.mark.parametrize("lightrag", [True, False], ids=["vector-field", "matrix-only"])
def test_vectors_come_from_the_vector_field_else_the_matrix(client, vesta_url, tmp_path,
                                                            lightrag):
    # Dot keeps vectors as sent, so what the server holds shows where they came from.
    ids, names, embeddings = entities(40, 16, seed=2)
    path = tmp_path / "vdb.json"
    write_nano_file(path, 16, ids, names, embeddings, lightrag=lightrag)
    run = run_import(vesta_url, path, "dot", "--distance", "Dot")
    assert run.returncode == 0, run.stderr
    assert f"from the matrix: {0 if lightrag else 40}" in run.stdout
    assert client.get_collection("dot").config.params.vectors.distance == models.Distance.DOT
    stored = {r.id: r.vector for r in client.retrieve("dot", ids=ids, with_vectors=True)}
    for point_id, embedding in zip(ids, embeddings):
        if lightrag:
            # LightRAG's float16 embedding, not normalised: exact.
            expected = embedding.astype(np.float16).astype(np.float32)
            assert np.array_equal(np.array(stored[point_id], dtype=np.float32), expected)
        else:
            # NanoVectorDB's matrix row: normalised, then rounded to float16 by the server.
            expected = embedding / np.linalg.norm(embedding)
            assert np.allclose(stored[point_id], expected, atol=1e-3)


def test_importing_into_an_existing_collection(client, vesta_url, tmp_path):
    ids, names, embeddings = entities(50, 8, seed=3)
    path = tmp_path / "vdb_chunks.json"
    write_nano_file(path, 8, ids, names, embeddings, lightrag=True)
    client.create_collection("chunks", vectors_config=models.VectorParams(
        size=8, distance=models.Distance.EUCLID))
    run = run_import(vesta_url, path, "chunks")
    assert run.returncode == 0, run.stderr
    assert "(existing, dimension 8, Euclid)" in run.stdout
    assert "exists with distance Euclid; --distance Cosine applies only" in run.stderr
    # Again: the same ids are replaced, not added.
    run = run_import(vesta_url, path, "chunks")
    assert run.returncode == 0, run.stderr
    assert client.count("chunks", exact=True).count == 50

    client.create_collection("small", vectors_config=models.VectorParams(
        size=4, distance=models.Distance.COSINE))
    run = run_import(vesta_url, path, "small")
    assert run.returncode == 1
    assert ("collection 'small' exists with vectors of size 4, but the file's vectors have 8 "
            "dimensions") in run.stderr
    assert client.count("small", exact=True).count == 0


def test_a_file_without_points_creates_an_empty_collection(client, vesta_url, tmp_path):
    path = tmp_path / "vdb_relationships.json"
    saved = write_nano_file(path, 1536, [], [], [], lightrag=True)
    assert saved == {"embedding_dim": 1536, "data": [], "matrix": ""}
    run = run_import(vesta_url, path, "relationships")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("imported 0 points")
    info = client.get_collection("relationships")
    assert info.config.params.vectors.size == 1536 and info.points_count == 0


def test_usage_and_file_errors(client, vesta_url, tmp_path):
    ids, names, embeddings = entities(10, 8, seed=4)
    path = tmp_path / "vdb.json"
    saved = write_nano_file(path, 8, ids, names, embeddings, lightrag=False)

    run = subprocess.run([vesta_binary(), "import", "--format", "jsonl", str(path),
                          "--collection", "c", "--url", vesta_url],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 2
    assert "unknown --format 'jsonl' (known: ndjson, binary, lightrag-nano)" in run.stderr
    run = subprocess.run([vesta_binary(), "import", "--format", "lightrag-nano", str(path)],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 2 and "--collection is required" in run.stderr
    run = subprocess.run([vesta_binary(), "import", "--help"], capture_output=True, text=True,
                         timeout=30)
    assert run.returncode == 0 and "lightrag-nano" in run.stdout and "--batch-points" in run.stdout
    run = subprocess.run([vesta_binary(), "--help"], capture_output=True, text=True, timeout=30)
    assert "vesta import --format FORMAT FILE --collection NAME" in run.stdout

    run = run_import(vesta_url, tmp_path / "missing.json", "c")
    assert run.returncode == 1 and "cannot open" in run.stderr

    # A matrix one row short; then a point without an id. Neither creates the collection.
    broken = dict(saved, matrix=base64.b64encode(
        base64.b64decode(saved["matrix"])[:-32]).decode())
    path.write_text(json.dumps(broken))
    run = run_import(vesta_url, path, "broken")
    assert run.returncode == 1
    assert "matrix holds 72 float32 values, expected 10 points x embedding_dim 8 = 80" in run.stderr
    broken = json.loads(json.dumps(saved))
    del broken["data"][7]["__id__"]
    path.write_text(json.dumps(broken))
    run = run_import(vesta_url, path, "broken")
    assert run.returncode == 1 and "data[7].__id__ is missing" in run.stderr
    assert "broken" not in {c.name for c in client.get_collections().collections}


def test_a_refusing_server_fails_with_its_message(vesta_keyed_url, tmp_path):
    ids, names, embeddings = entities(5, 8, seed=5)
    path = tmp_path / "vdb.json"
    write_nano_file(path, 8, ids, names, embeddings, lightrag=True)
    env = {k: v for k, v in os.environ.items() if k != "VESTA_API_KEY"}
    run = run_import(vesta_keyed_url, path, "keyed", env=env)
    assert run.returncode == 1 and "HTTP 401" in run.stderr
    run = run_import(vesta_keyed_url, path, "keyed", "--api-key", API_KEY, env=env)
    assert run.returncode == 0, run.stderr
    request = urllib.request.Request(f"{vesta_keyed_url}/collections/keyed", method="DELETE",
                                     headers={"api-key": API_KEY})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
