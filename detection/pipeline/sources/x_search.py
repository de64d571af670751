"""X API v2 recent search (`GET /2/tweets/search/recent`), app-only bearer token.

Cursor: `since_id` = the newest tweet of the last finished run. A run pages newest → oldest with
`next_token`; the token and the run's newest id are saved after each page, so a restart finishes the
interrupted run and then moves `since_id` forward. A 429 waits until `x-rate-limit-reset`."""
from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from detection.pipeline.sources.base import RawPost, Source, SourceError

log = logging.getLogger("dasi.detection.x")


class XSearchSource(Source):
    kind = "x"
    default_per_minute = 25.0  # recent search app limit is 450 / 15 min; stay well under it
    media_hosts = ("pbs.twimg.com",)  # where the API's media URLs point

    def own_urls(self) -> list[str]:
        return [self.settings.x_api_base]

    def params(self, cursor: dict[str, Any]) -> dict[str, str]:
        p = {"query": str(self.config["query"]), "max_results": str(self.config.get("max_results", 100)),
             "tweet.fields": "created_at,author_id,attachments", "expansions": "author_id,attachments.media_keys",
             "user.fields": "username", "media.fields": "url,preview_image_url,type"}
        if cursor.get("since_id"):
            p["since_id"] = str(cursor["since_id"])
        if cursor.get("next_token"):
            p["next_token"] = str(cursor["next_token"])
        return p

    async def _page(self, params: dict[str, str]) -> dict[str, Any]:
        token = self.settings.x_bearer_token
        if not token:
            raise SourceError("DASI_X_BEARER_TOKEN is not set")
        url = f"{self.settings.x_api_base}/2/tweets/search/recent"
        max_wait = float(self.config.get("max_wait", 900))
        for _ in range(int(self.config.get("retries", 3)) + 1):
            status, headers, body = await self.get(url, params=params, headers={"Authorization": f"Bearer {token}"})
            if status == 200:
                return json.loads(body)
            if status == 429:
                reset = float(headers.get("x-rate-limit-reset") or headers.get("X-Rate-Limit-Reset") or 0)
                wait = min(max(reset - time.time(), 1.0), max_wait)
                log.warning("source %s: rate limited, waiting %.0f s", self.name, wait)
                await asyncio.sleep(wait)
                continue
            raise SourceError(f"X API answered HTTP {status}")
        raise SourceError("X API kept answering 429")

    def posts(self, data: dict[str, Any]) -> list[RawPost]:
        users = {u["id"]: u.get("username") for u in data.get("includes", {}).get("users", [])}
        media = {m["media_key"]: m.get("url") or m.get("preview_image_url")
                 for m in data.get("includes", {}).get("media", [])}
        out = []
        for tweet in data.get("data", []):
            user = users.get(tweet.get("author_id"))
            keys = tweet.get("attachments", {}).get("media_keys", [])
            created = tweet.get("created_at")
            out.append(RawPost(
                platform="x", text=tweet.get("text", ""), post_id=str(tweet["id"]), account=user,
                url=f"https://x.com/{user or 'i/web'}/status/{tweet['id']}",
                image_urls=[media[k] for k in keys if media.get(k)],
                posted_at=datetime.fromisoformat(created.replace("Z", "+00:00")) if created else None,
                capture=json.dumps({"tweet": tweet, "user": user}, ensure_ascii=False).encode("utf-8")))
        return out

    async def batches(self, cursor: dict[str, Any]) -> AsyncIterator[tuple[list[RawPost], dict[str, Any]]]:
        since_id = cursor.get("since_id")
        next_token = cursor.get("next_token")
        newest = cursor.get("run_newest")  # newest id of an interrupted run
        for _ in range(int(self.config.get("max_pages", 10))):
            data = await self._page(self.params({"since_id": since_id, "next_token": next_token}))
            meta = data.get("meta", {})
            if not next_token and meta.get("newest_id"):
                newest = meta["newest_id"]  # first page of a run: the newest tweet there is
            next_token = meta.get("next_token")
            if next_token:
                yield self.posts(data), {"since_id": since_id, "next_token": next_token, "run_newest": newest}
            else:  # run finished: the next one asks only for tweets newer than this run's newest
                yield self.posts(data), {"since_id": newest or since_id}
                return
