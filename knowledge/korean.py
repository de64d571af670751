"""Korean text → search tokens (kiwipiepy morphemes), shared by the index and its queries."""
from __future__ import annotations

from functools import lru_cache

from kiwipiepy import Kiwi

from assistant.core.hangul import compose, nfkc

# Content morphemes only: nouns, verb/adjective stems, roots, foreign words, numbers, adverbs.
_KEEP_TAGS = ("NN", "NR", "NP", "VV", "VA", "XR", "SL", "SN", "SH", "MAG", "VX")


@lru_cache(maxsize=1)
def kiwi() -> Kiwi:
    return Kiwi()


def morphemes(text: str) -> list[str]:
    text = compose(nfkc(text)).lower()
    out = []
    for tok in kiwi().tokenize(text):
        tag = tok.tag.split("-")[0]
        if tag.startswith(_KEEP_TAGS):
            out.append(tok.form)
    return out
