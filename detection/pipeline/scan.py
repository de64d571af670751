"""Scan one source: fetch a batch → drop posts already stored → classify → store → evidence for the
flagged ones → save the cursor, all in one transaction per batch (a restart resumes after the last
committed batch and never stores a post twice)."""
from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from assistant.core.clock import utcnow
from detection.pipeline.evidence import EvidenceStore, kst
from detection.pipeline.sources import load_config, make_source
from detection.pipeline.sources.base import RawPost, Source
from detection.storage import queries as store
from detection.storage.tables import DetectedPost, PostStatus

log = logging.getLogger("dasi.detection.scan")
MAX_IMAGES = 4
MAX_IMAGE_BYTES = 5 * 1024 * 1024


@dataclass
class ScanResult:
    source: str
    fetched: int = 0
    stored: int = 0
    duplicates: int = 0
    flagged: int = 0
    seconds: float = 0.0
    flagged_ids: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "flagged_ids"}


def load_classifier(settings: Any) -> Any:
    from detection.classifier.classify import Classifier  # the classification core (other module owner)

    return Classifier.load(settings)


def is_flagged(verdict: Any) -> bool:
    return verdict.category != "none" or bool(verdict.youth)


async def _images(source: Source, post: RawPost) -> list[tuple[str, bytes]]:
    """Images for OCR and evidence, only when the source asks for it (each is a request)."""
    if not source.config.get("fetch_images") or source.fetcher is None:
        return []
    out = []
    for url in post.image_urls[:MAX_IMAGES]:
        try:  # on the source's hosts only, public addresses only, stops reading past the cap
            status, _, body = await source.get(url, max_bytes=MAX_IMAGE_BYTES)
        except Exception:  # an image that cannot be fetched or is refused does not stop the scan
            continue
        if status == 200:
            out.append((url, body))
    return out


def evidence_payload(post: DetectedPost, raw: RawPost, verdict: Any) -> dict[str, Any]:
    return {"platform": raw.platform, "url": raw.url, "post_id": raw.post_id, "account": raw.account,
            "text": raw.text, "normalised": verdict.normalised, "ocr_text": verdict.ocr_text,
            "indicators": verdict.indicators, "reasons": verdict.reasons, "category": verdict.category,
            "youth": verdict.youth, "score": verdict.score, "image_urls": raw.image_urls,
            "posted_at_kst": kst(raw.posted_at), "fetched_at_kst": kst(post.fetched_at),
            "content_hash": raw.content_hash, "text_sha256": hashlib.sha256(raw.text.encode("utf-8")).hexdigest()}


async def scan(settings: Any, name: str, classifier: Any = None, max_batches: int | None = None) -> ScanResult:
    config = load_config(settings.detect_sources_file)
    if name not in config:
        raise KeyError(f"no source named {name!r} in {settings.detect_sources_file}")
    cfg = dict(config[name])
    cfg.setdefault("base_dir", str(settings.detect_sources_file.parent))
    classifier = classifier or load_classifier(settings)
    evidence = EvidenceStore.for_settings(settings)
    result, started = ScanResult(name), time.perf_counter()
    async with make_source(name, cfg, settings) as source:
        with store.session(settings) as s:
            cursor = store.get_cursor(s, name)
        n = 0
        async for posts, new_cursor in source.batches(cursor):
            result.fetched += len(posts)
            # Downloads and classification happen outside any transaction: a slow image host must not
            # hold the database. The write transaction checks again for posts stored meanwhile.
            with store.session(settings) as s:
                seen = store.existing(s, posts)
            downloaded: list[tuple[RawPost, list[tuple[str, bytes]]]] = []
            for raw in posts:
                if raw.content_hash in seen:
                    result.duplicates += 1
                    continue
                seen.add(raw.content_hash)
                downloaded.append((raw, await _images(source, raw)))
            verdicts = classifier.classify_many([(raw.text, [b for _, b in images]) for raw, images in downloaded])
            fresh = [(raw, images, v) for (raw, images), v in zip(downloaded, verdicts, strict=True)]
            with store.session(settings) as s, s.begin():
                stored_meanwhile = store.existing(s, [raw for raw, _, _ in fresh])
                for raw, images, verdict in fresh:
                    if raw.content_hash in stored_meanwhile:
                        result.duplicates += 1
                        continue
                    _store(s, name, raw, images, verdict, evidence, result)
                store.set_cursor(s, name, new_cursor)
            n += 1
            if max_batches is not None and n >= max_batches:
                break
    result.seconds = time.perf_counter() - started
    log.info("source %s: %s", name, result.as_dict())  # counts only, never post text
    return result


def _store(s: Session, source: str, raw: RawPost, images: list[tuple[str, bytes]], verdict: Any,
           evidence: EvidenceStore, result: ScanResult) -> None:
    """One classified post into the open transaction; flagged posts get their evidence entry."""
    flagged = is_flagged(verdict)
    post = DetectedPost(
        source=source, platform=raw.platform, post_key=raw.post_key, content_hash=raw.content_hash,
        post_id=raw.post_id, url=raw.url, account=raw.account, text=raw.text,
        image_urls=raw.image_urls, posted_at=raw.posted_at, fetched_at=utcnow(),
        category=verdict.category, youth=bool(verdict.youth), score=float(verdict.score),
        verdict=verdict.as_dict() if flagged else None,
        status=PostStatus.flagged if flagged else PostStatus.clear)
    s.add(post)
    result.stored += 1
    if flagged:
        s.flush()  # the post id goes into the evidence entry
        files = [("capture", raw.capture, {"type": raw.capture_type})] if raw.capture else []
        files += [("image", data, {"url_sha256": hashlib.sha256(url.encode()).hexdigest()}) for url, data in images]
        post.evidence_seq = evidence.record(s, post.id, evidence_payload(post, raw, verdict), files)
        result.flagged += 1
        result.flagged_ids.append(post.id)
