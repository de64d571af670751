"""Rasa tokenizer for Korean built on kiwipiepy.

Runs inside the Rasa virtualenv (Python 3.10): it may import only Rasa, kiwipiepy and the
standard library. Tokens are morphemes with offsets into the original text, so entity spans
still line up; Kiwi's spacing tolerance copes with messages typed without spaces.
"""
from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.training_data.message import Message

# Punctuation and whitespace tags carry nothing for intents; emoji and jamo (SW) do ("ㅠㅠ").
_DROP_TAGS = {"SF", "SP", "SS", "SSO", "SSC", "SE", "SO", "W_SERIAL"}


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class KiwiTokenizer(Tokenizer):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
            # How many misplaced spaces Kiwi tolerates per word (0 = strict spacing).
            "space_tolerance": 2,
            # Verb/adjective stems get "다" so "받아요" and "받았어" share the lemma "받다".
            "lemma_with_da": True,
        }

    @staticmethod
    def required_packages() -> list[str]:
        return ["kiwipiepy"]

    @staticmethod
    def supported_languages() -> list[str] | None:
        return ["ko"]

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        from kiwipiepy import Kiwi

        self.kiwi = Kiwi()
        self.kiwi.global_config.space_tolerance = int(self._config["space_tolerance"])
        self.lemma_with_da = bool(self._config["lemma_with_da"])

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> KiwiTokenizer:
        return cls(config)

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        text = message.get(attribute) or ""
        tokens: list[Token] = []
        for t in self.kiwi.tokenize(text):
            tag = t.tag.split("-")[0]
            if tag in _DROP_TAGS:
                continue
            lemma = t.form + "다" if self.lemma_with_da and tag in ("VV", "VA", "VX") else t.form
            tokens.append(Token(t.form, t.start, t.start + t.len, data={"pos": tag}, lemma=lemma))
        if not tokens:  # only punctuation: keep the whole text as one token, as Rasa's own tokenizers do
            tokens = [Token(text, 0, len(text))]
        return self._apply_token_pattern(tokens)
