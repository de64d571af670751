"""The knowledge index: BM25 over Korean morphemes plus a Chroma vector index, fused.

Both article bodies and each of their `questions` are indexed as separate documents; results are
fused with reciprocal rank fusion and folded back to articles. The index is rebuilt only when the
articles or the embedding choice change (a fingerprint in the manifest).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")  # Chroma: no telemetry, ever

import bm25s
import chromadb
from chromadb.config import Settings as ChromaSettings
from langchain_chroma import Chroma

from assistant.core.settings import Settings
from knowledge.articles import Article, load_articles
from knowledge.embeddings import cached_embeddings
from knowledge.korean import morphemes

COLLECTION = "articles"
RRF_K = 60
# BM25's share in the fusion. Measured on knowledge/eval/questions.jsonl: recall@3 stays at
# 0.90–0.91 for any weight from 0.3 to 1.0 with e5 vectors; 0.5 sits in the middle of that plateau.
BM25_WEIGHT = 0.5


@dataclass(frozen=True)
class Doc:
    article_id: str
    kind: str  # body | question | title
    text: str


@dataclass(frozen=True)
class SearchHit:
    article: Article
    score: float  # fused rank score, for ordering
    confidence: float  # best cosine similarity of the query to one of the article's documents


def index_dir(settings: Settings) -> Path:
    return settings.index_dir


def fingerprint(settings: Settings) -> str:
    h = hashlib.sha256(settings.embeddings.encode())
    for p in sorted(settings.knowledge_dir.glob("*.md")):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def documents(articles: list[Article]) -> list[Doc]:
    docs = []
    for a in articles:
        docs.append(Doc(a.id, "body", f"{a.title}\n{a.body}"))
        docs.append(Doc(a.id, "title", a.title))
        docs.extend(Doc(a.id, "question", q) for q in a.questions)
    return docs


def chroma_client(settings: Settings) -> chromadb.ClientAPI:
    return chromadb.PersistentClient(path=str(settings.chroma_dir),
                                     settings=ChromaSettings(anonymized_telemetry=False, allow_reset=True))


def _vector_store(settings: Settings, client: chromadb.ClientAPI | None = None) -> Chroma:
    return Chroma(client=client or chroma_client(settings), collection_name=COLLECTION,
                  embedding_function=cached_embeddings(settings.embeddings, settings.var_dir),
                  collection_metadata={"hnsw:space": "cosine"})


def _add_vectors(store: Chroma, docs: list[Doc], progress=None, batch: int = 256) -> None:
    counters: dict[str, int] = {}
    ids = []
    for d in docs:  # ids are stable per article, so one article's documents can be replaced alone
        counters[d.article_id] = counters.get(d.article_id, 0) + 1
        ids.append(f"{d.article_id}:{counters[d.article_id]}")
    for start in range(0, len(docs), batch):
        chunk = docs[start:start + batch]
        store.add_texts([d.text for d in chunk],
                        metadatas=[{"article_id": d.article_id, "kind": d.kind} for d in chunk],
                        ids=ids[start:start + batch])
        if progress:
            progress(min(start + batch, len(docs)), len(docs))


def _write_lexical(settings: Settings, articles: list[Article], docs: list[Doc], target: Path) -> None:
    """BM25 over morphemes, the document table and the manifest. Rebuilt whole: it takes well under
    a second at the centre's scale, unlike the vectors."""
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    retriever = bm25s.BM25()
    retriever.index([morphemes(d.text) or ["_"] for d in docs], show_progress=False)
    retriever.save(str(tmp / "bm25"))
    (tmp / "docs.json").write_text(json.dumps([d.__dict__ for d in docs], ensure_ascii=False), encoding="utf-8")
    (tmp / "manifest.json").write_text(json.dumps(
        {"fingerprint": fingerprint(settings), "articles": len(articles), "documents": len(docs),
         "built_at": time.time()}), encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)


def build(settings: Settings, progress=None) -> int:
    """Rebuild the whole index; returns the number of documents indexed."""
    articles = load_articles(settings.knowledge_dir)
    docs = documents(articles)
    client = chroma_client(settings)
    try:
        client.delete_collection(COLLECTION)
    except Exception:  # chromadb raises different errors across versions when it does not exist
        pass
    _add_vectors(_vector_store(settings, client), docs, progress)
    _write_lexical(settings, articles, docs, index_dir(settings))
    return len(docs)


def reindex_article(settings: Settings, article_id: str) -> int:
    """After one article was edited or published: replace only its vectors; the lexical index is
    rebuilt (cheap). A draft or deleted article simply leaves the index."""
    articles = load_articles(settings.knowledge_dir)
    docs = documents(articles)
    store = _vector_store(settings)
    store.delete(where={"article_id": article_id})
    _add_vectors(store, [d for d in docs if d.article_id == article_id])
    _write_lexical(settings, articles, docs, index_dir(settings))
    return sum(1 for d in docs if d.article_id == article_id)


def read_manifest(directory: Path) -> dict | None:
    """An index folder's manifest, or None when it is missing or unreadable (then the index is rebuilt)."""
    try:
        return json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def manifest(settings: Settings) -> dict | None:
    return read_manifest(index_dir(settings))


def is_current(settings: Settings) -> bool:
    m = manifest(settings)
    return bool(m) and m.get("fingerprint") == fingerprint(settings)


class KnowledgeIndex:
    """Loaded once per process (the action server); `search` is cheap. `built_at` tells a
    long-running process when staff have published a change and it should load the index again."""

    def __init__(self, settings: Settings) -> None:
        m = manifest(settings)
        if m is None:
            raise FileNotFoundError("the knowledge index is missing: run `dasi kb reindex`")
        self.built_at = m.get("built_at")
        d = index_dir(settings)
        self.articles = {a.id: a for a in load_articles(settings.knowledge_dir)}
        self.docs = [Doc(**x) for x in json.loads((d / "docs.json").read_text(encoding="utf-8"))]
        self.bm25 = bm25s.BM25.load(str(d / "bm25"))
        self.embeddings = cached_embeddings(settings.embeddings, settings.var_dir)
        self.collection = chroma_client(settings).get_collection(COLLECTION)

    def warm_up(self) -> None:
        """Pay the first-query costs (Kiwi's model, Chroma's HNSW load) up front. BM25 is left
        out: bm25s fixes multiprocessing's start method, which Sanic (the action server) refuses
        to start with; BM25 is fast on its first query anyway."""
        morphemes("센터 연락처")
        self.collection.query(query_embeddings=[self.embeddings.embed_query("센터 연락처")], n_results=1)

    def search(self, query: str, k: int = 3, pool: int = 30, mode: str = "hybrid") -> list[SearchHit]:
        """Top articles for a query. mode: hybrid (BM25 and vectors fused), bm25, or vector."""
        fused: dict[str, float] = {}
        confidence: dict[str, float] = {}
        n = min(pool, len(self.docs))
        if mode in ("hybrid", "bm25"):
            tokens = morphemes(query)
            if tokens:
                ids, scores = self.bm25.retrieve([tokens], k=n, show_progress=False)
                for rank, (i, sc) in enumerate(zip(ids[0], scores[0], strict=True)):
                    if sc > 0:
                        aid = self.docs[int(i)].article_id
                        fused[aid] = max(fused.get(aid, 0.0), BM25_WEIGHT / (RRF_K + rank))
        if mode in ("hybrid", "vector") or not fused:
            # Vectors also give the confidence (cosine), so they run for BM25 too when asked to gate.
            res = self.collection.query(query_embeddings=[self.embeddings.embed_query(query)], n_results=n,
                                        include=["metadatas", "distances"])
            vec: dict[str, float] = {}
            for rank, (meta, dist) in enumerate(zip(res["metadatas"][0], res["distances"][0], strict=True)):
                aid = meta["article_id"]
                confidence[aid] = max(confidence.get(aid, 0.0), 1.0 - float(dist))
                vec[aid] = max(vec.get(aid, 0.0), 1.0 / (RRF_K + rank))
            if mode != "bm25":
                for aid, sc in vec.items():
                    fused[aid] = fused.get(aid, 0.0) + sc
        ranked = sorted(fused.items(), key=lambda kv: kv[1], reverse=True)[:k]
        return [SearchHit(self.articles[aid], sc, confidence.get(aid, 0.0))
                for aid, sc in ranked if aid in self.articles]
