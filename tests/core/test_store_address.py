"""The store address once (core/store/address.py): a GeoPackage store is created only
when asked (imports, fetches); everything that reads says that a missing store is
missing, in one message, and leaves nothing behind."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import pytest

from ev_chargepoints.cli import main
from ev_chargepoints.core.errors import EvChargepointsError, StoreError, StoreNotFound
from ev_chargepoints.core.store.address import open_store
from ev_chargepoints.core.store.geopackage import HistoryStore
from ev_chargepoints.core.store.gpkg_schema import SCHEMA_VERSION
from ev_chargepoints.core.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
NCR = ROOT / "resources/data/london/ncr_chargepoints_london_2022-05.csv.gz"


def missing_message(path: Path) -> str:
    return f"There is no store at {path}; import or fetch first."


def ncr_slice(folder: Path, rows: int) -> tuple[Path, set[str]]:
    """The first ``rows`` registry rows as a file, and their device ids read with csv."""
    with gzip.open(NCR, "rt", encoding="utf-8", newline="") as handle:
        lines = [next(handle) for _ in range(rows + 1)]
    path = folder / "ncr_slice.csv"
    path.write_text("".join(lines), encoding="utf-8")
    ids = {row["chargeDeviceID"] for row in csv.DictReader(lines)}
    return path, ids


def test_opening_a_missing_geopackage_store_refuses_and_creates_nothing(tmp_path):
    missing = tmp_path / "not-yet" / "history.gpkg"
    with pytest.raises(StoreNotFound) as caught:
        open_store(missing)
    assert isinstance(caught.value, StoreError) and isinstance(caught.value, EvChargepointsError)
    assert caught.value.message == missing_message(missing)
    assert caught.value.path == missing
    assert not missing.parent.exists()


def test_create_makes_the_store_and_its_folder(tmp_path):
    path = tmp_path / "new-folder" / "history.gpkg"
    with open_store(path, create=True) as store:
        assert isinstance(store, HistoryStore)
        assert store.check() == "ok" and store.schema_version == SCHEMA_VERSION
        assert store.counts()["devices"] == 0
    with open_store(path) as again:  # now it exists: opened without asking to create
        assert again.schema_version == SCHEMA_VERSION


def test_a_reading_workspace_refuses_a_missing_store_and_an_import_creates_it(tmp_path):
    missing = tmp_path / "history.gpkg"
    with Workspace(missing, create=False) as ws:
        with pytest.raises(StoreNotFound, match="import or fetch first"):
            ws.utilisation("quarter")
    assert not missing.exists()

    ncr, ids = ncr_slice(tmp_path, 120)
    with Workspace(missing) as ws:
        reports = ws.import_files([ncr])
        assert [r.outcome for r in reports] == ["imported"]
        assert set(ws.devices()["device_id"]) == ids
    with Workspace(missing, create=False) as ws:
        assert ws.store.counts()["devices"] == len(ids)


@pytest.mark.parametrize("command", [
    ("summary", "--out", "{tmp}/s.csv"),
    ("utilisation", "--out", "{tmp}/u.csv"),
    ("reconcile",),
    ("sites", "--sites", "{tmp}/sites.csv", "--out", "{tmp}/out.csv"),
])
def test_every_reading_command_gives_the_one_message(command, tmp_path, capsys):
    missing = tmp_path / "none.gpkg"
    (tmp_path / "sites.csv").write_text("site_id,latitude,longitude\nA,51.5,-0.12\n",
                                        encoding="utf-8")
    argv = [a.format(tmp=tmp_path) for a in command] + ["--store", str(missing)]
    code = main(["-q", *argv])  # -q: no progress lines before the error
    _out, err = capsys.readouterr()
    assert code == 2
    assert err.strip() == f"error: {missing_message(missing)}"
    assert not missing.exists()
