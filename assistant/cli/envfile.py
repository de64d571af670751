"""Creates `.env` from `.env.example`, filling empty secrets with fresh random values."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from assistant.store.crypto import new_data_key

GENERATED = {
    "DASI_DATA_KEY": new_data_key,
    "DASI_SECRET_KEY": lambda: secrets.token_urlsafe(48),
}


def ensure_env(example: Path, target: Path) -> list[str]:
    """Write missing settings into `target`; returns the names it added. Existing values are kept."""
    existing = target.read_text(encoding="utf-8").splitlines() if target.exists() else []
    have = {line.split("=", 1)[0].strip() for line in existing if "=" in line and not line.lstrip().startswith("#")}
    added, out = [], list(existing)
    for line in example.read_text(encoding="utf-8").splitlines():
        if "=" not in line or line.lstrip().startswith("#"):
            if not existing:
                out.append(line)
            continue
        name, value = (part.strip() for part in line.split("=", 1))
        if name in have:
            continue
        if not value and name in GENERATED:
            value = GENERATED[name]()
        out.append(f"{name}={value}")
        added.append(name)
    if added:
        target.write_text("\n".join(out) + "\n", encoding="utf-8")
        os.chmod(target, 0o600)
    return added
