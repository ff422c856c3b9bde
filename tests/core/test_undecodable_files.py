"""Every file reader in core turns bytes that do not decode into one ParseError line.

Regressions beside tests/core/test_gpkg_reader.py (the GeoPackage reader, where the
hostile-input suite found UnicodeDecodeError escaping): the name of the file, then what
is wrong with it, never a codec traceback.
"""

from __future__ import annotations

import zipfile

import pandas as pd
import pytest

from ev_chargepoints.core import errors
from ev_chargepoints.core.analysis import site_files
from ev_chargepoints.core.outputs import tables as export
from ev_chargepoints.core.sources import parsers
from ev_chargepoints.core.sources.parsers import ocpi, sessions_csv
from ev_chargepoints.core.standard import report as report_html

NOT_UTF8 = errors.NOT_UTF8_TEXT
LOCATION = (b'[{"id": "L\x80", "coordinates": {"latitude": "51.5", "longitude": "-0.1"}, '
            b'"evses": []}]')


def one_line(exc: errors.ParseError) -> str:
    message = exc.message
    assert message.isprintable() and "codec" not in message and "\n" not in message
    return message


@pytest.mark.parametrize("parse", [ocpi.parse_locations, ocpi.parse_cdrs,
                                   ocpi.parse_sessions])
def test_ocpi_payload_bytes_that_are_not_utf8(parse):
    with pytest.raises(errors.ParseError) as caught:
        parse(LOCATION, name="feed.json")
    assert one_line(caught.value) == (
        "feed.json: not valid JSON: the content is corrupted or not UTF-8 text "
        "(byte 0x80 at position 10)")


def test_a_unicode_error_inside_a_parser_is_a_parse_error(monkeypatch):
    """The parsers' last guard names undecodable text instead of the codec's message."""
    def undecodable(*args, **kwargs):
        return b"\x80".decode("utf-8")

    monkeypatch.setattr(sessions_csv, "parse_text", undecodable)
    with pytest.raises(errors.ParseError) as caught:
        parsers.parse_bytes(b"CP ID,Start Date,x\n1,2,3\n", "feed.csv", format="sessions")
    assert one_line(caught.value) == f"feed.csv: the content could not be read: {NOT_UTF8}"


def test_csv_parsers_without_a_bom_fall_back_to_cp1252_and_say_so(tmp_path):
    path = tmp_path / "sessions.csv"
    path.write_bytes("Charging event,CP ID,Connector,Start Date,Start Time,End Date,"
                     "End Time,Total kWh,Site\n1,2,1,01/05/2022,10:00,01/05/2022,11:00,5,"
                     "Caf\u00e9\n".encode("cp1252"))
    result = parsers.parse_file(path)
    assert any("not valid UTF-8; read as Windows-1252" in w for w in result.warnings)
    with pytest.raises(errors.ParseError, match="not valid UTF-8"):
        parsers.parse_bytes(b"\xef\xbb\xbf" + path.read_bytes(), "bom.csv")


def test_export_read_csv_and_sites_csv_that_are_not_utf8(tmp_path):
    path = tmp_path / "sites.csv"
    path.write_bytes(b"site_id,x,y\nCaf\xe9 \x80,530000,180000\n")
    expected = f"sites.csv: the CSV cannot be read: {NOT_UTF8} (save it as CSV UTF-8)"
    for read in (export.read_csv, site_files.read_sites):
        with pytest.raises(errors.ParseError) as caught:
            read(path)
        assert one_line(caught.value) == expected
    path.write_bytes(b"site_id,x,y\nS1,530000,180000\n")
    assert list(export.read_csv(path)["site_id"]) == ["S1"]


def test_xlsx_reader_on_damaged_workbooks(tmp_path):
    good = export.write_xlsx(pd.DataFrame({"name": ["a"], "kw": [7.0]}), tmp_path / "ok.xlsx")
    assert export.read_xlsx_sheet(good) == [["name", "kw"], ["a", 7.0]]

    not_utf8 = tmp_path / "not_utf8.xlsx"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(not_utf8, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b">a<", b">\x80<")
            dst.writestr(item, data)
    with pytest.raises(errors.ParseError) as caught:
        export.read_xlsx_sheet(not_utf8)
    assert one_line(caught.value).startswith(
        f"not_utf8.xlsx: not an XLSX workbook: {NOT_UTF8} (sheet XML: not well-formed")

    garbage = tmp_path / "garbage.xlsx"
    garbage.write_bytes(b"PK\x03\x04\x80\x81 not a zip")
    with pytest.raises(errors.ParseError, match="^garbage.xlsx: not an XLSX workbook: the "
                                                "file is damaged or not a zip archive"):
        export.read_xlsx_sheet(garbage)
    with pytest.raises(errors.ParseError, match="^ok.xlsx: the workbook has no sheet 9$"):
        export.read_xlsx_sheet(good, 9)


def test_conformance_report_json_that_is_not_utf8(tmp_path):
    path = tmp_path / "report.json"
    path.write_bytes(b'{"generated_utc": "2024-01-01T00:00:00Z", "period": "\x80"}')
    with pytest.raises(errors.ParseError) as caught:
        report_html.load_report(path)
    assert one_line(caught.value) == f"report.json: not a conformance report: {NOT_UTF8}"
    path.write_bytes(b'{"generated_utc": ')
    with pytest.raises(errors.ParseError, match="^report.json: not a conformance report: "
                                                "not valid JSON"):
        report_html.load_report(path)
