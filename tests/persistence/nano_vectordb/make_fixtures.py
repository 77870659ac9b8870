"""Writes the fixtures of tests/persistence/nano_vectordb_import_test.cpp with
the real packages, in a throwaway virtual environment:

  python3 -m venv /tmp/nanovenv
  /tmp/nanovenv/bin/pip install nano-vectordb==0.0.4.3 lightrag-hku==1.5.7
  cd tests/persistence/nano_vectordb && /tmp/nanovenv/bin/python make_fixtures.py

  nano_vectordb_matrix.json   NanoVectorDB(6).upsert(...) then save(): 5 points
                              with string ids and an entity_name field; the
                              vectors are only in the float32 matrix, normalised.
  lightrag_vector_field.json  LightRAG's own NanoVectorDBStorage (namespace
                              "entities", what becomes vdb_entities.json) after
                              upsert() and index_done_callback(), with a fixed
                              fake embedding function (dim 8): each point also
                              has "vector", base64(zlib(float16 bytes)).
  expected.json               what a reader must get: the ids, the matrix rows
                              (float32, as numpy decodes them) and the vectors
                              LightRAG's get_vectors_by_ids() decodes from the
                              "vector" fields.

lightrag-hku is not in tests/compat/requirements.txt: with its dependencies
(pandas, google-genai, tiktoken, ...) it is over 300 MB."""

import asyncio
import json
import os
import shutil
import tempfile
from hashlib import md5

import numpy as np
from nano_vectordb import NanoVectorDB
from nano_vectordb.dbs import buffer_string_to_array

expected = {}

# 1. nano-vectordb alone.
names = ["Alan Turing", "Ada Lovelace", "Grace Hopper", "Édouard Lucas", "Emmy Noether"]
rng = np.random.default_rng(20240611)
embeddings = (rng.standard_normal((len(names), 6)) * 2).astype(np.float32)
ids = ["ent-" + md5(n.encode()).hexdigest() for n in names]
if os.path.exists("nano_vectordb_matrix.json"):
    os.remove("nano_vectordb_matrix.json")
plain = NanoVectorDB(6, storage_file="nano_vectordb_matrix.json")
plain.upsert([{"__id__": i, "__vector__": e, "entity_name": n}
              for i, e, n in zip(ids, embeddings, names)])
plain.save()
with open("nano_vectordb_matrix.json", encoding="utf-8") as f:
    saved = json.load(f)
expected["nano_vectordb_matrix"] = {
    "dim": 6, "ids": ids, "entity_names": names,
    "vectors": buffer_string_to_array(saved["matrix"]).reshape(-1, 6).astype(float).tolist()}

# 2. LightRAG 1.5.7's storage class, as LightRAG runs it.
from lightrag.kg.nano_vector_db_impl import NanoVectorDBStorage  # noqa: E402
from lightrag.kg.shared_storage import initialize_share_data  # noqa: E402
from lightrag.utils import EmbeddingFunc  # noqa: E402

DIM = 8


async def fake_embedding(texts, **_):
    # A fixed vector per text (its number), not normalised, as some models give.
    return np.array([np.random.default_rng(int(t.split()[0][1:])).standard_normal(DIM) * 3
                     for t in texts], dtype=np.float32)


async def write_lightrag():
    work = tempfile.mkdtemp()
    initialize_share_data()
    storage = NanoVectorDBStorage(
        namespace="entities", workspace="",
        global_config={"working_dir": work, "embedding_batch_num": 10,
                       "vector_db_storage_cls_kwargs": {"cosine_better_than_threshold": 0.2}},
        embedding_func=EmbeddingFunc(embedding_dim=DIM, func=fake_embedding),
        meta_fields={"entity_name", "source_id", "content", "file_path"})
    await storage.initialize()
    lr_ids = [f"ent-{md5(str(i).encode()).hexdigest()}" for i in range(4)]
    await storage.upsert({lr_ids[i]: {"entity_name": f"E{i}", "content": f"E{i} is entity {i}",
                                       "source_id": "chunk-1", "file_path": "notes.txt"}
                          for i in range(4)})
    await storage.index_done_callback()
    vectors = await storage.get_vectors_by_ids(lr_ids)
    shutil.copy(os.path.join(work, "vdb_entities.json"), "lightrag_vector_field.json")
    shutil.rmtree(work)
    expected["lightrag_vector_field"] = {
        "dim": DIM, "ids": lr_ids, "entity_names": [f"E{i}" for i in range(4)],
        "vectors": [vectors[i] for i in lr_ids]}


asyncio.run(write_lightrag())
with open("expected.json", "w", encoding="utf-8") as f:
    json.dump(expected, f, ensure_ascii=False, indent=1)
