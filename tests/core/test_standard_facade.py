"""The data standard behind the Workspace facade: the front doors (CLI, Processing,
conformance dialog) validate and write reports through ``Workspace`` only, and the
facade's store-less methods give what the validator itself gives."""

import ast
import json
from pathlib import Path

import pandas as pd
import pytest
from replay_server import ReplayServer

import ev_chargepoints
from ev_chargepoints.core import errors, paths
from ev_chargepoints.core.sources import parsers
from ev_chargepoints.core.sources.transport import RequestsTransport
from ev_chargepoints.core.standard import conformance
from ev_chargepoints.core.standard.model import UNKNOWN_OPERATOR
from ev_chargepoints.core.standard.report import load_report
from ev_chargepoints.core.workspace import Workspace

PACKAGE = Path(ev_chargepoints.__file__).resolve().parent
FRONT_DOORS = ("cli/validate.py", "processing/algorithms/validate_algorithm.py",
               "gui/conformance_dialog.py")
# what runs a validation or writes a report: only the facade may reach for these
RUNNERS = {"conformance", "checks", "inputs", "report", "validate_files",
           "validate_ocpi_feed", "validate_sources", "write_report", "render_html",
           "report_json"}
NCR = paths.resource("data", "london", "ncr_chargepoints_london_2022-05.csv.gz")
EXAMPLES = paths.resource("standard", "examples")


def standard_imports(source: str) -> set[str]:
    """Every ``module:name`` a front door imports from the data standard's package."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and "core.standard" in (node.module or ""):
            module = node.module.rpartition("core.standard")[2].lstrip(".")
            found |= {f"{module}:{alias.name}" for alias in node.names}
    return found


def runners_imported(source: str) -> set[str]:
    return {entry for entry in standard_imports(source)
            if entry.split(":")[0] in RUNNERS or entry.split(":")[1] in RUNNERS}


@pytest.mark.parametrize("front_door", FRONT_DOORS)
def test_front_doors_validate_only_through_the_workspace(front_door):
    source = (PACKAGE / front_door).read_text(encoding="utf-8")
    assert standard_imports(source)  # they do show the standard's verdicts and figures
    assert runners_imported(source) == set()
    assert "Workspace.write_report(" in source and "Workspace.validate" in source


def test_the_import_finder_sees_a_front_door_running_the_validator():
    old = ("from ..core.standard import conformance\n"
           "from ..core.standard.report import write_report\n"
           "from ...core.standard.model import MIN_OBSERVED_HOURS\n")
    assert runners_imported(old) == {":conformance", "report:write_report"}


def without_run_details(report) -> dict:
    data = report.to_dict()
    for key in ("generated_utc", "timings_s"):
        data.pop(key)
    return data


def test_workspace_validate_files_on_the_real_registry(tmp_path):
    report = Workspace.validate_files([NCR], reference=None, period=None,
                                      as_of="2022-05-04", stale_days=365,
                                      max_gap_hours=None, min_observed_hours=None)
    # None takes the validator's defaults: the same report as calling it directly
    direct = conformance.validate_files([NCR], as_of="2022-05-04", stale_days=365)
    assert without_run_details(report) == without_run_details(direct)
    # devices per operator, counted independently from the parsed registry
    devices = parsers.parse_file(NCR).table("devices")
    expected = devices["operator"].fillna(UNKNOWN_OPERATOR).value_counts()
    got = pd.Series({op.operator: op.devices for op in report.operators if op.devices})
    assert got.sort_index().to_dict() == expected.sort_index().to_dict()
    assert sum(got) == len(devices) == 8940

    html_path, json_path = Workspace.write_report(report, tmp_path / "out")
    assert (html_path, json_path) == (tmp_path / "out" / "report.html",
                                      tmp_path / "out" / "report.json")
    assert load_report(json_path) == report
    assert html_path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_workspace_validate_files_passes_options_on():
    files = [EXAMPLES / "usage_return_valid.csv"]
    reference = EXAMPLES / "device_reference_valid.csv"
    report = Workspace.validate_files(files, reference=reference, period="2024-Q1",
                                      stale_days=30, max_gap_hours=2.0,
                                      min_observed_hours=0.0)
    assert (report.period, report.stale_days, report.max_gap_hours,
            report.min_observed_hours) == ("2024-Q1", 30.0, 2.0, 0.0)
    assert [i.role for i in report.inputs] == ["validated", "reference"]
    with pytest.raises(errors.EvChargepointsError) as caught:
        Workspace.validate_files(files, max_gap_hours=0)
    assert "\n" not in caught.value.message and "more than 0 hours" in caught.value.message


def test_workspace_validate_feed_from_the_replay_server(tmp_path):
    with ReplayServer() as srv:
        url = srv.url + "/ocpi/2.2.1/locations"
        report = Workspace.validate_feed(url, RequestsTransport(), token=None, period=None,
                                         reference=None, as_of="2022-05-04",
                                         stale_days=365, max_gap_hours=None)
        direct = conformance.validate_ocpi_feed(url, RequestsTransport(),
                                                as_of="2022-05-04", stale_days=365)
        payload = srv.fixtures.locations
    assert without_run_details(report) == without_run_details(direct)
    assert report.inputs[0].kind == "ocpi-locations"
    assert report.inputs[0].rows == len(payload)
    named = {loc["operator"]["name"] for loc in payload if "operator" in loc}
    assert named and named <= {op.operator for op in report.operators}
    devices = parsers.parse_bytes(json.dumps(payload).encode(), "locations.json").table(
        "devices")
    assert sum(op.devices for op in report.operators) == len(devices) > 0
    Workspace.write_report(report, tmp_path)
    saved = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert saved["inputs"][0]["name"] == report.inputs[0].name
