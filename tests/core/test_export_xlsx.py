"""The stdlib XLSX writer: a valid workbook, numbers as numbers, formulas neutralised."""

from __future__ import annotations

import zipfile
from xml.etree import ElementTree

import numpy as np
import pandas as pd
import pytest

from ev_chargepoints.core.outputs.tables import (
    column_letter,
    read_xlsx_sheet,
    write_csv,
    write_xlsx,
)

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


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


def test_workbook_parts_are_valid_xml_and_values_round_trip(tmp_path):
    path = write_xlsx(frame(), tmp_path / "out.xlsx",
                      extra_sheets={"Definitions": pd.DataFrame({"column": ["devices"],
                                                                 "definition": ["count"]})})
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        names = set(archive.namelist())
        assert {"[Content_Types].xml", "_rels/.rels", "xl/workbook.xml",
                "xl/_rels/workbook.xml.rels", "xl/styles.xml", "xl/worksheets/sheet1.xml",
                "xl/worksheets/sheet2.xml"} <= names
        for name in names:
            ElementTree.fromstring(archive.read(name))          # every part parses
        workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        assert [s.get("name") for s in workbook.iter(f"{MAIN}sheet")] == \
            ["Summary", "Definitions"]
        sheet = ElementTree.fromstring(archive.read("xl/worksheets/sheet1.xml"))
        # text is never a formula: no <f> element anywhere, numbers carry no type
        assert not list(sheet.iter(f"{MAIN}f"))
        cell = next(c for c in sheet.iter(f"{MAIN}c") if c.get("r") == "B3")
        assert cell.get("t") is None and cell.findtext(f"{MAIN}v") == "1214"

    rows = read_xlsx_sheet(path)
    assert rows[0] == ["area_name", "devices", "occupancy_pct", "rapid"]
    assert rows[1] == ["'=HYPERLINK(\"http://x\",\"y\")", 1.0, 12.5, True]
    assert rows[2] == ["Westminster", 1214.0, None, False]     # NaN: an empty cell
    assert rows[3] == [None, 0.0, 0.0, True]
    assert rows[4] == ["'+44 20", 34.0, 1e-7, False]
    assert rows[5] == ["okbell", 5.0, None, True]               # no control characters
    assert read_xlsx_sheet(path, 2) == [["column", "definition"], ["devices", "count"]]


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
    with zipfile.ZipFile(path) as archive:
        workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    names = [s.get("name") for s in workbook.iter(f"{MAIN}sheet")]
    assert len({n.lower() for n in names}) == 3
    assert all(len(n) <= 31 and not set(n) & set("[]:*?/\\") for n in names)


def test_a_failed_write_leaves_no_file(tmp_path, monkeypatch):
    from ev_chargepoints.core.outputs import tables as export

    def broken(*_args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(export, "_sheet_xml", broken)
    with pytest.raises(RuntimeError):
        write_xlsx(frame(), tmp_path / "out.xlsx")
    assert list(tmp_path.iterdir()) == []
