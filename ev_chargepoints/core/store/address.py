"""Where the history lives: a GeoPackage file (the default) or a shared PostGIS
database. :func:`open_store` takes what a user typed (a path, a
``postgresql://`` URI or a ``service=`` name) and returns the right backend;
both have the same methods (see :class:`~.interface.StoreBackend`). A GeoPackage
store is created only by what asks for it (imports and fetches); opening one that
does not exist otherwise is :class:`~..errors.StoreNotFound`, the one check of it.

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
from urllib.parse import parse_qs, urlsplit

from ..errors import StoreError, StoreNotFound
from .postgis.conninfo import conninfo_fields, describe_conninfo, is_uri

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
    return bool(is_uri(value) or _CONNINFO.match(value))


def parse_target(text) -> StoreTarget:
    """A path, ``postgresql://user@host:port/db`` or ``service=name [key=value ...]``."""
    if isinstance(text, StoreTarget):
        return text
    if isinstance(text, os.PathLike):
        return StoreTarget("geopackage", path=Path(text))
    value = str(text).strip()
    if is_uri(value):
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


def store_exists(target) -> bool:
    """False for a GeoPackage store not created yet; a database store is checked when it
    is opened (it needs the network and credentials)."""
    parsed = parse_target(target)
    return parsed.is_database or parsed.path.exists()


def open_store(target, create: bool = False):
    """The store at ``target``: a path, a database address or a :class:`StoreTarget`
    (whose in-memory ``password`` only a PostGIS store uses). A GeoPackage that does
    not exist is created with ``create`` (and its folder), else :class:`StoreNotFound`;
    a database store gets its schema when it has none."""
    parsed = parse_target(target)
    if parsed.is_database:
        from .postgis.backend import PostgisStore
        return PostgisStore.create_or_open(parsed.conninfo, password=parsed.password)
    from .geopackage import HistoryStore
    if not create and not store_exists(parsed):
        raise StoreNotFound(parsed.path)
    parsed.path.parent.mkdir(parents=True, exist_ok=True)
    return HistoryStore.create_or_open(parsed.path)
