"""Bringing data into a store: London Datastore datasets, OCPI feeds (a pull or one
poll of live status), boundary files as area layers and the bundled London snapshot.

The :class:`~ev_chargepoints.core.workspace.Workspace` methods of the same names
delegate here with their store, HTTP client and settings. ``store`` is a function
giving the open store: it is opened when first needed, so a download that fails
leaves no new store behind. ``after_import`` is what the workspace does after an
import (preparing the shared store), given the progress of the call.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence
from urllib.parse import urlsplit

import pandas as pd

from .. import paths
from ..analysis import areas
from ..calendar import LOCAL_TZ as UK_TZ
from ..calendar import as_utc
from ..errors import EvChargepointsError, MixedUsageError, ParseError, StoreError
from ..progress import SILENT, Progress
from ..schema import ParseResult
from ..store.interface import AREAS_FORMAT, ImportReport, StoreBackend, file_sha256
from ..store.usage_kind import REAL, SYNTHETIC_FORMAT, refusal
from . import parsers
from .http import HttpClient

NCR_SNAPSHOT = "ncr_chargepoints_london_2022-05.csv.gz"
SYNTHETIC_SEED = 20220504
# A year of synthetic usage ending with the quarter of the NCR snapshot (UK local dates).
SYNTHETIC_START = "2021-07-01"
SYNTHETIC_END = "2022-07-01"

OpenStore = Callable[[], StoreBackend]
AfterImport = Callable[[Progress], None]


def _nothing_after(progress: Progress) -> None:
    pass


@dataclass
class FetchOutcome:
    """What a fetch brought in: the imports it made and anything worth saying."""

    source: str
    imports: list[ImportReport] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def imported_nothing(self) -> bool:
        """No file of the fetch is in the store, now or from before: the fetch failed,
        each skipped or refused file saying why (``skipped``, failed ``imports``)."""
        return not any(r.outcome != "failed" for r in self.imports)

    def nothing_imported_message(self) -> str:
        """The one line front doors end such a fetch with, its reasons listed."""
        reasons = self.skipped + [f"{r.file_name}: {r.message}" for r in self.imports
                                  if r.outcome == "failed"]
        if not reasons:
            return f"Nothing was imported from {self.source}: it lists no files."
        return (f"Nothing was imported from {self.source}: {len(reasons)} file(s) skipped "
                "or refused (" + "; ".join(reasons) + ").")


def describe_import(report: ImportReport) -> str:
    """One line per import for people: what was read, added, skipped and why."""
    if report.outcome == "already imported":
        return f"{report.file_name}: already imported, nothing added."
    if report.outcome == "failed":
        return f"{report.file_name}: not imported — {report.message}"
    parts = [f"{report.rows_read:,} rows read", f"{report.rows_added:,} added"]
    if report.rows_updated:
        parts.append(f"{report.rows_updated:,} updated")
    if report.rows_duplicate:
        parts.append(f"{report.rows_duplicate:,} already in the store")
    if report.rows_rejected:
        parts.append(f"{report.rows_rejected:,} rejected")
    text = f"{report.file_name}: " + ", ".join(parts) + "."
    if report.message:
        text += f" {report.message}"
    return text


# --- files and the bundled snapshot -------------------------------------------------------

def import_files(store: OpenStore, files: Sequence, format: Optional[str] = None, *,
                 shared: bool = False, progress: Progress = SILENT,
                 after_import: AfterImport = _nothing_after) -> list[ImportReport]:
    """Import each file in its own transaction; one bad file never touches the rest.
    Without a ``format``, boundary files become area layers (:func:`import_areas`)."""
    reports = []
    for i, path in enumerate(files):
        progress.check_cancelled()
        path = Path(path)
        progress.report(100.0 * i / max(1, len(files)), f"Importing {path.name}")
        if format is None and areas.is_boundary_file(path):
            reports.append(import_areas(store, path, shared=shared))
            continue
        reports.append(store().import_file(
            path, parse=lambda p: parsers.parse_file(p, format=format,
                                                     sessions_in_duckdb=True)))
    after_import(progress)
    progress.report(100.0, "Import finished")
    return reports


def import_bundled_snapshot(store: OpenStore, progress: Progress = SILENT,
                            synthetic_usage: bool = True,
                            usage_start: str = SYNTHETIC_START,
                            usage_end: str = SYNTHETIC_END,
                            after_import: AfterImport = _nothing_after) -> list[ImportReport]:
    """The offline London snapshot: real NCR devices plus, with ``synthetic_usage``,
    SYNTHETIC usage (a year by default, UK local dates, end exclusive), which only a
    store of its own takes: a store holding real usage refuses it before anything
    is imported."""
    if synthetic_usage and store().usage_kind() == REAL:
        raise MixedUsageError(refusal(REAL, store().short_name()))
    ncr = paths.LONDON_SNAPSHOT / NCR_SNAPSHOT
    progress.report(2, "Reading the National Chargepoint Registry snapshot (May 2022)")
    reports = [store().import_file(ncr, parse=parsers.parse_file)]
    if synthetic_usage:
        progress.check_cancelled()
        progress.report(40, "Generating synthetic London usage from Dundee distributions")
        reports.append(_import_synthetic_usage(store(), file_sha256(ncr), usage_start,
                                               usage_end))
    after_import(progress)
    progress.report(100, "Snapshot ready")
    return reports


def _import_synthetic_usage(store: StoreBackend, ncr_sha: str, start: str,
                            end: str) -> ImportReport:
    """SYNTHETIC London usage in [start, end) for the devices of the NCR snapshot whose
    file has ``ncr_sha``; imported once (the same inputs give the same key)."""
    from . import synthetic

    key = hashlib.sha256(f"{ncr_sha}|{SYNTHETIC_SEED}|{start}|{end}".encode()).hexdigest()
    name = f"synthetic London usage (seed {SYNTHETIC_SEED})"
    if store.already_imported(key) is not None:
        return store.import_parse_result(
            ParseResult(SYNTHETIC_FORMAT, name, 0), name, key)
    devices = store.devices()
    connectors = store.connectors()
    sessions = synthetic.synthetic_sessions(
        devices, connectors, synthetic.dundee_sessions(),
        pd.Timestamp(start, tz=UK_TZ), pd.Timestamp(end, tz=UK_TZ),
        seed=SYNTHETIC_SEED)
    result = ParseResult(SYNTHETIC_FORMAT, name, len(sessions), tables={"sessions": sessions})
    return store.import_parse_result(result, name, key)


# --- the London Datastore and boundary files ---------------------------------------------

def fetch_datastore(store: OpenStore, http: HttpClient, base_url: str, dataset_id: str,
                    resource_ids: Iterable[str] = (), api_key: Optional[str] = None,
                    cache_dir=None, *, shared: bool = False,
                    max_download_bytes: Optional[int] = None,
                    progress: Progress = SILENT,
                    after_import: AfterImport = _nothing_after) -> FetchOutcome:
    """Download a Datastore dataset's resources and import those we can read: data
    files through the parsers, boundary files (:func:`.areas.is_boundary_file`) as
    area layers of the store. Each resource that cannot be used is in ``skipped``
    with its title, id and why (:attr:`FetchOutcome.imported_nothing`). ``shared``:
    the store is the shared PostGIS one (which keeps no area layers).

    Everything is downloaded before anything is imported, so a failed pull
    leaves the store as it was.
    """
    from .download_cache import DownloadCache
    from .london_datastore import DatastoreClient

    cache = DownloadCache(Path(cache_dir)) if cache_dir else None
    limits = {} if max_download_bytes is None else {
        "max_download_bytes": max_download_bytes}
    client = DatastoreClient(http, base_url, api_key=api_key, cache=cache, **limits)
    outcome = FetchOutcome(f"datastore:{dataset_id}")
    progress.report(2, f"Reading dataset {dataset_id}")
    dataset = client.get_dataset(dataset_id, progress.cancelled)
    wanted = set(resource_ids)
    resources = [r for r in dataset.resources if not wanted or r.resource_id in wanted]
    if wanted - {r.resource_id for r in resources}:
        missing = ", ".join(sorted(wanted - {r.resource_id for r in resources}))
        raise EvChargepointsError(f"Dataset {dataset_id} has no resource {missing}.")
    with tempfile.TemporaryDirectory(prefix="evcp-fetch-") as tmp:
        parsed, layer_names = [], set()
        for i, resource in enumerate(resources):
            progress.check_cancelled()
            progress.report(5 + 80 * i / max(1, len(resources)),
                            f"Downloading {resource.title or resource.resource_id}")
            download = client.download(dataset, resource, tmp, progress.cancelled)
            outcome.warnings.extend(download.warnings)
            label = (f"{resource.title or resource.resource_id} "
                     f"(resource {resource.resource_id})")
            try:
                if areas.is_boundary_file(download.path):
                    layers = _boundary_layers(store, download.path, label, outcome,
                                              layer_names, shared=shared)
                    parsed.append((download.path, layers))
                else:
                    parsed.append((download.path, parsers.parse_file(download.path)))
            except (ParseError, StoreError) as exc:
                outcome.skipped.append(f"{label}: {exc.message}")
        for path, result in parsed:
            name, sha = f"{dataset_id}/{path.name}", file_sha256(path)
            if isinstance(result, ParseResult):
                outcome.imports.append(store().import_parse_result(result, name, sha))
            else:
                outcome.imports.append(store().write_area_layers(name, sha, result))
    after_import(progress)
    progress.report(100, "Fetch finished")
    return outcome


def fetch_datastore_datasets(store: OpenStore, http: HttpClient, base_url: str,
                             dataset_ids: Iterable[str], api_key: Optional[str] = None,
                             cache_dir=None, *, shared: bool = False,
                             max_download_bytes: Optional[int] = None,
                             progress: Progress = SILENT,
                             after_import: AfterImport = _nothing_after) -> list[FetchOutcome]:
    """:func:`fetch_datastore` of each dataset in turn (every resource of each), e.g.
    the charge point, usage and boundary datasets of the plugin settings."""
    ids = [str(i).strip() for i in dataset_ids if str(i).strip()]
    if not ids:
        raise EvChargepointsError("No London Datastore dataset to fetch: name one, or "
                                  "set the datasets in the plugin settings.")
    return [fetch_datastore(store, http, base_url, dataset_id, api_key=api_key,
                            cache_dir=cache_dir, shared=shared,
                            max_download_bytes=max_download_bytes,
                            progress=progress.scaled(100 * i / len(ids),
                                                     100 * (i + 1) / len(ids)),
                            after_import=after_import)
            for i, dataset_id in enumerate(ids)]


def _boundary_layers(store: OpenStore, path: Path, label: str, outcome: FetchOutcome,
                     taken: set, *, shared: bool = False) -> list:
    """The polygon layers of a boundary file, renamed where another file of the same
    fetch took their names (layers that are not boundaries become warnings)."""
    if shared:  # it keeps no area layers: raises, saying so
        store().write_area_layers(path.name, "", [])
    layers, not_boundaries = areas.read_boundary_layers(path)
    outcome.warnings.extend(f"{label}: {reason}" for reason in not_boundaries)
    for layer in layers:
        base, n = layer.name, 1
        while layer.name in taken:
            n += 1
            layer.name = f"{base}_{n}"
        taken.add(layer.name)
    return layers


def import_areas(store: OpenStore, path, file_name: Optional[str] = None, *,
                 shared: bool = False) -> ImportReport:
    """A boundary file (GeoPackage, Shapefile, GeoJSON, or a ZIP archive of them) kept
    as area layers of the store, for summaries
    (:meth:`~ev_chargepoints.core.workspace.Workspace.area_source`)."""
    path = Path(path)
    file_name = file_name or path.name
    sha = file_sha256(path)
    try:
        if shared:
            store().write_area_layers(file_name, sha, [])  # raises, saying why
        layers = areas.read_boundary_layers(path)[0] \
            if store().already_imported(sha) is None else []
    except (ParseError, StoreError) as exc:
        return store().log_failed_import(file_name, sha, AREAS_FORMAT,
                                         f"the file was rejected: {exc.message}")
    return store().write_area_layers(file_name, sha, layers)



def area_source(store: OpenStore, areas_path) -> tuple[Path, Optional[str]]:
    """(file, layer) of the areas a summary is asked for: a boundary file, or the
    name of an area layer the store keeps (:func:`import_areas`, fetched
    boundaries)."""
    path = Path(areas_path)
    if path.exists():
        return path, None
    name = str(areas_path)
    if name in store().area_layers():
        return store().area_layer_source(name)
    kept = ", ".join(store().area_layers()) or "none"
    raise EvChargepointsError(f"There is no file or area layer '{name}' (area layers in "
                              f"the store: {kept}).")

# --- OCPI feeds ------------------------------------------------------------------------------

def fetch_ocpi(store: OpenStore, http: HttpClient, locations_url: str,
               token: Optional[str] = None, token_base64: bool = True, feed_name: str = "",
               date_from=None, observed_utc=None, progress: Progress = SILENT,
               after_import: AfterImport = _nothing_after) -> FetchOutcome:
    """Pull an OCPI 2.2.1 Locations endpoint: devices, connectors and a status snapshot."""
    from .ocpi_feed import OcpiClient
    from .parsers import ocpi as ocpi_parser

    feed = feed_name or _host_of(locations_url)
    client = OcpiClient(http, token=token, token_encoding="base64" if token_base64 else "raw",
                        endpoints={"locations": locations_url})
    progress.report(5, f"Fetching locations from {feed}")
    fetched = client.fetch_locations(date_from=date_from, is_cancelled=progress.cancelled)
    observed = as_utc(observed_utc) if observed_utc is not None else pd.Timestamp.now(tz="UTC")
    result = ocpi_parser.parse_locations(fetched.items, source=f"ocpi:{feed}",
                                         observed_utc=observed, name=feed)
    outcome = FetchOutcome(f"ocpi:{feed}", warnings=list(fetched.report.warnings))
    body = json.dumps(fetched.items, sort_keys=True, default=str).encode()
    key = hashlib.sha256(body + observed.isoformat().encode()).hexdigest()
    progress.report(80, f"Storing {len(fetched.items)} locations")
    mode = "snapshot" if (date_from is None and fetched.report.complete) else "merge"
    outcome.imports.append(store().import_parse_result(
        result, f"{feed} locations {observed.isoformat()}", key,
        snapshot_utc=observed, devices_mode=mode))
    after_import(progress)
    progress.report(100, "Fetch finished")
    return outcome


def poll_ocpi_status(store: OpenStore, http: HttpClient, locations_url: str,
                     token: Optional[str] = None, token_base64: bool = True,
                     feed_name: str = "", since=None, observed_utc=None,
                     progress: Progress = SILENT) -> tuple[FetchOutcome, pd.Timestamp]:
    """One poll of a live feed: changes since ``since`` plus carried-forward status.

    An incremental pull (``date_from``) returns only locations that changed;
    a successful poll also confirms that the others did not, so their last
    known status is recorded again at this poll's time (``observed_utc``,
    default now). Returns ``(FetchOutcome, observed_utc)``; pass the time back
    as ``since``.
    """
    from .ocpi_feed import OcpiClient
    from .parsers import ocpi as ocpi_parser

    feed = feed_name or _host_of(locations_url)
    source = f"ocpi:{feed}"
    if observed_utc is not None:
        observed = _utc_time(observed_utc)
    else:
        observed = pd.Timestamp.now(tz="UTC").floor("s")
        last = _utc_time(since) if since is not None else None
        if last is not None and observed <= last:
            # the wall clock stepped back or stood still (two polls in one second): a poll
            # stamped like the last one would be taken for it and dropped as a repeat
            observed = last + pd.Timedelta(seconds=1)
    client = OcpiClient(http, token=token, token_encoding="base64" if token_base64 else "raw",
                        endpoints={"locations": locations_url})
    fetched = client.fetch_locations(date_from=since, is_cancelled=progress.cancelled)
    result = ocpi_parser.parse_locations(fetched.items, source=source,
                                         observed_utc=observed, name=feed)
    changed = result.table("status_snapshots")
    if since is not None:
        carried = _carry_forward_status(store(), source, changed, observed)
        result.tables["status_snapshots"] = pd.concat([changed, carried],
                                                      ignore_index=True)
    outcome = FetchOutcome(source, warnings=list(fetched.report.warnings))
    body = json.dumps(fetched.items, sort_keys=True, default=str).encode()
    key = hashlib.sha256(body + observed.isoformat().encode() + source.encode()).hexdigest()
    mode = "snapshot" if since is None and fetched.report.complete else "merge"
    outcome.imports.append(store().import_parse_result(
        result, f"{feed} status {observed.isoformat()}", key, snapshot_utc=observed,
        devices_mode=mode))
    return outcome, observed


def _carry_forward_status(store: StoreBackend, source: str, changed: pd.DataFrame,
                          observed: pd.Timestamp) -> pd.DataFrame:
    """The last known status of each EVSE of ``source`` that ``changed`` does not
    report, observed again at ``observed`` (a successful poll confirms it)."""
    history = store.status_snapshots()
    history = history[history["source"] == source]
    if not len(history):
        return history
    latest = history.sort_values("observed_utc").drop_duplicates(
        ["device_id", "evse_uid"], keep="last")
    if len(changed):
        seen = set(zip(changed["device_id"], changed["evse_uid"]))
        latest = latest[[(d, e) not in seen for d, e in
                         zip(latest["device_id"], latest["evse_uid"])]]
    latest = latest.copy()
    latest["observed_utc"] = observed
    return latest


def _utc_time(value) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise EvChargepointsError(f"{value!r} is not a date and time.") from None
    if pd.isna(stamp):
        raise EvChargepointsError(f"{value!r} is not a date and time.")
    return as_utc(stamp)


def _host_of(url: str) -> str:
    return urlsplit(url).hostname or "ocpi"
