"""The PostGIS store: concurrent imports by separate processes, killed imports,
opening by service and URI, and the same figures as the GeoPackage store from the
same real files. (Its backend-neutral behaviour is tested in test_store.py.)"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ev_chargepoints.core.analysis.utilisation import utilisation
from ev_chargepoints.core.errors import StoreError
from ev_chargepoints.core.sources.parsers import parse_file
from ev_chargepoints.core.store.address import open_store, parse_target
from ev_chargepoints.core.store.geopackage import HistoryStore
from ev_chargepoints.core.store.postgis.backend import PostgisStore
from ev_chargepoints.core.store.postgis.schema import SCHEMA, SCHEMA_VERSION

ROOT = Path(__file__).resolve().parents[2]
DUNDEE = ROOT / "resources" / "data" / "dundee"
NCR_LONDON = ROOT / "resources" / "data" / "london" / "ncr_chargepoints_london_2022-05.csv.gz"
OCPI = ROOT / "tests" / "data" / "ocpi" / "spec-examples"
ENV = dict(os.environ, PYTHONPATH=str(ROOT))


def _keys(path) -> set[str]:
    return set(parse_file(path).tables["sessions"]["session_key"])


def _split_overlapping(source: Path, folder: Path) -> tuple[Path, Path]:
    """Two real session files sharing the middle third of ``source``'s rows."""
    with gzip.open(source, "rt", encoding="utf-8", newline="") as handle:
        header, *rows = handle.readlines()
    third = len(rows) // 3
    first, second = folder / "first.csv.gz", folder / "second.csv.gz"
    for path, part in ((first, rows[:2 * third]), (second, rows[third:])):
        with gzip.open(path, "wt", encoding="utf-8", newline="") as handle:
            handle.writelines([header, *part])
    return first, second


# Each process: wait at a barrier, open the store (a new database: both create the
# schema at once), then import its files, meeting the other process at a barrier
# before each one so the imports run at the same time.
IMPORTER = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from ev_chargepoints.core.store.postgis.backend import PostgisStore

    dsn, folder, name, other = sys.argv[1:5]
    files = sys.argv[5:]
    folder = Path(folder)

    def barrier(step):
        (folder / f"{step}-{name}").touch()
        deadline = time.monotonic() + 120
        while not (folder / f"{step}-{other}").exists():
            if time.monotonic() > deadline:
                raise SystemExit("the other process never arrived")
            time.sleep(0.002)

    barrier("open")
    store = PostgisStore.create_or_open(dsn)
    for step, path in enumerate(files):
        barrier(f"import{step}")
        began = time.time()
        report = store.import_file(path)
        print(json.dumps({"file": Path(path).name, "outcome": report.outcome,
                          "added": report.rows_added, "updated": report.rows_updated,
                          "duplicate": report.rows_duplicate, "began": began,
                          "ended": time.time()}), flush=True)
    store.close()
""")


def test_two_processes_importing_overlapping_files_store_every_session_once(pg_dsn,
                                                                            tmp_path):
    first, second = _split_overlapping(DUNDEE / "charge-sessions-june-sept.csv.gz", tmp_path)
    shared = DUNDEE / "cp-data-mar-may-2018.csv.gz"  # imported by both at once
    script = tmp_path / "importer.py"
    script.write_text(IMPORTER)
    children = [subprocess.Popen([sys.executable, str(script), pg_dsn, str(tmp_path), me,
                                  other, str(mine), str(shared)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV,
                                 text=True)
                for me, other, mine in (("a", "b", first), ("b", "a", second))]
    outputs = []
    for child in children:
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0, err
        outputs.append([json.loads(line) for line in out.splitlines()])
    (a_own, a_shared), (b_own, b_shared) = outputs

    # The two imports of the split files ran at the same time.
    assert max(a_own["began"], b_own["began"]) < min(a_own["ended"], b_own["ended"])
    keys_first, keys_second, keys_shared = _keys(first), _keys(second), _keys(shared)
    assert len(keys_first & keys_second) == 6406  # the middle third
    assert (a_own["outcome"], b_own["outcome"]) == ("imported", "imported")
    assert a_own["added"] + b_own["added"] == len(keys_first | keys_second) == 19219
    assert a_own["duplicate"] + b_own["duplicate"] == 6406
    assert a_own["updated"] == b_own["updated"] == 0
    # The same file at the same time: imported by one, "already imported" for the other.
    assert sorted([a_shared["outcome"], b_shared["outcome"]]) == ["already imported",
                                                                  "imported"]
    winner = a_shared if a_shared["outcome"] == "imported" else b_shared
    assert winner["added"] == len(keys_shared - keys_first - keys_second) == len(keys_shared)

    with PostgisStore.create_or_open(pg_dsn) as store:
        sessions = store.sessions()
        assert sessions["session_key"].is_unique
        assert set(sessions["session_key"]) == keys_first | keys_second | keys_shared
        assert len(sessions) == 19219 + len(keys_shared) == 19219 + 16761
        log = store.import_log()
        assert (log["outcome"] == "imported").sum() == 3
        assert list(log[log["sha256"] == log["sha256"].iloc[-1]]["outcome"].value_counts()
                    .sort_index().items()) == [("already imported", 1), ("imported", 1)]
        assert store.check() == "ok"


KILL_SCRIPT = Path(__file__).resolve().parents[1] / "support" / "kill_import.py"


def _state(store):
    return {"sessions": store.sessions(), "devices": store.devices(current_only=False),
            "counts": {k: v for k, v in store.counts().items() if k != "import_log"}}


@pytest.mark.slow
def test_killing_an_import_process_leaves_the_old_state(pg_dsn, tmp_path):
    first, _ = _split_overlapping(DUNDEE / "charge-sessions-june-sept.csv.gz", tmp_path)
    with PostgisStore.create_or_open(pg_dsn) as store:
        store.import_file(first)
        old = _state(store)
    script = KILL_SCRIPT
    n_big = 200_000

    def start():
        child = subprocess.Popen([sys.executable, str(script), pg_dsn, str(n_big)],
                                 stdout=subprocess.PIPE, env=ENV, text=True)
        assert child.stdout.readline().strip() == "writing"
        return child

    for delay in (0.0, 0.1, 0.3):
        child = start()
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
        with PostgisStore.create_or_open(pg_dsn) as store:
            now = _state(store)
            pd.testing.assert_frame_equal(now["sessions"], old["sessions"])
            pd.testing.assert_frame_equal(now["devices"], old["devices"])
            assert now["counts"] == old["counts"]
            assert "importing" not in set(store.import_log()["outcome"])
            assert store.already_imported("big-sha") is None
    # Left alone, the same import completes (the killed ones left no lock behind).
    child = start()
    assert child.wait(timeout=300) == 0 and child.stdout.readline().strip() == "done"
    child.stdout.close()
    with PostgisStore.create_or_open(pg_dsn) as store:
        assert store.counts()["sessions"] == old["counts"]["sessions"] + n_big
        assert store.already_imported("big-sha") is not None


def test_opens_by_service_and_by_uri(pg_database, tmp_path, monkeypatch):
    cluster, name = pg_database
    services = tmp_path / "pg_service.conf"
    services.write_text(f"[evcp_test]\nhost={cluster.host}\nport={cluster.port}\n"
                        f"dbname={name}\nuser={cluster.superuser}\n")
    monkeypatch.setenv("PGSERVICEFILE", str(services))
    with open_store("service=evcp_test") as store:
        assert isinstance(store, PostgisStore) and store.path is None
        assert store.describe() == "PostgreSQL service evcp_test"
        assert store.check() == "ok" and store.schema_version == SCHEMA_VERSION
        store.import_file(DUNDEE / "cpdata.csv.gz")
    with open_store(cluster.dsn(name)) as store:
        assert store.describe() == f"PostgreSQL {name} on {cluster.host}:{cluster.port}"
        assert store.counts()["sessions"] == 15497
        assert store.meta()["schema_version"] == str(SCHEMA_VERSION)


def test_passwords_and_unreachable_servers_give_readable_errors(pg_database):
    cluster, name = pg_database
    with pytest.raises(StoreError, match="contains a password") as refused:
        parse_target(f"postgresql://{cluster.superuser}:s3cret@{cluster.host}:"
                     f"{cluster.port}/{name}")
    assert "s3cret" not in str(refused.value)
    with pytest.raises(StoreError, match="contains a password"):
        open_store(f"host={cluster.host} dbname={name} password=s3cret")
    closed_port = cluster.port + 1 if cluster.port < 65535 else cluster.port - 1
    with pytest.raises(StoreError) as failed:
        PostgisStore.create_or_open(f"postgresql://{cluster.superuser}@127.0.0.1:"
                                    f"{closed_port}/{name}", password="s3cret-pass")
    message = str(failed.value)
    assert message.startswith(f"Cannot connect to PostgreSQL {name} on 127.0.0.1:"
                              f"{closed_port}: ")
    assert "\n" not in message and "s3cret-pass" not in message
    assert "refused" in message.lower()
    with pytest.raises(StoreError, match="does not exist"):
        open_store(cluster.dsn("no_such_database"))


def test_refuses_a_newer_schema_and_upgrades_once(pg_database):
    cluster, name = pg_database
    PostgisStore.create_or_open(cluster.dsn(name)).close()
    conn = cluster.connect(name)
    with conn.cursor() as cur:
        cur.execute(f"UPDATE {SCHEMA}.store_meta SET value='99' WHERE key='schema_version'")
    conn.close()
    with pytest.raises(StoreError, match="newer version of the plugin"):
        PostgisStore.create_or_open(cluster.dsn(name))


def test_times_keep_microseconds_written_by_other_tools(pg_dsn):
    with PostgisStore.create_or_open(pg_dsn) as store:
        store.import_file(DUNDEE / "cpdata.csv.gz")
        with store.transaction() as cur:
            cur.execute(f"UPDATE {SCHEMA}.sessions SET end_utc = "
                        "'2018-01-01T00:50:00.123456Z' WHERE fid = (SELECT min(fid) FROM"
                        f" {SCHEMA}.sessions)")
        back = store.sessions()
        assert back["end_utc"].iloc[0] == pd.Timestamp("2018-01-01T00:50:00.123456", tz="UTC")
        assert back["end_utc"].iloc[1:].dropna().dt.microsecond.eq(0).all()


def _import_all(store):
    reports = [store.import_file(NCR_LONDON)]
    reports += [store.import_file(DUNDEE / name) for name in
                ("cpdata.csv.gz", "cp-data-dec-mar-2018.csv.gz",
                 "cp-data-mar-may-2018.csv.gz", "charge-sessions-june-sept.csv.gz")]
    reports += [store.import_file(OCPI / "location_example.json"),
                store.import_file(OCPI / "location_patch_example_status.json")]
    return reports


def test_both_backends_give_the_same_tables_and_utilisation(pg_dsn, tmp_path):
    with HistoryStore.create_or_open(tmp_path / "history.gpkg") as gpkg, \
            PostgisStore.create_or_open(pg_dsn) as pg:
        for a, b in zip(_import_all(gpkg), _import_all(pg)):
            assert (a.outcome, a.rows_read, a.rows_added, a.rows_updated, a.rows_duplicate,
                    a.rows_rejected, a.message, a.tables) == \
                (b.outcome, b.rows_read, b.rows_added, b.rows_updated, b.rows_duplicate,
                 b.rows_rejected, b.message, b.tables)
        counts = pg.counts()
        assert counts == gpkg.counts()
        assert (counts["devices"], counts["connectors"], counts["sessions"]) == \
            (8940 + 1, 13338 + 3, 67078)
        assert counts["status_snapshots"] > 0
        tables = {}
        for name, read in (("devices", lambda s: s.devices(current_only=False)),
                           ("connectors", lambda s: s.connectors(current_only=False)),
                           ("sessions", lambda s: s.sessions()),
                           ("status", lambda s: s.status_snapshots())):
            tables[name] = read(gpkg), read(pg)
            pd.testing.assert_frame_equal(*tables[name], check_exact=True)
        assert pg.periods() == gpkg.periods() == ["2017-Q3", "2017-Q4", "2018-Q1",
                                                  "2018-Q2", "2018-Q3"]
        pd.testing.assert_frame_equal(pg.sessions(categorical=True).astype(object),
                                      gpkg.sessions(categorical=True).astype(object))
        figures = [utilisation(sessions, devices, connectors, status, period="quarter")
                   for sessions, devices, connectors, status in zip(
                       tables["sessions"], tables["devices"], tables["connectors"],
                       tables["status"])]
        assert len(figures[0]) > 100 and figures[0]["sessions"].sum() > 60_000
        pd.testing.assert_frame_equal(*figures, check_exact=True)
        assert np.isfinite(figures[1]["kwh"]).all()
