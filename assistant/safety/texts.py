"""The fixed texts a person reads, per language, as data: assistant/safety/texts/<code>.yml.

ko.yml is the source; every other file is its translation with the same keys. They load from files in
the package (no database, index or network), so the emergency replies stay up whatever else is down.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from assistant.core.clock import DAYS
from assistant.core.languages import KOREAN, SERVED, reply_language
from assistant.core.settings import get_settings

TEXTS = Path(__file__).with_name("texts")


@lru_cache(maxsize=len(SERVED))
def table(lang: str) -> dict[str, Any]:
    """Every text of one served language (a language not served reads the English)."""
    data = yaml.safe_load((TEXTS / f"{reply_language(lang)}.yml").read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{lang}.yml is not a mapping")
    return data


def centre() -> str:
    s = get_settings()
    return f"{s.centre_name} {s.centre_phone}"


def hours(lang: str) -> str:
    """The centre's hours (settings, e.g. "mon-fri 09:00-18:00") with the day names in `lang`."""
    spec = get_settings().centre_hours.strip().lower()
    names = table(lang).get("days") or {}
    for day in DAYS:
        spec = spec.replace(day, str(names.get(day, day)))
    return spec


def text(lang: str, key: str, **extra: str) -> str:
    """One text with its placeholders filled ({centre}, {centre_name}, {centre_phone}, {privacy_url},
    {hours}). A key missing from a translation falls back to the Korean (never to nothing)."""
    node: Any = table(lang)
    source: Any = table(KOREAN)
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
        source = source.get(part) if isinstance(source, dict) else None
    value = node if isinstance(node, str) else source
    if not isinstance(value, str):
        raise KeyError(key)
    s = get_settings()
    fields = {"centre": centre(), "centre_name": s.centre_name, "centre_phone": s.centre_phone,
              "privacy_url": s.privacy_url, **extra}
    if "{hours}" in value and "hours" not in extra:
        fields["hours"] = hours(lang)
    return value.format(**fields)


def items(lang: str, key: str) -> list[str]:
    node: Any = table(lang)
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return [str(v) for v in node] if isinstance(node, list) else items(KOREAN, key) if lang != KOREAN else []


def ui(lang: str) -> dict[str, str]:
    """The chat page's own words in `lang` (the Korean where a translation lacks one)."""
    words = {**table(KOREAN).get("ui", {}), **table(lang).get("ui", {})}
    return {k: str(v) for k, v in words.items()}
