"""The one hallway: every front door (CLI, Processing, docks) drives this facade.

A ``Workspace`` is a history store plus the operations on it: import files,
fetch from the Datastore and OCPI feeds, compute utilisation, summarise,
analyse sites, validate. Front doors only adapt arguments and present results.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional, Sequence

import pandas as pd

from . import paths
from .analysis import areas
from .errors import EvChargepointsError, MixedUsageError, ParseError, StoreError
from .outputs import disclosure
from .outputs.disclosure import DEFAULT_THRESHOLD
from .progress import SILENT, Progress
from .schema import ParseResult
from .sources import parsers
from .sources.http import HttpClient, RetryPolicy
from .sources.transport import Transport
from .store.address import open_store, parse_target
from .store.geopackage import AREAS_FORMAT, ImportReport, StoreBackend, file_sha256
from .store.usage_kind import REAL, SYNTHETIC, SYNTHETIC_FORMAT, refusal

log = logging.getLogger(__name__)

NCR_SNAPSHOT = "ncr_chargepoints_london_2022-05.csv.gz"
SYNTHETIC_SEED = 20220504
# A year of synthetic usage ending with the quarter of the NCR snapshot (UK local dates).
SYNTHETIC_START = "2021-07-01"
SYNTHETIC_END = "2022-07-01"
UK_TZ = "Europe/London"
USAGE_SUMMARY_COLUMNS = ("sessions", "kwh", "plugged_hours", "available_hours", "occupancy_pct",
                         "capacity_factor_pct")
NO_STATUS = "The store has no live status yet: run 'watch' on an OCPI feed first."
# store_meta keys: the store state the shared store's placements and usage cache show
PLACED_KEY = "placements"
USAGE_CACHE_KEY = "usage_cache."
# store_meta key (+ period kind): the shared store's default period, for every role
DEFAULT_PERIOD_KEY = "default_period."


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


@dataclass
class ReliabilityTables:
    """:meth:`Workspace.reliability`: ``table`` per EVSE (or device) and ``operators``
    (:func:`.conformance.operator_reliability`), with the cap and minimum used."""

    table: pd.DataFrame
    operators: pd.DataFrame
    max_gap_hours: float
    min_observed_hours: float


class Workspace:
    """``http_policy``, ``timeout`` (seconds per wait for data) and
    ``max_download_bytes`` tune the network pulls (``fetch_*``); None keeps the
    defaults of :class:`~.http.HttpClient` and the clients."""

    def __init__(self, store, transport: Optional[Transport] = None, *,
                 http_policy: Optional[RetryPolicy] = None, timeout: Optional[float] = None,
                 max_download_bytes: Optional[int] = None):
        # ``store``: a GeoPackage path, a postgresql:// address, a service=name or a
        # StoreTarget (see stores.parse_target).
        self.target = parse_target(store)
        # The GeoPackage file; None for a database store.
        self.store_path: Optional[Path] = self.target.path
        self._transport = transport
        self._http_policy = http_policy
        self._timeout = timeout
        self._max_download_bytes = max_download_bytes
        self._store: Optional[StoreBackend] = None
        self._cache: dict = {}

    # --- lifecycle ---------------------------------------------------------------

    @property
    def store(self) -> StoreBackend:
        """The open store: a GeoPackage ``HistoryStore`` or a ``PostgisStore``, both
        :class:`~.store.StoreBackend`."""
        if self._store is None:
            self._store = open_store(self.target)
        return self._store

    @property
    def is_shared_store(self) -> bool:
        """True for a PostGIS store (server-side analysis, many users)."""
        return self.target.is_database

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def transport(self) -> Transport:
        if self._transport is None:
            from .sources.transport import RequestsTransport
            self._transport = RequestsTransport()
        return self._transport

    def _http(self) -> HttpClient:
        options = {}
        if self._http_policy is not None:
            options["policy"] = self._http_policy
        if self._timeout is not None:
            options["timeout"] = self._timeout
        return HttpClient(self.transport, **options)

    # --- data in -----------------------------------------------------------------

    def import_files(self, files: Sequence, format: Optional[str] = None,
                     progress: Progress = SILENT) -> list[ImportReport]:
        """Import each file in its own transaction; one bad file never touches the rest."""
        reports = []
        for i, path in enumerate(files):
            progress.check_cancelled()
            path = Path(path)
            progress.report(100.0 * i / max(1, len(files)), f"Importing {path.name}")
            if format is None and areas.is_boundary_file(path):
                reports.append(self.import_areas(path))
                continue
            reports.append(self.store.import_file(
                path, parse=lambda p: parsers.parse_file(p, format=format)))
        self.prepare_shared_store(progress)
        progress.report(100.0, "Import finished")
        return reports

    def import_result(self, result: ParseResult, name: str, content_key: str,
                      **options) -> ImportReport:
        """Import an in-memory parse result; ``content_key`` makes it idempotent."""
        report = self.store.import_parse_result(result, name, content_key, **options)
        self.prepare_shared_store()
        return report

    def import_bundled_snapshot(self, progress: Progress = SILENT,
                                synthetic_usage: bool = True,
                                usage_start: str = SYNTHETIC_START,
                                usage_end: str = SYNTHETIC_END) -> list[ImportReport]:
        """The offline London snapshot: real NCR devices plus, with ``synthetic_usage``,
        SYNTHETIC usage (a year by default, UK local dates, end exclusive), which only a
        store of its own takes: a store holding real usage refuses it before anything
        is imported."""
        if synthetic_usage and self.usage_kind() == REAL:
            raise MixedUsageError(refusal(REAL, self.store.short_name()))
        ncr = paths.LONDON_SNAPSHOT / NCR_SNAPSHOT
        progress.report(2, "Reading the National Chargepoint Registry snapshot (May 2022)")
        reports = [self.store.import_file(ncr, parse=parsers.parse_file)]
        if synthetic_usage:
            progress.check_cancelled()
            progress.report(40, "Generating synthetic London usage from Dundee distributions")
            reports.append(self._import_synthetic_usage(file_sha256(ncr), usage_start,
                                                        usage_end))
        self.prepare_shared_store(progress)
        progress.report(100, "Snapshot ready")
        return reports

    def _import_synthetic_usage(self, ncr_sha: str, start: str, end: str) -> ImportReport:
        from .sources import synthetic

        key = hashlib.sha256(f"{ncr_sha}|{SYNTHETIC_SEED}|{start}|{end}".encode()).hexdigest()
        name = f"synthetic London usage (seed {SYNTHETIC_SEED})"
        if self.store.already_imported(key) is not None:
            return self.store.import_parse_result(
                ParseResult(SYNTHETIC_FORMAT, name, 0), name, key)
        devices = self.store.devices()
        connectors = self.store.connectors()
        sessions = synthetic.synthetic_sessions(
            devices, connectors, synthetic.dundee_sessions(),
            pd.Timestamp(start, tz=UK_TZ), pd.Timestamp(end, tz=UK_TZ),
            seed=SYNTHETIC_SEED)
        result = ParseResult(SYNTHETIC_FORMAT, name, len(sessions), tables={"sessions": sessions})
        return self.store.import_parse_result(result, name, key)

    def usage_kind(self) -> Optional[str]:
        """"real", "synthetic" or None: what usage the store holds (:mod:`.usage_kind`)."""
        return self.store.usage_kind()

    def has_synthetic_usage(self) -> bool:
        """The one test of whether this store's outputs must say SYNTHETIC."""
        return self.usage_kind() == SYNTHETIC

    def fetch_datastore(self, base_url: str, dataset_id: str, resource_ids: Iterable[str] = (),
                        api_key: Optional[str] = None, cache_dir=None,
                        progress: Progress = SILENT) -> FetchOutcome:
        """Download a Datastore dataset's resources and import those we can read: data
        files through the parsers, boundary files (:func:`.areas.is_boundary_file`) as
        area layers of the store. Each resource that cannot be used is in ``skipped``
        with its title, id and why (:attr:`FetchOutcome.imported_nothing`).

        Everything is downloaded before anything is imported, so a failed pull
        leaves the store as it was.
        """
        from .sources.download_cache import DownloadCache
        from .sources.london_datastore import DatastoreClient

        cache = DownloadCache(Path(cache_dir)) if cache_dir else None
        limits = {} if self._max_download_bytes is None else {
            "max_download_bytes": self._max_download_bytes}
        client = DatastoreClient(self._http(), base_url, api_key=api_key, cache=cache,
                                 **limits)
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
                        layers = self._boundary_layers(download.path, label, outcome,
                                                       layer_names)
                        parsed.append((download.path, layers))
                    else:
                        parsed.append((download.path, parsers.parse_file(download.path)))
                except (ParseError, StoreError) as exc:
                    outcome.skipped.append(f"{label}: {exc.message}")
            for path, result in parsed:
                name, sha = f"{dataset_id}/{path.name}", file_sha256(path)
                if isinstance(result, ParseResult):
                    outcome.imports.append(self.store.import_parse_result(result, name, sha))
                else:
                    outcome.imports.append(self.store.write_area_layers(name, sha, result))
        self.prepare_shared_store(progress)
        progress.report(100, "Fetch finished")
        return outcome

    def fetch_datastore_datasets(self, base_url: str, dataset_ids: Iterable[str],
                                 api_key: Optional[str] = None, cache_dir=None,
                                 progress: Progress = SILENT) -> list[FetchOutcome]:
        """:meth:`fetch_datastore` of each dataset in turn (every resource of each), e.g.
        the charge point, usage and boundary datasets of the plugin settings."""
        ids = [str(i).strip() for i in dataset_ids if str(i).strip()]
        if not ids:
            raise EvChargepointsError("No London Datastore dataset to fetch: name one, or "
                                      "set the datasets in the plugin settings.")
        return [self.fetch_datastore(base_url, dataset_id, api_key=api_key,
                                     cache_dir=cache_dir,
                                     progress=progress.scaled(100 * i / len(ids),
                                                              100 * (i + 1) / len(ids)))
                for i, dataset_id in enumerate(ids)]

    def _boundary_layers(self, path: Path, label: str, outcome: FetchOutcome,
                         taken: set) -> list:
        """The polygon layers of a boundary file, renamed where another file of the same
        fetch took their names (layers that are not boundaries become warnings)."""
        if self.is_shared_store:  # it keeps no area layers: raises, saying so
            self.store.write_area_layers(path.name, "", [])
        layers, not_boundaries = areas.read_boundary_layers(path)
        outcome.warnings.extend(f"{label}: {reason}" for reason in not_boundaries)
        for layer in layers:
            base, n = layer.name, 1
            while layer.name in taken:
                n += 1
                layer.name = f"{base}_{n}"
            taken.add(layer.name)
        return layers

    def import_areas(self, path, file_name: Optional[str] = None) -> ImportReport:
        """A boundary file (GeoPackage, Shapefile, GeoJSON, or a ZIP archive of them) kept
        as area layers of the store, for summaries (:meth:`area_source`)."""
        path = Path(path)
        file_name = file_name or path.name
        sha = file_sha256(path)
        try:
            if self.is_shared_store:
                self.store.write_area_layers(file_name, sha, [])  # raises, saying why
            layers = areas.read_boundary_layers(path)[0] \
                if self.store.already_imported(sha) is None else []
        except (ParseError, StoreError) as exc:
            return self.store._log_failure(file_name, sha, AREAS_FORMAT,
                                           f"the file was rejected: {exc.message}")
        return self.store.write_area_layers(file_name, sha, layers)

    def area_source(self, areas_path) -> tuple[Path, Optional[str]]:
        """(file, layer) of the areas a summary is asked for: a boundary file, or the
        name of an area layer the store keeps (:meth:`import_areas`, fetched
        boundaries)."""
        path = Path(areas_path)
        if path.exists():
            return path, None
        name = str(areas_path)
        if name in self.store.area_layers():
            return self.store.area_layer_source(name)
        kept = ", ".join(self.store.area_layers()) or "none"
        raise EvChargepointsError(f"There is no file or area layer '{name}' (area layers in "
                                  f"the store: {kept}).")

    def fetch_ocpi(self, locations_url: str, token: Optional[str] = None,
                   token_base64: bool = True, feed_name: str = "",
                   date_from=None, observed_utc=None,
                   progress: Progress = SILENT) -> FetchOutcome:
        """Pull an OCPI 2.2.1 Locations endpoint: devices, connectors and a status snapshot."""
        from .sources.ocpi_feed import OcpiClient
        from .sources.parsers import ocpi as ocpi_parser

        feed = feed_name or _host_of(locations_url)
        client = OcpiClient(self._http(), token=token,
                            token_encoding="base64" if token_base64 else "raw",
                            endpoints={"locations": locations_url})
        progress.report(5, f"Fetching locations from {feed}")
        fetched = client.fetch_locations(date_from=date_from, is_cancelled=progress.cancelled)
        observed = pd.Timestamp(observed_utc) if observed_utc is not None \
            else pd.Timestamp.now(tz="UTC")
        if observed.tzinfo is None:
            observed = observed.tz_localize("UTC")
        result = ocpi_parser.parse_locations(fetched.items, source=f"ocpi:{feed}",
                                             observed_utc=observed, name=feed)
        outcome = FetchOutcome(f"ocpi:{feed}", warnings=list(fetched.report.warnings))
        body = json.dumps(fetched.items, sort_keys=True, default=str).encode()
        key = hashlib.sha256(body + observed.isoformat().encode()).hexdigest()
        progress.report(80, f"Storing {len(fetched.items)} locations")
        mode = "snapshot" if (date_from is None and fetched.report.complete) else "merge"
        outcome.imports.append(self.store.import_parse_result(
            result, f"{feed} locations {observed.isoformat()}", key,
            snapshot_utc=observed, devices_mode=mode))
        self.prepare_shared_store(progress)
        progress.report(100, "Fetch finished")
        return outcome

    def poll_ocpi_status(self, locations_url: str, token: Optional[str] = None,
                         token_base64: bool = True, feed_name: str = "", since=None,
                         observed_utc=None, progress: Progress = SILENT):
        """One poll of a live feed: changes since ``since`` plus carried-forward status.

        An incremental pull (``date_from``) returns only locations that changed;
        a successful poll also confirms that the others did not, so their last
        known status is recorded again at this poll's time (``observed_utc``,
        default now). Returns ``(FetchOutcome, observed_utc)``; pass the time back
        as ``since``.
        """
        from .sources.ocpi_feed import OcpiClient
        from .sources.parsers import ocpi as ocpi_parser

        feed = feed_name or _host_of(locations_url)
        source = f"ocpi:{feed}"
        observed = _utc_time(observed_utc) if observed_utc is not None \
            else pd.Timestamp.now(tz="UTC").floor("s")
        client = OcpiClient(self._http(), token=token,
                            token_encoding="base64" if token_base64 else "raw",
                            endpoints={"locations": locations_url})
        fetched = client.fetch_locations(date_from=since, is_cancelled=progress.cancelled)
        result = ocpi_parser.parse_locations(fetched.items, source=source,
                                             observed_utc=observed, name=feed)
        changed = result.table("status_snapshots")
        if since is not None:
            carried = self._carry_forward_status(source, changed, observed)
            result.tables["status_snapshots"] = pd.concat([changed, carried],
                                                          ignore_index=True)
        outcome = FetchOutcome(source, warnings=list(fetched.report.warnings))
        body = json.dumps(fetched.items, sort_keys=True, default=str).encode()
        key = hashlib.sha256(body + observed.isoformat().encode() + source.encode()).hexdigest()
        mode = "snapshot" if since is None and fetched.report.complete else "merge"
        outcome.imports.append(self.store.import_parse_result(
            result, f"{feed} status {observed.isoformat()}", key, snapshot_utc=observed,
            devices_mode=mode))
        return outcome, observed

    def _carry_forward_status(self, source: str, changed: pd.DataFrame,
                              observed: pd.Timestamp) -> pd.DataFrame:
        history = self.store.status_snapshots()
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

    # --- analysis ------------------------------------------------------------------

    def status_occupancy(self, period: str = "quarter", by: str = "evse",
                         max_gap_hours: Optional[float] = None) -> pd.DataFrame:
        """Share of observed time charging, available and down per EVSE (or device)
        and period, from polled live status: uptime with the observed hours and
        observations behind it, and the observed coverage. ``max_gap_hours``: how
        long an observation may hold (default :data:`.utilisation.DEFAULT_MAX_GAP_HOURS`)."""
        from .analysis import utilisation as engine

        gap, _ = _reliability_options(max_gap_hours, None)
        status = self.reconciled_status()
        if not len(status):
            raise EvChargepointsError(NO_STATUS)
        return engine.status_occupancy(status, period=period, by=by, max_gap_hours=gap)

    def status_history(self, files: Sequence = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The store's watched status snapshots (each on its reconciled device) plus
        those in ``files`` (OCPI Locations JSON: each EVSE observed at its
        last_updated), and the devices naming their operator and power class (the
        files' first, then the store's current ones, then its earlier ones)."""
        from . import schema

        snaps, devices = [], []
        for path in files:
            result = parsers.parse_file(path)
            snaps.append(result.table("status_snapshots"))
            devices.append(result.table("devices"))
        snaps.append(self.reconciled_status())
        devices.append(self.devices())
        stored = self.store.devices(current_only=False)  # devices no longer current
        if "valid_from_utc" in stored and len(stored):
            stored = stored.sort_values("valid_from_utc", ascending=False, kind="stable")
        devices.append(stored[[c for c in schema.TABLES["devices"] if c in stored]])
        snaps = [s for s in snaps if len(s)]
        status = pd.concat(snaps, ignore_index=True) if snaps else schema.empty(
            "status_snapshots")
        owners = pd.concat([d for d in devices if len(d)] or [schema.empty("devices")],
                           ignore_index=True).drop_duplicates("device_id", keep="first")
        return status, owners

    def reliability(self, files: Sequence = (), *, start=None, end=None, by: str = "evse",
                    max_gap_hours: Optional[float] = None,
                    min_observed_hours: Optional[float] = None) -> ReliabilityTables:
        """Uptime and the 2023 regulations' reliability over observed time only, per
        EVSE (``by="evse"``) or device and per operator (all devices, and the rapid
        network that must reach 99 %), from the store's watched history plus
        ``files`` (see :meth:`status_history`), clipped to [start, end) when given.

        Each figure carries its observed hours and observations; under
        ``min_observed_hours`` counted hours (default
        :data:`.conformance.MIN_OBSERVED_HOURS`) the result is "not enough observed
        time" instead of pass or fail (:func:`.conformance.reliability`).
        """
        from .standard import conformance

        gap, minimum = _reliability_options(max_gap_hours, min_observed_hours)
        status, owners = self.status_history(files)
        if not len(status):
            raise EvChargepointsError(NO_STATUS)
        if by not in ("evse", "device"):
            raise EvChargepointsError(f"Reliability is per 'evse' or 'device', not {by!r}.")
        table = conformance.reliability(status, owners, start=start, end=end, by=by,
                                        max_gap_hours=gap, min_observed_hours=minimum)
        return ReliabilityTables(table, conformance.operator_reliability(table, minimum),
                                 gap, minimum)

    def validate(self, files: Sequence = (), reference=None, *, period=None,
                 stale_days: Optional[float] = None, as_of=None,
                 operator: Optional[str] = None, out_dir=None,
                 max_gap_hours: Optional[float] = None,
                 min_observed_hours: Optional[float] = None,
                 progress: Progress = SILENT):
        """The conformance report of ``files`` (:func:`.conformance.validate_files`)
        with reliability from the store's watched status history as well."""
        from .standard import conformance

        gap, minimum = _reliability_options(max_gap_hours, min_observed_hours)
        status, owners = self.status_history()
        if not len(status) and not len(files):
            raise EvChargepointsError(NO_STATUS)
        return conformance.validate_files(
            list(files), reference=reference, period=period,
            stale_days=conformance.DEFAULT_STALE_DAYS if stale_days is None else stale_days,
            out_dir=out_dir, progress=progress, as_of=as_of, operator=operator,
            status_snapshots=status if len(status) else None, status_devices=owners,
            status_name=f"status history in {self.target.describe()}",
            max_gap_hours=gap, min_observed_hours=minimum)

    def utilisation(self, period: str = "quarter", by: str = "device",
                    progress: Progress = SILENT) -> pd.DataFrame:
        key = ("utilisation", period, by, self._store_stamp())
        if key not in self._cache:
            self._cache[key] = self._compute_utilisation(period, by, progress)
        return self._cache[key]

    def utilisation_with_trends(self, period: str = "quarter", by: str = "device",
                                progress: Progress = SILENT) -> pd.DataFrame:
        """Utilisation plus change against the previous period and the same period a
        year earlier (``<metric>_change``, ``_change_pct``, ``_yoy_change``, ...)."""
        from .analysis import utilisation as engine

        return engine.add_trends(self.utilisation(period, by, progress), period=period)

    def _store_stamp(self) -> int:
        """Changes whenever an import or a reconciliation decision changes the store
        (cache key for derived tables): both ids only ever grow."""
        log_frame = self.store.import_log()
        decisions = self.store.decisions()
        return (int(log_frame["id"].max()) if len(log_frame) else 0) + \
            (int(decisions["id"].max()) if len(decisions) else 0)

    def _compute_utilisation(self, period: str, by: str, progress: Progress) -> pd.DataFrame:
        from .analysis import utilisation as engine

        if self.is_shared_store:  # aggregated by the database server, same figures
            from .store.postgis import usage as pg_usage
            return pg_usage.utilisation(self.store, period, by, progress)

        from .analysis.reconcile import history

        progress.report(5, "Reading sessions")
        rec = self.reconciliation()
        sessions = rec.attach_sessions(self.store.sessions(categorical=True))
        progress.check_cancelled()
        devices, connectors = history(rec, self.store.devices(current_only=False),
                                      self.store.connectors(current_only=False))
        status = self.reconciled_status()
        progress.report(40, f"Computing utilisation per {by} and {period}")
        frame = engine.utilisation(sessions, devices, connectors,
                                   status if len(status) else None, period=period, by=by)
        # Where no usage source reports a device (never, or not in that period) its usage
        # is unknown, which is not the same as a reported zero: no row.
        frame = engine.keep_covered(frame, engine.usage_coverage(
            engine.session_counts(sessions, period), engine.device_operators(self.devices())))
        progress.report(100, "Utilisation ready")
        return frame


    def usage_periods(self, period_kind: str = "quarter") -> list[str]:
        """Periods in which sessions start, oldest first (plugged time that spills past
        the data's end does not make a period worth showing)."""
        usage = self.utilisation(period_kind) if self.store.counts().get("sessions") else None
        if usage is None or not len(usage):
            return []
        started = usage.groupby("period")["sessions"].sum()
        order = usage.drop_duplicates("period").set_index("period")["period_index"]
        return [p for p in order.sort_values().index if started.get(p, 0) > 0]

    def default_period(self, period_kind: str = "quarter") -> Optional[str]:
        """The period front doors show unless told: the latest with substantial usage
        (:func:`.mapdata.latest_period`) over all the store's sessions; None without
        usage. On the shared store every role gets the same: a login that reads every
        row computes it and records it in the store (with the usage aggregates, after
        each import); the others read that record (their own rows decide only until a
        first one is recorded)."""
        from .outputs import mapdata

        key = ("default_period", period_kind, self._store_stamp())
        if key in self._cache:
            return self._cache[key]
        meta_key = f"{DEFAULT_PERIOD_KEY}{period_kind}"
        recorded = self.store.meta().get(meta_key) if self.is_shared_store else None
        if recorded is not None and not self._keeps_derived_tables():
            period = recorded or None
        else:
            usage = self.utilisation(period_kind) if self.store.counts().get("sessions") \
                else None
            period = mapdata.latest_period(mapdata.period_sessions(usage))
            if self._keeps_derived_tables() and recorded != (period or ""):
                self.store.set_meta(meta_key, period or "")
        self._cache[key] = period
        return period

    def reconciliation(self):
        """The current devices of every source joined into one device per charge point
        (:class:`~.reconcile.Reconciliation`), with the officers' decisions applied."""
        from .analysis import reconcile

        key = ("reconciliation", self._store_stamp())
        if key not in self._cache:
            self._cache[key] = reconcile.reconcile(self.store.devices(), self.store.connectors(),
                                                   self.store.decisions())
        return self._cache[key]

    def devices(self) -> pd.DataFrame:
        """Current devices, one per charge point (see :meth:`reconciliation`)."""
        return self.reconciliation().devices

    def connectors(self) -> pd.DataFrame:
        """Connectors of :meth:`devices`."""
        return self.reconciliation().connectors

    def reconciled_status(self) -> pd.DataFrame:
        """The store's status snapshots, each on its reconciled device."""
        status = self.store.status_snapshots()
        if len(status):
            status = status.copy()
            status["device_id"] = self.reconciliation().attach_frame(status, "evse_uid")
        return status

    def decide(self, a: str, b: str, verdict: str, note: str = "") -> int:
        """Record that the records named ``a`` and ``b`` (a registry device and a feed
        EVSE or Location, named as in the review table) are the "same" charge point or
        "different" ones; applied before the automatic rules from now on, across
        re-imports. Returns the decision's id."""
        from .store.geopackage import VERDICTS

        if verdict not in VERDICTS:
            raise EvChargepointsError(f"A decision is 'same' or 'different', not {verdict!r}.")
        rec = self.reconciliation()
        named = []
        for text in (a, b):
            try:
                named.append(rec.resolve(text))
            except ValueError as exc:
                raise EvChargepointsError(f"Cannot decide about '{text}': {exc}.") from None
        kinds = sorted(kind for kind, _ in named)
        if kinds != ["feed", "registry"]:
            raise EvChargepointsError(
                f"A decision pairs a registry device with a feed EVSE or Location; "
                f"'{a}' and '{b}' are both {kinds[0]} records.")
        registry, feed = sorted(named, key=lambda item: item[0] != "registry")
        return self.store.record_decision(registry[1], feed[1], verdict, note)

    def assignment(self, areas_path=None, level: str = "borough", code_field=None,
                   name_field=None):
        """Each current device's ward and borough (or custom area), computed once."""
        from .analysis import areas

        key = ("assignment", str(areas_path), level, code_field, name_field,
               self._store_stamp())
        if key not in self._cache:
            if areas_path:
                path, layer = self.area_source(areas_path)
                custom = areas.load_area_set(path, layer=layer, level=level,
                                             code_field=code_field, name_field=name_field,
                                             version=str(areas_path) if layer else None)
                wards, boroughs = (custom, None) if level == "ward" else (None, custom)
            else:
                wards, boroughs = areas.load_wards(2018), areas.load_boroughs()
            if self._places_in_database(areas_path):
                from .store.postgis import areas as pg_areas
                # Also records each device's ward and borough in the database, which
                # row-level security and the aggregate views rely on.
                placed = pg_areas.assign_devices(self.store, wards, boroughs)
                # per source record; where records were joined, the devices are placed
                # here (the same rules and figures, tests/core/test_pg_areas.py)
                self._cache[key] = placed if self.reconciliation().is_identity else \
                    areas.assign_devices(self.devices(), wards, boroughs)
            else:
                self._cache[key] = areas.assign_devices(self.devices(), wards, boroughs)
        return self._cache[key]

    def store_stamp(self) -> int:
        """Changes whenever an import changes the store (for callers' own caches)."""
        return self._store_stamp()

    def _places_in_database(self, areas_path) -> bool:
        """Shared store, bundled London boundaries, and a login that sees every device
        and keeps the derived tables (the owner, an importer): placements and area
        summaries are computed by the server. Other logins compute locally from what
        row-level security lets them read (:meth:`role_view`)."""
        return not areas_path and self._keeps_derived_tables()

    def _keeps_derived_tables(self) -> bool:
        if not self.is_shared_store:
            return False
        key = ("keeps_derived_tables",)
        if key not in self._cache:
            self._cache[key] = self.store.keeps_derived_tables()
        return self._cache[key]

    def prepare_shared_store(self, progress: Progress = SILENT) -> None:
        """After an import into the shared store by a login that sees every row: place
        the devices in the bundled wards and boroughs (row-level security decides by
        them) and bring the usage cache behind the published aggregates up to date:
        quarterly, and monthly or yearly where a summary prepared them before. Then
        every role's first summary works without the owner running one
        (docs/shared-store.md, §7). Nothing to do elsewhere, or when nothing changed."""
        if not self._keeps_derived_tables():
            return
        stamp = str(self._store_stamp())
        meta = self.store.meta()
        if meta.get(PLACED_KEY) != stamp:
            progress.report(99, "Placing the devices in wards and boroughs")
            self.assignment()
            self.store.set_meta(PLACED_KEY, stamp)
        kinds = [k for k in ("month", "quarter", "year")
                 if k == "quarter" or f"{USAGE_CACHE_KEY}{k}" in meta]
        for kind in kinds:
            if meta.get(f"{USAGE_CACHE_KEY}{kind}") != stamp:
                progress.report(99, f"Preparing the {kind}ly usage aggregates")
                self._refresh_usage_cache(kind, SILENT)

    def role_view(self, period_kind: str = "quarter", areas_path=None):
        """What this login may see of the shared store's usage
        (:class:`~.pg_access.RoleView`: its note, the devices it reads, the published
        aggregates of ``period_kind``, which custom ``areas_path`` areas have none
        of); None for a GeoPackage store (one officer, every figure)."""
        if not self.is_shared_store:
            return None
        stamp = self._store_stamp()
        key = ("role_view", period_kind, bool(areas_path), stamp)
        if key not in self._cache:
            from .store.postgis import access as pg_access
            stale = self.store.meta().get(f"{USAGE_CACHE_KEY}{period_kind}") != str(stamp)
            self._cache[key] = pg_access.role_view(self.store, period_kind,
                                                   published=not areas_path, stale=stale)
        return self._cache[key]

    def _refresh_usage_cache(self, period_kind: str, progress: Progress) -> None:
        """Keep the shared store's usage_periods (read by area summaries in SQL and the
        aggregate views) equal to the utilisation of the store as it is now."""
        key = f"{USAGE_CACHE_KEY}{period_kind}"
        stamp = str(self._store_stamp())
        if self.store.meta().get(key) == stamp:
            return
        usage = self.utilisation(period_kind, progress=progress)
        self.store.write_usage_periods(usage, period_kind)
        self.store.set_meta(key, stamp)
        self.default_period(period_kind)  # recorded for the logins that read fewer rows

    def summariser(self, period_kind: str = "quarter", areas_path=None,
                   level: str = "borough", code_field=None, name_field=None,
                   with_usage: bool = True, progress: Progress = SILENT):
        """A prepared :class:`~.summary.Summariser` for this store (cached until it changes).

        Its ``summarise(level, period, filters)`` returns what :meth:`summary`
        returns, in milliseconds: for front doors that re-summarise on every
        filter or period change (the area summary dock). Where the store holds
        watched status, it also gives uptime with the observed hours behind it.
        """
        from .analysis import summary as summaries
        from .analysis import utilisation as engine

        key = ("summariser", period_kind, str(areas_path), level, code_field, name_field,
               with_usage, self._store_stamp())
        if key not in self._cache:
            progress.report(5, "Placing devices in areas")
            assignment = self.assignment(areas_path, level, code_field, name_field)
            usage = status = None
            if with_usage and self.store.counts().get("sessions", 0):
                usage = self.utilisation(period_kind, progress=progress.scaled(10, 90))
            if with_usage:
                snapshots = self.reconciled_status()
                if len(snapshots):
                    status = engine.status_occupancy(snapshots, period=period_kind,
                                                     by="device")
            progress.report(92, "Preparing summaries")
            access = self.role_view(period_kind, areas_path) if with_usage else None
            self._cache[key] = summaries.Summariser(assignment, self.devices(),
                                                    self.connectors(), usage,
                                                    status=status, access=access)
            if with_usage:
                self._cache[key].store_default_period = self.default_period(period_kind)
        progress.report(100, "Summaries ready")
        return self._cache[key]

    def summary(self, level: str = "borough", period: Optional[str] = None,
                period_kind: str = "quarter", filters: Optional[dict] = None,
                areas_path=None, code_field=None, name_field=None,
                with_usage: bool = True, progress: Progress = SILENT):
        """Area summary table and the assignment behind it (with its counts). On the
        shared store, each row's usage is what the login may see (:meth:`role_view`):
        column ``usage_access`` and ``attrs["role_note"]`` say what that is."""
        from .analysis import summary as summaries

        progress.report(5, "Placing devices in areas")
        assignment = self.assignment(areas_path, level, code_field, name_field)
        access = self.role_view(period_kind, areas_path) if with_usage else None
        usage = None
        if with_usage and self.store.counts().get("sessions", 0):
            usage = self.utilisation(period_kind, progress=progress.scaled(10, 90))
        if with_usage and period is None:
            period = self.default_period(period_kind)
        progress.report(92, "Summarising")
        if self._places_in_database(areas_path):
            from .store.postgis import areas as pg_areas
            if usage is not None:
                self._refresh_usage_cache(period_kind, progress.scaled(90, 92))
            try:
                table = pg_areas.area_summary(self.store, level=level, period=period,
                                              period_kind=period_kind, filters=filters,
                                              with_usage=usage is not None,
                                              absorbed=self.reconciliation().absorbed())
            except ValueError as exc:
                raise EvChargepointsError(str(exc)) from None
            if access is not None:  # the login reads every row
                table = summaries.with_access(table, access)
        else:
            try:
                table = summaries.summarise(assignment, self.devices(), self.connectors(),
                                            usage, level=level, period=period,
                                            filters=filters, access=access)
            except ValueError as exc:  # e.g. a period without figures: one line, as above
                raise EvChargepointsError(str(exc)) from None
        for column in USAGE_SUMMARY_COLUMNS:  # present, and empty, when there is no usage
            if column not in table.columns:
                table[column] = float("nan")
        table.attrs["reconciliation"] = self.reconciliation().describe()
        progress.report(100, "Summary ready")
        return table, assignment

    def publishable_summary(self, level: str = "borough", period: Optional[str] = None,
                            period_kind: str = "quarter", filters: Optional[dict] = None,
                            areas_path=None, code_field=None, name_field=None,
                            threshold: int = DEFAULT_THRESHOLD, internal: bool = False,
                            progress: Progress = SILENT):
        """:meth:`summary` as it may leave the plugin (CSV, XLSX, Processing outputs):
        through :func:`publishable`, so with usage figures suppressed, unless
        ``internal``. Returns the table and the assignment."""
        table, assignment = self.summary(level, period, period_kind, filters, areas_path,
                                         code_field, name_field, progress=progress)
        summariser = None if internal else self.summariser(
            period_kind, areas_path, level, code_field, name_field)
        return publishable(table, summariser, level, filters, threshold, internal), assignment

    # --- candidate sites -----------------------------------------------------------

    def site_analyser(self, distances=(400.0,), weights=None, period: Optional[str] = None,
                      period_kind: str = "quarter", with_usage: bool = True,
                      progress: Progress = SILENT):
        """An empty :class:`~.siting.IncrementalSiteAnalyser` prepared on this store:
        current devices (EPSG:27700 from the assignment), utilisation (``period``,
        default :meth:`default_period`) and the London population grid."""
        from .analysis import siting

        progress.report(2, "Reading devices")
        devices = self._located_devices()
        usage = None
        if with_usage and self.store.counts().get("sessions", 0):
            usage = self.utilisation(period_kind, progress=progress.scaled(5, 60))
            if period is None and len(usage):
                period = self.default_period(period_kind)
        progress.report(62, "Spreading ward populations on a grid")
        population = siting.london_population_grid(2018)
        try:
            return siting.IncrementalSiteAnalyser(devices, usage, population, distances,
                                                  weights, period=period,
                                                  progress=progress.scaled(65, 100))
        except ValueError as exc:
            raise EvChargepointsError(str(exc)) from None

    def analyse_sites(self, sites, distances=(400.0,), weights=None,
                      period: Optional[str] = None, period_kind: str = "quarter",
                      progress: Progress = SILENT) -> pd.DataFrame:
        """One row per site and distance (see :func:`~.siting.definitions`)."""
        from .analysis import siting

        analyser = self.site_analyser(distances, weights, period, period_kind,
                                      progress=progress.scaled(0, 70))
        try:
            analyser.add_sites(siting.as_sites(sites), progress.scaled(70, 100))
        except ValueError as exc:
            raise EvChargepointsError(str(exc)) from None
        return analyser.table()

    def suggest_sites(self, candidates, k: int, distance: float = 400.0,
                      progress: Progress = SILENT) -> pd.DataFrame:
        """Greedy picks among ``candidates`` with their gains (:func:`~.siting.suggest_sites`)."""
        from .analysis import siting

        devices = self._located_devices()
        try:
            return siting.suggest_sites(candidates, devices, siting.london_population_grid(2018),
                                        k, distance, progress=progress)
        except ValueError as exc:
            raise EvChargepointsError(str(exc)) from None

    def _located_devices(self) -> pd.DataFrame:
        """Current devices with EPSG:27700 ``x``/``y`` from the assignment."""
        devices = self.devices()
        if not len(devices):
            raise EvChargepointsError("The store has no charge devices; import or fetch first.")
        places = self.assignment().table[["device_id", "x", "y"]]
        return devices.drop(columns=["x", "y"], errors="ignore").merge(
            places, on="device_id", how="left")


def publishable(table: pd.DataFrame, summariser, level: str, filters: Optional[dict] = None,
                threshold: int = DEFAULT_THRESHOLD, internal: bool = False) -> pd.DataFrame:
    """The one path a summary ``table`` of ``level`` takes out of the plugin (the CLI,
    Processing and the Area summary dock's exports): usage figures of areas whose
    devices (those passing ``filters``, counted by ``summariser``, a
    :class:`~.summary.Summariser`) fail the disclosure rule are suppressed, with
    complementary suppression where the rows add up to a published total (boroughs to
    London, the wards of a borough to the borough). ``internal`` lifts the rule and
    marks the table ``attrs["internal"]``: its outputs must say
    :data:`.disclosure.INTERNAL`. ``attrs["suppressed"]`` lists the codes suppressed."""
    if internal:
        out = table.copy()
        out.attrs = {**table.attrs, "internal": True, "suppressed": []}
        return out
    if int(threshold) < 1:
        raise EvChargepointsError("The disclosure threshold must be at least 1 device.")
    counts = summariser.contributors(level, table.attrs.get("period"), filters)
    masked = disclosure.mask_usage(table, counts, threshold=threshold, complementary=True,
                                   group="parent_code" if level == "ward" else None)
    masked.table.attrs.update({"internal": False, "suppressed": list(masked.suppressed)})
    return masked.table


def _reliability_options(max_gap_hours, min_observed_hours) -> tuple[float, float]:
    """The cap and minimum to use (None: the defaults), checked."""
    from .analysis.utilisation import DEFAULT_MAX_GAP_HOURS
    from .standard.conformance import MIN_OBSERVED_HOURS, check_reliability_options

    gap = DEFAULT_MAX_GAP_HOURS if max_gap_hours is None else max_gap_hours
    minimum = MIN_OBSERVED_HOURS if min_observed_hours is None else min_observed_hours
    check_reliability_options(gap, minimum)
    return float(gap), float(minimum)


def _utc_time(value) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise EvChargepointsError(f"{value!r} is not a date and time.") from None
    if pd.isna(stamp):
        raise EvChargepointsError(f"{value!r} is not a date and time.")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _host_of(url: str) -> str:
    from urllib.parse import urlsplit
    return urlsplit(url).hostname or "ocpi"


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
