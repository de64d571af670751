"""Pluggable sources of public posts. Each kind is a `Source` subclass registered in `KINDS`;
`load_sources()` reads the YAML file named by the DASI_DETECT_SOURCES setting."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from detection.pipeline.sources.base import RawPost, Source, SourceError
from detection.pipeline.sources.board import BoardSource
from detection.pipeline.sources.feed import FeedSource
from detection.pipeline.sources.importer import ImportSource
from detection.pipeline.sources.x_search import XSearchSource

KINDS: dict[str, type[Source]] = {"import": ImportSource, "x": XSearchSource, "rss": FeedSource,
                                  "board": BoardSource}

__all__ = ["KINDS", "RawPost", "Source", "SourceError", "load_config", "make_source"]


def load_config(path: Path) -> dict[str, dict[str, Any]]:
    """name -> config. The file is `sources: {name: {kind: ..., ...}}`; unknown kinds are an error."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise SourceError(f"{path}: not valid YAML ({exc.__class__.__name__})") from None
    sources = data.get("sources") or {}
    if not isinstance(sources, dict):
        raise SourceError(f"{path}: 'sources' must be a mapping of name to settings")
    for name, cfg in sources.items():
        if not isinstance(cfg, dict) or cfg.get("kind") not in KINDS:
            raise SourceError(f"{path}: source {name!r} needs kind: one of {', '.join(KINDS)}")
    return sources


def make_source(name: str, config: dict[str, Any], settings: Any) -> Source:
    return KINDS[config["kind"]](name, config, settings)
