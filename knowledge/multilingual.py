"""Retrieval over the translated articles, and `answer_in_language`, the one call the router makes.

One Chroma collection per language (`articles-<lang>`, the same embeddings as the Korean index:
multilingual e5 by default) plus BM25 per language over plain word or character-bigram tokens (the
Korean index's morphemes mean nothing in Thai or Russian), fused like the Korean index. The index
covers every translation file; whether one may be *served* is decided at answer time from the files
themselves (knowledge/translations.py), so a Korean edit makes its translations unservable at once,
before any re-index.

Each language has its own confidence bar, measured on our own questions and kept as data in
knowledge/eval/translations/bars.json (`dasi kb translations eval --write-bars` measures them again).
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import bm25s
from langchain_chroma import Chroma

from assistant.core.settings import Settings
from knowledge.answers import plain
from knowledge.articles import ArticleError, parse_article
from knowledge.embeddings import cached_embeddings
from knowledge.index import RRF_K, chroma_client, read_manifest
from knowledge.translations import LANGUAGES, Translation, folder, load_translations, parse_translation, servable

BARS_FILE = Path(__file__).resolve().parent / "eval" / "translations" / "bars.json"
BM25_WEIGHT = 0.5  # as in the Korean index; measured per language in the README's table
_WORD = re.compile(r"\w+", re.UNICODE)
_NO_SPACES = {"th", "zh"}  # written without spaces between words: character bigrams instead


@dataclass(frozen=True)
class LanguageAnswer:
    """What `answer_in_language` gives the router."""

    article_id: str  # the Korean article's id (slug)
    lang: str
    title: str  # in that language
    text: str  # the whole translated article as chat text (Markdown marks removed); fit it to the channel
    confidence: float  # cosine of the question to the article's best document
    stale: bool  # the Korean changed since this was translated: the text is withheld ("") and it is not served
    reviewed: bool  # a staff member has reviewed it against the current Korean


def collection_name(lang: str) -> str:
    return f"articles-{lang}"


def index_dir(settings: Settings) -> Path:
    """Beside the Korean index, not inside it: the Korean index's folder is replaced whole on each rebuild."""
    return settings.index_dir.with_name(settings.index_dir.name + "-translations")


def tokens(text: str, lang: str) -> list[str]:
    words = [w.casefold() for w in _WORD.findall(text)]
    if lang not in _NO_SPACES:
        return words
    out = []
    for w in words:
        out.extend([w] if len(w) < 2 or w.isascii() else [w[i:i + 2] for i in range(len(w) - 1)])
    return out


def _docs(t: Translation) -> list[tuple[str, str]]:
    # The Korean articles' own questions were tried as extra documents (e5 is multilingual): no
    # question in our sets moved to the right article, since a same-language match always scores higher.
    return [("body", f"{t.title}\n{t.body}"), ("title", t.title), *(("question", q) for q in t.questions)]


def fingerprint(settings: Settings) -> str:
    h = hashlib.sha256(settings.embeddings.encode())
    for p in sorted(folder(settings.knowledge_dir).glob("*/*.md")):
        h.update(f"{p.parent.name}/{p.name}".encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def _store(settings: Settings, lang: str, client=None) -> Chroma:
    return Chroma(client=client or chroma_client(settings), collection_name=collection_name(lang),
                  embedding_function=cached_embeddings(settings.embeddings, settings.var_dir),
                  collection_metadata={"hnsw:space": "cosine"})


def build(settings: Settings) -> int:
    """Rebuild every language's vectors and BM25; returns the number of documents. Seconds: 60 articles."""
    by_lang: dict[str, list[Translation]] = {lang: [] for lang in LANGUAGES}
    for t in load_translations(settings.knowledge_dir):
        by_lang[t.lang].append(t)
    client = chroma_client(settings)
    target = index_dir(settings)
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    total = 0
    for lang, items in by_lang.items():
        try:
            client.delete_collection(collection_name(lang))
        except Exception:  # chromadb raises different errors across versions when it does not exist
            pass
        docs = [(t.id, kind, text) for t in items for kind, text in _docs(t)]
        (tmp / f"{lang}.json").write_text(json.dumps(docs, ensure_ascii=False), encoding="utf-8")
        if not docs:
            continue
        _store(settings, lang, client).add_texts(
            [d[2] for d in docs], metadatas=[{"article_id": d[0], "kind": d[1]} for d in docs],
            ids=[f"{d[0]}:{i}" for i, d in enumerate(docs)])
        retriever = bm25s.BM25()
        retriever.index([tokens(d[2], lang) or ["_"] for d in docs], show_progress=False)
        retriever.save(str(tmp / f"bm25-{lang}"))
        total += len(docs)
    (tmp / "manifest.json").write_text(json.dumps({"fingerprint": fingerprint(settings), "documents": total,
                                                   "built_at": time.time()}), encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return total


def manifest(settings: Settings) -> dict | None:
    return read_manifest(index_dir(settings))


def is_current(settings: Settings) -> bool:
    m = manifest(settings)
    return m is not None and m.get("fingerprint") == fingerprint(settings)


def bars(embeddings: str, fallback: float) -> dict[str, float]:
    """The confidence bar of each language for this embedding choice (measured; see BARS_FILE)."""
    try:
        measured = json.loads(BARS_FILE.read_text(encoding="utf-8")).get(embeddings, {})
    except (OSError, ValueError):
        measured = {}
    return {lang: float(measured.get(lang, fallback)) for lang in LANGUAGES}


@dataclass(frozen=True)
class Hit:
    article_id: str
    score: float
    confidence: float


class TranslationIndex:
    def __init__(self, settings: Settings) -> None:
        m = manifest(settings)
        if m is None:
            raise FileNotFoundError("the translation index is missing: run `dasi kb reindex`")
        self.settings, self.built_at = settings, m.get("built_at")
        d = index_dir(settings)
        self.docs = {lang: json.loads((d / f"{lang}.json").read_text(encoding="utf-8")) for lang in LANGUAGES}
        self.bm25 = {lang: bm25s.BM25.load(str(d / f"bm25-{lang}")) for lang in LANGUAGES if self.docs[lang]}
        self.embeddings = cached_embeddings(settings.embeddings, settings.var_dir)
        client = chroma_client(settings)
        self.collections = {lang: client.get_collection(collection_name(lang)) for lang in self.bm25}
        self.bars = bars(settings.embeddings, settings.kb_min_confidence)

    def search(self, query: str, lang: str, k: int = 3, pool: int = 30, mode: str = "hybrid") -> list[Hit]:
        """Top translated articles of one language for a query (mode: hybrid, bm25 or vector)."""
        if lang not in self.collections:
            return []
        docs = self.docs[lang]
        n = min(pool, len(docs))
        fused: dict[str, float] = {}
        confidence: dict[str, float] = {}
        if mode in ("hybrid", "bm25") and (toks := tokens(query, lang)):
            ids, scores = self.bm25[lang].retrieve([toks], k=n, show_progress=False)
            for rank, (i, sc) in enumerate(zip(ids[0], scores[0], strict=True)):
                if sc > 0:
                    aid = docs[int(i)][0]
                    fused[aid] = max(fused.get(aid, 0.0), BM25_WEIGHT / (RRF_K + rank))
        # Vectors always run: they give the confidence the bar is about.
        res = self.collections[lang].query(query_embeddings=[self.embeddings.embed_query(query)], n_results=n,
                                           include=["metadatas", "distances"])
        vec: dict[str, float] = {}
        for rank, (meta, dist) in enumerate(zip(res["metadatas"][0], res["distances"][0], strict=True)):
            aid = str(meta["article_id"])
            confidence[aid] = max(confidence.get(aid, 0.0), 1.0 - float(dist))
            vec[aid] = max(vec.get(aid, 0.0), 1.0 / (RRF_K + rank))
        if mode != "bm25" or not fused:
            for aid, sc in vec.items():
                fused[aid] = fused.get(aid, 0.0) + sc
        ranked = sorted(fused.items(), key=lambda kv: kv[1], reverse=True)[:k]
        return [Hit(aid, sc, confidence.get(aid, 0.0)) for aid, sc in ranked]


_CACHE: dict[tuple[str, str, str], TranslationIndex] = {}
_CACHE_LOCK = threading.Lock()


def loaded_index(settings: Settings) -> TranslationIndex:
    """One index per process and configuration, loaded again when a re-index has rebuilt it."""
    key = (str(index_dir(settings)), str(settings.chroma_dir), settings.embeddings)
    m = manifest(settings)
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
        if cached is None or m is None or cached.built_at != m.get("built_at"):
            cached = _CACHE[key] = TranslationIndex(settings)
        return cached


def _read_pair(settings: Settings, article_id: str, lang: str):
    """The translation and its Korean article as the files are now (None where missing or broken)."""
    kdir = settings.knowledge_dir
    try:
        t = parse_translation((folder(kdir) / lang / f"{article_id}.md").read_text(encoding="utf-8"),
                              folder(kdir) / lang / f"{article_id}.md")
        path = kdir / f"{article_id}.md"
        return t, parse_article(path.read_text(encoding="utf-8"), path)
    except (OSError, ArticleError):
        return None, None


def find_in_language(settings: Settings, question: str, lang: str, *,
                     require_review: bool = False) -> LanguageAnswer | None:
    """The best translated article for a question if it passes the language's bar, flagged stale
    (text withheld) when it may not be served. None when nothing passes the bar."""
    if lang not in LANGUAGES or not question.strip():
        return None
    index = loaded_index(settings)
    hits = index.search(question, lang, k=1)
    if not hits or hits[0].confidence < index.bars[lang]:
        return None
    hit = hits[0]
    t, korean = _read_pair(settings, hit.article_id, lang)
    if t is None:
        return None  # deleted since the index was built
    ok = servable(t, korean, require_review)
    return LanguageAnswer(article_id=t.id, lang=lang, title=t.title if ok else "", text=plain(t.body) if ok else "",
                          confidence=hit.confidence, stale=not ok, reviewed=bool(t.reviewed_by))


def answer_in_language(question: str, lang: str, *, settings: Settings | None = None,
                       require_review: bool = False) -> LanguageAnswer | None:
    """The translated article answering `question` in `lang` (en, vi, th, zh, ru, tl), or None.

    None means: nothing passes the language's confidence bar, or the best match may not be served
    (its Korean article changed since it was translated — stale — or is unpublished, or, with
    `require_review`, no staff member has reviewed it). Then the caller falls back to the emergency
    text and "a counsellor will answer". Only the best match is considered: a lower one answers a
    different question. Blocking (embeddings, files): call it from a worker thread in async code.
    Raises FileNotFoundError when the translation index was never built (`dasi kb reindex`)."""
    from assistant.core.settings import get_settings

    found = find_in_language(settings or get_settings(), question, lang, require_review=require_review)
    return None if found is None or found.stale else found


# --- measuring --------------------------------------------------------------------------------

QUESTIONS_DIR = BARS_FILE.parent  # <lang>.jsonl: {"q": ..., "ids": [...]} ([] = no core article answers it)


@dataclass(frozen=True)
class LanguageEval:
    lang: str
    questions: int  # answerable ones
    top1: int  # right article first
    answered: int  # answerable ones past the bar with the right article first
    unanswerable: int
    wrongly_answered: int  # unanswerable ones past the bar
    bar: float
    suggested_bar: float  # just above the most confident unanswerable question

    def as_dict(self) -> dict:
        return {"lang": self.lang, "questions": self.questions, "top1": round(self.top1 / (self.questions or 1), 3),
                "answered_right": round(self.answered / (self.questions or 1), 3),
                "unanswerable": self.unanswerable, "unanswerable_answered": self.wrongly_answered,
                "bar": self.bar, "suggested_bar": self.suggested_bar}


def load_language_questions(lang: str, directory: Path = QUESTIONS_DIR) -> list[dict]:
    path = directory / f"{lang}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def evaluate_language(index: TranslationIndex, lang: str, rows: list[dict], mode: str = "hybrid",
                      bar: float | None = None) -> LanguageEval:
    bar = index.bars[lang] if bar is None else bar
    top1 = answered = wrong = 0
    unanswerable_conf = [0.0]
    for row in rows:
        hits = index.search(row["q"], lang, k=1, mode=mode)
        conf = hits[0].confidence if hits else 0.0
        if not row["ids"]:
            unanswerable_conf.append(conf)
            wrong += conf >= bar
            continue
        right = bool(hits) and hits[0].article_id in row["ids"]
        top1 += right
        answered += right and conf >= bar
    n = sum(1 for r in rows if r["ids"])
    return LanguageEval(lang, n, top1, answered, len(rows) - n, wrong, bar,
                        round(max(unanswerable_conf) + 0.002, 3))
