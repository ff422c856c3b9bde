"""The one hallway: every front door (CLI, Processing, docks) drives this facade.

A ``Workspace`` is a history store plus the operations on it: import files,
fetch from the Datastore and OCPI feeds, compute utilisation, summarise,
analyse sites, validate. Front doors only adapt arguments and present results.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterable, Optional, Sequence

import pandas as pd

from .analysis.demand import WardDemand
from .analysis.siting.facade import SiteAnalysis
from .errors import EvChargepointsError
from .outputs import committee, mapdata, styling
from .outputs.disclosure import DEFAULT_THRESHOLD, publishable
from .progress import SILENT, Progress
from .schema import ParseResult
from .sources import intake, parsers
from .sources.http import HttpClient, RetryPolicy
from .sources.intake import SYNTHETIC_END, SYNTHETIC_START, FetchOutcome
from .sources.transport import Transport
from .standard.reliability import ReliabilityTables, reliability_options
from .store.address import open_store, parse_target
from .store.interface import ImportReport, StoreBackend
from .store.usage_kind import SYNTHETIC

log = logging.getLogger(__name__)

USAGE_SUMMARY_COLUMNS = ("sessions", "kwh", "plugged_hours", "available_hours", "occupancy_pct",
                         "capacity_factor_pct")
NO_STATUS = "The store has no live status yet: run 'watch' on an OCPI feed first."
# store_meta keys: the store state the shared store's placements and usage cache show
PLACED_KEY = "placements"
USAGE_CACHE_KEY = "usage_cache."
# store_meta key (+ period kind): the shared store's default period, for every role
DEFAULT_PERIOD_KEY = "default_period."


def _stamped(key) -> bool:
    """A cache key that ends in a store stamp (an int, not a flag)."""
    return isinstance(key, tuple) and bool(key) and isinstance(key[-1], int) \
        and not isinstance(key[-1], bool)


class Workspace(WardDemand, SiteAnalysis):  # ward demand; candidate sites
    """``http_policy``, ``timeout`` (seconds per wait for data) and
    ``max_download_bytes`` tune the network pulls (``fetch_*``); None keeps the
    defaults of :class:`~.http.HttpClient` and the clients. ``create=False`` (front doors
    that only read): a missing GeoPackage store is :class:`~.errors.StoreNotFound`."""

    def __init__(self, store, transport: Optional[Transport] = None, *,
                 http_policy: Optional[RetryPolicy] = None, timeout: Optional[float] = None,
                 max_download_bytes: Optional[int] = None, create: bool = True):
        # ``store``: a GeoPackage path, a postgresql:// address, a service=name or a
        # StoreTarget (see store.address.parse_target).
        self.target = parse_target(store)
        self._create = create
        # The GeoPackage file; None for a database store.
        self.store_path: Optional[Path] = self.target.path
        self._transport = transport
        self._http_policy = http_policy
        self._timeout = timeout
        self._max_download_bytes = max_download_bytes
        self._store: Optional[StoreBackend] = None
        self._cache: dict = {}  # derived tables; keys ending in the store's stamp
        self._cache_stamp: Optional[int] = None

    # --- lifecycle ---------------------------------------------------------------

    @property
    def store(self) -> StoreBackend:
        """The open store: a GeoPackage ``HistoryStore`` or a ``PostgisStore``, both
        :class:`~.store.StoreBackend`."""
        if self._store is None:
            self._store = open_store(self.target, create=self._create)
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
        options = {"policy": self._http_policy, "timeout": self._timeout}
        return HttpClient(self.transport, **{k: v for k, v in options.items() if v is not None})

    def _open_store(self) -> StoreBackend:
        """:attr:`store` for :mod:`.sources.intake`, which opens it only when needed."""
        return self.store

    def _fetching(self, progress: Progress) -> dict:
        """The settings of a Datastore fetch from this workspace (:mod:`.sources.intake`)."""
        return {"shared": self.is_shared_store, "max_download_bytes": self._max_download_bytes,
                "progress": progress, "after_import": self.prepare_shared_store}

    # --- data in -----------------------------------------------------------------

    def import_files(self, files: Sequence, format: Optional[str] = None,
                     progress: Progress = SILENT) -> list[ImportReport]:
        """Import each file in its own transaction (:func:`.intake.import_files`)."""
        return intake.import_files(self._open_store, files, format, shared=self.is_shared_store,
                                   progress=progress, after_import=self.prepare_shared_store)

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
        """The offline London snapshot (:func:`.intake.import_bundled_snapshot`)."""
        return intake.import_bundled_snapshot(self._open_store, progress, synthetic_usage,
                                              usage_start, usage_end, self.prepare_shared_store)

    def usage_kind(self) -> Optional[str]:
        """"real", "synthetic" or None: what usage the store holds (:mod:`.usage_kind`)."""
        return self.store.usage_kind()

    def has_synthetic_usage(self) -> bool:
        """The one test of whether this store's outputs must say SYNTHETIC."""
        return self.usage_kind() == SYNTHETIC

    def fetch_datastore(self, base_url: str, dataset_id: str, resource_ids: Iterable[str] = (),
                        api_key: Optional[str] = None, cache_dir=None,
                        progress: Progress = SILENT) -> FetchOutcome:
        """Download a Datastore dataset and import what can be read, all or nothing
        (:func:`.intake.fetch_datastore`)."""
        return intake.fetch_datastore(self._open_store, self._http(), base_url, dataset_id,
                                      resource_ids, api_key, cache_dir, **self._fetching(progress))

    def fetch_datastore_datasets(self, base_url: str, dataset_ids: Iterable[str],
                                 api_key: Optional[str] = None, cache_dir=None,
                                 progress: Progress = SILENT) -> list[FetchOutcome]:
        """:meth:`fetch_datastore` of each dataset in turn (every resource of each), e.g.
        the charge point, usage and boundary datasets of the plugin settings."""
        return intake.fetch_datastore_datasets(self._open_store, self._http(), base_url,
                                               dataset_ids, api_key, cache_dir,
                                               **self._fetching(progress))

    def import_areas(self, path, file_name: Optional[str] = None) -> ImportReport:
        """A boundary file kept as area layers of the store (:func:`.intake.import_areas`)."""
        return intake.import_areas(self._open_store, path, file_name,
                                   shared=self.is_shared_store)

    def area_source(self, areas_path) -> tuple[Path, Optional[str]]:
        """(file, layer) of the areas a summary is asked for (:func:`.intake.area_source`)."""
        return intake.area_source(self._open_store, areas_path)

    def fetch_ocpi(self, locations_url: str, token: Optional[str] = None,
                   token_base64: bool = True, feed_name: str = "",
                   date_from=None, observed_utc=None,
                   progress: Progress = SILENT) -> FetchOutcome:
        """Pull an OCPI 2.2.1 Locations endpoint: devices, connectors and a status snapshot."""
        return intake.fetch_ocpi(self._open_store, self._http(), locations_url, token,
                                 token_base64, feed_name, date_from, observed_utc, progress,
                                 self.prepare_shared_store)

    def poll_ocpi_status(self, locations_url: str, token: Optional[str] = None,
                         token_base64: bool = True, feed_name: str = "", since=None,
                         observed_utc=None, progress: Progress = SILENT):
        """One poll of a live feed: changes since ``since`` plus carried-forward status;
        returns ``(FetchOutcome, observed_utc)`` (:func:`.intake.poll_ocpi_status`)."""
        return intake.poll_ocpi_status(self._open_store, self._http(), locations_url, token,
                                       token_base64, feed_name, since, observed_utc, progress)

    # --- analysis ------------------------------------------------------------------

    def status_occupancy(self, period: str = "quarter", by: str = "evse",
                         max_gap_hours: Optional[float] = None) -> pd.DataFrame:
        """Share of observed time charging, available and down per EVSE (or device)
        and period, from polled live status: uptime with the observed hours and
        observations behind it, and the observed coverage. ``max_gap_hours``: how
        long an observation may hold (default :data:`.uptime.DEFAULT_MAX_GAP_HOURS`)."""
        from .analysis.uptime import status_occupancy

        gap, _ = reliability_options(max_gap_hours, None)
        status = self.reconciled_status()
        if not len(status):
            raise EvChargepointsError(NO_STATUS)
        return status_occupancy(status, period=period, by=by, max_gap_hours=gap)

    def status_history(self, files: Sequence = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The store's watched status snapshots (each on its reconciled device) plus
        those in ``files`` (OCPI Locations JSON: each EVSE observed at its
        last_updated), and the devices naming their operator and power class (the
        files' first, then the store's current ones, then its earlier ones)."""
        from .standard.reliability import status_and_owners

        files = [parsers.parse_file(path) for path in files]
        return status_and_owners([f.table("status_snapshots") for f in files] +
                                 [self.reconciled_status()],
                                 [f.table("devices") for f in files] +
                                 [self.devices(), self.store.devices(current_only=False)])

    def reliability(self, files: Sequence = (), *, start=None, end=None, by: str = "evse",
                    max_gap_hours: Optional[float] = None,
                    min_observed_hours: Optional[float] = None) -> ReliabilityTables:
        """Uptime and the 2023 regulations' reliability over observed time only, per
        EVSE (``by="evse"``) or device and per operator (all devices, and the rapid
        network that must reach 99 %), from the store's watched history plus
        ``files`` (see :meth:`status_history`), clipped to [start, end) when given.

        Each figure carries its observed hours and observations; under
        ``min_observed_hours`` counted hours (default
        :data:`.standard.model.MIN_OBSERVED_HOURS`) the result is "not enough observed
        time" instead of pass or fail (:func:`.standard.reliability.reliability`).
        """
        from .standard import reliability

        gap, minimum = reliability_options(max_gap_hours, min_observed_hours)
        status, owners = self.status_history(files)
        if not len(status):
            raise EvChargepointsError(NO_STATUS)
        try:
            return reliability.reliability_tables(status, owners, start, end, by, gap, minimum)
        except ValueError as exc:
            raise EvChargepointsError(str(exc)) from None

    def validate(self, files: Sequence = (), reference=None, *, period=None,
                 stale_days: Optional[float] = None, as_of=None,
                 operator: Optional[str] = None, out_dir=None,
                 max_gap_hours: Optional[float] = None,
                 min_observed_hours: Optional[float] = None,
                 progress: Progress = SILENT):
        """The conformance report of ``files`` (:func:`.standard.conformance.validate_files`)
        with reliability from the store's watched status history as well."""
        from .standard import conformance
        from .standard.model import DEFAULT_STALE_DAYS

        gap, minimum = reliability_options(max_gap_hours, min_observed_hours)
        status, owners = self.status_history()
        if not len(status) and not len(files):
            raise EvChargepointsError(NO_STATUS)
        return conformance.validate_files(
            list(files), reference=reference, period=period,
            stale_days=DEFAULT_STALE_DAYS if stale_days is None else stale_days,
            out_dir=out_dir, progress=progress, as_of=as_of, operator=operator,
            status_snapshots=status if len(status) else None, status_devices=owners,
            status_name=f"status history in {self.target.describe()}",
            max_gap_hours=gap, min_observed_hours=minimum)

    @staticmethod
    def validate_files(files: Sequence, reference=None, **options):
        """The conformance report of ``files`` alone, no store needed (options of
        :func:`.standard.conformance.validate_files`; None takes the default)."""
        from .standard.conformance import validate_files

        return validate_files(list(files), reference,
                              **{k: v for k, v in options.items() if v is not None})

    @staticmethod
    def validate_feed(url: str, transport: Transport, **options):
        """The conformance report of an OCPI 2.2.1 Locations feed (options of
        :func:`.standard.conformance.validate_ocpi_feed`; None takes the default)."""
        from .standard.conformance import validate_ocpi_feed

        return validate_ocpi_feed(url, transport,
                                  **{k: v for k, v in options.items() if v is not None})

    @staticmethod
    def write_report(report, out_dir) -> tuple[Path, Path]:
        """Write a conformance report to ``out_dir``: report.html and report.json."""
        from .standard.report import write_report

        return write_report(report, out_dir)

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
        from .analysis.usage_sums import add_trends

        return add_trends(self.utilisation(period, by, progress), period=period)

    def _store_stamp(self) -> int:
        """Changes whenever an import or a reconciliation decision changes the store
        (cache key for derived tables): both ids only ever grow."""
        log_frame = self.store.import_log()
        decisions = self.store.decisions()
        stamp = (int(log_frame["id"].max()) if len(log_frame) else 0) + \
            (int(decisions["id"].max()) if len(decisions) else 0)
        if stamp != self._cache_stamp:  # what older states computed is never asked again
            self._cache = {k: v for k, v in self._cache.items() if not _stamped(k)}
            self._cache_stamp = stamp
        return stamp

    def _compute_utilisation(self, period: str, by: str, progress: Progress) -> pd.DataFrame:
        if self.is_shared_store:  # aggregated by the database server, same figures
            from .store.postgis import usage as pg_usage
            return pg_usage.utilisation(self.store, period, by, progress)
        from .analysis.usage_sql_engine import store_utilisation  # SQL by DuckDB

        rec, history = self._reconciled()
        return store_utilisation(self.store, rec, self.reconciled_status, rec.devices, period,
                                 by, progress, history=history)

    def usage_periods(self, period_kind: str = "quarter") -> list[str]:
        """Periods in which sessions start, oldest first (plugged time that spills past
        the data's end does not make a period worth showing)."""
        started = mapdata.period_sessions(self._usage_or_none(period_kind))
        return [period for period, sessions in started.items() if sessions > 0]

    def default_period(self, period_kind: str = "quarter") -> Optional[str]:
        """The period front doors show unless told: the latest with substantial usage
        (:func:`.mapdata.latest_period`) over all the store's sessions; None without
        usage. On the shared store every role gets the same: a login that reads every
        row computes it and records it in the store (with the usage aggregates, after
        each import); the others read that record (their own rows decide only until a
        first one is recorded)."""
        key = ("default_period", period_kind, self._store_stamp())
        if key in self._cache:
            return self._cache[key]
        meta_key = f"{DEFAULT_PERIOD_KEY}{period_kind}"
        recorded = self.store.meta().get(meta_key) if self.is_shared_store else None
        if recorded is not None and not self._keeps_derived_tables():
            period = recorded or None
        else:
            period = mapdata.latest_period(mapdata.period_sessions(self._usage_or_none(
                period_kind)))
            if self._keeps_derived_tables() and recorded != (period or ""):
                self.store.set_meta(meta_key, period or "")
        self._cache[key] = period
        return period

    def reconciliation(self):
        """The current devices of every source joined into one device per charge point
        (:class:`~.reconciliation.Reconciliation`), with the officers' decisions applied."""
        return self._reconciled()[0]

    def _reconciled(self) -> tuple:
        """(reconciliation, device history or None); a GeoPackage store keeps both in its
        cache folder until a device import or a decision (:mod:`.device_cache`)."""
        key = ("reconciliation", self._store_stamp())
        if key not in self._cache:
            from .analysis.device_cache import reconciled

            self._cache[key] = reconciled(self.store, cache=not self.is_shared_store)
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
        try:
            registry, feed = self.reconciliation().decision_pair(a, b, verdict)
        except ValueError as exc:
            raise EvChargepointsError(str(exc)) from None
        return self.store.record_decision(registry, feed, verdict, note)

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
        from .analysis.uptime import status_occupancy

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
                    status = status_occupancy(snapshots, period=period_kind, by="device")
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

    # --- map and committee pages: the data gathered here, the tables made in outputs/ ---

    def map_frames(self, period_kind: str = "quarter", progress: Progress = SILENT):
        """The map's tables of this store (:func:`.mapdata.build_map`)."""
        progress.report(5, "Placing devices in boroughs and wards")
        assignment = self.assignment()
        usage = self._usage_or_none(period_kind, progress.scaled(10, 60))
        return mapdata.build_map(
            assignment, self.devices(), usage, self.usage_periods(period_kind) if usage is not
            None else [], self.has_synthetic_usage(), self.store.import_log(),
            self.default_period(period_kind) if usage is not None else None,
            lambda level, period: self.summary(level, period, period_kind,
                                               with_usage=usage is not None)[0], progress)

    def write_map(self, period_kind: str = "quarter", progress: Progress = SILENT):
        """The map (:class:`~.mapdata.MapInfo`): GeoPackages beside a GeoPackage store; on
        the shared store its map tables, written when they do not show the store as it
        is and this role may write them (:func:`.pg_mapdata.map_to_show`)."""
        stamp = self._store_stamp()
        if not self.is_shared_store:
            return mapdata.write_beside_store(self.map_frames(period_kind, progress.scaled(
                0, 95)), self.store_path, period_kind, stamp, progress.scaled(95, 100))
        from .store.postgis import mapdata as pg_mapdata

        progress.report(0, "Looking for the map tables in the shared store")
        return pg_mapdata.map_to_show(self.store, period_kind, stamp) or pg_mapdata.write_map(
            self.store, self.map_frames(period_kind, progress.scaled(0, 90)), period_kind,
            stamp, self._usage_or_none(period_kind), self.assignment().table, self.devices(),
            progress.scaled(90, 100))

    def committee_data(self, period: Optional[str] = None, threshold: int = DEFAULT_THRESHOLD,
                       period_kind: str = "quarter", vintage: str = "", today=None):
        """What a committee page prints (:func:`.committee.committee_data`)."""
        usage = self._usage_or_none(period_kind)
        table, assignment = self.summary("borough", period, period_kind,
                                         with_usage=usage is not None)
        return committee.committee_data(table, assignment.table, self.devices(), usage,
                                        self.store, self.has_synthetic_usage(), threshold,
                                        vintage, today)

    def status_layer(self, folder, now=None,
                     max_age_minutes: float = styling.DEFAULT_STATUS_MAX_AGE_MINUTES):
        """A new live status GeoPackage in ``folder`` (:func:`.mapdata.write_status`);
        None when the store holds no status (or its history cannot be read: no duckdb)."""
        if self.history_unreadable():
            return None
        return mapdata.write_status(self.reconciled_status(), self.devices(), folder, now,
                                    max_age_minutes)

    def history_unreadable(self) -> bool:  # no duckdb: map without usage (as said at start)
        from .optional import missing_history
        return not self.is_shared_store and bool(missing_history())

    def _usage_or_none(self, period_kind: str, progress: Progress = SILENT):
        """:meth:`utilisation`, or None when the store holds no sessions (or cannot read
        them: no duckdb)."""
        if self.history_unreadable() or not self.store.counts().get("sessions", 0):
            return None
        return self.utilisation(period_kind, progress=progress)
