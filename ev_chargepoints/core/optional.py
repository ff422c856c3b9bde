"""Probe the optional Python packages once (some QGIS installs lack them)."""

from __future__ import annotations

import importlib.util
from typing import Optional

# package -> what the user loses without it
OPTIONAL = {
    "pandas": "importing, utilisation, summaries and site analysis",
}
FAST_PATH = {
    "pyogrio": "reading boundary files other than GeoPackage, such as Shapefile or GeoJSON",
}
DEBIAN_PACKAGES = {"pandas": "python3-pandas"}  # pyogrio has no Debian package: pip only


def _absent(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is None
    except (ImportError, ValueError):  # a broken or half-removed install
        return True


def missing_packages() -> list[str]:
    """Required-for-analysis packages that are not installed."""
    return [name for name in OPTIONAL if _absent(name)]


def missing_fast_path() -> list[str]:
    return [name for name in FAST_PATH if _absent(name)]


def install_hint(names: list[str]) -> str:
    """What is missing, what it costs, and how to add it (one paragraph)."""
    joined = " ".join(names)
    listed = ", ".join(
        f"{name} (needed for {OPTIONAL[name] if name in OPTIONAL else FAST_PATH[name]})"
        if name in OPTIONAL or name in FAST_PATH else name for name in names)
    apt = [DEBIAN_PACKAGES[n] for n in names if n in DEBIAN_PACKAGES]
    debian = (f" or 'sudo apt install {' '.join(apt)}' on Debian/Ubuntu" if apt else "")
    return (f"Missing Python package(s): {listed}. Install them into "
            f"the Python QGIS uses, e.g. 'python3 -m pip install {joined}' (OSGeo4W shell "
            f"on Windows){debian}, then restart QGIS.")


def startup_notice() -> Optional[str]:
    """The one message to show when the plugin loads, or None if nothing is missing."""
    missing = missing_packages() + missing_fast_path()
    if not missing:
        return None
    hint = install_hint(missing)
    if missing_packages():
        return hint + " Until then the features that need them are switched off."
    return hint + " Everything else works."
