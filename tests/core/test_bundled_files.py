"""Every file the plugin ships imports or validates exactly as its README says.

The expectations are read from the documents, not written here: the data standard's
example table (docs/data-standard.md §7, with the examples' README) and the bundled
data's README (resources/data/README.md). Each file goes through the real front door
(``Workspace.import_files`` into a real GeoPackage store, ``conformance.validate_files``)
and what comes out is compared with the document and with the file read independently
(csv, gzip, sqlite3, pandas).
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from ev_chargepoints.core.paths import RESOURCES
from ev_chargepoints.core.standard import conformance, model
from ev_chargepoints.core.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
STANDARD_DOC = ROOT / "docs" / "data-standard.md"
EXAMPLES = RESOURCES / "standard" / "examples"
DATA = RESOURCES / "data"
DATA_README = (DATA / "README.md").read_text(encoding="utf-8")
REFERENCE = EXAMPLES / "device_reference_valid.csv"
# the examples are dated 2024: they are checked for the quarter the data standard's
# §7 names for them (as of its end), so that last_updated is not stale by today's date
EXAMPLE_PERIOD = "2024-Q3"


# --- what the documents say -----------------------------------------------------------------

def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start:] if end < 0 else text[start:end]


def _table(section: str) -> list[list[str]]:
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[2:]]


def example_expectations() -> dict[str, tuple[list[tuple[str, str]], str]]:
    """file name -> ([(check code, severity)], why) from §7 of the data standard."""
    section = _section(STANDARD_DOC.read_text(encoding="utf-8"), "## 7. Example files")
    listed = {}
    for name_cell, check_cell, why in _table(section):
        pattern = name_cell.strip("`")
        checks = []
        if check_cell != "–":
            names, severity = re.fullmatch(r"(.+) \((fail|warn)\)", check_cell).groups()
            for short in names.split(" or "):
                codes = [code for code, (title, _) in model.CHECKS.items()
                         if short.lower() in title.lower()]
                assert len(codes) == 1, f"§7 names check '{short}': matches {codes}"
                assert model.CHECKS[codes[0]][1] == severity, (short, severity)
                checks.append((codes[0], severity))
        for path in sorted(EXAMPLES.glob(pattern)):
            # a file named on its own line wins over a pattern that also matches it
            if path.name not in listed or "*" not in pattern:
                listed[path.name] = (checks, why)
    return listed


EXPECTED = example_expectations()


def test_the_data_standard_lists_every_shipped_example():
    assert set(EXPECTED) == {p.name for p in EXAMPLES.glob("*.csv")}
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    assert "`device_reference_valid.csv` passes" in readme
    assert "`usage_return_valid.csv`\npasses" in readme


def test_the_data_standards_inline_examples_are_lines_of_the_files_they_name():
    text = STANDARD_DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"Example \(`resources/standard/examples/([^`]+)`[^)]*\):\s*"
                        r"```csv\n(.*?)```", text, re.S)
    assert {name for name, _ in blocks} == {"device_reference_valid.csv",
                                            "usage_return_valid.csv"}
    for name, block in blocks:
        lines = (EXAMPLES / name).read_text(encoding="utf-8").splitlines()
        shown = block.strip().splitlines()
        assert shown[0] == lines[0]
        assert set(shown[1:]) <= set(lines[1:]), name


def _data_rows(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _row_and_name(why: str) -> tuple[int | None, str | None]:
    """("row 5 has no `latitude`") -> (5, "latitude")."""
    row = re.search(r"\brow (\d+)", why)
    named = re.search(r"`([^`]+)`", why)
    return (int(row.group(1)) if row else None), (named.group(1) if named else None)


def _validate(path: Path):
    if path.name.startswith("device_reference"):
        return conformance.validate_files([path], period=EXAMPLE_PERIOD)
    if path.name.startswith("usage_return_invalid"):
        return conformance.validate_files([path])
    return conformance.validate_files([path], reference=REFERENCE)


def _import(path: Path, store: Path):
    with Workspace(store) as ws:
        report, = ws.import_files([path])
        rejects = ws.store.import_rejects(report.import_id) if report.import_id else None
        return report, rejects, ws.store.devices(), ws.store.connectors(), \
            ws.store.sessions()


# --- the data standard's examples -------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_example_validates_as_the_data_standard_says(name):
    checks, why = EXPECTED[name]
    path = EXAMPLES / name
    report = _validate(path)
    found = {(c.code, c.result) for op in report.operators for c in op.checks
             if c.result in ("fail", "warn")}
    if not checks:
        assert found == set() and {op.verdict for op in report.operators} == {"pass"}
        return
    assert len(found) == 1 and found <= set(checks), (name, found)
    (code, _), = found
    hit, = [c for op in report.operators for c in op.checks if c.code == code]
    assert hit.count == 1
    row, named = _row_and_name(why)
    if row is not None:
        rows = [r for fe in hit.field_errors for r in fe.rows] + \
            [ex.row for ex in hit.examples if ex.row is not None]
        if rows:
            assert rows == [row]
        else:  # findings per value (a status): the row named holds it
            assert named in _data_rows(path)[row - 1].values()
    if named is not None:
        text = " ".join([hit.message] + [fe.field for fe in hit.field_errors]
                        + [f"{ex.id} {ex.detail}" for ex in hit.examples])
        assert named.split(" ")[0] in text or (code == "duplicate_ids"
                                               and "device_id+connector_id" in text)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_example_imports_what_the_data_standard_says(name, tmp_path):
    """A file whose only finding is a warning goes in whole; a row failing fields or ids
    is rejected, with its row and field, the reason the validator gives; a missing
    column refuses the file."""
    checks, why = EXPECTED[name]
    path = EXAMPLES / name
    rows = _data_rows(path)
    report, rejects, devices, connectors, sessions = _import(path, tmp_path / "store.gpkg")
    failing = [code for code, severity in checks if severity == "fail"
               and code in ("schema", "duplicate_ids")]
    validation = _validate(path)
    field_errors = [(fe.field, fe.reason, r) for op in validation.operators
                    for c in op.checks if c.code in failing
                    for fe in c.field_errors for r in fe.rows]
    row, named = _row_and_name(why)

    if failing and not field_errors:  # a column is missing: the whole file is refused
        message, = [c.message for op in validation.operators for c in op.checks
                    if c.code in failing and c.count]
        assert report.outcome == "failed"
        assert "required column(s) missing: " in message and message in report.message
        if named is not None:
            assert f"missing: {named.split(' ')[0]}" in report.message
        assert devices.empty and sessions.empty
        return
    assert report.outcome == "imported", report.message
    assert report.rows_read == len(rows)
    if failing:
        (field, reason, bad_row), = field_errors
        assert (rejects["row"].tolist(), rejects["reason"].tolist()) == (
            [bad_row], [f"{field}: {reason}"])
        if row is not None:
            assert bad_row == row
        if named is not None and field != "device_id+connector_id":
            assert field == named.split(" ")[0]
    else:
        assert report.rows_rejected == 0 and rejects.empty
    kept = [r for i, r in enumerate(rows, start=1) if not failing or i != field_errors[0][2]]
    if name.startswith("device_reference"):
        assert sorted(devices["device_id"]) == sorted({r["device_id"] for r in kept})
        assert len(connectors) == len({(r["device_id"], r["connector_id"]) for r in kept})
        assert set(devices["source"]) == {f"device-reference:{r['operator']}" for r in kept}
        for r in kept:
            device = devices.set_index("device_id").loc[r["device_id"]]
            assert (device["latitude"], device["longitude"]) == (
                float(r["latitude"]), float(r["longitude"]))
    else:
        assert len(sessions) == len(kept)
        assert sorted(sessions["device_id"]) == sorted(r["device_id"] for r in kept)
        assert sessions["kwh"].sum() == pytest.approx(sum(float(r["kwh"]) for r in kept))


def test_a_return_imported_with_its_device_reference_data_finds_its_devices(tmp_path):
    """The data standard: the same device and connector ids in both files."""
    store = tmp_path / "store.gpkg"
    with Workspace(store) as ws:
        reports = ws.import_files([REFERENCE, EXAMPLES / "usage_return_valid.csv"])
        assert [r.outcome for r in reports] == ["imported", "imported"]
        usage = ws.utilisation(period="quarter")
    returned = _data_rows(EXAMPLES / "usage_return_valid.csv")
    reference = _data_rows(REFERENCE)
    assert set(usage["device_id"]) == {r["device_id"] for r in returned}
    rated = {}
    for r in reference:
        rated[r["device_id"]] = rated.get(r["device_id"], 0.0) + float(r["power_kw"])
    for device_id, group in usage.groupby("device_id"):
        assert group["rated_kw"].iloc[0] == pytest.approx(rated[device_id])


# --- the bundled data: Dundee ----------------------------------------------------------------

def _gz_rows(path: Path) -> tuple[list[str], list[list[str]], bytes]:
    raw = gzip.decompress(path.read_bytes())
    reader = csv.reader(io.StringIO(raw.decode("utf-8"), newline=""))
    header = next(reader)
    return header, [r for r in reader if any(c.strip() for c in r)], raw


WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}


def _number(text: str) -> int:
    """"67,112" or "four" as a number."""
    return WORDS[text] if text in WORDS else int(text.replace(",", ""))


@pytest.fixture(scope="module")
def dundee_store(tmp_path_factory):
    store = tmp_path_factory.mktemp("dundee") / "dundee.gpkg"
    files = sorted((DATA / "dundee").glob("*.csv.gz"))
    with Workspace(store) as ws:
        reports = {r.file_name: r for r in ws.import_files(files)}
        return reports, ws.store.devices(), ws.store.sessions()


def test_dundee_files_are_as_the_readme_says(dundee_store):
    section = _section(DATA_README, "## `dundee/`")
    files, sessions, first, last = re.search(
        r"(\w+) files\s+covering (\d+ \w+ \d{4}) – (\d+ \w+ \d{4}), ([\d,]+) sessions",
        section).group(1, 4, 2, 3)
    session_files = sorted(p for p in (DATA / "dundee").glob("*.csv.gz")
                           if "locations" not in p.name)
    assert _number(files) == len(session_files)
    read = {p.name: _gz_rows(p) for p in session_files}
    # "Byte-identical to the published CSVs (Windows line endings)"
    assert all(raw.count(b"\r\n") == raw.count(b"\n") for _, _, raw in read.values())
    assert sum(len(rows) for _, rows, _ in read.values()) == _number(sessions)

    reports, _, stored = dundee_store
    assert sum(reports[n].rows_read for n in read) == _number(sessions)
    # what the README says import keeps and rejects, and the same computed here
    kept, rejected = re.search(r"keeps ([\d,]+) of them; ([\d,]+) rows are rejected",
                               section).groups()
    expected_rejects = 0
    for header, rows, _ in read.values():
        frame = pd.DataFrame([r[:len(header)] for r in rows], columns=header)
        kwh = pd.to_numeric(frame["Total kWh"], errors="coerce")
        start, end = (pd.to_datetime(frame[f"{x} Date"] + " " + frame[f"{x} Time"],
                                     format="%d/%m/%Y %H:%M", errors="coerce")
                      for x in ("Start", "End"))
        # UK local time: in the hour the October change repeats, a start is read as
        # the first 01:xx (BST) and an end as the second (GMT) when that is after it
        start_utc = start.dt.tz_localize("Europe/London", ambiguous=True,
                                         nonexistent="shift_forward")
        end_utc = end.dt.tz_localize("Europe/London", ambiguous=False,
                                     nonexistent="shift_forward")
        bad = frame["CP ID"].str.strip().eq("") | (kwh < 0) | (end.dt.year <= 1970) | \
            (end_utc < start_utc) | start.isna()
        expected_rejects += int(bad.sum())
    assert expected_rejects == _number(rejected)
    assert sum(reports[n].rows_rejected for n in read) == expected_rejects
    assert len(stored) == _number(kept) == _number(sessions) - expected_rejects
    local = stored["start_utc"].dt.tz_convert("Europe/London")
    assert local.min().strftime("%-d %b %Y") == first.replace("Sept", "Sep")
    assert local.max().strftime("%-d %b %Y") == last.replace("Sept", "Sep")


def test_dundee_locations_give_the_sessions_their_places(dundee_store):
    section = " ".join(_section(DATA_README, "## `dundee/`").split())
    rows_doc, devices_doc, no_id_doc, repeated_doc = map(_number, re.search(
        r"([\d,]+) rows, ([\d,]+) charge points; (\w+) rows without a `CP ID` and "
        r"(\w+) repeat", section).groups())
    header, rows, _ = _gz_rows(DATA / "dundee" / "cp-locations.csv.gz")
    ids = [r[header.index("CP ID")].strip() for r in rows]
    no_id = sum(1 for i in ids if not i)
    repeated = sum(1 for n, i in enumerate(ids) if i and i in ids[:n])
    distinct = {i for i in ids if i}
    assert (len(rows), len(distinct), no_id, repeated) == (
        rows_doc, devices_doc, no_id_doc, repeated_doc)

    reports, devices, sessions = dundee_store
    report = reports["cp-locations.csv.gz"]
    assert (report.outcome, report.rows_read, report.rows_rejected) == (
        "imported", len(rows), no_id + repeated)
    assert sorted(devices["device_id"]) == sorted(distinct)
    assert set(devices["source"]) == {"cps-locations"}
    first = {}
    for r in rows:
        first.setdefault(r[header.index("CP ID")].strip(), r)
    for device in devices.itertuples():
        r = first[device.device_id]
        assert (device.latitude, device.longitude) == (
            float(r[header.index("Latitude")]), float(r[header.index("Longitude")]))
        assert device.name == (r[header.index("Location")] or None)
        assert device.power_class == r[header.index("Type")].lower()
    # the sessions of the charge points on the list have a place, the README says how many
    named, on_list = map(_number, re.search(
        r"sessions name ([\d,]+) charge points, ([\d,]+) of them on the list",
        section).groups())
    session_ids = set()
    for path in (DATA / "dundee").glob("*.csv.gz"):
        if "locations" not in path.name:
            head, rows_, _ = _gz_rows(path)
            session_ids |= {r[head.index("CP ID")].strip() for r in rows_} - {""}
    assert (len(session_ids), len(session_ids & distinct)) == (named, on_list)
    located = sessions["device_id"].isin(set(devices["device_id"]))
    assert set(sessions.loc[located, "device_id"]) == session_ids & distinct


def test_dundee_readme_import_command_exits_0(tmp_path):
    """`import resources/data/dundee/*.csv.gz` (the README's headless example) no longer
    stops at cp-locations."""
    files = sorted(str(p) for p in (DATA / "dundee").glob("*.csv.gz"))
    result = subprocess.run([sys.executable, "-m", "ev_chargepoints", "import", *files,
                             "--store", tmp_path / "my.gpkg"], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    line, = [x for x in result.stdout.splitlines() if x.startswith("cp-locations")]
    assert "devices:" in line and "not imported" not in line


# --- the bundled data: London ----------------------------------------------------------------

def _london_rows() -> dict[str, list[str]]:
    table = _table(_section(DATA_README, "## `london/`"))
    return {re.match(r"`([^`]+)`", row[0]).group(1): row for row in table}


def test_london_boundaries_are_as_the_readme_says():
    for name, row in _london_rows().items():
        if not name.endswith(".gpkg"):
            continue
        layer = re.search(r"\(layer `([^`]+)`\)", row[0]).group(1)
        with sqlite3.connect(f"file:{DATA / 'london' / name}?mode=ro", uri=True) as conn:
            count, = conn.execute(f'SELECT count(*) FROM "{layer}"').fetchone()
            srs, = conn.execute("SELECT s.organization || ':' || s.organization_coordsys_id"
                                " FROM gpkg_contents c JOIN gpkg_spatial_ref_sys s"
                                " ON s.srs_id = c.srs_id WHERE c.table_name = ?",
                                (layer,)).fetchone()
        assert count == _number(row[2]), name
        assert srs.upper() == row[3], name


def test_london_registry_and_ward_profiles_are_as_the_readme_says(tmp_path):
    rows = _london_rows()
    ncr_name = next(n for n in rows if n.startswith("ncr_"))
    header, ncr_rows, _ = _gz_rows(DATA / "london" / ncr_name)
    assert len(ncr_rows) == _number(rows[ncr_name][2])
    assert re.search(r"all (\d+) NCR columns", rows[ncr_name][1]).group(1) == str(len(header))
    report, rejects, devices, _, _ = _import(DATA / "london" / ncr_name,
                                             tmp_path / "store.gpkg")
    assert (report.outcome, report.rows_read, report.rows_rejected) == (
        "imported", len(ncr_rows), 0)
    assert len(devices) == len({r[0] for r in ncr_rows}) == len(ncr_rows)

    profiles = next(n for n in rows if n.startswith("ward-profiles"))
    assert "Windows-1252" in rows[profiles][1]
    raw = (DATA / "london" / profiles).read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    frame = pd.read_csv(io.BytesIO(raw), encoding="cp1252", dtype=str)
    assert len(frame) == _number(rows[profiles][2])


def test_a_workbook_to_import_is_refused_in_one_line(tmp_path):
    """A usage return saved as an Excel workbook (the plugin's own XLSX writer) is not
    read as text: one line, nothing imported."""
    from ev_chargepoints.core.outputs.tables import write_xlsx

    workbook = tmp_path / "usage_return_valid.xlsx"
    write_xlsx(pd.read_csv(EXAMPLES / "usage_return_valid.csv", dtype=str), workbook)
    store = tmp_path / "my.gpkg"
    result = subprocess.run([sys.executable, "-m", "ev_chargepoints", "-q", "import", workbook,
                             "--store", store], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert result.stdout == (
        "usage_return_valid.xlsx: not imported — the file was rejected: "
        "usage_return_valid.xlsx: not a text file (a ZIP archive, such as an Excel "
        "workbook); expected a CSV or JSON file\n")
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1
    with Workspace(store) as ws:
        assert ws.store.sessions().empty
