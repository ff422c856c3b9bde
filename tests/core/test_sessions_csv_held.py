"""Issue #22: a store's import of a session CSV keeps the sessions in DuckDB from the CSV
to the Parquet part (``sessions_held.DuckSessions``: the checks as SQL, only rejects
and small summaries back in Python). Every import here is done twice, into two fresh
stores: through that path and through the pandas path (``engine="python"``, the path
taken without DuckDB); the stored sessions, rejects, counts and import messages must be
identical. The real Dundee files also keep their recorded figures."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from ev_chargepoints.core import paths
from ev_chargepoints.core.sources import parsers
from ev_chargepoints.core.sources.intake import NCR_SNAPSHOT
from ev_chargepoints.core.sources.parsers import sessions_csv, sessions_duckdb, sessions_held
from ev_chargepoints.core.store.geopackage import HistoryStore
from ev_chargepoints.core.store.importing import prepare

DUNDEE = paths.resource("data", "dundee")
HEADER = ("Charging event,CP ID,Connector,Start Date,Start Time,End Date,End Time,"
          "Total kWh,Cost,Site,Group,Model")
# (rows read, sessions kept, rejects by reason, kWh kept) of the real files, as the
# pandas path gives them
DUNDEE_FIGURES = {
    "cpdata.csv.gz": (15502, 15497, {"missing charge point id (CP ID)": 2, "negative kWh": 2,
                                     "end is a 1970 placeholder date (not a real time)": 1},
                      121476.24),
    "cp-data-dec-mar-2018.csv.gz": (15610, 15601, {
        "negative kWh": 7, "end is a 1970 placeholder date (not a real time)": 1,
        "end is before start": 1}, 132379.115),
    "cp-data-mar-may-2018.csv.gz": (16773, 16761, {"negative kWh": 12}, 144481.27),
    "charge-sessions-june-sept.csv.gz": (19227, 19219, {"negative kWh": 8}, 184845.699),
}


def row(i, sd="01/12/2017", st="10:00", ed="01/12/2017", et="11:00", kwh="5",
        site="Dundee", device="500"):
    return f'{i},{device},1,{sd},{st},{ed},{et},{kwh},0,"Site, {site}",G,M'


def write(path: Path, rows) -> Path:
    path.write_bytes(("\r\n".join([HEADER, *rows]) + "\r\n").encode())
    return path


def tricky_rows(n=1500):
    """Clock changes (gap and overlap, both years), repeats, rows without an id, times
    and kWh that need the pandas parsing, open sessions, missing kWh."""
    rows = [row(i, sd=f"{1 + i % 28:02d}/{1 + i % 12:02d}/2018", st=f"{i % 24:02d}:{i % 60:02d}",
                ed=f"{1 + i % 28:02d}/{1 + i % 12:02d}/2018", et="23:59") for i in range(n)]
    rows += [row("g1", sd="25/03/2018", st="01:30", ed="25/03/2018", et="02:10"),
             row("g2", sd="31/03/2019", st="00:59", ed="31/03/2019", et="01:00"),
             row("o1", sd="29/10/2017", st="01:30", ed="29/10/2017", et="01:10"),
             row("o2", sd="29/10/2017", st="01:05", ed="29/10/2017", et="01:50"),
             row("o3", sd="28/10/2018", st="01:59", ed="28/10/2018", et="01:00"),
             row("5", site="Elsewhere"), row(7, st="07:07"), row(7, st="07:07"),
             row("", device="777"), row("", device="777"), row("", device="777", site="X"),
             row("", device="778", ed="", et=""), row("", device="779", kwh=""),
             row("NA", device="780"), row("x1", st="9:05"), row("x2", kwh='"1,234"'),
             row("x3", sd="31/02/2017"), row("x4", device=""), row("x5", ed="01/01/1970"),
             row("x6", et="09:00"), row("x7", kwh="abc"), row("x8", kwh="-1"),
             row("x9", ed="", et=""), row("x10", kwh=""), row("x11", sd="2018-05-01",
                                                               st="10:00:30")]
    return rows


def held_parse(path):
    result = parsers.parse_file(path, sessions_in_duckdb=True)
    assert isinstance(result.tables["sessions"], sessions_held.DuckSessions)
    return result


def pandas_parse(path):
    return parsers.parse_file(path, engine="python")


def import_both(tmp_path: Path, files):
    """Import ``files`` in turn into a store through each path; the two stores' content."""
    out = []
    for label, parse in (("held", held_parse), ("pandas", pandas_parse)):
        with HistoryStore.create_or_open(tmp_path / f"{label}.gpkg") as store:
            reports = [store.import_file(f, parse=parse) for f in files]
            log = store.import_log()
            rejects = store.import_rejects()
            sessions = store.sessions()
        out.append((reports, log, rejects, sessions))
    return out


def assert_same_stores(held, plain):
    (reports_a, log_a, rejects_a, sessions_a), (reports_b, log_b, rejects_b, sessions_b) = \
        held, plain
    for a, b in zip(reports_a, reports_b):
        assert a.outcome == b.outcome == "imported", (a.message, b.message)
        assert (a.rows_read, a.rows_added, a.rows_updated, a.rows_duplicate,
                a.rows_rejected, a.message, a.tables) == \
               (b.rows_read, b.rows_added, b.rows_updated, b.rows_duplicate,
                b.rows_rejected, b.message, b.tables)
    columns = ["file_name", "format", "rows_read", "rows_added", "rows_updated",
               "rows_duplicate", "rows_rejected", "outcome", "message"]
    assert_frame_equal(log_a[columns], log_b[columns])
    assert_frame_equal(rejects_a, rejects_b)
    assert_frame_equal(sessions_a, sessions_b, check_exact=True)


@pytest.fixture
def large(monkeypatch):
    monkeypatch.setattr(sessions_csv, "DUCKDB_MIN_CHARS", 1)  # every text takes DuckDB


@pytest.mark.parametrize("name", sorted(DUNDEE_FIGURES))
def test_real_dundee_files_import_identically(tmp_path, large, name):
    held, plain = import_both(tmp_path, [DUNDEE / name])
    assert_same_stores(held, plain)
    rows_read, kept, reasons, kwh = DUNDEE_FIGURES[name]
    report, sessions, rejects = held[0][0], held[3], held[2]
    assert (report.rows_read, report.rows_added, len(sessions)) == (rows_read, kept, kept)
    assert rejects["reason"].value_counts().to_dict() == reasons
    assert math.isclose(sessions["kwh"].sum(), kwh, rel_tol=1e-12)


def test_real_dundee_files_one_after_another(tmp_path, large):
    """Later files against the parts of earlier ones (the held path reads those parts
    from its own DuckDB connection)."""
    files = [DUNDEE / name for name in sorted(DUNDEE_FIGURES)]
    held, plain = import_both(tmp_path, files)
    assert_same_stores(held, plain)
    assert len(held[3]) == sum(f[1] for f in DUNDEE_FIGURES.values())


def test_chargeplace_scotland_layout_with_clock_changes_repeats_and_odd_text(tmp_path,
                                                                            large):
    path = write(tmp_path / "cps.csv", tricky_rows())
    held, plain = import_both(tmp_path, [path])
    assert_same_stores(held, plain)
    reasons = set(held[2]["reason"])
    assert {"missing charge point id (CP ID)", "start date/time could not be read",
            "end is a 1970 placeholder date (not a real time)", "end is before start",
            "kWh is not a number", "negative kWh", "exact duplicate of row 1507",
            "session id already used by row 6 with different content"} <= reasons
    keys = held[3]["session_key"]
    assert keys.str.startswith("h:").sum() >= 4 and keys.str.startswith("cps:").any()
    assert "have no end time" in held[0][0].message and "have no kWh" in held[0][0].message


def test_later_file_completes_open_sessions_and_skips_held_ones(tmp_path, large):
    first = write(tmp_path / "a.csv", [row(i, ed="", et="") if i % 2 else row(i)
                                       for i in range(40)])
    second = write(tmp_path / "b.csv", [row(i) for i in range(60)])
    held, plain = import_both(tmp_path, [first, second])
    assert_same_stores(held, plain)
    report = held[0][1]
    assert (report.rows_added, report.rows_updated, report.rows_duplicate) == (20, 20, 20)
    assert held[3]["end_utc"].notna().all()


def test_gzip_and_windows_1252_text_read_from_a_copy(tmp_path, large):
    rows = tricky_rows(300) + [row("é1", site="Café")]
    gz = tmp_path / "s.csv.gz"
    gz.write_bytes(gzip.compress(("\r\n".join([HEADER, *rows]) + "\r\n").encode()))
    cp = tmp_path / "s1252.csv"
    cp.write_bytes(("\r\n".join([HEADER, *rows]) + "\r\n").encode("cp1252"))
    for path in (gz, cp):
        folder = tmp_path / path.name.replace(".", "_")
        folder.mkdir()
        held, plain = import_both(folder, [path])
        assert_same_stores(held, plain)


def test_rows_without_key_device_or_start_rejected_by_the_store(tmp_path, large):
    """The store's rule for every parse result holds for sessions held in DuckDB too."""
    result = held_parse(write(tmp_path / "s.csv", [row(i) for i in range(10)]))
    table = result.tables["sessions"]
    table.con.execute(f"UPDATE {table.name} SET device_id = NULL WHERE _n IN (2, 5)")
    prepared = prepare(result, None, "auto")
    assert prepared.rejected == 2 and len(prepared.session_frame) == 8
    assert prepared.reject_rows == [(None, "session without key, device or start time")] * 2
    frame = prepared.session_frame.frame()
    assert list(frame.columns) == list(parsers.schema.TABLES["sessions"])
    assert frame["source_session_id"].tolist() == [str(i) for i in range(10) if i not in (2, 5)]


def test_without_duckdb_the_import_reads_with_pandas(tmp_path, large, monkeypatch):
    monkeypatch.setattr(sessions_duckdb, "_duckdb", lambda: None)
    path = write(tmp_path / "s.csv", tricky_rows(200))
    result = parsers.parse_file(path, sessions_in_duckdb=True)
    assert isinstance(result.tables["sessions"], pd.DataFrame)
    with HistoryStore.create_or_open(tmp_path / "s.gpkg") as store:
        assert store.import_file(path, parse=lambda p: parsers.parse_file(
            p, sessions_in_duckdb=True)).outcome == "imported"


def test_sessions_in_duckdb_is_ignored_by_other_formats():
    result = parsers.parse_file(paths.LONDON_SNAPSHOT / NCR_SNAPSHOT, sessions_in_duckdb=True)
    assert result.format == "ncr" and len(result.table("devices")) > 0


@pytest.mark.parametrize("inline", [True, False])
def test_clock_change_times_without_repeats(tmp_path, large, monkeypatch, inline):
    """Times in clock-change hours named in the SQL (few) or set by an update (many)."""
    monkeypatch.setattr(sessions_duckdb, "_INLINE_TIMES", 2000 if inline else 0)
    rows = [row(f"t{i}", sd=day, st=f"{h:02d}:{m:02d}", ed=day, et=f"{h2:02d}:{m:02d}")
            for i, (day, h, h2, m) in enumerate(
                (d, h, h2, m) for d in ("25/03/2018", "28/10/2018", "29/10/2017")
                for h, h2 in ((0, 1), (1, 1), (1, 2), (2, 1)) for m in range(0, 60, 7))]
    held, plain = import_both(tmp_path, [write(tmp_path / "c.csv", rows)])
    assert_same_stores(held, plain)
    assert "end is before start" in set(held[2]["reason"]) and len(held[3]) > 50


def test_shared_store_import_takes_the_held_table_as_a_frame(pg_cluster, large):
    """The PostGIS store writes rows from Python: the held table becomes the same
    canonical frame, and the store the same sessions, rejects and message as through
    pandas."""
    from ev_chargepoints.core.store.postgis.backend import PostgisStore

    path = DUNDEE / "cpdata.csv.gz"
    out = []
    for parse in (held_parse, pandas_parse):
        name = pg_cluster.create_database()
        try:
            store = PostgisStore.create_or_open(pg_cluster.dsn(name))
            try:
                report = store.import_file(path, parse=parse)
                out.append((report.outcome, report.rows_added, report.rows_rejected,
                            report.message, store.sessions(), store.import_rejects()))
            finally:
                store.close()
        finally:
            pg_cluster.drop_database(name)
    (held, plain) = out
    assert held[:4] == plain[:4] and held[:3] == ("imported", 15497, 5)
    assert_frame_equal(held[4], plain[4], check_exact=True)
    assert_frame_equal(held[5].drop(columns=["import_id"], errors="ignore"),
                       plain[5].drop(columns=["import_id"], errors="ignore"))


def test_an_import_reads_the_file_once_for_its_hash_and_its_parsing(tmp_path, large,
                                                                     monkeypatch):
    import builtins
    import hashlib
    import os

    source = DUNDEE / sorted(DUNDEE_FIGURES)[0]
    expected_sha = hashlib.sha256(source.read_bytes()).hexdigest()
    opened = []
    real_open = builtins.open

    def counting_open(file, *args, **kwargs):
        if not isinstance(file, int) and Path(os.fspath(file)).resolve() == source.resolve():
            opened.append(file)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", counting_open)
    with HistoryStore.create_or_open(tmp_path / "once.gpkg") as store:
        report = store.import_file(source, parse=held_parse)
        again = store.import_file(source, parse=held_parse)
    assert report.outcome == "imported" and report.sha256 == expected_sha
    assert again.outcome == "already imported"
    assert len(opened) == 2  # once per import: hashed and parsed from the same bytes


def test_keys_all_from_session_ids_skip_the_stores_repeat_check(tmp_path, large, monkeypatch):
    """A file whose every kept row has a session id (a repeated id rejected) gives keys
    distinct by construction: the store does not look for repeats again, and stores
    each id once (the first row). A file with rows without an id (keys from content)
    is still checked. Both stores as the pandas path gives them."""
    ids = write(tmp_path / "ids.csv", [row(i) for i in range(20)]
                + [row(3, st="12:00"), row(7, st="07:07")])
    held = held_parse(ids)
    assert held.tables["sessions"].unique_keys
    no_ids = write(tmp_path / "no_ids.csv", [row(i) for i in range(5)]
                   + [row("", device="777"), row("", device="778")])
    assert not held_parse(no_ids).tables["sessions"].unique_keys
    from ev_chargepoints.core.store import history_parts

    checks = []
    real = history_parts._overlapping

    def spy(snap, frame, kind):  # (write_part's next step after the check)
        checks.append(getattr(frame, "unique_keys", False))
        return real(snap, frame, kind)
    monkeypatch.setattr(history_parts, "_overlapping", spy)
    for path in (ids, no_ids):
        folder = tmp_path / path.stem
        folder.mkdir()
        held, plain = import_both(folder, [path])
        assert_same_stores(held, plain)
        keys = held[3]["session_key"]
        assert keys.is_unique and len(keys) == (20 if path is ids else 7)
    assert checks[0] is True and checks[2] is False  # (held, pandas) per file
