"""Real and SYNTHETIC usage never share a store, and every output of a store
holding SYNTHETIC usage says so.

A store records the kind of usage it holds in ``store_meta`` (key
``usage_kind``: "real" or "synthetic"), written in the transaction of its first
usage import. A store from before that key is judged by its import log: an
import in the ``synthetic-sessions`` format makes it SYNTHETIC, any other
sessions make it real. Imports that bring no sessions (devices, connectors,
status) are welcome in both kinds.

SYNTHETIC usage is the demo's (CLI ``demo``, "Load demo usage (synthetic)" in
QGIS) and lives in a store of its own; :func:`stamp` and :data:`NOTE` are the
one way outputs say so.
"""

from __future__ import annotations

from typing import Optional

SYNTHETIC_FORMAT = "synthetic-sessions"
META_KEY = "usage_kind"
REAL = "real"
SYNTHETIC = "synthetic"
NOTE = ("SYNTHETIC usage: demonstration figures modelled on Dundee sessions, "
        "not London's real usage")
SUFFIX = " — SYNTHETIC usage"


def incoming(result) -> Optional[str]:
    """The kind of usage a parse result brings, or None when it brings no sessions."""
    sessions = result.tables.get("sessions")
    if sessions is None or not len(sessions):
        return None
    return SYNTHETIC if result.format == SYNTHETIC_FORMAT else REAL


def inferred(import_log, session_count: int) -> Optional[str]:
    """The kind of a store without the meta key, from its import log and sessions."""
    if len(import_log):
        imported = import_log[import_log["outcome"] == "imported"]
        if (imported["format"] == SYNTHETIC_FORMAT).any():
            return SYNTHETIC
    return REAL if session_count else None


def refusal(held: str, store: str) -> str:
    """The one line that explains a refused import and says what to do instead."""
    if held == SYNTHETIC:
        return (f"{store} holds SYNTHETIC demo usage; import real usage into a store of its "
                "own (e.g. --store my-borough.gpkg, or another store in the plugin "
                "settings).")
    return (f"{store} holds real usage; SYNTHETIC demo usage goes into a store of its own "
            "(e.g. --store demo.gpkg, or 'Load demo usage (synthetic)' in QGIS).")


def stamp(text: str, synthetic: bool) -> str:
    """``text`` labelled as resting on SYNTHETIC usage when ``synthetic``."""
    return f"{text}{SUFFIX}" if synthetic and SUFFIX not in text else text
