"""Key rotation: re-encrypt every stored Fernet token under the newest data key.

DASI_DATA_KEY holds comma-separated keys, newest first: the first encrypts, all decrypt. After
prepending a new key, `dasi keys rotate` rewrites every token that the newest key cannot read, so the
old key can then be removed. Rotation is idempotent and resumable: a token already under the newest
key is skipped, each batch is its own transaction, and a row changed by the application meanwhile is
left alone (the UPDATE only applies if the column still holds the token that was read).

Where tokens live: every EncryptedText/EncryptedJSON column of the models (found by scanning
Base.metadata, so new tables are covered without editing this file), case_documents.content (bytes
token in a plain Text column), and detection's evidence files on disk (var/detection/evidence/files).
The evidence log's payloads are NOT rewritten: each log entry's hash covers its ciphertext, so
re-encrypting would break the tamper-evident chain; `rotate` reports how many stay on older keys.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy.engine import Engine

from assistant.core.settings import get_settings
from assistant.store import crypto
from assistant.store.registry import load_models

# Plain Text columns holding tokens that the column type does not reveal.
EXTRA_TOKEN_COLUMNS: tuple[tuple[str, str], ...] = (("case_documents", "content"),)
BATCH = 500


class RotationRefused(RuntimeError):
    """A rotation that cannot be done safely; the message is Korean, for the operator."""




def encrypted_columns(metadata: sa.MetaData | None = None) -> dict[str, list[str]]:
    """table name -> names of columns that hold Fernet tokens."""
    from assistant.store.base import EncryptedJSON, EncryptedText

    metadata = metadata or load_models()
    found: dict[str, list[str]] = {}
    for table in metadata.sorted_tables:
        cols = [c.name for c in table.columns if isinstance(c.type, (EncryptedText, EncryptedJSON))]
        if cols:
            found[table.name] = cols
    for table_name, col in EXTRA_TOKEN_COLUMNS:
        if table_name in metadata.tables and col not in found.setdefault(table_name, []):
            found[table_name].append(col)
    return found


@dataclass
class ColumnCount:
    rotated: int = 0
    current: int = 0  # already under the newest key
    unreadable: int = 0  # none of the configured keys opens it
    changed: int = 0  # rewritten by the application while we worked: run again


@dataclass
class RotationReport:
    columns: dict[str, ColumnCount] = field(default_factory=dict)  # "table.column" -> counts
    evidence_files: ColumnCount = field(default_factory=ColumnCount)
    evidence_log_old: int = 0  # log payloads not readable with the newest key alone

    @property
    def unreadable(self) -> int:
        return sum(c.unreadable for c in self.columns.values()) + self.evidence_files.unreadable

    @property
    def changed(self) -> int:
        return sum(c.changed for c in self.columns.values())


def _newest() -> Fernet:
    keys = get_settings().data_keys
    if not keys:
        raise crypto.MissingKeyError("DASI_DATA_KEY is not set")
    return Fernet(keys[0].encode())


def _under(fernet: Fernet, token: bytes) -> bool:
    try:
        fernet.decrypt(token)
        return True
    except InvalidToken:
        return False


def _raw_table(name: str, cols: list[str]) -> sa.TableClause:
    """The table with plain Text types, so tokens are read and written as they are (no decryption)."""
    return sa.table(name, sa.column("id", sa.Integer), *[sa.column(c, sa.Text) for c in cols])


def _batches(engine: Engine, t: sa.TableClause, col: str, size: int) -> Iterator[list[tuple[int, str]]]:
    """Keyset pagination by id: stable while other rows are inserted, and cheap on big tables."""
    last = 0
    while True:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(t.c.id, t.c[col]).where(t.c.id > last, t.c[col].is_not(None))
                                .order_by(t.c.id).limit(size)).all()
        if not rows:
            return
        yield [(r[0], r[1]) for r in rows]
        last = rows[-1][0]


def existing_columns(engine: Engine) -> dict[str, list[str]]:
    """encrypted_columns() limited to the tables this database has (a half-migrated one may lack some)."""
    existing = set(sa.inspect(engine).get_table_names())
    return {t: c for t, c in encrypted_columns().items() if t in existing}


def preflight(engine: Engine, columns: dict[str, list[str]] | None = None) -> None:
    """Refuse before changing anything if the configured keys open none of the stored tokens."""
    columns = existing_columns(engine) if columns is None else columns
    cipher = crypto.cipher()
    seen = readable = 0
    with engine.connect() as conn:
        for table, cols in columns.items():
            t = _raw_table(table, cols)
            for col in cols:
                token = conn.execute(sa.select(t.c[col]).where(t.c[col].is_not(None)).order_by(t.c.id)
                                     .limit(1)).scalar()
                if token is None:
                    continue
                seen += 1
                readable += _under_multi(cipher, token)
    if seen and not readable:
        raise RotationRefused("설정된 DASI_DATA_KEY로 저장된 데이터를 하나도 복호화할 수 없습니다. "
                              "기존 키를 쉼표 뒤에 남겨 두었는지 확인하세요 (새 키,기존 키). "
                              "아무것도 바뀌지 않았습니다.")


def _under_multi(cipher, token: str) -> bool:
    try:
        cipher.decrypt(token.encode("ascii"))
        return True
    except (InvalidToken, UnicodeEncodeError):
        return False


def rotate_database(engine: Engine, batch: int = BATCH,
                    progress: Callable[[str, ColumnCount], None] = lambda name, count: None,
                    report: RotationReport | None = None) -> RotationReport:
    report = report or RotationReport()
    columns = existing_columns(engine)
    preflight(engine, columns)
    newest = _newest()
    for table, cols in columns.items():
        t = _raw_table(table, cols)
        for col in cols:
            count = report.columns.setdefault(f"{table}.{col}", ColumnCount())
            stmt = (sa.update(t).where(t.c.id == sa.bindparam("row_id"), t.c[col] == sa.bindparam("old"))
                    .values({col: sa.bindparam("new")}))
            for rows in _batches(engine, t, col, batch):
                params = []
                for row_id, token in rows:
                    raw = token.encode("ascii", "replace")
                    if _under(newest, raw):
                        count.current += 1
                        continue
                    try:
                        params.append({"row_id": row_id, "old": token, "new": crypto.rotate_token(token)})
                    except (InvalidToken, UnicodeEncodeError):
                        count.unreadable += 1
                if params:
                    with engine.begin() as conn:  # one transaction per batch
                        done = conn.execute(stmt, params).rowcount
                    done = len(params) if done is None or done < 0 else done
                    count.rotated += done
                    count.changed += len(params) - done
                progress(f"{table}.{col}", count)
    return report


def rotate_evidence(root: Path, report: RotationReport) -> None:
    """Evidence captures are files named by the hash of their plaintext: re-encrypting keeps the name."""
    newest, cipher = _newest(), crypto.cipher()
    files = root / "files"
    if files.is_dir():
        for path in sorted(files.glob("*/*.bin")):
            data = path.read_bytes()
            if _under(newest, data):
                report.evidence_files.current += 1
                continue
            try:
                new = cipher.rotate(data)
            except InvalidToken:
                report.evidence_files.unreadable += 1
                continue
            tmp = path.with_suffix(".rotating")
            tmp.write_bytes(new)
            os.chmod(tmp, 0o440)
            os.replace(tmp, path)  # atomic: a reader sees the old or the new file, never half
            report.evidence_files.rotated += 1
    log = root / "log.jsonl"
    if log.exists():
        import json

        with log.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip() and not _under(newest, json.loads(line)["payload"].encode("ascii")):
                    report.evidence_log_old += 1


def scrub(engine: Engine) -> bool:
    """SQLite keeps overwritten values in free pages and in the WAL until they are reused: rebuild the
    file so rotated-away tokens and erased content are really gone from it. PostgreSQL keeps old row
    versions in its data files until VACUUM FULL rewrites the table; that needs an exclusive lock, so
    it is left to the operator (the CLI says so). Returns False if SQLite was too busy to rebuild."""
    if engine.dialect.name != "sqlite":
        return True
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.exec_driver_sql("VACUUM")
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return True
    except sa.exc.OperationalError:
        return False


def rotate_all(engine: Engine, batch: int = BATCH,
               progress: Callable[[str, ColumnCount], None] = lambda name, count: None) -> RotationReport:
    report = rotate_database(engine, batch, progress)
    rotate_evidence(Path(get_settings().var_dir) / "detection" / "evidence", report)
    return report
