"""Borough and ward summaries: pure group-bys over a precomputed assignment.

:class:`Summariser` prepares integer codes once (area of each device at both
levels, power class, operator, location type, connectors, utilisation rows by
period); every :meth:`Summariser.summarise` call is then a mask and a handful
of ``np.bincount`` calls, so changing a filter or period costs milliseconds.
:func:`summarise` is the one-call form; it keeps the prepared state on the
:class:`~.areas.Assignment` for as long as it is given the same frames.

Ratios are recomputed from sums for every area (occupancy = Σ plugged hours ÷
Σ available hours), never averaged, by :func:`~.area_table.summary_table`;
:func:`~.area_table.definitions` gives each output column in plain words with units.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..schema import POWER_CLASSES
from .area_table import USAGE_SUMS, summary_table
from .areas import AreaSet, Assignment

LEVELS = ("borough", "ward")
FILTER_KEYS = ("operator", "power_class", "location_type")
UNKNOWN = "unknown"
_STATUS_SUMS = ("status_observed_hours", "status_observations", "working_hours",
                "down_hours")


@dataclass
class _Codes:
    """A text column factorised once: lowercase categories and integer codes."""

    codes: np.ndarray
    lookup: dict

    @classmethod
    def of(cls, values, n: int) -> _Codes:
        if values is None:
            return cls(np.zeros(n, dtype=np.int64), {UNKNOWN: 0})
        # factorise the raw values (fast), then normalise only the few uniques
        raw_codes, uniques = pd.factorize(pd.Series(values, dtype=object))
        labels = [UNKNOWN] + [str(u).strip().lower() for u in uniques]
        norm, names = pd.factorize(pd.Series(labels, dtype=object))
        codes = norm[np.asarray(raw_codes, dtype=np.int64) + 1]  # -1 (missing) -> UNKNOWN
        return cls(codes.astype(np.int64), {u: i for i, u in enumerate(names)})

    def mask(self, wanted) -> np.ndarray:
        if isinstance(wanted, str):
            wanted = [wanted]
        keys = [UNKNOWN if w is None else str(w).strip().lower() for w in wanted]
        allowed = [self.lookup[k] for k in keys if k in self.lookup]
        return np.isin(self.codes, allowed)


class Summariser:
    """Prepared state for fast repeated summaries of one set of devices.

    ``assignment`` is an :class:`~.areas.Assignment`, or its table (a
    DataFrame with device_id, ward_code, borough_code) together with the
    ``wards``/``boroughs`` area sets. ``devices`` and ``connectors`` are
    canonical tables (connectors are counted from ``devices.connector_count``
    when it is filled in, else from the ``connectors`` rows); ``utilisation``
    has one row per device and period with at least device_id, period,
    sessions, kwh, plugged_hours, available_hours
    (plus capacity_kwh, or rated_kw and available_days, for capacity factor;
    period_index or period_start to order periods). ``status``: watched status
    per device and period (:func:`~.uptime.status_occupancy` by device) for
    uptime with its observed hours; its periods are offered too. ``access``: what a
    login of the shared store may see (:class:`~.pg_access.RoleView`); its rows give
    an area's usage only where it reads every device of the area, the published
    aggregates elsewhere, and every table says which (:meth:`_role_sums`).
    """

    def __init__(self, assignment, devices: pd.DataFrame,
                 connectors: pd.DataFrame | None = None,
                 utilisation: pd.DataFrame | None = None,
                 wards: AreaSet | None = None, boroughs: AreaSet | None = None,
                 status: pd.DataFrame | None = None, access=None):
        if isinstance(assignment, Assignment):
            table = assignment.table
            self.areas = {"ward": wards if wards is not None else assignment.wards,
                          "borough": boroughs if boroughs is not None
                          else assignment.boroughs}
            area_index = {"ward": assignment.ward_index, "borough": assignment.borough_index}
            self.boundary_versions = {
                "ward": assignment.report.wards_version,
                "borough": assignment.report.boroughs_version}
        else:
            table = assignment
            self.areas = {"ward": wards, "borough": boroughs}
            area_index = {}
            for level, column in (("ward", "ward_code"), ("borough", "borough_code")):
                areas = self.areas[level]
                area_index[level] = (pd.Index(areas.codes).get_indexer(
                    table[column].to_numpy(object)) if areas is not None
                    else np.full(len(table), -1, dtype=np.int64))
            self.boundary_versions = {level: a.boundary_version if a is not None else ""
                                      for level, a in self.areas.items()}

        device_ids = devices["device_id"].to_numpy(object)
        self.n = len(devices)
        self.device_ids = device_ids
        self._id_index = None
        assigned_ids = table["device_id"].to_numpy(object)
        if len(assigned_ids) == self.n and (assigned_ids == device_ids).all():
            row = np.arange(self.n)  # the usual case: assigned from these very devices
        else:
            row = _first_positions(assigned_ids, device_ids)
        self.area_index = {level: np.where(row >= 0, idx[np.maximum(row, 0)], -1)
                           if len(idx) else np.full(self.n, -1, dtype=np.int64)
                           for level, idx in area_index.items()}

        power_codes = _Codes.of(devices.get("power_class"), self.n)
        # class index per factorised label: 0..3 for slow..ultra, 4 for unknown
        by_label = np.full(len(power_codes.lookup), len(POWER_CLASSES), dtype=np.int64)
        for label, code in power_codes.lookup.items():
            if label in POWER_CLASSES:
                by_label[code] = POWER_CLASSES.index(label)
        self.power = by_label[power_codes.codes]
        self.filters = {
            "operator": _Codes.of(devices.get("operator"), self.n),
            "power_class": power_codes,
            "location_type": _Codes.of(devices.get("location_type"), self.n),
        }
        counts = pd.to_numeric(devices["connector_count"], errors="coerce") \
            if "connector_count" in devices else None
        if counts is not None and counts.notna().all() and (counts > 0).any():
            # canonical devices carry their connector count: no join needed
            self.connectors = counts.to_numpy("float64")
        elif connectors is not None:
            owner = self._positions(connectors["device_id"])
            self.connectors = np.bincount(owner[owner >= 0], minlength=self.n) \
                .astype("float64")
        else:
            self.connectors = np.zeros(self.n)
        self._prepare_usage(utilisation)
        self._prepare_status(status)
        self._prepare_access(access)
        # the store's default period (Workspace.default_period: the same for every role)
        self.store_default_period = None

    # -- utilisation ------------------------------------------------------

    def _prepare_usage(self, usage: pd.DataFrame | None) -> None:
        self.periods: list = []
        self.periods_with_sessions: list = []  # periods in which some session started
        self._usage: dict = {}
        self._period_index: dict = {}
        if usage is None or len(usage) == 0:
            return
        missing = {"device_id", "period"} - set(usage.columns)
        if missing:
            raise ValueError(f"utilisation needs columns {sorted(missing)}")
        raw_codes, raw_labels = pd.factorize(usage["period"])
        labels = [str(v) for v in raw_labels]
        if "period_index" in usage:
            keys = pd.to_numeric(usage["period_index"], errors="coerce").to_numpy()
        elif "period_start" in usage:
            keys = pd.to_datetime(usage["period_start"], errors="coerce").to_numpy()
        else:
            keys = np.asarray(labels, dtype=object)[np.maximum(raw_codes, 0)]
        _, first_row = np.unique(raw_codes, return_index=True)
        first_row = first_row[raw_codes[first_row] >= 0]
        first = pd.DataFrame({"label": np.asarray(labels, dtype=object)[raw_codes[first_row]],
                              "key": keys[first_row]}) \
            .sort_values(["key", "label"], kind="stable")
        self.periods = first["label"].tolist()
        if "period_index" in usage:
            self._period_index = dict(zip(first["label"], first["key"]))
        # row code -> position of its label in the ordered periods
        rank = pd.Index(self.periods).get_indexer(labels)
        label_codes = np.where(raw_codes >= 0, rank[np.maximum(raw_codes, 0)], -1)
        pos = self._positions(usage["device_id"])
        sums = {}
        for name in ("sessions", "kwh", "plugged_hours", "available_hours"):
            sums[name] = _numeric(usage, name)
        if "capacity_kwh" in usage:
            sums["capacity_kwh"] = _numeric(usage, "capacity_kwh")
        elif {"rated_kw", "available_days"} <= set(usage.columns):
            sums["capacity_kwh"] = _numeric(usage, "rated_kw") \
                * _numeric(usage, "available_days") * 24.0
        else:
            sums["capacity_kwh"] = np.full(len(usage), np.nan)
        keep = (pos >= 0) & (label_codes >= 0)
        order = np.argsort(label_codes[keep], kind="stable")
        label_codes = label_codes[keep][order]
        bounds = np.searchsorted(label_codes, np.arange(len(self.periods) + 1))
        pos = pos[keep][order]
        for name in sums:
            sums[name] = sums[name][keep][order]
        for p, label in enumerate(self.periods):
            sl = slice(bounds[p], bounds[p + 1])
            self._usage[label] = {"device": pos[sl],
                                  **{name: values[sl] for name, values in sums.items()}}
        self.periods_with_sessions = [p for p in self.periods
                                      if np.nansum(self._usage[p]["sessions"]) > 0]

    def _prepare_status(self, status: pd.DataFrame | None) -> None:
        self._status: dict = {}
        if status is None or len(status) == 0:
            return
        pos = self._positions(status["device_id"])
        labels = status["period"].astype(str).to_numpy(object)
        for label in pd.unique(labels):
            rows = (labels == label) & (pos >= 0)
            self._status[label] = {"device": pos[rows],
                                   **{name: _numeric(status, name)[rows]
                                      for name in _STATUS_SUMS}}
        if "period_index" in status:
            order = dict(zip(labels, pd.to_numeric(status["period_index"]).to_numpy()))
            known = dict(self._period_index) if self._period_index or not self.periods \
                else None
            if known is not None:  # every period has its index: merge in order
                known.update({p: i for p, i in order.items() if p not in known})
                self.periods = sorted(known, key=lambda p: (known[p], p))
                self._period_index = known
                return
        self.periods += sorted(p for p in self._status if p not in self.periods)

    def _prepare_access(self, access) -> None:
        """``access``: a :class:`~.pg_access.RoleView` of a shared-store login that may
        not read every device's usage. Its own rows give an area's usage only where it
        reads every device of the area; elsewhere the published aggregates
        (``area_usage``) stand in, and their periods are offered too."""
        self.access = access
        self._visible = None
        self._published: dict = {}
        if access is None or access.sees_all:
            return
        self._visible = pd.Index(list(access.visible_ids)).get_indexer(
            self.device_ids) >= 0 if access.visible_ids else np.zeros(self.n, dtype=bool)
        table = access.published
        if table is None or not len(table):
            return
        for (level, label), rows in table[table["level"].isin(LEVELS)].groupby(
                ["level", "period"], sort=False):
            self._published[(level, label)] = rows.set_index("area_code")
        with_sessions = set(table.loc[(table["sessions"] > 0) | (
            table["sessions"].isna() & (table["usage_devices"] > 0)), "period"])
        index = dict(zip(table["period"], table["period_index"]))
        empty = {"device": np.zeros(0, dtype=np.int64),
                 **{name: np.zeros(0) for name in USAGE_SUMS}}
        for label in index:
            self._usage.setdefault(label, empty)
        known = {**index, **self._period_index}
        if all(p in known for p in self.periods):
            self._period_index = known
            self.periods = sorted(known, key=lambda p: (known[p], p))
        else:
            self.periods += sorted(p for p in index if p not in self.periods)
        with_sessions |= set(self.periods_with_sessions)
        self.periods_with_sessions = [p for p in self.periods if p in with_sessions]

    def _hidden(self, level: str, selected: np.ndarray) -> np.ndarray:
        """Areas of ``level`` holding a selected device whose usage the role cannot read."""
        area = self.area_index[level]
        unseen = selected & (area >= 0) & ~self._visible
        return np.bincount(area[unseen], minlength=len(self.areas[level])) > 0

    def _role_sums(self, level, period, previous, selected, filters, now, before) -> list:
        """Usage sums of the areas the role does not read whole replaced (in place) by
        the published aggregates, else unknown; returns each area's
        :data:`~.pg_access.ACCESS_COLUMN` value (in area order)."""
        from ..outputs.disclosure import SHOWN
        from ..store.postgis.access import EVERY_DEVICE, NOT_SHOWN, PUBLISHED

        hidden = self._hidden(level, selected)
        codes = self.areas[level].codes
        # published aggregates cover every device: they cannot stand in for a selection
        filtered = _any_filter(filters)
        access = np.full(len(hidden), EVERY_DEVICE, dtype=object)
        access[hidden] = NOT_SHOWN + (" (aggregates are published for all devices, not "
                                      "a filtered selection)" if filtered else "")
        for sums, label in ((now, period), (before, previous)):
            if sums is None:
                continue
            rows = self._published.get((level, label)) if not filtered else None
            rows = rows.reindex(codes) if rows is not None else None
            for name in USAGE_SUMS:
                stand_in = rows[name].to_numpy("float64") if rows is not None \
                    else np.full(len(hidden), np.nan)
                sums[name] = np.where(hidden, stand_in, sums[name])
            counts = rows["usage_devices"].fillna(0).to_numpy("float64") \
                if rows is not None else np.full(len(hidden), np.nan)
            sums["devices_with_usage"] = np.where(hidden, counts, sums["devices_with_usage"])
            if label == period and rows is not None:
                status = rows["usage_disclosure"].fillna(SHOWN).to_numpy(object)
                access[hidden] = [PUBLISHED if s == SHOWN else f"{PUBLISHED} ({s})"
                                  for s in status[hidden]]
        return access.tolist()

    @property
    def periods_with_data(self) -> list:
        """Periods in which sessions started or status was watched, oldest first."""
        return [p for p in self.periods
                if p in self.periods_with_sessions or p in self._status]

    def default_period(self) -> str | None:
        """The period shown unless one is asked for: the store's default when it has
        figures here, else the latest with substantial usage here
        (:func:`~.mapdata.latest_period`), else the latest with status."""
        from ..outputs.mapdata import latest_period

        if self.store_default_period in self._usage or \
                self.store_default_period in self._status:
            return self.store_default_period
        sessions = pd.Series({p: float(np.nansum(self._usage[p]["sessions"]))
                              for p in self.periods if p in self._usage}, dtype="float64")
        found = latest_period(sessions)
        if found is not None:
            return found
        return (self.periods_with_sessions or self.periods or [None])[-1]

    def _status_sums(self, period: str, area: np.ndarray, selected: np.ndarray,
                     n_areas: int) -> dict:
        rows = self._status.get(period)
        if rows is None:
            return {name: np.zeros(n_areas) for name in _STATUS_SUMS}
        device = rows["device"]
        ok = selected[device] & (area[device] >= 0)
        return {name: np.bincount(area[device[ok]], weights=np.nan_to_num(rows[name][ok]),
                                  minlength=n_areas)
                for name in _STATUS_SUMS}

    def _positions(self, ids: pd.Series) -> np.ndarray:
        """Row of each id among the devices (-1 if absent; the first row of an id that
        several devices share, as devices of two sources can)."""
        if self._id_index is None:
            self._id_index = _FirstIndex(self.device_ids)
        if isinstance(ids.dtype, pd.CategoricalDtype):
            found = self._id_index.get_indexer(np.asarray(ids.cat.categories, dtype=object))
            codes = ids.cat.codes.to_numpy()
            return np.where(codes >= 0, found[codes], -1)
        return self._id_index.get_indexer(ids.to_numpy(object))

    def previous_period(self, period: str) -> str | None:
        if period not in self._usage:
            return None
        if self._period_index:
            wanted = self._period_index[period] - 1
            return next((p for p, i in self._period_index.items()
                         if i == wanted and p in self._usage), None)
        at = self.periods.index(period)
        return self.periods[at - 1] if at > 0 and self.periods[at - 1] in self._usage \
            else None

    def _usage_sums(self, period: str, area: np.ndarray, selected: np.ndarray,
                    n_areas: int) -> dict:
        rows = self._usage[period]
        device = rows["device"]
        ok = selected[device] & (area[device] >= 0)
        where = area[device[ok]]
        out = {name: np.bincount(where, weights=np.nan_to_num(rows[name][ok]),
                                 minlength=n_areas)
               for name in USAGE_SUMS}
        capacity_known = np.bincount(where, weights=np.isfinite(rows["capacity_kwh"][ok]),
                                     minlength=n_areas)
        with_usage = np.zeros(self.n, dtype=bool)
        with_usage[device[ok]] = True
        out["devices_with_usage"] = np.bincount(area[with_usage & selected & (area >= 0)],
                                                minlength=n_areas)
        out["capacity_kwh"] = np.where(capacity_known > 0, out["capacity_kwh"], np.nan)
        # no usage record at all: unknown, not zero
        unknown = out["devices_with_usage"] == 0
        for name in USAGE_SUMS:
            out[name] = np.where(unknown, np.nan, out[name])
        return out

    # -- summaries --------------------------------------------------------

    def select(self, filters: dict | None) -> np.ndarray:
        """Devices passing the filters (each: a value or list; None = all)."""
        selected = np.ones(self.n, dtype=bool)
        for key, wanted in (filters or {}).items():
            if key not in FILTER_KEYS:
                raise ValueError(f"unknown filter '{key}'; use {', '.join(FILTER_KEYS)}")
            if wanted is None or (not isinstance(wanted, str) and len(wanted) == 0):
                continue
            selected &= self.filters[key].mask(wanted)
        return selected

    def summarise(self, level: str = "borough", period: str | None = None,
                  filters: dict | None = None) -> pd.DataFrame:
        """One row per area of ``level`` (every area, even with no devices)."""
        if level not in LEVELS:
            raise ValueError(f"level must be one of {', '.join(LEVELS)}")
        areas = self.areas[level]
        if areas is None:
            raise ValueError(f"no {level} boundaries to summarise by")
        n_areas = len(areas)
        area = self.area_index[level]
        selected = self.select(filters)
        placed = selected & (area >= 0)
        where = area[placed]

        devices = np.bincount(where, minlength=n_areas)
        connectors = np.bincount(where, weights=self.connectors[placed], minlength=n_areas)
        by_class = np.bincount(where * (len(POWER_CLASSES) + 1) + self.power[placed],
                               minlength=n_areas * (len(POWER_CLASSES) + 1)) \
            .reshape(n_areas, len(POWER_CLASSES) + 1)

        now = before = previous = status = None
        if self._usage or self._status:
            if period is None:
                period = self.default_period()
            if period not in self._usage and period not in self._status:
                raise ValueError(f"no utilisation for period '{period}'; "
                                 f"available: {', '.join(self.periods)}")
        if period in self._usage:
            now = self._usage_sums(period, area, selected, n_areas)
            previous = self.previous_period(period)
            before = self._usage_sums(previous, area, selected, n_areas) \
                if previous is not None else None
        if self._status:
            status = self._status_sums(period, area, selected, n_areas)
        access = self._role_sums(level, period, previous, selected, filters, now, before) \
            if self._visible is not None else None
        frame = summary_table(areas.table, level, devices, connectors, by_class, period, now,
                              previous, before, status=status)
        if self.access is not None:
            frame = with_access(frame, self.access, dict(zip(areas.codes, access))
                                if access is not None else None)
        frame.attrs.update({
            "level": level,
            "period": period,
            "previous_period": previous,
            "filters": {k: v for k, v in (filters or {}).items() if v},
            "devices_selected": int(selected.sum()),
            "devices_unassigned": int((selected & (area < 0)).sum()),
            "boundary_version": self.boundary_versions.get(level, ""),
            "population_note": areas.population_note,
        })
        return frame

    def contributors(self, level: str = "borough", period: str | None = None,
                     filters: dict | None = None) -> pd.DataFrame:
        """Devices and operators behind each area's usage figures, for disclosure control
        (:func:`~.disclosure.mask_usage`): the devices passing ``filters`` with usage
        or watched status in ``period`` or the period it is compared with, as
        :meth:`summarise` counts them. A missing operator counts as one unknown
        operator. Returns ``area_code``, ``usage_devices``, ``usage_operators``."""
        areas = self.areas[level]
        if areas is None:
            raise ValueError(f"no {level} boundaries to summarise by")
        area = self.area_index[level]
        used = np.zeros(self.n, dtype=bool)
        if period is None and (self._usage or self._status):
            period = self.default_period()
        for p in (period, self.previous_period(period) if period is not None else None):
            for source in (self._usage, self._status):
                rows = source.get(p) if p is not None else None
                if rows is not None:
                    used[rows["device"]] = True
        used &= self.select(filters) & (area >= 0)
        where = area[used]
        operators = self.filters["operator"].codes[used]
        n_operators = int(operators.max(initial=0)) + 1
        pairs = np.unique(where * n_operators + operators)   # (area, operator) once each
        counts = pd.DataFrame({
            "area_code": areas.codes,
            "usage_devices": np.bincount(where, minlength=len(areas)).astype("int64"),
            "usage_operators": np.bincount(pairs // n_operators,
                                           minlength=len(areas)).astype("int64")})
        if self._visible is not None:  # a role's partial rows count for nothing
            counts = self._role_contributors(level, period, filters, counts)
        return counts

    def _role_contributors(self, level, period, filters, counts) -> pd.DataFrame:
        """Contributors of the areas the role does not read whole: those of the
        published aggregate standing in (:meth:`_role_sums`), else none."""
        hidden = self._hidden(level, self.select(filters))
        rows = self._published.get((level, period)) if not _any_filter(filters) else None
        for name in ("usage_devices", "usage_operators"):
            stand_in = rows[name].reindex(counts["area_code"]).fillna(0).to_numpy("int64") \
                if rows is not None else np.zeros(len(counts), dtype=np.int64)
            counts[name] = np.where(hidden, stand_in, counts[name].to_numpy())
        return counts


def summarise(assignment, devices: pd.DataFrame, connectors: pd.DataFrame | None = None,
              utilisation: pd.DataFrame | None = None, level: str = "borough",
              period: str | None = None, filters: dict | None = None,
              wards: AreaSet | None = None,
              boroughs: AreaSet | None = None, access=None) -> pd.DataFrame:
    """Summary table by ``level`` ("borough" or "ward"); see :class:`Summariser`.

    With an :class:`~.areas.Assignment`, the prepared codes are kept on it and
    reused while the same ``devices``, ``connectors``, ``utilisation`` and
    ``access`` objects are passed, so re-summaries with other filters or periods
    are fast. ``access``: what a shared-store login may see (:class:`Summariser`).
    """
    cached = None
    if isinstance(assignment, Assignment) and wards is None and boroughs is None:
        cached = assignment._cache.get("summariser")
        if cached is not None:
            frames, summariser = cached
            if not (frames[0] is devices and frames[1] is connectors
                    and frames[2] is utilisation and frames[3] is access):
                cached = None
    if cached is None:
        summariser = Summariser(assignment, devices, connectors, utilisation,
                                wards=wards, boroughs=boroughs, access=access)
        if isinstance(assignment, Assignment) and wards is None and boroughs is None:
            assignment._cache["summariser"] = ((devices, connectors, utilisation, access),
                                               summariser)
    else:
        summariser = cached[1]
    return summariser.summarise(level=level, period=period, filters=filters)


def with_access(frame: pd.DataFrame, role, by_area: dict | None = None) -> pd.DataFrame:
    """A summary ``frame`` for a login of the shared store (``role``, a
    :class:`~.pg_access.RoleView`): ``attrs["role_note"]`` and each area's
    :data:`~.pg_access.ACCESS_COLUMN` (``by_area``: area code -> value; None: the
    role reads every device). Watched status, never published as aggregates, only
    where the role reads every device; counts unknown to the role (devices with usage,
    status observations) are NaN, never 0.
    """
    from ..store.postgis.access import ACCESS_COLUMN, EVERY_DEVICE

    frame[ACCESS_COLUMN] = frame["area_code"].map(by_area) if by_area is not None \
        else EVERY_DEVICE
    frame.attrs["role_note"] = role.note
    whole = (frame[ACCESS_COLUMN] == EVERY_DEVICE).to_numpy()
    for name in ("uptime_pct", "status_observed_hours", "status_observations"):
        if name in frame and not whole.all():
            frame[name] = frame[name].astype("float64").where(whole)
    return frame


class _FirstIndex:
    """``pd.Index.get_indexer`` that also works when values repeat: the first row."""

    def __init__(self, values):
        values = np.asarray(values, dtype=object)
        first = ~pd.Index(values).duplicated(keep="first")
        self._rows = np.flatnonzero(first)
        self._index = pd.Index(values[first])

    def get_indexer(self, wanted) -> np.ndarray:
        found = self._index.get_indexer(np.asarray(wanted, dtype=object))
        return np.where(found >= 0, self._rows[np.maximum(found, 0)], -1) \
            if len(self._rows) else np.full(len(found), -1, dtype=np.int64)


def _first_positions(values, wanted) -> np.ndarray:
    return _FirstIndex(values).get_indexer(wanted)


def _numeric(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column], errors="coerce").to_numpy("float64")


def _any_filter(filters: dict | None) -> bool:
    return any(v is not None and (isinstance(v, str) or len(v) > 0)
               for v in (filters or {}).values())
