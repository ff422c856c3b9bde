"""Fixtures for the QGIS suite (pytest-qgis starts a headless QgsApplication)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_plugin_package(name: str = "ev_chargepoints_installed"):
    """Import the repository root the way QGIS imports an installed plugin folder."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, ROOT / "__init__.py", submodule_search_locations=[str(ROOT)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture()
def plugin_package():
    return load_plugin_package()


# --- deprecated API is an error in the plugin's own code ----------------------------------
# sip reports a call to deprecated QGIS API (a /Deprecated/ method or constructor) as a
# DeprecationWarning attributed to the *calling* Python frame: its module is the caller's
# __name__ (never "sip"), its filename the caller's file. A filter on the plugin's module
# names therefore turns exactly the deprecated calls made from ev_chargepoints/ into
# errors, whether imported as ``ev_chargepoints`` or, through load_plugin_package(), as
# ``ev_chargepoints_installed``. Deprecation warnings raised inside QGIS's or third-party
# code (attributed to their own modules) stay warnings.
PLUGIN_DEPRECATIONS_ARE_ERRORS = r"error::DeprecationWarning:ev_chargepoints(_installed)?(\.|$)"
QGIS_TESTS = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    if not config.pluginmanager.has_plugin("warnings"):  # -p no:warnings
        return
    for item in items:
        if QGIS_TESTS in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.filterwarnings(PLUGIN_DEPRECATIONS_ARE_ERRORS))


MASTER_PASSWORD = "ev-chargepoints-tests"


@pytest.fixture(scope="session")
def auth_manager(qgis_app):
    """The QGIS authentication database of the test profile, unlocked."""
    from qgis.core import QgsApplication

    manager = QgsApplication.authManager()
    if not manager.masterPasswordIsSet():
        assert manager.setMasterPassword(MASTER_PASSWORD, True), (
            "the test profile's auth database has another master password: "
            "remove .qgis-settings/ and run again")
    return manager


@pytest.fixture(scope="module")
def ev_provider(qgis_app, qgis_processing):
    """Processing initialised with the plugin's provider registered (re-registered if a
    plugin unload in another test removed it)."""
    from qgis.core import QgsApplication

    from ev_chargepoints.processing.provider import EvChargepointsProvider

    registry = QgsApplication.processingRegistry()
    provider = registry.providerById("evchargepoints")
    if provider is None:
        provider = EvChargepointsProvider()
        assert registry.addProvider(provider)
    yield provider


# --- the shared store (PostGIS) ----------------------------------------------------
from pg_fixtures import pg_cluster, pg_database, pg_dsn  # noqa: E402,F401
