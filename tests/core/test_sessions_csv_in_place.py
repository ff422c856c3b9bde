"""Issue #22 (session CSV import speed): a large session CSV is read by DuckDB in place
(no re-encoding, no temporary copy) when its bytes are its text's UTF-8; the format is
found from the header line without splitting the text; exact duplicates are found from
a cheap hash and a full comparison; local times are localised per hour; a store import
skips re-conforming the frame the parser built. Each gives the result it gave before."""

from __future__ import annotations

import gzip
import os
import tempfile

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from ev_chargepoints.core import errors
from ev_chargepoints.core.sources import parsers
from ev_chargepoints.core.sources.parsers import common, sessions_csv, sessions_duckdb
from ev_chargepoints.core.store.importing import prepare

HEADER = ("Charging event,CP ID,Connector,Start Date,Start Time,End Date,End Time,"
          "Total kWh,Cost,Site,Group,Model")


def row(i, sd="01/12/2017", st="10:00", ed="01/12/2017", et="11:00", kwh="5", site="Dundee",
        device="500"):
    return f'{i},{device},1,{sd},{st},{ed},{et},{kwh},0,"{site}, Café",G,M'


def body(rows, end="\r\n") -> str:
    return end.join([HEADER, *rows]) + end


def many_rows(n=300):
    """Rows with clock changes (gap and overlap), repeats, blanks and odd values."""
    rows = [row(i, st=f"{i % 24:02d}:{i % 60:02d}") for i in range(n)]
    rows += [row("g1", sd="25/03/2018", st="01:30", ed="25/03/2018", et="02:10"),
             row("o1", sd="29/10/2017", st="01:30", ed="29/10/2017", et="01:10"),
             row("o2", sd="29/10/2017", st="01:05", ed="29/10/2017", et="01:50"),
             row("5", site="Elsewhere"),            # same id, other content (Site only)
             row(7, st="07:07"),                    # an exact repeat of row 7
             row("", device="777"), row("", device="777"),   # no id: exact repeat
             row("", device="777", site="Other"),   # no id, differs in Site only
             row("NA", device="778"), row("NA", device="778"),
             row("x1", st="9:05"), row("x2", kwh="\"1,234\""), row("x3", sd="31/02/2017")]
    return rows


def parse_pandas(data: bytes, name="s.csv"):
    return parsers.parse_bytes(data, name, format="sessions", engine="python")


def assert_same_result(new, old):
    assert (new.format, new.source, new.rows_read) == (old.format, old.source, old.rows_read)
    assert_frame_equal(new.table("sessions"), old.table("sessions"), check_exact=True)
    assert_frame_equal(new.rejects, old.rejects, check_exact=True)
    assert new.warnings == old.warnings


@pytest.fixture
def large(monkeypatch):
    monkeypatch.setattr(sessions_csv, "DUCKDB_MIN_CHARS", 1)  # every text takes DuckDB


def temp_copies(folder) -> list[str]:
    return [p for p in os.listdir(folder) if p.startswith("ev-sessions-")]


@pytest.fixture
def own_tempdir(tmp_path, monkeypatch):
    """Temporary files go to a folder of this test's, so copies can be counted."""
    folder = tmp_path / "temp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_utf8_file_read_in_place_same_result(tmp_path, large, own_tempdir):
    text = body(many_rows())
    path = tmp_path / "sessions.csv"
    path.write_bytes(text.encode("utf-8"))
    origin = common.SameFile.of(path, os.stat(path)).with_data(path.read_bytes())
    header = sessions_duckdb.header(text)
    with sessions_duckdb.Reader(text, header, sessions_csv._roles(header), common.DEFAULT_LIMITS,
                                sessions_csv._parse_local, origin) as reader:
        assert reader.con is not None and reader.path == str(path)
        assert temp_copies(own_tempdir) == []  # read where it is, no copy
        assert reader.columns() is not None
        setting = reader.con.execute("SELECT current_setting('enable_progress_bar')").fetchone()
        assert setting[0] is False  # DuckDB's bar never draws on stderr
    assert_same_result(parsers.parse_file(path), parse_pandas(path.read_bytes(), path.name))


@pytest.mark.parametrize("encoding, prefix, compress", [
    ("utf-8-sig", b"", False), ("cp1252", b"", False), ("utf-8", b"", True),
    ("utf-8", b"\r\n\r\n", False)])
def test_other_encodings_still_read_from_a_copy_same_result(tmp_path, large, encoding, prefix,
                                                            compress):
    """BOM, Windows-1252, gzip: the bytes are not the text's UTF-8 (DuckDB reads a copy);
    leading blank lines: pandas reads it. Each as the pandas reading gives it."""
    data = prefix + body(many_rows(50)).encode(encoding)
    if compress:
        data = gzip.compress(data)
    path = tmp_path / ("s.csv.gz" if compress else "s.csv")
    path.write_bytes(data)
    result = parsers.parse_file(path)
    assert_same_result(result, parse_pandas(data, path.name))
    if encoding == "cp1252":
        assert any("Windows-1252" in w for w in result.warnings)


def test_file_changed_after_reading_falls_back_to_the_bytes(tmp_path, large):
    text = body(many_rows(40))
    path = tmp_path / "s.csv"
    path.write_bytes(text.encode())
    stale = common.SameFile(str(path), (0, 0, 0, 0), text.encode())
    header = sessions_duckdb.header(text)
    with sessions_duckdb.Reader(text, header, sessions_csv._roles(header), common.DEFAULT_LIMITS,
                                sessions_csv._parse_local, stale) as reader:
        assert reader.con is not None and reader.columns() is None  # not that file any more
    result = sessions_csv.parse_text(text, "s.csv", _origin=stale)
    assert_same_result(result, parse_pandas(text.encode()))


def test_origin_is_not_an_option_people_can_pass(tmp_path):
    with pytest.raises(errors.ParseError, match="_origin"):
        parsers.parse_bytes(body([row(1)]).encode(), "s.csv", _origin=None)


def test_duplicates_found_by_id_hash_then_full_rows(large):
    data = body(many_rows()).encode()
    result = parsers.parse_bytes(data, "s.csv", format="sessions", engine="duckdb")
    assert_same_result(result, parse_pandas(data))
    reasons = dict(zip(result.rejects["row"], result.rejects["reason"]))
    n = 300
    assert reasons[n + 4] == "session id already used by row 6 with different content"
    assert reasons[n + 5] == "exact duplicate of row 8"
    assert reasons[n + 7] == f"exact duplicate of row {n + 6}"
    assert n + 8 not in reasons  # no id and another Site: a session of its own
    assert reasons[n + 10] == f"exact duplicate of row {n + 9}"


def test_detection_from_the_header_line_only():
    blank_first = "\ufeff\r\n \t\n" + body([row(1)])
    assert parsers.detect_format(blank_first.encode(), "s.csv") == "sessions"
    long_header = "x" * 150_000 + "\n1\n"
    with pytest.raises(errors.UnknownFormat, match="unrecognised CSV header"):
        parsers.parse_bytes(long_header.encode(), "s.csv")
    with pytest.raises(errors.UnknownFormat, match="the file is empty"):
        parsers.parse_bytes(b"\xef\xbb\xbf \r\n\t", "s.csv")


@pytest.mark.parametrize("tz", ["Europe/London", "Australia/Lord_Howe", "America/St_Johns"])
def test_hourly_localisation_equals_row_by_row(tz):
    """Gap and overlap minutes and seconds, old offsets (London's 1968-71 BST, its local
    mean time before 1847), half-hour zones, NaT: the same as common.local_to_utc."""
    rng = np.random.default_rng(3)
    starts = pd.to_datetime(["2021-03-28", "2021-10-31", "2018-03-25", "2017-10-29",
                             "1971-10-31", "1968-02-18", "1847-12-01", "1800-06-01",
                             "2021-04-04", "2021-10-03", "2200-03-30"]).to_numpy()
    n = 20_000
    start = starts[rng.integers(0, len(starts), n)] + rng.integers(
        0, 4 * 3600, n).astype("m8[s]")
    start = pd.Series(np.where(rng.random(n) < 0.02, np.datetime64("NaT"), start))
    end = pd.Series(start.to_numpy() + rng.integers(-3600, 3 * 3600, n).astype("m8[s]"))
    expected_start = common.local_to_utc(start, tz)
    got_start = sessions_csv._local_to_utc(start, tz)
    pd.testing.assert_series_equal(got_start, expected_start)
    pd.testing.assert_series_equal(sessions_csv._local_to_utc(end, tz, got_start),
                                   common.local_to_utc(end, tz, expected_start))


def test_store_import_skips_conform_only_for_a_canonical_parsed_frame(large):
    data = body(many_rows(80)).encode()
    result = parsers.parse_bytes(data, "s.csv", format="sessions", engine="duckdb")
    frame = result.tables["sessions"]
    assert frame.attrs.get("conformed") == "sessions"
    fast = prepare(result, None, "auto").session_frame
    plain = frame.copy()
    plain.attrs.clear()
    result.tables["sessions"] = plain
    assert_frame_equal(fast, prepare(result, None, "auto").session_frame, check_exact=True)
    # marked, but no longer canonical (kWh as text): conformed again, as before
    changed = frame.assign(kwh=frame["kwh"].astype(str))
    assert changed.attrs.get("conformed") == "sessions"
    result.tables["sessions"] = changed
    got = prepare(result, None, "auto").session_frame
    assert str(got["kwh"].dtype) == "float64"
    assert_frame_equal(got, fast, check_exact=True)


def _gap_minute_by_minute(index, tz, summer):
    """The earlier reading of a time in a clock-change gap: the first whole minute after
    it that exists, found one minute at a time (the reference for the blocked search)."""
    local = index.tz_localize(tz, ambiguous=summer, nonexistent="NaT")
    values = local.tz_convert("UTC").tz_localize(None).to_numpy(copy=True)
    todo = np.flatnonzero(np.asarray(local.isna() & index.notna()))
    for minutes in range(1, 24 * 60):
        probe = (index[todo] + pd.Timedelta(minutes=minutes)).floor("min")
        found = probe.tz_localize(tz, ambiguous=summer[todo], nonexistent="NaT")
        ok = np.asarray(found.notna())
        values[todo[ok]] = found[ok].tz_convert("UTC").tz_localize(None).to_numpy()
        todo = todo[~ok]
        if not len(todo):
            break
    return pd.DatetimeIndex(values).tz_localize("UTC")


@pytest.mark.parametrize("tz", ["Europe/London", "Australia/Lord_Howe", "Pacific/Apia"])
def test_gap_times_move_to_the_first_minute_that_exists(tz):
    """Spring-forward gaps (London's hour, Lord Howe's half hour, Samoa's skipped day in
    2011), seconds and nanoseconds, both ambiguity choices, NaT."""
    rng = np.random.default_rng(11)
    gaps = pd.to_datetime(["2018-03-25 01:00", "2021-10-03 02:00", "2011-12-30 00:00",
                           "1968-02-18 02:00", "2021-06-01 12:00"]).to_numpy()
    n = 3000
    times = gaps[rng.integers(0, len(gaps), n)] + rng.integers(
        -600, 24 * 3600, n).astype("m8[s]") + rng.integers(0, 10**9, n).astype("m8[ns]")
    times[rng.random(n) < 0.05] = np.datetime64("NaT")
    index = pd.DatetimeIndex(times)
    summer = rng.random(n) < 0.5
    got = common._localize(index, tz, summer)
    assert got.isna().sum() == index.isna().sum()
    pd.testing.assert_index_equal(got, _gap_minute_by_minute(index, tz, summer))


def test_repeated_keys_in_one_import_keep_the_first_row_in_frame_order(tmp_path):
    """write_part finds a row's position from the table's insertion order (no column of
    row numbers); many rows, so DuckDB scans the frame in parallel chunks."""
    from ev_chargepoints.core.schema import ParseResult, conform
    from ev_chargepoints.core.store.geopackage import HistoryStore

    rng = np.random.default_rng(2)
    n = 150_000
    keys = np.concatenate([np.arange(n), rng.permutation(n)])  # each key twice
    order = rng.permutation(2 * n)
    keys = keys[order]
    kwh = order.astype(float)  # tells the rows apart
    start = pd.Timestamp("2020-01-01", tz="UTC") + pd.to_timedelta(keys % 5000, unit="min")
    frame = conform(pd.DataFrame({
        "session_key": [f"k{k}" for k in keys], "source_session_id": [f"k{k}" for k in keys],
        "device_id": "D1", "connector_id": "1", "start_utc": start,
        "end_utc": start + pd.Timedelta(minutes=30), "kwh": kwh, "source": "t"}), "sessions")
    first = frame.drop_duplicates("session_key", keep="first")
    expected = dict(zip(first["session_key"], first["kwh"]))
    with HistoryStore.create_or_open(tmp_path / "h.gpkg") as store:
        report = store.import_parse_result(ParseResult("sessions", "t", 2 * n,
                                                       {"sessions": frame}), "a.csv", "a")
        assert (report.rows_added, report.rows_duplicate) == (n, n)
        again = frame.iloc[::-1].reset_index(drop=True)  # the other rows first: all held
        report = store.import_parse_result(ParseResult("sessions", "t", 2 * n,
                                                       {"sessions": again}), "b.csv", "b")
        assert (report.rows_added, report.rows_duplicate) == (0, 2 * n)
        stored = store.sessions()
    assert len(stored) == n
    assert dict(zip(stored["session_key"], stored["kwh"])) == expected


@pytest.mark.parametrize("data, expected", [
    (b'a,"b",c', False), (b'a, "b",c', True), (b'a,"b" ,c', True), (b'a,\t"b"', True),
    (b'"b"\t,c', True), (b' "', True), (b'" ', True), (b'"', False), (b"", False),
    (b"a b c", False), (b'x' * 70 + b' "', True), (b'"' + b"x" * 70 + b'"', False)])
def test_blank_beside_a_quote_found_across_blocks(data, expected):
    assert sessions_duckdb._blank_beside_quote(data, block=8) is expected
    assert sessions_duckdb._blank_beside_quote(data) is expected
    assert expected is any(near in data for near in (b' "', b'\t"', b'" ', b'"\t'))


def ascii_rows(n=120) -> list[str]:
    return [r.replace("Café", "Cafe") for r in many_rows(n)]


@pytest.mark.parametrize("case, data", [
    ("plain", body(ascii_rows()).encode()),
    ("a space beside a quote (pandas reads it)",
     body(ascii_rows() + ['9,500,1,01/12/2017,10:00,01/12/2017,11:00,5,0, "S",G,M']).encode()),
    ("a lone carriage return (pandas reads it)",
     body(ascii_rows()).encode().replace(b"\r\n", b"\r", 3).replace(b"\r", b"\r\n", 1)),
    ("line feeds only", body(ascii_rows(), end="\n").encode())])
def test_large_ascii_file_is_never_decoded_unless_pandas_reads_it(tmp_path, large, monkeypatch,
                                                                   case, data):
    """A large ASCII session file is its own UTF-8: DuckDB reads it in place and the
    whole text is decoded only where pandas must read it; the same result either way."""
    path = tmp_path / "s.csv"
    path.write_bytes(data)
    expected = parse_pandas(data, path.name)
    decoded = []
    real_decode = common.decode_text

    def counting(raw, name, partial=False):
        decoded.append(len(raw))
        return real_decode(raw, name, partial)

    monkeypatch.setattr(parsers, "decode_text", counting)
    taken = parsers._undecoded_sessions(data, path.name, common.DEFAULT_LIMITS)
    assert taken, case
    assert_same_result(parsers.parse_file(path), expected)
    assert decoded == [], f"{case}: the text went through decode_text"
    assert_same_result(parsers.parse_file(path, engine="python"), expected)


@pytest.mark.parametrize("data, fmt", [
    (b'{"data": [], "status_code": 1000, "timestamp": "2023-01-01T00:00:00Z"}',
     None),
    (body([row(1)]).replace("Café", "Cafe").encode(), "sessions"),
    (b"\xef\xbb\xbf" + body([row(1)]).encode(), "sessions")])
def test_files_not_taken_undecoded_go_the_usual_way(tmp_path, large, data, fmt):
    """JSON, a BOM or any other text: decoded as before (an ASCII session CSV is taken
    undecoded only from the size where DuckDB reads it)."""
    small = len(data) < sessions_csv.DUCKDB_MIN_CHARS
    assert parsers._undecoded_sessions(data, "s", common.DEFAULT_LIMITS) is (
        fmt == "sessions" and data.isascii() and not small)


def test_a_nul_near_the_start_of_an_ascii_file_is_refused_as_before(tmp_path, large):
    path = tmp_path / "s.csv"
    path.write_bytes(body([row(1)]).replace("Café", "Cafe").encode() + b"\x00")
    with pytest.raises(errors.NotText):
        parsers.parse_file(path)
