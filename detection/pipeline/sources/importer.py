"""JSONL or CSV files of posts collected elsewhere (citizen monitors, exports). The cursor is the file's
identity (path + sha256 of its first 64 KiB) and the number of lines done, so a restart resumes mid-file
and a different file under the same name starts from the top."""
from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from detection.pipeline.sources.base import RawPost, Source, SourceError

FIELDS = ("id", "text", "url", "platform", "account", "images", "posted_at")


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _images(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value if v]
    return [v for v in str(value or "").split() if v]  # CSV: space-separated URLs


class ImportSource(Source):
    kind = "import"
    default_per_minute = 0.0  # local file: no limit

    def path(self) -> Path:
        p = Path(self.config["path"])
        return p if p.is_absolute() else Path(self.config.get("base_dir", ".")) / p

    def _identity(self, path: Path) -> str:
        with path.open("rb") as fh:
            return hashlib.sha256(fh.read(65536)).hexdigest()

    def _rows(self, path: Path) -> Iterator[dict[str, Any] | None]:
        """One item per data line; None for a line that is not a post (it still counts as done)."""
        with path.open(encoding="utf-8-sig", newline="") as fh:
            if path.suffix.lower() == ".csv":
                yield from csv.DictReader(fh)
                return
            for line in fh:
                try:
                    item = json.loads(line)
                except ValueError:
                    yield None
                    continue
                yield item if isinstance(item, dict) else None

    def post(self, row: dict[str, Any], line: int) -> RawPost | None:
        text = str(row.get("text") or "").strip()
        if not text:
            return None
        return RawPost(platform=str(row.get("platform") or self.platform()), text=text,
                       post_id=str(row["id"]) if row.get("id") not in (None, "") else None,
                       url=row.get("url") or None, account=row.get("account") or None,
                       image_urls=_images(row.get("images")), posted_at=_time(row.get("posted_at")),
                       capture=json.dumps({k: row.get(k) for k in FIELDS if k in row}, ensure_ascii=False,
                                          default=str).encode("utf-8"), capture_type="json")

    async def batches(self, cursor: dict[str, Any]) -> AsyncIterator[tuple[list[RawPost], dict[str, Any]]]:
        path = self.path()
        if not path.exists():
            raise SourceError(f"import file not found: {path}")
        identity = self._identity(path)
        done = int(cursor.get("line", 0)) if cursor.get("file") == identity else 0
        size = int(self.config.get("batch", 200))
        batch: list[RawPost] = []
        line = 0
        for line, row in enumerate(self._rows(path), start=1):
            if line <= done:
                continue
            post = self.post(row, line) if row is not None else None
            if post is not None:
                batch.append(post)
            if line - done >= size:
                yield batch, {"file": identity, "line": line}
                batch, done = [], line
        if line > done:
            yield batch, {"file": identity, "line": line}
