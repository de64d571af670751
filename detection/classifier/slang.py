"""The staff-editable slang dictionary (slang.yml): how ads write a word → the word it stands for.

Checked when loaded (an invalid edit raises SlangError naming the entry; `current()` then keeps the last
good dictionary and logs it) and re-read when the file changes, like the lexicon.
"""
from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger("dasi.detection.slang")

SLANG_PATH = Path(__file__).with_name("slang.yml")
KINDS = ("initials", "spelling", "latin", "trade")
_CONSONANT_TOKEN = re.compile(r"^[ㄱ-ㅎ]{2,}$")
_LATIN_WORD = re.compile(r"^[a-z][a-z0-9]{2,}$")


class SlangError(ValueError):
    pass


@dataclass(frozen=True)
class Entry:
    form: str
    means: str
    kind: str


class SlangDictionary:
    def __init__(self, entries: list[Entry]) -> None:
        self.entries = entries
        self.initials = {e.form: e.means for e in entries if e.kind == "initials"}
        self.anywhere = {e.form: e.means for e in entries if e.kind in ("spelling", "trade")}
        self.words = {e.form: e.means for e in entries if e.kind == "latin"}
        parts = [re.escape(f) for f in sorted(self.anywhere, key=len, reverse=True)]
        parts += [rf"(?<![a-z0-9]){re.escape(f)}(?![a-z0-9])" for f in sorted(self.words, key=len, reverse=True)]
        self.pattern = re.compile("|".join(parts)) if parts else None

    def meaning(self, form: str) -> str:
        return self.anywhere.get(form) or self.words[form]

    @classmethod
    def parse(cls, data: Any) -> SlangDictionary:
        if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
            raise SlangError("slang.yml needs a list under 'entries'")
        entries, seen = [], set()
        for n, raw in enumerate(data["entries"], 1):
            if not isinstance(raw, dict) or set(raw) != {"form", "means", "kind"}:
                raise SlangError(f"entry {n}: needs exactly form, means and kind")
            form, means, kind = (str(raw[k]).strip() for k in ("form", "means", "kind"))
            if kind not in KINDS:
                raise SlangError(f"entry {n} ({form}): kind must be one of {', '.join(KINDS)}")
            if not form or not means or form == means:
                raise SlangError(f"entry {n} ({form}): form and means must be different, non-empty words")
            if kind == "initials" and not _CONSONANT_TOKEN.match(form):
                raise SlangError(f"entry {n} ({form}): initials are two or more consonant jamo (ㅈㄱ)")
            if kind == "latin" and not _LATIN_WORD.match(form):
                raise SlangError(f"entry {n} ({form}): latin forms are lower-case words of 3+ letters")
            if kind in ("spelling", "trade") and len(form) < 2:
                raise SlangError(f"entry {n} ({form}): too short to replace safely")
            if form in seen:
                raise SlangError(f"entry {n} ({form}): listed twice")
            seen.add(form)
            entries.append(Entry(form, means, kind))
        return cls(entries)

    @classmethod
    def load(cls, path: Path = SLANG_PATH) -> SlangDictionary:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise SlangError(f"{path.name} is not valid YAML: {exc}") from exc
        return cls.parse(data)


_lock = threading.Lock()
_state: dict[str, Any] = {"mtime": None, "dictionary": None}


def current(path: Path = SLANG_PATH) -> SlangDictionary:
    """The dictionary as the file is now; a broken edit keeps the last good one (and logs why)."""
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        mtime = None
    with _lock:
        if _state["dictionary"] is None or mtime != _state["mtime"]:
            try:
                _state["dictionary"] = SlangDictionary.load(path)
            except (SlangError, OSError) as exc:
                if _state["dictionary"] is None:
                    raise
                log.error("slang.yml not reloaded, the previous dictionary stays: %s", exc)
            _state["mtime"] = mtime
        return _state["dictionary"]
