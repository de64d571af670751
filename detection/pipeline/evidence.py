"""Evidence for flagged posts: an append-only log (JSON lines) whose entries form a hash chain, and
the captures (fetched JSON/HTML, images) as encrypted files named by the SHA-256 of their content.

Editing, reordering or removing any entry breaks the chain; removing the last entries is caught by the
chain head kept in the database. `verify()` also re-hashes every file and every entry's payload.
Entries carry personal data, so the payload is encrypted; hashes are over the plaintext, so anyone
holding the key can show a capture is unchanged."""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from assistant.core.clock import KST, utcnow
from assistant.store import crypto
from detection.storage.tables import SourceCursor

GENESIS = "0" * 64
HEAD = "__evidence_head__"  # row in detection_cursors holding the last seq and hash


def kst(moment: datetime | None) -> str | None:
    return moment.astimezone(KST).isoformat(timespec="seconds") if moment else None


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _canonical(entry: dict[str, Any]) -> bytes:
    return json.dumps({k: v for k, v in entry.items() if k != "hash"}, sort_keys=True, ensure_ascii=False,
                      separators=(",", ":")).encode("utf-8")


def entry_hash(entry: dict[str, Any]) -> str:
    return sha256(entry["prev"].encode() + _canonical(entry))


@dataclass
class EvidenceStore:
    root: Path

    @classmethod
    def for_settings(cls, settings: Any) -> EvidenceStore:
        return cls(Path(settings.var_dir) / "detection" / "evidence")

    @property
    def log_path(self) -> Path:
        return self.root / "log.jsonl"

    def blob_path(self, digest: str) -> Path:
        return self.root / "files" / digest[:2] / f"{digest}.bin"

    def put_file(self, data: bytes) -> str:
        """Store once, never overwrite: same content = same name."""
        digest = sha256(data)
        path = self.blob_path(digest)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(crypto.cipher().encrypt(data))
            os.replace(tmp, path)
            os.chmod(path, 0o440)
        return digest

    def read_file(self, digest: str) -> bytes:
        return crypto.cipher().decrypt(self.blob_path(digest).read_bytes())

    def entries(self) -> list[dict[str, Any]]:
        if not self.log_path.exists():
            return []
        with self.log_path.open(encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]

    def payload(self, entry: dict[str, Any]) -> dict[str, Any]:
        return json.loads(crypto.decrypt(entry["payload"]))

    def record(self, session: Session, post_id: int, payload: dict[str, Any],
               files: list[tuple[str, bytes, dict[str, Any]]]) -> int:
        """Append one entry for a post; `files` are (kind, content, extra metadata). Returns its seq.
        The chain head is updated in `session`, committed by the caller with the post."""
        self.root.mkdir(parents=True, exist_ok=True)
        stored = [{"kind": kind, "sha256": self.put_file(data), "bytes": len(data), **meta}
                  for kind, data, meta in files]
        plain = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")
        fd = os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)  # one writer at a time: seq and prev must be the real last ones
            last = self._last()
            entry = {"seq": last[0] + 1, "prev": last[1], "at": kst(utcnow()), "post": post_id, "files": stored,
                     "payload_sha256": sha256(plain), "payload": crypto.cipher().encrypt(plain).decode("ascii")}
            entry["hash"] = entry_hash(entry)
            fh.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        head = session.info.get(HEAD)  # looked up once per transaction, not once per post
        if head is None:
            with session.no_autoflush:
                head = session.scalar(select(SourceCursor).where(SourceCursor.source == HEAD))
            if head is None:
                head = SourceCursor(source=HEAD, cursor={})
                session.add(head)
            session.info[HEAD] = head
        head.cursor = {"seq": entry["seq"], "hash": entry["hash"]}
        return entry["seq"]

    def _last(self) -> tuple[int, str]:
        """Last seq and hash, read from the end of the file (the log only grows)."""
        if not self.log_path.exists() or self.log_path.stat().st_size == 0:
            return 0, GENESIS
        with self.log_path.open("rb") as fh:
            fh.seek(max(0, self.log_path.stat().st_size - 65536))
            line = fh.read().rstrip(b"\n").rsplit(b"\n", 1)[-1]
        entry = json.loads(line)
        return int(entry["seq"]), str(entry["hash"])

    def verify(self, session: Session | None = None, deep: bool = True) -> list[str]:
        """Problems found, empty if the log, its files and (given a session) the head are intact."""
        problems: list[str] = []
        prev, seq = GENESIS, 0
        for n, entry in enumerate(self.entries(), start=1):
            if entry.get("seq") != seq + 1:
                problems.append(f"line {n}: seq {entry.get('seq')} after {seq}")
            if entry.get("prev") != prev:
                problems.append(f"line {n}: does not follow the previous entry (chain broken)")
            if entry_hash(entry) != entry.get("hash"):
                problems.append(f"line {n}: content does not match its hash (edited)")
            if deep:
                try:
                    plain = crypto.cipher().decrypt(entry["payload"].encode("ascii"))
                    if sha256(plain) != entry["payload_sha256"]:
                        problems.append(f"line {n}: payload does not match payload_sha256")
                except Exception:
                    problems.append(f"line {n}: payload cannot be decrypted")
                for f in entry.get("files", []):
                    try:
                        if sha256(self.read_file(f["sha256"])) != f["sha256"]:
                            problems.append(f"line {n}: file {f['sha256'][:12]} changed")
                    except FileNotFoundError:
                        problems.append(f"line {n}: file {f['sha256'][:12]} missing")
                    except Exception:
                        problems.append(f"line {n}: file {f['sha256'][:12]} unreadable")
            prev, seq = str(entry.get("hash")), int(entry.get("seq") or seq + 1)
        if session is not None:
            head = session.scalar(select(SourceCursor).where(SourceCursor.source == HEAD))
            want = head.cursor if head else {"seq": 0, "hash": GENESIS}
            if want.get("seq", 0) != seq or want.get("hash", GENESIS) != prev:
                problems.append(f"log ends at entry {seq}, the database expects {want.get('seq', 0)} (truncated?)")
        return problems
