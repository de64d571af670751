"""The vector cache (issue 18): a re-index embeds only documents whose text changed; a repeated question
is embedded once; the cache holds no question text."""
from __future__ import annotations

import sqlite3

from langchain_core.embeddings import Embeddings

from knowledge.embeddings import CachedEmbeddings, HashingEmbeddings


class Counting(Embeddings):
    name = "counting"

    def __init__(self) -> None:
        self.inner, self.documents, self.queries = HashingEmbeddings(), 0, 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.documents += len(texts)
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        self.queries += 1
        return self.inner.embed_query(text)


def test_only_changed_documents_are_embedded_again(tmp_path):
    counting = Counting()
    cache = CachedEmbeddings(counting, tmp_path / "cache.sqlite3", "counting")
    first = cache.embed_documents(["선불금은 갚지 않아도 돼요", "센터 상담 시간", "센터 상담 시간"])
    assert counting.documents == 2  # the same text twice is embedded once
    again = CachedEmbeddings(counting, tmp_path / "cache.sqlite3", "counting")  # a later process
    second = again.embed_documents(["선불금은 갚지 않아도 돼요", "센터 상담 시간", "여권을 빼앗는 건 불법이에요"])
    assert counting.documents == 3  # only the new article's text
    assert second[:2] == first[:2]
    assert second[2] == counting.inner.embed_documents(["여권을 빼앗는 건 불법이에요"])[0]
    other = CachedEmbeddings(counting, tmp_path / "cache.sqlite3", "another-model")
    other.embed_documents(["센터 상담 시간"])
    assert counting.documents == 4  # another model's vectors are not reused


def test_a_repeated_question_is_embedded_once_and_not_kept_as_text(tmp_path):
    counting = Counting()
    cache = CachedEmbeddings(counting, tmp_path / "cache.sqlite3", "counting")
    question = "선불금 안 갚으면 어떻게 돼요?"
    assert cache.embed_query(question) == cache.embed_query(question) == counting.inner.embed_query(question)
    assert counting.queries == 1
    assert all(question not in key for key in cache._queries)
    cache.embed_documents(["문서"])
    with sqlite3.connect(tmp_path / "cache.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM vectors").fetchone()[0] == 1
