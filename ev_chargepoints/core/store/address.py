"""Where the history lives: a GeoPackage file (the default) or a shared PostGIS
database. :func:`open_store` takes what a user typed (a path, a
``postgresql://`` URI or a ``service=`` name) and returns the right backend;
both have the same methods (see :class:`~.store.HistoryStore`).

Credentials never travel in the target: a password in a URI or conninfo is
refused. They come from libpq's own places (``~/.pgpass``, ``PGPASSFILE``, a
``pg_service.conf`` service) or, in QGIS, from the authentication database
(the plugin passes them in memory as ``password=``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional
from urllib.parse import parse_qs, unquote, urlsplit

from ..errors import StoreError

_URI = re.compile(r"^postgres(ql)?://", re.IGNORECASE)
_CONNINFO = re.compile(r"^\s*(service|host|dbname|hostaddr)\s*=", re.IGNORECASE)


@dataclass(frozen=True)
class StoreTarget:
    """A parsed store location. ``conninfo`` is what libpq gets (no password)."""

    kind: str                 # "geopackage" or "postgis"
    path: Optional[Path] = None
    conninfo: str = ""
    # Only ever set in memory by a front end that read it from a vault (QGIS authcfg).
    password: Optional[str] = field(default=None, repr=False, compare=False)

    @property
    def is_database(self) -> bool:
        return self.kind == "postgis"

    def describe(self) -> str:
        """A name safe for logs and messages (never a secret)."""
        if self.kind == "geopackage":
            return str(self.path)
        return describe_conninfo(self.conninfo)


def is_database_target(text) -> bool:
    if isinstance(text, StoreTarget):
        return text.is_database
    value = str(text)
    return bool(_URI.match(value) or _CONNINFO.match(value))


def parse_target(text) -> StoreTarget:
    """A path, ``postgresql://user@host:port/db`` or ``service=name [key=value ...]``."""
    if isinstance(text, StoreTarget):
        return text
    if isinstance(text, os.PathLike):
        return StoreTarget("geopackage", path=Path(text))
    value = str(text).strip()
    if _URI.match(value):
        parts = urlsplit(value)
        if parts.password is not None or "password" in parse_qs(parts.query):
            raise StoreError(_PASSWORD_REFUSED)
        return StoreTarget("postgis", conninfo=value)
    if _CONNINFO.match(value):
        if "password" in conninfo_fields(value):
            raise StoreError(_PASSWORD_REFUSED)
        return StoreTarget("postgis", conninfo=value)
    if not value:
        raise StoreError("No history store was given: name a GeoPackage file, a "
                         "postgresql:// address or a service=name.")
    return StoreTarget("geopackage", path=Path(value))


_PASSWORD_REFUSED = (
    "The store address contains a password. Passwords must not be written in "
    "commands, settings or project files: put it in ~/.pgpass (or the file named by "
    "PGPASSFILE) or in a pg_service.conf service, or use a QGIS authentication "
    "configuration in the plugin.")


def conninfo_fields(conninfo: str) -> dict[str, str]:
    """``key=value`` pairs of a libpq conninfo string (values may be quoted)."""
    fields = {}
    for match in re.finditer(r"(\w+)\s*=\s*('((?:\\.|[^'])*)'|\S+)", conninfo):
        key = match.group(1).lower()
        value = match.group(3) if match.group(3) is not None else match.group(2)
        fields[key] = value.replace("\\'", "'").replace("\\\\", "\\")
    return fields


def describe_conninfo(conninfo: str) -> str:
    """'PostgreSQL evcp on db.example:5432 (service london)' — no user secrets."""
    if _URI.match(conninfo):
        parts = urlsplit(conninfo)
        db = unquote(parts.path.lstrip("/")) or "(default database)"
        host = parts.hostname or "localhost"
        port = f":{parts.port}" if parts.port else ""
        return f"PostgreSQL {db} on {host}{port}"
    fields = conninfo_fields(conninfo)
    if "service" in fields and "dbname" not in fields:
        return f"PostgreSQL service {fields['service']}"
    db = fields.get("dbname", "(default database)")
    host = fields.get("host") or fields.get("hostaddr") or "localhost"
    port = f":{fields['port']}" if "port" in fields else ""
    service = f" (service {fields['service']})" if "service" in fields else ""
    return f"PostgreSQL {db} on {host}{port}{service}"


def open_store(target):
    """The store at ``target`` (created when new): a path, a database address or a
    :class:`StoreTarget` (whose in-memory ``password`` only a PostGIS store uses)."""
    parsed = parse_target(target)
    if parsed.is_database:
        from .postgis.backend import PostgisStore
        return PostgisStore.create_or_open(parsed.conninfo, password=parsed.password)
    from .geopackage import HistoryStore
    parsed.path.parent.mkdir(parents=True, exist_ok=True)
    return HistoryStore.create_or_open(parsed.path)
