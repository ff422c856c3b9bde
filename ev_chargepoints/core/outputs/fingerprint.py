"""A short, stable fingerprint of everything a printed page was made from.

Same inputs give the same fingerprint on any machine and day; changing any
input (one imported file, hence one session; the boundaries; the period; the
disclosure threshold; the plugin version) changes it. It is printed on
committee pages so a figure can be traced back to the store it came from.
"""

from __future__ import annotations

import hashlib
import json
from typing import Optional

import pandas as pd

LENGTH = 12
CONTENT_TABLES = ("devices", "connectors", "sessions", "status_snapshots")


def fingerprint_inputs(import_log: pd.DataFrame, counts: dict, boundary_version: str,
                       period: Optional[str], threshold: int, plugin_version: str,
                       extra: Optional[dict] = None) -> dict:
    """The canonical inputs: what the store holds, not when or in which order it arrived.

    Only imports that added content count (a file imported twice is logged
    twice but changes nothing), identified by their sha256; row counts of the
    content tables guard against edits outside the import path.
    """
    shas: list = []
    if len(import_log):
        done = import_log[import_log["outcome"].astype(str) == "imported"]
        shas = sorted({str(s) for s in done["sha256"] if s})
    return {
        "imports": shas,
        "counts": {t: int(counts.get(t, 0)) for t in CONTENT_TABLES},
        "boundaries": str(boundary_version or ""),
        "period": str(period or ""),
        "disclosure_threshold": int(threshold),
        "plugin_version": str(plugin_version),
        **({"extra": extra} if extra else {}),
    }


def fingerprint(inputs: dict, length: int = LENGTH) -> str:
    """Hex digest (``length`` characters) of the inputs as canonical JSON."""
    text = json.dumps(inputs, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def store_fingerprint(store, boundary_version: str, period: Optional[str],
                      threshold: int, plugin_version: str) -> tuple[str, dict]:
    """Fingerprint of a store (a :class:`~..store.geopackage.StoreBackend`) for one
    printed period, and its inputs."""
    decisions = len(store.decisions())  # officers' reconciliation decisions
    inputs = fingerprint_inputs(store.import_log(), store.counts(), boundary_version,
                                period, threshold, plugin_version,
                                {"reconciliation_decisions": decisions} if decisions else None)
    return fingerprint(inputs), inputs
