"""`python -m ev_chargepoints validate`: files and OCPI feeds to a conformance report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from replay_server import ReplayServer

from ev_chargepoints.core.paths import RESOURCES

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = RESOURCES / "standard" / "examples"


def cli(*args):
    return subprocess.run([sys.executable, "-m", "ev_chargepoints", *map(str, args)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_validate_example_files_writes_html_and_json(tmp_path):
    result = cli("validate", EXAMPLES / "usage_return_check_impossible_energy.csv",
                 "--reference", EXAMPLES / "device_reference_valid.csv", "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    verdicts = {op["operator"]: op["verdict"] for op in report["operators"]}
    assert "fail" in verdicts.values()
    assert any(line.startswith("FAIL") for line in result.stdout.splitlines())
    html = (tmp_path / "report.html").read_text()
    assert "<script" not in html.lower()


def test_validate_a_valid_return_passes(tmp_path):
    result = cli("validate", EXAMPLES / "usage_return_valid.csv", "--reference",
                 EXAMPLES / "device_reference_valid.csv", "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert {op["verdict"] for op in report["operators"]} == {"pass"}


def test_validate_an_ocpi_feed(tmp_path):
    with ReplayServer() as server:
        result = cli("validate", server.url + "/ocpi/2.2.1/locations", "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert len(report["operators"]) >= 3


def test_missing_file_is_one_line(tmp_path):
    result = cli("validate", tmp_path / "nope.csv", "--out", tmp_path)
    assert result.returncode == 2 and "No such file" in result.stderr
    assert "Traceback" not in result.stderr
