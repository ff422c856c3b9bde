"""The core suite runs without QGIS: fail loudly if anything imported it."""

import sys

import pytest

from ev_chargepoints.core.crs import pyproj_module

# Tests import pyogrio themselves (to read outputs independently), and pyogrio imports
# pyproj, which in this venv warns that it has no PROJ data unless the plugin has told
# it where the system keeps it first, as the plugin's own code does.
pyproj_module()

FORBIDDEN = ("qgis", "PyQt5", "PyQt6", "sip")


def _forbidden_loaded():
    return sorted(m for m in sys.modules if m.split(".")[0] in FORBIDDEN)


@pytest.fixture(autouse=True, scope="session")
def _no_qgis_in_core_suite():
    assert not _forbidden_loaded(), f"QGIS/Qt imported before the core suite: {_forbidden_loaded()}"
    yield
    assert not _forbidden_loaded(), f"core code imported QGIS/Qt: {_forbidden_loaded()}"


# --- reliability results (tests/core/test_reliability_*.py) ---------------------------
# Each reliability case records one row; at the end of the session the rows go to the
# JSON file named by EVCP_RELIABILITY_RESULTS (default: the system's temporary folder),
# which tools/reliability_report.py turns into docs/reliability.md.

import json  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402

RELIABILITY_ENV = "EVCP_RELIABILITY_RESULTS"
_RELIABILITY_ROWS: list = []


def reliability_results_path() -> str:
    return os.environ.get(RELIABILITY_ENV) or os.path.join(
        tempfile.gettempdir(), "ev_chargepoints-reliability-results.json")


@pytest.fixture(scope="session")
def reliability_record():
    """``record(suite, client, fault, outcome, message, cases=1)``: one row of the table."""

    def record(suite: str, client: str, fault: str, outcome: str, message: str = "",
               cases: int = 1) -> None:
        _RELIABILITY_ROWS.append({"suite": suite, "client": client, "fault": fault,
                                  "cases": int(cases), "outcome": outcome,
                                  "message": " ".join(str(message).split())[:400]})

    return record


def pytest_sessionfinish(session, exitstatus):
    if not _RELIABILITY_ROWS:
        return
    path = reliability_results_path()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    payload = {"exit_status": int(exitstatus), "rows": _RELIABILITY_ROWS}
    tmp = f"{path}.part"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=1, sort_keys=True)
    os.replace(tmp, path)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "reliability(client, fault): the row a hostile-input property fills in "
        "docs/reliability.md")


# --- the shared store (PostGIS) ----------------------------------------------------
from pg_fixtures import pg_cluster, pg_database, pg_dsn  # noqa: E402,F401
