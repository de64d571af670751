"""Public web boards read with configurable CSS selectors (BeautifulSoup), only where robots.txt
allows our User-Agent. Config:

    kind: board
    url: https://example.org/board?page=1     # list page(s): `url` or `urls`
    item: "li.post"                           # one element per post on the list page
    link: "a.title"                           # its link (href), made absolute
    text: ".body"                             # text on the list page (optional if `detail_text`)
    account: ".writer"   time: ".date"   image: "img"
    detail_text: "#content"                   # optional: open each post and read this
    hosts: [img.example.org]                  # optional: other hosts links and images may be on

Every request, each redirect hop included, goes through the safe fetcher (assistant/web/safe_fetch.py)
and stays on the board's own host(s) and `hosts`; robots.txt is checked for every hop.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

from bs4 import BeautifulSoup
from yarl import URL

from assistant.web.safe_fetch import FetchRefused
from detection.pipeline.sources.base import RawPost, Source, SourceError, SourceRefused, remember

log = logging.getLogger("dasi.detection.board")


def _text(node: Any, selector: str | None) -> str:
    if not selector:
        return ""
    found = node.select_one(selector)
    return found.get_text(" ", strip=True) if found else ""


class BoardSource(Source):
    kind = "board"
    default_per_minute = 10.0
    _robots: dict[str, RobotFileParser]

    async def allowed(self, url: str) -> bool:
        """robots.txt of the URL's site, fetched once per run; no robots.txt (404) means allowed,
        an unreachable or forbidden one means not allowed (RFC 9309 §2.3.1)."""
        if not hasattr(self, "_robots"):
            self._robots = {}
        parts = urlsplit(url)
        site = f"{parts.scheme}://{parts.netloc}"
        if site not in self._robots:
            rp = RobotFileParser(site + "/robots.txt")
            try:  # its own redirects are not checked against it (they are when fetching pages)
                status, _, body = await self.get(site + "/robots.txt", hop=super().before_request)
            except SourceRefused:
                status, body = 503, b""  # unreachable for us: not allowed
            if status in (401, 403) or status >= 500:
                rp.disallow_all = True
            elif status >= 400:
                rp.allow_all = True
            else:
                rp.parse(body.decode("utf-8", "replace").splitlines())
            self._robots[site] = rp
        return self._robots[site].can_fetch(self.settings.detect_user_agent, url)

    async def before_request(self, url: URL) -> None:
        """robots.txt for every hop: a redirect must not lead to a page it disallows."""
        if not await self.allowed(str(url)):
            raise FetchRefused("robots")
        await super().before_request(url)

    async def fetch(self, url: str) -> bytes | None:
        if not await self.allowed(url):
            log.info("source %s: robots.txt disallows a page, skipped", self.name)
            return None
        try:
            status, _, body = await self.get(url)
        except SourceRefused as exc:  # a link or redirect to another host, an internal address, ...
            log.info("source %s: a page was refused (%s), skipped", self.name, exc.reason)
            return None
        if status != 200:
            raise SourceError(f"board answered HTTP {status}")
        return body

    async def items(self, page_url: str, body: bytes) -> list[RawPost]:
        c = self.config
        soup = BeautifulSoup(body, "html.parser")
        out = []
        for node in soup.select(c["item"]):
            link = node.select_one(c["link"]) if c.get("link") else None
            url = urljoin(page_url, link["href"]) if link is not None and link.get("href") else None
            text, capture = _text(node, c.get("text")), str(node).encode("utf-8")
            images = [urljoin(page_url, i["src"]) for i in node.select(c["image"]) if i.get("src")] \
                if c.get("image") else []
            if c.get("detail_text") and url:
                detail = await self.fetch(url)
                if detail is None:
                    continue  # the post page is off limits: keep nothing from it
                page = BeautifulSoup(detail, "html.parser")
                text = " ".join(t for t in [text, _text(page, c["detail_text"])] if t)
                capture = detail
                if c.get("image"):
                    images += [urljoin(url, i["src"]) for i in page.select(c["image"]) if i.get("src")]
            if not text:
                continue
            when = _text(node, c.get("time"))
            try:
                posted = datetime.fromisoformat(when).replace(tzinfo=UTC) if when else None
            except ValueError:
                posted = None
            out.append(RawPost(platform=self.platform(), text=text, url=url,
                               account=_text(node, c.get("account")) or None,
                               image_urls=images, posted_at=posted, capture=capture, capture_type="html",
                               post_id=None))
        return out

    async def batches(self, cursor: dict[str, Any]) -> AsyncIterator[tuple[list[RawPost], dict[str, Any]]]:
        seen = list(cursor.get("seen", []))
        for page_url in self.config.get("urls") or [self.config["url"]]:
            body = await self.fetch(page_url)
            if body is None:
                continue
            fresh = [p for p in await self.items(page_url, body) if p.post_key not in seen]
            seen = remember(seen, [p.post_key for p in fresh])
            yield fresh, {"seen": seen, "page": hashlib.sha256(page_url.encode()).hexdigest()[:12]}
