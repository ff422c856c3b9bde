"""The XLSX writer (pandas + openpyxl): a valid workbook, numbers as numbers, formulas
neutralised, notes above the column names, one line when openpyxl is missing."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from ev_chargepoints.core.outputs.disclosure import INTERNAL_NOTE
from ev_chargepoints.core.outputs.tables import (
    column_letter,
    read_xlsx_sheet,
    write_csv,
    write_xlsx,
)
from ev_chargepoints.core.store.usage_kind import NOTE

ROOT = Path(__file__).resolve().parents[2]


def frame():
    return pd.DataFrame({
        "area_name": ["=HYPERLINK(\"http://x\",\"y\")", "Westminster", None, "+44 20",
                      "ok\x07bell"],
        "devices": np.array([1, 1214, 0, 34, 5], dtype="int64"),
        "occupancy_pct": [12.5, np.nan, 0.0, 1e-7, float("inf")],
        "rapid": [True, False, True, False, True],
    })


def test_column_letters():
    assert [column_letter(i) for i in (0, 25, 26, 51, 52, 701, 702)] == \
        ["A", "Z", "AA", "AZ", "BA", "ZZ", "AAA"]


def test_workbook_opens_in_openpyxl_and_values_round_trip(tmp_path):
    path = write_xlsx(frame(), tmp_path / "out.xlsx",
                      extra_sheets={"Definitions": pd.DataFrame({"column": ["devices"],
                                                                 "definition": ["count"]})})
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Summary", "Definitions"]
    sheet = book["Summary"]
    # text is never a formula; numbers are numbers; the column names are bold and frozen
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    assert sheet["B3"].value == 1214 and sheet["B3"].data_type == "n"
    assert sheet["A1"].font.b and sheet.freeze_panes == "A2"
    assert book.properties.creator == "EV Charge Points"

    rows = read_xlsx_sheet(path)
    assert rows[0] == ["area_name", "devices", "occupancy_pct", "rapid"]
    assert rows[1] == ["'=HYPERLINK(\"http://x\",\"y\")", 1.0, 12.5, True]
    assert rows[2] == ["Westminster", 1214.0, None, False]     # NaN: an empty cell
    assert rows[3] == [None, 0.0, 0.0, True]
    assert rows[4] == ["'+44 20", 34.0, 1e-7, False]
    assert rows[5] == ["okbell", 5.0, None, True]               # no control characters
    assert read_xlsx_sheet(path, 2) == [["column", "definition"], ["devices", "count"]]


def test_notes_lines_dates_categories_and_odd_column_names(tmp_path):
    data = pd.DataFrame({
        "=cmd": pd.Categorical(["-1", "Camden"]),
        "when": pd.to_datetime(["2024-03-04 13:30", None], utc=True),
        "count": pd.array([3, None], dtype="Int64"),
        "mixed": [7, "@sum"],
    })
    path = write_xlsx(data, tmp_path / "notes.xlsx", synthetic=True, internal=True)
    rows = read_xlsx_sheet(path)
    assert rows[:2] == [[INTERNAL_NOTE], [NOTE]]
    assert rows[2] == ["'=cmd", "when", "count", "mixed"]
    assert rows[3] == ["'-1", "2024-03-04T13:30:00+00:00", 3.0, 7.0]
    assert rows[4] == ["Camden", None, None, "'@sum"]
    sheet = openpyxl.load_workbook(path)["Summary"]
    assert sheet["A1"].font.b and sheet.freeze_panes == "A4"


def test_same_neutralising_as_the_csv(tmp_path):
    csv_text = write_csv(frame(), tmp_path / "out.csv").read_text(encoding="utf-8")
    assert "'=HYPERLINK" in csv_text and "'+44 20" in csv_text
    xlsx = read_xlsx_sheet(write_xlsx(frame(), tmp_path / "out.xlsx"))
    assert [r[0] for r in xlsx[1:]][:2] == ["'=HYPERLINK(\"http://x\",\"y\")", "Westminster"]


def test_sheet_names_are_made_valid_and_unique(tmp_path):
    path = write_xlsx(pd.DataFrame({"a": [1]}), tmp_path / "names.xlsx",
                      sheet_name="Summary: boroughs/wards [2022]",
                      extra_sheets={"summary: boroughs/wards [2022]": pd.DataFrame({"b": [2]}),
                                    "x" * 40: pd.DataFrame({"c": [3]})})
    names = openpyxl.load_workbook(path).sheetnames
    assert len({n.lower() for n in names}) == 3
    assert all(len(n) <= 31 and not set(n) & set("[]:*?/\\") for n in names)


def test_a_failed_write_leaves_no_file(tmp_path, monkeypatch):
    from ev_chargepoints.core.outputs import tables as export

    real, calls = export._xlsx_frame, []

    def second_sheet_fails(sheet):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(sheet)

    monkeypatch.setattr(export, "_xlsx_frame", second_sheet_fails)
    with pytest.raises(RuntimeError):
        write_xlsx(frame(), tmp_path / "out.xlsx", extra_sheets={"More": frame()})
    assert list(tmp_path.iterdir()) == []


def test_without_openpyxl_the_export_says_so_in_one_line(tmp_path):
    script = (
        "import sys; sys.modules['openpyxl'] = None\n"
        "import pandas as pd\n"
        "from ev_chargepoints.core.errors import MissingDependency\n"
        "from ev_chargepoints.core.outputs.tables import write_csv, write_xlsx\n"
        f"out = {str(tmp_path)!r}\n"
        "write_csv(pd.DataFrame({'a': [1]}), out + '/ok.csv')\n"
        "try:\n"
        "    write_xlsx(pd.DataFrame({'a': [1]}), out + '/no.xlsx')\n"
        "except MissingDependency as exc:\n"
        "    print(exc)\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1 and "openpyxl" in lines[0] and "XLSX" in lines[0]
    assert (tmp_path / "ok.csv").is_file() and not (tmp_path / "no.xlsx").exists()
