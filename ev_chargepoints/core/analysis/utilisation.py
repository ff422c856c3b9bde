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
- Every ratio is recomputed from additive sums (:mod:`.usage_sums`), never averaged.

Implementation: devices (and device+connector pairs) become integer codes
(:mod:`.codes`: categoricals for free; object columns through a shared-object fast path);
one ``np.searchsorted`` per session against the UTC instants of local midnights
gives its start day, and the period is a lookup from the day. Sums use
``np.bincount``; only sessions spanning several local days are expanded into
one piece per day (``np.repeat``), and in-use days come from a device × day
bitmap. Quality flags need one sort (overlaps). Uptime comes from watched status
(:mod:`.uptime`); at connector level it is the device's (status snapshots are per EVSE,
not per connector). Which device-periods have usage data at all: :mod:`.usage_coverage`.

Two parts: the session sums per group and period (here with numpy; in SQL over the
Parquet usage history: :mod:`.usage_sql`, :mod:`.usage_sql_engine`) and the assembly
(:func:`device_facts`, :func:`assemble`: connectors, ratings, availability, capacity, the
row rule, uptime, ratios, order), which both engines share.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..calendar import HOUR_NS, NAT, local_midnights, ns_utc, period_columns, period_grid
from ..store.values import today_rows
from .codes import as_texts, dense_codes, integer_codes, only_texts
from .quality import FLAGS, flag_arrays
from .uptime import DEFAULT_MAX_GAP_HOURS, device_status_sums
from .usage_sums import ADDITIVE, add_ratios, ratio_columns

_DAY_BITMAP_LIMIT = 200_000_000  # groups × days per chunk of the in-use-day bitmap


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
            last = max(last, int(seen.max()) + int(max_status_gap_hours * HOUR_NS) - 1)
    if first == big or last == NAT:
        return None
    return first, last


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
    frame = today_rows(connectors)
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
    dev_codes, dev_ids = integer_codes(sessions["device_id"])
    if devices is not None and len(devices):
        extra = pd.Index(pd.unique(devices["device_id"].to_numpy(object)))
        extra = extra[pd.Index(dev_ids).get_indexer(extra) < 0]
        dev_ids = np.concatenate([dev_ids, np.asarray(extra, dtype=object)])
    start_ns = ns_utc(sessions["start_utc"])
    end_ns = ns_utc(sessions["end_utc"])
    kwh = pd.to_numeric(sessions["kwh"], errors="coerce").to_numpy("float64")

    c_codes, c_ids = integer_codes(sessions["connector_id"])
    width = len(c_ids) + 1
    # (device, connector) pairs as dense integers without hashing.
    conn_codes, pair_ids = dense_codes(np.maximum(dev_codes, 0) * width + (c_codes + 1),
                                       max(len(dev_ids), 1) * width)
    conn_codes[dev_codes < 0] = -1
    del c_codes
    pair_device = (pair_ids // width).astype(np.int64)
    pair_slot = pair_ids % width - 1
    pair_connector = np.where(pair_slot >= 0, c_ids[np.maximum(pair_slot, 0)], None) \
        if len(c_ids) else np.full(len(pair_ids), None, dtype=object)
    code, n_codes = (dev_codes, len(dev_ids)) if by == "device" else \
        (conn_codes, len(pair_ids))

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
        return empty_result(by)
    first = window[0] if start is None else int(ns_utc([start])[0])
    last = window[1] if end is None else int(ns_utc([end])[0]) - 1
    labels, bounds, local_starts, p_index = period_grid(first, last, period)
    n_periods = len(labels)
    size = n_codes * n_periods

    # Every figure is built on local days: one binary search per session finds
    # its start day, and the period is a lookup from the day.
    midnights = local_midnights(bounds)
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

    facts = device_facts(devices, connectors, dev_ids, pair_device, pair_connector)
    sums = {"sessions": n_sessions, "kwh": energy, "plugged_ns": plugged,
            "in_use_days": in_use, "idle_ns": idle, "idle_base_ns": idle_base}
    if quality:
        rated_session = facts["pair_rated"][np.maximum(conn_codes, 0)]
        flags = flag_arrays(start_ns, end_ns, kwh, rated_session, conn_codes)
        del rated_session
        flat = code[in_window] * n_periods + p_start[in_window]
        for name, mask in flags.items():
            sums[f"flag_{name}"] = np.bincount(flat[mask[in_window]], minlength=size
                                               ).reshape(n_codes, n_periods)
        del flags, flat

    def widen(active_from, active_to):
        # Widen the window to the device's own sessions (they prove it was there);
        # only the few sessions outside a known window need looking at.
        early = closed & (start_ns < active_from[dev_codes])
        if early.any():
            np.minimum.at(active_from, dev_codes[early], start_ns[early])
        late = closed & (end_ns > active_to[dev_codes])
        if late.any():
            np.maximum.at(active_to, dev_codes[late], end_ns[late])

    grid = {"labels": labels, "bounds": bounds, "local_starts": local_starts,
            "p_index": p_index}
    return assemble(by, dev_ids, pair_device, pair_connector, facts, sums, widen, grid,
                    status, period, max_status_gap_hours)


# --- the assembly, shared with the SQL engine (:mod:`.usage_sql_engine`) ---------

def device_facts(devices, connectors, dev_ids, pair_device, pair_connector) -> dict:
    """What the device tables say about each device (``dev_ids``) and each (device,
    connector) pair seen in the sessions: connectors, ratings and active windows; the
    pairs' ratings (``pair_rated``) also decide ``impossible_energy``."""
    info = _device_table(devices, dev_ids)
    c_count, c_kw, c_unrated = _connector_ratings(connectors, dev_ids)
    # Each connector's own rating, else the device's highest.
    pair_rated = _connector_kw(connectors, dev_ids[pair_device], pair_connector,
                               info["max_kw"][pair_device])
    return {"info": info, "c_count": c_count, "c_kw": c_kw, "c_unrated": c_unrated,
            "pair_rated": pair_rated}


def assemble(by, dev_ids, pair_device, pair_connector, facts, sums, widen, grid,
             status, period, max_status_gap_hours, covered=None) -> pd.DataFrame:
    """The utilisation frame from the session sums per group and period.

    Groups are the devices ``dev_ids`` (``by="device"``) or the (device, connector)
    pairs ``pair_device``/``pair_connector``. ``sums``: (groups × periods) arrays
    sessions, kwh, plugged_ns, in_use_days, idle_ns, idle_base_ns and flag_* counts;
    ``widen(active_from, active_to)`` widens the devices' active windows (ns, in
    place) to their closed sessions; ``grid``: the periods (:func:`.period_grid`);
    ``covered``: (devices × periods) booleans, the only rows to keep
    (:func:`.usage_coverage.covered_grid`), or None for every row.
    """
    labels, bounds = grid["labels"], grid["bounds"]
    if by == "device":
        n_codes = len(dev_ids)
        key_device, key_connector = dev_ids, None
        code_device = np.arange(n_codes)
    else:
        n_codes = len(pair_device)
        code_device = pair_device
        key_device, key_connector = dev_ids[code_device], pair_connector
    info, c_count = facts["info"], facts["c_count"]
    c_kw, c_unrated = facts["c_kw"], facts["c_unrated"]
    seen_connectors = np.bincount(pair_device, minlength=len(dev_ids)).astype(float)
    n_conn = np.where(info["connectors"] > 0, info["connectors"],
                      np.where(c_count > 0, c_count, np.maximum(seen_connectors, 1)))
    conn_source = np.where(info["connectors"] > 0, "devices",
                           np.where(c_count > 0, "connectors", "sessions")).astype(object)
    rated = np.where((c_count > 0) & (c_unrated == 0) & (c_count >= n_conn), c_kw,
                     info["max_kw"] * n_conn)
    active_from = info["active_from"].copy()
    active_to = info["active_to"].copy()
    widen(active_from, active_to)

    lo = np.maximum(bounds[:-1][None, :], active_from[code_device][:, None])
    hi = np.minimum(bounds[1:][None, :], active_to[code_device][:, None])
    device_hours = np.maximum(hi - lo, 0) / HOUR_NS
    group_conn = n_conn[code_device] if by == "device" else np.ones(n_codes)
    available = device_hours * group_conn[:, None]
    group_rated = rated if by == "device" else facts["pair_rated"]
    capacity = group_rated[:, None] * device_hours
    n_sessions, plugged = sums["sessions"], sums["plugged_ns"]

    columns = {
        "sessions": n_sessions, "kwh": sums["kwh"], "plugged_hours": plugged / HOUR_NS,
        "available_hours": available, "available_days": device_hours / 24.0,
        "capacity_kwh": capacity, "in_use_days": sums["in_use_days"],
        "idle_hours": sums["idle_ns"] / HOUR_NS,
        "idle_base_hours": sums["idle_base_ns"] / HOUR_NS,
    }
    columns.update({k: v for k, v in sums.items() if k.startswith("flag_")})

    # Rows: every group and period with available time or sessions, in output order
    # (device, period[, connector]) from the start: sorted on integer ranks of the ids
    # (as sort_values orders them, missing last), no frame sort after.
    keep = (available > 0) | (n_sessions > 0) | (plugged > 0)
    device_rank = sort_rank(key_device)
    if by == "device" and len(np.unique(device_rank)) == n_codes:
        # one row of ``keep`` per device: rows taken in rank order are already sorted
        by_rank = np.argsort(device_rank, kind="stable")
        g_idx, p_idx = np.nonzero(keep[by_rank])
        g_idx = by_rank[g_idx]
        ordered = True
    else:
        g_idx, p_idx = np.nonzero(keep)
        ordered = False
    if covered is not None:
        rows = covered[code_device[g_idx], p_idx]
        g_idx, p_idx = g_idx[rows], p_idx[rows]
    if not ordered:
        keys = [p_idx, device_rank[g_idx]]
        if by == "connector":
            keys.insert(0, sort_rank(key_connector)[g_idx])
        order = np.lexsort(keys)
        g_idx, p_idx = g_idx[order], p_idx[order]
        del keys, order
    cell = g_idx * len(labels) + p_idx  # the rows' cells in the (group × period) arrays
    out = {"device_id": key_device[g_idx]}
    if by == "connector":
        out["connector_id"] = key_connector[g_idx]
    out.update(period_columns(labels, grid["local_starts"], grid["p_index"], p_idx))
    out.update({
        "connectors": (group_conn[g_idx]).astype(np.int64),
        "connectors_source": (conn_source[code_device][g_idx] if by == "device"
                              else np.full(len(g_idx), "connectors", dtype=object)),
        "rated_kw": group_rated[g_idx],
    })
    for name, values in columns.items():
        out[name] = np.take(np.ascontiguousarray(values).reshape(-1), cell)
    if status is not None and len(status):
        out.update(device_status_sums(status, period, bounds, max_status_gap_hours,
                                      dev_ids[code_device[g_idx]], p_idx))
    for name in ("sessions", "in_use_days") + tuple(f"flag_{f}" for f in FLAGS):
        if name in out:
            out[name] = out[name].astype(np.int64)
    out.update(ratio_columns(out))
    # whole (columns added one by one would copy it again each time), and not copied:
    # every array in ``out`` was made here for this frame
    return pd.DataFrame(out, copy=False)


def sort_rank(values) -> np.ndarray:
    """Integer rank of each value in the order ``sort_values`` gives (equal values equal
    ranks, missing values last)."""
    values = np.asarray(values, dtype=object)
    if _strictly_increasing(values):
        return np.arange(len(values))
    if len(values) and only_texts(values):
        order = np.argsort(values, kind="stable")  # (half the time of a sorted factorize)
        ordered = values[order]
        rank = np.empty(len(values), dtype=np.int64)
        rank[order] = np.concatenate([[0], np.cumsum(ordered[1:] != ordered[:-1])])
        return rank
    codes, uniques = pd.factorize(values, sort=True)
    return np.where(codes < 0, len(uniques), codes)


def _strictly_increasing(values: np.ndarray) -> bool:
    """Whether each value is greater than the one before: then they are distinct and
    already in sorted order, their ranks 0, 1, 2... Values that cannot be compared with
    one another (missing, text beside numbers) are not."""
    try:
        return bool(np.all(values[1:] > values[:-1]))
    except TypeError:
        return False


def _connector_kw(connectors, device_ids, connector_ids, fallback):
    kw = np.array(fallback, dtype="float64")
    if connectors is None or not len(connectors):
        return kw
    frame = today_rows(connectors)
    table = frame.dropna(subset=["power_kw"]).drop_duplicates(["device_id", "connector_id"],
                                                              keep="last")
    # (device, connector) compared as text, on integer codes of the distinct texts
    n = len(table)
    dev = pd.factorize(np.concatenate([as_texts(table["device_id"]), as_texts(device_ids)]))[0]
    con, con_texts = pd.factorize(np.concatenate([as_texts(table["connector_id"]),
                                                  as_texts(connector_ids)]))
    key = dev.astype(np.int64) * (len(con_texts) + 1) + con
    last = ~pd.Index(key[:n]).duplicated(keep="last")  # ids equal as text: the last row
    pos = pd.Index(key[:n][last]).get_indexer(key[n:])
    hit = pos >= 0
    kw[hit] = table["power_kw"].to_numpy("float64")[last][pos[hit]]
    return kw


def empty_result(by: str) -> pd.DataFrame:
    """The frame :func:`utilisation` returns when there is nothing to count: no rows, every
    column."""
    names = ["device_id"] + (["connector_id"] if by == "connector" else []) + [
        "period", "period_index", "period_start", "period_end", "connectors",
        "connectors_source", "rated_kw", *ADDITIVE]
    return add_ratios(pd.DataFrame({n: pd.Series([], dtype=object) for n in names}))


def reported_utilisation(sessions, devices, connectors, status, current_devices,
                         period: str = "quarter", by: str = "device") -> pd.DataFrame:
    """:func:`utilisation` kept to what some usage source reports: where none reports a
    device (never, or not in that period) its usage is unknown, which is not a reported
    zero, so it has no row. ``current_devices`` name each device's operator."""
    from . import usage_coverage as coverage

    frame = utilisation(sessions, devices, connectors, status if len(status) else None,
                        period=period, by=by)
    return coverage.keep_covered(frame, coverage.usage_coverage(
        coverage.session_counts(sessions, period), coverage.device_operators(current_devices)))
