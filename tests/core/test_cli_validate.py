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


# --- non-text input and report size ----------------------------------------------------

GPKG = RESOURCES / "data" / "london" / "london_boroughs.gpkg"
REFUSED_GPKG = ("error: london_boroughs.gpkg: not a text file (a SQLite database, such as "
                "a GeoPackage); expected a CSV or JSON file\n")


def test_a_geopackage_to_validate_is_refused_in_one_line_and_no_report_is_written(tmp_path):
    out = tmp_path / "report"
    result = cli("-q", "validate", GPKG, "--out", out)  # -q: no progress lines
    assert (result.returncode, result.stdout, result.stderr) == (2, "", REFUSED_GPKG)
    assert not out.exists()


def test_a_geopackage_as_reference_data_is_refused_too(tmp_path):
    out = tmp_path / "report"
    result = cli("-q", "validate", EXAMPLES / "usage_return_valid.csv", "--reference", GPKG,
                 "--out", out)
    assert (result.returncode, result.stderr) == (2, REFUSED_GPKG)
    assert not out.exists()


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def test_reports_stay_bounded_and_say_what_was_cut(tmp_path):
    """Text from the files (a 200,000-character header cell, 20,000-character device ids
    of real registry rows) is cut in the report, which says how much was cut."""
    import csv
    import gzip

    with gzip.open(RESOURCES / "data" / "london" / "ncr_chargepoints_london_2022-05.csv.gz",
                   "rt", encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = [next(reader) for _ in range(25)]
    long_ids = [f"{n:02d}" + "x" * 20_000 for n in range(len(rows))]
    ncr = tmp_path / "ncr_long_ids.csv"
    with ncr.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows([[long_ids[i]] + row[1:] for i, row in enumerate(rows)])
    header_cell = tmp_path / "one_long_header.csv"
    header_cell.write_text("h" * 200_000 + ",b\n1,2\n", encoding="utf-8")
    out = tmp_path / "report"

    result = cli("validate", ncr, header_cell, "--out", out)
    assert result.returncode == 0, result.stderr
    text = (out / "report.json").read_text(encoding="utf-8")
    assert len(text.encode("utf-8")) < 64_000
    report = json.loads(text)
    assert max(len(s) for s in _strings(report)) < 1_000
    unreadable = next(i for i in report["inputs"] if i["name"] == header_cell.name)
    assert "more characters cut" in unreadable["error"]
    stale = [c for op in report["operators"] if op["sources"] == [ncr.name]
             for c in op["checks"] if c["code"] == "stale"]
    # every row of the May 2022 snapshot is older than 90 days before today
    updated = [row[header.index("dateUpdated")] or row[header.index("dateCreated")]
               for row in rows]
    assert all(u and u[:10] < "2022-06-01" for u in updated)
    assert sum(c["count"] for c in stale) == len(rows)
    examples = [e["id"] for c in stale for e in c["examples"]]
    assert sorted(e[:2] for e in examples) == sorted(i[:2] for i in long_ids)
    shown = 200  # characters of a value quoted in a report
    assert all(e == f"{e[:shown]}… ({len(long_ids[0]) - shown:,} more characters cut)"
               for e in examples)
    assert (out / "report.html").stat().st_size < 128_000
