"""Probe the optional Python packages once (some QGIS installs lack them)."""

from __future__ import annotations

import importlib.util
from typing import Callable, Optional

# The notice is shown by the plugin in the user's language: its texts are marked for
# pylupdate5 (context "OptionalPackages", translated in i18n/) and the plugin passes
# QCoreApplication.translate; this module stays free of Qt.
CONTEXT = "OptionalPackages"
Translate = Callable[[str, str], str]


def QT_TRANSLATE_NOOP(context: str, text: str) -> str:
    """Qt's marker for pylupdate5 (the text is translated where it is shown)."""
    return text


def untranslated(context: str, text: str) -> str:
    return text


# package -> what the user loses without it
OPTIONAL = {
    "pandas": QT_TRANSLATE_NOOP("OptionalPackages",
                                "importing, utilisation, summaries and site analysis"),
}
# package -> what the user loses without it; everything else works (charge points, areas,
# the map without usage figures)
HISTORY = {
    "duckdb": QT_TRANSLATE_NOOP("OptionalPackages",
                                "usage history: sessions, status and utilisation"),
}
FAST_PATH = {
    "pyogrio": QT_TRANSLATE_NOOP("OptionalPackages", "reading boundary files other than "
                                 "GeoPackage, such as Shapefile or GeoJSON"),
}
DEBIAN_PACKAGES = {"pandas": "python3-pandas"}  # duckdb, pyogrio: no Debian package, pip only


def _absent(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is None
    except (ImportError, ValueError):  # a broken or half-removed install
        return True


def missing_packages() -> list[str]:
    """Required-for-analysis packages that are not installed."""
    return [name for name in OPTIONAL if _absent(name)]


def missing_history() -> list[str]:
    """The usage history's engine (duckdb), when it is not installed."""
    return [name for name in HISTORY if _absent(name)]


def missing_fast_path() -> list[str]:
    return [name for name in FAST_PATH if _absent(name)]


def install_hint(names: list[str], translate: Translate = untranslated) -> str:
    """What is missing, what it costs, and how to add it (one paragraph)."""
    uses = {**OPTIONAL, **HISTORY, **FAST_PATH}
    listed = ", ".join(
        translate("OptionalPackages", "{name} (needed for {use})").format(
            name=name, use=translate(CONTEXT, uses[name])) if name in uses else name
        for name in names)
    apt = [DEBIAN_PACKAGES[n] for n in names if n in DEBIAN_PACKAGES]
    debian = translate("OptionalPackages", " or '{command}' on Debian/Ubuntu").format(
        command=f"sudo apt install {' '.join(apt)}") if apt else ""
    return translate(
        "OptionalPackages",
        "Missing Python package(s): {listed}. Install them into the Python QGIS uses, "
        "e.g. '{command}' (OSGeo4W shell on Windows){debian}, then restart QGIS.").format(
        listed=listed, command=f"python3 -m pip install {' '.join(names)}", debian=debian)


def startup_notice(translate: Translate = untranslated) -> Optional[str]:
    """The one message to show when the plugin loads (in the language ``translate``
    gives), or None if nothing is missing."""
    missing = missing_packages() + missing_history() + missing_fast_path()
    if not missing:
        return None
    hint = install_hint(missing, translate)
    if missing_packages():
        return hint + translate("OptionalPackages",
                                " Until then the features that need them are switched off.")
    if missing_history():
        return hint + translate("OptionalPackages",
                                " Until then charge points and areas load without usage.")
    return hint + translate("OptionalPackages", " Everything else works.")
