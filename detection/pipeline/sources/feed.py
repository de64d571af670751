"""RSS and Atom feeds (feedparser). Feeds have no 'since' parameter: the cursor keeps the ids of
recently seen entries (bounded); the unique keys in the database are the backstop."""
from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import feedparser
from bs4 import BeautifulSoup

from detection.pipeline.sources.base import RawPost, Source, SourceError, remember


def _when(entry: Any) -> datetime | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    return datetime(*parsed[:6], tzinfo=UTC) if parsed else None


class FeedSource(Source):
    kind = "rss"
    default_per_minute = 6.0

    def posts(self, body: bytes) -> list[RawPost]:
        feed = feedparser.parse(body)
        if feed.bozo and not feed.entries:
            raise SourceError("feed could not be parsed")
        out = []
        for entry in feed.entries:
            html = entry.get("summary") or ""
            if entry.get("content"):
                html = entry["content"][0].get("value") or html
            soup = BeautifulSoup(html, "html.parser")
            images = [img["src"] for img in soup.find_all("img") if img.get("src")]
            images += [link["href"] for link in entry.get("links", []) if link.get("rel") == "enclosure"
                       and str(link.get("type", "")).startswith("image/")]
            text = " ".join(p for p in [entry.get("title", ""), soup.get_text(" ", strip=True)] if p)
            out.append(RawPost(platform=self.platform(), text=text, post_id=entry.get("id") or None,
                               url=entry.get("link"), account=entry.get("author") or None, image_urls=images,
                               posted_at=_when(entry), capture_type="json",
                               capture=json.dumps({k: entry.get(k) for k in ("id", "link", "title", "author",
                                                                              "summary", "published", "updated")},
                                                  ensure_ascii=False, default=str).encode("utf-8")))
        return out

    async def batches(self, cursor: dict[str, Any]) -> AsyncIterator[tuple[list[RawPost], dict[str, Any]]]:
        status, _, body = await self.get(self.config["url"])
        if status != 200:
            raise SourceError(f"feed answered HTTP {status}")
        seen = list(cursor.get("seen", []))
        fresh = [p for p in self.posts(body) if p.post_key not in seen]
        yield fresh, {"seen": remember(seen, [p.post_key for p in fresh])}
