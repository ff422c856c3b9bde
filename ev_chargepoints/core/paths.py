"""The one place that knows where the plugin's files are.

The repository root is the plugin folder as installed, so ``resources/``,
``i18n/`` and ``metadata.txt`` sit one level above this package. Installed with pip as
the ``ev-chargepoints`` distribution (pyproject.toml, setup.py), the package carries
``resources/`` inside it and the version is the distribution's.
"""

from __future__ import annotations

import configparser
from functools import lru_cache
from pathlib import Path

PLUGIN_ROOT = Path(__file__).resolve().parents[2]
DISTRIBUTION = "ev-chargepoints"  # the name pip installs the package under
_PACKAGED = Path(__file__).resolve().parents[1] / "resources"  # only in an installed wheel
INSTALLED = _PACKAGED.is_dir()
RESOURCES = _PACKAGED if INSTALLED else PLUGIN_ROOT / "resources"
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
    if INSTALLED:
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version(DISTRIBUTION)
        except PackageNotFoundError:
            return "0.0.0"
    return plugin_metadata().get("version", "0.0.0")
