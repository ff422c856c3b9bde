"""Settings under ``ev_chargepoints/`` in QgsSettings, and per-project overrides.

Only plain values and ``authcfg`` ids are written; the secrets stay in the QGIS
authentication database.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from qgis.core import QgsApplication, QgsProject, QgsSettings

from ..core.config import Settings

PREFIX = "ev_chargepoints/"
PROJECT_SCOPE = "ev_chargepoints"


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
