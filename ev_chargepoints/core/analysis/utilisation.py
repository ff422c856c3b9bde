"""Utilisation per device (or connector) and calendar period, vectorised with numpy.

Periods are calendar months, quarters or years in UK local time (Europe/London);
sessions are stored in UTC. The rules (shown to users through :func:`definitions`):

- A session's count and kWh belong to the period in which it starts (local time).
- Plugged-in time is split at period boundaries, and at local midnight for the
  in-use days, so a session crossing a quarter end counts in both quarters.
- Available time is the real elapsed time of the period (a local day is 23 or 25
  hours on clock-change days) × connectors, within the device's active window:
  from its creation date (else the first time a snapshot saw it) to the time a
  snapshot found it gone; widened to cover its own sessions, so occupancy of a
  consistent record never exceeds 100 %.
- Capacity factor uses rated kW = the sum of the device's connector ratings
  (else highest rating × connectors) over the device's active hours; with
  connector-hours as the available time this is Σ connector kW × connector
  hours, so it cannot exceed 100 % unless a session is ``impossible_energy``.
  Devices whose connectors share one power cabinet are therefore shown lower
  than their cabinet's true capacity factor (a conservative, stated choice).
- Open sessions count nowhere until they end; sessions ending before they start
  are excluded; both are counted in the quality flag columns.
- Every ratio is recomputed from additive sums (``summarise``), never averaged.

Implementation: devices (and device+connector pairs) become integer codes
(categoricals for free; object columns through a shared-object fast path);
one ``np.searchsorted`` per session against the UTC instants of local midnights
gives its start day, and the period is a lookup from the day. Sums use
``np.bincount``; only sessions spanning several local days are expanded into
one piece per day (``np.repeat``), and in-use days come from a device × day
bitmap. Quality flags need one sort (overlaps). Uptime at connector level is
the device's (status snapshots are per EVSE, not per connector).
"""

from __future__ import annotations

import ctypes

import numpy as np
import pandas as pd

from ..schema import RELIABILITY_GROUP
from .quality import FLAGS, NAT, flag_arrays, ns_utc

LOCAL_TZ = "Europe/London"
PERIOD_KINDS = ("month", "quarter", "year")
_STEP_MONTHS = {"month": 1, "quarter": 3, "year": 12}
_PER_YEAR = {"month": 12, "quarter": 4, "year": 1}
_HOUR = 3_600_000_000_000
# An observed status holds until the EVSE's next observation for at most this long;
# the rest of a longer gap (and the time after a last observation) is unobserved.
DEFAULT_MAX_GAP_HOURS = 1.0
_DAY_BITMAP_LIMIT = 200_000_000  # groups × days per chunk of the in-use-day bitmap

ADDITIVE = ["sessions", "kwh", "plugged_hours", "available_hours", "available_days",
            "capacity_kwh", "in_use_days", "idle_hours", "idle_base_hours",
            "status_observed_hours", "status_period_hours", "working_hours", "down_hours",
            *[f"flag_{f}" for f in FLAGS]]


def definitions() -> dict[str, str]:
    """Metric -> plain-English definition with units, for front ends."""
    return {
        "sessions": "Charging sessions that started in the period (count). Open "
                    "sessions count once they have ended.",
        "kwh": "Energy delivered by sessions that started in the period (kWh).",
        "plugged_hours": "Time vehicles were plugged in during the period (hours); "
                         "sessions crossing the period's start or end are split.",
        "available_hours": "Connector-hours the device could be used in the period: "
                           "connectors × hours in the period while the device existed "
                           "(hours; clock-change days have 23 or 25 hours).",
        "occupancy_pct": "Plugged-in time ÷ available time (%).",
        "rated_kw": "Sum of the device's connector ratings (kW); the highest rating × "
                    "connectors when connector ratings are unknown.",
        "capacity_factor_pct": "Energy delivered ÷ (rated kW × hours the device was "
                               "available) (%); energy-based utilisation.",
        "sessions_per_day": "Sessions ÷ days the device was available in the period.",
        "kwh_per_day": "kWh ÷ days the device was available in the period.",
        "in_use_days": "UK local calendar days with any plugged-in time (days).",
        "idle_share_pct": "Share of plugged-in time after charging had stopped (%), for "
                          "sessions that report when charging ended.",
        "uptime_pct": "Working time ÷ (working + down time) from observed statuses (%); "
                      "working = AVAILABLE, CHARGING, RESERVED; down = INOPERATIVE, "
                      "OUTOFORDER; UNKNOWN and BLOCKED are excluded (2023 regulations).",
        "observed_coverage_pct": "Time covered by status observations ÷ EVSEs × hours "
                                 "in the period (%); an observation holds until the next "
                                 "one, for at most the polling gap allowed.",
        "status_observed_hours": "EVSE-hours covered by status observations (hours): each "
                                 "observation holds until the EVSE's next one, for at most "
                                 "the gap allowed (default 1 hour); longer gaps and the "
                                 "time after a last observation are unobserved. Uptime is "
                                 "computed over this time only.",
        "status_observations": "Status observations (snapshots of an EVSE) in the period "
                               "(count).",
        "evses": "EVSEs with observed status time in the period (count).",
        "charging_pct": "Share of observed status time in CHARGING (%).",
        "available_pct": "Share of observed status time in AVAILABLE (%).",
        "down_pct": "Share of observed status time INOPERATIVE or OUTOFORDER (%).",
        "change": "Difference from the previous period (same unit as the metric).",
        "change_pct": "Difference from the previous period as % of the previous value.",
        "yoy_change": "Difference from the same period a year earlier.",
        "yoy_change_pct": "Difference from the same period a year earlier, % of that value.",
        **_flag_definitions(),
    }


def _flag_definitions() -> dict[str, str]:
    from .quality import FLAG_DEFINITIONS
    return {f"flag_{k}": f"Sessions flagged: {v} (count)." for k, v in FLAG_DEFINITIONS.items()}


# --- calendar ----------------------------------------------------------------

def _label(year: int, month: int, kind: str) -> str:
    if kind == "month":
        return f"{year:04d}-{month:02d}"
    if kind == "quarter":
        return f"{year:04d}-Q{(month - 1) // 3 + 1}"
    return f"{year:04d}"


def period_kind_of(label: str) -> str | None:
    """"month", "quarter" or "year" for a period label as :func:`_label` writes it."""
    text = str(label)
    if len(text) == 7 and text[4:6] == "-Q" and text[:4].isdigit() and text[6] in "1234":
        return "quarter"
    if len(text) == 7 and text[4] == "-" and text[:4].isdigit() and text[5:].isdigit():
        return "month"
    return "year" if len(text) == 4 and text.isdigit() else None


def _period_index(year: int, month: int, kind: str) -> int:
    return year * _PER_YEAR[kind] + (month - 1) // _STEP_MONTHS[kind]


def period_bounds(first, last, kind: str = "quarter"):
    """Labels of the local calendar periods covering [first, last] and the UTC
    instants of their starts (one more than labels: the last is the end)."""
    if kind not in PERIOD_KINDS:
        raise ValueError(f"period must be one of {PERIOD_KINDS}, not {kind!r}")
    first = pd.Timestamp(first).tz_convert(LOCAL_TZ)
    last = pd.Timestamp(last).tz_convert(LOCAL_TZ)
    step = _STEP_MONTHS[kind]
    year, month = first.year, ((first.month - 1) // step) * step + 1
    labels, starts, index = [], [], []
    while True:
        start = pd.Timestamp(year=year, month=month, day=1).tz_localize(LOCAL_TZ)
        if start > last:
            starts.append(start)
            break
        labels.append(_label(year, month, kind))
        index.append(_period_index(year, month, kind))
        starts.append(start)
        month += step
        if month > 12:
            year, month = year + 1, month - 12
    return labels, pd.DatetimeIndex(starts).tz_convert("UTC")


def _bounds(first_ns: int, last_ns: int, kind: str):
    labels, starts = period_bounds(pd.Timestamp(first_ns, tz="UTC"),
                                   pd.Timestamp(last_ns, tz="UTC"), kind)
    local = starts.tz_convert(LOCAL_TZ)
    index = np.array([_period_index(t.year, t.month, kind) for t in local[:-1]], dtype=np.int64)
    return labels, _asi8(starts), local, index


def _asi8(index: pd.DatetimeIndex) -> np.ndarray:
    return index.tz_convert("UTC").tz_localize(None).to_numpy("datetime64[ns]").view("int64")


def _midnights(bounds: np.ndarray) -> np.ndarray:
    """UTC instants of every local midnight from bounds[0] to bounds[-1] inclusive."""
    first = pd.Timestamp(bounds[0], tz="UTC").tz_convert(LOCAL_TZ)
    last = pd.Timestamp(bounds[-1], tz="UTC").tz_convert(LOCAL_TZ)
    days = pd.date_range(first.tz_localize(None), last.tz_localize(None), freq="D")
    return _asi8(days.tz_localize(LOCAL_TZ))


def data_window(first_start: int, last_start: int, last_closed_end: int,
                status_observed: np.ndarray | None, max_status_gap_hours: float):
    """(first, last) instant in ns the analysis covers, or None when there is no data:
    session starts, closed sessions' ends (exclusive) and status observations held for
    the polling gap. Missing session figures are ``NAT``; ``status_observed`` holds ns
    with ``NAT`` for missing ones."""
    big = np.iinfo(np.int64).max
    first = first_start if first_start != NAT else big
    last = max(last_start, last_closed_end - 1 if last_closed_end != NAT else NAT)
    if status_observed is not None:
        seen = status_observed[status_observed != NAT]
        if len(seen):
            first = min(first, int(seen.min()))
            last = max(last, int(seen.max()) + int(max_status_gap_hours * _HOUR) - 1)
    if first == big or last == NAT:
        return None
    return first, last


def period_columns(labels, local_starts: pd.DatetimeIndex, p_index: np.ndarray,
                   p: np.ndarray) -> dict:
    """The period columns of output rows whose period number (0 = first) is ``p``."""
    period_end = (local_starts[1:] - pd.Timedelta(days=1)).date
    return {
        "period": np.asarray(labels, dtype=object)[p],
        "period_index": p_index[p],
        "period_start": np.asarray(local_starts[:-1].date, dtype=object)[p],
        "period_end": np.asarray(period_end, dtype=object)[p],
    }


STATUS_SUMS = ("status_observed_hours", "status_period_hours", "working_hours",
               "down_hours")


def device_status_sums(status: pd.DataFrame, period: str, bounds: np.ndarray,
                       max_gap_hours: float, device_ids: np.ndarray,
                       p: np.ndarray) -> dict[str, np.ndarray]:
    """The status sums (:data:`STATUS_SUMS`) of each output row's device and period
    (0 where the device has no observation in the period); uptime at connector level
    is the device's."""
    per_device = status_occupancy(status, period=period, by="device",
                                  max_gap_hours=max_gap_hours, bounds=bounds)
    n_periods = len(bounds) - 1
    observed = per_device["device_id"].to_numpy(object)
    devices = pd.Index(pd.unique(observed))
    cells = devices.get_indexer(observed) * n_periods + per_device["_p"].to_numpy()
    row = devices.get_indexer(np.asarray(device_ids, dtype=object))
    known = row >= 0
    wanted = row[known] * n_periods + np.asarray(p)[known]
    out = {}
    for name in STATUS_SUMS:
        grid = np.zeros(len(devices) * n_periods)
        grid[cells] = per_device[name].to_numpy()
        values = np.zeros(len(row))
        values[known] = grid[wanted]
        out[name] = values
    return out


# --- splitting ----------------------------------------------------------------

def split_sums(code: np.ndarray, start: np.ndarray, end: np.ndarray, bounds: np.ndarray,
               n_codes: int) -> np.ndarray:
    """Σ overlap of [start, end) with each [bounds[p], bounds[p+1]) per code.

    Returns a float64 array of shape (n_codes, P) in nanoseconds. Intervals must
    have end >= start; parts outside the bounds are ignored.
    """
    n_periods = len(bounds) - 1
    out = np.zeros(n_codes * n_periods, dtype=np.float64)
    if len(code) == 0:
        return out.reshape(n_codes, n_periods)
    lo, hi = bounds[0], bounds[-1]
    keep = (end > lo) & (start < hi) & (end > start)
    if not keep.all():
        code, start, end = code[keep], start[keep], end[keep]
    s = np.maximum(start, lo)
    e = np.minimum(end, hi)
    p0 = np.searchsorted(bounds, s, side="right") - 1
    p1 = np.searchsorted(bounds, e - 1, side="right") - 1
    same = p0 == p1
    out += np.bincount(code[same] * n_periods + p0[same],
                       weights=(e[same] - s[same]).astype(np.float64),
                       minlength=n_codes * n_periods)
    cross = np.flatnonzero(~same)
    if len(cross):
        k = p1[cross] - p0[cross] + 1
        rep = np.repeat(cross, k)
        step = np.arange(len(rep)) - np.repeat(np.cumsum(k) - k, k)
        p = p0[rep] + step
        seg = np.minimum(e[rep], bounds[p + 1]) - np.maximum(s[rep], bounds[p])
        out += np.bincount(code[rep] * n_periods + p, weights=seg.astype(np.float64),
                           minlength=n_codes * n_periods)
    return out.reshape(n_codes, n_periods)


def _count_days(code: np.ndarray, day: np.ndarray, n_codes: int, n_days: int,
                day_period: np.ndarray, n_periods: int) -> np.ndarray:
    """Per code and period: distinct days among the (code, day) pairs, via a bitmap."""
    out = np.zeros((n_codes, n_periods), dtype=np.int64)
    if n_days == 0 or n_codes == 0:
        return out
    period_first_day = np.searchsorted(day_period, np.arange(n_periods), side="left")
    chunk = max(1, _DAY_BITMAP_LIMIT // n_days)
    if n_codes > chunk:
        order = np.argsort(code, kind="stable")
        code, day = code[order], day[order]
    for first in range(0, n_codes, chunk):
        last = min(n_codes, first + chunk)
        if n_codes > chunk:
            a, b = np.searchsorted(code, [first, last])
            c, d = code[a:b], day[a:b]
        else:
            c, d = code, day
        bitmap = np.zeros((last - first) * n_days, dtype=np.uint8)
        bitmap[(c - first) * n_days + d] = 1
        bitmap = bitmap.reshape(last - first, n_days)
        edges = list(period_first_day) + [n_days]
        for p in range(n_periods):
            out[first:last, p] = bitmap[:, edges[p]:edges[p + 1]].sum(axis=1, dtype=np.int64)
    return out


# --- inputs -------------------------------------------------------------------

def _codes(values: pd.Series):
    """Integer codes (-1 for missing) and the distinct values they stand for."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return (values.cat.codes.to_numpy().astype(np.int64),
                np.asarray(values.cat.categories, dtype=object))
    arr = np.ascontiguousarray(values.to_numpy(object))
    shared = _factorize_shared_objects(arr)
    if shared is not None:
        return shared
    codes, uniques = pd.factorize(arr)
    return codes.astype(np.int64), np.asarray(uniques, dtype=object)


def _factorize_shared_objects(arr: np.ndarray):
    """Fast path for object columns whose repeated values are the same Python
    objects (pandas' CSV reader, ``take``, ``repeat`` and ``map`` produce these).

    Hashing ten million strings is slow; their addresses, which ``arr`` keeps
    alive while we look, fall in a narrow range: a dense bitmap over that range
    finds the distinct objects, and only those are compared by value. Returns
    None when the objects are not shared enough for this to pay.
    """
    n = len(arr)
    if n < 100_000:
        return None
    addresses = np.ctypeslib.as_array(
        (ctypes.c_ssize_t * n).from_address(arr.ctypes.data)).astype(np.int64)
    lowest = int(addresses.min())
    step = 16 if not (addresses & 15).any() else 8
    slot = (addresses - lowest) // step
    del addresses
    span = int(slot.max()) + 1
    if span > 4 * n:
        # Far-apart objects (e.g. interned one-letter strings): hash the addresses.
        codes, keys = pd.factorize(slot)
        if len(keys) > n // 4:
            return None
        objects = arr[pd.Series(codes).drop_duplicates().index.to_numpy()]
        value_codes, uniques = pd.factorize(objects)
        return value_codes.astype(np.int64)[codes], np.asarray(uniques, dtype=object)
    present = np.zeros(span, dtype=bool)
    present[slot] = True
    distinct = int(np.count_nonzero(present))
    if distinct > n // 4:
        return None
    rank = np.cumsum(present, dtype=np.int32) - 1
    holder = np.empty(span, dtype=np.int64)
    holder[slot] = np.arange(n, dtype=np.int64)
    objects = arr[holder[present]]
    del holder, present
    value_codes, uniques = pd.factorize(objects)
    codes = value_codes.astype(np.int64)[rank[slot]]
    return codes, np.asarray(uniques, dtype=object)


def _compact(raw: np.ndarray, size: int):
    """Dense codes for integer keys in [0, size): (codes, the key of each code)."""
    present = np.zeros(size, dtype=bool)
    present[raw] = True
    keys = np.flatnonzero(present)
    rank = np.cumsum(present, dtype=np.int64) - 1
    return rank[raw], keys


def _device_table(devices: pd.DataFrame | None, ids: np.ndarray):
    """Per device code: connector count, rated kW sum, active window (ns)."""
    n = len(ids)
    info = {"connectors": np.zeros(n), "max_kw": np.full(n, np.nan),
            "active_from": np.full(n, np.iinfo(np.int64).min, dtype=np.int64),
            "active_to": np.full(n, np.iinfo(np.int64).max, dtype=np.int64)}
    if devices is None or not len(devices):
        return info
    frame = devices
    pos = pd.Index(ids).get_indexer(frame["device_id"].to_numpy(object))
    hit = pos >= 0
    pos, frame = pos[hit], frame[hit]
    if "connector_count" in frame:
        count = pd.to_numeric(frame["connector_count"], errors="coerce").fillna(0).to_numpy()
        np.maximum.at(info["connectors"], pos, count)
    if "max_power_kw" in frame:
        kw = pd.to_numeric(frame["max_power_kw"], errors="coerce").to_numpy("float64")
        ok = ~np.isnan(kw)
        info["max_kw"][pos[ok]] = kw[ok]
    # Active from the creation date, else the first snapshot that listed it.
    begin = np.full(len(pos), NAT, dtype=np.int64)
    for column in ("valid_from_utc", "created_utc"):
        if column in frame:
            values = ns_utc(frame[column])
            begin = np.where(values != NAT, values, begin)
    known = begin != NAT
    if known.any():
        earliest = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(earliest, pos[known], begin[known])
        found = earliest != np.iinfo(np.int64).max
        info["active_from"][found] = earliest[found]
    if "valid_to_utc" in frame:
        until = ns_utc(frame["valid_to_utc"])
        until = np.where(until == NAT, np.iinfo(np.int64).max, until)
        latest = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
        np.maximum.at(latest, pos, until)
        known = latest != np.iinfo(np.int64).min
        info["active_to"][known] = latest[known]
    return info


def _connector_ratings(connectors: pd.DataFrame | None, ids: np.ndarray):
    """Per device code: number of current connectors, Σ kW and whether all are rated."""
    n = len(ids)
    count = np.zeros(n)
    kw_sum = np.zeros(n)
    unrated = np.zeros(n)
    if connectors is None or not len(connectors):
        return count, kw_sum, unrated
    frame = connectors
    if "valid_to_utc" in frame:
        frame = frame[frame["valid_to_utc"].isna()]
    frame = frame.drop_duplicates(["device_id", "connector_id"], keep="last")
    pos = pd.Index(ids).get_indexer(frame["device_id"].to_numpy(object))
    kw = pd.to_numeric(frame["power_kw"], errors="coerce").to_numpy("float64")
    hit = pos >= 0
    pos, kw = pos[hit], kw[hit]
    count += np.bincount(pos, minlength=n)
    kw_sum += np.bincount(pos, weights=np.nan_to_num(kw), minlength=n)
    unrated += np.bincount(pos, weights=np.isnan(kw).astype(float), minlength=n)
    return count, kw_sum, unrated


# --- the engine ---------------------------------------------------------------

def utilisation(sessions: pd.DataFrame, devices: pd.DataFrame | None = None,
                connectors: pd.DataFrame | None = None,
                status: pd.DataFrame | None = None, period: str = "quarter",
                by: str = "device", start=None, end=None,
                quality: bool = True,
                max_status_gap_hours: float = DEFAULT_MAX_GAP_HOURS) -> pd.DataFrame:
    """Utilisation per device (``by="device"``) or connector (``by="connector"``)
    and calendar period (``period`` = "month", "quarter" or "year").

    ``sessions``: canonical sessions (``device_id`` may be categorical for speed).
    ``devices``/``connectors``: canonical tables, optionally with validity columns
    from the store; they give connector counts, ratings and active windows.
    ``status``: canonical status snapshots for uptime and coverage.
    ``start``/``end`` limit the periods (default: those the data covers).
    """
    if by not in ("device", "connector"):
        raise ValueError("by must be 'device' or 'connector'")
    dev_codes, dev_ids = _codes(sessions["device_id"])
    if devices is not None and len(devices):
        extra = pd.Index(pd.unique(devices["device_id"].to_numpy(object)))
        extra = extra[pd.Index(dev_ids).get_indexer(extra) < 0]
        dev_ids = np.concatenate([dev_ids, np.asarray(extra, dtype=object)])
    start_ns = ns_utc(sessions["start_utc"])
    end_ns = ns_utc(sessions["end_utc"])
    kwh = pd.to_numeric(sessions["kwh"], errors="coerce").to_numpy("float64")

    c_codes, c_ids = _codes(sessions["connector_id"])
    width = len(c_ids) + 1
    # (device, connector) pairs as dense integers without hashing.
    conn_codes, pair_ids = _compact(np.maximum(dev_codes, 0) * width + (c_codes + 1),
                                    max(len(dev_ids), 1) * width)
    conn_codes[dev_codes < 0] = -1
    del c_codes
    pair_device = (pair_ids // width).astype(np.int64)
    pair_slot = pair_ids % width - 1
    pair_connector = np.where(pair_slot >= 0, c_ids[np.maximum(pair_slot, 0)], None) \
        if len(c_ids) else np.full(len(pair_ids), None, dtype=object)
    if by == "device":
        code, n_codes = dev_codes, len(dev_ids)
        key_device = dev_ids
        key_connector = None
        code_device = np.arange(n_codes)
    else:
        code, n_codes = conn_codes, len(pair_ids)
        code_device = pair_device
        key_device = dev_ids[code_device]
        key_connector = pair_connector

    # Analysis window: the periods the data touches, unless given.
    has_start = (start_ns != NAT) & (code >= 0)
    closed = has_start & (end_ns != NAT) & (end_ns >= start_ns)
    big = np.iinfo(np.int64).max
    first_start = int(np.min(start_ns, where=has_start, initial=big))
    window = data_window(
        first_start if first_start != big else NAT,
        int(np.max(start_ns, where=has_start, initial=NAT)),
        int(np.max(end_ns, where=closed, initial=NAT)),
        ns_utc(status["observed_utc"]) if status is not None and len(status) else None,
        max_status_gap_hours)
    if window is None and (start is None or end is None):
        return _empty_result(by)
    first = window[0] if start is None else int(ns_utc([start])[0])
    last = window[1] if end is None else int(ns_utc([end])[0]) - 1
    labels, bounds, local_starts, p_index = _bounds(first, last, period)
    n_periods = len(labels)
    size = n_codes * n_periods

    # Every figure is built on local days: one binary search per session finds
    # its start day, and the period is a lookup from the day.
    midnights = _midnights(bounds)
    n_days = len(midnights) - 1
    day_period = (np.searchsorted(bounds, midnights[:-1], side="right") - 1).astype(np.int64)
    d0 = np.searchsorted(midnights, start_ns, side="right") - 1
    in_window = has_start & (d0 >= 0) & (d0 < n_days)
    d0[~in_window] = 0
    p_start = day_period[d0]
    p_start[~in_window] = -1

    # Sessions and kWh: by start period.
    counted = closed & in_window
    flat = code[counted] * n_periods + p_start[counted]
    n_sessions = np.bincount(flat, minlength=size).reshape(n_codes, n_periods)
    energy = np.bincount(flat, weights=np.nan_to_num(kwh[counted]),
                         minlength=size).astype(np.float64).reshape(n_codes, n_periods)
    del flat

    # Plugged time and in-use days: sessions on one local day go straight in;
    # the others are expanded into one piece per local day (period ends are
    # local midnights, so this also splits them at period boundaries).
    lo, hi = midnights[0], midnights[-1]
    idx = np.flatnonzero(closed & (end_ns > start_ns) & (end_ns > lo) & (start_ns < hi))
    s = np.maximum(start_ns[idx], lo)
    e = np.minimum(end_ns[idx], hi)
    ds = d0[idx]  # 0 for sessions that began before the window
    c = code[idx]
    del idx, d0
    one = e <= midnights[ds + 1]
    plugged = np.zeros(size)
    plugged += np.bincount(c[one] * n_periods + day_period[ds[one]],
                           weights=(e[one] - s[one]).astype(np.float64), minlength=size)
    day_code, day_index = [c[one]], [ds[one]]
    many = np.flatnonzero(~one)
    if len(many):
        de = np.searchsorted(midnights, e[many] - 1, side="right") - 1
        k = de - ds[many] + 1
        rep = np.repeat(many, k)
        day = ds[rep] + (np.arange(len(rep)) - np.repeat(np.cumsum(k) - k, k))
        piece = (np.minimum(e[rep], midnights[day + 1])
                 - np.maximum(s[rep], midnights[day])).astype(np.float64)
        plugged += np.bincount(c[rep] * n_periods + day_period[day], weights=piece,
                               minlength=size)
        day_code.append(c[rep])
        day_index.append(day)
        del rep, day, piece
    del s, e, ds, c, one
    plugged = plugged.reshape(n_codes, n_periods)
    in_use = _count_days(np.concatenate(day_code), np.concatenate(day_index), n_codes,
                         n_days, day_period, n_periods)
    del day_code, day_index

    # Idle time for sessions that report when charging stopped.
    idle = np.zeros((n_codes, n_periods))
    idle_base = np.zeros((n_codes, n_periods))
    if "charging_end_utc" in sessions:
        charge_end = ns_utc(sessions["charging_end_utc"])
        known = counted & (charge_end != NAT)
        if known.any():
            stop = np.clip(charge_end[known], start_ns[known], end_ns[known])
            where = code[known] * n_periods + p_start[known]
            idle = np.bincount(where, weights=(end_ns[known] - stop).astype(float),
                               minlength=size).reshape(n_codes, n_periods)
            idle_base = np.bincount(where, weights=(end_ns[known] - start_ns[known])
                                    .astype(float), minlength=size).reshape(n_codes, n_periods)
        del charge_end

    # Connectors, ratings and active window per device, then per group.
    info = _device_table(devices, dev_ids)
    c_count, c_kw, c_unrated = _connector_ratings(connectors, dev_ids)
    seen_connectors = np.bincount(pair_device, minlength=len(dev_ids)).astype(float)
    n_conn = np.where(info["connectors"] > 0, info["connectors"],
                      np.where(c_count > 0, c_count, np.maximum(seen_connectors, 1)))
    conn_source = np.where(info["connectors"] > 0, "devices",
                           np.where(c_count > 0, "connectors", "sessions"))
    rated = np.where((c_count > 0) & (c_unrated == 0) & (c_count >= n_conn), c_kw,
                     info["max_kw"] * n_conn)
    active_from = info["active_from"].copy()
    active_to = info["active_to"].copy()
    # Widen the window to the device's own sessions (they prove it was there);
    # only the few sessions outside a known window need looking at.
    early = closed & (start_ns < active_from[dev_codes])
    if early.any():
        np.minimum.at(active_from, dev_codes[early], start_ns[early])
    late = closed & (end_ns > active_to[dev_codes])
    if late.any():
        np.maximum.at(active_to, dev_codes[late], end_ns[late])

    lo = np.maximum(bounds[:-1][None, :], active_from[code_device][:, None])
    hi = np.minimum(bounds[1:][None, :], active_to[code_device][:, None])
    device_hours = np.maximum(hi - lo, 0) / _HOUR
    group_conn = n_conn[code_device] if by == "device" else np.ones(n_codes)
    available = device_hours * group_conn[:, None]
    # Each connector's own rating, else the device's highest.
    pair_rated = _connector_kw(connectors, dev_ids[pair_device], pair_connector,
                               info["max_kw"][pair_device])
    group_rated = rated if by == "device" else pair_rated
    capacity = group_rated[:, None] * device_hours

    columns = {
        "sessions": n_sessions, "kwh": energy, "plugged_hours": plugged / _HOUR,
        "available_hours": available, "available_days": device_hours / 24.0,
        "capacity_kwh": capacity, "in_use_days": in_use,
        "idle_hours": idle / _HOUR, "idle_base_hours": idle_base / _HOUR,
    }

    if quality:
        rated_session = pair_rated[np.maximum(conn_codes, 0)]
        flags = flag_arrays(start_ns, end_ns, kwh, rated_session, conn_codes)
        del rated_session
        flat = code[in_window] * n_periods + p_start[in_window]
        for name, mask in flags.items():
            columns[f"flag_{name}"] = np.bincount(flat[mask[in_window]], minlength=size
                                                  ).reshape(n_codes, n_periods)
        del flags, flat

    # Rows: every group and period with available time or sessions.
    keep = (available > 0) | (n_sessions > 0) | (plugged > 0)
    g_idx, p_idx = np.nonzero(keep)
    out = {"device_id": key_device[g_idx]}
    if by == "connector":
        out["connector_id"] = key_connector[g_idx]
    out.update(period_columns(labels, local_starts, p_index, p_idx))
    out.update({
        "connectors": (group_conn[g_idx]).astype(np.int64),
        "connectors_source": (conn_source[code_device][g_idx] if by == "device"
                              else np.full(len(g_idx), "connectors", dtype=object)),
        "rated_kw": group_rated[g_idx],
    })
    for name, grid in columns.items():
        out[name] = grid[g_idx, p_idx]
    if status is not None and len(status):
        out.update(device_status_sums(status, period, bounds, max_status_gap_hours,
                                      dev_ids[code_device[g_idx]], p_idx))
    frame = pd.DataFrame(out)
    for name in ("sessions", "in_use_days") + tuple(f"flag_{f}" for f in FLAGS):
        if name in frame:
            frame[name] = frame[name].astype(np.int64)
    frame = add_ratios(frame)
    return frame.sort_values(["device_id", "period_index"] + (
        ["connector_id"] if by == "connector" else []), kind="stable").reset_index(drop=True)


def _connector_kw(connectors, device_ids, connector_ids, fallback):
    kw = np.array(fallback, dtype="float64")
    if connectors is None or not len(connectors):
        return kw
    frame = connectors
    if "valid_to_utc" in frame:
        frame = frame[frame["valid_to_utc"].isna()]
    table = frame.dropna(subset=["power_kw"]).drop_duplicates(["device_id", "connector_id"],
                                                              keep="last")
    key = pd.MultiIndex.from_arrays([table["device_id"].astype(str),
                                     table["connector_id"].astype(str)])
    wanted = pd.MultiIndex.from_arrays([pd.Series(device_ids).astype(str),
                                        pd.Series(connector_ids).astype(str)])
    pos = key.get_indexer(wanted)
    hit = pos >= 0
    kw[hit] = table["power_kw"].to_numpy("float64")[pos[hit]]
    return kw


def _empty_result(by: str) -> pd.DataFrame:
    names = ["device_id"] + (["connector_id"] if by == "connector" else []) + [
        "period", "period_index", "period_start", "period_end", "connectors",
        "connectors_source", "rated_kw", *ADDITIVE]
    return add_ratios(pd.DataFrame({n: pd.Series([], dtype=object) for n in names}))


def _ratio(num, den, scale=1.0):
    num = pd.to_numeric(num, errors="coerce").to_numpy("float64")
    den = pd.to_numeric(den, errors="coerce").to_numpy("float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / den * scale
    out[~(den > 0)] = np.nan
    return out


def add_ratios(frame: pd.DataFrame) -> pd.DataFrame:
    """(Re)compute every ratio from the additive columns present."""
    out = frame.copy()
    if {"plugged_hours", "available_hours"} <= set(out):
        out["occupancy_pct"] = _ratio(out["plugged_hours"], out["available_hours"], 100)
    if {"kwh", "capacity_kwh"} <= set(out):
        out["capacity_factor_pct"] = _ratio(out["kwh"], out["capacity_kwh"], 100)
    if {"sessions", "available_days"} <= set(out):
        out["sessions_per_day"] = _ratio(out["sessions"], out["available_days"])
        out["kwh_per_day"] = _ratio(out["kwh"], out["available_days"])
    if {"idle_hours", "idle_base_hours"} <= set(out):
        out["idle_share_pct"] = _ratio(out["idle_hours"], out["idle_base_hours"], 100)
    if {"working_hours", "down_hours"} <= set(out):
        out["uptime_pct"] = _ratio(out["working_hours"],
                                   out["working_hours"] + out["down_hours"], 100)
    if {"status_observed_hours", "status_period_hours"} <= set(out):
        out["observed_coverage_pct"] = _ratio(out["status_observed_hours"],
                                              out["status_period_hours"], 100)
    return out


# --- which figures are data ----------------------------------------------------

def session_counts(sessions: pd.DataFrame, period: str = "quarter") -> pd.DataFrame:
    """Sessions per device, usage source and local calendar period in which they start
    (``device_id``, ``source``, ``period``, ``sessions``), for :func:`usage_coverage`."""
    dev_codes, dev_ids = _codes(sessions["device_id"])
    src = sessions["source"] if "source" in sessions else pd.Series("", index=sessions.index)
    src_codes, src_ids = _codes(src.astype(object).where(src.notna(), ""))
    start = ns_utc(sessions["start_utc"])
    ok = (start != NAT) & (dev_codes >= 0)
    if not ok.any():
        return pd.DataFrame({"device_id": pd.Series(dtype=object),
                             "source": pd.Series(dtype=object),
                             "period": pd.Series(dtype=object),
                             "sessions": pd.Series(dtype="int64")})
    start = start[ok]
    labels, bounds, _local, _index = _bounds(int(start.min()), int(start.max()), period)
    p = np.searchsorted(bounds, start, side="right") - 1
    width = (len(src_ids) + 1) * len(labels)
    key = dev_codes[ok] * width + src_codes[ok] * len(labels) + p
    keys, n = np.unique(key, return_counts=True)
    return pd.DataFrame({
        "device_id": dev_ids[keys // width],
        "source": src_ids[(keys % width) // len(labels)],
        "period": np.asarray(labels, dtype=object)[keys % len(labels)],
        "sessions": n.astype("int64")})


def device_operators(devices: pd.DataFrame | None) -> pd.Series:
    """Each device's operator (device_id -> name; the last row of an id), for
    :func:`usage_coverage`."""
    if devices is None or not len(devices) or "operator" not in devices:
        return pd.Series(dtype=object)
    rows = devices.drop_duplicates("device_id", keep="last")
    return pd.Series(rows["operator"].to_numpy(object),
                     index=rows["device_id"].astype(str).to_numpy(object))


def usage_coverage(counts: pd.DataFrame, operators: pd.Series | None = None) -> pd.DataFrame:
    """The (``device_id``, ``period``) pairs that have usage data: the device has a
    session that starts in the period, or whoever reports its usage has substantial usage
    in the period (:func:`.mapdata.substantial_periods` over their periods): the
    device's operator (``operators``: :func:`device_operators`; an operator's returns
    come one file a quarter, and a device without sessions in a quarter its operator
    reported is a real zero), else the usage source (a session file, a feed). Elsewhere
    the device's usage is unknown ("no data"), not zero. ``counts``:
    :func:`session_counts`."""
    from ..outputs.mapdata import substantial_periods

    reporter = "source:" + counts["source"].astype(str)
    if operators is not None and len(operators):
        name = counts["device_id"].astype(str).map(operators)
        name = name.astype(object).where(name.notna(), "").astype(str).str.strip().str.lower()
        reporter = reporter.where(name == "", "operator:" + name)
    counts = counts.assign(reporter=reporter)
    own = counts.loc[counts["sessions"] > 0, ["device_id", "period"]]
    per_reporter = counts.groupby(["reporter", "period"], sort=True)["sessions"].sum()
    covered = [(who, period)
               for who, rows in per_reporter.groupby(level=0, sort=False)
               for period in substantial_periods(rows.droplevel(0))]
    reported = counts[["device_id", "reporter"]].drop_duplicates().merge(
        pd.DataFrame(covered, columns=["reporter", "period"]), on="reporter")
    return pd.concat([own, reported[["device_id", "period"]]],
                     ignore_index=True).drop_duplicates(ignore_index=True)


def keep_covered(frame: pd.DataFrame, coverage: pd.DataFrame) -> pd.DataFrame:
    """The rows of utilisation ``frame`` whose device and period have usage data
    (:func:`usage_coverage`); a window widened by other data (another operator's return,
    watched status) no longer gives a device 0 % in periods nobody reports for it."""
    wanted = pd.MultiIndex.from_arrays([coverage["device_id"].astype(str),
                                        coverage["period"].astype(str)])
    have = pd.MultiIndex.from_arrays([frame["device_id"].astype(str),
                                      frame["period"].astype(str)])
    return frame[have.isin(wanted)].reset_index(drop=True)


def summarise(frame: pd.DataFrame, by: list[str] | str) -> pd.DataFrame:
    """Aggregate utilisation rows (e.g. by period, borough, power class) from sums."""
    keys = [by] if isinstance(by, str) else list(by)
    additive = [c for c in ADDITIVE + ["connectors", "rated_kw"] if c in frame]
    grouped = frame.groupby(keys, sort=True, dropna=False)[additive].sum(min_count=1)
    grouped["devices"] = frame.groupby(keys, sort=True, dropna=False)["device_id"].nunique()
    return add_ratios(grouped.reset_index())


def add_trends(frame: pd.DataFrame, metrics=("sessions", "kwh", "plugged_hours",
                                             "occupancy_pct", "capacity_factor_pct"),
               keys=None, period: str | None = None) -> pd.DataFrame:
    """Change against the previous period and the same period a year earlier.

    Adds ``<metric>_change``, ``<metric>_change_pct``, ``<metric>_yoy_change`` and
    ``<metric>_yoy_change_pct``; NaN where the earlier period has no row (or the
    earlier value is 0 for the % columns).
    """
    if keys is None:
        keys = [k for k in ("device_id", "connector_id") if k in frame]
    if period is None:
        period = _kind_of(frame)
    metrics = [m for m in metrics if m in frame]
    out = frame.copy()
    base = frame[keys + ["period_index"] + metrics]
    for suffix, lag in (("", 1), ("_yoy", _PER_YEAR[period])):
        earlier = base.copy()
        earlier["period_index"] = earlier["period_index"] + lag
        earlier = earlier.rename(columns={m: f"__{m}" for m in metrics})
        merged = out[keys + ["period_index"]].merge(earlier, on=keys + ["period_index"],
                                                    how="left")
        for m in metrics:
            before = merged[f"__{m}"].to_numpy("float64")
            now = out[m].to_numpy("float64")
            out[f"{m}{suffix}_change"] = now - before
            with np.errstate(divide="ignore", invalid="ignore"):
                pct = (now - before) / np.abs(before) * 100
            pct[~(np.abs(before) > 0)] = np.nan
            out[f"{m}{suffix}_change_pct"] = pct
    return out


def _kind_of(frame: pd.DataFrame) -> str:
    label = str(frame["period"].iloc[0]) if len(frame) else "2000-Q1"
    if "-Q" in label:
        return "quarter"
    return "month" if "-" in label else "year"


# --- status-based occupancy and uptime -------------------------------------

_STATUS_CATEGORY = ("CHARGING", "AVAILABLE", "RESERVED", "BLOCKED", "UNKNOWN",
                    "INOPERATIVE", "OUTOFORDER", "PLANNED", "REMOVED")


def status_occupancy(status: pd.DataFrame, period: str = "quarter", by: str = "evse",
                     max_gap_hours: float = DEFAULT_MAX_GAP_HOURS, start=None, end=None,
                     bounds: np.ndarray | None = None) -> pd.DataFrame:
    """Share of observed time per status, uptime and coverage per EVSE (or device)
    and period: the one computation behind every uptime and reliability figure.

    Each observation holds until the next observation of the same EVSE, for at
    most ``max_gap_hours``; the rest of a longer gap, and the time after an
    EVSE's last observation beyond the cap, count as unobserved (neither up nor
    down). Of two observations at the same instant the later row wins. Hours
    per regulation group (working, down, excluded, not live) and the
    observations made in each period come with every row.
    """
    if by not in ("evse", "device"):
        raise ValueError("by must be 'evse' or 'device'")
    if not max_gap_hours > 0:
        raise ValueError("max_gap_hours must be more than 0")
    frame = status
    observed = ns_utc(frame["observed_utc"])
    device = frame["device_id"].to_numpy(object)
    ok = (observed != NAT) & pd.notna(device)
    evse = frame["evse_uid"].to_numpy(object)
    evse = np.where(pd.isna(evse), "", evse).astype(object)
    pair, pair_ids = pd.factorize(pd.MultiIndex.from_arrays([device[ok], evse[ok]]))
    observed = observed[ok]
    cat = pd.Categorical(pd.Series(frame["status"].to_numpy(object)[ok]).fillna("UNKNOWN"),
                         categories=_STATUS_CATEGORY)
    cat_code = np.where(cat.codes < 0, _STATUS_CATEGORY.index("UNKNOWN"), cat.codes)
    order = np.lexsort((observed, pair))  # stable: rows at one instant keep their order
    pair, observed, cat_code = pair[order], observed[order], cat_code[order]
    latest = np.ones(len(pair), dtype=bool)
    latest[:-1] = (pair[1:] != pair[:-1]) | (observed[1:] != observed[:-1])
    pair, observed, cat_code = pair[latest], observed[latest], cat_code[latest]
    gap = int(max_gap_hours * _HOUR)
    nxt = np.empty_like(observed)
    nxt[:-1] = observed[1:]
    last_of_pair = np.ones(len(pair), dtype=bool)
    last_of_pair[:-1] = pair[1:] != pair[:-1]
    nxt[last_of_pair] = observed[last_of_pair] + gap
    until = np.minimum(nxt, observed + gap)
    if bounds is None:
        if not len(observed):
            return pd.DataFrame()
        first = int(observed.min()) if start is None else int(ns_utc([start])[0])
        last = int(until.max()) - 1 if end is None else int(ns_utc([end])[0]) - 1
        labels, bounds, local_starts, p_index = _bounds(first, last, period)
    else:
        labels = None
    n_periods = len(bounds) - 1
    n_pairs = len(pair_ids)
    k = len(_STATUS_CATEGORY)
    sums = split_sums(pair.astype(np.int64) * k + cat_code, observed, until, bounds,
                      n_pairs * k).reshape(n_pairs, k, n_periods) / _HOUR
    period_hours = np.diff(bounds) / _HOUR
    group_of = [RELIABILITY_GROUP[name] for name in _STATUS_CATEGORY]
    grids = {f"{group}_hours": sums[:, [i for i, g in enumerate(group_of) if g == group],
                                    :].sum(axis=1)
             for group in ("working", "down", "excluded", "not_live")}
    grids["status_observed_hours"] = sums.sum(axis=1)
    grids["charging_hours"] = sums[:, 0, :]
    grids["status_available_hours"] = sums[:, 1, :]
    p_obs = np.searchsorted(bounds, observed, side="right") - 1
    inside = (p_obs >= 0) & (p_obs < n_periods)
    grids["status_observations"] = np.bincount(
        pair[inside].astype(np.int64) * n_periods + p_obs[inside],
        minlength=n_pairs * n_periods).reshape(n_pairs, n_periods).astype(np.int64)
    grids["evses"] = (grids["status_observed_hours"] > 0).astype(np.int64)
    pair_device = np.asarray([p[0] for p in pair_ids], dtype=object)
    pair_evse = np.asarray([p[1] for p in pair_ids], dtype=object)
    if by == "device":
        dcode, d_ids = pd.factorize(pair_device)

        def agg(grid):
            out = np.zeros((len(d_ids), n_periods), dtype=grid.dtype)
            np.add.at(out, dcode, grid)  # one row per EVSE: small
            return out

        grids = {name: agg(grid) for name, grid in grids.items()}
        n_evse = np.bincount(dcode, minlength=len(d_ids)).astype(float)
        keys = {"device_id": np.asarray(d_ids, dtype=object)}
    else:
        n_evse = np.ones(n_pairs)
        keys = {"device_id": pair_device, "evse_uid": pair_evse}
    grids["status_period_hours"] = n_evse[:, None] * period_hours[None, :]
    g_idx, p_idx = np.nonzero(grids["status_observed_hours"] > 0)
    out = {name: values[g_idx] for name, values in keys.items()}
    if labels is not None:
        out["period"] = np.asarray(labels, dtype=object)[p_idx]
        out["period_index"] = p_index[p_idx]
        out["period_start"] = np.asarray(local_starts[:-1].date, dtype=object)[p_idx]
    out["_p"] = p_idx
    out.update({name: grids[name][g_idx, p_idx] for name in (
        "status_observed_hours", "status_period_hours", "status_observations", "evses",
        "working_hours", "down_hours", "excluded_hours", "not_live_hours",
        "charging_hours", "status_available_hours")})
    result = pd.DataFrame(out)
    result["charging_pct"] = _ratio(result["charging_hours"], result["status_observed_hours"],
                                    100)
    result["available_pct"] = _ratio(result["status_available_hours"],
                                     result["status_observed_hours"], 100)
    result["down_pct"] = _ratio(result["down_hours"], result["status_observed_hours"], 100)
    result = add_ratios(result)
    if labels is not None:
        result = result.drop(columns="_p")
    first = [c for c in ("device_id", "evse_uid", "period", "period_index", "period_start",
                         "_p", "uptime_pct", "status_observed_hours", "status_observations")
             if c in result]
    return result[first + [c for c in result.columns if c not in first]]
