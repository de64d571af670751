"""A stand-in for the knowledge half's `answer_in_language(question, lang)` (connectors/languages.py), for
the stack the language e2e tests start (DASI_TRANSLATED_ANSWERS=tests.fakes.translated:answer_in_language).
It answers questions about a held passport, in Vietnamese and English only; anything else is below its bar."""
from __future__ import annotations

ANSWERS = {
    "vi": ("hộ chiếu", "[stand-in vi] Giữ hộ chiếu của người khác là trái luật."),
    "en": ("passport", "[stand-in en] Nobody may keep your passport."),
}


def answer_in_language(question: str, lang: str) -> dict | None:
    word, answer = ANSWERS.get(lang, ("", ""))
    return {"text": answer} if word and word in question.lower() else None
