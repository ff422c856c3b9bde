"""Real and SYNTHETIC usage never share a store, and a synthetic store's outputs say so.

Two stores built from the bundled real data: the demo's (real NCR devices of London
plus a month of SYNTHETIC usage, as ``demo`` makes it) and a real one (the same
devices plus the real Dundee sessions of March to May 2018). Refused imports are
checked to leave the GeoPackage byte for byte as it was.
"""

from __future__ import annotations

import csv
import hashlib
import sqlite3
from pathlib import Path

import duckdb
import pytest

from ev_chargepoints.cli import main
from ev_chargepoints.core.errors import MixedUsageError, StoreError
from ev_chargepoints.core.outputs.tables import read_csv, read_xlsx_sheet, write_csv, write_xlsx
from ev_chargepoints.core.paths import LONDON_SNAPSHOT, RESOURCES
from ev_chargepoints.core.schema import ParseResult
from ev_chargepoints.core.sources.intake import NCR_SNAPSHOT
from ev_chargepoints.core.sources.parsers import parse_file
from ev_chargepoints.core.store import usage_kind
from ev_chargepoints.core.store.geopackage import HistoryStore
from ev_chargepoints.core.store.history_parts import copy_store, history_dir
from ev_chargepoints.core.store.importing import prepare
from ev_chargepoints.core.store.postgis.backend import PostgisStore
from ev_chargepoints.core.store.usage_kind import NOTE, SYNTHETIC_FORMAT
from ev_chargepoints.core.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
DUNDEE_RETURN = RESOURCES / "data" / "dundee" / "cp-data-mar-may-2018.csv.gz"
OCPI = ROOT / "tests" / "data" / "ocpi" / "spec-examples"
CDR = OCPI / "cdr_example.json"
LOCATION = OCPI / "location_example.json"


def sha(path) -> str:
    """The store's GeoPackage and its usage history's part files, hashed together."""
    digest = hashlib.sha256(Path(path).read_bytes())
    for part in sorted(history_dir(Path(path)).glob("*/*.parquet")):
        digest.update(part.name.encode() + part.read_bytes())
    return digest.hexdigest()


def copy_of(store: Path, folder: Path, name: str = "copy.gpkg") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return copy_store(store, folder / name)


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def sessions_in(store: Path) -> int:
    """Sessions in the store, counted with sqlite3 and DuckDB alone (not the plugin's
    reader): the rows of the Parquet parts the manifest lists, less the open rows a
    later part completed."""
    with sqlite3.connect(store) as conn:
        files = [r[0] for r in conn.execute(
            "SELECT file FROM history_parts WHERE kind = 'sessions'")]
        completed = conn.execute("SELECT count(*) FROM session_completions").fetchone()[0]
    if not files:
        return 0
    listed = ", ".join(f"'{history_dir(store) / f}'" for f in files)
    rows = duckdb.connect().execute(f"SELECT count(*) FROM read_parquet([{listed}])"
                                    ).fetchall()[0][0]
    return rows - completed


@pytest.fixture(scope="module")
def synthetic_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "demo.gpkg"
    with Workspace(path) as ws:
        reports = ws.import_bundled_snapshot(usage_start="2022-06-01", usage_end="2022-07-01")
        assert [r.outcome for r in reports] == ["imported", "imported"]
        assert ws.store.meta()[usage_kind.META_KEY] == "synthetic"
        assert ws.has_synthetic_usage()
    return path


@pytest.fixture(scope="module")
def real_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("real") / "borough.gpkg"
    with Workspace(path) as ws:
        devices = ws.import_files([LONDON_SNAPSHOT / NCR_SNAPSHOT])
        assert devices[0].outcome == "imported"
        assert ws.usage_kind() is None  # devices alone are no usage
        assert usage_kind.META_KEY not in ws.store.meta()
        usage = ws.import_files([DUNDEE_RETURN])
        assert usage[0].outcome == "imported" and usage[0].rows_added > 10_000
        assert ws.store.meta()[usage_kind.META_KEY] == "real"
        assert not ws.has_synthetic_usage()
    return path


# --- never mixed ---------------------------------------------------------------------

def test_synthetic_store_refuses_real_usage_and_stays_unchanged(synthetic_store, tmp_path,
                                                                capsys):
    store = copy_of(synthetic_store, tmp_path)
    before, sessions = sha(store), sessions_in(store)
    code, out, err = run(capsys, "import", DUNDEE_RETURN, CDR, "--store", store)
    assert code == 2
    lines = out.strip().splitlines()
    assert len(lines) == 2 and "Traceback" not in out + err
    for line, name in zip(lines, (DUNDEE_RETURN.name, CDR.name)):
        assert line == (f"{name}: not imported — copy.gpkg holds SYNTHETIC demo usage; import "
                        "real usage into a store of its own (e.g. --store my-borough.gpkg, "
                        "or another store in the plugin settings).")
    assert "2 of 2 file(s) could not be imported" in err
    assert sha(store) == before and sessions_in(store) == sessions
    # the same through the facade: a failed report, nothing logged
    with Workspace(store) as ws:
        log_rows = len(ws.store.import_log())
        report = ws.import_files([DUNDEE_RETURN])[0]
        assert report.outcome == "failed" and report.import_id == 0
        assert "holds SYNTHETIC demo usage" in report.message
        assert len(ws.store.import_log()) == log_rows
    assert sha(store) == before


def test_real_store_refuses_synthetic_usage_and_stays_unchanged(real_store, tmp_path, capsys):
    demo_folder = tmp_path / "demo-output"
    store = copy_of(real_store, demo_folder, "london.gpkg")  # where `demo` writes its store
    before, sessions = sha(store), sessions_in(store)
    code, out, err = run(capsys, "demo", "--out", demo_folder)
    assert code == 2 and "Traceback" not in err
    assert err.strip() == ("error: london.gpkg holds real usage; SYNTHETIC demo usage goes "
                           "into a store of its own (e.g. --store demo.gpkg, or 'Load demo "
                           "usage (synthetic)' in QGIS).")
    assert sha(store) == before and sessions_in(store) == sessions
    with Workspace(store) as ws:
        with pytest.raises(MixedUsageError, match="holds real usage"):
            ws.import_bundled_snapshot()
        some = ws.store.sessions().head(20).copy()
        some["session_key"] = "synthetic:" + some["session_key"].astype(str)
        report = ws.import_result(ParseResult(SYNTHETIC_FORMAT, "demo", len(some),
                                              tables={"sessions": some}), "demo", "demo-key")
        assert report.outcome == "failed" and "holds real usage" in report.message
    assert sha(store) == before and sessions_in(store) == sessions


def test_devices_and_status_are_welcome_in_both_kinds(synthetic_store, real_store, tmp_path):
    for source, kind in ((synthetic_store, "synthetic"), (real_store, "real")):
        store = copy_of(source, tmp_path / kind)
        with Workspace(store) as ws:
            report = ws.import_files([LOCATION])[0]
            assert report.outcome == "imported", report.message
            assert report.tables["devices"]["added"] >= 1
            assert report.tables["status_snapshots"]["added"] >= 1
            assert ws.usage_kind() == kind


def test_a_store_from_before_the_key_is_judged_by_its_import_log(synthetic_store, real_store,
                                                                 tmp_path):
    for source, kind in ((synthetic_store, "synthetic"), (real_store, "real")):
        store = copy_of(source, tmp_path / kind)
        with sqlite3.connect(store) as conn:
            conn.execute("DELETE FROM store_meta WHERE key = ?", (usage_kind.META_KEY,))
        with Workspace(store) as ws:
            assert usage_kind.META_KEY not in ws.store.meta()
            assert ws.usage_kind() == kind
            assert ws.has_synthetic_usage() == (kind == "synthetic")
            before = sha(store)
            if kind == "synthetic":
                report = ws.import_files([CDR])[0]
            else:
                some = ws.store.sessions().head(5)
                report = ws.import_result(ParseResult(SYNTHETIC_FORMAT, "demo", 5,
                                                      tables={"sessions": some}), "d", "d")
            assert report.outcome == "failed" and report.import_id == 0
            assert sha(store) == before


def test_the_check_holds_inside_the_transaction_too(tmp_path):
    """Another process may import the other kind between the check and the write: the
    transaction sees the recorded kind and rolls the import back."""
    with HistoryStore.create_or_open(tmp_path / "raced.gpkg") as store:
        result = parse_file(DUNDEE_RETURN)
        with sqlite3.connect(store.path) as conn:  # what the other process wrote
            conn.execute("INSERT INTO store_meta(key, value) VALUES (?, 'synthetic')",
                         (usage_kind.META_KEY,))
        prepared = prepare(result, None, "auto")
        prepared.usage_kind = "real"
        with pytest.raises(StoreError, match="holds SYNTHETIC demo usage"):
            store._write_import(result, prepared, DUNDEE_RETURN.name, "raced")
        assert store.counts()["sessions"] == 0
        assert store.already_imported("raced") is None


def test_shared_store_keeps_them_apart_too(pg_dsn):
    with PostgisStore.create_or_open(pg_dsn) as store:
        report = store.import_file(DUNDEE_RETURN)
        assert report.outcome == "imported"
        assert store.meta()[usage_kind.META_KEY] == "real" and store.usage_kind() == "real"
        counts, log_rows = store.counts(), len(store.import_log())
        some = store.sessions().head(5)
        refused = store.import_parse_result(
            ParseResult(SYNTHETIC_FORMAT, "demo", 5, tables={"sessions": some}), "demo", "k")
        assert refused.outcome == "failed" and refused.import_id == 0
        assert refused.message.startswith(store.describe() + " holds real usage;")
        assert store.counts() == counts and len(store.import_log()) == log_rows
        # the transaction's own check, as for a concurrent import of the other kind
        result = ParseResult(SYNTHETIC_FORMAT, "demo", 5, tables={"sessions": some})
        prepared = prepare(result, None, "auto")
        prepared.usage_kind = "synthetic"
        with pytest.raises(StoreError, match="holds real usage"):
            store._write_import(result, prepared, "demo", "raced")
        assert store.counts()["sessions"] == counts["sessions"]


# --- outputs --------------------------------------------------------------------------

def _rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_every_output_of_a_synthetic_store_says_synthetic(synthetic_store, tmp_path, capsys):
    utilisation = tmp_path / "u.csv"
    code, out, err = run(capsys, "utilisation", "--store", synthetic_store, "--out",
                         utilisation)
    assert code == 0, err
    rows = _rows(utilisation)
    assert rows[0] == [NOTE] and rows[1][0] == "device_id"
    assert out.strip().endswith(" — SYNTHETIC usage")
    assert out.startswith(f"{len(rows) - 2:,} rows")
    sessions = rows[1].index("sessions")
    assert 0 < sum(float(r[sessions]) for r in rows[2:]) <= sessions_in(synthetic_store)
    assert len(read_csv(utilisation)) == len(rows) - 2   # the plugin reads it back

    summary = tmp_path / "s.csv"
    code, out, err = run(capsys, "summary", "--store", synthetic_store, "--out", summary)
    assert code == 0, err
    rows = _rows(summary)
    assert rows[0] == [NOTE] and rows[1][0] == "area_code" and len(rows) == 2 + 33
    assert out.strip() == f"33 areas (borough, 2022-Q2) written to {summary} — SYNTHETIC usage"

    code, out, err = run(capsys, "validate", LOCATION, "--store", synthetic_store, "--out",
                         tmp_path / "report")
    assert code == 0, err
    assert out.strip().splitlines()[-1] == (f"Report: {tmp_path / 'report' / 'report.html'} "
                                            "(and report.json) — SYNTHETIC usage")


def test_xlsx_says_synthetic_on_every_sheet(tmp_path):
    import pandas as pd

    frame = pd.DataFrame({"area_name": ["Camden", "Sutton"], "sessions": [12.0, 3.0]})
    glossary = pd.DataFrame({"column": ["sessions"], "definition": ["sessions started"]})
    path = write_xlsx(frame, tmp_path / "s.xlsx", extra_sheets={"Definitions": glossary},
                      synthetic=True)
    for sheet, table in ((1, frame), (2, glossary)):
        rows = read_xlsx_sheet(path, sheet)
        assert rows[0] == [NOTE]
        assert rows[1] == list(table.columns) and len(rows) == 2 + len(table)
    assert read_xlsx_sheet(path)[2] == ["Camden", 12.0]
    plain = write_xlsx(frame, tmp_path / "real.xlsx")
    assert read_xlsx_sheet(plain)[0] == ["area_name", "sessions"]
    csv_path = write_csv(frame, tmp_path / "real.csv")
    assert _rows(csv_path)[0] == ["area_name", "sessions"]


def test_a_real_store_outputs_do_not_say_synthetic(real_store, tmp_path, capsys):
    utilisation = tmp_path / "u.csv"
    code, out, err = run(capsys, "utilisation", "--store", real_store, "--out", utilisation)
    assert code == 0, err
    rows = _rows(utilisation)
    assert rows[0][0] == "device_id"
    assert "SYNTHETIC" not in out + err + utilisation.read_text(encoding="utf-8")
    sessions = rows[0].index("sessions")
    assert 0 < sum(float(r[sessions]) for r in rows[1:]) <= sessions_in(real_store)

    summary = tmp_path / "s.csv"
    code, out, err = run(capsys, "summary", "--store", real_store, "--out", summary)
    assert code == 0, err
    assert _rows(summary)[0][0] == "area_code" and len(_rows(summary)) == 1 + 33
    assert "SYNTHETIC" not in out + err + summary.read_text(encoding="utf-8")

    code, out, err = run(capsys, "validate", LOCATION, "--store", real_store, "--out",
                         tmp_path / "report")
    assert code == 0, err
    assert out.strip().splitlines()[-1].startswith("Report: ") and "SYNTHETIC" not in out
