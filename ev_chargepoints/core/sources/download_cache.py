"""On-disk download cache: an unchanged resource is downloaded once.

Entries are keyed by (dataset id, resource id, version), where the version is
whatever the publisher gives to tell editions apart (hash, check_timestamp or
updatedAt). Each entry is a folder named by a hash of that key, holding the
file under a sanitised name and a small ``entry.json``; names from feeds never
become paths. Writes are atomic (temporary file + ``os.replace``) and the cache
keeps under a size cap by evicting the least recently used entries.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import threading
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional
from urllib.parse import unquote

from ..errors import StoreError
from ..files import written_whole

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 2 * 1024 ** 3
META = "entry.json"
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                     *(f"LPT{i}" for i in range(1, 10))}


def safe_filename(name: str, default: str = "download", max_len: int = 120) -> str:
    """A plain file name made from an untrusted one (URL path, title, header).

    Keeps only the last path component, letters, digits, ``.``, ``-`` and
    ``_``; never returns ``.``/``..``, a hidden name or a Windows device name.
    """
    text = unquote(str(name or ""))
    text = re.split(r"[/\\]", text)[-1]
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._ ")
    text = re.sub(r"\.{2,}", ".", text)
    if not text:
        text = default
    stem, dot, ext = text.rpartition(".")
    if not dot:
        stem, ext = text, ""
    if stem.upper() in _WINDOWS_RESERVED:
        stem = "_" + stem
    if len(ext) > 16:
        stem, ext = f"{stem}_{ext}"[: max_len], ""
    ext = f".{ext}" if ext else ""
    return stem[: max_len - len(ext)] + ext


def cache_key(dataset_id: str, resource_id: str, version: str) -> str:
    raw = json.dumps([str(dataset_id), str(resource_id), str(version)])
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:40]


@dataclass(frozen=True)
class CacheEntry:
    key: str
    path: Path
    dataset_id: str
    resource_id: str
    version: str
    size: int
    last_used: float


class DownloadCache:
    """Files keyed by (dataset id, resource id, version), capped at ``max_bytes``."""

    def __init__(self, root, max_bytes: int = DEFAULT_MAX_BYTES):
        self.root = Path(root)
        self.max_bytes = int(max_bytes)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<DownloadCache {self.root} max {self.max_bytes:,} bytes>"

    # lookups
    def get(self, dataset_id: str, resource_id: str, version: Optional[str]) -> Optional[Path]:
        """The cached file for this edition, or None. A hit counts as a use (LRU)."""
        if not version:
            return None
        entry_dir = self.root / cache_key(dataset_id, resource_id, version)
        meta = _read_meta(entry_dir)
        if meta is None:
            return None
        path = entry_dir / meta["filename"]
        if not path.is_file() or path.stat().st_size != meta.get("size"):
            return None
        meta["last_used"] = time.time()
        try:
            _atomic_write(entry_dir / META, json.dumps(meta).encode("utf-8"))
        except OSError:  # a read-only cache still serves hits
            pass
        return path

    def entries(self) -> List[CacheEntry]:
        out = []
        if not self.root.is_dir():
            return out
        for entry_dir in self.root.iterdir():
            meta = _read_meta(entry_dir)
            if meta is None:
                continue
            out.append(CacheEntry(entry_dir.name, entry_dir / meta["filename"],
                                  meta.get("dataset_id", ""), meta.get("resource_id", ""),
                                  meta.get("version", ""), int(meta.get("size", 0)),
                                  float(meta.get("last_used", 0))))
        return out

    def total_bytes(self) -> int:
        return sum(e.size for e in self.entries())

    # writes
    def put(self, dataset_id: str, resource_id: str, version: Optional[str], data: bytes,
            filename: str) -> Optional[Path]:
        """Store ``data``; returns its path, or None when it cannot be cached
        (no version to key it by, or larger than the whole cache)."""
        if not version or len(data) > self.max_bytes:
            return None
        key = cache_key(dataset_id, resource_id, version)
        entry_dir = self.root / key
        name = safe_filename(filename)
        if name == META:
            name = "_" + name
        with self._lock:
            try:
                entry_dir.mkdir(parents=True, exist_ok=True)
                _atomic_write(entry_dir / name, data)
                meta = {"dataset_id": str(dataset_id), "resource_id": str(resource_id),
                        "version": str(version), "filename": name, "size": len(data),
                        "created": time.time(), "last_used": time.time()}
                _atomic_write(entry_dir / META, json.dumps(meta).encode("utf-8"))
            except OSError as exc:
                raise StoreError(f"Could not write to the download cache in {self.root}: "
                                 f"{exc.strerror or exc}.") from None
            self._evict(keep=key)
        return entry_dir / name

    def clear(self) -> None:
        with self._lock:
            for entry_dir in list(self.root.iterdir()) if self.root.is_dir() else []:
                if entry_dir.is_dir() and (entry_dir / META).exists():
                    shutil.rmtree(entry_dir, ignore_errors=True)

    def _evict(self, keep: str) -> None:
        entries = sorted(self.entries(), key=lambda e: e.last_used)
        total = sum(e.size for e in entries)
        for entry in entries:
            if total <= self.max_bytes:
                break
            if entry.key == keep:
                continue
            shutil.rmtree(self.root / entry.key, ignore_errors=True)
            total -= entry.size
            log.debug("Evicted %s/%s from the download cache", entry.dataset_id,
                      entry.resource_id)


def _read_meta(entry_dir: Path) -> Optional[dict]:
    try:
        meta = json.loads((entry_dir / META).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    name = meta.get("filename") if isinstance(meta, dict) else None
    if not isinstance(name, str) or name != safe_filename(name):
        return None  # a tampered entry never points outside its folder
    return meta


def _atomic_write(path: Path, data: bytes) -> None:
    with written_whole(path) as fh:
        fh.write(data)


def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never half."""
    _atomic_write(Path(path), data)
