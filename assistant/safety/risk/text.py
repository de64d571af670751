"""What the model reads of a message: the conversation window as one text, and its morphemes."""
from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

CATEGORIES = ("danger", "self_harm", "medical", "minor", "exploitation")
CONTEXT_MESSAGES = 3  # earlier messages read with the current one
SEPARATOR = " / "
MAX_CHARS = 600  # the end of a long window: the current message and what came just before


def window(text: str, context: Sequence[str] = ()) -> str:
    """The current message with up to CONTEXT_MESSAGES earlier ones before it, as the model was trained."""
    joined = SEPARATOR.join([*[c.strip() for c in context if c and c.strip()][-CONTEXT_MESSAGES:], text.strip()])
    return joined[-MAX_CHARS:]


@lru_cache(maxsize=1)
def _kiwi() -> Any:
    from kiwipiepy import Kiwi

    return Kiwi()


def morphemes(text: str) -> str:
    """Content morphemes by coarse tag, endings and particles by full tag: tense (-었-), negation and
    person are in the endings ("갇혔었어요" vs "갇혀 있어요")."""
    out = []
    for token in _kiwi().tokenize(text):
        tag = token.tag.split("-")[0]
        if tag.startswith("S") and tag not in ("SL", "SN", "SH"):
            continue
        out.append(f"{token.form}/{tag if tag[0] in 'EJX' else tag[0]}")
    return " ".join(out)


def morpheme_features(doc: str) -> list[str]:
    """Unigrams and bigrams of the morphemes (the TF-IDF analyzer; module-level so the model pickles)."""
    tokens = doc.split()
    return tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False)]
