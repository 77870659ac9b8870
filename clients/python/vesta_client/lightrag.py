"""LightRAG vector storage on Vesta: `VestaVectorDBStorage` implements
lightrag-hku's `BaseVectorStorage` (checked against 1.5.7) over `VestaClient`.

Configuration, in `LightRAG(vector_db_storage_cls_kwargs={...})` (then the
environment, then the default):

| key | environment | default | meaning |
|---|---|---|---|
| `cosine_better_than_threshold` | — | LightRAG's | hits scoring below it are dropped (required) |
| `vesta_url` | `VESTA_URL` | `http://127.0.0.1:6333` | the server |
| `vesta_api_key` | `VESTA_API_KEY` | none | sent in the `api-key` header |
| `vesta_timeout_s` | — | 30 | per request |
| `vesta_collection_prefix` | — | `lightrag` | first part of the collection names |
| `vesta_upsert_batch_points` | — | 256 | points per upsert request |

Storage model. One Vesta collection per workspace and namespace,
`<prefix>_<workspace>_<namespace>` (`lightrag_entities` without a workspace,
as `vesta import --format lightrag-nano` names them in docs/import.md, so an
imported NanoVectorDB store is served as is), Cosine, of the embedding
function's dimension; a name may also be an alias (re-embed into a new
collection, then swap the alias). Workspaces never share a collection, so
no query needs a workspace filter and `drop` empties one collection. A
point's id is LightRAG's own string id (`ent-…`, `rel-…`, `chunk-…`); its
payload is the record's `meta_fields` plus `__created_at__` (Unix seconds),
the keys NanoVectorDBStorage keeps.

Write buffering, as LightRAG 1.5's Qdrant, Milvus and NanoVectorDB storages
do: `upsert`, `delete` and `delete_entity` only record the change; the
embedding function runs, and the server sees the writes, at
`index_done_callback` (or `finalize`), once per id however often it was
upserted. `get_by_id`, `get_by_ids` and `get_vectors_by_ids` see the buffered
changes (read-your-writes); `query` sees only what was flushed.
`delete_entity_relation` is applied at once (one delete by filter on
`src_id` / `tgt_id`). A failed flush raises and keeps the buffers for the
next try; `drop_pending_index_ops` discards them.

Thread-safety: one instance belongs to one event loop; its buffers are its
own (other processes see the writes once flushed). Server calls run in
worker threads (`asyncio.to_thread`), so they never block the loop."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any, final

import numpy as np
from lightrag.base import BaseVectorStorage
from lightrag.constants import DEFAULT_QUERY_PRIORITY
from lightrag.utils import compute_mdhash_id, logger

from .client import DEFAULT_URL, VestaClient
from .errors import Conflict
from .models import Distance, Filter, match_value

# LightRAG's entity vector ids: compute_mdhash_id(entity_name, prefix="ent-").
ENTITY_PREFIX = "ent-"
# The payload key of a record's upsert time, as NanoVectorDBStorage (and so
# `vesta import`) keeps it; reads answer it as `created_at`.
CREATED_AT_FIELD = "__created_at__"
# Payload keys that LightRAG's NanoVectorDB files carry but reads leave out.
_HIDDEN_FIELDS = frozenset({"__write_seq__"})
DELETE_BATCH_POINTS = 1000
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
_MAX_NAME_BYTES = 255


def collection_name(prefix: str, workspace: str, namespace: str) -> str:
    """The collection of one workspace's namespace: `<prefix>_<namespace>`,
    or `<prefix>_<workspace>_<namespace>`. Characters Vesta does not allow
    in names (anything but letters, digits, `_`, `-`, `.`) become `_`, and
    then a hash of the original name is appended so that two workspaces
    never map to one collection; so is a name over 255 bytes, shortened."""
    parts = [prefix] + ([workspace] if workspace else []) + [namespace]
    name = "_".join(parts)
    safe = _NAME_UNSAFE.sub("_", name)
    if safe != name or len(safe) > _MAX_NAME_BYTES:
        digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:12]
        safe = f"{safe[:_MAX_NAME_BYTES - 13]}-{digest}"
    return safe


def _canonical_id(point_id: Any) -> str:
    """The id as the server echoes it: UUID-shaped strings canonicalised."""
    text = str(point_id)
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return text


@dataclass
class _PendingDoc:
    """A buffered upsert: the payload to store, the text to embed, and the
    vector once embedded (by a flush, or lazily by get_vectors_by_ids)."""

    payload: dict[str, Any]
    content: str
    vector: np.ndarray | None = None


@final
@dataclass
class VestaVectorDBStorage(BaseVectorStorage):
    """LightRAG's vector storage for one namespace (entities, relationships or
    chunks) of one workspace, in one Vesta collection (see the module's
    documentation for the configuration and the buffering contract)."""

    def __post_init__(self) -> None:
        self._validate_embedding_func()
        kwargs = self.global_config.get("vector_db_storage_cls_kwargs", {}) or {}
        threshold = kwargs.get("cosine_better_than_threshold")
        if threshold is None:
            raise ValueError("cosine_better_than_threshold must be specified in "
                             "vector_db_storage_cls_kwargs")
        self.cosine_better_than_threshold = float(threshold)
        self.url = kwargs.get("vesta_url") or os.environ.get("VESTA_URL") or DEFAULT_URL
        self._api_key = kwargs.get("vesta_api_key") or os.environ.get("VESTA_API_KEY") or None
        self._timeout_s = float(kwargs.get("vesta_timeout_s", 30.0))
        self._upsert_batch_points = int(kwargs.get("vesta_upsert_batch_points", 256))
        prefix = kwargs.get("vesta_collection_prefix", "lightrag")
        self.collection_name = collection_name(prefix, self.workspace, self.namespace)
        self._embedding_batch = max(1, int(self.global_config.get("embedding_batch_num", 32)))
        self._client: VestaClient | None = None
        self._pending_docs: dict[str, _PendingDoc] = {}
        self._pending_deletes: set[str] = set()
        # Guards the two buffers and orders a flush against buffered changes.
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------ lifecycle

    async def initialize(self) -> None:
        """Connects and creates the collection when it does not exist; an
        existing one (or alias) must have the embedding function's dimension."""
        if self._client is None:
            self._client = VestaClient(self.url, api_key=self._api_key, timeout=self._timeout_s,
                                       upsert_batch_size=self._upsert_batch_points)
        await asyncio.to_thread(self._ensure_collection, self._client)

    def _ensure_collection(self, client: VestaClient) -> None:
        dim = self.embedding_func.embedding_dim
        name = self.collection_name
        if not client.collection_exists(name):
            try:
                client.create_collection(name, dim, Distance.COSINE)
                logger.info(f"[{self.workspace}] Vesta collection '{name}' created "
                            f"({dim}d, Cosine)")
            except Conflict:
                pass  # another worker created it meanwhile; checked below
        info = client.get_collection(name)
        if info.dim != dim:
            raise ValueError(f"Vesta collection '{name}' holds vectors of size {info.dim}, but the "
                             f"embedding function makes {dim}-dimensional ones")
        if info.distance != Distance.COSINE:
            logger.warning(f"[{self.workspace}] Vesta collection '{name}' uses "
                           f"{info.distance.value}, not Cosine: cosine_better_than_threshold "
                           "compares its scores")

    async def finalize(self) -> None:
        """Flushes what is buffered, then closes the connection; raises when
        the flush failed (its writes are then lost)."""
        try:
            await self.index_done_callback()
        finally:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _require_client(self) -> VestaClient:
        if self._client is None:
            raise RuntimeError(f"VestaVectorDBStorage '{self.collection_name}' is not "
                               "initialized (await initialize() first)")
        return self._client

    # ------------------------------------------------------------ writes

    async def upsert(self, data: dict[str, dict[str, Any]]) -> None:
        """Buffers the records (id -> fields, `content` embedded at flush)."""
        if not data:
            return
        now = int(time.time())
        docs = {
            doc_id: _PendingDoc(
                payload={CREATED_AT_FIELD: now,
                         **{k: v for k, v in fields.items() if k in self.meta_fields}},
                content=fields["content"])
            for doc_id, fields in data.items()
        }
        async with self._lock:
            for doc_id, doc in docs.items():
                self._pending_deletes.discard(doc_id)
                # A new doc object: a vector cached for an older revision is dropped.
                self._pending_docs[doc_id] = doc

    async def delete(self, ids: list[str]) -> None:
        """Buffers the deletion of `ids` (a buffered upsert of one is dropped)."""
        if not ids:
            return
        async with self._lock:
            for doc_id in ids:
                self._pending_docs.pop(doc_id, None)
                self._pending_deletes.add(doc_id)

    async def delete_entity(self, entity_name: str) -> None:
        """Buffers the deletion of the entity's vector, id
        `compute_mdhash_id(entity_name, prefix="ent-")`."""
        await self.delete([compute_mdhash_id(entity_name, prefix=ENTITY_PREFIX)])

    async def delete_entity_relation(self, entity_name: str) -> None:
        """Deletes, at once, every relation whose `src_id` or `tgt_id` is
        `entity_name`, and drops buffered upserts of such relations (only
        after the server's delete succeeded, so a failure changes nothing)."""
        async with self._lock:
            if self._client is not None:
                relation_filter = Filter(should=[match_value("src_id", entity_name),
                                                 match_value("tgt_id", entity_name)])
                await asyncio.to_thread(self._client.delete, self.collection_name,
                                        filter=relation_filter)
            for doc_id in [doc_id for doc_id, doc in self._pending_docs.items()
                           if entity_name in (doc.payload.get("src_id"),
                                              doc.payload.get("tgt_id"))]:
                del self._pending_docs[doc_id]

    async def index_done_callback(self) -> None:
        """Embeds the buffered records that have no vector yet (in batches of
        `embedding_batch_num`, concurrently), upserts them and applies the
        buffered deletions. On failure it raises and keeps the buffers."""
        async with self._lock:
            if not self._pending_docs and not self._pending_deletes:
                return
            client = self._require_client()
            await self._embed_locked([(doc_id, doc) for doc_id, doc in self._pending_docs.items()
                                      if doc.vector is None])
            if self._pending_docs:
                ids = list(self._pending_docs)
                docs = [self._pending_docs[i] for i in ids]
                vectors = np.stack([doc.vector for doc in docs])
                await asyncio.to_thread(client.upsert_batch, self.collection_name, ids, vectors,
                                        [doc.payload for doc in docs])
            deletes = sorted(self._pending_deletes)
            for start in range(0, len(deletes), DELETE_BATCH_POINTS):
                await asyncio.to_thread(client.delete, self.collection_name,
                                        deletes[start:start + DELETE_BATCH_POINTS])
            self._pending_docs.clear()
            self._pending_deletes.clear()

    async def _embed_locked(self, docs: list[tuple[str, _PendingDoc]]) -> None:
        if not docs:
            return
        contents = [doc.content for _, doc in docs]
        batches = [contents[i:i + self._embedding_batch]
                   for i in range(0, len(contents), self._embedding_batch)]
        results = await asyncio.gather(*[self.embedding_func(batch, context="document")
                                         for batch in batches])
        embeddings = np.concatenate([np.asarray(r, dtype=np.float32).reshape(len(b), -1)
                                     for r, b in zip(results, batches)])
        if len(embeddings) != len(docs):
            raise RuntimeError(f"[{self.workspace}] the embedding function returned "
                               f"{len(embeddings)} vectors for {len(docs)} texts")
        for (_, doc), vector in zip(docs, embeddings):
            doc.vector = vector

    async def drop_pending_index_ops(self) -> None:
        """Discards the buffered upserts and deletions (an aborting batch)."""
        async with self._lock:
            self._pending_docs.clear()
            self._pending_deletes.clear()

    async def drop(self) -> dict[str, str]:
        """Deletes every point of this workspace's namespace (the collection,
        its aliases and payload indexes stay) and the buffers."""
        try:
            async with self._lock:
                self._pending_docs.clear()
                self._pending_deletes.clear()
                client = self._require_client()
                await asyncio.to_thread(client.delete, self.collection_name, filter={})
            logger.info(f"[{self.workspace}] dropped every point of Vesta collection "
                        f"'{self.collection_name}'")
            return {"status": "success", "message": "data dropped"}
        except Exception as e:  # the contract: report, don't raise
            logger.error(f"[{self.workspace}] error dropping Vesta collection "
                         f"'{self.collection_name}': {e}")
            return {"status": "error", "message": str(e)}

    # ------------------------------------------------------------ reads

    async def query(self, query: str, top_k: int,
                    query_embedding: list[float] | None = None) -> list[dict[str, Any]]:
        """The `top_k` flushed records nearest to `query` (or to
        `query_embedding` when given) scoring at least
        `cosine_better_than_threshold`, best first, each with its fields,
        `id`, `distance` (the cosine similarity) and `created_at`."""
        if query_embedding is not None:
            embedding = query_embedding
        else:
            embedding = (await self.embedding_func([query], context="query",
                                                   _priority=DEFAULT_QUERY_PRIORITY))[0]
        client = self._require_client()
        hits = await asyncio.to_thread(
            client.search, self.collection_name, np.asarray(embedding, dtype=np.float32),
            limit=top_k, score_threshold=self.cosine_better_than_threshold, with_payload=True)
        return [{**self._record(hit.id, hit.payload), "distance": hit.score} for hit in hits]

    @staticmethod
    def _record(doc_id: Any, payload: dict[str, Any] | None) -> dict[str, Any]:
        fields = {k: v for k, v in (payload or {}).items() if k not in _HIDDEN_FIELDS}
        return {**fields, "id": doc_id, "created_at": fields.get(CREATED_AT_FIELD)}

    async def get_by_id(self, id: str) -> dict[str, Any] | None:
        """The record's fields with `id` and `created_at` (no vector), or None."""
        return (await self.get_by_ids([id]))[0]

    async def get_by_ids(self, ids: list[str]) -> list[dict[str, Any] | None]:
        """As `get_by_id` for each id, in order, None where there is none."""
        if not ids:
            return []
        found: dict[str, dict[str, Any] | None] = {}
        remaining: list[str] = []
        async with self._lock:
            for doc_id in ids:
                if doc_id in self._pending_deletes:
                    found[doc_id] = None
                elif doc_id in self._pending_docs:
                    found[doc_id] = self._record(doc_id, self._pending_docs[doc_id].payload)
                else:
                    remaining.append(doc_id)
        if remaining:
            records = await asyncio.to_thread(self._require_client().retrieve,
                                              self.collection_name, remaining, with_payload=True)
            by_id = {_canonical_id(r.id): r for r in records}
            for doc_id in remaining:
                record = by_id.get(_canonical_id(doc_id))
                found[doc_id] = None if record is None else self._record(doc_id, record.payload)
        return [found.get(doc_id) for doc_id in ids]

    async def get_vectors_by_ids(self, ids: list[str]) -> dict[str, list[float]]:
        """`{id: vector}` for the ids that exist; buffered records are
        embedded now (and the vector kept for the flush). Vectors read from
        the server are as it stores them: normalised, rounded to float16."""
        if not ids:
            return {}
        vectors: dict[str, list[float]] = {}
        remaining: list[str] = []
        async with self._lock:
            to_embed = []
            for doc_id in ids:
                if doc_id in self._pending_deletes:
                    continue
                doc = self._pending_docs.get(doc_id)
                if doc is None:
                    remaining.append(doc_id)
                elif doc.vector is None:
                    to_embed.append((doc_id, doc))
                else:
                    vectors[doc_id] = doc.vector.tolist()
            await self._embed_locked(to_embed)
            for doc_id, doc in to_embed:
                vectors[doc_id] = doc.vector.tolist()
        if remaining:
            records = await asyncio.to_thread(self._require_client().retrieve,
                                              self.collection_name, remaining,
                                              with_payload=False, with_vector=True)
            by_id = {_canonical_id(r.id): r for r in records}
            for doc_id in remaining:
                record = by_id.get(_canonical_id(doc_id))
                if record is not None and record.vector is not None:
                    vectors[doc_id] = record.vector
        return vectors


def register_with_lightrag() -> None:
    """Makes `LightRAG(vector_storage="VestaVectorDBStorage")` find this
    class: LightRAG resolves storage names through tables in `lightrag.kg`
    (`STORAGES`, `STORAGE_IMPLEMENTATIONS`, `STORAGE_ENV_REQUIREMENTS`),
    which list only its own backends. Calling it again does nothing."""
    from lightrag import kg

    name = VestaVectorDBStorage.__name__
    kg.STORAGES[name] = __name__
    implementations = kg.STORAGE_IMPLEMENTATIONS["VECTOR_STORAGE"]["implementations"]
    if name not in implementations:
        implementations.append(name)
    kg.STORAGE_ENV_REQUIREMENTS.setdefault(name, [])
