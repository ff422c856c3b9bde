"""The core suite runs without QGIS: fail loudly if anything imported it."""

import sys

import pytest

FORBIDDEN = ("qgis", "PyQt5", "PyQt6", "sip")


def _forbidden_loaded():
    return sorted(m for m in sys.modules if m.split(".")[0] in FORBIDDEN)


@pytest.fixture(autouse=True, scope="session")
def _no_qgis_in_core_suite():
    assert not _forbidden_loaded(), f"QGIS/Qt imported before the core suite: {_forbidden_loaded()}"
    yield
    assert not _forbidden_loaded(), f"core code imported QGIS/Qt: {_forbidden_loaded()}"
