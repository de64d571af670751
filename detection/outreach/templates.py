"""The outreach texts as data (templates.yml beside this file, readable and editable by staff) and their
rendering with the centre's name and number from the settings. Kinds: `warning` (to a luring account)
and `guidance` (to young people); only guidance may ever reach an account believed to be a minor."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

PATH = Path(__file__).resolve().parent / "templates.yml"
KINDS = ("warning", "guidance")
X_LIMIT = 280  # an X post's weighted length (https://docs.x.com counting: most CJK characters weigh 2)


@dataclass(frozen=True)
class Template:
    key: str
    kind: str
    title: str
    text: str

    def render(self, settings: Any) -> str:
        return self.text.format(centre_name=settings.centre_name, centre_phone=settings.centre_phone).strip()


@lru_cache(maxsize=4)
def _load(path: Path, mtime: float) -> dict[str, Template]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out: dict[str, Template] = {}
    for key, item in (data.get("templates") or {}).items():
        if not isinstance(item, dict) or item.get("kind") not in KINDS or not str(item.get("text", "")).strip():
            raise ValueError(f"{path}: template {key!r} needs kind ({' | '.join(KINDS)}) and text")
        out[key] = Template(key, item["kind"], str(item.get("title", key)), " ".join(str(item["text"]).split()))
    return out


def templates(path: Path = PATH) -> dict[str, Template]:
    """Every template, re-read when the file changes (staff edits apply without a restart)."""
    return _load(path, path.stat().st_mtime)


def get(key: str) -> Template:
    return templates()[key]


def text_hash(text: str) -> str:
    """What "the same text" means: equal after whitespace is folded."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


def x_length(text: str) -> int:
    """X's weighted length (twitter-text v3 config): Latin and common punctuation weigh 1, the rest 2."""
    light = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
    return sum(1 if any(lo <= ord(ch) <= hi for lo, hi in light) else 2 for ch in text)
