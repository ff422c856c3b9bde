"""Settings under ``ev_chargepoints/`` in QgsSettings, and per-project overrides.

Only plain values and ``authcfg`` ids are written; the secrets stay in the QGIS
authentication database.

The front doors get the store from here: :func:`store_target` for the settings,
:func:`target_for` for a *store reference* a layer or dock remembers (a
GeoPackage path, or ``postgres-connection:<name>`` for a saved QGIS PostgreSQL
connection; never a secret).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from qgis.core import QgsApplication, QgsProject, QgsSettings

from ..core.config import Settings
from ..core.store import address
from ..core.store.address import StoreTarget, is_database_target, parse_target

PREFIX = "ev_chargepoints/"
PROJECT_SCOPE = "ev_chargepoints"
CONNECTION_REFERENCE = "postgres-connection:"
DEMO_STORE = "demo.gpkg"


def default_store_path() -> str:
    return str(Path(QgsApplication.qgisSettingsDirPath()) / "ev_chargepoints" / "workspace.gpkg")


def load(qsettings: Optional[QgsSettings] = None) -> Settings:
    qs = qsettings or QgsSettings()
    raw = qs.value(PREFIX + "settings_json", "", type=str)
    settings = Settings.from_dict(json.loads(raw)) if raw else Settings()
    if not settings.store_path:
        settings.store_path = default_store_path()
    return settings


def save(settings: Settings, qsettings: Optional[QgsSettings] = None) -> None:
    settings.validate()
    qs = qsettings or QgsSettings()
    qs.setValue(PREFIX + "settings_json", json.dumps(settings.to_dict(), sort_keys=True))


def save_to_project(settings: Settings, project: Optional[QgsProject] = None) -> None:
    settings.validate()
    (project or QgsProject.instance()).writeEntry(
        PROJECT_SCOPE, "settings_json", json.dumps(settings.to_dict(), sort_keys=True))


def load_from_project(project: Optional[QgsProject] = None) -> Optional[Settings]:
    value, found = (project or QgsProject.instance()).readEntry(PROJECT_SCOPE, "settings_json", "")
    return Settings.from_dict(json.loads(value)) if found and value else None


def store_reference(settings: Optional[Settings] = None) -> str:
    """The store as layers and docks remember it (safe in a project file)."""
    settings = settings or load()
    if settings.store_connection:
        return CONNECTION_REFERENCE + settings.store_connection
    return settings.store_path or default_store_path()


def connection_name(reference) -> Optional[str]:
    """The saved connection a store reference names, or None for a file or address."""
    text = str(reference or "")
    return text[len(CONNECTION_REFERENCE):] if text.startswith(CONNECTION_REFERENCE) else None


def target_for(reference) -> StoreTarget:
    """The store a reference names, credentials resolved in memory (main thread: the
    authentication database is read here)."""
    name = connection_name(reference)
    if name is not None:
        from .pg_connection import store_target as connection_target
        return connection_target(name)
    return parse_target(reference)


def store_target(settings: Optional[Settings] = None) -> StoreTarget:
    """The current store of the plugin settings, ready for ``Workspace(...)``."""
    return target_for(store_reference(settings))


def demo_store_path(reference=None) -> str:
    """The demo's own store, for SYNTHETIC usage only: ``demo.gpkg`` beside the
    workspace GeoPackage (in the plugin's folder when the workspace store is a
    database), never the workspace store itself."""
    reference = str(reference or store_reference())
    if connection_name(reference) is not None or is_database_target(reference):
        folder = Path(default_store_path()).parent
    else:
        folder = Path(reference).parent
    path = folder / DEMO_STORE
    return str(path if str(path) != reference else folder / f"synthetic_{DEMO_STORE}")


def store_exists(reference) -> bool:
    """False for a GeoPackage not created yet; a database store is checked on opening."""
    if not reference:
        return False
    if connection_name(reference) is not None:
        return True
    return address.store_exists(reference)
