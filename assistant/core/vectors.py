"""Embedding vectors kept by text hash in a NumPy file, for model training: a rebuild embeds only the
texts it has not seen (the risk and detection models both train on e5 vectors)."""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

BATCH = 256


def cached_vectors(read: list[str], embed: Callable[[list[str]], np.ndarray], cache: Path,
                   dim: int = 384) -> np.ndarray:
    """Vectors of `read` (each exactly what the model reads), embedding only those not in `cache`.
    The file is saved after every batch, so an interrupted build resumes where it stopped."""
    keys = [hashlib.sha1(t.encode("utf-8")).hexdigest() for t in read]
    known: dict[str, np.ndarray] = {}
    if cache.exists():
        with np.load(cache) as data:
            known = {k: data[k] for k in data.files}
    missing = [(k, t) for k, t in dict(zip(keys, read, strict=True)).items() if k not in known]
    cache.parent.mkdir(parents=True, exist_ok=True)
    for i in range(0, len(missing), BATCH):
        batch = missing[i:i + BATCH]
        for (k, _), v in zip(batch, embed([t for _, t in batch]), strict=True):
            known[k] = v
        np.savez(cache, **known)  # type: ignore[arg-type]
    return np.stack([known[k] for k in keys]) if keys else np.zeros((0, dim), dtype=np.float32)
