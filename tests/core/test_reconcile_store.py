"""Store schema 4 on both backends: a schema-3 store (made by the schema-3 migrations
and importer) opens, migrates and loses nothing; device files imported before are
read again once to fill in the cross-reference columns; decisions are kept."""

from __future__ import annotations

import gzip
import json
import sqlite3
from pathlib import Path

import pytest

from ev_chargepoints.core.errors import EvChargepointsError
from ev_chargepoints.core.sources.parsers import parse_file
from ev_chargepoints.core.store import gpkg_schema, history_parts
from ev_chargepoints.core.store.geopackage import HistoryStore
from ev_chargepoints.core.store.gpkg_schema import SCHEMA_VERSION
from ev_chargepoints.core.store.history_parts import duckdb_connection
from ev_chargepoints.core.store.importing import prepare
from ev_chargepoints.core.store.interface import REREAD_SUFFIX, file_sha256
from ev_chargepoints.core.store.postgis import migrations as pg_migrations
from ev_chargepoints.core.store.postgis import schema as pg_schema
from ev_chargepoints.core.store.postgis.backend import PostgisStore, _connect, _ensure_postgis
from ev_chargepoints.core.store.postgis.backend import _set_meta as pg_set_meta

ROOT = Path(__file__).resolve().parents[2]
NCR = ROOT / "resources/data/london/ncr_chargepoints_london_2022-05.csv.gz"
DUNDEE = ROOT / "resources/data/dundee/cpdata.csv.gz"
SPEC = ROOT / "tests/data/ocpi/spec-examples/location_example.json"
ADDED = {"devices": "reference", "connectors": "evse_id"}


def _slices(folder: Path) -> dict[str, Path]:
    """Real files to import: 300 registry rows, 200 Dundee sessions, and the OCPI
    example Location (as published, in an envelope)."""
    out = {}
    for name, source, rows in (("ncr", NCR, 300), ("sessions", DUNDEE, 200)):
        with gzip.open(source, "rt", encoding="utf-8", newline="") as handle:
            lines = [next(handle) for _ in range(rows + 1)]
        out[name] = folder / f"{name}_slice.csv"
        out[name].write_text("".join(lines), encoding="utf-8")
    envelope = {"data": [json.loads(SPEC.read_text("utf-8"))], "status_code": 1000,
                "timestamp": "2015-06-30T21:59:59Z"}
    out["ocpi"] = folder / "locations.json"
    out["ocpi"].write_text(json.dumps(envelope), encoding="utf-8")
    return out


def _schema_3_store(backend: str, tmp_path: Path, request):
    """A store at schema 3: the schema-3 migrations, then imports written by the
    importer with the schema-3 columns only."""
    if backend == "geopackage":
        path = tmp_path / "v3.gpkg"
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN")
        for target, step in gpkg_schema.MIGRATIONS:
            if target <= 3:
                step(conn)
        conn.execute("PRAGMA application_id=1196444487")
        conn.execute("PRAGMA user_version=10300")
        gpkg_schema.set_meta(conn, "schema_version", "3")
        for sql in history_parts.CREATE_SQL:  # today's importer writes usage as parts
            conn.execute(sql)
        conn.execute("COMMIT")
        return HistoryStore(path, conn), path
    dsn = request.getfixturevalue("pg_dsn")
    store = PostgisStore(_connect(dsn, None), dsn)
    with store.transaction() as cur:
        _ensure_postgis(cur, dsn)
        for target, step in pg_migrations.MIGRATIONS:
            if target <= 3:
                step(cur)
        pg_set_meta(cur, "schema_version", "3")
    return store, dsn


def _import_schema_3(store, path: Path) -> None:
    result = parse_file(path)
    prepared = prepare(result, None, "auto")
    for table, column in ADDED.items():
        frame = getattr(prepared, table)
        if frame is not None:
            setattr(prepared, table, frame.drop(columns=[column]))
    report = store._write_import(result, prepared, path.name, file_sha256(path))
    assert report.outcome == "imported", report.message


TABLES = ("devices", "connectors", "sessions", "status_snapshots", "import_log",
          "import_rejects", "usage_periods")


def _rows(store, table: str) -> tuple[list[str], list[tuple]]:
    """Every column of every row, as the database holds it (ordered by row id)."""
    order = "id" if table == "import_log" else "fid"
    if isinstance(store, HistoryStore) and table in ("sessions", "status_snapshots"):
        con = duckdb_connection()  # the usage history's Parquet parts (schema 5)
        cur = con.execute(f"SELECT * FROM {store.history_relation(con, table)} h ORDER BY ALL")
        return [d[0] for d in cur.description], cur.fetchall()
    if isinstance(store, HistoryStore):
        cur = store._conn.execute(f"SELECT * FROM {table} ORDER BY {order}")
        return [d[0] for d in cur.description], cur.fetchall()
    with store.conn.cursor() as cur:
        cur.execute(f"SELECT * FROM {pg_schema.SCHEMA}.{table} ORDER BY {order}")
        return [d[0] for d in cur.description], cur.fetchall()


def _content(store) -> dict:
    """Each table's rows without the columns schema 4 added (and import_log.sha256)."""
    out = {}
    for table in TABLES:
        names, rows = _rows(store, table)
        keep = [i for i, n in enumerate(names) if n not in (ADDED.get(table), "sha256")]
        out[table] = ([names[i] for i in keep], [tuple(r[i] for i in keep) for r in rows])
    return out


def _open(backend, where):
    return HistoryStore.create_or_open(where) if backend == "geopackage" \
        else PostgisStore.create_or_open(where)


@pytest.mark.parametrize("backend", ["geopackage", "postgis"])
def test_a_schema_3_store_migrates_keeps_everything_and_rereads_device_files_once(
        backend, tmp_path, request):
    files = _slices(tmp_path)
    old, where = _schema_3_store(backend, tmp_path, request)
    with old:
        assert old.schema_version == 3
        for name in ("ncr", "sessions", "ocpi"):
            _import_schema_3(old, files[name])
        before = _content(old)
        names, rows = _rows(old, "import_log")
        old_shas = [row[names.index("sha256")] for row in rows]
    registry_rows = len(parse_file(files["ncr"]).table("devices"))
    assert len(before["devices"][1]) == registry_rows + 1
    assert len(before["sessions"][1]) > 100

    with _open(backend, where) as store:
        assert store.schema_version == (SCHEMA_VERSION if backend == "geopackage"
                                        else pg_schema.SCHEMA_VERSION)
        assert store.check() == "ok"
        assert _content(store) == before
        devices, connectors = store.devices(), store.connectors()
        assert len(devices) == registry_rows + 1
        assert devices["reference"].isna().all() and connectors["evse_id"].isna().all()
        log = store.import_log()
        assert log["format"].tolist() == ["ncr", "sessions", "ocpi-locations"]
        assert log["sha256"].tolist() == [old_shas[0] + REREAD_SUFFIX, old_shas[1],
                                          old_shas[2] + REREAD_SUFFIX]
        assert store.decisions().empty

        parsed = parse_file(files["ncr"]).table("devices")
        again = store.import_file(files["ncr"])
        assert again.outcome == "imported"
        assert again.tables["devices"]["updated"] == int(parsed["reference"].notna().sum())
        references = store.devices(source="ncr").set_index("device_id")["reference"]
        assert references.to_dict() == parsed.set_index("device_id")["reference"].to_dict()
        assert store.import_file(files["ncr"]).outcome == "already imported"
        assert store.import_file(files["sessions"]).outcome == "already imported"

        assert store.import_file(files["ocpi"]).outcome == "imported"
        evse_ids = store.connectors(source=f"ocpi:{files['ocpi'].name}")["evse_id"]
        assert sorted(set(evse_ids)) == ["BE*BEC*E041503001", "BE*BEC*E041503002"]
        assert store.check() == "ok"


@pytest.fixture(params=["geopackage", "postgis"])
def store(request, tmp_path):
    if request.param == "geopackage":
        opened = HistoryStore.create_or_open(tmp_path / "history.gpkg")
    else:
        opened = PostgisStore.create_or_open(request.getfixturevalue("pg_dsn"))
    with opened:
        yield opened


def test_decisions_are_kept_in_the_order_made(store):
    made = [(("ncr", "A", None), ("ocpi:feed", "LOC", "E1"), "same", "site visit"),
            (("ncr", "B", None), ("ocpi:feed", "LOC", None), "different", ""),
            (("ncr", "A", None), ("ocpi:feed", "LOC", "E1"), "different", "")]
    ids = [store.record_decision(a, b, verdict, note) for a, b, verdict, note in made]
    assert ids == sorted(ids) and len(set(ids)) == 3
    frame = store.decisions()
    assert frame["id"].tolist() == ids
    assert frame["verdict"].tolist() == [m[2] for m in made]
    assert list(zip(frame["a_source"], frame["a_device_id"], frame["b_device_id"],
                    frame["b_evse_uid"])) == [("ncr", "A", "LOC", "E1"), ("ncr", "B", "LOC", None),
                                              ("ncr", "A", "LOC", "E1")]
    assert frame["a_evse_uid"].isna().all() and frame["note"].tolist()[0] == "site visit"
    assert frame["decided_utc"].notna().all()
    with pytest.raises(EvChargepointsError, match="'same' or 'different'"):
        store.record_decision(("ncr", "A", None), ("ocpi:feed", "LOC", None), "maybe")
    with pytest.raises(EvChargepointsError, match="source and a device id"):
        store.record_decision(("ncr", "", None), ("ocpi:feed", "LOC", None), "same")
    assert len(store.decisions()) == 3


def test_a_new_store_has_the_canonical_columns_in_both_backends(store):
    devices, connectors = store.devices(), store.connectors()
    assert "reference" in devices.columns and "evse_id" in connectors.columns
    result = parse_file(SPEC, format="ocpi-locations")
    assert store.import_parse_result(result, "example.json", "example-sha").outcome == \
        "imported"
    stored = store.connectors()
    assert stored["evse_id"].tolist() == result.table("connectors")["evse_id"].tolist()
