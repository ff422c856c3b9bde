"""Probe the optional Python packages once (some QGIS installs lack them)."""

from __future__ import annotations

import importlib.util

# package -> what the user loses without it
OPTIONAL = {
    "pandas": "importing, utilisation, summaries and site analysis",
}
FAST_PATH = {
    "pyogrio": "fast columnar reading of the history store on the headless path",
}


def missing_packages() -> list[str]:
    """Required-for-analysis packages that are not installed."""
    return [name for name in OPTIONAL if importlib.util.find_spec(name) is None]


def missing_fast_path() -> list[str]:
    return [name for name in FAST_PATH if importlib.util.find_spec(name) is None]


def install_hint(names: list[str]) -> str:
    joined = " ".join(names)
    return (f"Missing Python package(s): {joined}. Install them into the Python QGIS uses, "
            f"e.g. 'python3 -m pip install {joined}' (OSGeo4W shell on Windows) or "
            f"'sudo apt install python3-pandas' on Debian/Ubuntu.")
