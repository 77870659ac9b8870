"""What the LightRAG tests share: a deterministic local embedding function
(bag of words; no model, no network), a tokenizer that needs no downloaded
encoding (LightRAG's default, tiktoken, fetches its files from the internet
on first use), and a factory for storages."""

from __future__ import annotations

import re
import threading

import numpy as np
from lightrag.utils import EmbeddingFunc, Tokenizer

from vesta_client.lightrag import VestaVectorDBStorage

DIM = 512
THRESHOLD = 0.2
ENTITY_FIELDS = {"entity_name", "source_id", "content", "file_path"}
RELATION_FIELDS = {"src_id", "tgt_id", "source_id", "content", "file_path"}
CHUNK_FIELDS = {"full_doc_id", "content", "file_path"}


# Each distinct word gets its own dimension, in the order words are first
# seen: unlike hashing words into DIM buckets, two words never share one, so
# a score is exactly the texts' bag-of-words cosine and the tests can say
# which texts match (texts with no word in common score 0).
_WORD_POSITIONS: dict[str, int] = {}
_WORD_POSITIONS_LOCK = threading.Lock()


def _word_position(word: str) -> int:
    with _WORD_POSITIONS_LOCK:
        if word not in _WORD_POSITIONS:
            if len(_WORD_POSITIONS) == DIM:
                raise RuntimeError(f"the tests use more than DIM = {DIM} distinct words")
            _WORD_POSITIONS[word] = len(_WORD_POSITIONS)
        return _WORD_POSITIONS[word]


def embed_words(texts: list[str]) -> np.ndarray:
    """Word counts: texts sharing words are near, texts sharing none are
    orthogonal."""
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    for i, text in enumerate(texts):
        for word in re.findall(r"\w+", text.lower()):
            out[i, _word_position(word)] += 1
    return out


class CountingEmbedder:
    """The embedding function, counting the texts it embedded; `fail_next`
    makes the next call raise (a model outage)."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.fail_next = False

    async def __call__(self, texts: list[str], **kwargs) -> np.ndarray:
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("embedding model unavailable")
        self.texts.extend(texts)
        return embed_words(texts)

    def func(self) -> EmbeddingFunc:
        return EmbeddingFunc(embedding_dim=DIM, func=self, model_name="bag-of-words")


class CharTokenizer:
    """One token per character: enough for LightRAG's token budgets."""

    def encode(self, content: str) -> list[int]:
        return [ord(c) for c in content]

    def decode(self, tokens: list[int]) -> str:
        return "".join(chr(t) for t in tokens)


def char_tokenizer() -> Tokenizer:
    return Tokenizer("chars", CharTokenizer())


def make_storage(url: str, namespace: str, *, workspace: str = "ws",
                 embedder: CountingEmbedder | None = None, meta_fields: set[str] | None = None,
                 dim: int = DIM, **kwargs) -> VestaVectorDBStorage:
    """A storage as LightRAG builds one (namespace, workspace, global_config,
    embedding_func, meta_fields), against the server at `url`."""
    embedder = embedder or CountingEmbedder()
    fields = meta_fields if meta_fields is not None else {
        "entities": ENTITY_FIELDS, "relationships": RELATION_FIELDS,
        "chunks": CHUNK_FIELDS}.get(namespace, set())
    cls_kwargs = {"cosine_better_than_threshold": THRESHOLD, "vesta_url": url, **kwargs}
    func = embedder.func()
    if dim != DIM:
        func = EmbeddingFunc(embedding_dim=dim, func=func.func, model_name="other")
    return VestaVectorDBStorage(
        namespace=namespace, workspace=workspace,
        global_config={"embedding_batch_num": 4, "vector_db_storage_cls_kwargs": cls_kwargs},
        embedding_func=func, meta_fields=set(fields))
