"""NCR parser against the bundled London snapshot (8,940 devices, May 2022)."""

import csv
import gzip
import io
import statistics

import pandas as pd
import pytest

from ev_chargepoints.core import errors, paths, schema
from ev_chargepoints.core.sources import parsers
from ev_chargepoints.core.sources.parsers import ncr

NCR_FILE = paths.resource("data", "london", "ncr_chargepoints_london_2022-05.csv.gz")


@pytest.fixture(scope="module")
def ncr_text():
    return gzip.decompress(NCR_FILE.read_bytes()).decode("utf-8")


@pytest.fixture(scope="module")
def csv_rows(ncr_text):
    """The file read independently with the csv module: header and rows."""
    rows = list(csv.reader(io.StringIO(ncr_text)))
    return rows[0], rows[1:]


@pytest.fixture(scope="module")
def result():
    return parsers.parse_file(NCR_FILE)


def test_detected_as_ncr():
    assert parsers.detect_format(NCR_FILE.read_bytes(), NCR_FILE.name) == "ncr"


def test_devices_match_independent_count(result, csv_rows):
    header, rows = csv_rows
    assert len(header) == 158
    devices = result.table("devices")
    assert result.rows_read == len(rows) == 8940
    assert devices["device_id"].nunique() == 8940
    assert set(devices["device_id"]) == {r[0] for r in rows}
    assert result.rejects.empty


def test_out_of_service_count(result, csv_rows):
    _, rows = csv_rows
    devices = result.table("devices")
    assert (devices["status"] == "Out of service").sum() == 96
    assert sum(r[31] == "Out of service" for r in rows) == 96


def test_connector_power_figures(result, csv_rows):
    _, rows = csv_rows
    connectors = result.table("connectors")
    first = connectors[connectors["connector_id"] == "1"]["power_kw"]
    assert len(first) == 8940
    assert first.median() == 3.7
    assert first.max() == 120.0
    # every connector slot, read independently by position (kW is the 3rd of 11 fields)
    all_kw = [float(r[70 + 11 * k + 2]) for r in rows for k in range(8) if r[70 + 11 * k + 2]]
    assert len(connectors) == len(all_kw) == 13338
    assert connectors["power_kw"].median() == statistics.median(all_kw) == 3.7
    assert connectors["power_kw"].max() == max(all_kw) == 175.0


def test_device_fields(result):
    devices = result.table("devices").set_index("device_id")
    first = devices.loc["000053b1e684c9e7ea73727b2238ce18"]
    assert first["operator"] == "ubitricity"
    assert first["owner"] == "London Borough of Lambeth"
    assert first["latitude"] == pytest.approx(51.480154)
    assert first["longitude"] == pytest.approx(-0.112672)
    assert first["postcode"] == "SW9 0LS"
    assert first["address"] == "29 Offley Road, London"  # the 'null' street is dropped
    assert first["connector_count"] == 1
    assert first["max_power_kw"] == 3.7
    assert first["power_class"] == "slow"
    # 2022-02-07 10:56:13 is winter time: UTC equals local
    assert first["created_utc"] == pd.Timestamp("2022-02-07 10:56:13", tz="UTC")
    assert first["source"] == "ncr"
    assert first["reference"] == "suby1100005665"  # the registry's 'reference' column


def test_summer_dates_converted_to_utc(result, csv_rows):
    _, rows = csv_rows
    summer = next(r for r in rows if r[34].startswith("2021-07"))
    created = result.table("devices").set_index("device_id").loc[summer[0], "created_utc"]
    local = pd.Timestamp(summer[34])
    assert created == local.tz_localize("Europe/London").tz_convert("UTC")
    assert created.hour == (local.hour - 1) % 24


def test_zero_dates_become_missing(result, csv_rows):
    _, rows = csv_rows
    zero_dates = sum(r[35] == "0000-00-00 00:00:00" for r in rows)
    assert zero_dates == 177
    assert result.table("devices")["updated_utc"].isna().sum() == zero_dates


def test_tables_are_canonical(result):
    for name in ("devices", "connectors"):
        frame = result.table(name)
        assert list(frame.columns) == list(schema.TABLES[name])
        assert frame.dtypes.astype(str).tolist() == list(schema.TABLES[name].values())


def test_max_power_and_class_from_connectors(result):
    devices = result.table("devices").set_index("device_id")
    connectors = result.table("connectors")
    expected = connectors.groupby("device_id")["power_kw"].max()
    assert (devices.loc[expected.index, "max_power_kw"] == expected).all()
    assert devices["power_class"].value_counts().to_dict() == {
        "slow": 7610, "fast": 826, "rapid": 498, "ultra": 6}


def test_power_types(result, csv_rows):
    _, rows = csv_rows
    methods = [r[70 + 11 * k + 5] for r in rows for k in range(8) if r[70 + 11 * k]]
    counts = result.table("connectors")["power_type"].value_counts().to_dict()
    assert counts == {"AC": 12336, "DC": 1002}
    assert methods.count("DC") == 1002
    assert sum(m.endswith("Phase AC") for m in methods) == 12336


def test_flags_table(result):
    flags = result.tables["ncr_attributes"]
    assert len(flags) == 8940
    assert flags["moderated"].sum() == 1173  # 'Y' in the file
    assert (flags["moderated"] == False).sum() == 7767  # noqa: E712  ('N')
    assert flags["payment_required"].sum() == 4632


@pytest.mark.parametrize("raw, expected", [
    ("Y", True), ("y", True), ("1", True), ("true", True),
    ("N", False), ("0", False), ("no", False),
    ("", None), ("null", None), ("maybe", None)])
def test_flag_values(raw, expected):
    value = ncr.parse_flags(pd.Series([raw]))[0]
    assert (value is pd.NA) if expected is None else (value == expected)


def _small_file(ncr_text, rows, header=None):
    lines = list(csv.reader(io.StringIO(ncr_text)))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header or lines[0])
    for row in rows(lines[1:4]):
        writer.writerow(row)
    return out.getvalue()


def test_mislabelled_validated_column_accepted(ncr_text):
    header = ncr.expected_header()
    header[91] = "connector3Validated"  # as in registry exports: connector3Validated twice
    text = _small_file(ncr_text, lambda rows: rows, header=header)
    result = parsers.parse_bytes(text.encode(), "ncr.csv")
    assert result.format == "ncr"
    assert len(result.table("devices")) == 3


def test_wrong_header_rejected(ncr_text):
    header = ncr.expected_header()
    header[72] = "connector1Power"
    text = _small_file(ncr_text, lambda rows: rows, header=header)
    with pytest.raises(errors.ParseError, match="column 73 is 'connector1Power'"):
        parsers.parse_bytes(text.encode(), "ncr.csv", format="ncr")


def test_bad_coordinates_rejected_with_reason(ncr_text):
    def damage(rows):
        rows[0][3] = ""            # missing latitude
        rows[1][3] = "95.1"        # out of range
        return rows

    result = parsers.parse_bytes(_small_file(ncr_text, damage).encode(), "ncr.csv")
    assert result.rejects["row"].tolist() == [1, 2]
    assert result.rejects["reason"].tolist() == ["missing or unreadable latitude/longitude",
                                                 "latitude/longitude out of range"]
    assert len(result.table("devices")) == 1
    assert set(result.table("connectors")["device_id"]) == set(
        result.table("devices")["device_id"])


def test_swapped_uk_coordinates_warn(ncr_text):
    def swap(rows):
        rows[0][3], rows[0][4] = rows[0][4], rows[0][3]
        return rows

    result = parsers.parse_bytes(_small_file(ncr_text, swap).encode(), "ncr.csv")
    assert len(result.table("devices")) == 3
    assert any("look swapped" in w for w in result.warnings)


def test_duplicate_device_rejected(ncr_text):
    result = parsers.parse_bytes(
        _small_file(ncr_text, lambda rows: [rows[0], rows[1], rows[0]]).encode(), "ncr.csv")
    assert result.rejects.to_dict("records") == [
        {"row": 3, "reason": "duplicate chargeDeviceID (first in row 1)"}]


def test_cp1252_file_reads_with_warning(ncr_text):
    def accent(rows):
        rows[0][2] = "Café Street"
        return rows

    data = _small_file(ncr_text, accent).encode("cp1252")
    result = parsers.parse_bytes(data, "ncr.csv")
    assert result.table("devices")["name"].iloc[0] == "Café Street"
    assert any("cp1252" in w for w in result.warnings)


def test_utf8_bom_and_utf16(ncr_text):
    text = _small_file(ncr_text, lambda rows: rows)
    for data in (b"\xef\xbb\xbf" + text.encode("utf-8"), text.encode("utf-16")):
        result = parsers.parse_bytes(data, "ncr.csv")
        assert len(result.table("devices")) == 3
        assert result.warnings == []
