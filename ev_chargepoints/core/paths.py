"""The one place that knows where the plugin's files are.

The repository root is the plugin folder as installed, so ``resources/``,
``i18n/`` and ``metadata.txt`` sit one level above this package.
"""

from __future__ import annotations

import configparser
from functools import lru_cache
from pathlib import Path

PLUGIN_ROOT = Path(__file__).resolve().parents[2]
RESOURCES = PLUGIN_ROOT / "resources"
I18N = PLUGIN_ROOT / "i18n"
LONDON_SNAPSHOT = RESOURCES / "data" / "london"


def resource(*parts: str) -> Path:
    return RESOURCES.joinpath(*parts)


@lru_cache(maxsize=1)
def plugin_metadata() -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(PLUGIN_ROOT / "metadata.txt", encoding="utf-8")
    return dict(parser["general"]) if parser.has_section("general") else {}


def plugin_version() -> str:
    return plugin_metadata().get("version", "0.0.0")
